// Package csvcheck validates address CSV as it streams past, before anything
// is sealed: UTF-8 text, RFC 4180 quoting, a header row of distinct names, and
// the same number of fields in every record.
//
// A Checker never buffers records and never alters the bytes it sees; it only
// reads them, so the sealed file is byte-identical to the input. Its errors
// carry line numbers and never the contents of the file, which is personal data.
package csvcheck

import (
	"bytes"
	"errors"
	"fmt"
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
// a Checker keeps (to check its names), so without limits a hostile first
// line could hold millions of names in memory.
const MaxColumns = 1 << 14

// Error is a validation error at a line of the input (1-based, counting
// physical lines, so that it matches what an editor shows).
type Error struct {
	Line int64
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

type state uint8

const (
	fieldStart state = iota // at the start of a field
	unquoted                // inside an unquoted field
	quoted                  // inside a quoted field
	quoteSeen               // a quote inside a quoted field: escaped quote or field end
	sawCR                   // a carriage return outside quotes, expecting LF
)

// special marks the bytes the state machine must look at; runs of other
// bytes are skipped in a tight loop.
var special = func() (t [256]bool) {
	for _, c := range []byte{',', '"', '\n', '\r'} {
		t[c] = true
	}
	return
}()

// Checker is an io.Writer that validates the CSV written to it. Write
// returns the first error found; Close reports end-of-input problems.
type Checker struct {
	// MaxField limits a field's size in bytes; 0 means DefaultMaxField.
	MaxField int

	st          state
	line        int64 // current physical line, 1-based
	recordLine  int64 // line the current record started on
	fields      int   // fields completed in the current record
	fieldLen    int
	recordBytes int // bytes in the current record, to tell blank lines
	columns     int // fields in the header; 0 until the header is complete
	rows        int64
	offset      int64
	header      []string // header names, kept only until the header is checked
	headerField []byte
	headerBytes int    // names in header so far, in bytes
	carry       []byte // an incomplete UTF-8 sequence from the last Write
	err         error
}

// New returns a Checker for one CSV stream.
func New() *Checker { return &Checker{line: 1, recordLine: 1} }

// Rows is the number of data records seen so far (the header excluded).
func (c *Checker) Rows() int64 { return c.rows }

// Columns is the number of fields in the header.
func (c *Checker) Columns() int { return c.columns }

func (c *Checker) fail(line int64, format string, args ...any) error {
	c.err = &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
	return c.err
}

// Write validates p. It returns len(p) and nil, or the first error.
func (c *Checker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.offset == 0 {
		p = c.skipBOM(p)
	}
	n := len(p)
	if err := c.checkText(p); err != nil {
		return 0, err
	}
	if err := c.scan(p); err != nil {
		return 0, err
	}
	c.offset += int64(n)
	return n, nil
}

// skipBOM drops a leading UTF-8 byte-order mark from what is scanned (it
// stays in the data). A BOM split over two writes is not recognised: writers
// never split the first three bytes in practice.
func (c *Checker) skipBOM(p []byte) []byte {
	if bytes.HasPrefix(p, []byte("\xef\xbb\xbf")) {
		c.offset += 3
		return p[3:]
	}
	return p
}

func (c *Checker) maxField() int {
	if c.MaxField > 0 {
		return c.MaxField
	}
	return DefaultMaxField
}

// checkText rejects NUL bytes and invalid UTF-8, carrying an incomplete
// multi-byte sequence over to the next Write.
func (c *Checker) checkText(p []byte) error {
	if i := bytes.IndexByte(p, 0); i >= 0 {
		return c.fail(c.line+int64(bytes.Count(p[:i], []byte{'\n'})), "NUL byte: this is not a text file")
	}
	if len(c.carry) > 0 {
		k := min(utf8.UTFMax-len(c.carry), len(p))
		joined := append(c.carry, p[:k]...)
		if !utf8.FullRune(joined) {
			c.carry = joined
			return nil
		}
		r, size := utf8.DecodeRune(joined)
		if r == utf8.RuneError && size <= 1 {
			return c.fail(c.line, "invalid UTF-8 (convert the file to UTF-8 first)")
		}
		p = p[size-len(c.carry):]
		c.carry = c.carry[:0]
	}
	if utf8.Valid(p) {
		return nil
	}
	// Find the first bad spot; an incomplete sequence at the very end is fine.
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(p[i:]) {
				c.carry = append(c.carry[:0], p[i:]...)
				return nil
			}
			return c.fail(c.line+int64(bytes.Count(p[:i], []byte{'\n'})), "invalid UTF-8 (convert the file to UTF-8 first)")
		}
		i += size
	}
	return nil
}

