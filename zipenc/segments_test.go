package zipenc

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/klauspost/compress/flate"
)

// withParallel turns the parallel inflate on for the rest of a test.
func withParallel(tb testing.TB) {
	old := parallelInflate
	parallelInflate = true
	tb.Cleanup(func() { parallelInflate = old })
}

// centralExtra returns the offsets of the first central directory header's
// extra field in a small (non-ZIP64) archive.
func centralExtra(t testing.TB, archive []byte) (hdr, extraStart, extraEnd int) {
	t.Helper()
	end := len(archive) - endLen
	if le.Uint32(archive[end:]) != sigEnd {
		t.Fatal("no end record at the end")
	}
	hdr = int(le.Uint32(archive[end+16:]))
	nameLen, extraLen := int(le.Uint16(archive[hdr+28:])), int(le.Uint16(archive[hdr+30:]))
	extraStart = hdr + centralHeaderLen + nameLen
	return hdr, extraStart, extraStart + extraLen
}

// withSegmentTable returns archive with the first entry's segment table
// replaced by table (removed if nil, added if absent), the central
// directory's lengths adjusted: the table is outside what the HMAC
// covers, so anyone can do this.
func withSegmentTable(t testing.TB, archive, table []byte) []byte {
	t.Helper()
	hdr, start, end := centralExtra(t, archive)
	var extra []byte
	forEachExtra(archive[start:end], func(id uint16, data []byte) error {
		if id != extraSegments {
			extra = appendExtraHeader(extra, id, uint16(len(data)))
			extra = append(extra, data...)
		}
		return nil
	})
	if table != nil {
		extra = appendExtraHeader(extra, extraSegments, uint16(len(table)))
		extra = append(extra, table...)
	}
	out := bytes.Clone(archive[:start])
	le.PutUint16(out[hdr+30:], uint16(len(extra)))
	out = append(out, extra...)
	out = append(out, archive[end:]...)
	e := len(out) - endLen
	le.PutUint32(out[e+12:], le.Uint32(out[e+12:])+uint32(len(extra))-uint32(end-start))
	return out
}

// rawArchive returns an archive whose one entry holds the deflate stream
// as it is, declared as usize bytes, with the segment table table (none if
// nil): hostile content behind a valid MAC, as whoever knows the zip
// password can make.
func rawArchive(t testing.TB, stream []byte, usize uint64, table []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, testPassword, Options{})
	ew, err := w.Create("raw.csv", time.Unix(1.7e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	e := ew.(*entryWriter)
	w.putBlock(e.cur)
	e.cur, e.level = nil, Stored // finish must not compress anything
	if err := e.emit(bytes.Clone(stream)); err != nil {
		t.Fatal(err)
	}
	e.usize = usize
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return withSegmentTable(t, buf.Bytes(), table)
}

// segmentedStream deflates data in segments of seg bytes the way the
// Writer does (each with no history, all but the last ending on a sync
// flush) and returns the stream and each segment's compressed length.
func segmentedStream(t testing.TB, data []byte, seg int) ([]byte, []uint64) {
	t.Helper()
	var out bytes.Buffer
	var lens []uint64
	fw, err := flate.NewWriter(nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		n := min(seg, len(data))
		start := out.Len()
		fw.Reset(&out)
		fw.Write(data[:n])
		if n == len(data) {
			fw.Close()
		} else {
			fw.Flush()
		}
		lens = append(lens, uint64(out.Len()-start))
		data = data[n:]
	}
	return out.Bytes(), lens
}

// checkParallelIsSerial opens archive and extracts its first entry with
// its segment table and without it (serially, as 7-Zip and older xfer
// do). Whatever the table says: a table NewReader accepts gives either an
// integrity error or exactly the serial result. It returns the parallel
// error.
func checkParallelIsSerial(t *testing.T, archive []byte) error {
	t.Helper()
	r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		if !errors.Is(err, ErrIntegrity) {
			t.Fatalf("NewReader: %v does not match ErrIntegrity", err)
		}
		return err
	}
	f := r.Files()[0]
	serialFile := *f
	serialFile.segments = nil
	var par, ser bytes.Buffer
	n, perr := f.Extract(&par, testPassword)
	_, serr := serialFile.Extract(&ser, testPassword)
	if perr != nil {
		if !errors.Is(perr, ErrIntegrity) {
			t.Fatalf("parallel: %v does not match ErrIntegrity", perr)
		}
		return perr
	}
	if serr != nil || !bytes.Equal(par.Bytes(), ser.Bytes()) || n != int64(par.Len()) {
		t.Fatalf("parallel gave %d bytes, serial %d bytes and %v", par.Len(), ser.Len(), serr)
	}
	// And in one pass, as pull does it.
	var once bytes.Buffer
	if _, err := f.ExtractOnce(&once, testPassword); err != nil || !bytes.Equal(once.Bytes(), par.Bytes()) {
		t.Fatalf("ExtractOnce: %v", err)
	}
	return nil
}

