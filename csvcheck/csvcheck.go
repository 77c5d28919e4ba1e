// Package csvcheck is the CSV at xfer's door: it reads a CSV in any dialect
// xfer accepts (see Intake), tokenizes it once, validates it as it streams
// past, and writes it out in one canonical form, before anything is sealed.
//
// Validation means: text (UTF-8 once decoded, no NUL bytes), RFC 4180
// quoting, a header row of distinct names, and the same number of fields in
// every record. The canonical form is UTF-8 without a byte-order mark,
// comma-separated, each field quoted only where RFC 4180 needs it (a comma,
// a quote, CR or LF in the value) and every record ending in CRLF; each
// field's value is exactly the source's, once decoded.
//
// Nothing here buffers more than one record (plus a small sample of the
// start of a file, to find its dialect). Errors carry line numbers and never
// the contents of the file, which is personal data.
package csvcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every validation error (the CLI's exit code 6).
var ErrInvalid = errors.New("invalid CSV")

// DefaultMaxField is the default limit on one field's size. Address data has
// no business holding megabytes in one cell, and a limit keeps every later
// row-level stage bounded.
const DefaultMaxField = 1 << 20

// MaxColumns limits the header row to this many fields, and MaxField (its
// default DefaultMaxField) limits its length: the header is the one record
// a Tokenizer keeps (to check its names), so without limits a hostile first
// line could hold millions of names in memory.
const MaxColumns = 1 << 14

// maxRecord bounds one record in memory, whatever its number of fields.
const maxRecord = 64 << 20

// Error is a validation error at a line of the input (1-based, counting
// physical lines, so that it matches what an editor shows).
type Error struct {
	Line int64
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// Checker is an io.Writer that validates canonical-dialect CSV (UTF-8 with
// or without a byte-order mark, comma-separated) written to it, without
// writing it anywhere. Write returns the first error found; Close reports
// end-of-input problems. It is what a receiver uses to check a CSV it
// extracted.
type Checker struct {
	// MaxField limits a field's size in bytes; 0 means DefaultMaxField.
	// Set it before the first Write.
	MaxField int

	t       *Tokenizer
	started bool
	pre     []byte // the first bytes, while they may be a byte-order mark
}

// New returns a Checker for one CSV stream.
func New() *Checker { return &Checker{} }

// Rows is the number of data records seen so far (the header excluded).
func (c *Checker) Rows() int64 {
	if c.t == nil {
		return 0
	}
	return c.t.Rows()
}

// Columns is the number of fields in the header.
func (c *Checker) Columns() int {
	if c.t == nil {
		return 0
	}
	return c.t.Columns()
}

// Write validates p. It returns len(p) and nil, or the first error.
func (c *Checker) Write(p []byte) (int, error) {
	if c.t == nil {
		c.t = NewTokenizer(',', nil)
		c.t.MaxField = c.MaxField
	}
	n := len(p)
	if !c.started {
		// Set a leading byte-order mark aside, even one split over Writes.
		k := min(len(bom)-len(c.pre), len(p))
		c.pre = append(c.pre, p[:k]...)
		if len(c.pre) < len(bom) && bytes.HasPrefix(bom, c.pre) {
			return n, nil
		}
		c.started = true
		if bytes.Equal(c.pre, bom) {
			p = p[k:]
		} else {
			p = append(c.pre, p[k:]...)
		}
		c.pre = nil
	}
	if _, err := c.t.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// Close reports problems that only the end of input reveals: an empty file,
// an unterminated quote, an incomplete UTF-8 sequence or a short last record.
func (c *Checker) Close() error {
	if c.t == nil {
		c.t = NewTokenizer(',', nil)
		c.t.MaxField = c.MaxField
	}
	if !c.started {
		c.started = true
		if _, err := c.t.Write(c.pre); err != nil {
			return err
		}
	}
	return c.t.Close()
}

var bom = []byte("\ufeff")

// A Handler decides, record by record, what a Tokenizer writes out.
type Handler interface {
	// Header is called once, with the header record (already checked for
	// empty and repeated names). It returns which columns go to the
	// output: nil means all of them.
	Header(rec *Record) (keep []bool, err error)
	// Row is called with every data record and reports whether it goes
	// to the output.
	Row(rec *Record) (keep bool, err error)
}

// Record is one record as a Tokenizer found it. It is valid only during the
// Handler call it is passed to.
type Record struct {
	// Line is the physical line the record starts on (1-based).
	Line    int64
	raw     []byte // the record without its line ending
	spans   []span // its fields in raw, quotes included
	quoted  bool   // a quote somewhere in raw
	scratch []byte
}

type span struct{ start, end int }

// Len is the number of fields.
func (r *Record) Len() int { return len(r.spans) }

// Field returns field i's value: without its quotes, doubled quotes undone.
// The slice is valid until the next call of Field.
func (r *Record) Field(i int) []byte {
	v := r.raw[r.spans[i].start:r.spans[i].end]
	if !r.quoted || len(v) == 0 || v[0] != '"' {
		return v
	}
	v = v[1 : len(v)-1] // the Tokenizer checked the closing quote
	if bytes.IndexByte(v, '"') < 0 {
		return v
	}
	r.scratch = r.scratch[:0]
	for k := 0; k < len(v); k++ {
		r.scratch = append(r.scratch, v[k])
		if v[k] == '"' {
			k++
		}
	}
	return r.scratch
}

type state uint8

const (
	fieldStart state = iota // at the start of a field
	unquoted                // inside an unquoted field
	quoted                  // inside a quoted field
	quoteSeen               // a quote inside a quoted field: escaped quote or field end
	sawCR                   // a carriage return outside quotes, expecting LF
)

// Line endings of a record, counted for the dialect.
const (
	eolNone = iota
	eolLF
	eolCRLF
)

// Tokenizer is xfer's one CSV tokenizer: UTF-8 text with a given
// delimiter is written to it; it validates it, hands each record to its
// Handler, and writes the records kept to its output in the canonical form
// (package doc). Records that are canonical already pass through as their
// original bytes, without a copy.
type Tokenizer struct {
	// MaxField limits a field's size in bytes; 0 means DefaultMaxField.
	// Set it before the first Write.
	MaxField int
	// Handler, if set, is called with every record.
	Handler Handler

	comma    byte
	special  [256]bool // the bytes the state machine must look at
	out      io.Writer
	skipText bool // do not check for UTF-8 and NUL (delimiter detection only)

	st      state
	line    int64 // current physical line, 1-based
	recLine int64 // line the current record started on
	rec     Record
	fstart  int // current field's start, relative to the record start
	recLen  int // bytes of the current record scanned so far
	crAt    int // where a pending CR is, relative to the record start
	recEnd  int // where the finished record's content ends
	eol     int // the finished record's line ending
	carry   []byte
	fquoted bool   // the current field started with a quote
	u8carry []byte // an incomplete UTF-8 sequence from the last Write

	headerDone bool
	header     []string
	columns    int
	rows       int64
	keep       []bool // output columns; nil means all
	rewrite    bool   // records are re-encoded even without quotes
	eols       [3]int64
	ob         []byte
	err        error
}

// NewTokenizer returns a Tokenizer for text whose fields are separated by
// comma, writing the canonical CSV to out (nil: validate only).
func NewTokenizer(comma byte, out io.Writer) *Tokenizer {
	t := &Tokenizer{comma: comma, out: out, line: 1, recLine: 1, rewrite: comma != ','}
	for _, c := range []byte{comma, '"', '\n', '\r'} {
		t.special[c] = true
	}
	return t
}

// StartLine says which line of the file the text written next starts on,
// for a caller that has consumed lines before it (Excel's "sep=" line).
// Call it before the first Write.
func (t *Tokenizer) StartLine(line int64) { t.line, t.recLine = line, line }

// Rows is the number of data records seen so far (the header excluded).
func (t *Tokenizer) Rows() int64 { return t.rows }

// Columns is the number of fields in the header.
func (t *Tokenizer) Columns() int { return t.columns }

// Header returns the column names as the output has them (after a
// Handler's choice of columns), once the header has been read.
func (t *Tokenizer) Header() []string {
	var names []string
	for c, n := range t.header {
		if t.keep == nil || t.keep[c] {
			names = append(names, n)
		}
	}
	return names
}

// LineEnds describes the record endings seen: "crlf", "lf", "mixed", or
// "none" for a file of one record without an ending.
func (t *Tokenizer) LineEnds() string {
	switch crlf, lf := t.eols[eolCRLF] > 0, t.eols[eolLF] > 0; {
	case crlf && lf:
		return "mixed"
	case crlf:
		return "crlf"
	case lf:
		return "lf"
	}
	return "none"
}

func (t *Tokenizer) maxField() int {
	if t.MaxField > 0 {
		return t.MaxField
	}
	return DefaultMaxField
}

func (t *Tokenizer) fail(line int64, format string, args ...any) error {
	t.err = &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
	return t.err
}

// Write tokenizes p. It returns len(p) and nil, or the first error.
func (t *Tokenizer) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n := len(p)
	if !t.skipText {
		if err := t.checkText(p); err != nil {
			return 0, err
		}
	}
	if err := t.write(p); err != nil {
		t.err = err
		return 0, err
	}
	return n, nil
}

// checkText rejects NUL bytes and invalid UTF-8, carrying an incomplete
// multi-byte sequence over to the next Write.
func (t *Tokenizer) checkText(p []byte) error {
	if i := bytes.IndexByte(p, 0); i >= 0 {
		return t.fail(t.line+int64(bytes.Count(p[:i], []byte{'\n'})),
			"NUL byte: this is not a text file (or it is UTF-16 without a byte-order mark: try --encoding utf-16le)")
	}
	if len(t.u8carry) > 0 {
		k := min(utf8.UTFMax-len(t.u8carry), len(p))
		joined := append(t.u8carry, p[:k]...)
		if !utf8.FullRune(joined) {
			t.u8carry = joined
			return nil
		}
		r, size := utf8.DecodeRune(joined)
		if r == utf8.RuneError && size <= 1 {
			return t.badUTF8(t.line, joined[0])
		}
		p = p[size-len(t.u8carry):]
		t.u8carry = t.u8carry[:0]
	}
	if utf8.Valid(p) {
		return nil
	}
	// Find the first bad spot; an incomplete sequence at the very end is fine.
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(p[i:]) {
				t.u8carry = append(t.u8carry[:0], p[i:]...)
				return nil
			}
			return t.badUTF8(t.line+int64(bytes.Count(p[:i], []byte{'\n'})), p[i])
		}
		i += size
	}
	return nil
}

