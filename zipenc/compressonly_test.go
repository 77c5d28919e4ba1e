package zipenc

import (
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// BenchmarkCompressOnly is the yardstick bench/compare.sh holds `xfer send`
// to ("send at least 85 % of compress-only throughput at the same level on
// the same cores"): the file named by XFER_BENCH_CSV, read in blocks and
// deflated as Writer does it (level XFER_BENCH_LEVEL, default DefaultLevel;
// blockSize blocks primed with the previous block's window; one worker per
// core; output in order), and nothing else: no CSV check, no encryption, no
// MAC, no disk write. It is skipped when XFER_BENCH_CSV is unset.
func BenchmarkCompressOnly(b *testing.B) {
	path := os.Getenv("XFER_BENCH_CSV")
	if path == "" {
		b.Skip("XFER_BENCH_CSV names no file")
	}
	level := DefaultLevel
	if s := os.Getenv("XFER_BENCH_LEVEL"); s != "" {
		var err error
		if level, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	var out int64
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		out, err = compressOnly(f, level, runtime.GOMAXPROCS(0))
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out)/float64(fi.Size())*100, "%size")
}

// compressOnly deflates r with Writer's block pipeline and returns the
// compressed size.
func compressOnly(r io.Reader, level, workers int) (int64, error) {
	free := make(chan *block, maxBlocks(workers))
	for range maxBlocks(workers) {
		free <- &block{in: make([]byte, 0, blockSize), done: make(chan struct{}, 1)}
	}
	order := make(chan *block, queuedBlocks(workers))
	work := make(chan *block)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { compressBlocks(level, work) })
	}
	var out int64
	var outErr error
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for b := range order {
			<-b.done
			if b.err != nil && outErr == nil {
				outErr = b.err
			}
			out += int64(b.out.Len())
			b.in, b.hasDict, b.last, b.err = b.in[:0], false, false, nil
			b.out.Reset()
			free <- b
		}
	}()
	cur := <-free
	var rerr error
	for {
		n, err := io.ReadFull(r, cur.in[:blockSize])
		cur.in = cur.in[:n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
		next := <-free
		copy(next.dict[:], cur.in[blockSize-dictSize:])
		next.hasDict = true
		order <- cur
		work <- cur
		cur = next
	}
	// The last block (possibly empty) ends the stream.
	cur.last = true
	order <- cur
	work <- cur
	close(order)
	close(work)
	wg.Wait()
	<-collected
	if rerr != nil {
		return out, rerr
	}
	return out, outErr
}
