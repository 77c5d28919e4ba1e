package csvcheck

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// intake writes data to an Intake in pieces of the given size.
func intake(data []byte, piece int, opts Options) ([]byte, *Intake, error) {
	var out bytes.Buffer
	in := NewIntake(&out, nil, opts)
	for len(data) > 0 {
		n := min(piece, len(data))
		if _, err := in.Write(data[:n]); err != nil {
			return out.Bytes(), in, err
		}
		data = data[n:]
	}
	err := in.Close()
	return out.Bytes(), in, err
}

var pieces = []int{1, 2, 3, 7, 1 << 20}

func mustEncode(t *testing.T, enc interface{ Bytes([]byte) ([]byte, error) }, s string) string {
	t.Helper()
	b, err := enc.Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIntakeCanonical(t *testing.T) {
	utf16le := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder()
	utf16be := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder()
	cp1252 := charmap.Windows1252.NewEncoder()
	latin9 := charmap.ISO8859_15.NewEncoder()
	for _, tt := range []struct {
		name, in string
		opts     Options
		want     string
		dialect  Dialect
	}{
		{"canonical passes through", "a,b\r\n1,\"x,y\"\r\n", Options{}, "a,b\r\n1,\"x,y\"\r\n",
			Dialect{Encoding: "utf-8", Delimiter: ",", LineEnds: "crlf"}},
		{"LF becomes CRLF, a value's LF stays", "a,b\n1,\"x\ny\"\n", Options{}, "a,b\r\n1,\"x\ny\"\r\n",
			Dialect{Encoding: "utf-8", Delimiter: ",", LineEnds: "lf"}},
		{"BOM dropped, needless quotes dropped", "\ufeff\"a\",\"b\"\r\n\"1\",\"\"\r\n", Options{}, "a,b\r\n1,\r\n",
			Dialect{Encoding: "utf-8", BOM: true, Delimiter: ",", LineEnds: "crlf"}},
		{"semicolon, comma in a value", "a;b\r\n1,5;\"x;y\"\r\n", Options{}, "a,b\r\n\"1,5\",x;y\r\n",
			Dialect{Encoding: "utf-8", Delimiter: ";", LineEnds: "crlf"}},
		{"tab", "a\tb\n\"x\ty\"\t, \n", Options{}, "a,b\r\nx\ty,\", \"\r\n",
			Dialect{Encoding: "utf-8", Delimiter: "\t", LineEnds: "lf"}},
		{"pipe, no final line end", "a|b\n1|2", Options{}, "a,b\r\n1,2\r\n",
			Dialect{Encoding: "utf-8", Delimiter: "|", LineEnds: "lf"}},
		{"sep line", "sep=;\r\na,b;c\r\n1;2\r\n", Options{}, "\"a,b\",c\r\n1,2\r\n",
			Dialect{Encoding: "utf-8", Delimiter: ";", SepLine: true, LineEnds: "crlf"}},
		{"one column, an empty value kept", "a\r\n\"\"\r\nx\r\n", Options{}, "a\r\n\"\"\r\nx\r\n",
			Dialect{Encoding: "utf-8", Delimiter: ",", LineEnds: "crlf"}},
		{"a second BOM is a value's, quoted so no reader drops it", "\ufeff\ufeffa,b\r\n1,2\r\n", Options{}, "\"\ufeffa\",b\r\n1,2\r\n",
			Dialect{Encoding: "utf-8", BOM: true, Delimiter: ",", LineEnds: "crlf"}},
		{"blank lines are not records", "a,b\r\n\r\n1,2\r\n\n", Options{}, "a,b\r\n1,2\r\n",
			Dialect{Encoding: "utf-8", Delimiter: ",", LineEnds: "crlf"}},
		{"delimiter given", "a;b,c\n1;2,3\n", Options{Delimiter: ","}, "a;b,c\r\n1;2,3\r\n",
			Dialect{Encoding: "utf-8", Delimiter: ",", LineEnds: "lf"}},
		{"utf-16le with BOM", mustEncode(t, utf16le, "Straße\tä😀\r\nx\ty\r\n"), Options{}, "Straße,ä😀\r\nx,y\r\n",
			Dialect{Encoding: "utf-16le", BOM: true, Delimiter: "\t", LineEnds: "crlf"}},
		{"utf-16be with BOM", mustEncode(t, utf16be, "a;b\nü;€\n"), Options{}, "a,b\r\nü,€\r\n",
			Dialect{Encoding: "utf-16be", BOM: true, Delimiter: ";", LineEnds: "lf"}},
		{"windows-1252", mustEncode(t, cp1252, "Name;Ort\r\nMüller;\"Köln; Süd\"\r\n€;„x“\r\n"), Options{Encoding: "windows-1252"},
			"Name,Ort\r\nMüller,Köln; Süd\r\n€,„x“\r\n", Dialect{Encoding: "windows-1252", Delimiter: ";", LineEnds: "crlf"}},
		{"iso-8859-15", mustEncode(t, latin9, "a\n€ß\n"), Options{Encoding: "iso-8859-15"}, "a\r\n€ß\r\n",
			Dialect{Encoding: "iso-8859-15", Delimiter: ",", LineEnds: "lf"}},
	} {
		for _, piece := range pieces {
			out, in, err := intake([]byte(tt.in), piece, tt.opts)
			if err != nil {
				t.Errorf("%s (piece %d): %v", tt.name, piece, err)
				continue
			}
			if string(out) != tt.want || in.Dialect() != tt.dialect {
				t.Errorf("%s (piece %d): got %q %+v, want %q %+v", tt.name, piece, out, in.Dialect(), tt.want, tt.dialect)
			}
		}
	}
}

func TestIntakeRefuses(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		opts     Options
		line     int64
		msg      string
	}{
		{"ambiguous delimiter", "a;b,c\n1;2,3\n", Options{}, 1, "cannot tell the delimiter: the header splits on ',' (2 columns) and ';' (2 columns); say which with --delimiter"},
		{"windows-1252 without the flag", "a\nM\xfcller\n", Options{}, 2, "invalid UTF-8: byte 0xFC is not UTF-8 text"},
		{"undefined windows-1252 byte", "a\nx\x81\n", Options{Encoding: "windows-1252"}, 2, "byte 0x81 is not a character in windows-1252"},
		{"C1 byte in iso-8859-1", "a\n\n\x80 5\n", Options{Encoding: "iso-8859-1"}, 3, "try --encoding windows-1252"},
		{"unpaired surrogate", "\xff\xfea\x00\n\x00\x00\xd8x\x00", Options{}, 2, "unpaired UTF-16 surrogate"},
		{"odd UTF-16", "\xff\xfea\x00\n\x00b", Options{}, 2, "odd number of bytes"},
		{"UTF-16 without BOM", "a\x00\n\x00", Options{}, 1, "NUL byte"},
		{"BOM against the flag", "\xef\xbb\xbfa\n", Options{Encoding: "utf-16le"}, 1, "starts with a UTF-8 byte-order mark, but the encoding given is utf-16le"},
		{"sep line with another delimiter", "sep=:\na:b\n", Options{}, 1, `the sep= line names ":"`},
		{"field count after sep line", "sep=;\na;b\n1\n", Options{}, 3, "1 fields, but the header has 2"},
		{"records disagree", "a;b\n1;2;3\n", Options{}, 2, "3 fields, but the header has 2"},
	} {
		for _, piece := range pieces {
			_, _, err := intake([]byte(tt.in), piece, tt.opts)
			wantInvalid(t, fmt.Sprintf("%s (piece %d)", tt.name, piece), err, tt.line, tt.msg)
		}
	}
}

