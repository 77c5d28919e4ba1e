package zipenc

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
)

const (
	// blockSize is the unit of parallel compression. Primed with the
	// previous block's window, blocks of 256 KiB to 4 MiB all compress
	// address CSV to within 0.05 % of one serial stream; what differs is
	// the CPU spent re-indexing the 32 KiB primer (3 % of a 1 MiB block,
	// 12 % of 256 KiB, measured 15 % slower) against memory (2 MiB per block
	// in flight).
	blockSize = 1 << 20
	// dictSize is deflate's window: each block is primed with this much of
	// the previous block, so back-references cross block boundaries.
	dictSize = 32 << 10
	// storedChunk is the encryption unit for stored entries.
	storedChunk = 64 << 10
)

// segmentBlocks is how many blocks make a segment: the first block of each
// segment is compressed without the previous block's window, so that each
// segment (after a sync flush, at a byte-aligned block boundary) can be
// inflated on its own, on another core. A variable for the tests.
var segmentBlocks = 4

// Options tune a Writer. The zero value is ready to use.
type Options struct {
	// Level is the deflate level, 1 (fastest) to 9 (smallest); 0 means
	// DefaultLevel and Stored means no compression.
	Level int
	// Concurrency is the number of parallel compression workers; 0 means
	// runtime.GOMAXPROCS(0).
	Concurrency int
}

var (
	errWriterClosed = errors.New("write to closed archive")
	errEntryClosed  = errors.New("write to finished entry")
)

// A Writer writes a WinZip AES-256 (AE-2) zip archive to an io.Writer.
// Entries are written one at a time and streamed: nothing needs to be known
// in advance, not even the entry size. Every local header therefore carries
// a ZIP64 extra field and every data descriptor 8-byte sizes; the central
// directory uses ZIP64 only where a value passes 32 bits.
// Its methods must not be called concurrently.
type Writer struct {
	dst      io.Writer
	password []byte
	level    int
	workers  int
	offset   uint64 // bytes written to dst
	dir      []dirEntry
	names    map[string]bool
	cur      *entryWriter
	err      error // sticky
	closed   bool
	// free recycles blocks between the collector and the producer, across
	// entries: a sync.Pool alone would let the GC drop and reallocate them.
	free chan *block
}

// dirEntry is what the central directory needs to know about one entry.
type dirEntry struct {
	name     string
	modified time.Time
	flags    uint16
	method   uint16 // actual compression method inside the AES layer
	offset   uint64 // of the local header
	csize    uint64 // salt + verifier + ciphertext + MAC
	usize    uint64
	segments []byte // the segment table's extra field data, nil if none
}

// NewWriter returns a Writer that writes an archive to dst, encrypting every
// entry with password. Invalid options are reported by the first Create.
func NewWriter(dst io.Writer, password []byte, opts Options) *Writer {
	w := &Writer{
		dst:      dst,
		password: bytes.Clone(password),
		level:    opts.Level,
		workers:  opts.Concurrency,
		names:    make(map[string]bool),
	}
	if w.level == 0 {
		w.level = DefaultLevel
	}
	if w.workers <= 0 {
		w.workers = runtime.GOMAXPROCS(0)
	}
	w.free = make(chan *block, maxBlocks(w.workers))
	switch {
	case w.level != Stored && (w.level < 1 || w.level > 9):
		w.err = fmt.Errorf("invalid compression level %d", opts.Level)
	case len(password) == 0:
		w.err = errors.New("empty zip password")
	}
	return w
}

// write writes p to dst and counts it; errors are sticky.
func (w *Writer) write(p []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.dst.Write(p)
	w.offset += uint64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
	}
	return err
}

