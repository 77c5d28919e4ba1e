package transfer

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RateLimiter caps the bytes per second that Upload and Download move, over
// all the parts or ranges in flight at once: one limiter shared by every
// transfer of a command caps the command as a whole (--bwlimit). It is a
// token bucket: a byte may pass once the bucket, which fills at the rate
// up to a small burst, holds a token for it. Over any stretch of time t
// from its creation, at most Burst() + rate·t bytes pass.
//
// A nil *RateLimiter limits nothing. It is safe for concurrent use.
type RateLimiter struct {
	rate  float64 // bytes per second
	burst float64

	mu     sync.Mutex
	tokens float64 // may go below zero: bytes promised to waiters
	last   time.Time

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// MinRate is the lowest rate a RateLimiter accepts, 64 KiB/s: even with
// 64 streams in flight, each then gets a chunk through every 16 seconds or
// so, well within the time a connection may stand still before it counts
// as stalled.
const MinRate = 64 << 10

// NewRateLimiter returns a limiter of bytesPerSecond (at least MinRate).
// Its burst, the bytes that may pass at once after a pause, is a tenth of
// a second's worth, between 16 KiB and 1 MiB.
func NewRateLimiter(bytesPerSecond int64) (*RateLimiter, error) {
	if bytesPerSecond < MinRate {
		return nil, fmt.Errorf("%d bytes/s is below the minimum, %d KiB/s", bytesPerSecond, MinRate>>10)
	}
	return newRateLimiter(bytesPerSecond, time.Now, sleepCtx), nil
}

func newRateLimiter(bytesPerSecond int64, now func() time.Time, sleep func(context.Context, time.Duration) error) *RateLimiter {
	rate := float64(bytesPerSecond)
	burst := min(max(rate/10, 16<<10), 1<<20)
	return &RateLimiter{rate: rate, burst: burst, tokens: burst, last: now(), now: now, sleep: sleep}
}

// Rate is the limit in bytes per second; 0 for a nil limiter.
func (l *RateLimiter) Rate() int64 {
	if l == nil {
		return 0
	}
	return int64(l.rate)
}

// Burst is the most bytes that pass at once, after a pause.
func (l *RateLimiter) Burst() int64 {
	if l == nil {
		return 0
	}
	return int64(l.burst)
}

// chunk is the most bytes a transfer should ask Wait for in one call, so
// that no single wait is long and the streams in flight take turns.
func (l *RateLimiter) chunk(n int) int {
	if l == nil {
		return n
	}
	return min(n, int(l.burst))
}

// Wait blocks until n more bytes may pass, or ctx ends (its error; the
// bytes are then given back). Waiters are served in the order they came:
// each takes its tokens at once, into debt if need be, and sleeps until the
// debt is paid off.
func (l *RateLimiter) Wait(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := l.now()
	if now.After(l.last) {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
	}
	l.tokens -= float64(n)
	debt := -l.tokens
	l.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	if err := l.sleep(ctx, time.Duration(debt/l.rate*float64(time.Second))); err != nil {
		l.mu.Lock()
		l.tokens += float64(n)
		l.mu.Unlock()
		return err
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
