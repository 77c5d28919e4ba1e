package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/csvcheck"
	"github.com/xfer-dev/xfer/screen"
	"github.com/xfer-dev/xfer/zipenc"
)

func TestManifestRecordsTheCSV(t *testing.T) {
	id := newIdentity(t)
	csv := []byte("\uFEFFname,\"street, no\",postcode\r\nAda,\"1 Main St\nFlat 2\",AB1 2CD\r\nBob,2 High St,EF3 4GH\r\n")
	expires := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	res, err := Seal(t.Context(), &out, bytes.NewReader(csv), Options{
		ZipPassword: []byte(testPassword), Outer: crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}},
		Name: "a.csv", Modified: time.Now(),
		Manifest: ManifestInfo{Sender: "it@client", Expires: expires},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The sealed CSV is the canonical form: the same records without the
	// byte-order mark; the manifest says the source had one.
	canonical := bytes.TrimPrefix(csv, []byte("\uFEFF"))
	sum := sha256.Sum256(canonical)
	want := &Manifest{
		Format: ManifestFormat, File: "a.csv", Rows: 2, Columns: []string{"name", "street, no", "postcode"},
		CSVBytes: int64(len(canonical)), CSVSHA256: hex.EncodeToString(sum[:]),
		Source: &csvcheck.Dialect{Encoding: "utf-8", BOM: true, Delimiter: ",", LineEnds: "crlf"},
		Sender: "it@client", Created: res.Manifest.Created, Expires: &expires,
	}
	gotJSON, _ := json.Marshal(res.Manifest)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("manifest\n got %s\nwant %s", gotJSON, wantJSON)
	}

	o, err := Open(bytes.NewReader(out.Bytes()), int64(out.Len()), crypt.Identities{Age: []age.Identity{id}}, []byte(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if _, err := o.WriteTo(&plain); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain.Bytes(), canonical) {
		t.Fatal("the CSV did not round-trip")
	}
	m, err := o.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if readJSON, _ := json.Marshal(m); !bytes.Equal(readJSON, gotJSON) {
		t.Fatalf("read back\n got %s\nwant %s", readJSON, gotJSON)
	}
}

// TestHeaderColumnsAtEveryChunkSplit feeds the digest the same CSV cut at
// every byte: the column names never depend on where writes end.
func TestHeaderColumnsAtEveryChunkSplit(t *testing.T) {
	csv := []byte("id,\"multi\nline\",x\n1,2,3\n")
	for cut := range len(csv) + 1 {
		d := newCSVDigest()
		d.Write(csv[:cut])
		d.Write(csv[cut:])
		if err := d.close(); err != nil {
			t.Fatal(err)
		}
		if want := []string{"id", "multi\nline", "x"}; !slices.Equal(d.columns, want) {
			t.Fatalf("cut %d: columns %q, want %q", cut, d.columns, want)
		}
	}
}

// forge seals entries written directly with zipenc, as someone holding the
// zip password (but not xfer) could: the manifest check is what catches a
// CSV that does not match.
func forge(t *testing.T, id *age.X25519Identity, entries ...[2]string) []byte {
	t.Helper()
	var out bytes.Buffer
	outer, err := crypt.NewWriter(&out, crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	zw := zipenc.NewWriter(outer, []byte(testPassword), zipenc.Options{})
	for _, e := range entries {
		w, err := zw.Create(e[0], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func manifestFor(t *testing.T, csv string, edit func(*Manifest)) string {
	d := newCSVDigest()
	d.Write([]byte(csv))
	if err := d.close(); err != nil {
		t.Fatal(err)
	}
	m := d.manifest("a.csv", ManifestInfo{})
	edit(m)
	b, _ := json.Marshal(m)
	return string(b)
}

func TestManifestMismatchIsIntegrity(t *testing.T) {
	id := newIdentity(t)
	ids := crypt.Identities{Age: []age.Identity{id}}
	const csv = "a,b\n1,2\n3,4\n"
	cases := []struct {
		name     string
		manifest string
		want     string
	}{
		{"rows", manifestFor(t, csv, func(m *Manifest) { m.Rows = 3 }), "2 rows, the manifest says 3"},
		{"bytes", manifestFor(t, csv, func(m *Manifest) { m.CSVBytes++ }), "the manifest says"},
		{"sha256", manifestFor(t, csv, func(m *Manifest) { m.CSVSHA256 = strings.Repeat("0", 64) }), "SHA-256 differs"},
		{"columns", manifestFor(t, csv, func(m *Manifest) { m.Columns = []string{"a", "c"} }), "header differs"},
		{"format", manifestFor(t, csv, func(m *Manifest) { m.Format = "xfer-manifest/9" }), "manifest format"},
		{"not json", "{rows: 2", "unreadable manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sealed := forge(t, id, [2]string{"a.csv", csv}, [2]string{ManifestName, c.manifest})
			_, err := openBytes(sealed, ids, testPassword)
			if !errors.Is(err, ErrContent) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrContent saying %q", err, c.want)
			}
		})
	}

	// The same CSV with a true manifest, and without one (sealed before
	// manifests existed, or by 7-Zip), both open.
	for _, entries := range [][][2]string{
		{{"a.csv", csv}, {ManifestName, manifestFor(t, csv, func(*Manifest) {})}},
		{{"a.csv", csv}},
	} {
		got, err := openBytes(forge(t, id, entries...), ids, testPassword)
		if err != nil || string(got) != csv {
			t.Fatalf("%d entries: %q, %v", len(entries), got, err)
		}
	}

	// Two CSVs are refused, manifest or not.
	if _, err := openBytes(forge(t, id, [2]string{"a.csv", csv}, [2]string{"b.csv", csv}), ids, testPassword); !errors.Is(err, ErrContent) {
		t.Fatalf("two CSV entries: %v", err)
	}
}

func TestSealRefusesTheManifestName(t *testing.T) {
	id := newIdentity(t)
	_, err := Seal(t.Context(), new(bytes.Buffer), strings.NewReader("a\n1\n"), Options{
		ZipPassword: []byte(testPassword), Outer: crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}},
		Name: ManifestName,
	})
	if err == nil {
		t.Fatal("a CSV named like the manifest was sealed")
	}
}

