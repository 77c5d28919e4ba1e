package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// putObject stores data at key as xfer's uploader does: parts of MinPartSize.
func putObject(t *testing.T, s transfer.Store, key string, data []byte) {
	t.Helper()
	sp, err := transfer.CreateSpool(filepath.Join(t.TempDir(), "up"), "fp")
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Release()
	sp.Write(data)
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Upload(t.Context(), s, sp, transfer.UploadOptions{Key: key, PartSize: transfer.MinPartSize, Overwrite: true}); err != nil {
		t.Fatalf("Upload: %v", err)
	}
}

func fetchAll(t *testing.T, d *transfer.Fetched) []byte {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(d, 0, d.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requireGone(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, path + ".journal"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
}

func TestDownloadDetectsCorruption(t *testing.T) {
	s := memstore.New(memstore.Options{})
	data := randData(2*transfer.MinPartSize + 10)
	putObject(t, s, "k", data)
	// The server hands out one damaged range and does not notice.
	s.Inject(memstore.Fault{Method: memstore.Get, Call: 2, Corrupt: true})
	path := filepath.Join(t.TempDir(), "k.fetch")
	_, err := transfer.Download(t.Context(), s, path, transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 2})
	if !errors.Is(err, transfer.ErrChecksumMismatch) {
		t.Fatalf("Download of a damaged range: %v, want ErrChecksumMismatch", err)
	}
	if errors.Is(err, transfer.ErrInterrupted) {
		t.Errorf("a checksum mismatch is not an interruption: %v", err)
	}
	requireGone(t, path)
}

func TestDownloadRefetchesDamagedSpool(t *testing.T) {
	s := memstore.New(memstore.Options{})
	data := randData(3 << 20)
	putObject(t, s, "k", data)
	path := filepath.Join(t.TempDir(), "k.fetch")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := transfer.Download(ctx, s, path, transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 1,
		Progress: progressFunc(func(done, _, _ int64) {
			if done >= 2<<20 {
				cancel()
			}
		})})
	if !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatalf("cancelled Download: %v", err)
	}
	// The local spool is damaged between the runs: the next run notices
	// and fetches everything again rather than failing.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{^data[100]}, 100)
	f.Close()
	d, err := transfer.Download(t.Context(), s, path, transfer.DownloadOptions{Key: "k"})
	if err != nil {
		t.Fatalf("Download after local damage: %v", err)
	}
	defer d.Remove()
	if !bytes.Equal(fetchAll(t, d), data) || d.Resumed != 0 {
		t.Errorf("after local damage: equal %v, resumed %d (want a fresh download)", bytes.Equal(fetchAll(t, d), data), d.Resumed)
	}
}

type progressFunc func(done, resumed, total int64)

func (f progressFunc) Progress(done, resumed, total int64) { f(done, resumed, total) }

func TestDownloadRetriesBrokenBodies(t *testing.T) {
	s := memstore.New(memstore.Options{})
	data := randData(3 << 20)
	putObject(t, s, "k", data)
	// Two bodies break off part way: each range carries on from where it
	// broke.
	s.Inject(memstore.Fault{Method: memstore.Get, Call: 1, Cut: 1000})
	s.Inject(memstore.Fault{Method: memstore.Get, Call: 3, Cut: 5})
	path := filepath.Join(t.TempDir(), "k.fetch")
	d, err := transfer.Download(t.Context(), s, path, transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 1})
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	defer d.Remove()
	if !bytes.Equal(fetchAll(t, d), data) || !d.Verified {
		t.Fatal("download through broken bodies differs")
	}
	if sum := sha256.Sum256(data); !bytes.Equal(d.SHA256, sum[:]) {
		t.Errorf("Fetched.SHA256 %x, want %x", d.SHA256, sum)
	}
	if n := s.Calls(memstore.Get); n != 5 {
		t.Errorf("%d GETs for 3 ranges and 2 breaks, want 5", n)
	}
}

func TestDownloadInterruptedKeepsState(t *testing.T) {
	s := memstore.New(memstore.Options{})
	data := randData(4 << 20)
	putObject(t, s, "k", data)
	s.Inject(memstore.Fault{Method: memstore.Get, Call: 3}) // transient, after the store's own retries
	path := filepath.Join(t.TempDir(), "k.fetch")
	_, err := transfer.Download(t.Context(), s, path, transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 1})
	if !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatalf("Download with a failing GET: %v, want ErrInterrupted", err)
	}
	if _, err := os.Stat(path + ".journal"); err != nil {
		t.Fatalf("journal not kept: %v", err)
	}
	before := s.Calls(memstore.Get)
	d, err := transfer.Download(t.Context(), s, path, transfer.DownloadOptions{Key: "k"})
	if err != nil {
		t.Fatalf("resumed Download: %v", err)
	}
	defer d.Remove()
	if !bytes.Equal(fetchAll(t, d), data) || d.Resumed != 2<<20 {
		t.Errorf("resumed download: resumed %d, want %d", d.Resumed, 2<<20)
	}
	if n := s.Calls(memstore.Get) - before; n != 2 {
		t.Errorf("resumed run made %d GETs, want 2 (the missing ranges)", n)
	}
}

