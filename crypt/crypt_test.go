package crypt

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var roundTripSizes = []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 12345, 5<<20 + 7}

func TestRoundTrip(t *testing.T) {
	for _, m := range testModes(t) {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range roundTripSizes {
				pt := testPlaintext(size)
				file := seal(t, m.opts, fastCfg, pt)
				if got := Detect(file); got != m.format {
					t.Errorf("Detect = %v, want %v", got, m.format)
				}
				if got := openBoth(t, file, m.ids, m.format); !bytes.Equal(got, pt) {
					t.Fatalf("size %d: plaintext mismatch", size)
				}
			}
		})
	}
}

// TestDefaultWorkFactor seals with the production scrypt work factor once
// per format, checks the header says 2^18 and, without the race detector,
// that the cap lets it open.
func TestDefaultWorkFactor(t *testing.T) {
	if testing.Short() {
		t.Skip("scrypt at 2^18 takes 256 MiB and seconds")
	}
	pass := []byte("default work factor")
	for _, c := range []Cipher{CipherAge, CipherAES256} {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			w, err := NewWriter(&buf, EncryptOptions{Cipher: c, Passphrase: pass})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			file := buf.Bytes()
			switch c {
			case CipherAge:
				if !bytes.Contains(file, []byte(" 18\n")) {
					t.Errorf("age scrypt stanza does not use work factor 18:\n%s", file[:80])
				}
			case CipherAES256:
				if file[len(aesMagic)+1] != 18 {
					t.Errorf("log_n = %d, want 18", file[len(aesMagic)+1])
				}
			}
			if raceEnabled {
				return // TestScryptCapBoundary covers accepting the cap itself
			}
			r, _, err := NewReader(bytes.NewReader(file), Identities{Passphrase: pass})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(r); err != nil || string(got) != "x" {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

// TestScryptCapBoundary checks, with a lowered cap, that a work factor equal
// to the cap opens and one above it is refused, in both formats.
func TestScryptCapBoundary(t *testing.T) {
	pass := []byte("boundary")
	for _, c := range []Cipher{CipherAge, CipherAES256} {
		file := seal(t, EncryptOptions{Cipher: c, Passphrase: pass}, writerConfig{scryptLogN: 11}, []byte("x"))
		ids := Identities{Passphrase: pass}
		if got, err := openStream(file, ids, readerConfig{maxScryptLogN: 11}); err != nil || string(got) != "x" {
			t.Errorf("%s: work factor at the cap: %q, %v", c, got, err)
		}
		if got, err := openAt(file, ids, readerConfig{maxScryptLogN: 11}); err != nil || string(got) != "x" {
			t.Errorf("%s: ReaderAt, work factor at the cap: %q, %v", c, got, err)
		}
		if _, err := openStream(file, ids, readerConfig{maxScryptLogN: 10}); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: work factor above the cap: %v, want ErrIntegrity", c, err)
		}
		if _, err := openAt(file, ids, readerConfig{maxScryptLogN: 10}); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: ReaderAt, work factor above the cap: %v, want ErrIntegrity", c, err)
		}
	}
}

// TestScryptCap checks that files demanding more than 2^18 are refused
// before any scrypt work, in both formats.
func TestScryptCap(t *testing.T) {
	pass := []byte("capped")
	// age: a stanza with work factor 19, forged by editing the header; the
	// cap check comes before the MAC, so the edit is never noticed.
	ageFile := seal(t, EncryptOptions{Passphrase: pass}, fastCfg, []byte("x"))
	ageFile = bytes.Replace(ageFile, []byte(" 10\n"), []byte(" 19\n"), 1)
	aesFile := seal(t, EncryptOptions{Cipher: CipherAES256, Passphrase: pass}, fastCfg, []byte("x"))
	aesFile[len(aesMagic)+1] = 19
	for name, file := range map[string][]byte{"age": ageFile, "aes256": aesFile} {
		start := time.Now()
		_, err := openStream(file, Identities{Passphrase: pass}, readerConfig{})
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: err = %v, want ErrIntegrity", name, err)
		}
		if !strings.Contains(err.Error(), "too large") && !strings.Contains(err.Error(), "2^19") {
			t.Errorf("%s: error does not mention the work factor: %v", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v, scrypt seems to have run", name, d)
		}
	}
}

func TestWrongIdentity(t *testing.T) {
	modes := testModes(t)
	other := testModes(t) // fresh keys; the passphrases are equal, so change them
	// The SSH keys are shared between calls: cross them over instead.
	other[2].ids, other[3].ids = modes[3].ids, modes[2].ids
	for i := range other {
		if other[i].ids.Passphrase != nil {
			other[i].ids.Passphrase = []byte("wrong passphrase")
		}
	}
	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			file := seal(t, m.opts, fastCfg, []byte("secret"))
			for _, ids := range []Identities{other[i].ids, {}, {Passphrase: []byte("x")}, {AES: other[5].ids.AES}, {Age: other[0].ids.Age}} {
				if _, err := openStream(file, ids, readerConfig{}); !errors.Is(err, ErrNoIdentity) || errors.Is(err, ErrIntegrity) {
					t.Errorf("NewReader: err = %v, want only ErrNoIdentity", err)
				}
				if _, err := openAt(file, ids, readerConfig{}); !errors.Is(err, ErrNoIdentity) || errors.Is(err, ErrIntegrity) {
					t.Errorf("NewReaderAt: err = %v, want only ErrNoIdentity", err)
				}
			}
		})
	}
}