// TestSegmentsWritten checks what the Writer records: a table whose
// segments are each segmentBlocks blocks, that the reader accepts and
// inflates in parallel to the content, one worker or several.
func TestSegmentsWritten(t *testing.T) {
	withParallel(t)
	defer setSegmentBlocks(1)() // small segments: the same code, less time under -race
	for _, size := range []int{segmentBlocks * blockSize, segmentBlocks*blockSize + 1, 3*segmentBlocks*blockSize - 7} {
		data := addrData(t, size)
		archive := build(t, Options{}, entry{"a.csv", time.Now(), data})
		f, _ := layout(t, archive)
		want := (size + segmentBlocks*blockSize - 1) / (segmentBlocks * blockSize)
		// One segment has no table: the Reader makes the whole stream one
		// (wholeSegment).
		if len(f.segments) != want {
			t.Fatalf("%d bytes: %d segments, want %d", size, len(f.segments), want)
		}
		for _, workers := range []int{1, 2, 5} {
			inflateWorkers = workers
			got := extractAll(t, archive, testPassword)
			inflateWorkers = 0
			if !bytes.Equal(got[0].data, data) {
				t.Fatalf("%d bytes, %d workers: content differs", size, workers)
			}
		}
		if err := checkParallelIsSerial(t, archive); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
	}
}

// writeSizes is a writer that keeps what it is given and the largest
// single write.
type writeSizes struct {
	bytes.Buffer
	largest int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	return w.Buffer.Write(p)
}

// TestSegmentsWrittenInPieces checks that the parallel inflate hands its
// destination the whole content in writes no larger than the serial
// path's buffers (large writes cost several times the system time in a
// file's page cache; see writeChunks), and does not change the content.
func TestSegmentsWrittenInPieces(t *testing.T) {
	withParallel(t)
	data := addrData(t, 2*segmentBlocks*blockSize+12345)
	archive := build(t, Options{}, entry{"a.csv", time.Now(), data})
	f, _ := layout(t, archive)
	if len(f.segments) < 2 {
		t.Fatalf("%d segments, want a table", len(f.segments))
	}
	for _, once := range []bool{false, true} {
		var w writeSizes
		extract := f.Extract
		if once {
			extract = f.ExtractOnce
		}
		if _, err := extract(&w, testPassword); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Bytes(), data) {
			t.Fatalf("once=%v: content differs", once)
		}
		if w.largest > pipeBufSize {
			t.Errorf("once=%v: a write of %d bytes, want at most %d", once, w.largest, pipeBufSize)
		}
	}
}

