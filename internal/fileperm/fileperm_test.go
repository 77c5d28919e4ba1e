package fileperm

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// These tests run on every platform: here on Linux, and on Windows they
// check the DACL through the same Check.

func requirePrivate(t *testing.T, path string) {
	t.Helper()
	e, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if e != nil {
		t.Fatalf("%s is exposed: %s (fix: %s)", path, e.Detail, e.Fix)
	}
}

func TestOpenPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, line := range []string{"one\n", "two\n"} {
		f, err := OpenPrivate(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(line); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "one\ntwo\n" {
		t.Fatalf("appended file holds %q", b)
	}
	requirePrivate(t, path)
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
		}
	}

	if _, err := OpenPrivate(path, os.O_RDWR|os.O_CREATE|os.O_EXCL); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("O_EXCL over an existing file: %v, want fs.ErrExist", err)
	}
	f, err := OpenPrivate(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new")
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(f); err != nil || string(b) != "new" {
		t.Fatalf("read back %q, %v after O_TRUNC", b, err)
	}
	f.Close()
	if _, err := OpenPrivate(filepath.Join(dir, "missing"), os.O_RDONLY); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("opening a missing file without O_CREATE: %v", err)
	}
}

func TestCreateTemp(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 20 {
		f, err := CreateTemp(dir, ".journal.*.tmp")
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f.Name())
		if filepath.Dir(f.Name()) != dir || !strings.HasPrefix(name, ".journal.") || !strings.HasSuffix(name, ".tmp") || seen[name] {
			t.Fatalf("temp file %s (seen before: %v)", f.Name(), seen[name])
		}
		seen[name] = true
		f.Close()
		requirePrivate(t, f.Name())
	}
	if _, err := CreateTemp(dir, "a/b*"); err == nil {
		t.Fatal("a pattern with a separator was accepted")
	}
	f, err := CreateTemp(dir, "nostar")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if name := filepath.Base(f.Name()); !strings.HasPrefix(name, "nostar") || len(name) == len("nostar") {
		t.Fatalf("pattern without * gave %s", name)
	}
}

func TestMkdirAll(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	if err := MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(dir); err != nil {
		t.Fatalf("second MkdirAll: %v", err)
	}
	for _, d := range []string{filepath.Join(base, "a"), dir} {
		requirePrivate(t, d)
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", d, err)
		} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: mode %04o, want 0700", d, fi.Mode().Perm())
		}
	}
	// A file created inside by other means is private through the
	// directory: on Windows by inheritance, on Unix by the directory's
	// mode (Check looks at the file alone, so only Windows checks it).
	if runtime.GOOS == "windows" {
		path := filepath.Join(dir, "plain")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		requirePrivate(t, path)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if err := MkdirAll(filepath.Join(file, "sub")); err == nil {
		t.Fatal("MkdirAll below a file succeeded")
	}
}

func TestCheckAndRestrict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zip.pw")
	if err := os.WriteFile(path, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		// Whatever the temp folder's ACL, Restrict makes it private.
		if err := Restrict(path); err != nil {
			t.Fatal(err)
		}
		requirePrivate(t, path)
		return
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	e, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if e == nil || e.Detail != "mode 0640" || e.Fix != "chmod 600 "+path {
		t.Fatalf("Check of a 0640 file = %+v", e)
	}
	if err := Restrict(path); err != nil {
		t.Fatal(err)
	}
	requirePrivate(t, path)
	if _, err := Check(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Check of a missing file: %v", err)
	}
}
