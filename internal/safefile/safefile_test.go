package safefile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"
)

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.csv")
	f, err := Create(target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("a,b\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("target visible before commit: %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	assertOnly(t, dir, "out.csv")
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("partial")
	f.Abort()
	f.Abort()
	assertOnly(t, dir)
}

func TestNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.csv")
	// The target appears while the output is being written.
	f, err := Create(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.WriteString("ours")
	if err := f.Commit(); !errors.Is(err, ErrExists) {
		t.Fatalf("commit over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "theirs" {
		t.Fatalf("existing file changed to %q", b)
	}
	if _, err := Create(target); !errors.Is(err, ErrExists) {
		t.Fatalf("create over an existing file: %v", err)
	}
	assertOnly(t, dir, "out.csv")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("directory holds %v, want %v", got, names)
	}
	for i := range names {
		if got[i] != names[i] {
			t.Fatalf("directory holds %v, want %v", got, names)
		}
	}
}

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "cache.json")
	for _, content := range []string{"first", "second"} {
		f, err := Replace(target)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(content)
		if b, _ := os.ReadFile(target); content == "second" && string(b) != "first" {
			t.Fatalf("target changed before commit: %q", b)
		}
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(target); string(b) != content {
			t.Fatalf("target holds %q, want %q", b, content)
		}
	}
	fi, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	f, err := Replace(target)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("aborted")
	f.Abort()
	if b, _ := os.ReadFile(target); string(b) != "second" {
		t.Fatalf("abort changed the target to %q", b)
	}
	assertOnly(t, dir, "cache.json")
}

// TestDirect writes through Direct, where the file system allows it (a
// local disk on Linux), in pieces that do not fit its chunks, with a last
// piece shorter than one, and more than one chunk or less: the committed
// file holds exactly what was written, with its mode, and an aborted one
// leaves nothing.
func TestDirect(t *testing.T) {
	data := make([]byte, 3*directChunk+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	for _, size := range []int{0, 100, directChunk, len(data)} {
		dir := t.TempDir()
		target := filepath.Join(dir, "out.csv")
		f, err := Create(target)
		if err != nil {
			t.Fatal(err)
		}
		if on, want := f.Direct(), localDisk(f.File); on != want {
			t.Fatalf("Direct: %v on a file system where it should be %v", on, want)
		}
		for p := data[:size]; len(p) > 0; {
			n := min(len(p), 100_003)
			if m, err := f.Write(p[:n]); m != n || err != nil {
				t.Fatalf("Write: %d of %d bytes, %v", m, n, err)
			}
			p = p[n:]
		}
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(target)
		if err != nil || !bytes.Equal(got, data[:size]) {
			t.Fatalf("%d bytes written, %d read back (%v), or other bytes", size, len(got), err)
		}
		if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}

		f, err = Create(filepath.Join(dir, "aborted.csv"))
		if err != nil {
			t.Fatal(err)
		}
		f.Direct()
		f.Write(data[:size])
		f.Abort()
		assertOnly(t, dir, "out.csv")
	}
	for _, n := range []int{1, directChunk} {
		if b := alignedBuffer(n, directAlign); len(b) != n || (runtime.GOOS == "linux" && uintptr(unsafe.Pointer(&b[0]))%directAlign != 0) {
			t.Fatalf("alignedBuffer(%d): %d bytes at %p", n, len(b), &b[0])
		}
	}
}
