package cmd

import (
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// A gate is a reverse proxy in front of a test server that changes state
// at an event rather than at a time: the moment a response it forwards
// matches trip (and, with holdAfter, once that many bytes of its body have
// gone through), or a request matches hold, it holds or cuts every later
// request. A test then acts (a signal, an outage, a kill) while the
// transfer is certainly part way, however fast or slow the machine, and
// opens the gate again for the re-run.
type gate struct {
	URL string

	trip      func(*http.Response) bool
	holdAfter int64 // bytes of the tripping response's (or held request's) body let through first
	down      bool  // cut requests after the trip instead of holding them
	// holdAnswer holds the tripping response itself (the server has done
	// the request; the client waits for its answer).
	holdAnswer bool
	// hold trips the gate at a request instead: the first it matches is
	// held before it reaches the server, or with holdAfter once that many
	// bytes of its body have.
	hold func(*http.Request) bool

	mu      sync.Mutex
	tripped bool
	dropped chan struct{} // the hold Drop ended: what it held is cut
	open    chan struct{} // closed while the gate is open
	// Tripped is closed once the gate has tripped.
	Tripped chan struct{}
}

func startGate(t *testing.T, srv *s3test.Server, g *gate) *gate {
	t.Helper()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	g.Tripped = make(chan struct{})
	g.open = make(chan struct{})
	close(g.open)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // every byte the client is said to have got, it has
	rp.ModifyResponse = func(r *http.Response) error {
		// A request in flight when the gate tripped.
		if g.state() != nil && g.down {
			return errGateShut
		}
		if err := g.wait(r.Request); err != nil {
			return err
		}
		if g.trip == nil || !g.trip(r) {
			return nil
		}
		if g.holdAfter > 0 {
			r.Body = &gatedBody{ReadCloser: r.Body, g: g, left: g.holdAfter, req: r.Request}
			return nil
		}
		g.shut()
		if g.holdAnswer {
			return g.wait(r.Request)
		}
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { cut(w) }
	srvr := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.state() != nil && g.down {
			cut(w)
			return
		}
		if g.wait(r) != nil {
			cut(w)
			return
		}
		if g.hold != nil && g.hold(r) {
			if g.holdAfter > 0 {
				r.Body = &gatedBody{ReadCloser: r.Body, g: g, left: g.holdAfter, req: r}
			} else {
				g.shut()
				if g.wait(r) != nil {
					cut(w)
					return
				}
			}
		}
		rp.ServeHTTP(w, r)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srvr.Serve(l)
	t.Cleanup(func() {
		g.Open()
		srvr.Close()
	})
	g.URL = "http://" + l.Addr().String()
	return g
}

var errGateShut = io.ErrClosedPipe

// state returns nil while the gate is open, else a channel closed when it
// opens again.
func (g *gate) state() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		return nil
	default:
		return g.open
	}
}

// wait holds r until the gate opens (nil) or r's client goes (its
// error); after Drop it fails.
func (g *gate) wait(r *http.Request) error {
	wait := g.state()
	if wait == nil {
		return nil
	}
	select {
	case <-wait:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dropped == wait {
		return errGateShut
	}
	return nil
}

// hasTripped reports whether the gate has tripped.
func (g *gate) hasTripped() bool {
	select {
	case <-g.Tripped:
		return true
	default:
		return false
	}
}

// shut closes the gate, the first time only.
func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tripped {
		return
	}
	g.tripped = true
	g.open = make(chan struct{})
	close(g.Tripped)
}

// Open lets everything through again, held requests included.
func (g *gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// Drop opens the gate for good, cutting every request and answer it
// holds: the gate stood before a process that was killed, whose held
// requests must never reach the server after it. Later requests (the
// re-run's) pass, and trip nothing.
func (g *gate) Drop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.tripped {
		g.tripped = true
		close(g.Tripped)
	}
	select {
	case <-g.open:
	default:
		g.dropped = g.open
		close(g.open)
	}
}

// cut drops the client's connection without an answer, as a server that
// vanished does.
func cut(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// gatedBody lets left bytes through, then shuts the gate and waits for it
// to open (or the client to go) before giving the rest.
type gatedBody struct {
	io.ReadCloser
	g    *gate
	left int64
	req  *http.Request
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.g.shut()
		if err := b.g.wait(b.req); err != nil {
			return 0, err
		}
		return b.ReadCloser.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// isPartUpload matches the answer to an UploadPart request.
func isPartUpload(r *http.Response) bool {
	return isPartRequest(r.Request) && r.StatusCode == http.StatusOK
}

// isPartRequest matches an UploadPart request.
func isPartRequest(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Query().Has("partNumber")
}

// isCreateRequest matches a CreateMultipartUpload request.
func isCreateRequest(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploads")
}

// isCompleteRequest matches a CompleteMultipartUpload request.
func isCompleteRequest(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

// isBigGet matches the answer to a GET of more than 1 MiB (a download's
// range, not a receipt).
func isBigGet(r *http.Response) bool {
	return r.Request.Method == http.MethodGet && (r.StatusCode == http.StatusOK || r.StatusCode == http.StatusPartialContent) &&
		r.ContentLength > 1<<20
}

// isUploadCreated matches the answer to a CreateMultipartUpload request.
func isUploadCreated(r *http.Response) bool {
	return isCreateRequest(r.Request) && r.StatusCode == http.StatusOK
}

// isCompleted matches the answer to a CompleteMultipartUpload request.
func isCompleted(r *http.Response) bool {
	return isCompleteRequest(r.Request) && r.StatusCode == http.StatusOK
}
