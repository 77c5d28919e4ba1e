package crypt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// testRand returns a deterministic randomness source for name.
func testRand(name string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte("xfer crypt test rand " + name)))
}

// testPlaintext returns n bytes of CSV-looking, incompressible-enough data.
func testPlaintext(n int) []byte {
	r := rand.NewChaCha8(sha256.Sum256([]byte("xfer crypt test plaintext")))
	b := make([]byte, n)
	r.Read(b)
	return b
}

// fastCfg seals passphrase files at the lowest accepted work factor, so
// tests don't spend a second and 256 MiB on every scrypt call.
var fastCfg = writerConfig{scryptLogN: minScryptLogN}

func seal(t testing.TB, opts EncryptOptions, cfg writerConfig, plaintext []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newWriter(&buf, opts, cfg)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	// Uneven writes exercise the chunk buffering.
	for p, step := plaintext, 1; len(p) > 0; step = (step*7 + 3) % (3 * chunkSize) {
		n := min(step, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// openBoth decrypts file with NewReader and with NewReaderAt. It returns
// the plaintext from NewReader and fails the test unless both agree.
func openBoth(t testing.TB, file []byte, ids Identities, wantFormat Format) []byte {
	t.Helper()
	r, f, err := NewReader(bytes.NewReader(file), ids)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	if f != wantFormat {
		t.Errorf("NewReader format = %v, want %v", f, wantFormat)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("NewReader: Read: %v", err)
	}
	ra, n, f, err := NewReaderAt(bytes.NewReader(file), int64(len(file)), ids)
	if err != nil {
		t.Fatalf("NewReaderAt: %v", err)
	}
	if f != wantFormat {
		t.Errorf("NewReaderAt format = %v, want %v", f, wantFormat)
	}
	if n != int64(len(got)) {
		t.Fatalf("NewReaderAt size = %d, NewReader read %d bytes", n, len(got))
	}
	gotAt, err := io.ReadAll(io.NewSectionReader(ra, 0, n))
	if err != nil {
		t.Fatalf("NewReaderAt: ReadAt: %v", err)
	}
	if !bytes.Equal(got, gotAt) {
		t.Fatal("NewReader and NewReaderAt disagree")
	}
	// Random-offset reads, including ones crossing chunk boundaries and
	// running past the end.
	rnd := rand.New(rand.NewPCG(uint64(n), 1))
	for range 20 {
		if n == 0 {
			break
		}
		off := rnd.Int64N(n)
		p := make([]byte, rnd.IntN(2*chunkSize+2))
		m, err := ra.ReadAt(p, off)
		end := min(off+int64(len(p)), n)
		if m != int(end-off) || !bytes.Equal(p[:m], got[off:end]) {
			t.Fatalf("ReadAt(len %d, off %d) = %d bytes, wrong content or length", len(p), off, m)
		}
		if end == n && len(p) > 0 && err != io.EOF {
			t.Fatalf("ReadAt to the end: err = %v, want io.EOF", err)
		}
		if end < n && err != nil {
			t.Fatalf("ReadAt(len %d, off %d): %v", len(p), off, err)
		}
	}
	if m, err := ra.ReadAt(make([]byte, 1), n); m != 0 || err != io.EOF {
		t.Fatalf("ReadAt at the end = %d, %v; want 0, io.EOF", m, err)
	}
	return got
}

// category names the error category of err, for table assertions.
func category(err error) string {
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, ErrNoIdentity) && errors.Is(err, ErrIntegrity):
		return "BOTH"
	case errors.Is(err, ErrNoIdentity):
		return "no identity"
	case errors.Is(err, ErrIntegrity):
		return "integrity"
	}
	return "other"
}

// openStream decrypts file with NewReader and returns what it read and the
// first error, from opening or reading.
func openStream(file []byte, ids Identities, cfg readerConfig) ([]byte, error) {
	r, _, err := newReader(bytes.NewReader(file), ids, cfg)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// openAt decrypts file with NewReaderAt and returns what it read and the
// first error, from opening or reading.
func openAt(file []byte, ids Identities, cfg readerConfig) ([]byte, error) {
	ra, n, _, err := newReaderAt(bytes.NewReader(file), int64(len(file)), ids, cfg)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.NewSectionReader(ra, 0, n))
}

// SSH keys are slow to generate (RSA), so tests share one of each.
var sshKeys = sync.OnceValue(func() (k struct {
	ed25519PEM, rsaPEM []byte
	ed25519Pub, rsaPub string
}) {
	rnd := testRand("ssh")
	_, edPriv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		panic(err)
	}
	rsaPriv, err := rsa.GenerateKey(rnd, 2048)
	if err != nil {
		panic(err)
	}
	for _, c := range []struct {
		priv   any
		pemOut *[]byte
		pubOut *string
	}{{edPriv, &k.ed25519PEM, &k.ed25519Pub}, {rsaPriv, &k.rsaPEM, &k.rsaPub}} {
		block, err := ssh.MarshalPrivateKey(c.priv, "xfer test")
		if err != nil {
			panic(err)
		}
		*c.pemOut = pem.EncodeToMemory(block)
		signer, err := ssh.NewSignerFromKey(c.priv)
		if err != nil {
			panic(err)
		}
		*c.pubOut = string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " xfer@test"
	}
	return k
})

// mode is one way of sealing a file, with what opens it.
type mode struct {
	name   string
	opts   EncryptOptions
	ids    Identities
	format Format
}

func testModes(t testing.TB) []mode {
	t.Helper()
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	keys := sshKeys()
	parseIDs := func(data []byte) Identities {
		ids, err := ParseIdentityFile(data)
		if err != nil {
			t.Fatalf("ParseIdentityFile: %v", err)
		}
		return ids
	}
	parseRec := func(s string) []age.Recipient {
		r, err := ParseRecipient(s)
		if err != nil {
			t.Fatalf("ParseRecipient: %v", err)
		}
		return []age.Recipient{r}
	}
	key, err := GenerateAESKey()
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("correct horse battery staple")
	return []mode{
		{"x25519", EncryptOptions{Recipients: parseRec(x.Recipient().String())},
			parseIDs([]byte(x.String() + "\n")), FormatAge},
		{"hybrid", EncryptOptions{Cipher: CipherAge, Recipients: parseRec(pq.Recipient().String())},
			parseIDs([]byte(pq.String() + "\n")), FormatAge},
		{"ssh-ed25519", EncryptOptions{Recipients: parseRec(keys.ed25519Pub)},
			parseIDs(keys.ed25519PEM), FormatAge},
		{"ssh-rsa", EncryptOptions{Recipients: parseRec(keys.rsaPub)},
			parseIDs(keys.rsaPEM), FormatAge},
		{"age-scrypt", EncryptOptions{Passphrase: pass},
			Identities{Passphrase: pass}, FormatAge},
		{"aes256-keyfile", EncryptOptions{Cipher: CipherAES256, AESKey: key},
			parseIDs(key.KeyFile(testTime)), FormatAES256},
		{"aes256-passphrase", EncryptOptions{Cipher: CipherAES256, Passphrase: pass},
			Identities{Passphrase: pass}, FormatAES256},
	}
}