// TestSegmentTableLies feeds the Reader tables that disagree with the
// stream they describe: each must end in an integrity error or, where the
// lie happens to be true, in the serial result.
func TestSegmentTableLies(t *testing.T) {
	withParallel(t)
	cryptotest.SetGlobalRandom(t, 2)
	defer setSegmentBlocks(2)() // two blocks a segment: the second is primed
	S := uint64(segmentBlocks * blockSize)
	data := addrData(t, int(3*S-12345))
	archive := build(t, Options{}, entry{"a.csv", time.Now(), data})
	f, _ := layout(t, archive)
	var c []uint64
	for _, s := range f.segments {
		c = append(c, s.clen)
	}
	// The Writer's own per-block lengths: the blocks within a segment are
	// primed with the previous block's window.
	var blocks []uint64
	var stream []byte
	fw, _ := flate.NewWriter(nil, DefaultLevel)
	for off := 0; off < len(data); off += blockSize {
		b := &block{in: data[off:min(off+blockSize, len(data))], last: off+blockSize >= len(data)}
		if uint64(off)%S != 0 {
			copy(b.dict[:], data[off-dictSize:off])
			b.hasDict = true
		}
		compressBlock(b, fw)
		blocks = append(blocks, uint64(b.out.Len()))
		stream = append(stream, b.out.Bytes()...)
	}

	tests := []struct {
		name  string
		table []byte
		ok    bool
	}{
		{"as written", encodeSegments(S, c), true},
		{"two segments merged", encodeSegments(2*S, []uint64{c[0] + c[1], c[2]}), true},
		{"boundary 1 byte early", encodeSegments(S, []uint64{c[0] - 1, c[1] + 1, c[2]}), false},
		{"boundary 1 byte late", encodeSegments(S, []uint64{c[0] + 1, c[1] - 1, c[2]}), false},
		{"boundary 4 bytes early (inside the sync flush)", encodeSegments(S, []uint64{c[0] - 4, c[1] + 4, c[2]}), false},
		{"segment size 1 byte short", encodeSegments(S-1, c), false},
		{"segment size 1 byte long", encodeSegments(S+1, c), false},
		{"every block a segment (back-references across)", encodeSegments(blockSize, blocks), false},
		{"lengths overlap", encodeSegments(S, []uint64{c[0], c[1] + 10, c[2]}), false},
		{"lengths leave a gap", encodeSegments(S, []uint64{c[0], c[1] - 10, c[2]}), false},
		{"one segment", encodeSegments(S, []uint64{c[0] + c[1] + c[2]}), false},
		{"segments swapped", encodeSegments(S, []uint64{c[1], c[0], c[2]}), false},
		{"trailing byte", append(encodeSegments(S, c), 0), false},
		{"version 2", append([]byte{2}, encodeSegments(S, c)[1:]...), false},
		{"empty", []byte{}, false},
	}
	if !bytes.Equal(stream, mustStream(t, archive)) {
		t.Fatal("the test's per-block compression differs from the Writer's")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkParallelIsSerial(t, withSegmentTable(t, archive, tt.table))
			t.Log(err)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want success %v", err, tt.ok)
			}
		})
	}
}

// mustStream decrypts the first entry's deflate stream.
func mustStream(t *testing.T, archive []byte) []byte {
	t.Helper()
	f, _ := layout(t, archive)
	k, err := f.keys(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newEntryCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	off, n := f.ciphertext()
	out := bytes.Clone(archive[off : off+n])
	c.ctr.XORKeyStream(out, out)
	return out
}

// TestSegmentStreamLies keeps honest-looking tables over hostile deflate
// streams behind a valid MAC.
func TestSegmentStreamLies(t *testing.T) {
	withParallel(t)
	cryptotest.SetGlobalRandom(t, 3)
	a, b := addrData(t, 5000), addrData(t, 7000)[:3000]
	whole := append(bytes.Clone(a), b...)
	honest, lens := segmentedStream(t, whole, len(a))
	var finalA bytes.Buffer // a complete stream: its final block ends segment 0
	fw, _ := flate.NewWriter(&finalA, 5)
	fw.Write(a)
	fw.Close()
	var restB bytes.Buffer
	fw.Reset(&restB)
	fw.Write(b)
	fw.Close()
	// Segment 1 with a back-reference into segment 0: primed with a.
	var primed bytes.Buffer
	fw.ResetDict(&primed, a[len(a)-dictSize%len(a):])
	fw.Write(b)
	fw.Close()

	tests := []struct {
		name   string
		stream []byte
		table  []byte
		ok     bool
	}{
		{"honest", honest, encodeSegments(uint64(len(a)), lens), true},
		{"final block inside a segment", append(finalA.Bytes(), restB.Bytes()...), encodeSegments(uint64(len(a)), []uint64{uint64(finalA.Len()), uint64(restB.Len())}), false},
		{"back-reference before the segment", append(bytes.Clone(honest[:lens[0]]), primed.Bytes()...), encodeSegments(uint64(len(a)), []uint64{lens[0], uint64(primed.Len())}), false},
		{"sync flush cut off", append(bytes.Clone(honest[:lens[0]-4]), honest[lens[0]:]...), encodeSegments(uint64(len(a)), []uint64{lens[0] - 4, lens[1]}), false},
		{"garbage after the final block", append(bytes.Clone(honest), 0), encodeSegments(uint64(len(a)), []uint64{lens[0], lens[1] + 1}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkParallelIsSerial(t, rawArchive(t, tt.stream, uint64(len(whole)), tt.table))
			t.Log(err)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want success %v", err, tt.ok)
			}
		})
	}
}

