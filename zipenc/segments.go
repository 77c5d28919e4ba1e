package zipenc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
)

// Parallel inflate (issue 17): the Writer's deflate stream is one standard
// stream, but every segmentBlocks blocks it starts a block without the
// previous window, after a sync flush. Each such segment can be inflated on
// its own. Where they begin is recorded in the central directory, in an
// extra field of ours that other tools ignore:
//
//	0x4658 ("XF"), data:
//	  version    1 byte, 1
//	  segment    uvarint, uncompressed bytes in every segment but the last
//	  count      uvarint, number of segments, at least 2
//	  compressed count uvarints, each segment's compressed length
//
// Nothing authenticates the central directory, so the Reader trusts the
// table for nothing but a plan: the lengths must add up to the entry's
// deflate stream and declared size exactly (segments can neither overlap
// nor leave gaps), and each segment must inflate with no history to
// exactly its length, ending where a serial decoder would be at the next
// segment's start (see inflateSegment). NewReader refuses a table whose
// lengths do not add up; the parallel inflate, when on (parallelInflate),
// refuses any other lie; an entry without a table is inflated serially.
// All are integrity errors.
const (
	extraSegments       = 0x4658
	segmentTableVersion = 1
	// maxSegmentTable bounds the table the Writer writes; coarser segments
	// (pairs merged, which is still correct) keep it within, up to
	// maxSegment: 4 MiB segments up to about 40 GiB, 8 MiB to about 60 GiB,
	// no table (serial inflate) beyond.
	maxSegmentTable = 32 << 10
	// maxSegment bounds the uncompressed size of a segment the Reader
	// accepts, and so the buffers it allocates: at most
	// segmentSlots(maxInflateWorkers) segments and their input, 96 MiB,
	// whatever a hostile table says; 30 MiB for xfer's 4 MiB segments.
	maxSegment = 8 << 20
)

// maxSegmentCompressed bounds a segment's compressed length: incompressible
// data costs deflate 5 bytes per 64 KiB stored block, a sync flush 5 more.
func maxSegmentCompressed(usize uint64) uint64 { return usize + usize/1024 + 4096 }

// segmentLog records, in the collector, each segment's compressed length.
type segmentLog struct {
	compressed   []uint64
	uncompressed []uint64
}

// add records block b, compressed, in stream order.
func (l *segmentLog) add(b *block) {
	if !b.hasDict || len(l.compressed) == 0 {
		l.compressed = append(l.compressed, 0)
		l.uncompressed = append(l.uncompressed, 0)
	}
	l.compressed[len(l.compressed)-1] += uint64(b.out.Len())
	l.uncompressed[len(l.uncompressed)-1] += uint64(len(b.in))
}

// table returns the extra field data for an entry of usize bytes, or nil
// when there is only one segment.
func (l *segmentLog) table(usize uint64) []byte {
	c, u := l.compressed, l.uncompressed
	if len(c) < 2 {
		return nil
	}
	for i := 1; i < len(u)-1; i++ {
		if u[i] != u[0] {
			return nil // never: segments are whole multiples of blockSize
		}
	}
	seg := u[0]
	for {
		t := encodeSegments(seg, c)
		if len(t) <= maxSegmentTable {
			return t
		}
		merged := make([]uint64, 0, (len(c)+1)/2)
		for i := 0; i < len(c); i += 2 {
			if i+1 < len(c) {
				merged = append(merged, c[i]+c[i+1])
			} else {
				merged = append(merged, c[i])
			}
		}
		c, seg = merged, 2*seg
		if len(c) < 2 || seg > maxSegment {
			return nil
		}
	}
}

func encodeSegments(seg uint64, compressed []uint64) []byte {
	t := []byte{segmentTableVersion}
	t = binary.AppendUvarint(t, seg)
	t = binary.AppendUvarint(t, uint64(len(compressed)))
	for _, c := range compressed {
		t = binary.AppendUvarint(t, c)
	}
	return t
}

// maxWholeSegment bounds the entries wholeSegment makes one segment of: the
// size of the Writer's segments.
const maxWholeSegment = 4 << 20

