package transfer

import (
	"errors"
	"fmt"
	"io"
)

// ErrStartedOver is returned by a Stream's reads once its download has
// emptied the spool to start over (the object changed, or what an
// earlier run left failed the checksum): what the Stream read may belong
// to no version of the object. Open a new Stream, or wait for the
// download and read the Fetched.
var ErrStartedOver = errors.New("the download started over")

// Stream reads a download's spool while it fills: each read waits until
// the bytes it asks for have been stored, and fails once the download
// failed or started over. It may be read concurrently and at any offset;
// bytes come in the order StartDownload fetches them.
//
// What a Stream returns has not been checked against the server's
// checksum: that happens only when the whole object is there. A caller
// may act on it in private (decrypt, verify, write to a discardable
// file), and may trust it only once Wait returned the Fetched without an
// error and Current is true.
type Stream struct {
	d     *downloader
	epoch int
	size  int64
}

// Stream waits until the download knows the object's size and has laid
// out its spool, and returns a Stream over it. It fails when the download
// failed before.
func (dl *Downloading) Stream() (*Stream, error) {
	d := dl.d
	d.mu.Lock()
	defer d.mu.Unlock()
	for !d.sized && !d.ended {
		d.cond.Wait()
	}
	if d.ended && d.endErr != nil {
		return nil, d.endErr
	}
	return &Stream{d: d, epoch: d.epoch, size: d.size}, nil
}

// Size is the object's size.
func (s *Stream) Size() int64 { return s.size }

// Current reports whether the download has not started over since the
// Stream was opened: everything it returned came from the version of the
// object that the download ended with (or is fetching).
func (s *Stream) Current() bool {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.epoch == s.epoch
}

// ReadAt reads len(p) bytes at off, waiting for them to arrive.
func (s *Stream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("download stream: negative offset %d", off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), s.size-off)
	d := s.d
	d.mu.Lock()
	for d.epoch == s.epoch && !d.ended && !d.stored(off, want) {
		d.cond.Wait()
	}
	epoch, ended, endErr := d.epoch, d.ended, d.endErr
	d.mu.Unlock()
	switch {
	case epoch != s.epoch:
		return 0, ErrStartedOver
	case ended && endErr != nil:
		return 0, endErr
	}
	n, err := d.f.ReadAt(p[:want], off)
	// The spool may have been emptied while it was read.
	if !s.Current() {
		return 0, ErrStartedOver
	}
	if err == nil && int64(n) < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// stored reports whether the spool holds the n bytes at off. The caller
// holds mu, and the layout is published (sized).
func (d *downloader) stored(off, n int64) bool {
	if !d.sized {
		return false
	}
	cs := d.csize
	for i := off / cs; i*cs < off+n; i++ {
		if d.done[i] {
			continue
		}
		if d.partial[int(i)] < min(off+n, (i+1)*cs)-i*cs {
			return false
		}
	}
	return true
}
