package csvcheck

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Dialect is how a CSV file was written: what the sender's program
// produced, before xfer turned it into the canonical form. It is recorded in
// the manifest; it says nothing about the file's content.
type Dialect struct {
	// Encoding is utf-8, utf-16le, utf-16be, windows-1252, iso-8859-1 or
	// iso-8859-15.
	Encoding string `json:"encoding"`
	// BOM says the file started with a byte-order mark.
	BOM bool `json:"bom,omitempty"`
	// Delimiter is the field separator: "," ";" "\t" or "|".
	Delimiter string `json:"delimiter"`
	// SepLine says the file started with Excel's "sep=X" line, which
	// was honoured and left out.
	SepLine bool `json:"sep_line,omitempty"`
	// LineEnds is crlf, lf, mixed, or none (one record without an ending).
	LineEnds string `json:"line_ends"`
}

// String describes the dialect in a few words, e.g. "windows-1252 / ';' /
// CRLF".
func (d Dialect) String() string {
	parts := []string{d.Encoding}
	if d.BOM {
		parts[0] += " with BOM"
	}
	parts = append(parts, DelimiterName(d.Delimiter))
	if d.SepLine {
		parts = append(parts, "sep= line")
	}
	if d.LineEnds != "" {
		parts = append(parts, strings.ToUpper(d.LineEnds))
	}
	return strings.Join(parts, " / ")
}

// DelimiterName is how messages name a delimiter: TAB, or the character
// in quotes.
func DelimiterName(d string) string {
	if d == "\t" {
		return "TAB"
	}
	return "'" + d + "'"
}

// Delimiters are the field separators xfer accepts, in the order
// detection reports them.
var Delimiters = []byte{',', ';', '\t', '|'}

// Encodings are the values Options.Encoding accepts.
var Encodings = []string{"utf-8", "utf-16le", "utf-16be", "windows-1252", "iso-8859-1", "iso-8859-15"}

// ParseEncoding checks an encoding name ("" means detect) and returns its
// canonical spelling.
func ParseEncoding(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	switch e {
	case "", "utf-8", "utf-16le", "utf-16be", "windows-1252", "iso-8859-1", "iso-8859-15":
		return e, nil
	case "utf8":
		return "utf-8", nil
	case "cp1252":
		return "windows-1252", nil
	case "latin1", "latin-1":
		return "iso-8859-1", nil
	case "latin9", "latin-9":
		return "iso-8859-15", nil
	}
	return "", fmt.Errorf("unknown encoding %q (use %s)", s, strings.Join(Encodings, ", "))
}

// ParseDelimiter checks a delimiter ("" means detect): one of , ; | or a
// TAB, also spelt "tab", "\t", "comma", "semicolon" or "pipe".
func ParseDelimiter(s string) (string, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case ",", "comma":
		return ",", nil
	case ";", "semicolon":
		return ";", nil
	case "\t", `\t`, "tab":
		return "\t", nil
	case "|", "pipe":
		return "|", nil
	}
	return "", fmt.Errorf("unknown delimiter %q (use , ; | or tab)", s)
}

// Options say what the sender knows of a file's dialect; the zero Options
// detects everything.
type Options struct {
	Encoding  string // "" detects UTF-8 (with or without BOM) and UTF-16 with a BOM
	Delimiter string // "" detects it from the header
	MaxField  int    // 0 means DefaultMaxField
}

// sniffSize is how much of the start of a file Intake reads before it
// decides the dialect: enough for a header and the first records.
const sniffSize = 64 << 10

// sniffRecords is how many records after the header must agree with a
// detected delimiter.
const sniffRecords = 20

// Intake is the CSV at the door: the bytes of a file in any accepted dialect
// are written to it, and the canonical CSV comes out (see the package doc).
// It decodes the file, honours and drops Excel's "sep=" line, finds the
// delimiter, and refuses what it cannot read unambiguously; it never
// guesses an encoding.
type Intake struct {
	opts    Options
	out     io.Writer
	handler Handler
	pre     []byte // the first bytes, until the dialect is known
	started bool
	dec     decoder // nil for UTF-8
	buf     []byte  // decoded text
	tok     *Tokenizer
	dialect Dialect
	err     error
}

