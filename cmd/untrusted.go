package cmd

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Object names, metadata values (sender, created, expires), receipts and
// manifests come from the bucket: whoever may write to it chose them. On
// a terminal such text could carry escape sequences (retitle the window,
// recolour or clear the screen), bidirectional overrides that make
// "acme‮vsc.exe" read as something else, or newlines that forge lines of
// xfer's own output. The two functions here are the one place that turns
// such text into something safe to show; NDJSON output needs neither
// (encoding/json escapes control characters and U+2028/U+2029).

// shown renders a string from the exchange for human output. Text made
// only of printable characters (unicode.IsPrint: letters, marks, numbers,
// punctuation, symbols and the ASCII space) is shown as it is; anything
// else is shown Go-quoted, with every control character (C0, DEL, C1),
// format character (bidi controls such as U+202E, zero-width characters),
// line or paragraph separator, other space, unassigned code point and
// invalid UTF-8 byte escaped (\x1b, \u202e, \xff), and so is text that
// starts with a double quote: a quoted name is always an escaped one, an
// unquoted name always literal.
func shown(s string) string {
	if isPrintable(s) && !strings.HasPrefix(s, `"`) {
		return s
	}
	return strconv.Quote(s)
}

// escapeLine makes one line of human output safe for a terminal and a log
// file, whatever its arguments held: every character shown would quote is
// escaped in place (a newline becomes \n), the rest is left alone. It is
// the guard at the places that print (results, warnings, errors, tables,
// --debug lines); shown, applied to the untrusted part, makes it readable.
func escapeLine(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\u202e', '\n'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// isPrintable reports text that is valid UTF-8 and printable throughout.
func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return false
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !unicode.IsPrint(r) {
			return false
		}
		i += n - 1
	}
	return true
}
