package seal

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/csvcheck"
	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
	"github.com/xfer-dev/xfer/zipenc"
)

const testPassword = "Corr3ct-Horse-Battery"

func genCSV(t testing.TB, size int64) []byte {
	var b bytes.Buffer
	if _, err := addrgen.Write(&b, size, 3); err != nil {
		panic(err) // writing to memory cannot fail
	}
	return b.Bytes()
}

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func sealBytes(t testing.TB, csv []byte, outer crypt.EncryptOptions) ([]byte, *Result) {
	t.Helper()
	var out bytes.Buffer
	res, err := Seal(context.Background(), &out, bytes.NewReader(csv), Options{
		ZipPassword: []byte(testPassword), Outer: outer, Name: "addresses.csv", Modified: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), res
}

// openBytes opens a sealed file and returns the CSV, or the error and how
// many bytes reached the writer before it. It opens it a second time in
// one pass (WriteOnceTo) and fails unless that ends the same way: the same
// CSV, or an error too.
func openBytes(sealed []byte, ids crypt.Identities, pw string) ([]byte, error) {
	o, err := Open(bytes.NewReader(sealed), int64(len(sealed)), ids, []byte(pw))
	if err != nil {
		return nil, err
	}
	var out, once bytes.Buffer
	_, err = o.WriteTo(&out)
	o2, err2 := Open(bytes.NewReader(sealed), int64(len(sealed)), ids, []byte(pw))
	if err2 == nil {
		_, err2 = o2.WriteOnceTo(&once)
	}
	switch {
	case (err == nil) != (err2 == nil):
		return nil, fmt.Errorf("WriteTo: %v, but WriteOnceTo: %v", err, err2)
	case err == nil && !bytes.Equal(out.Bytes(), once.Bytes()):
		return nil, fmt.Errorf("WriteOnceTo wrote %d bytes that differ from WriteTo's %d", once.Len(), out.Len())
	case err != nil && errors.Is(err, ErrManifest) != errors.Is(err2, ErrManifest):
		return nil, fmt.Errorf("WriteTo: %v, but WriteOnceTo: %v", err, err2)
	}
	return out.Bytes(), err
}

func TestRoundTrip(t *testing.T) {
	csv := genCSV(t, 3<<20)
	id := newIdentity(t)
	key, err := crypt.GenerateAESKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		outer crypt.EncryptOptions
		ids   crypt.Identities
	}{
		{"age", crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}}, crypt.Identities{Age: []age.Identity{id}}},
		{"aes256", crypt.EncryptOptions{Cipher: crypt.CipherAES256, AESKey: key}, crypt.Identities{AES: []crypt.AESKey{*key}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sealed, res := sealBytes(t, csv, c.outer)
			sum := sha256.Sum256(sealed)
			if res.InputBytes != int64(len(csv)) || res.OutputBytes != int64(len(sealed)) || !bytes.Equal(res.SHA256, sum[:]) {
				t.Fatalf("result %+v does not describe the output", res)
			}
			if res.Columns != 12 || res.Rows < 1000 {
				t.Fatalf("rows %d columns %d", res.Rows, res.Columns)
			}
			if bytes.Contains(sealed, []byte("Smith")) || bytes.Contains(sealed, []byte("addresses.csv")) {
				t.Fatal("plaintext visible in the sealed file")
			}
			got, err := openBytes(sealed, c.ids, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, csv) {
				t.Fatal("round trip changed the data")
			}
		})
	}
}

func TestSealRejectsBadCSV(t *testing.T) {
	id := newIdentity(t)
	var out bytes.Buffer
	_, err := Seal(context.Background(), &out, strings.NewReader("a,b\n1,2\n3\n"), Options{
		ZipPassword: []byte(testPassword), Name: "x.csv",
		Outer: crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}},
	})
	if !errors.Is(err, csvcheck.ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}