// TestDetectAgreesWithRecords: of two delimiters that split the header,
// the one the first records agree with wins.
func TestDetectAgreesWithRecords(t *testing.T) {
	out, in, err := intake([]byte("a;b,c\n1;2\n3;4\n"), 1<<20, Options{})
	if err != nil || in.Dialect().Delimiter != ";" || string(out) != "a,\"b,c\"\r\n1,2\r\n3,4\r\n" {
		t.Fatalf("got %q %+v %v", out, in.Dialect(), err)
	}
}

func TestParseNames(t *testing.T) {
	for in, want := range map[string]string{"": "", "CP1252": "windows-1252", "UTF8": "utf-8", "latin9": "iso-8859-15", "utf-16LE": "utf-16le"} {
		if got, err := ParseEncoding(in); err != nil || got != want {
			t.Errorf("ParseEncoding(%q) = %q, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{"": "", "tab": "\t", `\t`: "\t", ";": ";", "Pipe": "|", "comma": ","} {
		if got, err := ParseDelimiter(in); err != nil || got != want {
			t.Errorf("ParseDelimiter(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseEncoding("ebcdic"); err == nil {
		t.Error("ebcdic accepted")
	}
	if _, err := ParseDelimiter(":"); err == nil {
		t.Error(": accepted")
	}
}

// FuzzIntake feeds arbitrary bytes, in arbitrary pieces, in each encoding.
// An Intake must never panic; the pieces never change the outcome; what it
// accepts comes out as valid canonical CSV; and for UTF-8 text without CR
// (where encoding/csv's rules are the same) it holds the records
// encoding/csv reads from the source with the detected delimiter.
func FuzzIntake(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a;b\r\n\"x;y\";2\r\n", "sep=|\na|b\n1|2", "\xff\xfea\x00\t\x00b\x00\n\x00", "\xfe\xff\x00a\x00\n",
		"\xef\xbb\xbfa\n\"\"\n", "a;b,c\n1;2,3\n", "M\xfcller;x\n1;2\n", "a\tb\n\"x\ty\"\t, \n"} {
		f.Add([]byte(s), uint8(0), uint8(3))
		f.Add([]byte(s), uint8(2), uint8(1))
	}
	encodings := append([]string{""}, Encodings...)
	f.Fuzz(func(t *testing.T, data []byte, enc, piece uint8) {
		opts := Options{Encoding: encodings[int(enc)%len(encodings)]}
		whole, win, werr := intake(data, len(data)+1, opts)
		out, in, err := intake(data, int(piece%16)+1, opts)
		if (err == nil) != (werr == nil) || !bytes.Equal(out, whole) || (err == nil && in.Dialect() != win.Dialect()) {
			t.Fatalf("pieces change the outcome: %v / %v\n%q\n%q", err, werr, out, whole)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if bytes.HasPrefix(out, bom) || !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Fatalf("not canonical: %q", out)
		}
		c := New()
		if _, err := c.Write(out); err != nil || c.Close() != nil || c.Rows() != in.Rows() {
			t.Fatalf("output not valid (%v) or rows %d != %d: %q", err, c.Rows(), in.Rows(), out)
		}
		d := in.Dialect()
		if d.Encoding != "utf-8" || d.SepLine || bytes.IndexByte(data, '\r') >= 0 {
			return
		}
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, bom)))
		r.Comma = rune(d.Delimiter[0])
		want, serr := r.ReadAll()
		if serr != nil {
			return
		}
		got, gerr := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if gerr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("records differ (%v):\nsource %q\nout    %q", gerr, want, got)
		}
	})
}

