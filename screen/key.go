package screen

import (
	"fmt"
	"slices"
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

// folder normalises key text. It keeps the decomposition state, so that
// normalising allocates nothing; it is not safe for concurrent use.
type folder struct {
	it    norm.Iter
	spell []byte // a key's spelling form (see appendSpelling)
}

// appendKeyPart appends the normalised form of v under transform t.
func (f *folder) appendKeyPart(dst, v []byte, t string) []byte {
	switch t {
	case "initial":
		start := len(dst)
		dst = f.appendText(dst, v)
		if len(dst) > start {
			_, size := utf8.DecodeRune(dst[start:])
			dst = dst[:start+size]
		}
		return dst
	case "digits":
		return f.appendDigits(dst, v)
	case "email":
		return f.appendEmail(dst, v)
	}
	return f.appendText(dst, v)
}

// appendText appends v folded for matching: compatibility-decomposed
// (NFKD), accents and other combining marks removed, lower case, and only
// letters and digits kept, so case, spacing, punctuation and accents never
// decide a match. ASCII and Latin letters take a table-driven fast path.
func (f *folder) appendText(dst, v []byte) []byte {
	dst = slices.Grow(dst, len(v))
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c = asciiFold[c]; c != 0 {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r < latinEnd {
			dst = append(dst, latinFolds[r-utf8.RuneSelf]...)
			i += size
			continue
		}
		// Other scripts are rare in address data: decompose the rest
		// of the field with the full tables.
		return f.appendFolded(dst, v[i:])
	}
	return dst
}

// appendFolded is appendText's general path: NFKD, then marks dropped and
// letters and digits folded one by one. Decomposition maps each character
// on its own and only reorders combining marks, which are dropped, so
// folding rune by rune (as the Latin table does) gives the same result.
func (f *folder) appendFolded(dst, v []byte) []byte {
	f.it.Init(norm.NFKD, v)
	for !f.it.Done() {
		for d := f.it.Next(); len(d) > 0; {
			r, size := utf8.DecodeRune(d)
			d = d[size:]
			switch {
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
				dst = append(dst, byte(r))
			case 'A' <= r && r <= 'Z':
				dst = append(dst, byte(r)+'a'-'A')
			case r < utf8.RuneSelf:
			default:
				if s, ok := letterFolds[r]; ok {
					dst = append(dst, s...)
				} else if unicode.IsLetter(r) || unicode.IsDigit(r) {
					dst = utf8.AppendRune(dst, unicode.ToLower(r))
				}
			}
		}
	}
	return dst
}

// asciiFold maps ASCII letters and digits to their lower-case form and
// everything else to 0 (left out).
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = c, c
	}
	return t
}()

// latinEnd ends the runes whose folded form latinFolds holds: Latin-1
// Supplement and Latin Extended-A and -B, nearly every accented letter in
// UK address data, folded without decomposing at run time.
const latinEnd = 0x250

var latinFolds = func() (t [latinEnd - utf8.RuneSelf]string) {
	var f folder
	for r := rune(utf8.RuneSelf); r < latinEnd; r++ {
		t[r-utf8.RuneSelf] = string(f.appendFolded(nil, utf8.AppendRune(nil, r)))
	}
	return t
}()

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
func (f *folder) appendDigits(dst, v []byte) []byte {
	f.it.Init(norm.NFKD, v)
	for !f.it.Done() {
		for _, c := range f.it.Next() {
			if '0' <= c && c <= '9' {
				dst = append(dst, c)
			}
		}
	}
	return dst
}

// appendEmail trims, removes white space and control characters and
// lower-cases (after NFKC), but keeps punctuation: in an address "j.smith"
// and "jsmith" may be two people.
func (f *folder) appendEmail(dst, v []byte) []byte {
	f.it.Init(norm.NFKC, v)
	for !f.it.Done() {
		for d := f.it.Next(); len(d) > 0; {
			r, size := utf8.DecodeRune(d)
			d = d[size:]
			switch {
			case unicode.IsSpace(r), unicode.IsControl(r):
				// Control characters are never part of an address, and
				// leaving them out keeps keySep out of every part.
			case 'A' <= r && r <= 'Z':
				dst = append(dst, byte(r)+'a'-'A')
			case r < utf8.RuneSelf:
				dst = append(dst, byte(r))
			default:
				dst = utf8.AppendRune(dst, unicode.ToLower(r))
			}
		}
	}
	return dst
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
	var f folder
	empty := true
	for i, p := range k {
		if i > 0 {
			dst = append(dst, keySep)
		}
		n := len(dst)
		dst = f.appendKeyPart(dst, []byte(values[i]), p.Transform)
		empty = empty && len(dst) == n
	}
	return dst, !empty
}

// Spelling variants. One name has several common spellings: Müller,
// Mueller and Muller; Søren, Soeren and Soren; Åse, Aase and Ase. Folding
// already writes ü, ö, ä, å, ø as u, o, a, a, o and ß, æ as ss, ae (so
// Straße meets Strasse, Bræmer Braemer); left are the ASCII digraphs that
// stand for the letters folding shortens. The spelling form of a key
// applies, until none applies,
//
//	aa → a   ae → a   oe → o   ue → u
//
// in every plain-text part (initials have one letter; digits and email
// parts are not names). Each rule drops the second letter of its pair, so
// the form is unique whatever the order, and one left-to-right pass that
// compares each letter with the last one kept computes it. Every spelling
// variant of a name (each ü ö ä ø å æ ß written as its digraph or as the
// bare letter, each ASCII digraph read as the letter it may stand for) has
// the same spelling form, so two keys meet when their spelling forms are
// equal: one lookup, however many digraphs a name has. Matching on the
// form is coarser than "some variant of one is some variant of the other"
// (runs such as "aae" or "uee" collapse whole), which errs on suppressing.

// spellingDrops reports whether letter c, following the kept letter prev,
// is left out of the spelling form.
func spellingDrops(prev, c byte) bool {
	switch prev {
	case 'a':
		return c == 'a' || c == 'e'
	case 'o', 'u':
		return c == 'e'
	}
	return false
}

// spellingForm returns the spelling form of key, a normalised key made
// under spec (as NormaliseKey makes it), and whether it differs from key:
// key itself when no pair is found (the common case, which copies
// nothing), else the form written over buf[:0]. Parts are split at keySep,
// which no normalised part holds.
func spellingForm(buf []byte, spec KeySpec, key []byte) ([]byte, bool) {
	part, text := 0, isText(spec, 0)
	for i, c := range key {
		switch {
		case c == keySep:
			part++
			text = isText(spec, part)
		case text && i > 0 && (c == 'a' || c == 'e') && spellingDrops(key[i-1], c):
			return appendSpellingFrom(buf[:0], spec, key, i, part), true
		}
	}
	return key, false
}

// isText reports whether part i of keys under spec is plain text, where
// spellings meet.
func isText(spec KeySpec, i int) bool { return i < len(spec) && spec[i].Transform == "" }

// appendSpellingFrom appends the spelling form of key, whose first letter
// left out is key[i], in part number part.
func appendSpellingFrom(dst []byte, spec KeySpec, key []byte, i, part int) []byte {
	dst = append(dst, key[:i]...)
	prev, text := key[i-1], true
	for _, c := range key[i+1:] {
		switch {
		case c == keySep:
			part++
			prev, text = 0, isText(spec, part)
		case text && spellingDrops(prev, c):
			continue
		default:
			prev = c
		}
		dst = append(dst, c)
	}
	return dst
}
