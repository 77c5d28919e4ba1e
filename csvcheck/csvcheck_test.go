package csvcheck

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
)

// check feeds data to a Checker in pieces of the given size.
func check(data []byte, piece int) (*Checker, error) {
	c := New()
	for len(data) > 0 {
		n := min(piece, len(data))
		if _, err := c.Write(data[:n]); err != nil {
			return c, err
		}
		data = data[n:]
	}
	return c, c.Close()
}

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		rows int64
		cols int
	}{
		{"simple", "a,b\n1,2\n", 1, 2},
		{"crlf", "a,b\r\n1,2\r\n3,4\r\n", 2, 2},
		{"no final newline", "a,b\n1,2", 1, 2},
		{"header only", "a,b\n", 0, 2},
		{"quoted comma", "name,addr\nx,\"Flat 3, Rose Court\"\n", 1, 2},
		{"embedded newline", "name,addr\nx,\"Flat 3\nRose Court\"\ny,z\n", 2, 2},
		{"escaped quote", "name,addr\nx,\"26 \"\"The Willows\"\"\"\n", 1, 2},
		{"empty fields", "a,b,c\n,,\n", 1, 3},
		{"empty quoted", "a,b\n\"\",\"\"\n", 1, 2},
		{"blank lines skipped", "a,b\n\n1,2\n\r\n", 1, 2},
		{"bom", "\xef\xbb\xbfa,b\n1,2\n", 1, 2},
		{"utf8", "näme,straße\nZoë,Ó Súilleabháin\n", 1, 2},
		{"quoted header", "\"a\",\"b,c\"\n1,2\n", 1, 2},
		{"cr inside quotes", "a\n\"x\ry\"\n", 1, 1},
	}
	for _, tt := range tests {
		for _, piece := range []int{1, 2, 3, 1 << 20} {
			c, err := check([]byte(tt.in), piece)
			if err != nil {
				t.Errorf("%s (piece %d): %v", tt.name, piece, err)
				continue
			}
			if c.Rows() != tt.rows || c.Columns() != tt.cols {
				t.Errorf("%s (piece %d): rows %d cols %d, want %d %d", tt.name, piece, c.Rows(), c.Columns(), tt.rows, tt.cols)
			}
		}
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int64
		msg  string
	}{
		{"empty", "", 1, "empty file"},
		{"only blank", "\n\n", 3, "empty file"},
		{"short row", "a,b\n1,2\n3\n", 3, "1 fields, but the header has 2"},
		{"long row", "a,b\n1,2,3\n", 2, "3 fields"},
		{"row after multiline", "a,b\n1,\"x\ny\"\n3\n", 4, "1 fields"},
		{"bare quote", "a,b\n1,2\"3\n", 2, "quote inside an unquoted field"},
		{"junk after quote", "a,b\n\"1\"x,2\n", 2, "after a closing quote"},
		{"unterminated", "a,b\n1,\"2\n3,4\n", 2, "never closed"},
		{"nul", "a,b\n1,2\x00\n", 2, "NUL"},
		{"bad utf8", "a,b\n1,\xff\n", 2, "invalid UTF-8"},
		{"latin1", "name\nZo\xeb\n", 2, "invalid UTF-8"},
		{"truncated utf8", "name\nZo\xc3", 2, "invalid UTF-8 at the end"},
		{"bare cr", "a,b\r1,2\r", 1, "carriage return"},
		{"empty header name", "a,,c\n1,2,3\n", 1, "column 2 has no name"},
		{"duplicate header", "a,b,A\n1,2,3\n", 1, "twice"},
	}
	for _, tt := range tests {
		for _, piece := range []int{1, 2, 1 << 20} {
			_, err := check([]byte(tt.in), piece)
			wantInvalid(t, fmt.Sprintf("%s (piece %d)", tt.name, piece), err, tt.line, tt.msg)
		}
	}
}

// wantInvalid requires err to be a validation error at line whose message
// holds msg.
func wantInvalid(t *testing.T, what string, err error, line int64, msg string) {
	t.Helper()
	var ve *Error
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Errorf("%s: got %v, want a validation error", what, err)
		return
	}
	if ve.Line != line || !strings.Contains(ve.Msg, msg) {
		t.Errorf("%s: got %q, want line %d with %q", what, err, line, msg)
	}
}

func TestMaxField(t *testing.T) {
	c := New()
	c.MaxField = 10
	_, err := c.Write([]byte("a\n\"" + strings.Repeat("x", 11) + "\"\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "longer than 10") {
		t.Fatalf("got %v", err)
	}
}

// TestErrorsHoldNoContent guards the promise that errors never quote the file.
func TestErrorsHoldNoContent(t *testing.T) {
	secret := "Siobhán Ó Súilleabháin"
	for _, in := range []string{
		"name,x\n" + secret + "\n",
		"name\n" + secret + "\"\n",
		"name," + secret + ",name\n",
	} {
		_, err := check([]byte(in), 7)
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		if strings.Contains(err.Error(), "Siobh") {
			t.Errorf("error quotes the data: %v", err)
		}
	}
}

func TestGenerated(t *testing.T) {
	var buf bytes.Buffer
	rows, err := addrgen.Write(&buf, 4<<20, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []int{4093, 1 << 16} {
		c, err := check(buf.Bytes(), piece)
		if err != nil {
			t.Fatal(err)
		}
		if c.Rows() != rows || c.Columns() != 12 {
			t.Fatalf("rows %d cols %d, want %d 12", c.Rows(), c.Columns(), rows)
		}
	}
}

// FuzzAgainstEncodingCSV checks the streaming state machine against the
// standard library's parser: on text both accept, they agree on validity and
// on the number of records.
func FuzzAgainstEncodingCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a\n\"x\ny\"\n", "a,b\n\"1\"\"\",2\r\n", "a,b\n1,2\"\n", "a\n\n\nb\n", "a,b\n\"1,2\n"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		c, err := check(data, int(piece)+1)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("unexpected error type: %v", err)
		}
		// Compare only where the rules are the same: no NUL, valid UTF-8,
		// no bare CR, and a header whose names are present and distinct.
		if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) || bytes.Contains(data, []byte{'\r'}) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			return
		}
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = 0
		recs, stdErr := r.ReadAll()
		if stdErr == nil && len(recs) > 0 {
			seen := map[string]bool{}
			for _, h := range recs[0] {
				h = strings.ToLower(strings.TrimSpace(h))
				if h == "" || seen[h] {
					return
				}
				seen[h] = true
			}
		}
		if stdErr == nil && len(recs) == 0 {
			stdErr = io.EOF // both must reject a file with no header
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("csvcheck %v, encoding/csv %v on %q", err, stdErr, data)
		}
		if err == nil && c.Rows() != int64(len(recs)-1) {
			t.Fatalf("rows %d, encoding/csv %d on %q", c.Rows(), len(recs)-1, data)
		}
	})
}

func BenchmarkChecker(b *testing.B) {
	data := benchAddresses(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := check(data, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodingCSV is the peer: parsing the same data with encoding/csv.
func BenchmarkEncodingCSV(b *testing.B) {
	data := benchAddresses(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