// badUTF8 names the byte and the flag that most likely reads the file: an
// 8-bit export from Windows is Windows-1252 (a superset of ISO-8859-1's
// letters). It never guesses on the sender's behalf.
func (t *Tokenizer) badUTF8(line int64, b byte) error {
	return t.fail(line, "invalid UTF-8: byte 0x%02X is not UTF-8 text (a file saved by Excel or Notepad on Windows is usually Windows-1252: try --encoding windows-1252, or iso-8859-15)", b)
}

func (t *Tokenizer) write(p []byte) error {
	i := 0
	if t.recLen > 0 {
		j, done, err := t.scanSlow(p, 0)
		if err != nil {
			return err
		}
		t.carry = append(t.carry, p[:j]...)
		if !done {
			return t.checkOpen()
		}
		asis, keep, err := t.record(t.carry)
		if err != nil {
			return err
		}
		if keep {
			if err := t.emit(t.carry, asis); err != nil {
				return err
			}
		}
		t.carry = t.carry[:0]
		if cap(t.carry) > 4<<20 {
			t.carry = nil // do not keep an outsize record's buffer
		}
		i = j
	}
	run := i // start of a run of records passed through unchanged
	for i < len(p) {
		start := i
		j, done, err := t.scan(p, i)
		if err != nil {
			return err
		}
		if !done {
			if err := t.flushRun(p[run:start]); err != nil {
				return err
			}
			t.carry = append(t.carry[:0], p[start:]...)
			return t.checkOpen()
		}
		asis, keep, err := t.record(p[start:j])
		if err != nil {
			return err
		}
		if !keep || !asis {
			if err := t.flushRun(p[run:start]); err != nil {
				return err
			}
			if keep {
				t.ob = t.encode(t.ob, p[start:j])
			}
			run = j
		}
		i = j
	}
	if err := t.flushRun(p[run:]); err != nil {
		return err
	}
	return t.flushOut()
}

