package s3store_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
)

// cutProxy forwards TCP to a server and cuts connections part way: the
// first cuts connections each die after budget bytes from the client.
type cutProxy struct {
	l      net.Listener
	target string
	budget int64
	cuts   atomic.Int64 // connections still to cut
	cut    atomic.Int64 // connections cut
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func startCutProxy(t *testing.T, target string, budget int64, cuts int) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, budget: budget, conns: map[net.Conn]bool{}}
	p.cuts.Store(int64(cuts))
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		// Idle keep-alive connections would hold the copies open.
		l.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *cutProxy) handle(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	p.mu.Lock()
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, s)
		p.mu.Unlock()
	}()
	var up io.Reader = c
	cutThis := p.cuts.Add(-1) >= 0
	if cutThis {
		up = io.LimitReader(c, p.budget)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(c, s)
		close(done)
	}()
	io.Copy(s, up)
	if cutThis {
		p.cut.Add(1)
	}
	// Either side finishing ends the connection, as a dropped link would.
	c.Close()
	s.Close()
	<-done
}

// TestUploadThroughCutConnections uploads through connections that die
// mid-part: the SDK must rewind each part's body and retry, and with the
// retries spent the upload must stop as interrupted and resume later.
func TestUploadThroughCutConnections(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*transfer.MinPartSize+1000)
	rand.Read(data)

	spoolAt := func(t *testing.T) (*transfer.Spool, string) {
		path := filepath.Join(t.TempDir(), "spool")
		sp, err := transfer.CreateSpool(path, "fp")
		if err != nil {
			t.Fatal(err)
		}
		sp.Write(data)
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}
		return sp, path
	}
	get := func(t *testing.T, s transfer.Store, key string) []byte {
		rc, err := s.Get(t.Context(), key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("Retried", func(t *testing.T) {
		proxy := startCutProxy(t, u.Host, 1<<20, 2)
		o := options(srv)
		o.Endpoint = "http://" + proxy.l.Addr().String()
		var attempts atomic.Int64
		o.OnAttempt = func(string, error) { attempts.Add(1) }
		s := newStore(t, o)
		sp, _ := spoolAt(t)
		defer sp.Release()
		if _, err := transfer.Upload(t.Context(), s, sp, transfer.UploadOptions{Key: "cut/retried", PartSize: transfer.MinPartSize, Concurrency: 1}); err != nil {
			t.Fatalf("Upload through cut connections: %v", err)
		}
		if proxy.cut.Load() != 2 {
			t.Errorf("%d connections cut, want 2", proxy.cut.Load())
		}
		if !bytes.Equal(get(t, s, "cut/retried"), data) {
			t.Fatal("object differs")
		}
		t.Logf("%d HTTP attempts for 2 cut connections", attempts.Load())
	})

	t.Run("Resumed", func(t *testing.T) {
		// Every connection after the first few dies mid-part, one try
		// each: the upload stops, interrupted, and a later run resumes.
		proxy := startCutProxy(t, u.Host, 1<<20, 1000)
		o := options(srv)
		o.Endpoint = "http://" + proxy.l.Addr().String()
		o.MaxAttempts = 2
		s := newStore(t, o)
		sp, path := spoolAt(t)
		_, err := transfer.Upload(t.Context(), s, sp, transfer.UploadOptions{Key: "cut/resumed", PartSize: transfer.MinPartSize, Concurrency: 1})
		sp.Release()
		if !errors.Is(err, transfer.ErrInterrupted) {
			t.Fatalf("Upload with every connection cut: %v, want ErrInterrupted", err)
		}
		sp, err = transfer.OpenSpool(path, "fp")
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Release()
		direct := newStore(t, options(srv))
		if _, err := transfer.Upload(t.Context(), direct, sp, transfer.UploadOptions{Key: "cut/resumed"}); err != nil {
			t.Fatalf("resumed Upload: %v", err)
		}
		if !bytes.Equal(get(t, direct, "cut/resumed"), data) {
			t.Fatal("object differs")
		}
	})
}