// Create starts a new entry and returns the io.Writer for its content. The
// previous entry, if any, is finished first. modified is stored both as
// MS-DOS time (in modified's location) and as a Unix timestamp; a zero
// modified stores 1980-01-01 and no timestamp.
func (w *Writer) Create(name string, modified time.Time) (io.Writer, error) {
	if err := w.finishEntry(); err != nil {
		return nil, err
	}
	if w.closed {
		return nil, errWriterClosed
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if !utf8.ValidString(name) {
		return nil, fmt.Errorf("name %q is not valid UTF-8", name)
	}
	if w.names[name] {
		return nil, fmt.Errorf("duplicate entry %q", name)
	}
	de := dirEntry{
		name:     name,
		modified: modified,
		flags:    flagEncrypted | flagDescriptor,
		method:   methodDeflate,
		offset:   w.offset,
	}
	if !isASCII(name) {
		de.flags |= flagUTF8
	}
	if w.level == Stored {
		de.method = methodStore
	}
	var salt [writeSaltLen]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	keys, err := deriveKeys(w.password, salt[:], writeKeyLen)
	if err != nil {
		return nil, fmt.Errorf("deriving keys: %w", err)
	}
	c, err := newEntryCipher(keys)
	if err != nil {
		return nil, err
	}

	hdr := make([]byte, 0, localHeaderLen+len(name)+64)
	hdr = le.AppendUint32(hdr, sigLocal)
	hdr = le.AppendUint16(hdr, versionAES)
	hdr = le.AppendUint16(hdr, de.flags)
	hdr = le.AppendUint16(hdr, methodAES)
	date, tim := timeToDOS(modified)
	hdr = le.AppendUint16(hdr, tim)
	hdr = le.AppendUint16(hdr, date)
	// The sizes are not known yet and may pass 4 GiB: as APPNOTE 4.3.9.2
	// asks, the local header says so with a ZIP64 extra field (its values
	// zero, the 32-bit fields saturated, as 7-Zip writes it), and the data
	// descriptor carries 8-byte sizes. The CRC is zero (AE-2).
	hdr = le.AppendUint32(hdr, 0)
	hdr = le.AppendUint32(hdr, max32)
	hdr = le.AppendUint32(hdr, max32)
	extra := appendExtraHeader(nil, extraZip64, 16)
	extra = append(extra, make([]byte, 16)...)
	extra = de.extra(extra)
	hdr = le.AppendUint16(hdr, uint16(len(name)))
	hdr = le.AppendUint16(hdr, uint16(len(extra)))
	hdr = append(hdr, name...)
	hdr = append(hdr, extra...)
	hdr = append(hdr, salt[:]...)
	hdr = append(hdr, keys.verifier[:]...)
	if err := w.write(hdr); err != nil {
		return nil, err
	}

	w.names[name] = true
	e := &entryWriter{w: w, de: de, c: c, level: w.level}
	if w.level == Stored {
		e.scratch = make([]byte, storedChunk)
	} else {
		e.cur = w.getBlock()
	}
	w.cur = e
	return e, nil
}

// extra returns the extra fields shared by local and central headers.
func (de *dirEntry) extra(b []byte) []byte {
	b = appendAESExtra(b, de.method)
	if t := de.modified.Unix(); !de.modified.IsZero() && t >= 0 && t <= max32 {
		b = appendExtTime(b, t)
	}
	return b
}

func (w *Writer) finishEntry() error {
	if w.cur == nil {
		return w.err
	}
	e := w.cur
	w.cur = nil
	if err := e.finish(); err != nil {
		if w.err == nil {
			w.err = err
		}
		return err
	}
	w.dir = append(w.dir, e.de)
	return w.err
}

// Close finishes the last entry and writes the central directory. It does
// not close the underlying writer. Close must be called, also after an
// error, to release the compression workers.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.finishEntry()
	w.closed = true
	w.releaseBlocks()
	if err != nil {
		return err
	}
	dirOffset := w.offset
	var buf []byte
	for i := range w.dir {
		buf = w.dir[i].appendCentral(buf[:0])
		if err := w.write(buf); err != nil {
			return err
		}
	}
	dirSize := w.offset - dirOffset
	records := uint64(len(w.dir))

	buf = buf[:0]
	if records >= max16 || dirSize >= max32 || dirOffset >= max32 {
		end64Offset := w.offset
		buf = le.AppendUint32(buf, sigEnd64)
		buf = le.AppendUint64(buf, end64Len-12)
		buf = le.AppendUint16(buf, versionMadeBy)
		buf = le.AppendUint16(buf, 45) // ZIP64
		buf = le.AppendUint32(buf, 0)  // this disk
		buf = le.AppendUint32(buf, 0)  // disk with the directory
		buf = le.AppendUint64(buf, records)
		buf = le.AppendUint64(buf, records)
		buf = le.AppendUint64(buf, dirSize)
		buf = le.AppendUint64(buf, dirOffset)

		buf = le.AppendUint32(buf, sigEnd64Locator)
		buf = le.AppendUint32(buf, 0)
		buf = le.AppendUint64(buf, end64Offset)
		buf = le.AppendUint32(buf, 1) // total disks

		records = min(records, max16)
		dirSize = min(dirSize, max32)
		dirOffset = min(dirOffset, max32)
	}
	buf = le.AppendUint32(buf, sigEnd)
	buf = le.AppendUint16(buf, 0)
	buf = le.AppendUint16(buf, 0)
	buf = le.AppendUint16(buf, uint16(records))
	buf = le.AppendUint16(buf, uint16(records))
	buf = le.AppendUint32(buf, uint32(dirSize))
	buf = le.AppendUint32(buf, uint32(dirOffset))
	buf = le.AppendUint16(buf, 0) // comment length
	return w.write(buf)
}

