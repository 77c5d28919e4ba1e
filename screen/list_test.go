package screen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func plainList(t testing.TB, content string, key ...string) *List {
	t.Helper()
	k, err := ParseKeySpec(key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadList(strings.NewReader(content), "list.csv", k)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func hashedList(t testing.TB, content string, key ...string) (*List, []byte) {
	t.Helper()
	k, err := ParseKeySpec(key)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := HashList(&b, strings.NewReader(content), "list.csv", k); err != nil {
		t.Fatal(err)
	}
	l, err := ReadList(bytes.NewReader(b.Bytes()), "list.hashed", nil)
	if err != nil {
		t.Fatal(err)
	}
	return l, b.Bytes()
}

func TestNormalise(t *testing.T) {
	for _, c := range []struct {
		transform string
		a, b      string
		same      bool
	}{
		{"", "O'Brien", "obrien", true},
		{"", "  Smith-Jones ", "SMITH JONES", true},
		{"", "Ó Súilleabháin", "o suilleabhain", true},
		{"", "Müller", "Muller", true},
		{"", "Łukasz", "Lukasz", true},
		{"", "Søren", "Soren", true},
		{"", "Straße", "STRASSE", true},
		{"", "ﬁeld", "field", true},  // NFKD: the ligature is two letters
		{"", "Ｓｍｉｔｈ", "smith", true}, // full-width
		{"", "SW1A 1AA", "sw1a1aa", true},
		{"", "Smith", "Smyth", false},
		{"initial", "John", "j.", true},
		{"initial", "Élodie", "e", true},
		{"initial", "John", "Kate", false},
		{"digits", "+44 (0)20 7946-0000", "44020 79460000", true},
		{"email", " J.Smith@Example.COM ", "j.smith@example.com", true},
		{"email", "j.smith@example.com", "jsmith@example.com", false},
	} {
		var f folder
		a := string(f.appendKeyPart(nil, []byte(c.a), c.transform))
		b := string(f.appendKeyPart(nil, []byte(c.b), c.transform))
		if (a == b) != c.same {
			t.Errorf("%s: %q → %q, %q → %q", c.transform, c.a, a, c.b, b)
		}
	}
	if _, ok := NormaliseKey(KeySpec{{Column: "a"}, {Column: "b", Transform: "initial"}}, []string{" ", "--"}); ok {
		t.Error("an all-empty key is a key")
	}
	k1, _ := NormaliseKey(KeySpec{{Column: "a"}, {Column: "b"}}, []string{"ab", "c"})
	k2, _ := NormaliseKey(KeySpec{{Column: "a"}, {Column: "b"}}, []string{"a", "bc"})
	if bytes.Equal(k1, k2) {
		t.Error("key parts run together")
	}
}

// TestFoldFastPath: the ASCII and Latin table paths of appendText agree
// with full NFKD folding, for single runes and for runs of mixed text.
func TestFoldFastPath(t *testing.T) {
	var f folder
	for r := rune(0); r < 0x3000; r++ {
		in := []byte("x" + string(r) + "\u0301y")
		if got, want := f.appendText(nil, in), f.appendFolded(nil, in); !bytes.Equal(got, want) {
			t.Fatalf("%U: %q, want %q", r, got, want)
		}
	}
	for _, s := range []string{"Nguyễn Ó Súilleabháin", "Ǆemal", "ﬀ Ⅻ ¼", "Gwenllïan Øster"} {
		if got, want := f.appendText(nil, []byte(s)), f.appendFolded(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}

func TestParseKeySpec(t *testing.T) {
	k, err := ParseKeySpec([]string{" Surname", "initial:First_Name", "postcode"})
	if err != nil || k.String() != "surname,initial:first_name,postcode" {
		t.Fatalf("%v %v", k, err)
	}
	for _, bad := range [][]string{{"soundex:surname"}, {""}, {"a", "A"}, {"initial:"}} {
		if _, err := ParseKeySpec(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestValidPostcode(t *testing.T) {
	for _, pc := range []string{"SW1A 1AA", "sw1a1aa", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "W1A 0AX",
		"EC1A 1BB", "GIR 0AA", "BFPO 1", "bfpo 1234", " EH10 3RD "} {
		if !ValidPostcode([]byte(pc)) {
			t.Errorf("%q refused", pc)
		}
	}
	for _, pc := range []string{"", "SW1A", "SW1A 1A", "1W1A 1AA", "QW1A 1AA", "SW1A 1AC", "SW1A 1IA",
		"AB1 1ZZZ", "BFPO", "BFPO 0", "BFPO 12345", "NOT A PC", "SW1A\x001AA", "M1 1ÄE", "AI1 1AA"} {
		if ValidPostcode([]byte(pc)) {
			t.Errorf("%q accepted", pc)
		}
	}
}

const people = "surname,first_name,postcode,email\n" +
	"O'Brien,Seán,SW1A 1AA,sean@example.com\n" +
	"Smith,John,M1 1AE,john@example.com\n" +
	"Müller,Anna,EH10 3RD,anna@example.com\n" +
	",,,\n"

const peopleRows = "id,Surname,First_Name,Postcode\n" +
	"1,OBRIEN,S.,sw1a1aa\n" + // matches entry 1
	"2,Smith,Jane,M1 1AE\n" + // matches entry 2 (same initial)
	"3,Smith,Kate,M1 1AE\n" + // no match
	"4,MULLER,anna,EH103RD\n" + // matches entry 3
	"5,,,\n" // empty key: never suppressed

func TestListsPlainAndHashedAgree(t *testing.T) {
	key := []string{"surname", "initial:first_name", "postcode"}
	plain := plainList(t, people, key...)
	hashed, file := hashedList(t, people, key...)
	if plain.Stats().Empty != 1 || hashed.Stats().Entries != 3 || !hashed.Stats().Hashed {
		t.Fatalf("stats %+v %+v", plain.Stats(), hashed.Stats())
	}
	if bytes.Contains(file, []byte("Brien")) || bytes.Contains(file, []byte("obrien")) {
		t.Fatal("hashed list holds an entry in clear")
	}
	var outs [2][]byte
	for i, l := range []*List{plain, hashed} {
		for _, c := range chunks {
			out, rep, err := run(t, Rules{Lists: []*List{l}}, []byte(peopleRows), c)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Suppressed[l.Name] != 3 || rep.SuppressedRows != 3 || rep.RowsIn != 5 || rep.RowsOut != 2 {
				t.Fatalf("%s: %+v", l.Name, rep)
			}
			outs[i] = out
		}
	}
	if want := "id,Surname,First_Name,Postcode\r\n3,Smith,Kate,M1 1AE\r\n5,,,\r\n"; string(outs[0]) != want || string(outs[1]) != want {
		t.Fatalf("outputs %q, %q", outs[0], outs[1])
	}
	// A row on two lists counts on both, and is removed once.
	_, rep, _ := run(t, Rules{Lists: []*List{plain, hashed}}, []byte(peopleRows), 0)
	if rep.SuppressedRows != 3 || rep.Suppressed["list.csv"] != 3 || rep.Suppressed["list.hashed"] != 3 {
		t.Fatalf("%+v", rep)
	}
}

func TestHashedListChecks(t *testing.T) {
	_, file := hashedList(t, people, "email")
	k, _ := ParseKeySpec([]string{"surname"})
	if _, err := ReadList(bytes.NewReader(file), "h", k); err == nil || !strings.Contains(err.Error(), "hashed with key email") {
		t.Fatalf("key mismatch: %v", err)
	}
	lines := strings.SplitAfter(string(file), "\n")
	for name, bad := range map[string]string{
		"truncated": strings.Join(lines[:len(lines)-2], ""),
		"reordered": lines[0] + lines[2] + lines[1] + lines[3],
		"repeated":  lines[0] + lines[1] + lines[1] + lines[3],
		"not hex":   lines[0] + strings.Repeat("g", 32) + "\n" + lines[2] + lines[3],
		"bad salt":  strings.Replace(file2str(file), "salt=", "salt=00", 1),
		"version":   strings.Replace(file2str(file), " v2 ", " v9 ", 1),
	} {
		if _, err := ReadList(strings.NewReader(bad), "h", nil); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "example") {
			t.Errorf("%s: error shows an entry: %v", name, err)
		}
	}
	if _, err := HashList(&bytes.Buffer{}, bytes.NewReader(file), "h", KeySpec{{Column: "email"}}); err == nil {
		t.Error("hashing a hashed list")
	}
	if _, err := ReadList(strings.NewReader(people), "p", nil); err == nil {
		t.Error("a plain list without a key")
	}
	if _, err := ReadList(strings.NewReader(people), "p", KeySpec{{Column: "phone"}}); err == nil || !strings.Contains(err.Error(), `no column "phone"`) {
		t.Errorf("a missing key column: %v", err)
	}
}

func file2str(b []byte) string { return string(b) }

func TestHashSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 100, 100_000} {
		hs := make([]h128, n)
		for i := range hs {
			hs[i] = h128{r.Uint64(), r.Uint64()}
		}
		all := append([]h128(nil), hs...)
		sorted, _, dups := sortKeys(hs, nil)
		set := setOf(sorted, nil)
		if dups != 0 || set.len() != n {
			t.Fatalf("n=%d: len %d dups %d", n, set.len(), dups)
		}
		for _, h := range all {
			if found, mark := set.lookup(h); !found || !mark {
				t.Fatalf("n=%d: %x missing", n, h)
			}
		}
		for range 1000 {
			if found, _ := set.lookup(h128{r.Uint64(), r.Uint64()}); found {
				t.Fatalf("n=%d: a random hash is in the set", n)
			}
		}
	}
}

// TestListMemory holds a million entries to under 10 MiB (the docs say about
// 9 bytes an entry).
func TestListMemory(t *testing.T) {
	var b strings.Builder
	b.WriteString("id\n")
	for i := range 1_000_000 {
		fmt.Fprintf(&b, "C%d\n", i)
	}
	l := plainList(t, b.String(), "id")
	if l.Stats().Entries != 1_000_000 {
		t.Fatal(l.Stats())
	}
	if m := l.MemoryBytes(); m > 10<<20 {
		t.Fatalf("%d bytes for a million entries", m)
	}
	t.Logf("%.2f MiB per million entries", float64(l.MemoryBytes())/(1<<20))
}

// The case and its kin: each row is one person, spelt as one
// system or another holds them.
const spelledRows = "id,surname,first_name,postcode\n" +
	"1,Müller,Hans,10115\n" +
	"2,Mueller,Hans,10115\n" +
	"3,Muller,Hans,10115\n" +
	"4,Müller,Grete,10115\n" + // another initial: kept
	"5,Müller,Hans,10117\n" + // another postcode: kept
	"6,Strauß,Jörg,80331\n" +
	"7,STRAUSS,joerg,80331\n" +
	"8,Søndergaard,Åse,2100\n" +
	"9,Soendergaard,Aase,2100\n" +
	"10,Sondergaard,Ase,2100\n" +
	"11,Bræmer,Ægir,0150\n" +
	"12,Braemer,Aegir,0150\n" +
	"13,Schmidt,Hans,10115\n" // no spelling of anyone listed: kept

// spelledKept is what every list of the same five people keeps.
// spelledKept is in the canonical form the screen writes (CRLF).
const spelledKept = "id,surname,first_name,postcode\r\n4,Müller,Grete,10115\r\n5,Müller,Hans,10117\r\n13,Schmidt,Hans,10115\r\n"

// TestSuppressSpelledBothWays: a list in ASCII suppresses the rows written
// with umlauts and the reverse, and bare letters meet both, for plain and
// hashed lists; suppressed_by_variant counts the rows the list held only
// under another spelling.
func TestSuppressSpelledBothWays(t *testing.T) {
	key := []string{"surname", "initial:first_name", "postcode"}
	for _, c := range []struct {
		name, list string
		variant    int64 // rows matched only through another spelling
	}{
		// Folding alone makes Müller Muller, Strauß Strauss, Bræmer
		// Braemer; the variant rows are those it left apart: 1, 3, 8, 10.
		{"ascii list", "surname,first_name,postcode\nMueller,Hans,10115\nStrauss,Joerg,80331\nSoendergaard,Aase,2100\nBraemer,Aegir,0150\n", 4},
		// rows 2 and 9
		{"umlaut list", "surname,first_name,postcode\nMüller,Hans,10115\nStrauß,Jörg,80331\nSøndergaard,Åse,2100\nBræmer,Ægir,0150\n", 2},
		// rows 2, 9, 11, 12 (ß is ss, never s: Strauss is the bare form)
		{"bare list", "surname,first_name,postcode\nMuller,H,10115\nStrauss,J,80331\nSondergaard,A,2100\nBramer,A,0150\n", 4},
	} {
		plain := plainList(t, c.list, key...)
		hashed, _ := hashedList(t, c.list, key...)
		for _, l := range []*List{plain, hashed} {
			for _, chunk := range []int{1, 0} {
				out, rep, err := run(t, Rules{Lists: []*List{l}}, []byte(spelledRows), chunk)
				if err != nil {
					t.Fatal(err)
				}
				if string(out) != spelledKept {
					t.Errorf("%s, %s: kept %q", c.name, l.Name, out)
				}
				if rep.SuppressedRows != 10 || rep.Suppressed[l.Name] != 10 || rep.SuppressedByVariant != c.variant {
					t.Errorf("%s, %s: %d suppressed, %d through a variant; want 10, %d", c.name, l.Name, rep.SuppressedRows, rep.SuppressedByVariant, c.variant)
				}
			}
		}
	}
	// A row that one list holds under its own key and another only through
	// a variant is not counted as a variant match: alone, the ASCII list
	// holds rows 1 and 3 only through a variant, the other row 2.
	ascii := plainList(t, "surname,first_name,postcode\nMueller,Hans,10115\n", key...)
	umlaut, _ := hashedList(t, "surname,first_name,postcode\nMüller,Hans,10115\n", key...)
	_, rep, err := run(t, Rules{Lists: []*List{ascii, umlaut}}, []byte(spelledRows), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SuppressedRows != 3 || rep.SuppressedByVariant != 0 || rep.Suppressed["list.csv"] != 3 || rep.Suppressed["list.hashed"] != 3 {
		t.Errorf("two lists: %+v", rep)
	}
}

// TestHashedListSpellings: the hashed file holds the entries' keys, then
// the spelling forms that are no entry's key; a list made before spelling
// forms existed is refused, not matched narrower.
func TestHashedListSpellings(t *testing.T) {
	l, file := hashedList(t, "surname,postcode\nMueller,1\nMuller,1\nSmith,2\nSchaefer,3\n", "surname", "postcode")
	// mueller and schaefer have forms of their own; muller is also an entry
	if st := l.Stats(); st.Entries != 4 || st.Variants != 1 {
		t.Errorf("stats %+v", st)
	}
	lines := strings.Split(strings.TrimSuffix(string(file), "\n"), "\n")
	if !strings.Contains(lines[0], " entries=4 variants=1 ") || len(lines) != 6 {
		t.Errorf("%d lines, header %q", len(lines), lines[0])
	}
	v1 := strings.Replace(strings.Replace(lines[0], " v2 ", " v1 ", 1), " variants=1", "", 1) + "\n" + strings.Join(lines[1:5], "\n") + "\n"
	if _, err := ReadList(strings.NewReader(v1), "old.hashed", nil); err == nil || !strings.Contains(err.Error(), "hash the plain list again") {
		t.Errorf("a v1 list: %v", err)
	}
	// The variant block is checked like the entries.
	for name, bad := range map[string]string{
		"variant missing": strings.Join(lines[:5], "\n") + "\n",
		"one too many":    string(file) + lines[5] + "\n",
		"no count":        strings.Replace(string(file), " variants=1", "", 1),
	} {
		if _, err := ReadList(strings.NewReader(bad), "h", nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestHashSetMarks: a set of entries' keys (marked) and other spelling
// forms tells each apart, and a hash in both counts as a key.
func TestHashSetMarks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 9, 10_000} {
		hs, vs := make([]h128, n), make([]h128, n/3)
		for i := range hs {
			hs[i] = h128{r.Uint64(), r.Uint64()}
		}
		for i := range vs {
			vs[i] = h128{r.Uint64(), r.Uint64()}
		}
		if len(vs) > 0 {
			vs[0] = hs[0] // in both
		}
		keys, forms := append([]h128(nil), hs...), append([]h128(nil), vs...)
		sk, sv, _ := sortKeys(hs, vs)
		set := setOf(sk, sv)
		for _, h := range keys {
			if found, mark := set.lookup(h); !found || !mark {
				t.Fatalf("n=%d: key %x: found %v, mark %v", n, h, found, mark)
			}
		}
		for _, h := range forms[min(1, len(forms)):] {
			if found, mark := set.lookup(h); !found || mark {
				t.Fatalf("n=%d: form %x: found %v, mark %v", n, h, found, mark)
			}
		}
		if set.len() != len(keys)+max(len(forms)-1, 0) {
			t.Fatalf("n=%d: %d hashes", n, set.len())
		}
	}
}