// checkOpen bounds a record still open at the end of a Write.
func (t *Tokenizer) checkOpen() error {
	if t.recLen-t.fstart > t.maxField()+2 {
		return t.fail(t.line, "field longer than %d bytes", t.maxField())
	}
	if !t.headerDone && t.recLen > t.maxField() {
		return t.fail(t.recLine, "header row longer than %d bytes", t.maxField())
	}
	if t.recLen > maxRecord {
		return t.fail(t.recLine, "a record longer than %d bytes", maxRecord)
	}
	return nil
}

// flushRun writes records that pass through as they are, after what the
// output buffer holds.
func (t *Tokenizer) flushRun(b []byte) error {
	if len(b) == 0 || t.out == nil {
		return nil
	}
	if err := t.flushOut(); err != nil {
		return err
	}
	_, err := t.out.Write(b)
	return err
}

func (t *Tokenizer) flushOut() error {
	if len(t.ob) == 0 || t.out == nil {
		t.ob = t.ob[:0]
		return nil
	}
	_, err := t.out.Write(t.ob)
	t.ob = t.ob[:0]
	return err
}

func (t *Tokenizer) emit(rec []byte, asis bool) error {
	if asis {
		return t.flushRun(rec)
	}
	t.ob = t.encode(t.ob, rec)
	if len(t.ob) >= 64<<10 {
		return t.flushOut()
	}
	return nil
}