func (de *dirEntry) appendCentral(b []byte) []byte {
	var z64 []byte
	csize, usize, offset := de.csize, de.usize, de.offset
	if usize >= max32 {
		z64 = le.AppendUint64(z64, usize)
		usize = max32
	}
	if csize >= max32 {
		z64 = le.AppendUint64(z64, csize)
		csize = max32
	}
	if offset >= max32 {
		z64 = le.AppendUint64(z64, offset)
		offset = max32
	}
	var extra []byte
	if len(z64) > 0 {
		extra = appendExtraHeader(extra, extraZip64, uint16(len(z64)))
		extra = append(extra, z64...)
	}
	extra = de.extra(extra)
	if de.segments != nil {
		extra = appendExtraHeader(extra, extraSegments, uint16(len(de.segments)))
		extra = append(extra, de.segments...)
	}

	b = le.AppendUint32(b, sigCentral)
	b = le.AppendUint16(b, versionMadeBy)
	b = le.AppendUint16(b, versionAES)
	b = le.AppendUint16(b, de.flags)
	b = le.AppendUint16(b, methodAES)
	date, tim := timeToDOS(de.modified)
	b = le.AppendUint16(b, tim)
	b = le.AppendUint16(b, date)
	b = le.AppendUint32(b, 0) // AE-2: no CRC
	b = le.AppendUint32(b, uint32(csize))
	b = le.AppendUint32(b, uint32(usize))
	b = le.AppendUint16(b, uint16(len(de.name)))
	b = le.AppendUint16(b, uint16(len(extra)))
	b = le.AppendUint16(b, 0) // comment
	b = le.AppendUint16(b, 0) // disk
	b = le.AppendUint16(b, 0) // internal attributes
	b = le.AppendUint32(b, unixRegularFile<<16)
	b = le.AppendUint32(b, uint32(offset))
	b = append(b, de.name...)
	return append(b, extra...)
}

// entryWriter is the io.Writer for one entry. Compressed entries go through
// a pipeline: the caller fills blocks, workers compress them, a collector
// encrypts, MACs and writes them in order.
type entryWriter struct {
	w      *Writer
	de     dirEntry
	c      *entryCipher
	level  int
	usize  uint64
	csize  uint64 // ciphertext bytes written so far
	cur    *block // being filled
	closed bool

	scratch []byte // stored entries: encryption buffer

	blocks    int        // submitted so far
	segs      segmentLog // the collector's record of segment boundaries
	started   bool
	order     chan *block // every submitted block, in order; bounds blocks in flight
	work      chan *block // blocks waiting for a worker
	workers   sync.WaitGroup
	collected chan struct{} // closed when the collector is done

	mu  sync.Mutex
	err error // first error of the collector or a worker
}

func (e *entryWriter) setErr(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *entryWriter) loadErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *entryWriter) Write(p []byte) (int, error) {
	if e.closed {
		return 0, errEntryClosed
	}
	if err := e.loadErr(); err != nil {
		return 0, err
	}
	if e.level == Stored {
		return e.writeStored(p)
	}
	n := 0
	for len(p) > 0 {
		if len(e.cur.in) == blockSize {
			// Only now is it known that e.cur is not the last block.
			next := e.w.getBlock()
			if (e.blocks+1)%segmentBlocks != 0 {
				copy(next.dict[:], e.cur.in[blockSize-dictSize:])
				next.hasDict = true
			}
			e.submit(false)
			e.cur = next
			if err := e.loadErr(); err != nil {
				return n, err
			}
		}
		k := min(len(p), blockSize-len(e.cur.in))
		e.cur.in = append(e.cur.in, p[:k]...)
		p = p[k:]
		n += k
		e.usize += uint64(k)
	}
	return n, nil
}

func (e *entryWriter) writeStored(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := copy(e.scratch, p)
		if err := e.emit(e.scratch[:k]); err != nil {
			return n, err
		}
		p = p[k:]
		n += k
		e.usize += uint64(k)
	}
	return n, nil
}

// emit encrypts p in place, MACs it and writes it.
func (e *entryWriter) emit(p []byte) error {
	e.c.ctr.XORKeyStream(p, p)
	e.c.mac.Write(p)
	e.csize += uint64(len(p))
	return e.w.write(p)
}

// submit hands e.cur to the pipeline.
func (e *entryWriter) submit(last bool) {
	b := e.cur
	e.cur = nil
	b.last = last
	e.blocks++
	if !e.started {
		if last {
			// The whole entry fits one block: no goroutines needed.
			fw, err := getFlate(e.level)
			if err == nil {
				compressBlock(b, fw)
				flatePools[e.level].Put(fw)
				err = b.err
			}
			if err == nil {
				e.segs.add(b)
				err = e.emit(b.out.Bytes())
			}
			e.w.putBlock(b)
			if err != nil {
				e.setErr(err)
			}
			return
		}
		e.start()
	}
	e.order <- b
	e.work <- b
}