// NewIntake returns an Intake writing canonical CSV to out (nil: validate
// only), asking h (nil: keep everything) what to keep. opts must hold valid
// names (see ParseEncoding, ParseDelimiter).
func NewIntake(out io.Writer, h Handler, opts Options) *Intake {
	return &Intake{opts: opts, out: out, handler: h}
}

// Dialect is the source's dialect, complete after Close.
func (in *Intake) Dialect() Dialect {
	d := in.dialect
	if in.tok != nil {
		d.LineEnds = in.tok.LineEnds()
	}
	return d
}

// Rows is the number of data records read (the header excluded).
func (in *Intake) Rows() int64 {
	if in.tok == nil {
		return 0
	}
	return in.tok.Rows()
}

// Header is the output's column names.
func (in *Intake) Header() []string {
	if in.tok == nil {
		return nil
	}
	return in.tok.Header()
}

// Line is the line the tokenizer has reached (for messages).
func (in *Intake) Line() int64 {
	if in.tok == nil {
		return 1
	}
	return in.tok.line
}

// Write takes the next bytes of the file.
func (in *Intake) Write(p []byte) (int, error) {
	if in.err != nil {
		return 0, in.err
	}
	n := len(p)
	if !in.started {
		in.pre = append(in.pre, p...)
		if len(in.pre) < sniffSize {
			return n, nil
		}
		if err := in.start(false); err != nil {
			return 0, err
		}
		return n, nil
	}
	if err := in.feed(p, false); err != nil {
		return 0, err
	}
	return n, nil
}

// Close ends the file (see Tokenizer.Close).
func (in *Intake) Close() error {
	if in.err != nil {
		return in.err
	}
	if !in.started {
		if err := in.start(true); err != nil {
			return err
		}
	}
	if in.dec != nil {
		if err := in.feed(nil, true); err != nil {
			return err
		}
	}
	if err := in.tok.Close(); err != nil {
		in.err = err
		return err
	}
	return nil
}

func (in *Intake) failf(line int64, format string, args ...any) error {
	in.err = &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
	return in.err
}

// start decides the dialect from the first bytes (all of the file when
// final) and feeds them on.
func (in *Intake) start(final bool) error {
	in.started = true
	p := in.pre
	in.pre = nil
	enc, bomLen := "", 0
	switch {
	case bytes.HasPrefix(p, []byte("\xef\xbb\xbf")):
		enc, bomLen = "utf-8", 3
	case bytes.HasPrefix(p, []byte("\xff\xfe")):
		enc, bomLen = "utf-16le", 2
	case bytes.HasPrefix(p, []byte("\xfe\xff")):
		enc, bomLen = "utf-16be", 2
	}
	switch {
	case in.opts.Encoding == "" && enc == "":
		enc = "utf-8"
	case in.opts.Encoding == "":
	case enc == "":
		enc = in.opts.Encoding
	case enc != in.opts.Encoding:
		return in.failf(1, "the file starts with a %s byte-order mark, but the encoding given is %s (leave out --encoding, or give --encoding %s)", strings.ToUpper(enc), in.opts.Encoding, enc)
	}
	in.dialect = Dialect{Encoding: enc, BOM: bomLen > 0}
	in.dec = newDecoder(enc)
	p = p[bomLen:]
	text := p
	if in.dec != nil {
		var err error
		if text, err = in.decode(nil, p, final, 1); err != nil {
			return err
		}
	}
	line := int64(1)
	delim := in.opts.Delimiter
	if sep, n, ok := sepLine(text); ok {
		if !slices.Contains(Delimiters, sep) {
			return in.failf(1, "the sep= line names %q; xfer reads , ; | or TAB", string(sep))
		}
		in.dialect.SepLine = true
		if delim == "" {
			delim = string(sep)
		}
		text, line = text[n:], 2
	}
	if delim == "" {
		d, err := detect(text, final, line)
		if err != nil {
			in.err = err
			return err
		}
		delim = string(d)
	}
	in.dialect.Delimiter = delim
	in.tok = NewTokenizer(delim[0], in.out)
	in.tok.Handler, in.tok.MaxField = in.handler, in.opts.MaxField
	in.tok.StartLine(line)
	if _, err := in.tok.Write(text); err != nil {
		in.err = err
		return err
	}
	return nil
}