// changingStore replaces the object once, during the download: before
// its Get number at, or right after it (after); wrap, if set, wraps each
// reply (to hide or misname the version it is of, as a server might).
type changingStore struct {
	*memstore.Store
	gets  atomic.Int32
	at    int32
	with  []byte
	key   string
	after bool
	wrap  func(io.ReadCloser) io.ReadCloser
}

// untagged hides which version a Get's reply is of.
type untagged struct{ io.ReadCloser }

func (c *changingStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	replace := c.gets.Add(1) == c.at
	put := func() {
		c.Store.Put(ctx, c.key, bytes.NewReader(c.with), int64(len(c.with)), transfer.PutOptions{Overwrite: true})
	}
	if replace && !c.after {
		put()
	}
	rc, err := c.Store.Get(ctx, key, off, n)
	if replace && c.after {
		put()
	}
	if err == nil && c.wrap != nil {
		rc = c.wrap(rc)
	}
	return rc, err
}

func TestDownloadObjectChangesMidway(t *testing.T) {
	m := memstore.New(memstore.Options{})
	data := randData(3 << 20)
	putObject(t, m, "k", data)
	other := randData(2 << 20)
	s := &changingStore{Store: m, at: 2, with: other, key: "k"}
	path := filepath.Join(t.TempDir(), "k.fetch")
	d, err := transfer.Download(t.Context(), s, path, transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 1})
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	defer d.Remove()
	if !bytes.Equal(fetchAll(t, d), other) || !d.Restarted || !d.Verified {
		t.Errorf("download of an object replaced midway: got the new one %v, restarted %v", bytes.Equal(fetchAll(t, d), other), d.Restarted)
	}
}

// TestDownloadRequests counts what a download asks: a one-part object (a
// small file, as send uploads it) one HEAD and one GET; an object of
// several parts also the size of its first part; no HEAD at the end, as
// every range came with the ETag the download began with.
func TestDownloadRequests(t *testing.T) {
	for _, tc := range []struct {
		size                   int
		heads, headParts, gets int
	}{
		{size: 100 << 10, heads: 1, headParts: 0, gets: 1},
		{size: 2*transfer.MinPartSize + 7, heads: 1, headParts: 1, gets: 3},
	} {
		s := memstore.New(memstore.Options{})
		data := randData(tc.size)
		putObject(t, s, "k", data)
		heads, headParts, gets := s.Calls(memstore.Head), s.Calls(memstore.HeadPart), s.Calls(memstore.Get)
		d, err := transfer.Download(t.Context(), s, filepath.Join(t.TempDir(), "k.fetch"), transfer.DownloadOptions{Key: "k", ChunkSize: transfer.MinPartSize})
		if err != nil {
			t.Fatalf("%d bytes: %v", tc.size, err)
		}
		if !bytes.Equal(fetchAll(t, d), data) || !d.Verified {
			t.Errorf("%d bytes: content differs or not verified (%v)", tc.size, d.Verified)
		}
		d.Remove()
		got := [3]int{s.Calls(memstore.Head) - heads, s.Calls(memstore.HeadPart) - headParts, s.Calls(memstore.Get) - gets}
		if want := [3]int{tc.heads, tc.headParts, tc.gets}; got != want {
			t.Errorf("%d bytes: HEAD, HeadPart, GET = %v, want %v", tc.size, got, want)
		}
	}
}

