package csvcheck

import (
	"bytes"
	"unicode/utf8"
)

// Counter is an io.Writer that counts the records of a CSV in the
// canonical dialect (or any comma-separated RFC 4180 CSV) and checks that
// it is text: UTF-8, no NUL bytes. It does not validate the rest (field
// counts, quoting, the header's names), so it is meant for a CSV whose
// content is known by other means, such as a SHA-256 compared with the
// one the sender recorded after a full validation: there it costs a
// fraction of a Checker. A line break inside a quoted field does not end
// a record; a last record without a line break counts.
type Counter struct {
	records int64
	lines   int64 // line breaks seen, for error messages
	inQuote bool
	open    bool // bytes since the last record's end
	carry   [utf8.UTFMax]byte
	ncarry  int // an incomplete UTF-8 sequence at the end of the last Write
	err     error
}

// Write counts the records in p. It returns len(p) and nil, or the first
// error (not UTF-8, a NUL byte).
func (c *Counter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.text(p); err != nil {
		c.err = err
		return 0, err
	}
	// Jump from quote to quote: the line breaks between two are counted
	// in bulk, as records outside quotes, as lines only inside.
	for q := p; len(q) > 0; {
		i := bytes.IndexByte(q, '"')
		if i < 0 {
			i = len(q)
		}
		n := int64(bytes.Count(q[:i], []byte{'\n'}))
		c.lines += n
		if !c.inQuote {
			c.records += n
		}
		if i == len(q) {
			break
		}
		// An escaped quote ("") toggles twice.
		c.inQuote = !c.inQuote
		q = q[i+1:]
	}
	c.open = c.inQuote || p[len(p)-1] != '\n'
	return len(p), nil
}

// text checks p for NUL bytes and UTF-8, keeping an incomplete sequence at
// its end for the next Write.
func (c *Counter) text(p []byte) error {
	if bytes.IndexByte(p, 0) >= 0 {
		return &Error{Line: c.lines + 1, Msg: "NUL byte: not a text file"}
	}
	if c.ncarry > 0 {
		// Complete the sequence the last Write ended in.
		var buf [2 * utf8.UTFMax]byte
		b := append(buf[:0], c.carry[:c.ncarry]...)
		b = append(b, p[:min(len(p), utf8.UTFMax-c.ncarry)]...)
		if !utf8.FullRune(b) {
			c.ncarry = copy(c.carry[:], b) // still incomplete: p is shorter
			return nil
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			return &Error{Line: c.lines + 1, Msg: "not UTF-8"}
		}
		p = p[size-c.ncarry:]
		c.ncarry = 0
	}
	// Keep an incomplete sequence at the end aside.
	cut := len(p)
	for i := len(p) - 1; i >= max(0, len(p)-utf8.UTFMax+1); i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return &Error{Line: c.lines + 1, Msg: "not UTF-8"}
	}
	c.ncarry = copy(c.carry[:], p[cut:])
	return nil
}

// Rows is the number of records counted so far, the header excluded.
func (c *Counter) Rows() int64 {
	n := c.records
	if c.open {
		n++
	}
	return max(n-1, 0)
}

// Close reports what only the end reveals: an incomplete UTF-8 sequence,
// an unterminated quote.
func (c *Counter) Close() error {
	switch {
	case c.err != nil:
		return c.err
	case c.ncarry > 0:
		c.err = &Error{Line: c.lines + 1, Msg: "the file ends inside a UTF-8 sequence"}
	case c.inQuote:
		c.err = &Error{Line: c.lines + 1, Msg: "the file ends inside a quoted field"}
	}
	return c.err
}
