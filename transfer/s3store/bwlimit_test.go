package s3store_test

import (
	"bytes"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/storetest"
)

// rateSamples records progress reports with the time they came.
type rateSamples struct {
	mu   sync.Mutex
	at   []time.Time
	done []int64
}

func (r *rateSamples) Progress(done, _, _ int64) {
	r.mu.Lock()
	r.at = append(r.at, time.Now())
	r.done = append(r.done, done)
	r.mu.Unlock()
}

// steady is the rate between the first report of at least a quarter of
// total and the last report: the rate once the first burst is spent.
func (r *rateSamples) steady(total int64) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, d := range r.done {
		if d >= total/4 {
			last := len(r.done) - 1
			if el := r.at[last].Sub(r.at[i]).Seconds(); el > 0 {
				return float64(r.done[last]-d) / el
			}
			break
		}
	}
	return 0
}

// TestBandwidthLimit sends and fetches 16 MiB through MinIO with a
// 4 MiB/s limit shared by four parts (ranges) in flight. The limiter never
// lets a byte through early, so however loaded the machine, the whole
// transfer must take at least what the limit needs for all but the first
// burst: the measured rate may be lower than the limit, never more than
// 10 % above it. The rates are logged.
func TestBandwidthLimit(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	store := newStore(t, options(srv))
	const rate, size = 4 << 20, 16 << 20
	data := make([]byte, size)
	rand.Read(data)
	mibps := func(r float64) float64 { return r / (1 << 20) }
	check := func(what string, elapsed time.Duration, lim *transfer.RateLimiter, samples *rateSamples) {
		t.Helper()
		got := float64(size) / elapsed.Seconds()
		least := time.Duration(float64(size-lim.Burst()) / rate * float64(time.Second))
		t.Logf("%s: %d bytes in %v: %.2f MiB/s overall, %.2f MiB/s after the first quarter, limit %.2f MiB/s (%+.1f %%)",
			what, size, elapsed.Round(time.Millisecond), mibps(got), mibps(samples.steady(size)), mibps(rate), (got/rate-1)*100)
		if elapsed < least || got > 1.1*rate {
			t.Errorf("%s ran at %.2f MiB/s (in %v; the limit needs at least %v): more than 10 %% over the %.0f MiB/s limit",
				what, mibps(got), elapsed, least, mibps(rate))
		}
	}

	dir := t.TempDir()
	sp := storetest.SealedSpool(t, filepath.Join(dir, "spool"), "fp", data)
	lim, err := transfer.NewRateLimiter(rate)
	if err != nil {
		t.Fatal(err)
	}
	up := &rateSamples{}
	start := time.Now()
	res, err := transfer.Upload(t.Context(), store, sp, transfer.UploadOptions{
		Key: "bwlimit", PartSize: transfer.MinPartSize, Concurrency: 4, Limit: lim, Progress: up})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != size || res.Parts != 4 {
		t.Fatalf("uploaded %d bytes in %d parts, want %d in 4", res.Size, res.Parts, size)
	}
	check("upload", elapsed, lim, up)

	lim, err = transfer.NewRateLimiter(rate)
	if err != nil {
		t.Fatal(err)
	}
	down := &rateSamples{}
	start = time.Now()
	f, err := transfer.Download(t.Context(), store, filepath.Join(dir, "download"), transfer.DownloadOptions{
		Key: "bwlimit", ChunkSize: 2 << 20, Concurrency: 4, Limit: lim, Progress: down})
	elapsed = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Remove()
	got := make([]byte, f.Size())
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the download differs from what was sent (read error: %v)", err)
	}
	check("download", elapsed, lim, down)
}