// scan scans one record starting at p[i]: a whole line without quotes in
// one go, anything else byte by byte. It returns the index after the
// record and true, or len(p) and false when p ends first.
func (t *Tokenizer) scan(p []byte, i int) (int, bool, error) {
	nl := bytes.IndexByte(p[i:], '\n')
	if nl < 0 || bytes.IndexByte(p[i:i+nl], '"') >= 0 {
		return t.scanSlow(p, i)
	}
	line := p[i : i+nl]
	end, eol := nl, eolLF
	if end > 0 && line[end-1] == '\r' {
		end, eol = end-1, eolCRLF
	}
	if bytes.IndexByte(line[:end], '\r') >= 0 {
		return t.scanSlow(p, i) // to report the bare CR where it is
	}
	t.rec.spans, t.rec.quoted = t.rec.spans[:0], false
	at := 0
	for {
		k := bytes.IndexByte(line[at:end], t.comma)
		if k < 0 {
			t.rec.spans = append(t.rec.spans, span{at, end})
			break
		}
		t.rec.spans = append(t.rec.spans, span{at, at + k})
		at += k + 1
		if !t.headerDone && len(t.rec.spans) >= MaxColumns {
			return 0, false, t.fail(t.line, "header row has more than %d columns", MaxColumns)
		}
	}
	if end > t.maxField() {
		if !t.headerDone {
			return 0, false, t.fail(t.line, "header row longer than %d bytes", t.maxField())
		}
		for _, s := range t.rec.spans {
			if s.end-s.start > t.maxField() {
				return 0, false, t.fail(t.line, "field longer than %d bytes", t.maxField())
			}
		}
	}
	t.line++
	t.recEnd, t.eol, t.recLen = end, eol, 0
	return i + nl + 1, true, nil
}

