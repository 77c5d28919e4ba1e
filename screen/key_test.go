package screen

import (
	"bytes"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// spellingOf is the spelling form of one plain-text value.
func spellingOf(s string) string {
	var f folder
	k := KeySpec{{Column: "x"}}
	out, _ := spellingForm(nil, k, f.appendKeyPart(nil, []byte(s), ""))
	return string(out)
}

func TestSpellingForm(t *testing.T) {
	for _, c := range []struct {
		names []string // all must meet one another
		not   []string // none of these may meet names[0]
	}{
		{[]string{"Müller", "Mueller", "Muller", "MÜLLER", "MUELLER", "Mu-eller"}, []string{"Miller", "Möller", "Mühler"}},
		{[]string{"Schäfer", "Schaefer", "Schafer", "SCHAEFER"}, []string{"Schiefer"}},
		{[]string{"Jörg", "Joerg", "Jorg"}, []string{"Jürg", "Jerg"}},
		{[]string{"Strauß", "Strauss", "STRAUSS", "Strauẞ"}, []string{"Straus", "Strauch"}},
		{[]string{"Søren", "Soeren", "Soren", "Sören", "SØREN"}, []string{"Sören-Paul", "Saren"}},
		{[]string{"Åse", "Aase", "Ase", "AASE"}, []string{"Ose", "Åsa"}},
		{[]string{"Ærø", "Aeroe", "Aero", "Æro"}, []string{"Eero"}},
		{[]string{"Bræmer", "Braemer", "Bramer", "Brämer"}, []string{"Bremer"}},
		{[]string{"Kaae", "Kåe", "Kaa", "Kae", "Ka"}, nil}, // overlapping digraphs collapse whole
		{[]string{"Gößmann", "Goessmann", "Gossmann", "Goeßmann"}, []string{"Gosmann", "Gassmann"}},
		{[]string{"Andersson", "ANDERSSON"}, []string{"Anderson"}}, // ss stays ss
		{[]string{"Öztürk", "Oeztuerk", "Ozturk", "OEZTÜRK"}, []string{"Özturan"}},
		{[]string{"Smith"}, []string{"Smyth"}},
	} {
		want := spellingOf(c.names[0])
		for _, n := range c.names[1:] {
			if got := spellingOf(n); got != want {
				t.Errorf("%q → %q, but %q → %q", n, got, c.names[0], want)
			}
		}
		for _, n := range c.not {
			if got := spellingOf(n); got == want {
				t.Errorf("%q meets %q (%q)", n, c.names[0], got)
			}
		}
	}
}

// TestSpellingParts: the form applies to plain-text parts only, never
// across a part boundary, and never to digits or email parts.
func TestSpellingParts(t *testing.T) {
	k, _ := ParseKeySpec([]string{"surname", "initial:first_name", "digits:phone", "email:email", "town"})
	key := func(v ...string) []byte {
		b, _ := NormaliseKey(k, v)
		return b
	}
	spell := func(b []byte) []byte { out, _ := spellingForm(nil, k, b); return out }
	a := key("Mueller", "Aage", "0049 30 1234", "mueller@example.de", "Aachen")
	b := key("Müller", "Åge", "00 49 (30) 1234", "MUELLER@example.de", "Achen")
	if !bytes.Equal(spell(a), spell(b)) {
		t.Errorf("%q and %q should meet", a, b)
	}
	if !bytes.Equal(a[:bytes.IndexByte(a, keySep)+1], []byte("mueller\x1f")) {
		t.Errorf("the key itself changed: %q", a)
	}
	// An email keeps its spelling: two mailboxes stay two.
	c := key("Mueller", "Aage", "0049 30 1234", "muller@example.de", "Aachen")
	if bytes.Equal(spell(a), spell(c)) {
		t.Error("email parts meet through a spelling variant")
	}
	// A part ending in "a" and one starting with "e" do not run together.
	k2, _ := ParseKeySpec([]string{"a", "b"})
	x, _ := NormaliseKey(k2, []string{"Sa", "Eaton"})
	y, _ := NormaliseKey(k2, []string{"Sa", "Aton"})
	sx, _ := spellingForm(nil, k2, x)
	sy, _ := spellingForm(nil, k2, y)
	if string(sx) != "sa\x1featon" || bytes.Equal(sx, sy) {
		t.Errorf("%q → %q, %q → %q", x, sx, y, sy)
	}
	// A control character in an email is left out, so keySep never
	// appears inside a part.
	if e := key("", "", "", "a\x1fb@example.com", ""); bytes.Count(e, []byte{keySep}) != len(k)-1 {
		t.Errorf("%q", e)
	}
}

// spellings returns every spelling of name (up to limit) that the rule
// promises meet: each special letter written as each of its spellings.
func spellings(name string, limit int) []string {
	alts := map[rune][]string{
		'ä': {"ä", "ae", "a"}, 'ö': {"ö", "oe", "o"}, 'ü': {"ü", "ue", "u"}, 'ß': {"ß", "ss"},
		'ø': {"ø", "oe", "o"}, 'å': {"å", "aa", "a"}, 'æ': {"æ", "ae"},
	}
	out := []string{""}
	for _, r := range name {
		choices, ok := alts[r]
		if !ok {
			choices = []string{string(r)}
		}
		var next []string
		for _, o := range out {
			for _, c := range choices {
				if len(next) < limit {
					next = append(next, o+c)
				}
			}
		}
		out = next
	}
	return out
}

// TestSpellingProperty: for random names built from letters that include
// the special ones, every spelling the rule names has one form; the form
// is its own form; and a text part's form holds none of the pairs the rule
// folds.
func TestSpellingProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	letters := []rune("aeiousnrlkmäöüßøåæ")
	pairs := regexp.MustCompile(`aa|ae|oe|ue`)
	for range 2000 {
		var b strings.Builder
		for range 1 + r.IntN(12) {
			b.WriteRune(letters[r.IntN(len(letters))])
		}
		name := b.String()
		want := spellingOf(name)
		if spellingOf(want) != want {
			t.Fatalf("%q: form %q is not its own form", name, want)
		}
		if pairs.MatchString(want) {
			t.Fatalf("%q: form %q still holds a pair", name, want)
		}
		for _, v := range spellings(name, 512) {
			for _, w := range []string{v, strings.ToUpper(v)} {
				if got := spellingOf(w); got != want {
					t.Fatalf("%q: spelling %q has form %q, not %q", name, w, got, want)
				}
			}
		}
	}
}

