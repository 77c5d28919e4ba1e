package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// DefaultStallTimeout is how long a connection may go without a byte
// moving either way, while the SDK is reading from or writing to it,
// before the request on it fails and is retried: long enough for a server
// finishing a large part, far shorter than forever.
const DefaultStallTimeout = 2 * time.Minute

// stallReadMargin is how much longer than a write the read waiting for the
// answer to it may go without a byte.
const stallReadMargin = time.Second

// stallWriteChunk bounds one write on the connection, so that its deadline
// measures progress rather than the time a large buffer takes to drain.
const stallWriteChunk = 32 << 10

// detectStalls makes every connection the transport dials fail a read or a
// write that sees no progress for timeout. Unlike a request timeout
// (http.Client.Timeout), it never ends a slow transfer that is still
// moving: each byte read or written starts the window afresh.
//
// Writing also pushes back the read deadline: net/http reads the response
// on its own goroutine while the request body is still being written, and
// a server cannot be expected to answer a request it has not fully
// received. So the window for the answer starts at the last byte sent.
// That covers a server that accepts a request and never answers, one that
// stops reading the body, and one that stops half way through a response.
func detectStalls(tr *http.Transport, timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, timeout: timeout}, nil
	}
	// An idle pooled connection's pending read would hit the deadline
	// too; let the transport close idle connections first, cleanly.
	if tr.IdleConnTimeout == 0 || tr.IdleConnTimeout > timeout/2 {
		tr.IdleConnTimeout = timeout / 2
	}
}

// stallConn is a net.Conn whose reads and writes fail with a *stallError
// after timeout without progress.
type stallConn struct {
	net.Conn
	timeout time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	return n, c.stalled("received", err)
}

func (c *stallConn) Write(p []byte) (int, error) {
	var written int
	for len(p) > 0 {
		chunk := p[:min(len(p), stallWriteChunk)]
		deadline := time.Now().Add(c.timeout)
		if err := c.Conn.SetWriteDeadline(deadline); err != nil {
			return written, err
		}
		// A little later than the write's, so that a stalled write fails
		// here, saying so, rather than as the connection net/http's reader
		// closed under it.
		if err := c.Conn.SetReadDeadline(deadline.Add(stallReadMargin)); err != nil {
			return written, err
		}
		n, err := c.Conn.Write(chunk)
		written += n
		if err != nil {
			return written, c.stalled("sent", err)
		}
		p = p[n:]
	}
	return written, nil
}

func (c *stallConn) stalled(dir string, err error) error {
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return &stallError{dir: dir, after: c.timeout, err: err}
	}
	return err
}

// stallError says a connection moved no byte for a while: the server (or
// something between) stopped answering or stopped reading. It is a
// temporary network error, so the SDK retries the request on a new
// connection, and it unwraps to the *net.OpError of the deadline.
type stallError struct {
	dir   string // "received" or "sent"
	after time.Duration
	err   error
}

func (e *stallError) Error() string {
	return fmt.Sprintf("connection stalled: nothing %s for %v", e.dir, e.after)
}
func (e *stallError) Unwrap() error   { return e.err }
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }
