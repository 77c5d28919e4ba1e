package zipenc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
)

var testPassword = []byte("Correct-Horse-42")

// addrCache holds generated address CSV by size; generating is slow under
// the race detector.
var addrCache sync.Map

// addrData returns at least size bytes of address CSV, truncated to size.
func addrData(tb testing.TB, size int) []byte {
	tb.Helper()
	if v, ok := addrCache.Load(size); ok {
		return v.([]byte)
	}
	var buf bytes.Buffer
	if _, err := addrgen.Write(&buf, int64(size), 1); err != nil {
		tb.Fatal(err)
	}
	b := buf.Bytes()[:size]
	addrCache.Store(size, b)
	return b
}

type entry struct {
	name     string
	modified time.Time
	data     []byte
}

// build writes entries into an in-memory archive. Data is written in
// uneven pieces to exercise block boundaries.
func build(tb testing.TB, opts Options, entries ...entry) []byte {
	tb.Helper()
	var out bytes.Buffer
	w := NewWriter(&out, testPassword, opts)
	for _, e := range entries {
		ew, err := w.Create(e.name, e.modified)
		if err != nil {
			tb.Fatalf("Create(%q): %v", e.name, err)
		}
		rng := rand.New(rand.NewPCG(uint64(len(e.data)), 7))
		for p := e.data; len(p) > 0; {
			n := min(len(p), 1+rng.IntN(300<<10))
			if _, err := ew.Write(p[:n]); err != nil {
				tb.Fatalf("Write: %v", err)
			}
			p = p[n:]
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return out.Bytes()
}

// extractAll reads archive with our Reader and returns the entries.
func extractAll(tb testing.TB, archive []byte, password []byte) []entry {
	tb.Helper()
	r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		tb.Fatalf("NewReader: %v", err)
	}
	var got []entry
	for _, f := range r.Files() {
		if err := f.Verify(password); err != nil {
			tb.Fatalf("Verify(%q): %v", f.Name, err)
		}
		var buf bytes.Buffer
		n, err := f.Extract(&buf, password)
		if err != nil {
			tb.Fatalf("Extract(%q): %v", f.Name, err)
		}
		if n != int64(buf.Len()) || uint64(n) != f.Size {
			tb.Fatalf("Extract(%q) = %d bytes, buffer %d, declared %d", f.Name, n, buf.Len(), f.Size)
		}
		got = append(got, entry{f.Name, f.Modified, buf.Bytes()})
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	mod := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	rnd := make([]byte, 3<<20+17) // incompressible
	rand.NewChaCha8([32]byte{1}).Read(rnd)
	tests := []struct {
		name  string
		opts  Options
		size  int
		data  []byte
		level int
	}{
		{name: "empty", size: 0},
		{name: "one byte", size: 1},
		{name: "small", size: 1000},
		{name: "exactly one block", size: blockSize},
		{name: "one block plus one", size: blockSize + 1},
		{name: "multi-block odd", size: 5*blockSize + 12345},
		{name: "exact multiple of blocks", size: 3 * blockSize},
		{name: "level 1", opts: Options{Level: 1}, size: 3*blockSize + 1},
		{name: "level 5", opts: Options{Level: 5}, size: 2*blockSize + 99},
		{name: "level 9", opts: Options{Level: 9}, size: 2*blockSize + 7},
		{name: "stored", opts: Options{Level: Stored}, size: 200<<10 + 3},
		{name: "stored empty", opts: Options{Level: Stored}, size: 0},
		{name: "one worker", opts: Options{Concurrency: 1}, size: 4*blockSize + 5},
		{name: "many workers", opts: Options{Concurrency: 7}, size: 9*blockSize + 5},
		{name: "incompressible", data: rnd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == nil {
				data = addrData(t, tt.size)
			}
			archive := build(t, tt.opts, entry{"addresses.csv", mod, data})
			got := extractAll(t, archive, testPassword)
			if len(got) != 1 || !bytes.Equal(got[0].data, data) {
				t.Fatalf("round trip of %d bytes failed", len(data))
			}
			if !got[0].modified.Equal(mod) || got[0].name != "addresses.csv" {
				t.Errorf("got %q %v, want %q %v", got[0].name, got[0].modified, "addresses.csv", mod)
			}
		})
	}
}

func TestSeveralEntries(t *testing.T) {
	var entries []entry
	for i, size := range []int{0, 10, blockSize + 3, 70000, 2} {
		entries = append(entries, entry{
			name:     fmt.Sprintf("dir/part-%d-Zoë.csv", i),
			modified: time.Date(2020+i, time.Month(1+i), 1+i, i, 2*i, 2*i, 0, time.Local),
			data:     addrData(t, size),
		})
	}
	archive := build(t, Options{}, entries...)
	got := extractAll(t, archive, testPassword)
	if len(got) != len(entries) {
		t.Fatalf("got %d entries, want %d", len(got), len(entries))
	}
	for i := range entries {
		if got[i].name != entries[i].name || !got[i].modified.Equal(entries[i].modified) || !bytes.Equal(got[i].data, entries[i].data) {
			t.Errorf("entry %d: got %q %v (%d bytes), want %q %v (%d bytes)", i,
				got[i].name, got[i].modified, len(got[i].data), entries[i].name, entries[i].modified, len(entries[i].data))
		}
	}
	r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Files() {
		if f.AESVersion != 2 || f.KeyBits != 256 || f.Method != methodDeflate || f.CRC32 != 0 {
			t.Errorf("%q: AE-%d, %d bits, method %d, CRC %08x; want AE-2, 256, 8, 0", f.Name, f.AESVersion, f.KeyBits, f.Method, f.CRC32)
		}
	}
}

func TestTimes(t *testing.T) {
	for _, mod := range []time.Time{
		time.Date(2026, 7, 1, 23, 59, 59, 0, time.UTC), // odd second: DOS cannot hold it
		time.Date(1999, 12, 31, 12, 0, 0, 0, time.FixedZone("X", 3600)),
		time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		archive := build(t, Options{}, entry{"a.csv", mod, []byte("x")})
		got := extractAll(t, archive, testPassword)
		if !got[0].modified.Equal(mod) {
			t.Errorf("modified %v read back as %v", mod, got[0].modified)
		}
	}
	// Before 1970 there is no Unix timestamp, only DOS 1980-01-01.
	archive := build(t, Options{}, entry{"a.csv", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), []byte("x")})
	if got := extractAll(t, archive, testPassword); got[0].modified.Year() != 1980 {
		t.Errorf("pre-1980 time read back as %v, want 1980", got[0].modified)
	}
}