func TestAgeNoMatchIsAgeError(t *testing.T) {
	m := testModes(t)[0]
	file := seal(t, m.opts, fastCfg, []byte("x"))
	_, err := openStream(file, Identities{Passphrase: []byte("nope")}, readerConfig{})
	var nm *age.NoIdentityMatchError
	if !errors.Is(err, ErrNoIdentity) || !errors.As(err, &nm) {
		t.Fatalf("err = %v, want ErrNoIdentity wrapping *age.NoIdentityMatchError", err)
	}
}

func TestArmored(t *testing.T) {
	m := testModes(t)[0]
	for _, size := range []int{0, 1, chunkSize + 1} {
		pt := testPlaintext(size)
		var buf bytes.Buffer
		aw := armor.NewWriter(&buf)
		w, err := NewWriter(aw, m.opts)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(pt)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := aw.Close(); err != nil {
			t.Fatal(err)
		}
		file := append([]byte("\n  \r\n"), buf.Bytes()...) // leading whitespace is allowed
		// Saved on Windows: CRLF throughout, or mixed (an editor that
		// touched a few lines).
		crlf := bytes.ReplaceAll(file, []byte("\n"), []byte("\r\n"))
		mixed := bytes.Replace(file, []byte("\n"), []byte("\r\n"), 3)
		for _, f := range [][]byte{file, crlf, mixed} {
			if got := openBoth(t, f, m.ids, FormatAgeArmored); !bytes.Equal(got, pt) {
				t.Fatal("plaintext mismatch")
			}
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	ids := Identities{Passphrase: []byte("x")}
	for _, in := range []string{"", "PK\x03\x04", "hello world", "xfer-aes256", "age-encryption.or"} {
		_, f, err := NewReader(strings.NewReader(in), ids)
		if !errors.Is(err, ErrIntegrity) || f != FormatUnknown {
			t.Errorf("NewReader(%q) = %v, %v; want FormatUnknown, ErrIntegrity", in, f, err)
		}
		_, _, f, err = NewReaderAt(strings.NewReader(in), int64(len(in)), ids)
		if !errors.Is(err, ErrIntegrity) || f != FormatUnknown {
			t.Errorf("NewReaderAt(%q) = %v, %v; want FormatUnknown, ErrIntegrity", in, f, err)
		}
	}
	// A newer version of a known format is reported as that format.
	_, f, err := NewReader(strings.NewReader("xfer-aes256/v2\n"+strings.Repeat("\x00", 200)), ids)
	if !errors.Is(err, ErrIntegrity) || f != FormatAES256 || !strings.Contains(err.Error(), "version") {
		t.Errorf("v2 file: %v, %v", f, err)
	}
}

// TestSourceErrors checks that a failing source is reported as itself, not
// as tampering or a wrong key.
func TestSourceErrors(t *testing.T) {
	errBoom := errors.New("boom: connection reset")
	for _, m := range testModes(t) {
		file := seal(t, m.opts, fastCfg, testPlaintext(3*chunkSize))
		for _, cut := range []int{0, 10, 100, len(file) / 2, len(file) - 1} {
			src := io.MultiReader(bytes.NewReader(file[:cut]), iotest.ErrReader(errBoom))
			_, err := openStream2(src, m.ids)
			if !errors.Is(err, errBoom) || errors.Is(err, ErrIntegrity) || errors.Is(err, ErrNoIdentity) {
				t.Errorf("%s cut %d: NewReader err = %v, want the source error only", m.name, cut, err)
			}
			at := &failingReaderAt{data: file, failFrom: int64(cut), err: errBoom}
			if m.format != FormatAgeArmored {
				ra, n, _, err := NewReaderAt(at, int64(len(file)), m.ids)
				if err == nil {
					_, err = io.ReadAll(io.NewSectionReader(ra, 0, n))
				}
				if !errors.Is(err, errBoom) || errors.Is(err, ErrIntegrity) || errors.Is(err, ErrNoIdentity) {
					t.Errorf("%s cut %d: NewReaderAt err = %v, want the source error only", m.name, cut, err)
				}
			}
		}
	}
}

func openStream2(src io.Reader, ids Identities) ([]byte, error) {
	r, _, err := NewReader(src, ids)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

type failingReaderAt struct {
	data     []byte
	failFrom int64
	err      error
}

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.failFrom {
		return 0, f.err
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

func TestTruncatedSource(t *testing.T) {
	// A ReaderAt shorter than the size it was opened with is a truncated
	// file, as is a stream that ends early.
	for _, m := range testModes(t) {
		file := seal(t, m.opts, fastCfg, testPlaintext(2*chunkSize+5))
		for _, cut := range []int{1, 20, len(file) / 2, len(file) - 1} {
			if _, err := openStream(file[:cut], m.ids, readerConfig{}); !errors.Is(err, ErrIntegrity) {
				t.Errorf("%s: stream cut at %d: %v", m.name, cut, err)
			}
			ra, n, _, err := NewReaderAt(bytes.NewReader(file[:cut]), int64(len(file)), m.ids)
			if err == nil {
				_, err = io.ReadAll(io.NewSectionReader(ra, 0, n))
			}
			if !errors.Is(err, ErrIntegrity) {
				t.Errorf("%s: ReaderAt cut at %d: %v", m.name, cut, err)
			}
		}
	}
}

func TestConcurrentReadAt(t *testing.T) {
	for _, m := range testModes(t) {
		if m.format != FormatAES256 && m.name != "x25519" {
			continue
		}
		pt := testPlaintext(7*chunkSize + 99)
		file := seal(t, m.opts, fastCfg, pt)
		ra, n, _, err := NewReaderAt(bytes.NewReader(file), int64(len(file)), m.ids)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					off := int64((g*7919 + i*104729) % int(n))
					p := make([]byte, 1+(i*31)%(chunkSize+17))
					k, err := ra.ReadAt(p, off)
					if err != nil && err != io.EOF {
						t.Errorf("ReadAt: %v", err)
						return
					}
					if !bytes.Equal(p[:k], pt[off:off+int64(k)]) {
						t.Errorf("%s: concurrent ReadAt at %d returned wrong data", m.name, off)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

func TestWriterOptions(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	key, _ := GenerateAESKey()
	bad := []EncryptOptions{
		{},
		{Cipher: "des"},
		{Cipher: CipherAES256},
		{Cipher: CipherAES256, Recipients: []age.Recipient{x.Recipient()}},
		{Cipher: CipherAES256, AESKey: key, Passphrase: []byte("p")},
		{Cipher: CipherAge, AESKey: key},
		{Recipients: []age.Recipient{x.Recipient()}, Passphrase: []byte("p")},
	}
	for _, o := range bad {
		var buf bytes.Buffer
		if _, err := NewWriter(&buf, o); err == nil {
			t.Errorf("NewWriter(%+v) succeeded", o)
		}
		if buf.Len() != 0 {
			t.Errorf("NewWriter(%+v) wrote output despite failing", o)
		}
	}
}

func TestWriterCloseAndErrors(t *testing.T) {
	key, _ := GenerateAESKey()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, EncryptOptions{Cipher: CipherAES256, AESKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if buf.Len() != keyFileHeaderSize+tagSize {
		t.Errorf("empty file is %d bytes, want %d", buf.Len(), keyFileHeaderSize+tagSize)
	}

	// A failing destination is reported, and stays failed.
	errFull := errors.New("disk full")
	fw := &failingWriter{n: keyFileHeaderSize + 10, err: errFull}
	w, err = NewWriter(fw, EncryptOptions{Cipher: CipherAES256, AESKey: key})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Write(make([]byte, 3*chunkSize))
	if !errors.Is(err, errFull) {
		t.Errorf("Write: %v, want disk full", err)
	}
	if err := w.Close(); !errors.Is(err, errFull) {
		t.Errorf("Close: %v, want disk full", err)
	}
}

type failingWriter struct {
	n   int
	err error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestDetect(t *testing.T) {
	ws := strings.Repeat(" ", maxArmorWhitespace-len(armor.Header))
	for _, c := range []struct {
		in   string
		want Format
	}{
		{"", FormatUnknown},
		{"age-encryption.org/v1\n-> X25519", FormatAge},
		{"age-encryption.org/v2\n", FormatAge},
		{"age-encryption.org", FormatUnknown},
		{"xfer-aes256/v1\n\x01", FormatAES256},
		{"xfer-aes256/", FormatAES256},
		{"xfer-aes256", FormatUnknown},
		{armor.Header + "\n", FormatAgeArmored},
		{"\r\n\t " + armor.Header, FormatAgeArmored},
		{ws + armor.Header, FormatAgeArmored},
		{strings.Repeat(" ", maxArmorWhitespace) + armor.Header, FormatAgeArmored},
		{strings.Repeat(" ", maxArmorWhitespace+1) + armor.Header, FormatUnknown},
		{"-----BEGIN AGE ENCRYPTED FILE", FormatUnknown},
		{"garbage\n" + armor.Header, FormatUnknown},
		{"PK\x03\x04", FormatUnknown},
	} {
		if got := Detect([]byte(c.in)); got != c.want {
			t.Errorf("Detect(%.40q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseCipher(t *testing.T) {
	for in, want := range map[string]Cipher{"": CipherAge, "age": CipherAge, "aes256": CipherAES256} {
		if got, err := ParseCipher(in); err != nil || got != want {
			t.Errorf("ParseCipher(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseCipher("AES"); err == nil {
		t.Error("ParseCipher(AES) succeeded")
	}
	if FormatAgeArmored.Cipher() != CipherAge || FormatAES256.Cipher() != CipherAES256 || FormatUnknown.Cipher() != "" {
		t.Error("Format.Cipher is wrong")
	}
}