func (c *Checker) scan(p []byte) error {
	max := c.maxField()
	for i := 0; i < len(p); {
		if c.st == unquoted || c.st == quoted {
			j := i
			for j < len(p) && !special[p[j]] {
				j++
			}
			if c.columns == 0 {
				c.headerField = append(c.headerField, p[i:j]...)
			}
			c.fieldLen += j - i
			c.recordBytes += j - i
			if c.fieldLen > max {
				return c.fail(c.line, "field longer than %d bytes", max)
			}
			i = j
			if i == len(p) {
				break
			}
		}
		b := p[i]
		i++
		c.recordBytes++
		switch c.st {
		case fieldStart:
			switch b {
			case '"':
				c.st = quoted
			case ',':
				if err := c.endField(); err != nil {
					return err
				}
			case '\n':
				if err := c.endRecord(); err != nil {
					return err
				}
			case '\r':
				c.st = sawCR
			default:
				c.st = unquoted
				c.fieldLen = 1
				if c.columns == 0 {
					c.headerField = append(c.headerField, b)
				}
			}
		case unquoted:
			switch b {
			case '"':
				return c.fail(c.line, `a quote inside an unquoted field (quote the whole field and double the quote: "")`)
			case ',':
				if err := c.endField(); err != nil {
					return err
				}
				c.st = fieldStart
			case '\n':
				if err := c.endRecord(); err != nil {
					return err
				}
				c.st = fieldStart
			case '\r':
				c.st = sawCR
			}
		case quoted:
			switch b {
			case '"':
				c.st = quoteSeen
			default: // ',', '\r' or '\n' inside quotes are data
				if b == '\n' {
					c.line++
				}
				c.fieldLen++
				if c.columns == 0 {
					c.headerField = append(c.headerField, b)
				}
			}
		case quoteSeen:
			switch b {
			case '"':
				c.st = quoted
				c.fieldLen++
				if c.columns == 0 {
					c.headerField = append(c.headerField, b)
				}
			case ',':
				if err := c.endField(); err != nil {
					return err
				}
				c.st = fieldStart
			case '\n':
				if err := c.endRecord(); err != nil {
					return err
				}
				c.st = fieldStart
			case '\r':
				c.st = sawCR
			default:
				return c.fail(c.line, "unexpected character after a closing quote")
			}
		case sawCR:
			if b != '\n' {
				return c.fail(c.line, "carriage return without a line feed (convert old Mac line endings first)")
			}
			if err := c.endRecord(); err != nil {
				return err
			}
			c.st = fieldStart
		}
	}
	return nil
}

func (c *Checker) endField() error {
	c.fields++
	if c.columns == 0 {
		if len(c.header) == MaxColumns {
			return c.fail(c.recordLine, "header row has more than %d columns", MaxColumns)
		}
		if c.headerBytes += len(c.headerField); c.headerBytes > c.maxField() {
			return c.fail(c.recordLine, "header row longer than %d bytes", c.maxField())
		}
		c.header = append(c.header, string(c.headerField))
		c.headerField = c.headerField[:0]
	}
	c.fieldLen = 0
	return nil
}

// endRecord is called at a record-ending newline, which it counts.
func (c *Checker) endRecord() error {
	defer func() {
		c.line++
		c.recordLine = c.line
		c.fields, c.fieldLen, c.recordBytes = 0, 0, 0
	}()
	if c.fields == 0 && c.fieldLen == 0 && c.recordBytes <= 2 && c.st != quoteSeen {
		return nil // a blank line; like encoding/csv, skip it
	}
	if err := c.endField(); err != nil {
		return err
	}
	if c.columns == 0 {
		return c.endHeader()
	}
	if c.fields != c.columns {
		return c.fail(c.recordLine, "%d fields, but the header has %d", c.fields, c.columns)
	}
	c.rows++
	return nil
}

func (c *Checker) endHeader() error {
	seen := make(map[string]bool, len(c.header))
	for i, h := range c.header {
		name := strings.ToLower(strings.TrimSpace(h))
		if name == "" {
			return c.fail(c.recordLine, "header column %d has no name (the first row must be a header)", i+1)
		}
		if seen[name] {
			return c.fail(c.recordLine, "header names column %q twice", h)
		}
		seen[name] = true
	}
	c.columns = len(c.header)
	c.header, c.headerField = nil, nil
	return nil
}

// Close reports problems that only the end of input reveals: an empty file,
// an unterminated quote, an incomplete UTF-8 sequence or a short last record.
func (c *Checker) Close() error {
	if c.err != nil {
		return c.err
	}
	if len(c.carry) > 0 {
		return c.fail(c.line, "invalid UTF-8 at the end of the file")
	}
	switch c.st {
	case quoted:
		return c.fail(c.recordLine, "a quoted field is never closed")
	case sawCR:
		c.st = fieldStart
		if err := c.endRecord(); err != nil {
			return err
		}
	default:
		if c.fields > 0 || c.fieldLen > 0 || c.st == quoteSeen {
			if err := c.endRecord(); err != nil {
				return err
			}
		}
	}
	if c.columns == 0 {
		return c.fail(c.line, "empty file: a header row is required")
	}
	return nil
}
