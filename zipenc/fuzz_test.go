package zipenc

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// memoizeKeys makes deriveKeys remember its results for the rest of the
// test: PBKDF2 would otherwise dominate every fuzz execution.
func memoizeKeys(tb testing.TB) {
	orig := deriveKeys
	var (
		mu   sync.Mutex
		memo = make(map[string]entryKeys)
	)
	deriveKeys = func(password, salt []byte, keyLen int) (entryKeys, error) {
		id := string(password) + "\x00" + string(salt) + "\x00" + strconv.Itoa(keyLen)
		mu.Lock()
		k, ok := memo[id]
		mu.Unlock()
		if ok {
			return k, nil
		}
		k, err := orig(password, salt, keyLen)
		if err == nil {
			mu.Lock()
			if len(memo) > 10000 {
				clear(memo)
			}
			memo[id] = k
			mu.Unlock()
		}
		return k, err
	}
	tb.Cleanup(func() { deriveKeys = orig })
}

// fuzzSeedArchives are small archives of ours; the 7-Zip ones are in
// testdata/fuzz/FuzzReader (see TestWriteFuzzSeeds).
func fuzzSeedArchives(tb testing.TB) map[string][]byte {
	mod := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	return map[string][]byte{
		"ours-deflate": build(tb, Options{}, entry{"a.csv", mod, addrData(tb, 3000)}, entry{"b/Zoë.csv", mod, []byte("x\r\n")}),
		"ours-stored":  build(tb, Options{Level: Stored}, entry{"a.csv", mod, addrData(tb, 200)}),
		"ours-empty":   build(tb, Options{}, entry{"e.csv", mod, nil}),
		"no-entries":   build(tb, Options{}),
	}
}

// FuzzReader feeds arbitrary bytes to NewReader, Verify and Extract with
// the password the seeds were written with. Whatever the input: no panic,
// every error matches ErrIntegrity, ErrPassword or ErrUnsupported (a
// bytes.Reader never fails), nothing reaches dst unless Verify succeeded, and never more than
// the declared size.
func FuzzReader(f *testing.F) {
	memoizeKeys(f)
	for _, a := range fuzzSeedArchives(f) {
		f.Add(a)
		for _, cut := range []int{len(a) / 2, len(a) - 1, len(a) - endLen} {
			if cut > 0 {
				f.Add(a[:cut])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrIntegrity) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("NewReader: %v matches neither ErrIntegrity nor ErrUnsupported", err)
			}
			return
		}
		for i, f := range r.Files() {
			if i == 4 {
				break
			}
			verr := f.Verify(testPassword)
			if verr != nil && !errors.Is(verr, ErrIntegrity) && !errors.Is(verr, ErrPassword) && !errors.Is(verr, ErrUnsupported) {
				t.Fatalf("Verify: unexpected error %v", verr)
			}
			var dst countingWriter
			n, err := f.Extract(&dst, testPassword)
			if err != nil && !errors.Is(err, ErrIntegrity) && !errors.Is(err, ErrPassword) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Extract: unexpected error %v", err)
			}
			if n != dst.n || uint64(dst.n) > f.Size {
				t.Fatalf("Extract wrote %d bytes, returned %d, declared %d", dst.n, n, f.Size)
			}
			if verr != nil && (err == nil || dst.n != 0) {
				t.Fatalf("Verify failed (%v) but Extract wrote %d bytes, error %v", verr, dst.n, err)
			}
			if err == nil && uint64(n) != f.Size {
				t.Fatalf("Extract succeeded with %d bytes, declared %d", n, f.Size)
			}
			checkOnce(t, f, testPassword, err)
		}
	})
}

// refCTR is WinZip AES-CTR written as plainly as possible: one counter
// block per 16 bytes, counter little-endian from 1.
func refCTR(key, src []byte) []byte {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	out := make([]byte, len(src))
	var ctr, ks [aes.BlockSize]byte
	for i := range src {
		if i%aes.BlockSize == 0 {
			binary.LittleEndian.PutUint64(ctr[:], uint64(i/aes.BlockSize+1))
			b.Encrypt(ks[:], ctr[:])
		}
		out[i] = src[i] ^ ks[i%aes.BlockSize]
	}
	return out
}

// FuzzCTR checks the batched CTR against refCTR for any key size, data and
// split of the data into XORKeyStream calls.
func FuzzCTR(f *testing.F) {
	f.Add(uint8(0), []byte("key material"), make([]byte, 100), []byte{1, 15, 16, 17})
	f.Add(uint8(2), []byte{}, make([]byte, 2000), []byte{255, 0, 3})
	f.Fuzz(func(t *testing.T, keySel uint8, keySeed, data, splits []byte) {
		key := make([]byte, 16+8*int(keySel%3))
		copy(key, keySeed)
		want := refCTR(key, data)

		b, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		s := newCTR(b)
		got := bytes.Clone(data)
		rest := got
		for _, sp := range splits {
			n := min(len(rest), int(sp)*7)
			s.XORKeyStream(rest[:n], rest[:n])
			rest = rest[n:]
		}
		s.XORKeyStream(rest, rest)
		if !bytes.Equal(got, want) {
			t.Fatalf("CTR mismatch for %d bytes, key %d bytes, splits %v", len(data), len(key), splits)
		}
	})
}

// TestWriteFuzzSeeds regenerates the checked-in seed corpus of FuzzReader
// (our archives, 7-Zip's, truncations) when ZIPENC_WRITE_SEEDS is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("ZIPENC_WRITE_SEEDS") == "" {
		t.Skip("set ZIPENC_WRITE_SEEDS=1 to regenerate testdata/fuzz/FuzzReader")
	}
	seeds := fuzzSeedArchives(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.csv"), addrData(t, 2500), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny.csv"), []byte("q\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"AES256", "AES128"} {
		out := filepath.Join(t.TempDir(), "7z.zip")
		cmd := exec.Command("7zz", "a", "-tzip", "-mem="+m, "-p"+string(testPassword), out, "a.csv", "tiny.csv")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("7zz: %v\n%s", err, b)
		}
		a, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		seeds["7zip-"+m] = a
	}
	seeds["ours-deflate-truncated"] = seeds["ours-deflate"][:len(seeds["ours-deflate"])-30]
	seeds["7zip-AES256-truncated"] = seeds["7zip-AES256"][:len(seeds["7zip-AES256"])/2]
	corpus := filepath.Join("testdata", "fuzz", "FuzzReader")
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, a := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(a)) + ")\n"
		if err := os.WriteFile(filepath.Join(corpus, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFuzzSeeds checks that the complete archives in the checked-in seed
// corpus, 7-Zip's included, extract: a fuzz seed that no longer parses would
// quietly stop guiding the fuzzer.
func TestFuzzSeeds(t *testing.T) {
	for _, name := range []string{"seed-7zip-AES256", "seed-7zip-AES128", "seed-ours-deflate", "seed-ours-stored", "seed-ours-empty"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzReader", name))
		if err != nil {
			t.Fatal(err)
		}
		lit := bytes.TrimSuffix(bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("go test fuzz v1\n"))), []byte(")"))
		s, err := strconv.Unquote(string(bytes.TrimPrefix(lit, []byte("[]byte("))))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := extractAll(t, []byte(s), testPassword); len(got) == 0 {
			t.Errorf("%s: no entries", name)
		}
	}
}
