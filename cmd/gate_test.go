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
// gone through), it holds or cuts every later request. A test then acts
// (a signal, an outage) while the transfer is certainly part way, however
// fast or slow the machine, and opens the gate again for the re-run.
type gate struct {
	URL string

	trip      func(*http.Response) bool
	holdAfter int64 // bytes of the tripping response's body let through first
	down      bool  // cut requests after the trip instead of holding them

	mu      sync.Mutex
	tripped bool
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
		if wait := g.state(); wait != nil {
			// A request in flight when the gate tripped.
			if g.down {
				return errGateShut
			}
			select {
			case <-wait:
			case <-r.Request.Context().Done():
				return r.Request.Context().Err()
			}
		}
		if !g.trip(r) {
			return nil
		}
		if g.holdAfter > 0 {
			r.Body = &gatedBody{ReadCloser: r.Body, g: g, left: g.holdAfter, req: r.Request}
			return nil
		}
		g.shut()
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { cut(w) }
	srvr := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait := g.state(); wait != nil {
			if g.down {
				cut(w)
				return
			}
			select {
			case <-wait:
			case <-r.Context().Done():
				return
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
		if wait := b.g.state(); wait != nil {
			select {
			case <-wait:
			case <-b.req.Context().Done():
				return 0, b.req.Context().Err()
			}
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
	return r.Request.Method == http.MethodPut && r.Request.URL.Query().Has("partNumber") && r.StatusCode == http.StatusOK
}

// isBigGet matches the answer to a GET of more than 1 MiB (a download's
// range, not a receipt).
func isBigGet(r *http.Response) bool {
	return r.Request.Method == http.MethodGet && (r.StatusCode == http.StatusOK || r.StatusCode == http.StatusPartialContent) &&
		r.ContentLength > 1<<20
}

// isUploadCreated matches the answer to a CreateMultipartUpload request.
func isUploadCreated(r *http.Response) bool {
	return r.Request.Method == http.MethodPost && r.Request.URL.Query().Has("uploads") && r.StatusCode == http.StatusOK
}