// scanSlow feeds p[i:] to the state machine until a record ends or p runs
// out. Field spans are relative to the record's start, which may lie in an
// earlier Write (then the record's first bytes are in t.carry).
func (t *Tokenizer) scanSlow(p []byte, i int) (int, bool, error) {
	if t.recLen == 0 {
		t.rec.spans, t.rec.quoted, t.fstart, t.st = t.rec.spans[:0], false, 0, fieldStart
	}
	max := t.maxField()
	for ; i < len(p); i++ {
		// Inside a field, skip to the next byte that matters.
		switch t.st {
		case quoted:
			k := bytes.IndexByte(p[i:], '"')
			if k < 0 {
				k = len(p) - i
			}
			t.line += int64(bytes.Count(p[i:i+k], []byte{'\n'}))
			t.recLen += k
			if i += k; i == len(p) {
				return len(p), false, nil
			}
		case unquoted:
			j := i
			for j < len(p) && !t.special[p[j]] {
				j++
			}
			t.recLen += j - i
			if i = j; i == len(p) {
				return len(p), false, nil
			}
		}
		b := p[i]
		off := t.recLen
		t.recLen++
		switch t.st {
		case quoted:
			switch b {
			case '"':
				t.st = quoteSeen
			case '\n':
				t.line++
			}
			continue
		case sawCR:
			if b != '\n' {
				return 0, false, t.fail(t.line, "carriage return without a line feed (convert old Mac line endings first)")
			}
			t.rec.spans = append(t.rec.spans, span{t.fstart, t.crAt})
			t.endSlow(t.crAt, eolCRLF)
			return i + 1, true, nil
		}
		switch b {
		case '"':
			switch t.st {
			case unquoted:
				return 0, false, t.fail(t.line, `a quote inside an unquoted field (quote the whole field and double the quote: "")`)
			case fieldStart:
				t.rec.quoted, t.fquoted = true, true
			}
			t.st = quoted
		case t.comma:
			if err := t.endField(off, max); err != nil {
				return 0, false, err
			}
			t.fstart, t.st = off+1, fieldStart
		case '\n':
			if err := t.endField(off, max); err != nil {
				return 0, false, err
			}
			t.endSlow(off, eolLF)
			return i + 1, true, nil
		case '\r':
			t.crAt, t.st = off, sawCR
			if err := t.endField(off, max); err != nil {
				return 0, false, err
			}
		default:
			if t.st == quoteSeen {
				return 0, false, t.fail(t.line, "unexpected character after a closing quote")
			}
			t.st = unquoted
		}
	}
	return len(p), false, nil
}

// endField checks the field ending at off and, unless it ends at a CR
// (whose span is appended at its LF), appends its span.
func (t *Tokenizer) endField(off, max int) error {
	limit := max
	if t.fquoted {
		limit += 2
	}
	if off-t.fstart > limit {
		return t.fail(t.line, "field longer than %d bytes", max)
	}
	if !t.headerDone {
		if off > max {
			return t.fail(t.recLine, "header row longer than %d bytes", max)
		}
		if len(t.rec.spans) >= MaxColumns {
			return t.fail(t.recLine, "header row has more than %d columns", MaxColumns)
		}
	}
	if t.st != sawCR {
		t.rec.spans = append(t.rec.spans, span{t.fstart, off})
	}
	t.fquoted = false
	return nil
}

func (t *Tokenizer) endSlow(end, eol int) {
	t.line++
	t.recEnd, t.eol, t.recLen = end, eol, 0
}

// record checks a complete record (rec holds it with its line ending),
// hands it to the Handler, and reports whether it goes out as it is
// (asis) and whether it goes out at all (keep). Blank lines are not
// records: they are skipped, as encoding/csv does.
func (t *Tokenizer) record(rec []byte) (asis, keep bool, err error) {
	line := t.recLine
	t.recLine = t.line
	r := &t.rec
	r.Line, r.raw = line, rec[:t.recEnd]
	if len(r.spans) == 1 && r.spans[0].end == 0 && !r.quoted {
		return false, false, nil
	}
	t.eols[t.eol]++
	if !t.headerDone {
		if err := t.checkHeader(r); err != nil {
			return false, false, err
		}
		if t.Handler != nil {
			if t.keep, err = t.Handler.Header(r); err != nil {
				t.err = err
				return false, false, err
			}
			if t.keep != nil {
				t.rewrite = true
			}
		}
		return t.canonical(r), true, nil
	}
	if len(r.spans) != t.columns {
		return false, false, t.fail(line, "%d fields, but the header has %d", len(r.spans), t.columns)
	}
	t.rows++
	keep = true
	if t.Handler != nil {
		if keep, err = t.Handler.Row(r); err != nil {
			t.err = err
			return false, false, err
		}
	}
	return t.canonical(r), keep, nil
}

// canonical reports whether the record in r is in the canonical form as it
// is: comma-separated, ending in CRLF, with all its columns, and quotes
// only around values that need them.
func (t *Tokenizer) canonical(r *Record) bool {
	if t.rewrite || t.eol != eolCRLF {
		return false
	}
	if len(r.spans) > 0 && bytes.HasPrefix(r.raw[r.spans[0].start:r.spans[0].end], bom) {
		return false // opens with U+FEFF unquoted: see encode
	}
	if !r.quoted {
		return true
	}
	for _, s := range r.spans {
		v := r.raw[s.start:s.end]
		if len(v) > 0 && v[0] == '"' && !bytes.ContainsAny(v[1:len(v)-1], ",\"\r\n") {
			return false
		}
	}
	return true
}

