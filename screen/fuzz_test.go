package screen

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"testing"

	"github.com/xfer-dev/xfer/csvcheck"
)

// FuzzScreen feeds arbitrary bytes in arbitrary chunks under several rule
// sets. A Screen must never panic; whenever csvcheck accepts the input and
// the Screen does too, the output is valid canonical CSV, the same whatever
// the chunking, and without drops or suppression it holds the input's
// records, as encoding/csv reads both.
func FuzzScreen(f *testing.F) {
	for _, s := range []string{
		multiline, people, peopleRows, "a\n", "\ufeffa,b\r\n1,2\r\n", "\ufeff\"a\",b\n\"1\",2",
		"a,b\n\n1,2\n\n", "a,b\r\n\"x\r\ny\",\"\"\"\"\r\n", "a\n\"\"\n", "a,b\n1,\"2\"\r", "\xef\xbb",
		"name,postcode\nAnn,SW1A 1AA\nann,sw1a1aa\n,GIR 0AA\n",
	} {
		f.Add([]byte(s), uint8(0), uint8(0))
		f.Add([]byte(s), uint8(1), uint8(3))
	}
	list := plainList(f, "b\nx\n1\n", "b")
	f.Fuzz(func(t *testing.T, in []byte, chunk, mode uint8) {
		rules := []Rules{
			{},
			{Drop: []string{"a"}, Duplicate: Drop},
			{Required: []string{"b"}, EmptyRequired: Warn, PostcodeColumn: "b", BadPostcode: Drop},
			{Lists: []*List{list}, Duplicate: Warn},
		}[mode%4]
		whole, _, werr := run(t, rules, in, 0)
		out, _, err := run(t, rules, in, int(chunk%16)+1)
		if (err == nil) != (werr == nil) || (err == nil && !bytes.Equal(out, whole)) {
			t.Fatalf("chunked %v / whole %v: outputs differ", err, werr)
		}
		check := csvcheck.New()
		if _, cerr := check.Write(in); cerr != nil || check.Close() != nil || err != nil {
			return
		}
		oc := csvcheck.New()
		if _, cerr := oc.Write(out); cerr != nil {
			t.Fatalf("output is not valid CSV: %v\nin  %q\nout %q", cerr, in, out)
		}
		if cerr := oc.Close(); cerr != nil {
			t.Fatalf("output is not valid CSV: %v\nin  %q\nout %q", cerr, in, out)
		}
		if bytes.HasPrefix(out, []byte("\ufeff")) || !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Fatalf("output is not canonical\nin  %q\nout %q", in, out)
		}
		if mode%4 == 0 {
			want, werr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(in, []byte("\ufeff")))).ReadAll()
			got, gerr := csv.NewReader(bytes.NewReader(out)).ReadAll()
			if werr != nil || gerr != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("pass-through changed the records (%v, %v)\nin  %q\nout %q", werr, gerr, in, out)
			}
		}
	})
}