func (in *Intake) feed(p []byte, final bool) error {
	text := p
	if in.dec != nil {
		var err error
		if in.buf, err = in.decode(in.buf[:0], p, final, in.tok.line); err != nil {
			return err
		}
		text = in.buf
	}
	if _, err := in.tok.Write(text); err != nil {
		in.err = err
		return err
	}
	return nil
}

// decode runs the decoder, turning its complaint into an Error at the
// line it is on (line is where dst's text starts).
func (in *Intake) decode(dst, p []byte, final bool, line int64) ([]byte, error) {
	start := len(dst)
	dst, err := in.dec.decode(dst, p, final)
	if be, ok := err.(*badText); ok {
		return nil, in.failf(line+int64(bytes.Count(dst[start:], []byte{'\n'})), "%s", be.msg)
	}
	return dst, err
}

// sepLine recognises Excel's first line "sep=X" and returns X and the
// line's length with its ending.
func sepLine(text []byte) (byte, int, bool) {
	if !bytes.HasPrefix(text, []byte("sep=")) || len(text) < 5 {
		return 0, 0, false
	}
	rest := text[5:]
	switch {
	case len(rest) == 0:
		return text[4], 5, true
	case rest[0] == '\n':
		return text[4], 6, true
	case len(rest) >= 2 && rest[0] == '\r' && rest[1] == '\n':
		return text[4], 7, true
	}
	return 0, 0, false
}

// fieldCounter is the Handler delimiter detection tokenizes with.
type fieldCounter struct{ header, rows int }

var errEnough = fmt.Errorf("%w: enough", ErrInvalid)

func (f *fieldCounter) Header(r *Record) ([]bool, error) { f.header = r.Len(); return nil, nil }
func (f *fieldCounter) Row(*Record) (bool, error) {
	if f.rows++; f.rows >= sniffRecords {
		return false, errEnough
	}
	return false, nil
}

// detect finds the delimiter of text (the start of a file, all of it when
// final): the one candidate that splits the header and agrees with the
// records after it. A header no candidate splits is one column (comma).
func detect(text []byte, final bool, line int64) (byte, error) {
	type cand struct {
		d      byte
		cols   int
		agrees bool
	}
	var split []cand
	for _, d := range Delimiters {
		f := &fieldCounter{}
		t := NewTokenizer(d, nil)
		t.Handler, t.skipText, t.MaxField = f, true, len(text)+1
		t.StartLine(line)
		_, err := t.Write(text)
		if err == nil && final {
			err = t.Close()
		}
		if f.header > 1 {
			split = append(split, cand{d, f.header, err == nil || err == errEnough})
		}
	}
	if len(split) == 0 {
		return ',', nil
	}
	if len(split) == 1 {
		return split[0].d, nil
	}
	var agree []cand
	for _, c := range split {
		if c.agrees {
			agree = append(agree, c)
		}
	}
	if len(agree) == 1 {
		return agree[0].d, nil
	}
	if len(agree) > 1 {
		split = agree
	}
	var names []string
	for _, c := range split {
		names = append(names, fmt.Sprintf("%s (%d columns)", DelimiterName(string(c.d)), c.cols))
	}
	flag := "'" + string(split[0].d) + "'"
	if split[0].d == '\t' {
		flag = "tab"
	}
	return 0, &Error{Line: line, Msg: fmt.Sprintf("cannot tell the delimiter: the header splits on %s; say which with --delimiter (e.g. --delimiter %s) or delimiter in the [csv] section of the config", strings.Join(names, " and "), flag)}
}

// A decoder turns the bytes of a file into UTF-8, keeping an incomplete
// character for the next call. Its errors are *badText.
type decoder interface {
	decode(dst, p []byte, final bool) ([]byte, error)
}

