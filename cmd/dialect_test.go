package cmd

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/xfer-dev/xfer/csvcheck"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// crlf FILE...: end every line of each file in CRLF, as the canonical CSV
// xfer seals does, so a round trip can be compared byte for byte.
func cmdCRLF(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: crlf FILE...")
	}
	for _, f := range args {
		path := ts.MkAbs(f)
		b, err := os.ReadFile(path)
		ts.Check(err)
		b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
		ts.Check(os.WriteFile(path, b, 0o600))
	}
}

// dialectRows are the values every dialect fixture carries: umlauts and ß,
// the euro sign, a comma, a quoted semicolon, quotes, a line break, a tab
// only where TAB is not the delimiter, and spaces at the ends.
var dialectRows = [][]string{
	{"Name", "Straße", "PLZ", "Ort", "Notiz"},
	{"Müller", "Königstraße 5", "10115", "Berlin", "Tür 3, links"},
	{"Jäger", "Am Öl; Hof", "20095", "Hamburg", `sagt "Grüß Gott"; bitte`},
	{"Weiß", "Zeile 1\nZeile 2", "80331", "München", "€ 5"},
	{" Åse ", "", "01067", "Dresden", "ÄÖÜ äöü ß"},
}

// encodeFixture writes rows as a sender's program would, quoting a field
// when it holds the delimiter, a quote or a line break (and, as Excel
// does, sometimes when it need not), with the given line ending.
func encodeFixture(rows [][]string, delim, eol string) string {
	var b strings.Builder
	for i, row := range rows {
		for j, f := range row {
			if j > 0 {
				b.WriteString(delim)
			}
			if strings.ContainsAny(f, delim+"\"\n") || (i+j)%3 == 0 {
				f = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
			}
			b.WriteString(f)
		}
		b.WriteString(eol)
	}
	return b.String()
}

// TestDialectsSendPull sends CSVs as Excel and other programs write them
// (Windows-1252 with semicolons and CRLF, UTF-16LE with a BOM and TABs,
// Excel's sep= line, and one from standard input) through a real MinIO,
// pulls each, and checks field by field that every value arrived unchanged
// as UTF-8, parsing each source independently (x/text decoding and
// encoding/csv) to be sure the fixture says what the test claims.
func TestDialectsSendPull(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	env := sendEnv(dir, srv.Endpoint, srv)
	idPath := filepath.Join(dir, "k.txt")
	rcpt := keygen(t, env, idPath)

	utf16le := func(s string) []byte {
		b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cp1252 := func(s string) []byte {
		b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		file   []byte
		flags  []string
		stdin  bool
		decode func([]byte) ([]byte, error) // independent reading of the source
		comma  rune
		source csvcheck.Dialect
	}{
		{
			name: "excel-de.csv", file: cp1252(encodeFixture(dialectRows, ";", "\r\n")),
			flags: []string{"--encoding", "windows-1252"}, comma: ';',
			decode: charmap.Windows1252.NewDecoder().Bytes,
			source: csvcheck.Dialect{Encoding: "windows-1252", Delimiter: ";", LineEnds: "crlf"},
		},
		{
			name: "powershell.tsv", file: utf16le(encodeFixture(dialectRows, "\t", "\r\n")), comma: '\t',
			decode: unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes,
			source: csvcheck.Dialect{Encoding: "utf-16le", BOM: true, Delimiter: "\t", LineEnds: "crlf"},
		},
		{
			name: "sep-line.csv", file: []byte("\ufeffsep=;\r\n" + encodeFixture(dialectRows, ";", "\r\n")), comma: ';',
			decode: func(b []byte) ([]byte, error) {
				b = bytes.TrimPrefix(b, []byte("\ufeff"))
				return b[bytes.IndexByte(b, '\n')+1:], nil
			},
			source: csvcheck.Dialect{Encoding: "utf-8", BOM: true, Delimiter: ";", SepLine: true, LineEnds: "crlf"},
		},
		{
			name: "piped.csv", file: cp1252(encodeFixture(dialectRows, "|", "\n")), stdin: true,
			flags: []string{"--encoding", "cp1252"}, comma: '|',
			decode: charmap.Windows1252.NewDecoder().Bytes,
			source: csvcheck.Dialect{Encoding: "windows-1252", Delimiter: "|", LineEnds: "lf"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The fixture, read independently, holds exactly dialectRows.
			text, err := tc.decode(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			r := csv.NewReader(bytes.NewReader(text))
			r.Comma = tc.comma
			src, err := r.ReadAll()
			if err != nil || !reflect.DeepEqual(src, dialectRows) {
				t.Fatalf("fixture reads as %q, %v", src, err)
			}

			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"send", path, "-r", rcpt, "--json"}, tc.flags...)
			if tc.stdin {
				args = append([]string{"send", "-", "--as", tc.name, "-r", rcpt, "--json"}, tc.flags...)
			}
			c := xferCmd(env, args...)
			if tc.stdin {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				c.Stdin = f
			}
			out, err := c.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
			var pulled struct {
				Rows   int64
				Source csvcheck.Dialect
			}
			in := filepath.Join(dir, "in-"+tc.name)
			runForEvent(t, env, []string{"pull", tc.name + ".zip.age", "-i", idPath, "-d", in, "--json"}, "pulled", &pulled)
			if pulled.Rows != int64(len(dialectRows)-1) || pulled.Source != tc.source {
				t.Errorf("pulled %d rows, source %+v; want %d, %+v", pulled.Rows, pulled.Source, len(dialectRows)-1, tc.source)
			}
			got, err := os.ReadFile(filepath.Join(in, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.Valid(got) || bytes.HasPrefix(got, []byte("\ufeff")) {
				t.Fatal("the pulled CSV is not UTF-8 without a byte-order mark")
			}
			recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(dialectRows) {
				t.Fatalf("%d records, want %d", len(recs), len(dialectRows))
			}
			for i, row := range dialectRows {
				for j, want := range row {
					if j >= len(recs[i]) || recs[i][j] != want {
						t.Errorf("record %d field %d: got %q, want %q", i+1, j+1, recs[i], want)
					}
				}
			}
			// The canonical form: every record ends in CRLF, a value's own
			// line break stays as it was (LF here).
			if want := "Name,Straße,PLZ,Ort,Notiz\r\n"; !bytes.HasPrefix(got, []byte(want)) || !bytes.Contains(got, []byte("\"Zeile 1\nZeile 2\"")) {
				t.Errorf("not the canonical form:\n%s", got)
			}
			if !tc.stdin {
				return
			}
			// Standard input has nothing to recognise a re-run by: the
			// same send again is refused, not taken for "already sent".
			again := xferCmd(env, args...)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			again.Stdin = f
			out, err = again.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "is already in the exchange: send under another name (--as) or replace it (--overwrite)") {
				t.Errorf("a second send from standard input: %v\n%s", err, out)
			}
		})
	}
}

// encode ENC SRC DST: write the UTF-8 text of SRC to DST in encoding ENC
// (windows-1252, iso-8859-1, utf-16le, or utf-16le-bom), as a sender's
// program would have saved it.
func cmdEncode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: encode ENC SRC DST")
	}
	src, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	var e encoding.Encoding
	switch args[0] {
	case "windows-1252":
		e = charmap.Windows1252
	case "iso-8859-1":
		e = charmap.ISO8859_1
	case "utf-16le":
		e = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case "utf-16le-bom":
		e = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	default:
		ts.Fatalf("encode: unknown encoding %s", args[0])
	}
	b, err := e.NewEncoder().Bytes(src)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), b, 0o600))
}