func (t *Tokenizer) checkHeader(r *Record) error {
	seen := make(map[string]bool, len(r.spans))
	t.header = make([]string, len(r.spans))
	for i := range r.spans {
		h := string(r.Field(i))
		name := strings.ToLower(strings.TrimSpace(h))
		if name == "" {
			return t.fail(r.Line, "header column %d has no name (the first row must be a header)", i+1)
		}
		if seen[name] {
			return t.fail(r.Line, "header names column %q twice", h)
		}
		seen[name] = true
		t.header[i] = h
	}
	t.columns, t.headerDone = len(r.spans), true
	return nil
}

// encode appends the canonical form of the record in t.rec: its kept
// fields, comma-separated, quoted only where needed, and CRLF. A record
// that would open with U+FEFF has that field quoted: at the start of the
// file a reader would take it for a byte-order mark and drop it (a
// header whose first column was dropped, or a file with two BOMs).
func (t *Tokenizer) encode(dst, rec []byte) []byte {
	r := &t.rec
	n, start := 0, len(dst)
	for c, s := range r.spans {
		if t.keep != nil && !t.keep[c] {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if n == 1 && bytes.HasPrefix(r.Field(c), bom) {
			dst = appendQuoted(dst, r.Field(c))
			continue
		}
		if !r.quoted {
			// Without quotes a value is its bytes, and holds no quote,
			// CR or LF; only a comma (from another delimiter) needs quotes.
			v := r.raw[s.start:s.end]
			if t.comma != ',' && bytes.IndexByte(v, ',') >= 0 {
				dst = append(append(append(dst, '"'), v...), '"')
			} else {
				dst = append(dst, v...)
			}
			continue
		}
		dst = AppendField(dst, r.Field(c))
	}
	if n == 1 && len(dst) == start {
		dst = append(dst, '"', '"') // else a lone empty value is a blank line
	}
	return append(dst, '\r', '\n')
}

// AppendField appends v as one canonical CSV field: as it is, or quoted
// (with quotes doubled) when it holds a comma, a quote, CR or LF.
func AppendField(dst, v []byte) []byte {
	if !bytes.ContainsAny(v, ",\"\r\n") {
		return append(dst, v...)
	}
	return appendQuoted(dst, v)
}

// appendQuoted appends v in quotes, with its quotes doubled.
func appendQuoted(dst, v []byte) []byte {
	dst = append(dst, '"')
	for {
		k := bytes.IndexByte(v, '"')
		if k < 0 {
			break
		}
		dst = append(dst, v[:k+1]...)
		dst = append(dst, '"')
		v = v[k+1:]
	}
	dst = append(dst, v...)
	return append(dst, '"')
}

// Close tokenizes the last record if it has no line ending, flushes the
// output, and reports problems that only the end of input reveals: an
// empty file, an unterminated quote, an incomplete UTF-8 sequence or a
// short last record. It does not close the output.
func (t *Tokenizer) Close() error {
	if t.err != nil {
		return t.err
	}
	if len(t.u8carry) > 0 {
		return t.fail(t.line, "invalid UTF-8 at the end of the file")
	}
	if t.recLen > 0 {
		switch t.st {
		case quoted:
			return t.fail(t.recLine, "a quoted field is never closed")
		case sawCR:
			t.rec.spans = append(t.rec.spans, span{t.fstart, t.crAt})
			t.recEnd, t.eol = t.crAt, eolCRLF
		default:
			max := t.maxField()
			if err := t.endField(t.recLen, max); err != nil {
				return err
			}
			t.recEnd, t.eol = t.recLen, eolNone
		}
		t.recLen = 0
		_, keep, err := t.record(t.carry)
		if err != nil {
			return err
		}
		if keep {
			t.ob = t.encode(t.ob, t.carry)
		}
		t.carry = nil
	}
	if err := t.flushOut(); err != nil {
		t.err = err
		return err
	}
	if !t.headerDone {
		return t.fail(t.line, "empty file: a header row is required")
	}
	return nil
}
