package s3store_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// silentServer accepts connections and reads what it is sent (the request
// line and headers only when readBody is false), and never answers. It
// counts the connections.
func silentServer(t *testing.T, readBody bool) (endpoint string, conns *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	var mu sync.Mutex
	var open []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			go func() {
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				if readBody {
					io.Copy(io.Discard, br)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + l.Addr().String(), conns
}

func stallOptions(endpoint string, stall time.Duration) s3store.Options {
	return s3store.Options{Bucket: "b", Endpoint: endpoint, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b",
		MaxAttempts: 2, MaxBackoff: 10 * time.Millisecond, StallTimeout: stall}
}

// TestStallDetected: a server that accepts requests and never answers,
// one that stops reading a part's body, and one that stops half way
// through a response each fail the request after the stall timeout, with
// a transient error after the retries, instead of hanging.
func TestStallDetected(t *testing.T) {
	const stall = 300 * time.Millisecond
	// Generous: -race and a busy machine; without detection these hang.
	const within = 20 * time.Second
	check := func(t *testing.T, err error, start time.Time) {
		t.Helper()
		if !transfer.IsTransient(err) {
			t.Fatalf("got %v, want a transient error", err)
		}
		if !strings.Contains(err.Error(), "stalled") {
			t.Errorf("error does not say the connection stalled: %v", err)
		}
		if d := time.Since(start); d > within {
			t.Errorf("took %v", d)
		}
	}

	t.Run("no answer", func(t *testing.T) {
		endpoint, conns := silentServer(t, true)
		s := newStore(t, stallOptions(endpoint, stall))
		start := time.Now()
		_, err := s.Head(t.Context(), "k")
		check(t, err, start)
		if n := conns.Load(); n != 2 {
			t.Errorf("%d connections, want 2 (one per attempt)", n)
		}
	})

	t.Run("body not read", func(t *testing.T) {
		endpoint, _ := silentServer(t, false)
		s := newStore(t, stallOptions(endpoint, stall))
		// More than the socket buffers of both ends hold, so writing blocks.
		part := make([]byte, 32<<20)
		sum := sha256.Sum256(part)
		start := time.Now()
		_, err := s.UploadPart(t.Context(), "k", "u", 1, bytes.NewReader(part), int64(len(part)), base64.StdEncoding.EncodeToString(sum[:]))
		check(t, err, start)
	})

	t.Run("response stops", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.Header().Set("Content-Range", "bytes 0-999/1000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
			<-release
		}))
		defer srv.Close()
		defer close(release)
		s := newStore(t, stallOptions(srv.URL, stall))
		rc, err := s.Get(t.Context(), "k", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		start := time.Now()
		n, err := io.Copy(io.Discard, rc)
		if n != 100 || err == nil || time.Since(start) > within {
			t.Fatalf("read %d bytes, %v after %v; want 100 bytes, then a stall", n, err, time.Since(start))
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "stalled") {
			t.Errorf("got %v, want a stall (a net.Error timeout)", err)
		}
	})
}

// TestSlowNotStalled: a response that trickles in for several times the
// stall timeout, but never pauses that long, completes.
func TestSlowNotStalled(t *testing.T) {
	const stall = 400 * time.Millisecond
	body := make([]byte, 20)
	rand.Read(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(stall / 3) // thinking before the headers
		w.Header().Set("Content-Length", "20")
		w.Header().Set("Content-Range", "bytes 0-19/20")
		w.WriteHeader(http.StatusPartialContent)
		for i := range body {
			w.Write(body[i : i+1])
			w.(http.Flusher).Flush()
			time.Sleep(stall / 4)
		}
	}))
	defer srv.Close()
	s := newStore(t, stallOptions(srv.URL, stall))
	rc, err := s.Get(t.Context(), "k", 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes, %v; want the 20 bytes", len(got), err)
	}
}
