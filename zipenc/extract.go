package zipenc

import (
	"bufio"
	"context"
	"crypto/hmac"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Extract verifies the entry like Verify and only then decrypts and
// decompresses it into dst, returning the number of bytes written. It never
// writes more than the declared Size, and fails with ErrIntegrity when the
// content does not match it (or, for AE-1, its CRC-32). dst is not written to
// unless the password and HMAC verified; an error after that point (corrupt
// deflate data behind a valid MAC, the archive changing between the passes,
// a dst error) leaves partial output the caller must discard.
func (f *File) Extract(dst io.Writer, password []byte) (int64, error) {
	k, err := f.keys(password)
	if err != nil {
		return 0, err
	}
	if err := f.verifyMAC(k, make([]byte, copyBufSize)); err != nil {
		return 0, err
	}
	// The second pass MACs again: the source may have changed since.
	return f.extract(k, dst, "archive changed while reading (HMAC mismatch on second pass)")
}

// ExtractOnce is Extract in one pass: it decrypts, decompresses and writes
// while it MACs, and checks the HMAC at the end. dst therefore receives
// bytes that are authenticated only when ExtractOnce returns nil; on any
// error it holds unauthenticated or partial output that the caller must
// discard. Use it only with a dst nobody else can read meanwhile and that
// is thrown away unless ExtractOnce succeeds (an unnamed temporary file),
// and Extract for everything else. It reads the ciphertext once instead of
// twice.
//
// A failure other than a cancellation is diagnosed by reading the
// ciphertext once more for its HMAC: inflate errors, a size mismatch or a
// destination refusing garbage are what damaged ciphertext looks like in
// one pass, and the MAC says whether that is what happened.
func (f *File) ExtractOnce(dst io.Writer, password []byte) (int64, error) {
	k, err := f.keys(password)
	if err != nil {
		return 0, err
	}
	n, err := f.extract(k, dst, "HMAC mismatch: archive damaged or tampered with")
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		if merr := f.verifyMAC(k, make([]byte, copyBufSize)); merr != nil {
			return n, merr
		}
	}
	return n, err
}

// Pipeline sizes: three stages (read, MAC and decrypt; decompress; check
// and write) pass pipeBufs buffers of pipeBufSize each way, so memory is
// fixed whatever the entry's size.
const (
	pipeBufSize = 256 << 10
	pipeBufs    = 4
)

// pipeBufLen is the buffer size for n bytes to pass: pipeBufSize, or less
// for a small entry (a manifest, a small CSV), whose extraction would
// otherwise allocate and clear 2 MiB for a few hundred bytes.
func pipeBufLen(n int64) int { return int(max(1, min(n, pipeBufSize))) }

// extract decrypts, decompresses and writes the entry with the keys k,
// three stages at once: a goroutine reads the ciphertext, MACs and
// decrypts it; this goroutine inflates; another writes to dst. macMismatch
// says what an HMAC mismatch at the end means.
func (f *File) extract(k entryKeys, dst io.Writer, macMismatch string) (int64, error) {
	if f.segments != nil && parallelInflate {
		return f.extractSegments(k, dst, macMismatch)
	}
	c, err := newEntryCipher(k)
	if err != nil {
		return 0, err
	}
	off, n := f.ciphertext()
	dec := startDecrypt(io.NewSectionReader(f.r, off, n), c, pipeBufLen(n))
	defer dec.halt() // no goroutine may go on reading the source after we return
	var (
		src io.Reader = dec
		br  *bufio.Reader
	)
	if f.Method == methodDeflate {
		br = bufio.NewReaderSize(dec, 32<<10)
		fr := flate.NewReader(br)
		defer fr.Close()
		src = fr
	}
	var crc hash.Hash32
	if f.AESVersion == vendorVersion1 {
		crc = crc32.NewIEEE()
	}
	limit := int64(f.Size)
	// Room for the byte that tells an overrun (max: limit+1 may overflow).
	w := startWriter(dst, crc, pipeBufLen(max(limit, limit+1)))

	var read int64
	for {
		buf, ok := w.buffer()
		if !ok {
			break // the writer failed: w.close reports it
		}
		// Ask for at most one byte beyond the declared size: enough to
		// detect an overrun, never enough to let a bomb go off.
		want := int64(len(buf))
		if r := limit - read; r < want {
			want = r + 1 // no overflow: r < len(buf)
		}
		nr, rerr := fill(src, buf[:want])
		if read+int64(nr) > limit {
			written, _ := w.close()
			return written, integrityf("%q: content exceeds the declared size of %d bytes", f.Name, f.Size)
		}
		read += int64(nr)
		w.send(buf[:nr])
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			written, _ := w.close()
			if err := dec.halt(); err != nil {
				return written, err
			}
			return written, integrityf("%q: %v", f.Name, rerr)
		}
	}
	written, werr := w.close()
	if werr != nil {
		return written, werr
	}
	if written != limit {
		return written, integrityf("%q: content is %d bytes, declared %d", f.Name, written, f.Size)
	}
	if br != nil {
		// Nothing may follow the end of the compressed stream.
		if _, err := br.ReadByte(); err != io.EOF {
			if err := dec.halt(); err != nil {
				return written, err
			}
			return written, integrityf("%q: data after the end of the compressed stream", f.Name)
		}
	}
	return written, f.checkEnd(dec, c, n, crc, macMismatch)
}

