package transfer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when a waiter sleeps on it, so the
// limiter's arithmetic is checked exactly, with no wall clock involved.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept += d
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRateLimiterRate(t *testing.T) {
	for _, tc := range []struct {
		rate  int64
		chunk int
		total int64
	}{
		{rate: 64 << 10, chunk: 32 << 10, total: 10 << 20},
		{rate: 20 << 20, chunk: 256 << 10, total: 400 << 20},
		{rate: 1_000_000, chunk: 1500, total: 30_000_000},
		{rate: 5 << 20, chunk: 3 << 20, total: 50 << 20}, // chunks larger than the burst
	} {
		clk := &fakeClock{t: time.Unix(1e9, 0)}
		l := newRateLimiter(tc.rate, clk.now, clk.sleep)
		start := clk.now()
		var sent int64
		for sent < tc.total {
			n := min(int64(tc.chunk), tc.total-sent)
			if err := l.Wait(t.Context(), int(n)); err != nil {
				t.Fatal(err)
			}
			sent += n
			// Never more than the burst plus rate × elapsed.
			if allowed := float64(l.Burst()) + clk.now().Sub(start).Seconds()*float64(tc.rate); float64(sent) > allowed+1 {
				t.Fatalf("rate %d: %d bytes passed after %v, more than %0.f", tc.rate, sent, clk.now().Sub(start), allowed)
			}
		}
		// And no slower: the whole run takes what the rate needs for all
		// but the first burst.
		want := time.Duration(float64(tc.total-l.Burst()) / float64(tc.rate) * float64(time.Second))
		if got := clk.now().Sub(start); got < want-time.Millisecond || got > want+time.Millisecond {
			t.Errorf("rate %d: %d bytes took %v, want %v", tc.rate, tc.total, got, want)
		}
	}
}

// After a pause the bucket holds one burst, no more: a long idle spell
// does not buy a long burst later.
func TestRateLimiterBurstAfterPause(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	l := newRateLimiter(1<<20, clk.now, clk.sleep)
	if err := l.Wait(t.Context(), 10<<20); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	before := clk.slept
	if err := l.Wait(t.Context(), int(l.Burst())); err != nil {
		t.Fatal(err)
	}
	if clk.slept != before {
		t.Fatalf("a burst after a pause waited %v", clk.slept-before)
	}
	if err := l.Wait(t.Context(), 1<<20); err != nil {
		t.Fatal(err)
	}
	if got := clk.slept - before; got < time.Second-time.Millisecond || got > time.Second+time.Millisecond {
		t.Fatalf("1 MiB at 1 MiB/s right after a burst waited %v, want 1s", got)
	}
}

func TestRateLimiterCancel(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	l := newRateLimiter(1<<20, clk.now, clk.sleep)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Wait(ctx, 10<<20); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context: %v", err)
	}
	// The cancelled wait gave its bytes back: a burst still passes at once.
	if err := l.Wait(t.Context(), int(l.Burst())); err != nil || clk.slept != 0 {
		t.Fatalf("after a cancelled wait: err %v, slept %v", err, clk.slept)
	}
}

func TestRateLimiterNil(t *testing.T) {
	var l *RateLimiter
	if err := l.Wait(t.Context(), 1<<30); err != nil {
		t.Fatal(err)
	}
	if l.Rate() != 0 || l.chunk(1234) != 1234 {
		t.Fatal("a nil limiter limits")
	}
	if _, err := NewRateLimiter(MinRate - 1); err == nil {
		t.Fatal("a rate below MinRate was accepted")
	}
}

// Concurrent waiters on the real clock share the rate: all their bytes
// together pass no sooner than the rate allows. (A timer never fires
// early, so a loaded machine can only make this slower, never fail it.)
func TestRateLimiterShared(t *testing.T) {
	const rate, streams, each, chunk = 16 << 20, 8, 512 << 10, 32 << 10
	l, err := NewRateLimiter(rate)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range streams {
		wg.Go(func() {
			for sent := 0; sent < each; sent += chunk {
				if err := l.Wait(t.Context(), chunk); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := time.Since(start)
	least := time.Duration(float64(streams*each-l.Burst()) / rate * float64(time.Second))
	if got < least {
		t.Fatalf("%d bytes in %d streams passed at 16 MiB/s in %v, less than %v", streams*each, streams, got, least)
	}
	t.Logf("%d bytes in %d streams: %v (%.2f MiB/s; the rate needs %v after the burst)", streams*each, streams, got,
		float64(streams*each)/got.Seconds()/(1<<20), least)
}
