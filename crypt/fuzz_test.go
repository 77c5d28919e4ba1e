package crypt

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age/armor"
)

// fuzzIDs open the vectors; the work-factor cap is lowered to the vectors'
// 2^10 so that passphrase inputs cost milliseconds, not seconds.
var (
	fuzzIDs = Identities{AES: []AESKey{vectorKey}, Passphrase: []byte(vectorPassphrase)}
	fuzzCfg = readerConfig{maxScryptLogN: vectorLogN}
)

// FuzzAESReader feeds arbitrary bytes to NewReader and NewReaderAt. Neither
// may panic, every error must be in exactly one category, and the two must
// agree: same plaintext, or both fail.
func FuzzAESReader(f *testing.F) {
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(vectorDir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		v, err := parseAESVector(e.Name(), data)
		if err != nil {
			f.Fatal(err)
		}
		// Skip the expensive ones (work factor above the fuzz cap) and the
		// three-chunk ones, whose minimisation stalls the fuzzer; two
		// chunks are enough to reach every chunk-boundary branch.
		if v.name != "passphrase_log_n_18" && v.name != "log_n_too_large" && len(v.file) <= 2*encChunkSize+passphraseHeaderSize {
			f.Add(v.file)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := openStream(data, fuzzIDs, fuzzCfg)
		checkCategory(t, "NewReader", err)

		ra, n, _, errAt := newReaderAt(bytes.NewReader(data), int64(len(data)), fuzzIDs, fuzzCfg)
		var outAt []byte
		if errAt == nil {
			outAt, errAt = io.ReadAll(io.NewSectionReader(ra, 0, n))
			if errAt == nil && int64(len(outAt)) != n {
				t.Fatalf("NewReaderAt: size %d, read %d", n, len(outAt))
			}
		}
		checkCategory(t, "NewReaderAt", errAt)

		if (err == nil) != (errAt == nil) {
			t.Fatalf("readers disagree: NewReader %v, NewReaderAt %v", err, errAt)
		}
		if err == nil && !bytes.Equal(out, outAt) {
			t.Fatal("readers return different plaintexts")
		}
		if errors.Is(err, ErrNoIdentity) != errors.Is(errAt, ErrNoIdentity) {
			t.Fatalf("readers disagree on the category: NewReader %v, NewReaderAt %v", err, errAt)
		}
		// What the stream released before failing is a prefix of the
		// ReaderAt's view of a valid file, and nothing when the header
		// fails.
		if err != nil && errors.Is(err, ErrNoIdentity) && len(out) > 0 {
			t.Fatal("NewReader released plaintext and then reported ErrNoIdentity")
		}
	})
}

func checkCategory(t *testing.T, name string, err error) {
	t.Helper()
	switch category(err) {
	case "success", "integrity", "no identity":
	default:
		t.Fatalf("%s: error in no single category: %v", name, err)
	}
}

// FuzzDetect checks that Detect never panics, that a decision doesn't
// change when more of the file is seen, and that NewReader follows it.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{"", aesMagic, ageMagicPrefix + "v1\n", armor.Header, " \n\t" + armor.Header + "\n", "PK\x03\x04"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Detect(b)
		if got != FormatUnknown {
			if more := Detect(append(bytes.Clone(b), "\nmore"...)); more != got {
				t.Fatalf("Detect changed from %v to %v with more input", got, more)
			}
		}
		if len(b) > DetectSize && Detect(b[:DetectSize]) != got {
			t.Fatalf("Detect looks beyond DetectSize")
		}
		_, f, err := newReader(bytes.NewReader(b), Identities{}, fuzzCfg)
		if f != got {
			t.Fatalf("NewReader format %v, Detect %v", f, got)
		}
		if got == FormatUnknown && !errors.Is(err, ErrIntegrity) {
			t.Fatalf("unknown format, NewReader err %v", err)
		}
		checkCategory(t, "NewReader", err)
	})
}