// wholeSegment returns, for a deflated entry without a segment table, its
// whole stream as one last segment when it is small enough to inflate in
// memory as one (no larger than the Writer's segments, its stream within
// what deflate can take); otherwise nil, and it is inflated serially. The
// segments' decoder, twice as fast as the serial path's, then opens small
// files too: every manifest, and each CSV of a weekly batch.
func wholeSegment(streamLen, size uint64) []segment {
	if size > maxWholeSegment || streamLen > maxSegmentCompressed(size) {
		return nil
	}
	return []segment{{clen: streamLen, ulen: size}}
}

// segment is one entry of a parsed table: where it starts in the deflate
// stream and in the content, and how long it is in each.
type segment struct {
	coff, clen uint64
	uoff, ulen uint64
}

// parseSegments checks a segment table against the entry's deflate stream
// length and declared size and returns the segments.
func parseSegments(data []byte, streamLen, size uint64) ([]segment, error) {
	bad := func(why string) ([]segment, error) {
		return nil, fmt.Errorf("bad segment table: %s", why)
	}
	if len(data) < 1 || data[0] != segmentTableVersion {
		return bad("unknown version")
	}
	data = data[1:]
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(data)
		if n <= 0 {
			return 0, false
		}
		data = data[n:]
		return v, true
	}
	seg, ok := uvarint()
	if !ok || seg == 0 || seg > maxSegment {
		return bad("segment size out of range")
	}
	count, ok := uvarint()
	if !ok || count < 2 || count > uint64(len(data)) {
		return bad("segment count out of range")
	}
	// (count-1)*seg < size <= count*seg, without overflow: count is at most
	// the table's length, seg at most maxSegment.
	if size <= (count-1)*seg || size > count*seg {
		return bad(fmt.Sprintf("%d segments of %d bytes cannot hold %d bytes", count, seg, size))
	}
	segs := make([]segment, count)
	var coff, uoff uint64
	for i := range segs {
		c, ok := uvarint()
		ulen := min(seg, size-uoff)
		if !ok || c == 0 || c > maxSegmentCompressed(ulen) || c > streamLen-coff {
			return bad(fmt.Sprintf("segment %d: compressed length out of range", i))
		}
		segs[i] = segment{coff: coff, clen: c, uoff: uoff, ulen: ulen}
		coff += c
		uoff += ulen
	}
	if len(data) != 0 {
		return bad("trailing bytes")
	}
	if coff != streamLen {
		return bad(fmt.Sprintf("segments cover %d of the %d compressed bytes", coff, streamLen))
	}
	return segs, nil
}

// parallelInflate turns the parallel inflate on (a variable for the
// tests, which compare it with the serial path). Decrypting a 1 GiB CSV
// sealed at level 5 into a file on two cores (xfer decrypt, 4 runs each,
// one machine, one run): 3.0-3.4 s in segments against 4.0-4.5 s
// serially. It was slower until the writer cut each 4 MiB segment into
// 256 KiB writes (see writeChunks): written whole, the same run took
// 4.7-5.5 s, with 2.7-3.4 s of system time in write(2) against 0.5 s.
// Since the segments have their own decoder (inflate.go): 2.1-2.3 s
// against 2.8-3.4 s with klauspost's, 3.7-3.9 CPU-seconds against 5.1-6.1
// (3 runs each, alternated).
var parallelInflate = true

// inflateWorkers is the number of segments inflated at once; 0 means
// runtime.GOMAXPROCS(0), at most maxInflateWorkers. A variable for the
// tests.
var inflateWorkers = 0

// maxInflateWorkers bounds the workers, and with segmentSlots the memory:
// beyond four cores inflate outruns any disk xfer writes to.
const maxInflateWorkers = 4

// segmentSlots is how many segments are in memory at once: one per worker,
// one being written, one being read.
func segmentSlots(workers int) int { return workers + 2 }

// segJobs recycles segments' buffers between extractions: a few MiB each.
var segJobs = sync.Pool{New: func() any { return &segJob{done: make(chan struct{}, 1)} }}

