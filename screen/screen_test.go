package screen

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/csvcheck"
	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
)

// run screens in through r, written in chunks of the given size (0: all at
// once), and returns the output, the report and Close's error.
func run(t testing.TB, r Rules, in []byte, chunk int) ([]byte, Report, error) {
	t.Helper()
	var out bytes.Buffer
	s := New(r, &out)
	if chunk <= 0 {
		chunk = len(in) + 1
	}
	for len(in) > 0 {
		n := min(chunk, len(in))
		if _, err := s.Write(in[:n]); err != nil {
			return out.Bytes(), s.Report(), err
		}
		in = in[n:]
	}
	err := s.Close()
	return out.Bytes(), s.Report(), err
}

// chunks are the write sizes every behaviour is checked with: records and
// quoted fields split at every possible place, and the fast path.
var chunks = []int{1, 2, 3, 7, 64, 4096, 0}

func genCSV(t testing.TB, size int64, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := addrgen.Write(&b, size, seed); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func parseCSV(t testing.TB, b []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("output is not valid CSV: %v", err)
	}
	return recs
}

// TestPassThroughIsByteIdentical: canonical input (CRLF, quotes only where
// needed) comes out byte for byte; with a BOM or LF line ends, it comes out
// as that same canonical form.
func TestPassThroughIsByteIdentical(t *testing.T) {
	in := genCSV(t, 300<<10, 1)
	rules := Rules{
		Required:       []string{"Customer_ID", "postcode"},
		Allowed:        strings.Split(strings.TrimSpace(addrgen.Header), ","),
		PostcodeColumn: "postcode",
		Duplicate:      Warn,
	}
	canonical := in
	for _, in := range [][]byte{in, append([]byte("\ufeff"), in...), bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n"))} {
		for _, c := range []int{1, 13, 4096, 0} {
			out, rep, err := run(t, rules, in, c)
			if err != nil {
				t.Fatalf("chunk %d: %v", c, err)
			}
			if !bytes.Equal(out, canonical) {
				t.Fatalf("chunk %d: output differs from input", c)
			}
			if rep.RowsIn != rep.RowsOut || rep.RowsIn == 0 {
				t.Fatalf("chunk %d: rows in %d, out %d", c, rep.RowsIn, rep.RowsOut)
			}
		}
	}
}

func TestInactiveRules(t *testing.T) {
	if (Rules{}).Active() {
		t.Fatal("zero Rules are active")
	}
	if !(Rules{Duplicate: Warn}).Active() || (Rules{Duplicate: Off, BadPostcode: Reject}).Active() {
		t.Fatal("Active disagrees with the rules")
	}
}

const multiline = "id,name,dob,note\r\n" +
	"1,\"Smith, John\",1970-01-01,\"line one\r\nline \"\"two\"\"\"\r\n" +
	"2,Jones,\"1980-02-02\",plain\r\n" +
	"3,\"O'Brien\",,\"a,b\nc\"\r\n" +
	"4,Last,1990-03-03,\"no newline at end\""