// checkEnd ends an extraction whose content has been read in full: the
// decrypting goroutine has seen the end of the source (halting only waits
// for it, and makes its count and the MAC safe to read); it read all n
// bytes; the MAC and, for AE-1, the CRC match.
func (f *File) checkEnd(dec *decryptStage, c *entryCipher, n int64, crc hash.Hash32, macMismatch string) error {
	if err := dec.halt(); err != nil {
		return err
	}
	if dec.n != n {
		return integrityf("%q: archive truncated", f.Name)
	}
	want, err := f.storedMAC()
	if err != nil {
		return err
	}
	if sum := c.sum(); !hmac.Equal(sum[:], want[:]) {
		return integrityf("%q: %s", f.Name, macMismatch)
	}
	if crc != nil && crc.Sum32() != f.CRC32 {
		return integrityf("%q: CRC-32 mismatch", f.Name)
	}
	return nil
}

// decryptStage reads the ciphertext in its own goroutine, MACs and
// decrypts it, and hands the plaintext over as an io.Reader.
type decryptStage struct {
	full  chan []byte   // decrypted chunks, in order; closed at the end
	free  chan []byte   // emptied chunks, back to the reader
	cur   []byte        // the chunk Read is consuming
	whole []byte        // cur's whole buffer, to give back
	stop  chan struct{} // closed by halt: the goroutine ends
	once  sync.Once
	done  chan struct{}
	n     int64 // bytes read, valid once halt returned
	err   error // read error other than EOF, valid once halt returned
}

func startDecrypt(r io.Reader, c *entryCipher, bufLen int) *decryptStage {
	d := &decryptStage{full: make(chan []byte, pipeBufs), free: make(chan []byte, pipeBufs),
		stop: make(chan struct{}), done: make(chan struct{})}
	stop := d.stop
	for range pipeBufs {
		d.free <- make([]byte, bufLen)
	}
	go func() {
		defer close(d.done)
		defer close(d.full)
		for {
			var buf []byte
			select {
			case buf = <-d.free:
			case <-stop:
				return
			}
			m, err := io.ReadFull(r, buf)
			if m > 0 {
				c.mac.Write(buf[:m])
				c.ctr.XORKeyStream(buf[:m], buf[:m])
				d.n += int64(m)
				select {
				case d.full <- buf[:m]:
				case <-stop:
					return
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				d.err = err
				return
			}
		}
	}()
	return d
}

// Read implements io.Reader over the decrypted chunks.
func (d *decryptStage) Read(p []byte) (int, error) {
	for len(d.cur) == 0 {
		if d.whole != nil {
			d.free <- d.whole[:cap(d.whole)]
			d.whole = nil
		}
		buf, ok := <-d.full
		if !ok {
			<-d.done
			if d.err != nil {
				return 0, d.err
			}
			return 0, io.EOF
		}
		d.cur, d.whole = buf, buf
	}
	n := copy(p, d.cur)
	d.cur = d.cur[n:]
	return n, nil
}

// halt stops the reading goroutine, waits for it to end, and returns its
// read error. Only after it may n and err be read, and the MAC summed.
// It is safe to call more than once.
func (d *decryptStage) halt() error {
	d.once.Do(func() { close(d.stop) })
	<-d.done
	return d.err
}

// writeStage writes the plaintext to dst in its own goroutine.
type writeStage struct {
	full    chan []byte
	free    chan []byte
	failed  chan struct{} // closed when a write failed
	done    chan struct{}
	once    sync.Once
	written int64 // valid once done is closed
	err     error
}

func startWriter(dst io.Writer, crc hash.Hash32, bufLen int) *writeStage {
	w := &writeStage{full: make(chan []byte, pipeBufs), free: make(chan []byte, pipeBufs),
		failed: make(chan struct{}), done: make(chan struct{})}
	for range pipeBufs {
		w.free <- make([]byte, bufLen)
	}
	go func() {
		defer close(w.done)
		for buf := range w.full {
			if w.err == nil {
				n, err := writeChunks(dst, crc, buf)
				w.written += int64(n)
				if err != nil {
					w.err = err
					close(w.failed)
				}
			}
			w.free <- buf[:cap(buf)] // never blocks: free holds every buffer
		}
	}()
	return w
}

// buffer returns an empty buffer to fill, or false once the writer failed.
func (w *writeStage) buffer() ([]byte, bool) {
	select {
	case buf := <-w.free:
		return buf, true
	case <-w.failed:
		return nil, false
	}
}

// send queues a filled buffer (possibly empty) for writing.
func (w *writeStage) send(buf []byte) {
	if len(buf) == 0 {
		w.free <- buf[:cap(buf)]
		return
	}
	w.full <- buf
}

// close waits for every queued buffer to be written and returns the bytes
// written and the first write error.
func (w *writeStage) close() (int64, error) {
	w.once.Do(func() { close(w.full) })
	<-w.done
	return w.written, w.err
}

// writeChunks writes p to dst in pieces of at most pipeBufSize (the serial
// path's buffers are one piece; a parallel path's segments several), and
// adds each piece to crc when it is not nil. Whole
// segments in one write(2) cost several times the system time in a file's
// page cache on the machine measured (Linux 6.18 in a VM; probably
// because large writes get large page-cache folios, taken from memory the
// host has to fault in again).
func writeChunks(dst io.Writer, crc hash.Hash32, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		chunk := p[n:min(len(p), n+pipeBufSize)]
		if crc != nil {
			crc.Write(chunk)
		}
		m, err := dst.Write(chunk)
		n += m
		if err == nil && m < len(chunk) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// fill reads into p until it is full or r returns an error (io.EOF
// included, unlike io.ReadFull, which would hide a decompressor's own
// io.ErrUnexpectedEOF).
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
