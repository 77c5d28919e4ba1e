package csvcheck

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
)

// TestCounterAgreesWithChecker: on valid CSV the counter finds the rows the
// full validation finds, wherever the writes split the input.
func TestCounterAgreesWithChecker(t *testing.T) {
	for _, csv := range []string{
		"",
		"a,b\r\n",
		"a,b\r\n1,2\r\n3,4\r\n",
		"a,b\r\n1,2\r\n3,4", // no line break at the end
		"a,\"b\r\nc\"\r\n1,\"x\"\"y\"\r\n\"2\r\n\r\n\",\"\"\"\"\r\n",
		"\uFEFFname,street\r\nMüller,Straße 1\r\n李,\"路\n2\"\r\n😀,€\r\n",
		"a\n1\n2\n",
	} {
		c := New()
		if _, err := c.Write([]byte(csv)); err != nil {
			t.Fatalf("%q: checker: %v", csv, err)
		}
		if err := c.Close(); err != nil && csv != "" {
			t.Fatalf("%q: checker: %v", csv, err)
		}
		for cut := range len(csv) + 1 {
			for cut2 := cut; cut2 <= len(csv); cut2 += max(1, (len(csv)-cut)/3) {
				var n Counter
				for _, part := range []string{csv[:cut], csv[cut:cut2], csv[cut2:]} {
					if _, err := n.Write([]byte(part)); err != nil {
						t.Fatalf("%q cut at %d, %d: %v", csv, cut, cut2, err)
					}
				}
				if err := n.Close(); err != nil {
					t.Fatalf("%q cut at %d, %d: close: %v", csv, cut, cut2, err)
				}
				if n.Rows() != c.Rows() {
					t.Fatalf("%q cut at %d, %d: %d rows, the checker counts %d", csv, cut, cut2, n.Rows(), c.Rows())
				}
				if cut2 == len(csv) {
					break
				}
			}
		}
	}
}

// TestCounterRefusesWhatIsNotText: bad UTF-8 (also split over writes), a
// NUL byte, a sequence or a quote left open at the end.
func TestCounterRefusesWhatIsNotText(t *testing.T) {
	for _, csv := range []string{
		"a,b\r\n1,\xff\r\n",
		"a,b\r\n1,\xc3\x28\r\n",         // a lead byte, then no continuation
		"a,b\r\n1,\xe2\x82\r\n",         // a sequence cut short
		"a,b\r\n1,\xed\xa0\x80\r\n",     // a surrogate
		"a,b\r\n1,\xc0\xaf\r\n",         // overlong
		"a,b\r\n1,x\x00y\r\n",           // NUL
		"a,b\r\n1,\xf0\x9f\x98",         // ends inside a sequence
		"a,b\r\n1,\"open\r\n",           // ends inside a quote
		"a,b\r\n1,\x80\x80\x80\x80\r\n", // continuation bytes alone
	} {
		for cut := range len(csv) + 1 {
			var n Counter
			_, err1 := n.Write([]byte(csv[:cut]))
			_, err2 := n.Write([]byte(csv[cut:]))
			err := errors.Join(err1, err2, n.Close())
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q cut at %d: %v, want ErrInvalid", csv, cut, err)
			}
		}
	}
}

// BenchmarkCounter is the recount a pull makes, set against
// BenchmarkChecker's full validation of the same data.
func BenchmarkCounter(b *testing.B) {
	data := benchAddresses(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var n Counter
		for p := data; len(p) > 0; p = p[min(len(p), 256<<10):] {
			if _, err := n.Write(p[:min(len(p), 256<<10)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := n.Close(); err != nil || n.Rows() == 0 {
			b.Fatal(err)
		}
	}
}

// benchAddresses is the benchmarks' data: 64 MiB of generated addresses.
func benchAddresses(b *testing.B) []byte {
	var buf bytes.Buffer
	if _, err := addrgen.Write(&buf, 64<<20, 1); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