func TestSealCancelled(t *testing.T) {
	id := newIdentity(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Seal(ctx, io.Discard, bytes.NewReader(genCSV(t, 1<<20)), Options{
		ZipPassword: []byte(testPassword), Name: "x.csv",
		Outer: crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// ageStanza returns the byte range of the age header's recipient stanza:
// the only bytes whose change is indistinguishable from a wrong identity.
func ageStanza(t *testing.T, sealed []byte) (start, end int) {
	start = bytes.Index(sealed, []byte("\n-> ")) + 1
	end = bytes.Index(sealed, []byte("\n--- "))
	if start <= 0 || end < start {
		t.Fatal("no age stanza found")
	}
	return start, end + 1
}

// TestOuterTamperSweep flips bytes across the whole outer layer: every
// change is detected, nothing reaches the output, and only the recipient
// stanza may read as a wrong identity rather than an integrity failure.
func TestOuterTamperSweep(t *testing.T) {
	id := newIdentity(t)
	ids := crypt.Identities{Age: []age.Identity{id}}
	sealed, _ := sealBytes(t, genCSV(t, 200<<10), crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}})
	s0, s1 := ageStanza(t, sealed)
	positions := 0
	for pos := 0; pos < len(sealed); pos++ {
		if pos > 300 && pos%211 != 0 && pos < len(sealed)-300 {
			continue
		}
		positions++
		bad := bytes.Clone(sealed)
		bad[pos] ^= 0x01
		out, err := openBytes(bad, ids, testPassword)
		if err == nil {
			t.Fatalf("flip at %d went undetected", pos)
		}
		if len(out) > 0 {
			t.Fatalf("flip at %d: %d bytes released before the error", pos, len(out))
		}
		inStanza := pos >= s0 && pos < s1
		switch {
		case errors.Is(err, crypt.ErrIntegrity):
		case errors.Is(err, crypt.ErrNoIdentity) && inStanza:
		default:
			t.Fatalf("flip at %d (stanza %v): %v", pos, inStanza, err)
		}
	}
	t.Logf("%d positions of %d bytes checked", positions, len(sealed))
}

// TestZipTamperSweep alters the zip entry under a valid outer layer, as
// anyone holding the public key could: the entry's MAC catches every change
// but to the salt and password verifier, which read as a wrong password.
func TestZipTamperSweep(t *testing.T) {
	id := newIdentity(t)
	ids := crypt.Identities{Age: []age.Identity{id}}
	sealed, _ := sealBytes(t, genCSV(t, 100<<10), crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}})
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(inner), int64(len(inner)))
	if err != nil {
		t.Fatal(err)
	}
	dataStart, err := zr.File[0].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	dataEnd := dataStart + int64(zr.File[0].CompressedSize64)
	const saltAndVerifier = 16 + 2
	for pos := dataStart; pos < dataEnd; pos += 97 {
		bad := bytes.Clone(inner)
		bad[pos] ^= 0x01
		var resealed bytes.Buffer
		w, err := age.Encrypt(&resealed, id.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		w.Write(bad)
		w.Close()
		out, err := openBytes(resealed.Bytes(), ids, testPassword)
		if err == nil || len(out) > 0 {
			t.Fatalf("flip at %d: err %v, %d bytes released", pos, err, len(out))
		}
		if pos < dataStart+saltAndVerifier {
			if !errors.Is(err, zipenc.ErrPassword) && !errors.Is(err, zipenc.ErrIntegrity) {
				t.Fatalf("flip at %d (salt/verifier): %v", pos, err)
			}
		} else if !errors.Is(err, zipenc.ErrIntegrity) {
			t.Fatalf("flip at %d: %v", pos, err)
		}
	}
}

func TestWrongSecrets(t *testing.T) {
	id, other := newIdentity(t), newIdentity(t)
	sealed, _ := sealBytes(t, genCSV(t, 64<<10), crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}})
	if _, err := openBytes(sealed, crypt.Identities{Age: []age.Identity{other}}, testPassword); !errors.Is(err, crypt.ErrNoIdentity) {
		t.Errorf("wrong identity: %v", err)
	}
	out, err := openBytes(sealed, crypt.Identities{Age: []age.Identity{id}}, "Wr0ng-Password-Here")
	if !errors.Is(err, zipenc.ErrPassword) || len(out) > 0 {
		t.Errorf("wrong zip password: %v, %d bytes", err, len(out))
	}
}
