package zipenc

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
)

// stdlibSegment is inflateSegment's contract kept with compress/flate,
// which reads a bytes.Reader no further than the bits it needs: the last
// segment must decode to exactly dst and end in its last byte; any other
// must do the same when followed by a final block, either of two (a
// segment ending mid-byte, or in a final block, leaves the decoder
// reading the terminator from the wrong bit, or not at all). It is the
// tests' reference for xfer's decoder.
func stdlibSegment(dst, src []byte, last bool) error {
	terminators := [][]byte{nil}
	if !last {
		terminators = [][]byte{
			{0x03, 0x00},                   // a final fixed-code block, empty
			{0x01, 0x00, 0x00, 0xff, 0xff}, // a final stored block, empty
		}
	}
	for _, term := range terminators {
		r := bytes.NewReader(append(bytes.Clone(src), term...))
		fr := stdflate.NewReader(r)
		n, err := io.ReadFull(fr, dst)
		if err != nil {
			return fmt.Errorf("%d bytes of output, %d declared: %w", n, len(dst), err)
		}
		var one [1]byte
		m, err := fr.Read(one[:])
		for m == 0 && err == nil {
			m, err = fr.Read(one[:])
		}
		switch {
		case m != 0:
			return errMoreOutput
		case err != io.EOF:
			return err
		case r.Len() != 0:
			return errors.New("the stream ends before the segment does")
		}
	}
	return nil
}

// deflateStreams returns deflate streams of data made every way the
// decoder must read: each compressor and level, stored, Huffman-only and
// fixed-code blocks, with and without sync flushes.
func deflateStreams(tb testing.TB, data []byte) map[string][]byte {
	tb.Helper()
	type flateWriter interface {
		io.WriteCloser
		Flush() error
	}
	compressors := []struct {
		name   string
		levels []int
		new    func(io.Writer, int) (flateWriter, error)
		flush  int // bytes between sync flushes in the flushed streams
	}{
		{"klauspost", []int{flate.HuffmanOnly, flate.NoCompression, 1, 2, 5, 9},
			func(w io.Writer, l int) (flateWriter, error) { return flate.NewWriter(w, l) }, 777},
		{"stdlib", []int{stdflate.HuffmanOnly, 1, 6, 9},
			func(w io.Writer, l int) (flateWriter, error) { return stdflate.NewWriter(w, l) }, 100},
	}
	streams := map[string][]byte{}
	for _, c := range compressors {
		for _, level := range c.levels {
			for _, every := range []int{len(data), c.flush} {
				var out bytes.Buffer
				w, err := c.new(&out, level)
				if err != nil {
					tb.Fatal(err)
				}
				for p := data; len(p) > 0; {
					n := min(len(p), every)
					if _, err := w.Write(p[:n]); err != nil {
						tb.Fatal(err)
					}
					if p = p[n:]; len(p) > 0 {
						if err := w.Flush(); err != nil {
							tb.Fatal(err)
						}
					}
				}
				if err := w.Close(); err != nil {
					tb.Fatal(err)
				}
				streams[fmt.Sprintf("%s-%d-every-%d", c.name, level, every)] = out.Bytes()
			}
		}
	}
	return streams
}

// TestInflateSegmentStreams decodes whole streams of every kind, as one
// last segment, and checks each against the data and against the
// reference decoder, with the output declared one byte short and long.
func TestInflateSegmentStreams(t *testing.T) {
	for _, size := range []int{0, 1, 100, 5000, 300 << 10} {
		data := addrData(t, size)
		if size == 5000 { // runs, for overlapping copies
			data = append(bytes.Repeat([]byte{'a'}, 3000), bytes.Repeat([]byte("xy"), 1000)...)
		}
		for name, s := range deflateStreams(t, data) {
			dst := make([]byte, len(data))
			if err := inflateSegment(dst, s, true); err != nil {
				t.Fatalf("%d bytes, %s: %v", size, name, err)
			}
			if !bytes.Equal(dst, data) {
				t.Fatalf("%d bytes, %s: output differs", size, name)
			}
			for _, n := range []int{len(data) - 1, len(data) + 1} {
				if n < 0 {
					continue
				}
				err := inflateSegment(make([]byte, n), s, true)
				if err == nil || (stdlibSegment(make([]byte, n), s, true) == nil) {
					t.Fatalf("%d bytes, %s, declared %d: xfer says %v, or compress/flate accepts it", size, name, n, err)
				}
			}
		}
	}
}

