package zipenc

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
	"time"
)

const memEntrySize = 256 << 20

// writePattern writes size bytes of the repeated pattern to w.
func writePattern(t testing.TB, w *Writer, name string, size int64) {
	t.Helper()
	ew, err := w.Create(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat(pattern(t), (1<<20)/patternSize)
	for left := size; left > 0; {
		n := min(left, int64(len(chunk)))
		if _, err := ew.Write(chunk[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
}

// peakHeap samples the live heap until stop is called and returns the
// highest value seen.
func peakHeap() (stop func() uint64) {
	var (
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return peak
	}
}

func heapNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestExtractBoundedMemory(t *testing.T) {
	// Without a segment table (inflated serially): fixed buffers only, a
	// few hundred KiB whatever the entry size. With one: a bounded number
	// of segments in flight, whatever the entry size and core count.
	t.Run("serial", func(t *testing.T) {
		defer setSegmentBlocks(1 << 30)()
		testExtractMemory(t, 4<<20, 16<<20)
	})
	t.Run("segments", func(t *testing.T) {
		withParallel(t)
		bound := uint64(segmentSlots(maxInflateWorkers)) * (4*blockSize + maxSegmentCompressed(4*blockSize))
		testExtractMemory(t, bound+4<<20, bound+16<<20)
	})
}

// setSegmentBlocks sets segmentBlocks for a test and returns the undo.
func setSegmentBlocks(n int) func() {
	old := segmentBlocks
	segmentBlocks = n
	return func() { segmentBlocks = old }
}

func testExtractMemory(t *testing.T, maxAllocated, maxGrowth uint64) {
	var archive bytes.Buffer
	w := NewWriter(&archive, testPassword, Options{Level: 1})
	writePattern(t, w, "big.csv", memEntrySize)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	base := heapNow()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := peakHeap()
	r, err := NewReader(bytes.NewReader(archive.Bytes()), int64(archive.Len()))
	if err != nil {
		t.Fatal(err)
	}
	check := &patternWriter{pat: pattern(t)}
	n, err := r.Files()[0].Extract(check, testPassword)
	peak := stop()
	runtime.ReadMemStats(&after)
	if err != nil || n != memEntrySize || check.bad {
		t.Fatalf("Extract: %d bytes, %v, content ok: %v", n, err, !check.bad)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("extracting %d MiB (%d segments): %d KiB allocated in total, heap peak %d KiB above base", memEntrySize>>20, len(r.Files()[0].segments), allocated>>10, (peak-min(peak, base))>>10)
	if allocated > maxAllocated {
		t.Errorf("Extract allocated %d bytes for a %d-byte entry", allocated, memEntrySize)
	}
	if peak > base+maxGrowth {
		t.Errorf("heap grew by %d bytes while extracting a %d-byte entry", peak-base, memEntrySize)
	}
}

func TestWriterBoundedMemory(t *testing.T) {
	base := heapNow()
	stop := peakHeap()
	var out countingWriter
	w := NewWriter(&out, testPassword, Options{Level: 1, Concurrency: 2})
	writePattern(t, w, "big.csv", memEntrySize)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	peak := stop()
	grown := peak - min(peak, base)
	t.Logf("writing %d MiB: heap peak %d KiB above base", memEntrySize>>20, grown>>10)
	// 2 workers: at most 6 blocks of 1 MiB input and output each, plus
	// compressor state.
	if grown > 32<<20 {
		t.Errorf("heap grew by %d bytes while writing a %d-byte entry", grown, memEntrySize)
	}
}