// FuzzSegments builds an entry from a fuzzed deflate stream, declared size
// and segment table, behind a valid MAC, and checks that the parallel
// inflate gives an integrity error or exactly what the serial one gives.
// Each run writes an archive: use -fuzzminimizetime 5s or so, or the
// minimizing of large inputs looks like a stall.
func FuzzSegments(f *testing.F) {
	memoizeKeys(f)
	withParallel(f)
	data := addrData(f, 3000)
	for _, seg := range []int{1000, 1500, 2999} {
		stream, lens := segmentedStream(f, data, seg)
		f.Add(stream, uint16(len(data)), encodeSegments(uint64(seg), lens))
	}
	f.Fuzz(func(t *testing.T, stream []byte, usize uint16, table []byte) {
		checkParallelIsSerial(t, rawArchive(t, stream, uint64(usize), table))
	})
}

// FuzzSegmentTable checks the table parser: no panic, and what it accepts
// tiles the stream and the content exactly.
func FuzzSegmentTable(f *testing.F) {
	f.Add(encodeSegments(4<<20, []uint64{1 << 20, 1 << 20, 5}), uint64(2<<20+5), uint64(8<<20+1))
	f.Add(encodeSegments(1, []uint64{1, 1}), uint64(2), uint64(2))
	f.Fuzz(func(t *testing.T, table []byte, streamLen, size uint64) {
		segs, err := parseSegments(table, streamLen, size)
		if err != nil {
			return
		}
		var coff, uoff uint64
		for i, s := range segs {
			if s.coff != coff || s.uoff != uoff || s.clen == 0 || s.ulen == 0 || s.ulen > maxSegment || s.clen > maxSegmentCompressed(s.ulen) {
				t.Fatalf("segment %d: %+v", i, s)
			}
			if i < len(segs)-1 && s.ulen != segs[0].ulen {
				t.Fatalf("segment %d: %d bytes, first %d", i, s.ulen, segs[0].ulen)
			}
			coff += s.clen
			uoff += s.ulen
		}
		if len(segs) < 2 || coff != streamLen || uoff != size {
			t.Fatalf("%d segments cover %d/%d and %d/%d", len(segs), coff, streamLen, uoff, size)
		}
	})
}

// TestSegmentCost measures what independent segments cost in size on
// address CSV against the same stream with every block primed (issue 17:
// at most 0.5 %).
func TestSegmentCost(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 64 MiB twice")
	}
	data := addrData(t, 64<<20)
	segmented := len(build(t, Options{}, entry{"a.csv", time.Now(), data}))
	undo := setSegmentBlocks(1 << 30)
	primed := len(build(t, Options{}, entry{"a.csv", time.Now(), data}))
	undo()
	cost := float64(segmented)/float64(primed) - 1
	t.Logf("64 MiB of address CSV: %d bytes segmented, %d primed throughout: +%.3f %%", segmented, primed, 100*cost)
	if cost > 0.005 {
		t.Errorf("segments cost %.3f %%, more than 0.5 %%", 100*cost)
	}
}

// TestSegmentTableMerges checks that a table too long for its bound is
// made coarser, never beyond what the Reader accepts.
func TestSegmentTableMerges(t *testing.T) {
	const S = 4 << 20
	for _, n := range []int{2, 3, 10000, 20000, 40000, 100000} {
		l := segmentLog{}
		for range n {
			l.compressed = append(l.compressed, 1<<20+12345)
			l.uncompressed = append(l.uncompressed, S)
		}
		size := uint64(n) * S
		table := l.table(size)
		if table == nil {
			if n*S/maxSegment*4 <= maxSegmentTable {
				t.Errorf("%d segments: no table", n)
			}
			continue
		}
		segs, err := parseSegments(table, uint64(n)*(1<<20+12345), size)
		if err != nil || len(table) > maxSegmentTable {
			t.Fatalf("%d segments: %d-byte table, %v", n, len(table), err)
		}
		t.Logf("%d segments of 4 MiB: %d of %d bytes, %d-byte table", n, len(segs), segs[0].ulen, len(table))
	}
}

