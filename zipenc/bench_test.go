package zipenc

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
	yeka "github.com/yeka/zip"

	"github.com/xfer-dev/xfer/internal/testkit/testutil"
)

// benchSize is large enough for many blocks per worker.
const benchSize = 32 << 20

// BenchmarkWriter compares our Writer with its peers on the same address
// CSV in one run: stdlib compress/flate level 5 alone (the size budget's
// reference) and yeka/zip's AES writer (stdlib level 5 inside). The ratio
// metric is output size / input size. MB/cpu-s is input per second of CPU
// time used by the whole process: on a busy shared machine wall-clock MB/s
// understates what the same code does on idle cores, and MB/cpu-s times
// the number of cores bounds it from above.
func BenchmarkWriter(b *testing.B) {
	data := addrData(b, benchSize)
	run := func(b *testing.B, write func(io.Writer) error) {
		b.SetBytes(int64(len(data)))
		var out countingWriter
		cpu0 := testutil.CPUTime()
		for b.Loop() {
			out.n = 0
			if err := write(&out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(out.n)/float64(len(data)), "ratio")
		b.ReportMetric(float64(b.N)*float64(len(data))/1e6/(testutil.CPUTime()-cpu0).Seconds(), "MB/cpu-s")
	}
	for _, level := range []int{1, 5, 6} {
		b.Run(fmt.Sprintf("zipenc/level=%d", level), func(b *testing.B) {
			run(b, func(dst io.Writer) error {
				w := NewWriter(dst, testPassword, Options{Level: level})
				ew, err := w.Create("a.csv", time.Now())
				if err != nil {
					return err
				}
				if _, err := ew.Write(data); err != nil {
					return err
				}
				return w.Close()
			})
		})
	}
	// The same compressor as ours, in one goroutine: the parallel speedup.
	b.Run("klauspost-flate/level=5", func(b *testing.B) {
		run(b, func(dst io.Writer) error {
			fw, err := flate.NewWriter(dst, 5)
			if err != nil {
				return err
			}
			if _, err := fw.Write(data); err != nil {
				return err
			}
			return fw.Close()
		})
	})
	b.Run("stdlib-flate/level=5", func(b *testing.B) {
		run(b, func(dst io.Writer) error {
			fw, err := stdflate.NewWriter(dst, 5)
			if err != nil {
				return err
			}
			if _, err := fw.Write(data); err != nil {
				return err
			}
			return fw.Close()
		})
	})
	b.Run("yeka-zip/level=5", func(b *testing.B) {
		run(b, func(dst io.Writer) error {
			zw := yeka.NewWriter(dst)
			w, err := zw.Encrypt("a.csv", string(testPassword), yeka.AES256Encryption)
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
			return zw.Close()
		})
	})
}

// BenchmarkExtract measures Verify plus decrypt and inflate (both passes)
// of an entry written at DefaultLevel; MB/s are of uncompressed output.
func BenchmarkExtract(b *testing.B) {
	data := addrData(b, benchSize)
	archive := build(b, Options{}, entry{"a.csv", time.Now(), data})
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Files()[0].Extract(io.Discard, testPassword); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInflate compares, in one run, the one-pass extraction of a
// segmented entry (ExtractOnce, as pull uses it) inflated serially, as
// before segment tables (klauspost flate, the table ignored), with the
// parallel inflate on 1 and 2 workers. MB/s are of uncompressed output.
func BenchmarkInflate(b *testing.B) {
	data := addrData(b, benchSize)
	archive := build(b, Options{}, entry{"a.csv", time.Now(), data})
	for _, mode := range []struct {
		name    string
		workers int // 0: serial
	}{{"serial", 0}, {"segments/workers=1", 1}, {"segments/workers=2", 2}} {
		b.Run(mode.name, func(b *testing.B) {
			r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
			if err != nil {
				b.Fatal(err)
			}
			f := r.Files()[0]
			if len(f.segments) < 2 {
				b.Fatalf("%d segments", len(f.segments))
			}
			if mode.workers == 0 {
				f.segments = nil
			}
			withParallel(b)
			defer func(old int) { inflateWorkers = old }(inflateWorkers)
			inflateWorkers = mode.workers
			b.SetBytes(int64(len(data)))
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				if _, err := f.ExtractOnce(io.Discard, testPassword); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*float64(len(data))/1e6/(testutil.CPUTime()-cpu0).Seconds(), "MB/cpu-s")
		})
	}
}