type badText struct{ msg string }

func (b *badText) Error() string { return b.msg }

func newDecoder(enc string) decoder {
	switch enc {
	case "utf-16le":
		return &utf16Decoder{}
	case "utf-16be":
		return &utf16Decoder{be: true}
	case "windows-1252":
		return newByteDecoder(enc, charmap.Windows1252)
	case "iso-8859-1":
		return newByteDecoder(enc, charmap.ISO8859_1)
	case "iso-8859-15":
		return newByteDecoder(enc, charmap.ISO8859_15)
	}
	return nil
}

// byteDecoder decodes a one-byte character set by table. A byte the set
// leaves undefined, or that decodes to a C1 control character (in a file
// said to be ISO-8859, these are Windows-1252's € „ “ …), is refused
// rather than turned into something the sender never typed.
type byteDecoder struct {
	name string
	utf8 [256][4]byte
	n    [256]uint8 // 0: refused
}

func newByteDecoder(name string, cm *charmap.Charmap) *byteDecoder {
	d := &byteDecoder{name: name}
	for b := range 256 {
		r := cm.DecodeByte(byte(b))
		if r == utf8.RuneError || (r >= 0x80 && r < 0xa0) {
			continue
		}
		d.n[b] = uint8(utf8.EncodeRune(d.utf8[b][:], r))
	}
	return d
}

func (d *byteDecoder) decode(dst, p []byte, _ bool) ([]byte, error) {
	for i := 0; i < len(p); {
		j := i
		for j < len(p) && p[j] < utf8.RuneSelf {
			j++
		}
		dst = append(dst, p[i:j]...)
		if j == len(p) {
			break
		}
		b := p[j]
		n := d.n[b]
		if n == 0 {
			hint := ""
			if d.name != "windows-1252" && b >= 0x80 && b < 0xa0 {
				hint = " (it is a Windows-1252 character: try --encoding windows-1252)"
			}
			return dst, &badText{fmt.Sprintf("byte 0x%02X is not a character in %s%s", b, d.name, hint)}
		}
		dst = append(dst, d.utf8[b][:n]...)
		i = j + 1
	}
	return dst, nil
}

// utf16Decoder decodes UTF-16 of either byte order. An unpaired surrogate
// is refused, not replaced.
type utf16Decoder struct {
	be    bool
	carry []byte
}

func (d *utf16Decoder) unit(p []byte) uint16 {
	if d.be {
		return uint16(p[0])<<8 | uint16(p[1])
	}
	return uint16(p[1])<<8 | uint16(p[0])
}

func (d *utf16Decoder) decode(dst, p []byte, final bool) ([]byte, error) {
	if len(d.carry) > 0 {
		p = append(d.carry, p...)
		d.carry = nil
	}
	i := 0
	for ; i+1 < len(p); i += 2 {
		u := d.unit(p[i:])
		switch {
		case u < utf8.RuneSelf:
			dst = append(dst, byte(u))
		case u >= 0xd800 && u < 0xdc00:
			if i+3 >= len(p) {
				if final {
					return dst, &badText{"the file ends inside a UTF-16 character"}
				}
				d.carry = append(d.carry, p[i:]...)
				return dst, nil
			}
			lo := d.unit(p[i+2:])
			if lo < 0xdc00 || lo >= 0xe000 {
				return dst, &badText{fmt.Sprintf("unpaired UTF-16 surrogate 0x%04X", u)}
			}
			dst = utf8.AppendRune(dst, 0x10000+(rune(u)-0xd800)<<10+(rune(lo)-0xdc00))
			i += 2
		case u >= 0xdc00 && u < 0xe000:
			return dst, &badText{fmt.Sprintf("unpaired UTF-16 surrogate 0x%04X", u)}
		default:
			dst = utf8.AppendRune(dst, rune(u))
		}
	}
	if i < len(p) {
		if final {
			return dst, &badText{"the file ends in half a UTF-16 character (an odd number of bytes)"}
		}
		d.carry = append(d.carry, p[i:]...)
	}
	return dst, nil
}