func TestDropColumns(t *testing.T) {
	for _, eol := range []string{"\r\n", "\n"} {
		in := []byte(strings.ReplaceAll(multiline, "\r\n", eol))
		want := parseCSV(t, in)
		for i := range want {
			want[i] = append(want[i][:2], want[i][3])
		}
		for _, c := range chunks {
			out, rep, err := run(t, Rules{Drop: []string{" DOB "}}, in, c)
			if err != nil {
				t.Fatal(err)
			}
			if got := parseCSV(t, out); !reflect.DeepEqual(got, want) {
				t.Fatalf("eol %q chunk %d:\ngot  %q\nwant %q", eol, c, got, want)
			}
			if n := bytes.Count(out, []byte("\r\n")); n < 5 || !bytes.HasSuffix(out, []byte("end\r\n")) {
				t.Fatalf("eol %q chunk %d: records do not end in CRLF: %q", eol, c, out)
			}
			if !reflect.DeepEqual(rep.Columns, []string{"id", "name", "note"}) || !reflect.DeepEqual(rep.Dropped, []string{"dob"}) {
				t.Fatalf("report columns %q dropped %q", rep.Columns, rep.Dropped)
			}
			if rep.RowsIn != 4 || rep.RowsOut != 4 {
				t.Fatalf("rows %d/%d", rep.RowsIn, rep.RowsOut)
			}
		}
	}
	// The first column dropped, with a byte-order mark: the canonical
	// output has no mark, and CRLF.
	out, _, err := run(t, Rules{Drop: []string{"id"}}, []byte("\ufeff\"id\",b\n1,2\n"), 1)
	if err != nil || string(out) != "b\r\n2\r\n" {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestSchemaRefusesColumn(t *testing.T) {
	in := []byte("Name,Postcode,Date_Of_Birth\nA,SW1A 1AA,1970-01-01\n")
	rules := Rules{Allowed: []string{"name", "postcode"}}
	for _, c := range chunks {
		out, _, err := run(t, rules, in, c)
		if !errors.Is(err, csvcheck.ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
		if want := `column "Date_Of_Birth" is not allowed by the schema (drop it with --drop-columns Date_Of_Birth)`; !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v", err)
		}
		if len(out) > 0 {
			t.Fatalf("output before the refusal: %q", out)
		}
	}
	rules.Drop = []string{"date_of_birth"}
	out, _, err := run(t, rules, in, 0)
	if err != nil || string(out) != "Name,Postcode\r\nA,SW1A 1AA\r\n" {
		t.Fatalf("with the column dropped: %q, %v", out, err)
	}
	_, _, err = run(t, Rules{Required: []string{"email"}}, in, 0)
	if !errors.Is(err, csvcheck.ErrInvalid) || !strings.Contains(err.Error(), `required column "email" is missing`) {
		t.Fatalf("missing required column: %v", err)
	}
}

func TestRowChecks(t *testing.T) {
	in := []byte("name,postcode,town\n" + // line 1
		"Ann,SW1A 1AA,London\n" + // 2
		" ,M1 1AE,Manchester\n" + // 3: empty name
		"Bob,NOT A PC,Leeds\n" + // 4: bad postcode
		"ann ,sw1a1aa,LONDON\n" + // 5: duplicate of 2 once normalised
		"\"Cy\nDe\",GIR 0AA,X\n" + // 6-7: multi-line, GIR 0AA is valid
		"\"\",BFPO 123,Y\n" + // 8: empty name (quoted)
		"Eve,,Z\n") // 9: empty postcode is not malformed
	for _, c := range chunks {
		for _, a := range []Action{Reject, Warn, Drop, Off} {
			rules := Rules{Required: []string{"name"}, PostcodeColumn: "postcode", EmptyRequired: a, BadPostcode: a, Duplicate: a}
			out, rep, err := run(t, rules, in, c)
			if a == Reject {
				if !errors.Is(err, csvcheck.ErrInvalid) {
					t.Fatalf("%s: err = %v", a, err)
				}
				for _, want := range []string{`2 rows have an empty required field "name" (lines 3, 8)`,
					`1 rows have a malformed UK postcode in "postcode" (lines 4)`, `1 rows duplicate an earlier row (lines 5)`} {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("error %q lacks %q", err, want)
					}
				}
				if strings.Contains(err.Error(), "Bob") || strings.Contains(err.Error(), "NOT A PC") {
					t.Fatal("row contents in the error")
				}
			} else if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			got := map[string][]int64{}
			for _, is := range rep.Issues {
				got[is.Kind] = is.FirstRows
				if is.Rejected != (a == Reject) || is.Action != a {
					t.Fatalf("%s: issue %+v", a, is)
				}
			}
			want := map[string][]int64{KindEmptyRequired: {3, 8}, KindBadPostcode: {4}, KindDuplicate: {5}}
			if a == Off {
				want = map[string][]int64{}
			}
			if a == Drop {
				// Dropped rows never reach the duplicate check, and
				// none of them is a duplicate.
				want[KindDuplicate] = []int64{5}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s chunk %d: issues %v, want %v", a, c, got, want)
			}
			wantOut := int64(7)
			if a == Drop {
				wantOut = 3
			}
			if rep.RowsIn != 7 || rep.RowsOut != wantOut || int64(len(parseCSV(t, out))-1) != wantOut {
				t.Fatalf("%s: rows %d in, %d out, output %q", a, rep.RowsIn, rep.RowsOut, out)
			}
		}
	}
}

func TestMalformedInput(t *testing.T) {
	for _, in := range []string{"", "a,b\n1\n", "a,b\n\"1,2\n", "a,a\n1,2\n", "a,,c\n1,2,3\n"} {
		_, _, err := run(t, Rules{Drop: []string{"x"}}, []byte(in), 0)
		if !errors.Is(err, csvcheck.ErrInvalid) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	for in, want := range map[string]string{
		"\n\r\nName,name\n1,2\n": `line 3: header names column "name" twice`,
		"a,b\n\"1\n2\",3\n4\n":   "line 4: 1 fields, but the header has 2",
		"a,b\n1,2\n\"x\ny,z\n":   "line 3: a quoted field is never closed",
	} {
		for _, c := range chunks {
			_, _, err := run(t, Rules{Duplicate: Warn}, []byte(in), c)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%q chunk %d: %v, want %q", in, c, err, want)
			}
		}
	}
}

func TestDuplicateLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("id\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	b.WriteString("0\n4999\n")
	_, rep, err := run(t, Rules{Duplicate: Warn, DuplicateLimit: 2000}, []byte(b.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	var limit, dup *Issue
	for i, is := range rep.Issues {
		switch is.Kind {
		case KindDuplicateLimit:
			limit = &rep.Issues[i]
		case KindDuplicate:
			dup = &rep.Issues[i]
		}
	}
	if limit == nil || limit.Count == 0 || limit.FirstRows[0] <= 2000 {
		t.Fatalf("no limit reported: %+v", rep.Issues)
	}
	if dup == nil || dup.Count != 1 || dup.FirstRows[0] != 5002 {
		t.Fatalf("the tracked duplicate is not reported: %+v", dup)
	}
}

func TestRulesValidate(t *testing.T) {
	for _, r := range []Rules{
		{Required: []string{"A"}, Drop: []string{"a "}},
		{PostcodeColumn: "pc", Drop: []string{"PC"}},
		{Duplicate: "sometimes"},
	} {
		if _, _, err := run(t, r, []byte("a,pc\n1,2\n"), 0); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}

func TestReportHasNoContents(t *testing.T) {
	in := []byte("name,postcode\nZebedee Secret,XX99 9XX\n")
	l := plainList(t, "name\nZebedee Secret\n", "name")
	_, rep, err := run(t, Rules{Required: []string{"name"}, PostcodeColumn: "postcode", Lists: []*List{l}}, in, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%+v", rep); strings.Contains(s, "Zebedee") || strings.Contains(s, "XX99") {
		t.Fatalf("report holds row contents: %s", s)
	}
	if rep.Suppressed["list.csv"] != 1 || rep.RowsOut != 0 {
		t.Fatalf("%+v", rep)
	}
}

var _ io.WriteCloser = (*Screen)(nil)