// segJob is one segment in flight.
type segJob struct {
	seg  segment
	last bool
	in   []byte
	out  []byte
	err  error
	done chan struct{}
}

// extractSegments is extract for an entry with a segment table: a
// goroutine reads, MACs and decrypts the ciphertext in order; this
// goroutine cuts it into segments and hands them to workers; a writer takes
// the results in order and writes them to dst. What reaches dst, and when,
// is as in extract: the same bytes, in the same order, never beyond the
// declared size, the MAC checked at the end.
func (f *File) extractSegments(k entryKeys, dst io.Writer, macMismatch string) (int64, error) {
	c, err := newEntryCipher(k)
	if err != nil {
		return 0, err
	}
	off, n := f.ciphertext()
	dec := startDecrypt(io.NewSectionReader(f.r, off, n), c, pipeBufLen(n))
	defer dec.halt()

	workers := inflateWorkers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), maxInflateWorkers)
	}
	slots := segmentSlots(workers)
	var (
		work   = make(chan *segJob, slots)
		order  = make(chan *segJob, slots)
		free   = make(chan *segJob, slots)
		failed = make(chan struct{})
		wg     sync.WaitGroup
	)
	for range slots {
		free <- segJobs.Get().(*segJob)
	}
	defer func() {
		// Every goroutine has ended: what is in free is all there is (a
		// job taken for a read that failed is left to the collector).
		for {
			select {
			case j := <-free:
				j.err = nil
				segJobs.Put(j)
			default:
				return
			}
		}
	}()
	for range workers {
		wg.Go(func() {
			for j := range work {
				j.err = inflateSegment(j.out, j.in, j.last)
				j.done <- struct{}{}
			}
		})
	}
	var crc hash.Hash32
	if f.AESVersion == vendorVersion1 {
		crc = crc32.NewIEEE()
	}
	var (
		written int64
		werr    error // the first segment or dst error
		wdone   = make(chan struct{})
	)
	go func() {
		defer close(wdone)
		for j := range order {
			<-j.done
			if werr == nil {
				switch {
				case j.err != nil:
					werr = integrityf("%q: segment at offset %d of the compressed stream: %v", f.Name, j.seg.coff, j.err)
				default:
					var m int
					m, werr = writeChunks(dst, crc, j.out)
					written += int64(m)
				}
				if werr != nil {
					close(failed)
				}
			}
			free <- j
		}
	}()

	rerr := f.dispatchSegments(dec, work, order, free, failed)
	close(work)
	close(order)
	wg.Wait()
	<-wdone
	if werr != nil {
		if herr := dec.halt(); herr != nil {
			return written, herr
		}
		return written, werr
	}
	if rerr != nil {
		if herr := dec.halt(); herr != nil {
			return written, herr
		}
		return written, rerr
	}
	if written != int64(f.Size) {
		return written, integrityf("%q: content is %d bytes, declared %d", f.Name, written, f.Size)
	}
	return written, f.checkEnd(dec, c, n, crc, macMismatch)
}

// dispatchSegments reads each segment's compressed bytes from dec in order
// and queues it for a worker and the writer, until the table is done, the
// writer failed or dec ran short. Buffers come from free, so at most its
// capacity are in memory.
func (f *File) dispatchSegments(dec *decryptStage, work, order chan<- *segJob, free <-chan *segJob, failed <-chan struct{}) error {
	for i, s := range f.segments {
		var j *segJob
		select {
		case j = <-free:
		case <-failed:
			return nil // the writer reports why
		}
		j.seg, j.last, j.err = s, i == len(f.segments)-1, nil
		j.in = grow(j.in, int(s.clen))
		j.out = grow(j.out, int(s.ulen))
		if _, err := io.ReadFull(dec, j.in); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return integrityf("%q: archive truncated", f.Name)
			}
			return err
		}
		order <- j
		work <- j
	}
	// Nothing may follow the last segment.
	var one [1]byte
	if m, _ := dec.Read(one[:]); m != 0 {
		return integrityf("%q: data after the end of the compressed stream", f.Name)
	}
	return nil
}

// grow returns b resliced to n bytes, reallocated if too small.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
