package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
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
