package screen

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// genRows returns an addrgen CSV of exactly n data rows (CRLF, with quoted
// fields holding commas, quotes and newlines).
func genRows(t testing.TB, n int, seed uint64) []byte {
	t.Helper()
	data := genCSV(t, int64(n)*160+4096, seed)
	r := csv.NewReader(bytes.NewReader(data))
	for range n + 1 {
		if _, err := r.Read(); err != nil {
			t.Fatalf("addrgen gave fewer than %d rows: %v", n, err)
		}
	}
	return data[:r.InputOffset()]
}

// keyCols are the addrgen columns of the property test's suppression key.
var keyCols = []string{"last_name", "initial:first_name", "postcode"}

type tuple struct{ surname, initial, postcode string }

func tupleOf(rec []string) tuple {
	r, _ := utf8.DecodeRuneInString(rec[2])
	return tuple{rec[3], string(r), rec[8]}
}

// class is the test's own account of which generated tuples are one
// person under the spelling rule: surname and postcode accent-stripped,
// lower-cased, the letters NFD leaves alone spelt out, then aa, ae, oe and
// ue read as one letter until none is left. Generated values are
// consistently written, so nothing else needs normalising.
func (tp tuple) class() tuple {
	spell := func(s string) string {
		s = undecomposed.Replace(strings.ToLower(stripAccents(s)))
		for {
			t := digraph.ReplaceAllStringFunc(s, func(p string) string { return p[:1] })
			if t == s {
				return s
			}
			s = t
		}
	}
	return tuple{spell(tp.surname), tp.initial, spell(tp.postcode)}
}

var (
	digraph      = regexp.MustCompile(`aa|ae|oe|ue`)
	undecomposed = strings.NewReplacer("ß", "ss", "ø", "o", "æ", "ae", "ł", "l")
)

// asciiSpelling writes umlauts and the Nordic letters as an ASCII-only
// system does.
var asciiSpelling = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "ø", "oe", "å", "aa", "æ", "ae",
	"Ä", "Ae", "Ö", "Oe", "Ü", "Ue", "Ø", "Oe", "Å", "Aa", "Æ", "Ae")

