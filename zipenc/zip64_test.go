package zipenc

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testutil"
)

// patternSize divides every chunk size used below, so that a stream of
// repeated patterns can be checked chunk by chunk.
const patternSize = 4 << 10

// pattern is 4 KiB of address CSV: repeated, it deflates to well under 1 %.
func pattern(t testing.TB) []byte { return addrData(t, patternSize) }

// patternWriter checks that what is written to it is pattern repeated.
type patternWriter struct {
	pat []byte
	n   int64
	bad bool
}

func (w *patternWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		off := int(w.n % patternSize)
		k := min(len(p), patternSize-off)
		if !bytes.Equal(p[:k], w.pat[off:off+k]) {
			w.bad = true
		}
		p, w.n = p[k:], w.n+int64(k)
	}
	return n, nil
}

// TestZIP64 streams an entry of more than 4 GiB through the Writer into a
// temporary file (a 142 MB archive) and reads it back with our Reader and
// 7-Zip. It takes about 8 s on two cores (write 3 s, our reader 2 s, 7zz t
// 3 s); it is skipped in -short mode and under the race detector.
func TestZIP64(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 4 GiB; skipped in -short mode")
	}
	if raceEnabled {
		t.Skip("too slow under the race detector; the pipeline is raced by the other tests")
	}
	sz := testutil.RequireTool(t, "7zz")
	const size = 4<<30 + 3*blockSize + patternSize*3 // more than 4 GiB, not a block multiple
	pat := pattern(t)
	chunk := bytes.Repeat(pat, (1<<20)/patternSize)

	start := time.Now()
	path := filepath.Join(t.TempDir(), "big.zip")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	w := NewWriter(file, testPassword, Options{Level: 1})
	mod := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	ew, err := w.Create("big.csv", mod)
	if err != nil {
		t.Fatal(err)
	}
	for left := int64(size); left > 0; {
		n := min(left, int64(len(chunk)))
		if _, err := ew.Write(chunk[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	// A small entry after the big one.
	ew, err = w.Create("small.csv", mod)
	if err != nil {
		t.Fatal(err)
	}
	ew.Write(pat)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := file.Stat()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d bytes as a %d-byte archive in %v", int64(size), fi.Size(), time.Since(start))

	start = time.Now()
	r, err := NewReader(file, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	files := r.Files()
	if len(files) != 2 || files[0].Size != size || files[1].Size != patternSize {
		t.Fatalf("read back %d entries, first %d bytes", len(files), files[0].Size)
	}
	check := &patternWriter{pat: pat}
	n, err := files[0].Extract(check, testPassword)
	if err != nil || n != size || check.n != size || check.bad {
		t.Fatalf("Extract: %d bytes, %v, content ok: %v", n, err, !check.bad)
	}
	t.Logf("our reader: %v", time.Since(start))

	start = time.Now()
	out, err := exec.Command(sz, "t", "-p"+string(testPassword), path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Everything is Ok")) {
		t.Fatalf("7zz t: %v\n%s", err, out)
	}
	t.Logf("7zz t: %v", time.Since(start))
}

// offsetReaderAt presents data as if it started at offset base, with zeros
// before it, without storing the zeros.
type offsetReaderAt struct {
	base int64
	data []byte
}

func (r offsetReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) && off < r.base {
		p[n] = 0
		n++
		off++
	}
	if off-r.base >= int64(len(r.data)) {
		if n == len(p) {
			return n, nil
		}
		return n, io.EOF
	}
	n += copy(p[n:], r.data[off-r.base:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestZIP64Offsets covers local headers and a central directory beyond
// 4 GiB (ZIP64 offsets and the ZIP64 end records) without writing 4 GiB:
// the Writer is told it has already written 5 GiB, and the archive is read
// back with those 5 GiB as zeros, and by bsdtar from a sparse file. (7-Zip
// refuses an archive behind 5 GiB of zeros; TestZIP64 runs it on ZIP64
// sizes.)
func TestZIP64Offsets(t *testing.T) {
	const base = 5 << 30
	var buf bytes.Buffer
	w := NewWriter(&buf, testPassword, Options{})
	w.offset = base
	var entries []entry
	for i := range 3 {
		e := entry{fmt.Sprintf("part%d.csv", i), time.Unix(1.7e9, 0), addrData(t, 1000*(i+1))}
		entries = append(entries, e)
		ew, err := w.Create(e.name, e.modified)
		if err != nil {
			t.Fatal(err)
		}
		ew.Write(e.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), le.AppendUint32(nil, sigEnd64)) {
		t.Fatal("no ZIP64 end of central directory record")
	}

	r, err := NewReader(offsetReaderAt{base, buf.Bytes()}, base+int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range r.Files() {
		var out bytes.Buffer
		if _, err := f.Extract(&out, testPassword); err != nil || !bytes.Equal(out.Bytes(), entries[i].data) || f.headerOffset < base {
			t.Errorf("%s: %v (header at %d)", f.Name, err, f.headerOffset)
		}
	}

	bsdtar := testutil.RequireTool(t, "bsdtar")
	path := filepath.Join(t.TempDir(), "sparse.zip")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.WriteAt(buf.Bytes(), base); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bsdtar, "-xf", path, "--passphrase", string(testPassword))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bsdtar: %v\n%s", err, out)
	}
	checkExtracted(t, "bsdtar", dir, entries)
}