// failingReaderAt fails every read that reaches past limit, as the outer
// layer does on a chunk that does not authenticate.
type failingReaderAt struct {
	r     *bytes.Reader
	limit int64
}

var errOuter = errors.New("outer layer: chunk does not authenticate")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.limit {
		return 0, errOuter
	}
	return f.r.ReadAt(p, off)
}

// TestSegmentsSourceFails: a source that fails in the middle of the
// entry ends the parallel extraction with that error (no hang, no
// goroutine left reading).
func TestSegmentsSourceFails(t *testing.T) {
	withParallel(t)
	defer setSegmentBlocks(1)()
	archive := build(t, Options{}, entry{"a.csv", time.Now(), addrData(t, 3*blockSize+5)})
	f, _ := layout(t, archive)
	off, n := f.ciphertext()
	for _, limit := range []int64{off + 10, off + n/2, off + n - 1} {
		src := failingReaderAt{bytes.NewReader(archive), int64(len(archive))}
		r, err := NewReader(src, int64(len(archive)))
		if err != nil {
			t.Fatal(err)
		}
		src.limit = limit
		f := r.Files()[0]
		f.r = src
		k, err := f.keys(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.extract(k, io.Discard, "mac"); !errors.Is(err, errOuter) {
			t.Errorf("limit %d: got %v, want %v", limit, err, errOuter)
		}
	}
}

func TestInflateSegment(t *testing.T) {
	data := addrData(t, 300<<10)
	stream, lens := segmentedStream(t, data, 100<<10)
	var got []byte
	for i, l := range lens {
		s := stream[:l]
		stream = stream[l:]
		last := i == len(lens)-1
		dst := make([]byte, min(100<<10, len(data)-len(got)))
		if err := inflateSegment(dst, s, last); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		got = append(got, dst...)
		// Wrong lengths, a segment cut short or run long, the wrong end.
		for _, bad := range []struct {
			name string
			dst  []byte
			src  []byte
			last bool
		}{
			{"one byte short", dst[:len(dst)-1], s, last},
			{"one byte more", make([]byte, len(dst)+1), s, last},
			{"last byte cut", dst, s[:len(s)-1], last},
			{"sync flush cut", dst, s[:len(s)-4], last},
			{"byte appended", dst, append(bytes.Clone(s), 0), last},
			{"wrong end", dst, s, !last},
		} {
			if err := inflateSegment(bad.dst, bad.src, bad.last); err == nil {
				t.Errorf("segment %d, %s: no error", i, bad.name)
			}
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("segments do not give the data back")
	}
}

// FuzzSegmentPair checks inflateSegment's promise against the standard
// library's decoder: whenever two byte strings are accepted as a segment
// and a last segment, compress/flate decodes their concatenation to the
// concatenated outputs and ends exactly at its end.
func FuzzSegmentPair(f *testing.F) {
	data := addrData(f, 5000)
	for _, seg := range []int{1000, 2500, 4999} {
		stream, lens := segmentedStream(f, data, seg)
		f.Add(stream[:lens[0]], stream[lens[0]:], uint16(seg), uint16(len(data)-seg))
	}
	f.Fuzz(func(t *testing.T, a, b []byte, na, nb uint16) {
		outA, outB := make([]byte, na), make([]byte, nb)
		if inflateSegment(outA, a, false) != nil || inflateSegment(outB, b, true) != nil {
			return
		}
		src := bytes.NewReader(append(bytes.Clone(a), b...))
		got, err := io.ReadAll(stdflate.NewReader(src))
		if err != nil {
			t.Fatalf("segments accepted, serial decode fails: %v", err)
		}
		if !bytes.Equal(got, append(outA, outB...)) {
			t.Fatalf("serial decode gives %d bytes, segments %d+%d, or different ones", len(got), na, nb)
		}
		if src.Len() != 0 {
			t.Fatalf("serial decode ends %d bytes before the end", src.Len())
		}
	})
}