// stripAccents is the test's own accent removal, so that the expected set
// does not come from the code under test.
func stripAccents(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// disguise writes a row's key the way another system might hold it: other
// case, spacing and punctuation, accents dropped, umlauts spelt out in
// ASCII, the full first name or an initial with a dot.
func disguise(r *rand.Rand, rec []string) (surname, first, postcode string) {
	surname, first, postcode = rec[3], rec[2], rec[8]
	switch r.IntN(7) {
	case 5:
		surname, first = asciiSpelling.Replace(surname), asciiSpelling.Replace(first)
	case 0:
		surname = strings.ToUpper(surname)
	case 1:
		surname = strings.ToLower(stripAccents(surname))
	case 2:
		surname = " " + strings.ReplaceAll(surname, "'", "") + " "
	case 3:
		surname = strings.ReplaceAll(surname, "-", " - ") + "."
	case 4:
		surname = strings.ToUpper(stripAccents(surname))
	}
	switch r.IntN(3) {
	case 0:
		first = strings.ToLower(first)
	case 1:
		f, _ := utf8.DecodeRuneInString(first)
		first = string(f) + "."
	}
	switch r.IntN(4) {
	case 0:
		postcode = strings.ReplaceAll(postcode, " ", "")
	case 1:
		postcode = strings.ToLower(postcode)
	case 2:
		postcode = "  " + strings.ReplaceAll(postcode, " ", "   ")
	}
	return surname, first, postcode
}

// TestSuppressionProperty screens rows against a list of which a known part
// matches rows only after normalisation: exactly the rows with those keys
// go, in both the plain and the hashed form of the list. The size is
// XFER_SCREEN_ROWS rows (default 100,000) against a tenth as many entries;
// the acceptance size is XFER_SCREEN_ROWS=1000000.
func TestSuppressionProperty(t *testing.T) {
	rows := 100_000
	if testing.Short() {
		rows = 20_000
	}
	if v := os.Getenv("XFER_SCREEN_ROWS"); v != "" {
		var err error
		if rows, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	in := genRows(t, rows, 7)
	list, want := propertyList(t, in, rows/10, 11)
	key, _ := ParseKeySpec(keyCols)

	plain, err := ReadList(bytes.NewReader(list), "plain", key)
	if err != nil {
		t.Fatal(err)
	}
	var hashedFile bytes.Buffer
	if _, err := HashList(&hashedFile, bytes.NewReader(list), "list", key); err != nil {
		t.Fatal(err)
	}
	hashed, err := ReadList(&hashedFile, "hashed", key)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Stats().Entries != hashed.Stats().Entries || plain.Stats().Entries != rows/10 {
		t.Fatalf("entries: plain %d, hashed %d, want %d", plain.Stats().Entries, hashed.Stats().Entries, rows/10)
	}
	var outs [][]byte
	for _, l := range []*List{plain, hashed} {
		out, rep, err := run(t, Rules{Lists: []*List{l}}, in, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if rep.RowsIn != int64(rows) || rep.Suppressed[l.Name] != int64(len(want)) || rep.RowsOut != int64(rows-len(want)) {
			t.Fatalf("%s: in %d out %d suppressed %d; want %d suppressed", l.Name, rep.RowsIn, rep.RowsOut, rep.Suppressed[l.Name], len(want))
		}
		// Some entries are spelt in ASCII (Mueller for a row's Müller).
		if rep.SuppressedByVariant == 0 || rep.SuppressedByVariant >= rep.SuppressedRows {
			t.Fatalf("%s: %d of %d rows suppressed only through a spelling variant", l.Name, rep.SuppressedByVariant, rep.SuppressedRows)
		}
		t.Logf("%s: %d of %d rows suppressed only through a spelling variant", l.Name, rep.SuppressedByVariant, rep.SuppressedRows)
		outs = append(outs, out)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("plain and hashed lists kept different rows")
	}
	// The output is the input without exactly the wanted rows, in order.
	r := csv.NewReader(bytes.NewReader(in))
	var expect bytes.Buffer
	w := csv.NewWriter(&expect)
	w.UseCRLF = true
	for i := 0; ; i++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if !want[i] {
			w.Write(rec)
		}
	}
	w.Flush()
	if got := reencode(t, outs[0]); !bytes.Equal(got, expect.Bytes()) {
		t.Fatal("the output is not the input less the suppressed rows")
	}
	t.Logf("%d rows, %d entries: %d rows suppressed", rows, rows/10, len(want))
}

func reencode(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	w.UseCRLF = true
	w.WriteAll(parseCSV(t, b))
	return out.Bytes()
}

// propertyList builds a plain list of n entries: about a third disguised
// keys of rows, the rest keys that no row has (near misses included). It
// returns the list and the record numbers (header 0) that must go.
func propertyList(t testing.TB, in []byte, n int, seed uint64) ([]byte, map[int]bool) {
	r := rand.New(rand.NewPCG(seed, seed))
	recs, err := csv.NewReader(bytes.NewReader(in)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	present := map[tuple][]int{} // by class
	for i, rec := range recs[1:] {
		c := tupleOf(rec).class()
		present[c] = append(present[c], i+1)
	}
	var list bytes.Buffer
	w := csv.NewWriter(&list)
	w.Write([]string{"Last_Name", "First_Name", "Postcode", "reason"})
	want := map[int]bool{}
	picked := map[tuple]bool{}
	for len(picked) < n/3 {
		rec := recs[1+r.IntN(len(recs)-1)]
		tp := tupleOf(rec)
		if picked[tp] {
			continue
		}
		picked[tp] = true
		s, f, p := disguise(r, rec)
		w.Write([]string{s, f, p, "opt-out"})
		for _, i := range present[tp.class()] {
			want[i] = true
		}
	}
	for written := len(picked); written < n; {
		rec := recs[1+r.IntN(len(recs)-1)]
		s, f, p := rec[3], rec[2], rec[8]
		switch r.IntN(3) {
		case 0: // another inward code
			p = p[:len(p)-3] + fmt.Sprintf("%d%c%c", r.IntN(10), 'A'+r.IntN(26), 'A'+r.IntN(26))
		case 1: // someone else
			s = fmt.Sprintf("Nobody%d", written)
		case 2: // another initial: no addrgen first name starts with these
			f = string("qvxy"[r.IntN(4)])
		}
		fr, _ := utf8.DecodeRuneInString(f)
		tp := tuple{s, string(fr), p}
		if present[tp.class()] != nil || picked[tp] {
			continue // not a miss after all
		}
		picked[tp] = true
		w.Write([]string{s, f, p, "deceased"})
		written++
	}
	w.Flush()
	return list.Bytes(), want
}