// FuzzDecoders checks the UTF-16 and one-byte decoders against x/text's:
// whatever ours accepts, in any pieces, decodes as x/text decodes it.
func FuzzDecoders(f *testing.F) {
	f.Add([]byte("a\x00\xe4\x00=\xd8\x00\xde"), uint8(0), uint8(1))
	f.Add([]byte("M\xfcller \x80 \x81"), uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, which, piece uint8) {
		names := []string{"utf-16le", "utf-16be", "windows-1252", "iso-8859-1", "iso-8859-15"}
		name := names[int(which)%len(names)]
		ref := map[string]interface{ Bytes([]byte) ([]byte, error) }{
			"utf-16le":     unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder(),
			"utf-16be":     unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder(),
			"windows-1252": charmap.Windows1252.NewDecoder(),
			"iso-8859-1":   charmap.ISO8859_1.NewDecoder(),
			"iso-8859-15":  charmap.ISO8859_15.NewDecoder(),
		}[name]
		d := newDecoder(name)
		var got []byte
		var err error
		n := int(piece%8) + 1
		for i := 0; i < len(data) && err == nil; i += n {
			got, err = d.decode(got, data[i:min(i+n, len(data))], false)
		}
		if err == nil {
			got, err = d.decode(got, nil, true)
		}
		if err != nil {
			var bt *badText
			if !errors.As(err, &bt) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		want, rerr := ref.Bytes(data)
		if rerr != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: got %q, x/text %q (%v)", name, got, want, rerr)
		}
	})
}

// BenchmarkIntake measures the intake alone on UTF-8 comma CSV, writing
// the canonical form to io.Discard (compare BenchmarkChecker).
func BenchmarkIntake(b *testing.B) {
	data := benchAddresses(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		in := NewIntake(io.Discard, nil, Options{})
		for p := data; len(p) > 0; {
			n := min(1<<20, len(p))
			if _, err := in.Write(p[:n]); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
		if err := in.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
