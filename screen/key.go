package screen

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// KeyPart is one column of a suppression key, with an optional transform.
type KeyPart struct {
	Column    string // header name, matched case-insensitively
	Transform string // "", "initial", "digits" or "email"
}

// KeySpec is a suppression key: the parts are normalised one by one and
// joined, so "Smith, J, SW1A 1AA" and "SMITH; j; sw1a1aa" give the same key.
type KeySpec []KeyPart

// transforms are the known KeyPart transforms.
var transforms = map[string]bool{"": true, "initial": true, "digits": true, "email": true}

// ParseKeySpec parses parts such as "surname", "initial:first_name",
// "digits:phone" or "email:email".
func ParseKeySpec(parts []string) (KeySpec, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	k := make(KeySpec, 0, len(parts))
	seen := map[KeyPart]bool{}
	for _, p := range parts {
		t, col, ok := strings.Cut(p, ":")
		if !ok {
			t, col = "", p
		}
		t = strings.ToLower(strings.TrimSpace(t))
		col = headerName(col)
		if !transforms[t] {
			return nil, fmt.Errorf("key part %q: unknown transform %q (use initial, digits or email)", p, t)
		}
		if col == "" || strings.ContainsAny(col, ",\n\r") {
			return nil, fmt.Errorf("key part %q: bad column name", p)
		}
		kp := KeyPart{Column: col, Transform: t}
		if seen[kp] {
			return nil, fmt.Errorf("key part %q appears twice", p)
		}
		seen[kp] = true
		k = append(k, kp)
	}
	return k, nil
}

// String is the spec in the form ParseKeySpec reads, parts joined by commas.
func (k KeySpec) String() string {
	s := make([]string, len(k))
	for i, p := range k {
		if p.Transform != "" {
			s[i] = p.Transform + ":" + p.Column
		} else {
			s[i] = p.Column
		}
	}
	return strings.Join(s, ",")
}

// keySep separates key parts, so that ("ab", "c") and ("a", "bc") differ.
const keySep = 0x1f

// appendKeyPart appends the normalised form of v under transform t.
func appendKeyPart(dst, v []byte, t string) []byte {
	switch t {
	case "initial":
		start := len(dst)
		dst = appendText(dst, v)
		if len(dst) > start {
			_, size := utf8.DecodeRune(dst[start:])
			dst = dst[:start+size]
		}
		return dst
	case "digits":
		return appendDigits(dst, v)
	case "email":
		return appendEmail(dst, v)
	}
	return appendText(dst, v)
}

// appendText appends v folded for matching: compatibility-decomposed
// (NFKD), accents and other combining marks removed, lower case, and only
// letters and digits kept, so case, spacing, punctuation and accents never
// decide a match. ASCII takes a fast path.
func appendText(dst, v []byte) []byte {
	i := 0
	for ; i < len(v); i++ {
		c := v[i]
		if c >= utf8.RuneSelf {
			break
		}
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			dst = append(dst, c)
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		}
	}
	if i == len(v) {
		return dst
	}
	var buf [256]byte
	d := norm.NFKD.Append(buf[:0], v[i:]...)
	for len(d) > 0 {
		r, size := utf8.DecodeRune(d)
		d = d[size:]
		if r < utf8.RuneSelf {
			switch {
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
				dst = append(dst, byte(r))
			case 'A' <= r && r <= 'Z':
				dst = append(dst, byte(r)+'a'-'A')
			}
			continue
		}
		if s, ok := letterFolds[r]; ok {
			dst = append(dst, s...)
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
	}
	return dst
}

// letterFolds maps letters that NFKD leaves alone to the ASCII that people
// type for them, so "Łukasz", "Søren" and "Straße" match "Lukasz",
// "Soren" and "Strasse".
var letterFolds = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe",
	'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d",
	'ð': "d", 'Ð': "d", 'þ': "th", 'Þ': "th", 'ı': "i", 'ħ': "h", 'Ħ': "h",
}

// appendDigits keeps the ASCII digits only, after compatibility
// decomposition (so full-width digits count): for telephone numbers and
// numeric IDs.
func appendDigits(dst, v []byte) []byte {
	if hasNonASCII(v) {
		v = norm.NFKD.Bytes(v)
	}
	for _, c := range v {
		if '0' <= c && c <= '9' {
			dst = append(dst, c)
		}
	}
	return dst
}

// appendEmail trims, removes white space and lower-cases, but keeps
// punctuation: in an address "j.smith" and "jsmith" may be two people.
func appendEmail(dst, v []byte) []byte {
	if hasNonASCII(v) {
		v = norm.NFKC.Bytes(v)
	}
	for _, r := range string(v) {
		if unicode.IsSpace(r) {
			continue
		}
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			dst = append(dst, byte(r))
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

func hasNonASCII(v []byte) bool {
	for _, c := range v {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// headerName is how header names compare: trimmed, lower case, without a
// byte-order mark.
func headerName(s string) string {
	return strings.ToLower(strings.TrimSpace(strings.TrimPrefix(s, "\ufeff")))
}

// NormaliseKey returns the normalised key of the given part values (one per
// KeySpec part, in order), and false when every part is empty: such a row is
// never suppressed. It is what both plain and hashed lists match on.
func NormaliseKey(k KeySpec, values []string) ([]byte, bool) {
	var dst []byte
	empty := true
	for i, p := range k {
		if i > 0 {
			dst = append(dst, keySep)
		}
		n := len(dst)
		dst = appendKeyPart(dst, []byte(values[i]), p.Transform)
		empty = empty && len(dst) == n
	}
	return dst, !empty
}