func (e *entryWriter) start() {
	e.started = true
	n := e.w.workers
	e.order = make(chan *block, queuedBlocks(n))
	e.work = make(chan *block)
	e.collected = make(chan struct{})
	for range n {
		e.workers.Go(func() { compressBlocks(e.level, e.work) })
	}
	go e.collect()
}

// compressBlocks is one compression worker: it compresses the blocks from
// work until work is closed and signals each one's done.
func compressBlocks(level int, work <-chan *block) {
	fw, err := getFlate(level)
	for b := range work {
		if err != nil {
			b.err = err
		} else {
			compressBlock(b, fw)
		}
		b.done <- struct{}{}
	}
	if fw != nil {
		flatePools[level].Put(fw)
	}
}

// collect encrypts and writes compressed blocks in order. After an error it
// keeps draining, so that the producer never blocks.
func (e *entryWriter) collect() {
	defer close(e.collected)
	for b := range e.order {
		<-b.done
		if e.loadErr() == nil {
			err := b.err
			if err == nil {
				e.segs.add(b)
				err = e.emit(b.out.Bytes())
			}
			if err != nil {
				e.setErr(err)
			}
		}
		e.w.putBlock(b)
	}
}

// finish flushes the entry and writes its MAC and data descriptor.
func (e *entryWriter) finish() error {
	if e.closed {
		return nil
	}
	e.closed = true
	if e.level != Stored {
		e.submit(true)
		if e.started {
			close(e.order)
			close(e.work)
			e.workers.Wait()
			<-e.collected
		}
	}
	if err := e.loadErr(); err != nil {
		return err
	}
	mac := e.c.sum()
	e.de.csize = writeSaltLen + verifierLen + e.csize + macLen
	e.de.usize = e.usize
	e.de.segments = e.segs.table(e.usize)

	b := make([]byte, 0, 4+4+16+macLen)
	b = append(b, mac[:]...)
	b = le.AppendUint32(b, sigDescriptor)
	b = le.AppendUint32(b, 0) // AE-2: no CRC
	// 8-byte sizes: the local header has a ZIP64 extra field.
	b = le.AppendUint64(b, e.de.csize)
	b = le.AppendUint64(b, e.de.usize)
	return e.w.write(b)
}

// block is one unit of parallel compression.
type block struct {
	in      []byte // uncompressed, cap blockSize
	dict    [dictSize]byte
	hasDict bool
	last    bool
	out     bytes.Buffer
	err     error
	done    chan struct{} // a worker finished it
}

// queuedBlocks is how many submitted blocks may wait for a worker or the
// collector.
func queuedBlocks(workers int) int { return 2 * workers }

// maxBlocks bounds the blocks one entry holds: the queue, one being
// collected, one being filled and the next one being set up.
func maxBlocks(workers int) int { return queuedBlocks(workers) + 3 }

// blockPool shares blocks between Writers.
var blockPool = sync.Pool{New: func() any {
	return &block{in: make([]byte, 0, blockSize), done: make(chan struct{}, 1)}
}}

func (w *Writer) getBlock() *block {
	select {
	case b := <-w.free:
		return b
	default:
		return blockPool.Get().(*block)
	}
}

func (w *Writer) putBlock(b *block) {
	b.in = b.in[:0]
	b.hasDict, b.last, b.err = false, false, nil
	b.out.Reset()
	select {
	case w.free <- b:
	default:
		blockPool.Put(b)
	}
}

// releaseBlocks hands the Writer's blocks back to the shared pool.
func (w *Writer) releaseBlocks() {
	for {
		select {
		case b := <-w.free:
			blockPool.Put(b)
		default:
			return
		}
	}
}

// flatePools holds reusable compressors per level (index 1..9): their
// tables are several hundred KiB.
var flatePools [10]sync.Pool

func getFlate(level int) (*flate.Writer, error) {
	if fw, ok := flatePools[level].Get().(*flate.Writer); ok {
		return fw, nil
	}
	return flate.NewWriter(nil, level)
}

// compressBlock deflates b.in into b.out. Every block but the last ends with
// a sync flush (byte aligned, not final), the last with the final block, so
// the outputs concatenated in order form one deflate stream, as in pgzip.
func compressBlock(b *block, fw *flate.Writer) {
	b.out.Grow(len(b.in) + len(b.in)/64 + 64)
	var dict []byte
	if b.hasDict {
		dict = b.dict[:]
	}
	fw.ResetDict(&b.out, dict)
	_, err := fw.Write(b.in)
	if err == nil {
		if b.last {
			err = fw.Close()
		} else {
			err = fw.Flush()
		}
	}
	b.err = err
}
