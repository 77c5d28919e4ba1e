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

	"github.com/xfer-dev/xfer/internal/testkit/testutil"
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
// 7-Zip, and bsdtar from a pipe. It takes about 8 s on two cores (write
// 3 s, our reader 2 s, 7zz t 3 s) plus bsdtar's inflate; it is skipped in
// -short mode and under the race detector.
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

	// bsdtar reading a pipe goes by the local headers and data
	// descriptors: it finds small.csv only if it read the big entry's
	// 8-byte descriptor sizes, which the local ZIP64 field announces. Both
	// entries go to stdout, small.csv continuing the pattern.
	start = time.Now()
	bsdtar := testutil.RequireTool(t, "bsdtar")
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	check = &patternWriter{pat: pat}
	var stderr bytes.Buffer
	cmd := exec.Command(bsdtar, "-xOf", "-", "--passphrase", string(testPassword))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = file, check, &stderr
	if err := cmd.Run(); err != nil || check.n != size+patternSize || check.bad {
		t.Fatalf("bsdtar from a pipe: %v, %d bytes (want %d), content ok: %v\n%s", err, check.n, int64(size+patternSize), !check.bad, stderr.Bytes())
	}
	t.Logf("bsdtar from a pipe: %v", time.Since(start))
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

// TestLocalZIP64 checks what APPNOTE 4.3.9.2 asks of an entry whose size is
// unknown when its local header is written (every entry of the streaming
// Writer): a ZIP64 extra field in the local header, with the 32-bit sizes
// saturated, and the data descriptor's sizes as 8-byte values, which is
// what a reader that follows the local headers (bsdtar reading a pipe)
// expects once it has seen that field.
func TestLocalZIP64(t *testing.T) {
	entries := []entry{
		{"a.csv", time.Unix(1.7e9, 0), addrData(t, 2*blockSize+3)},
		{"b.csv", time.Unix(1.7e9, 0), addrData(t, 100)},
	}
	for _, opts := range []Options{{}, {Level: Stored}} {
		archive := build(t, opts, entries...)
		r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range r.Files() {
			h := archive[f.headerOffset:]
			if got := le.Uint32(h[18:]); got != max32 || le.Uint32(h[22:]) != max32 {
				t.Errorf("%s: local sizes %#x, %#x; want both %#x", f.Name, got, le.Uint32(h[22:]), uint32(max32))
			}
			nameLen, extraLen := int(le.Uint16(h[26:])), int(le.Uint16(h[28:]))
			var z64 []byte
			forEachExtra(h[localHeaderLen+nameLen:localHeaderLen+nameLen+extraLen], func(id uint16, data []byte) error {
				if id == extraZip64 {
					z64 = data
				}
				return nil
			})
			if len(z64) != 16 {
				t.Errorf("%s: local ZIP64 extra field %x, want 16 bytes", f.Name, z64)
			}
			d := archive[f.dataOffset+int64(f.CompressedSize):]
			if le.Uint32(d) != sigDescriptor || le.Uint64(d[8:]) != f.CompressedSize || le.Uint64(d[16:]) != f.Size {
				t.Errorf("%s: data descriptor %x, want signature, CRC, 8-byte sizes %d and %d", f.Name, d[:24], f.CompressedSize, f.Size)
			}
		}

		// bsdtar reading a pipe has only the local headers and data
		// descriptors to go by. (It cannot find the end of a stored entry
		// that way, so only deflated ones.)
		if opts.Level == Stored {
			continue
		}
		bsdtar := testutil.RequireTool(t, "bsdtar")
		dir := t.TempDir()
		cmd := exec.Command(bsdtar, "-xf", "-", "--passphrase", string(testPassword))
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(archive)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bsdtar from a pipe: %v\n%s", err, out)
		}
		checkExtracted(t, "bsdtar from a pipe", dir, entries)
	}
}

// TestZIP64FieldHoldsMax32 has the ZIP64 extra field supply a value of
// exactly 0xFFFFFFFF (a local header at that offset), which the 32-bit
// field cannot hold and which the reader must take from the ZIP64 field.
func TestZIP64FieldHoldsMax32(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, testPassword, Options{})
	w.offset = max32
	data := addrData(t, 5000)
	ew, err := w.Create("a.csv", time.Unix(1.7e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	ew.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(offsetReaderAt{max32, buf.Bytes()}, max32+int64(buf.Len()))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	f := r.Files()[0]
	var out bytes.Buffer
	if _, err := f.Extract(&out, testPassword); err != nil || !bytes.Equal(out.Bytes(), data) || f.headerOffset != max32 {
		t.Fatalf("Extract: %v (header at %d)", err, f.headerOffset)
	}
}