// TestSpellingCoarser: reading any set of non-overlapping ASCII pairs of a
// name as the letters they may stand for keeps the form, so matching on the
// form suppresses at least every row that matching on variants would.
func TestSpellingCoarser(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pair := regexp.MustCompile(`aa|ae|oe|ue`)
	for range 5000 {
		var b strings.Builder
		for range 1 + r.IntN(16) {
			b.WriteByte("aeousx"[r.IntN(6)])
		}
		name := b.String()
		want := spellingOf(name)
		var v strings.Builder
		last := 0
		for _, m := range pair.FindAllStringIndex(name, -1) {
			v.WriteString(name[last:m[0]])
			if r.IntN(2) == 0 {
				v.WriteString(name[m[0] : m[0]+1]) // the pair read as one letter
			} else {
				v.WriteString(name[m[0]:m[1]])
			}
			last = m[1]
		}
		v.WriteString(name[last:])
		if got := spellingOf(v.String()); got != want {
			t.Fatalf("%q → %q, but its variant %q → %q", name, want, v.String(), got)
		}
	}
}

// TestSpellingLongName: a name of a thousand pairs has one form like any
// other (no variant set to grow), and its spellings meet it.
func TestSpellingLongName(t *testing.T) {
	long := strings.Repeat("Müller-Strauß-Åse-", 250)
	ascii := strings.Repeat("Mueller-Strauss-Aase-", 250)
	bare := strings.Repeat("Muller-Strauss-Ase-", 250)
	if a, b, c := spellingOf(long), spellingOf(ascii), spellingOf(bare); a != b || b != c {
		t.Fatalf("forms differ: %d, %d, %d bytes", len(a), len(b), len(c))
	}
}

// referenceSpelling is the spelling form in its plainest words: one pass,
// each byte compared with the last one kept in its part.
func referenceSpelling(spec KeySpec, key []byte) ([]byte, bool) {
	var dst []byte
	part, changed := 0, false
	var prev byte
	for _, c := range key {
		if c == keySep {
			part, prev = part+1, 0
			dst = append(dst, c)
			continue
		}
		if spec[part].Transform == "" && spellingDrops(prev, c) {
			changed = true
			continue
		}
		prev = c
		dst = append(dst, c)
	}
	return dst, changed
}

// TestSpellingFormReference: spellingForm, which copies nothing for a key
// without pairs, agrees with the plain one-pass form on random keys of
// mixed parts, whatever its buffer held, and never changes the key.
func TestSpellingFormReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	spec, _ := ParseKeySpec([]string{"a", "initial:b", "c", "email:d", "digits:e"})
	buf := []byte("left over from the last row")
	for range 20000 {
		v := make([]string, len(spec))
		for i := range v {
			var b strings.Builder
			for range r.IntN(8) {
				b.WriteByte("aeouAEx1 @"[r.IntN(10)])
			}
			v[i] = b.String()
		}
		key, _ := NormaliseKey(spec, v)
		orig := string(key)
		want, wc := referenceSpelling(spec, key)
		got, gc := spellingForm(buf, spec, key)
		if string(got) != string(want) || gc != wc || string(key) != orig {
			t.Fatalf("%q: %q %v, want %q %v", orig, got, gc, want, wc)
		}
		if gc {
			buf = got
		}
	}
}