// TestInflateSegmentDamage damages valid streams at random and checks that
// the two decoders accept and refuse the same ones, with the same output.
func TestInflateSegmentDamage(t *testing.T) {
	data := addrData(t, 20000)
	rng := rand.New(rand.NewPCG(17, 1))
	var accepted, refused int
	for name, s := range deflateStreams(t, data) {
		for range 300 {
			bad := bytes.Clone(s)
			for range 1 + rng.IntN(3) {
				bad[rng.IntN(len(bad))] ^= byte(1 << rng.IntN(8))
			}
			if rng.IntN(4) == 0 {
				bad = bad[:rng.IntN(len(bad))]
			}
			n := len(data)
			if rng.IntN(4) == 0 {
				n += rng.IntN(21) - 10
			}
			if sameAnswer(t, bad, n, rng.IntN(2) == 0, name) {
				accepted++
			} else {
				refused++
			}
		}
	}
	t.Logf("%d damaged streams accepted, %d refused, by both", accepted, refused)
}

// sameAnswer runs both decoders on src for n bytes of output and fails the
// test unless they agree; it reports whether they accepted it.
func sameAnswer(t *testing.T, src []byte, n int, last bool, name string) bool {
	t.Helper()
	got, want := make([]byte, n), make([]byte, n)
	err, serr := inflateSegment(got, src, last), stdlibSegment(want, src, last)
	switch {
	case (err == nil) != (serr == nil):
		t.Fatalf("%s (%d bytes, %d out, last %v): xfer says %v, compress/flate %v", name, len(src), n, last, err, serr)
	case err == nil && !bytes.Equal(got, want):
		t.Fatalf("%s: both accept, outputs differ", name)
	}
	return err == nil
}

// FuzzInflateSegment holds inflateSegment to compress/flate's answers on
// any input: the same streams accepted, with the same output.
func FuzzInflateSegment(f *testing.F) {
	data := addrData(f, 3000)
	for _, s := range deflateStreams(f, data) {
		f.Add(s, uint16(len(data)), true)
	}
	stream, lens := segmentedStream(f, data, 1000)
	f.Add(stream[:lens[0]], uint16(1000), false)
	f.Fuzz(func(t *testing.T, src []byte, n uint16, last bool) {
		sameAnswer(t, src, int(n), last, "fuzz")
	})
}

// BenchmarkInflateSegment inflates a 4 MiB segment of address CSV,
// deflated as the Writer deflates it, with xfer's decoder and, as the
// peers in the same run, klauspost/compress/flate (what the segments used
// before, and the serial path still uses) and compress/flate, each reading
// a bytes.Reader into dst; MB/s are of output.
func BenchmarkInflateSegment(b *testing.B) {
	data := addrData(b, 4*segmentBlocks*blockSize)
	stream, lens := segmentedStream(b, data, segmentBlocks*blockSize)
	src := stream[:lens[0]]
	dst := make([]byte, segmentBlocks*blockSize)
	for _, dec := range []struct {
		name string
		fn   func(dst, src []byte, last bool) error
	}{
		{"xfer", inflateSegment},
		{"klauspost", func(dst, src []byte, _ bool) error {
			_, err := io.ReadFull(flate.NewReader(bytes.NewReader(src)), dst)
			return err
		}},
		{"stdlib", func(dst, src []byte, _ bool) error {
			_, err := io.ReadFull(stdflate.NewReader(bytes.NewReader(src)), dst)
			return err
		}},
	} {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(int64(len(dst)))
			for b.Loop() {
				if err := dec.fn(dst, src, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