// TestSealScreens: screening drops suppressed rows and a column before the
// zip; the manifest records the screened CSV and the counts, and the file
// opens to exactly the kept rows.
func TestSealScreens(t *testing.T) {
	id := newIdentity(t)
	csv := "first_name,surname,postcode,date_of_birth\r\n" +
		"Ada,Lovelace,SW1A 1AA,1815-12-10\r\n" +
		"Bob,\"O'Brien\",EC1A 1BB,1970-01-01\r\n" +
		"Cy,Young,\"W1A\n0AX\",1980-02-02\r\n"
	key, err := screen.ParseKeySpec([]string{"surname", "postcode"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := screen.ReadList(strings.NewReader("surname,postcode\nOBRIEN,ec1a1bb\n"), "optouts.csv", key)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Seal(t.Context(), &out, strings.NewReader(csv), Options{
		ZipPassword: []byte(testPassword), Outer: crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}},
		Name: "a.csv", Screen: screen.Rules{Drop: []string{"date_of_birth"}, Lists: []*screen.List{list}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "first_name,surname,postcode\r\nAda,Lovelace,SW1A 1AA\r\nCy,Young,\"W1A\n0AX\"\r\n"
	got, err := openBytes(out.Bytes(), crypt.Identities{Age: []age.Identity{id}}, testPassword)
	if err != nil || string(got) != want {
		t.Fatalf("opened %q, %v; want %q", got, err, want)
	}
	m := res.Manifest
	if m.Rows != 2 || res.Rows != 2 || res.Columns != 3 || !slices.Equal(m.Columns, []string{"first_name", "surname", "postcode"}) ||
		m.Suppressed["optouts.csv"] != 1 || !slices.Equal(m.Dropped, []string{"date_of_birth"}) || m.CSVBytes != int64(len(want)) {
		t.Fatalf("manifest %+v, result rows %d columns %d", m, res.Rows, res.Columns)
	}
	if res.Screen == nil || res.Screen.RowsIn != 3 || res.Screen.SuppressedRows != 1 {
		t.Fatalf("screen report %+v", res.Screen)
	}
}

// TestHeaderWithLineBreakOpens: a column name holding a quoted CRLF is
// recorded verbatim and read back as encoding/csv reads it; the two agree.
func TestHeaderWithLineBreakOpens(t *testing.T) {
	id := newIdentity(t)
	const csv = "\"multi\r\nline\",b\r\n1,2\r\n"
	var out bytes.Buffer
	res, err := Seal(t.Context(), &out, strings.NewReader(csv), Options{
		ZipPassword: []byte(testPassword), Outer: crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}}, Name: "a.csv",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Manifest.Columns, []string{"multi\r\nline", "b"}) {
		t.Fatalf("columns %q", res.Manifest.Columns)
	}
	got, err := openBytes(out.Bytes(), crypt.Identities{Age: []age.Identity{id}}, testPassword)
	if err != nil || string(got) != csv {
		t.Fatalf("opened %q, %v", got, err)
	}
}

// TestManifestDescribes: a file is the manifest's CSV only when size,
// SHA-256 and rows all agree.
func TestManifestDescribes(t *testing.T) {
	const csv = "a,b\n1,2\n3,4\n"
	m, err := decodeManifest([]byte(manifestFor(t, csv, func(*Manifest) {})))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]bool{csv: true, "a,b\n1,2\n3,5\n": false, csv + "5,6\n": false, "": false} {
		if got := m.Describes(strings.NewReader(in)); got != want {
			t.Errorf("Describes(%q) = %v, want %v", in, got, want)
		}
	}
}
