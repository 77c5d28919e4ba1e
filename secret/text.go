package secret

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrEncoding is wrapped when a text file's bytes cannot be decoded: UTF-16
// of odd length or with a broken surrogate pair.
var ErrEncoding = errors.New("not readable as text")

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// ErrEmpty is returned by Parse for a file that holds no secret: empty, or
// only a line end. It is a setup mistake rather than a weak secret, so it
// does not match ErrPolicy.
var ErrEmpty = errors.New("no secret in the file")

// DecodeText returns a text file's content as UTF-8 without a byte order
// mark and with LF line ends: a UTF-8 BOM is dropped, UTF-16LE or UTF-16BE
// with a BOM (what PowerShell 5's > and Notepad's "Unicode" write) is
// decoded, and each CRLF becomes LF. A lone CR is left alone (a password
// check refuses it). Text without a BOM is taken as UTF-8 and returned
// unchanged apart from line ends; whether it is valid UTF-8 is the caller's
// question.
func DecodeText(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, bomUTF8):
		b = b[len(bomUTF8):]
	case bytes.HasPrefix(b, bomUTF16LE):
		u, err := decodeUTF16(b[2:], false)
		if err != nil {
			return nil, err
		}
		b = u
	case bytes.HasPrefix(b, bomUTF16BE):
		u, err := decodeUTF16(b[2:], true)
		if err != nil {
			return nil, err
		}
		b = u
	}
	if bytes.Contains(b, []byte("\r\n")) {
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	}
	return b, nil
}

func decodeUTF16(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("%w: UTF-16 with an odd number of bytes", ErrEncoding)
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		if bigEndian {
			units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			units[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	out := make([]byte, 0, len(units))
	for i := 0; i < len(units); i++ {
		r := rune(units[i])
		if utf16.IsSurrogate(r) {
			if i+1 >= len(units) {
				return nil, fmt.Errorf("%w: UTF-16 ends inside a surrogate pair", ErrEncoding)
			}
			r = utf16.DecodeRune(r, rune(units[i+1]))
			if r == utf8.RuneError {
				return nil, fmt.Errorf("%w: UTF-16 with a broken surrogate pair", ErrEncoding)
			}
			i++
		}
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}

// Parse returns the secret held by the content of a zip password or
// passphrase file, or by an environment variable: the decoded text (see
// DecodeText) without one trailing line end, the age convention. The
// result must be one line of visible characters (see CheckShape), and
// not empty (ErrEmpty); what
// names the secret in the error ("zip password", "passphrase").
func Parse(what string, content []byte) ([]byte, error) {
	b, err := DecodeText(content)
	if err != nil {
		return nil, &PolicyError{What: what, Why: "the file is " + err.Error()}
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil, ErrEmpty
	}
	if err := CheckShape(what, b); err != nil {
		return nil, err
	}
	return b, nil
}

// CheckShape checks that a secret is what a person can type into 7-Zip or
// a prompt: not empty, valid UTF-8, one line, no control or invisible
// formatting characters, and no space at either end (which nobody sees
// and few type). The error says which rule failed, never where or what.
func CheckShape(what string, pw []byte) error {
	fail := func(why string) error { return &PolicyError{What: what, Why: why} }
	switch {
	case len(pw) == 0:
		return fail("it is empty")
	case !utf8.Valid(pw):
		return fail("it is not UTF-8 text (save the file as UTF-8 or Unicode)")
	case bytes.IndexByte(pw, '\n') >= 0:
		return fail("it holds more than one line (the secret is the whole file, less one line end)")
	}
	s := string(pw)
	for _, r := range s {
		switch {
		case r == '\r':
			return fail("it holds a carriage return (CR) that is not part of a line end")
		case r == '\t':
			return fail("it holds a tab")
		case unicode.IsControl(r):
			return fail("it holds a control character")
		case unicode.Is(unicode.Cf, r):
			// U+FEFF inside the text, zero-width spaces and joiners,
			// direction marks: invisible, so nobody types them.
			return fail("it holds an invisible formatting character (such as a byte order mark or a zero-width space)")
		}
	}
	if strings.TrimFunc(s, unicode.IsSpace) != s {
		return fail("it begins or ends with a space")
	}
	return nil
}
