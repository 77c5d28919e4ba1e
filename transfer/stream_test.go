package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// gatedStore holds back the GETs of one range until the test opens the
// gate, and says when the first of them arrived.
type gatedStore struct {
	*memstore.Store
	from, to int64 // the GETs starting in [from, to) wait
	arrived  chan struct{}
	gate     chan struct{}
	once     bool
}

func (g *gatedStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if off >= g.from && off < g.to {
		if !g.once {
			g.once = true // one range, fetched by one goroutine at a time
			close(g.arrived)
		}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Store.Get(ctx, key, off, n)
}

func readAt(t *testing.T, r io.ReaderAt, off, n int64) []byte {
	t.Helper()
	b := make([]byte, n)
	if m, err := r.ReadAt(b, off); int64(m) != n || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt(%d, %d): %d bytes, %v", off, n, m, err)
	}
	return b
}

// TestStreamReadsWhileDownloading: a Stream serves the ranges that have
// arrived while another is still on its way, the tail among the first;
// a read of the missing range waits for it.
func TestStreamReadsWhileDownloading(t *testing.T) {
	const cs = 1 << 20
	m := memstore.New(memstore.Options{})
	data := randData(4*cs + 100)
	putObject(t, m, "k", data)
	s := &gatedStore{Store: m, from: 2 * cs, to: 3 * cs, arrived: make(chan struct{}), gate: make(chan struct{})}
	path := filepath.Join(t.TempDir(), "k.fetch")
	dl, err := transfer.StartDownload(t.Context(), s, path, transfer.DownloadOptions{Key: "k", ChunkSize: cs, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := dl.Stream()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != int64(len(data)) {
		t.Fatalf("stream size %d, want %d", st.Size(), len(data))
	}
	// One at a time, the ranges are fetched first, last, then in order:
	// once the third range is asked for, all others but the fourth are
	// there, while the download cannot have ended.
	<-s.arrived
	for _, r := range [][2]int64{{0, cs}, {4 * cs, 100}, {cs, cs}, {cs - 10, 20}} {
		if got := readAt(t, st, r[0], r[1]); !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
			t.Errorf("bytes %d+%d differ", r[0], r[1])
		}
	}
	got := make(chan []byte)
	go func() {
		b := make([]byte, cs+20)
		n, err := st.ReadAt(b, 2*cs-10)
		if err != nil {
			t.Errorf("read across the held-back range: %v", err)
		}
		got <- b[:n]
	}()
	close(s.gate)
	if b := <-got; !bytes.Equal(b, data[2*cs-10:3*cs+10]) {
		t.Error("the held-back range read wrong")
	}
	d, err := dl.Wait()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Remove()
	if !st.Current() || !d.Verified {
		t.Errorf("current %v, verified %v", st.Current(), d.Verified)
	}
	if b := readAt(t, st, 0, int64(len(data))); !bytes.Equal(b, data) {
		t.Error("the whole stream differs from the object")
	}
}

// heldStore holds back every GET until the test opens the gate.
type heldStore struct {
	transfer.Store
	gate chan struct{}
}

func (h *heldStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	select {
	case <-h.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.Store.Get(ctx, key, off, n)
}

// TestStreamStartsOver: once the download starts over (the object was
// replaced midway), a Stream opened before is no longer Current and its
// reads fail.
func TestStreamStartsOver(t *testing.T) {
	m := memstore.New(memstore.Options{})
	data := randData(3 << 20)
	putObject(t, m, "k", data)
	other := randData(2 << 20)
	s := &heldStore{Store: &changingStore{Store: m, at: 2, with: other, key: "k"}, gate: make(chan struct{})}
	path := filepath.Join(t.TempDir(), "k.fetch")
	dl, err := transfer.StartDownload(t.Context(), s, path, transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := dl.Stream() // before the first GET: of the first version
	if err != nil {
		t.Fatal(err)
	}
	close(s.gate)
	d, err := dl.Wait()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Remove()
	if st.Current() || !d.Restarted {
		t.Errorf("current %v after a restart (restarted %v)", st.Current(), d.Restarted)
	}
	if _, err := st.ReadAt(make([]byte, 10), 0); !errors.Is(err, transfer.ErrStartedOver) {
		t.Errorf("read of a stale stream: %v, want ErrStartedOver", err)
	}
	st2, err := dl.Stream()
	if err != nil || !st2.Current() || st2.Size() != int64(len(other)) {
		t.Fatalf("new stream: %v", err)
	}
	if b := readAt(t, st2, 0, st2.Size()); !bytes.Equal(b, other) {
		t.Error("the new stream differs from the new object")
	}
}

// TestStreamFailsWithDownload: a read waiting for a range the download
// cannot get fails with the download's error instead of waiting forever.
func TestStreamFailsWithDownload(t *testing.T) {
	m := memstore.New(memstore.Options{})
	data := randData(3 << 20)
	putObject(t, m, "k", data)
	m.Inject(memstore.Fault{Method: memstore.Get, Call: 2, Err: transfer.ErrAccessDenied})
	path := filepath.Join(t.TempDir(), "k.fetch")
	dl, err := transfer.StartDownload(t.Context(), m, path, transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := dl.Stream()
	if err != nil {
		// The download may have failed before it laid out the spool.
		if _, werr := dl.Wait(); !errors.Is(werr, transfer.ErrAccessDenied) || !errors.Is(err, transfer.ErrAccessDenied) {
			t.Fatalf("Stream: %v, Wait: %v", err, werr)
		}
		return
	}
	_, rerr := st.ReadAt(make([]byte, 3<<20), 0)
	_, werr := dl.Wait()
	if !errors.Is(werr, transfer.ErrAccessDenied) || !errors.Is(rerr, transfer.ErrAccessDenied) {
		t.Errorf("read: %v, download: %v; want both refused", rerr, werr)
	}
}