// TestDownloadReplacedAfterLastRange: an object replaced once its last
// range was asked for. Where every reply named its version, what was
// fetched is one whole version, the one listed: the download keeps it.
// Where replies do not say, the HEAD at the end sees the new version and
// the download starts over for it.
func TestDownloadReplacedAfterLastRange(t *testing.T) {
	for _, hide := range []bool{false, true} {
		m := memstore.New(memstore.Options{})
		data, other := randData(3<<20), randData(2<<20)
		putObject(t, m, "k", data)
		s := &changingStore{Store: m, at: 3, with: other, key: "k", after: true}
		if hide {
			s.wrap = func(rc io.ReadCloser) io.ReadCloser { return untagged{rc} }
		}
		heads := m.Calls(memstore.Head)
		d, err := transfer.Download(t.Context(), s, filepath.Join(t.TempDir(), "k.fetch"), transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 1})
		if err != nil {
			t.Fatalf("hide=%v: %v", hide, err)
		}
		got := fetchAll(t, d)
		d.Remove()
		switch {
		case !hide && (!bytes.Equal(got, data) || d.Restarted || m.Calls(memstore.Head)-heads != 1):
			t.Errorf("tagged replies: got the listed version %v, restarted %v, %d HEADs (want it, false, 1)",
				bytes.Equal(got, data), d.Restarted, m.Calls(memstore.Head)-heads)
		case hide && (!bytes.Equal(got, other) || !d.Restarted):
			t.Errorf("untagged replies: got the new version %v, restarted %v (want both)", bytes.Equal(got, other), d.Restarted)
		}
	}
}

// misnamed names every reply's version otherwise than the server's HEAD.
type misnamed struct{ io.ReadCloser }

func (misnamed) ETag() string { return `"not-the-head-s"` }

// TestDownloadMisnamedVersions: a server whose GETs name versions
// otherwise than its HEADs does not make every download start over: the
// first such reply is checked with a HEAD, and the end with another.
func TestDownloadMisnamedVersions(t *testing.T) {
	m := memstore.New(memstore.Options{})
	data := randData(3 << 20)
	putObject(t, m, "k", data)
	d, err := transfer.Download(t.Context(), &changingStore{Store: m, wrap: func(rc io.ReadCloser) io.ReadCloser { return misnamed{rc} }}, filepath.Join(t.TempDir(), "k.fetch"), transfer.DownloadOptions{Key: "k", ChunkSize: 1 << 20, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Remove()
	if !bytes.Equal(fetchAll(t, d), data) || d.Restarted || !d.Verified {
		t.Errorf("content %v, restarted %v, verified %v", bytes.Equal(fetchAll(t, d), data), d.Restarted, d.Verified)
	}
	if n := m.Calls(memstore.Head); n != 3 {
		t.Errorf("%d HEADs, want 3 (the start, the first misnamed reply, the end)", n)
	}
}

// An upload by another tool may have parts of any size: each is asked.
func TestDownloadUnevenParts(t *testing.T) {
	s := memstore.New(memstore.Options{})
	ctx := t.Context()
	id, err := s.CreateUpload(ctx, "k", transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []transfer.Part
	var data []byte
	for i, size := range []int{6 << 20, 5 << 20, 7 << 20, 100} {
		b := randData(size)
		sum := sha256.Sum256(b)
		p, err := s.UploadPart(ctx, "k", id, i+1, bytes.NewReader(b), int64(size), base64.StdEncoding.EncodeToString(sum[:]))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
		data = append(data, b...)
	}
	if _, err := s.CompleteUpload(ctx, "k", id, parts, transfer.CompleteOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := transfer.Download(ctx, s, filepath.Join(t.TempDir(), "k.fetch"), transfer.DownloadOptions{Key: "k"})
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	defer d.Remove()
	if !bytes.Equal(fetchAll(t, d), data) || !d.Verified || d.Parts != 4 {
		t.Errorf("uneven parts: verified %v over %d parts", d.Verified, d.Parts)
	}
	if n := s.Calls(memstore.HeadPart); n != 4 {
		t.Errorf("%d HeadPart calls, want 4 (every part)", n)
	}
}

func TestDownloadEmpty(t *testing.T) {
	s := memstore.New(memstore.Options{})
	if _, err := s.Put(t.Context(), "k", bytes.NewReader(nil), 0, transfer.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := transfer.Download(t.Context(), s, filepath.Join(t.TempDir(), "k.fetch"), transfer.DownloadOptions{Key: "k"})
	if err != nil {
		t.Fatalf("Download of an empty object: %v", err)
	}
	defer d.Remove()
	if d.Size() != 0 || !d.Verified {
		t.Errorf("empty object: size %d, verified %v", d.Size(), d.Verified)
	}
}

func TestCompositeChecksum(t *testing.T) {
	// The composite of S3's documentation form: SHA-256 over the part
	// digests, then "-N". Checked against MinIO and versitygw in the store
	// suite; here the arithmetic.
	a, b := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	h := sha256.New()
	h.Write(a[:])
	h.Write(b[:])
	want := base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-2"
	if got := transfer.CompositeChecksum([][]byte{a[:], b[:]}); got != want {
		t.Errorf("CompositeChecksum = %s, want %s", got, want)
	}
}
