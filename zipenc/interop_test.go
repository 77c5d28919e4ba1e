package zipenc

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/testutil"
	yeka "github.com/yeka/zip"
)

// interopEntries are what the interop tests put in an archive: a CSV of
// three segments with a non-ASCII name, a small one, an empty one.
func interopEntries(t *testing.T) []entry {
	mod := time.Date(2025, 11, 5, 9, 30, 0, 0, time.UTC)
	return []entry{
		{"adresses-Zoë.csv", mod, addrData(t, 2*segmentBlocks*blockSize+4321)},
		{"small.csv", mod.Add(time.Hour), addrData(t, 777)},
		{"empty.csv", mod, nil},
	}
}

// buildSegmented is build, checking that the first entry, when deflated,
// has a segment table: the interop tests prove that other tools read our
// segmented streams and ignore the table.
func buildSegmented(t *testing.T, opts Options, entries ...entry) []byte {
	t.Helper()
	archive := build(t, opts, entries...)
	r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Files()[0]; (len(f.segments) >= 2) != (opts.Level != Stored) {
		t.Fatalf("%s: %d segments", f.Name, len(f.segments))
	}
	return archive
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return out
}

// checkExtracted compares the files under dir with entries.
func checkExtracted(t *testing.T, tool, dir string, entries []entry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dir, e.name)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", tool, err)
			continue
		}
		if !bytes.Equal(got, e.data) {
			t.Errorf("%s: %s differs (%d bytes, want %d)", tool, e.name, len(got), len(e.data))
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(e.modified) {
			t.Errorf("%s: %s modified %v, want %v", tool, e.name, fi.ModTime(), e.modified)
		}
	}
}

func Test7zipReadsOurs(t *testing.T) {
	sz := testutil.RequireTool(t, "7zz")
	entries := interopEntries(t)
	archive := writeTemp(t, "ours.zip", buildSegmented(t, Options{}, entries...))

	out := run(t, sz, "t", "-pCorrect-Horse-42", archive)
	if !bytes.Contains(out, []byte("Everything is Ok")) {
		t.Fatalf("7zz t:\n%s", out)
	}
	dir := t.TempDir()
	run(t, sz, "x", "-pCorrect-Horse-42", "-o"+dir, archive)
	checkExtracted(t, "7zz", dir, entries)

	// 7-Zip itself must see the wrong password.
	if out, err := exec.Command(sz, "t", "-pWrong-Horse-42", archive).CombinedOutput(); err == nil {
		t.Errorf("7zz t with a wrong password succeeded:\n%s", out)
	}
	// And it sees the AES method.
	if out := run(t, sz, "l", "-slt", "-pCorrect-Horse-42", archive); !bytes.Contains(out, []byte("AES-256 Deflate")) {
		t.Errorf("7zz l -slt does not report AES-256 Deflate:\n%s", out)
	}
}

func TestBsdtarReadsOurs(t *testing.T) {
	bsdtar := testutil.RequireTool(t, "bsdtar")
	entries := interopEntries(t)
	for _, opts := range []Options{{}, {Level: Stored}} {
		archive := writeTemp(t, "ours.zip", buildSegmented(t, opts, entries...))
		dir := t.TempDir()
		cmd := exec.Command(bsdtar, "-xf", archive, "--passphrase", "Correct-Horse-42")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bsdtar: %v\n%s", err, out)
		}
		checkExtracted(t, "bsdtar", dir, entries)
		fi, err := os.Stat(filepath.Join(dir, "small.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("bsdtar extracted mode %v, want 0600", fi.Mode().Perm())
		}
	}
}

func TestYekaReadsOurs(t *testing.T) {
	// yeka/zip buffers whole entries: keep the data small.
	entries := []entry{
		{"a.csv", time.Now(), addrData(t, segmentBlocks*blockSize+100)},
		{"b.csv", time.Now(), []byte("x")},
	}
	for _, opts := range []Options{{}, {Level: Stored}} {
		archive := buildSegmented(t, opts, entries...)
		zr, err := yeka.NewReader(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			t.Fatal(err)
		}
		if len(zr.File) != len(entries) {
			t.Fatalf("yeka sees %d entries", len(zr.File))
		}
		for i, f := range zr.File {
			if !f.IsEncrypted() || f.Name != entries[i].name {
				t.Errorf("yeka: %q encrypted=%v", f.Name, f.IsEncrypted())
			}
			f.SetPassword(string(testPassword))
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, entries[i].data) {
				t.Errorf("yeka: %q: %v, %d bytes, want %d", f.Name, err, len(got), len(entries[i].data))
			}
		}
	}
}

func TestWeRead7zip(t *testing.T) {
	sz := testutil.RequireTool(t, "7zz")
	dir := t.TempDir()
	files := map[string][]byte{
		"big.csv":   addrData(t, 2*blockSize+11),
		"tiny.csv":  []byte("a,b\r\n"), // 7-Zip stores what does not shrink
		"empty.csv": nil,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, method := range []string{"AES256", "AES192", "AES128"} {
		for _, level := range []string{"-mx1", "-mx5", "-mx0"} {
			archive := filepath.Join(t.TempDir(), "7z.zip")
			cmd := exec.Command(sz, "a", "-tzip", "-mem="+method, level, "-pCorrect-Horse-42", archive, "big.csv", "tiny.csv", "empty.csv")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("7zz a: %v\n%s", err, out)
			}
			data, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			got := extractAll(t, data, testPassword)
			if len(got) != len(files) {
				t.Fatalf("%s %s: %d entries, want %d", method, level, len(got), len(files))
			}
			for _, e := range got {
				if !bytes.Equal(e.data, files[e.name]) {
					t.Errorf("%s %s: %s differs", method, level, e.name)
				}
			}
			r, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range r.Files() {
				// 7-Zip 23+ writes AE-2 throughout; AE-1 is covered by TestAE1.
				if f.AESVersion != 2 || f.KeyBits != map[string]int{"AES256": 256, "AES192": 192, "AES128": 128}[method] {
					t.Errorf("%s %s: %s is AE-%d with %d-bit keys", method, level, f.Name, f.AESVersion, f.KeyBits)
				}
				if f.Modified.IsZero() || time.Since(f.Modified) > time.Hour {
					t.Errorf("%s: implausible time %v", f.Name, f.Modified)
				}
			}
		}
	}
}
