package s3store

import (
	"errors"
	"io"
)

// window is the size bytes of a ReadSeeker from its position when the
// window was made: exactly what one request sends, however often the SDK
// rewinds it for a retry, and never the bytes after it (net/http refuses a
// body longer than its Content-Length).
type window struct {
	rs         io.ReadSeeker
	start, end int64
	pos        int64 // absolute position in rs
}

func newWindow(rs io.ReadSeeker, size int64) (*window, error) {
	if size < 0 {
		return nil, errors.New("negative body size")
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	return &window{rs: rs, start: start, end: start + size, pos: start}, nil
}

func (w *window) Read(p []byte) (int, error) {
	if w.pos >= w.end {
		return 0, io.EOF
	}
	if left := w.end - w.pos; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := w.rs.Read(p)
	w.pos += int64(n)
	if err == io.EOF && w.pos < w.end {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Seek positions within the window; offsets are relative to its start.
func (w *window) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = w.start + offset
	case io.SeekCurrent:
		abs = w.pos + offset
	case io.SeekEnd:
		abs = w.end + offset
	default:
		return 0, errors.New("bad whence")
	}
	if abs < w.start {
		return 0, errors.New("seek before the start of the body")
	}
	if _, err := w.rs.Seek(abs, io.SeekStart); err != nil {
		return 0, err
	}
	w.pos = abs
	return abs - w.start, nil
}
