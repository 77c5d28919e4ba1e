package inflate

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"testing"
)

// segments deflates data in pieces of seg bytes, each with no history, all
// but the last ending on a sync flush: the Writer's segments.
func segments(t testing.TB, data []byte, seg int) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(seg, len(data))
		var b bytes.Buffer
		fw, err := flate.NewWriter(&b, 5)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data[:n])
		if n == len(data) {
			fw.Close()
		} else {
			fw.Flush()
		}
		out = append(out, b.Bytes())
		data = data[n:]
	}
	return out
}

func sample(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"Rue ", "de la ", "Paix", ",", "75002", "Paris\r\n", "Zoë", " ", "12"}
	var b []byte
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
	}
	return b[:n]
}

func TestSegment(t *testing.T) {
	data := sample(300 << 10)
	segs := segments(t, data, 100<<10)
	d := NewDecoder()
	var got []byte
	for i, s := range segs {
		last := i == len(segs)-1
		dst := make([]byte, min(100<<10, len(data)-len(got)))
		if err := d.Segment(dst, s, last); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		got = append(got, dst...)
		// Wrong lengths, a segment cut short or run long, the wrong end.
		for _, bad := range []struct {
			name string
			dst  []byte
			src  []byte
			last bool
		}{
			{"one byte short", dst[:len(dst)-1], s, last},
			{"one byte more", make([]byte, len(dst)+1), s, last},
			{"last byte cut", dst, s[:len(s)-1], last},
			{"byte appended", dst, append(bytes.Clone(s), 0), last},
			{"wrong end", dst, s, !last},
		} {
			if err := d.Segment(bad.dst, bad.src, bad.last); err == nil {
				t.Errorf("segment %d, %s: no error", i, bad.name)
			}
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("segments do not give the data back")
	}
}

// FuzzSegmentPair checks the package's promise against the standard
// library: whenever two byte strings are accepted as a segment and a last
// segment, compress/flate decodes their concatenation to the concatenated
// outputs and ends exactly at its end.
func FuzzSegmentPair(f *testing.F) {
	data := sample(5000)
	for _, seg := range []int{1000, 2500, 4999} {
		s := segments(f, data, seg)
		rest := bytes.Join(s[1:], nil)
		f.Add(s[0], rest, uint16(seg), uint16(len(data)-seg))
	}
	f.Fuzz(func(t *testing.T, a, b []byte, na, nb uint16) {
		d := NewDecoder()
		outA, outB := make([]byte, na), make([]byte, nb)
		if d.Segment(outA, a, false) != nil || d.Segment(outB, b, true) != nil {
			return
		}
		src := bytes.NewReader(append(bytes.Clone(a), b...))
		got, err := io.ReadAll(flate.NewReader(src))
		if err != nil {
			t.Fatalf("segments accepted, serial decode fails: %v", err)
		}
		if !bytes.Equal(got, append(outA, outB...)) {
			t.Fatalf("serial decode gives %d bytes, segments %d+%d, or different ones", len(got), na, nb)
		}
		if src.Len() != 0 {
			t.Fatalf("serial decode ends %d bytes before the end", src.Len())
		}
	})
}

// BenchmarkSegment compares Segment with compress/flate on one 4 MiB
// segment of CSV-like text, one core.
func BenchmarkSegment(b *testing.B) {
	data := sample(4 << 20)
	seg := segments(b, data, len(data))[0]
	b.Run("inflate.Segment", func(b *testing.B) {
		d := NewDecoder()
		dst := make([]byte, len(data))
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := d.Segment(dst, seg, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compress/flate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := io.Copy(io.Discard, flate.NewReader(bytes.NewReader(seg))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