func TestWriterErrors(t *testing.T) {
	for _, name := range []string{"", "/etc/passwd", "a/../b", "..", "./a", `a\b`, "a\x00b", "C:/x", "\xff.csv"} {
		w := NewWriter(io.Discard, testPassword, Options{})
		if _, err := w.Create(name, time.Now()); err == nil {
			t.Errorf("Create(%q) succeeded", name)
		}
	}
	w := NewWriter(io.Discard, testPassword, Options{})
	if _, err := w.Create("a", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create("a", time.Now()); err == nil {
		t.Error("duplicate name accepted")
	}
	if _, err := NewWriter(io.Discard, nil, Options{}).Create("a", time.Now()); err == nil {
		t.Error("empty password accepted")
	}
	if _, err := NewWriter(io.Discard, testPassword, Options{Level: 10}).Create("a", time.Now()); err == nil {
		t.Error("level 10 accepted")
	}

	w = NewWriter(io.Discard, testPassword, Options{})
	ew, _ := w.Create("a", time.Now())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ew.Write([]byte("x")); err == nil {
		t.Error("write after Close succeeded")
	}
	if _, err := w.Create("b", time.Now()); err == nil {
		t.Error("Create after Close succeeded")
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

var errFail = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errFail
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterDstError(t *testing.T) {
	for _, limit := range []int{0, 10, 100, 300 << 10, 1 << 20} {
		w := NewWriter(&failWriter{n: limit}, testPassword, Options{Concurrency: 2})
		ew, err := w.Create("a.csv", time.Now())
		if err == nil {
			data := addrData(t, 8*blockSize)
			for i := 0; i < 4 && err == nil; i++ {
				_, err = ew.Write(data)
			}
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if !errors.Is(err, errFail) {
			t.Errorf("limit %d: got %v, want %v", limit, err, errFail)
		}
	}
}

func TestReaderRejectsNames(t *testing.T) {
	// Rewrite the name in both headers of a valid archive.
	const good = "abcdefgh.csv"
	archive := build(t, Options{}, entry{good, time.Now(), []byte("hello")})
	for _, bad := range []string{"/bcdefgh.csv", "../defgh.csv", "ab\\defgh.csv", "ab\x00defgh.csv", "C:bcdefgh.cs", "abc/../h.csv", "a/./efgh.csv"} {
		a := bytes.ReplaceAll(bytes.Clone(archive), []byte(good), []byte(bad))
		_, err := NewReader(bytes.NewReader(a), int64(len(a)))
		if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "name") {
			t.Errorf("name %q: got %v, want a name error matching ErrIntegrity", bad, err)
		}
	}
}

// controlNames are entry names that would reach an operator's terminal as
// escape sequences or reorder what it shows (issue 15, item 2).
var controlNames = []string{
	"\x1b]0;pwned\a\x1b[31mRED.csv", // set the window title, then red
	"tab\there.csv",
	"line\nbreak.csv",
	"cr\rreturn.csv",
	"del\x7f.csv",
	"csi\u009b31m.csv",         // C1 control: 8-bit CSI
	"abc\u202evsc.exe",         // right-to-left override
	"isolate\u2066x\u2069.csv", // bidi isolate
}

func TestWriterRefusesControlNames(t *testing.T) {
	for _, name := range controlNames {
		var out bytes.Buffer
		w := NewWriter(&out, testPassword, Options{})
		_, err := w.Create(name, time.Now())
		if err == nil || !strings.Contains(err.Error(), "control character") {
			t.Errorf("Create(%q): %v, want a control character error", name, err)
		}
		if strings.Contains(out.String(), name) {
			t.Errorf("Create(%q) wrote the name", name)
		}
	}
}

func TestReaderRefusesControlNames(t *testing.T) {
	for _, bad := range controlNames {
		// A valid archive whose name is as long as bad, rewritten in both
		// headers; a non-ASCII placeholder sets the UTF-8 flag.
		good := "é" + strings.Repeat("g", len(bad)-len("é"))
		archive := build(t, Options{}, entry{good, time.Now(), []byte("hello")})
		a := bytes.ReplaceAll(archive, []byte(good), []byte(bad))
		_, err := NewReader(bytes.NewReader(a), int64(len(a)))
		if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "control character") {
			t.Errorf("name %q: got %v, want a control character error matching ErrIntegrity", bad, err)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\x1b\a\t\n\r\x7f\u009b\u202e\u2066") {
			t.Errorf("name %q: the error message carries the control character: %q", bad, err)
		}
	}
}
