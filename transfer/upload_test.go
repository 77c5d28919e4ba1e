package transfer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
	"github.com/xfer-dev/xfer/transfer/storetest"
)

const (
	mib = 1 << 20
	fp  = "fingerprint-1"
)

func randData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// newSpool creates a spool at path, released when the test ends.
func newSpool(t *testing.T, path string) *transfer.Spool {
	t.Helper()
	sp, err := transfer.CreateSpool(path, fp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Release() })
	return sp
}

// reopen releases sp and opens its spool again, as the next run does; it
// is released when the test ends.
func reopen(t *testing.T, sp *transfer.Spool, path string) *transfer.Spool {
	t.Helper()
	sp.Release()
	sp, err := transfer.OpenSpool(path, fp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Release() })
	return sp
}

// sealedSpool writes data to a new spool at dir/name and seals it.
func sealedSpool(t *testing.T, path string, data []byte) *transfer.Spool {
	t.Helper()
	return storetest.SealedSpool(t, path, fp, data)
}

// progress records the last report and checks reports stay sane.
type progress struct {
	t                    *testing.T
	mu                   sync.Mutex
	done, resumed, total int64
	calls                int
	sawGrowing           bool
}

func (p *progress) Progress(done, resumed, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.done, p.resumed, p.total = done, resumed, total
	if total < 0 && done > 0 {
		p.sawGrowing = true
	}
	if done < 0 || resumed > done || (total >= 0 && done > total) {
		p.t.Errorf("bad progress: done %d resumed %d total %d", done, resumed, total)
	}
}

func upload(t *testing.T, s transfer.Store, sp *transfer.Spool, key string, mod ...func(*transfer.UploadOptions)) (transfer.UploadResult, *progress, error) {
	t.Helper()
	pr := &progress{t: t}
	opts := transfer.UploadOptions{Key: key, PartSize: transfer.MinPartSize, Progress: pr, Metadata: map[string]string{"xfer-cipher": "age"}}
	for _, m := range mod {
		m(&opts)
	}
	res, err := transfer.Upload(t.Context(), s, sp, opts)
	return res, pr, err
}

func checkDone(t *testing.T, s *memstore.Store, spoolPath, key string, want []byte) {
	t.Helper()
	got, ok := s.Object(key)
	if !ok {
		t.Fatalf("no object %s", key)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("object %s: %d bytes, differs from the %d sealed", key, len(got), len(want))
	}
	if ids := s.UploadIDs(); len(ids) != 0 {
		t.Errorf("unfinished uploads left: %v", ids)
	}
	for _, p := range []string{spoolPath, spoolPath + ".journal"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(spoolPath))
	for _, e := range entries {
		t.Errorf("left in the spool directory: %s", e.Name())
	}
}

func TestUploadSealedSpool(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "a.csv.zip.age")
	data := randData(2*transfer.MinPartSize + 12345)
	sp := sealedSpool(t, path, data)
	defer sp.Release()
	res, pr, err := upload(t, s, sp, "in/a.csv.zip.age")
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	checkDone(t, s, path, "in/a.csv.zip.age", data)
	if res.Parts != 3 || res.Size != int64(len(data)) || res.Resumed != 0 || res.ETag == "" {
		t.Errorf("result %+v", res)
	}
	if pr.done != int64(len(data)) || pr.total != int64(len(data)) || pr.resumed != 0 {
		t.Errorf("last progress: done %d resumed %d total %d", pr.done, pr.resumed, pr.total)
	}
	info, err := s.Head(t.Context(), "in/a.csv.zip.age")
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata["xfer-cipher"] != "age" || len(info.Metadata["xfer-upload"]) != 32 {
		t.Errorf("metadata %v", info.Metadata)
	}
}

func TestUploadEmptyAndSmall(t *testing.T) {
	for _, n := range []int{0, 1, transfer.MinPartSize, transfer.MinPartSize + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := memstore.New(memstore.Options{})
			path := filepath.Join(t.TempDir(), "spool")
			data := randData(n)
			sp := sealedSpool(t, path, data)
			defer sp.Release()
			if _, _, err := upload(t, s, sp, "k"); err != nil {
				t.Fatalf("Upload: %v", err)
			}
			checkDone(t, s, path, "k", data)
		})
	}
}

// TestUploadGrowingSpool sends parts while the spool is still written.
func TestUploadGrowingSpool(t *testing.T) {
	s := newPartSignal()
	path := filepath.Join(t.TempDir(), "spool")
	data := randData(3*transfer.MinPartSize + 777)
	sp := newSpool(t, path)
	var partsBeforeClose atomic.Int64
	go func() {
		for off := 0; off < len(data); off += 256 << 10 {
			end := min(off+256<<10, len(data))
			if _, err := sp.Write(data[off:end]); err != nil {
				sp.CloseWithError(err)
				return
			}
			if off == 10<<20 {
				// The first part (8 MiB) is in the spool: the upload should
				// store it now, without waiting for the rest. Wait for that
				// (not for a fixed time: a loaded machine is slow); the
				// deadline only turns a hang into a failure.
				select {
				case <-s.stored:
				case <-time.After(time.Minute):
				}
			}
		}
		partsBeforeClose.Store(int64(s.Calls(memstore.UploadPart)))
		sp.Close()
	}()
	res, pr, err := upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.PartSize = 0; o.SizeHint = int64(len(data)) })
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	checkDone(t, s.Store, path, "k", data)
	if res.PartSize != 8*mib {
		t.Errorf("part size %d, want 8 MiB", res.PartSize)
	}
	if partsBeforeClose.Load() == 0 || !pr.sawGrowing {
		t.Errorf("no part was sent while the spool grew (%d parts before close)", partsBeforeClose.Load())
	}
}

// partSignal is a memstore that closes stored once it has stored a part:
// the event tests of a spool still growing wait for.
type partSignal struct {
	*memstore.Store
	once   sync.Once
	stored chan struct{}
}

func newPartSignal() *partSignal {
	return &partSignal{Store: memstore.New(memstore.Options{}), stored: make(chan struct{})}
}

func (s *partSignal) UploadPart(ctx context.Context, key, id string, n int, body io.ReadSeeker, size int64, sum string) (transfer.Part, error) {
	p, err := s.Store.UploadPart(ctx, key, id, n, body, size, sum)
	if err == nil {
		s.once.Do(func() { close(s.stored) })
	}
	return p, err
}

func TestChoosePartSize(t *testing.T) {
	for _, tc := range []struct{ size, want int64 }{
		{0, 8 * mib},
		{100 * mib, 8 * mib},
		{70 << 30, 8 * mib},   // 77 GiB with slack / 10000 = 7.9 MiB
		{100 << 30, 12 * mib}, // 110 GiB / 10000 = 11.3 MiB
		{1 << 40, 116 * mib},
		{100 << 40, transfer.MaxPartSize}, // beyond S3's limits: capped
	} {
		got := transfer.ChoosePartSize(tc.size)
		if got != tc.want {
			t.Errorf("ChoosePartSize(%d) = %d MiB, want %d MiB", tc.size, got/mib, tc.want/mib)
		}
		if tc.size < 50<<40 && got*transfer.MaxParts < tc.size || got%mib != 0 || got < transfer.MinPartSize {
			t.Errorf("ChoosePartSize(%d) = %d breaks the rules", tc.size, got)
		}
	}
}

// TestResumeAfterEveryFailure fails each store call an upload makes, in
// turn, then re-runs: every failure must leave state the second run
// completes from, sending only what is missing.
func TestResumeAfterEveryFailure(t *testing.T) {
	data := randData(2*transfer.MinPartSize + 99)
	const parts = 3
	type point struct {
		method string
		call   int
	}
	var points []point
	points = append(points, point{memstore.Head, 1}, point{memstore.CreateUpload, 1})
	for i := 1; i <= parts; i++ {
		points = append(points, point{memstore.UploadPart, i})
	}
	points = append(points, point{memstore.CompleteUpload, 1})
	for _, pt := range points {
		for _, kind := range []string{"transient", "lost", "cut", "permanent"} {
			if kind == "cut" && pt.method != memstore.UploadPart {
				continue
			}
			t.Run(fmt.Sprintf("%s-%d-%s", pt.method, pt.call, kind), func(t *testing.T) {
				s := memstore.New(memstore.Options{})
				path := filepath.Join(t.TempDir(), "spool")
				sp := sealedSpool(t, path, data)
				f := memstore.Fault{Method: pt.method, Call: pt.call}
				switch kind {
				case "lost":
					f.Lost = true
				case "cut":
					f.Cut = 1000
				case "permanent":
					f.Err = &transfer.StoreError{Op: pt.method, Kind: transfer.ErrAccessDenied}
				}
				s.Inject(f)
				_, _, err := upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.Concurrency = 2 })
				sp.Release()
				if err == nil {
					t.Fatal("first run succeeded despite the fault")
				}
				if kind == "permanent" {
					if !errors.Is(err, transfer.ErrAccessDenied) || errors.Is(err, transfer.ErrInterrupted) {
						t.Fatalf("permanent failure: %v", err)
					}
				} else if !errors.Is(err, transfer.ErrInterrupted) {
					t.Fatalf("transient failure: %v, want ErrInterrupted", err)
				}
				if _, err := os.Stat(path + ".journal"); err != nil {
					t.Fatalf("journal gone after a failed run: %v", err)
				}

				sent := s.Calls(memstore.UploadPart)
				sp2, err := transfer.OpenSpool(path, fp)
				if err != nil {
					t.Fatalf("OpenSpool: %v", err)
				}
				defer sp2.Release()
				res, pr, err := upload(t, s, sp2, "k")
				if err != nil {
					t.Fatalf("second run: %v", err)
				}
				checkDone(t, s, path, "k", data)
				resent := s.Calls(memstore.UploadPart) - sent
				stored := int64(len(data)) - int64(resent)*transfer.MinPartSize
				if resent > parts || res.Resumed < stored-transfer.MinPartSize {
					t.Errorf("second run sent %d parts, resumed %d bytes", resent, res.Resumed)
				}
				if pr.resumed != res.Resumed || pr.done != int64(len(data)) {
					t.Errorf("progress: done %d resumed %d; result resumed %d", pr.done, pr.resumed, res.Resumed)
				}
				// A failed part number is sent again; the rest are not.
				if pt.method == memstore.UploadPart && kind != "lost" && resent > 1+parts-pt.call+1 {
					t.Errorf("%d parts sent again", resent)
				}
				if pt.method == memstore.CompleteUpload && resent != 0 {
					t.Errorf("%d parts sent again after a failed completion", resent)
				}
			})
		}
	}
}

func TestResumeListPartsFails(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "spool")
	data := randData(2*transfer.MinPartSize + 1)
	sp := sealedSpool(t, path, data)
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 2, Permanent: false})
	_, _, err := upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.Concurrency = 1 })
	sp.Release()
	if !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatal(err)
	}
	for i := range 2 {
		if i == 0 {
			s.Inject(memstore.Fault{Method: memstore.ListParts, Call: 1})
		}
		sp, err := transfer.OpenSpool(path, fp)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = upload(t, s, sp, "k")
		sp.Release()
		if i == 0 && !errors.Is(err, transfer.ErrInterrupted) {
			t.Fatalf("ListParts failing: %v", err)
		}
		if i == 1 && err != nil {
			t.Fatal(err)
		}
	}
	checkDone(t, s, path, "k", data)
}

// TestNewFingerprintStartsAfresh: a spool sealed from another source
// aborts the stale upload and uploads everything again.
func TestNewFingerprintStartsAfresh(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "spool")
	sp := sealedSpool(t, path, randData(2*transfer.MinPartSize))
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 2})
	if _, _, err := upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.Concurrency = 1 }); !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatal(err)
	}
	sp.Release()
	stale := s.UploadIDs()
	if len(stale) != 1 {
		t.Fatalf("uploads after the first run: %v", stale)
	}
	if _, err := transfer.OpenSpool(path, "fingerprint-2"); !errors.Is(err, transfer.ErrNoSpool) {
		t.Fatalf("OpenSpool with another fingerprint: %v, want ErrNoSpool", err)
	}
	sp2, err := transfer.CreateSpool(path, "fingerprint-2")
	if err != nil {
		t.Fatal(err)
	}
	defer sp2.Release()
	data := randData(transfer.MinPartSize + 5)
	sp2.Write(data)
	sp2.Close()
	res, _, err := upload(t, s, sp2, "k")
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 0 {
		t.Errorf("resumed %d bytes of another source", res.Resumed)
	}
	checkDone(t, s, path, "k", data)
}

// TestUnsealedSpoolIsNotResumed: a run that died while sealing leaves a
// spool OpenSpool refuses.
func TestUnsealedSpoolIsNotResumed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool")
	sp, err := transfer.CreateSpool(path, fp)
	if err != nil {
		t.Fatal(err)
	}
	sp.Write([]byte("half a file"))
	sp.Release()
	if _, err := transfer.OpenSpool(path, fp); !errors.Is(err, transfer.ErrNoSpool) {
		t.Fatalf("OpenSpool of an unsealed spool: %v", err)
	}
	// A sealed spool whose file was changed afterwards is refused too.
	sp = sealedSpool(t, path, []byte("whole"))
	sp.Release()
	os.WriteFile(path, []byte("whole, and more"), 0o600)
	if _, err := transfer.OpenSpool(path, fp); !errors.Is(err, transfer.ErrNoSpool) {
		t.Fatalf("OpenSpool of a changed spool: %v", err)
	}
}

func TestSpoolLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool")
	sp := sealedSpool(t, path, []byte("x"))
	defer sp.Release()
	if _, err := transfer.CreateSpool(path, fp); !errors.Is(err, transfer.ErrSpoolBusy) {
		t.Errorf("CreateSpool of a held spool: %v", err)
	}
	if _, err := transfer.OpenSpool(path, fp); !errors.Is(err, transfer.ErrSpoolBusy) {
		t.Errorf("OpenSpool of a held spool: %v", err)
	}
	if err := transfer.RemoveSpool(path); !errors.Is(err, transfer.ErrSpoolBusy) {
		t.Errorf("RemoveSpool of a held spool: %v", err)
	}
	sp.Release()
	if err := transfer.RemoveSpool(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".journal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left: %v", err)
	}
}

func TestJournalFormat(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "spool")
	sp := sealedSpool(t, path, randData(2*transfer.MinPartSize))
	defer sp.Release()
	s.Inject(memstore.Fault{Method: memstore.CompleteUpload, Call: 1})
	if _, _, err := upload(t, s, sp, "in/k"); !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".journal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	b, err := os.ReadFile(path + ".journal")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Version     int    `json:"version"`
		Fingerprint string `json:"fingerprint"`
		Sealed      bool   `json:"sealed"`
		SpoolSize   int64  `json:"spool_size"`
		Bucket      string `json:"bucket"`
		Key         string `json:"key"`
		UploadID    string `json:"upload_id"`
		PartSize    int64  `json:"part_size"`
		Parts       []struct {
			N      int    `json:"n"`
			Size   int64  `json:"size"`
			ETag   string `json:"etag"`
			SHA256 string `json:"sha256"`
		} `json:"parts"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if j.Version != 1 || j.Fingerprint != fp || !j.Sealed || j.SpoolSize != 2*transfer.MinPartSize ||
		j.Bucket != "mem" || j.Key != "in/k" || j.UploadID == "" || j.PartSize != transfer.MinPartSize || len(j.Parts) != 2 {
		t.Errorf("journal:\n%s", b)
	}
	for _, p := range j.Parts {
		if p.ETag == "" || len(p.SHA256) != 44 || p.Size != transfer.MinPartSize {
			t.Errorf("journal part %+v", p)
		}
	}
}

func TestUploadRefusesExistingObject(t *testing.T) {
	s := memstore.New(memstore.Options{})
	s.Put(t.Context(), "k", bytes.NewReader([]byte("old")), 3, transfer.PutOptions{})
	path := filepath.Join(t.TempDir(), "spool")
	data := randData(100)
	sp := sealedSpool(t, path, data)
	_, _, err := upload(t, s, sp, "k")
	if !errors.Is(err, transfer.ErrPreconditionFailed) || errors.Is(err, transfer.ErrInterrupted) {
		t.Fatalf("Upload over an existing object: %v", err)
	}
	if n := s.Calls(memstore.CreateUpload); n != 0 {
		t.Errorf("%d uploads created for an object that exists", n)
	}
	sp.Release()
	// Re-run with Overwrite: the sealed spool is still there.
	sp, err = transfer.OpenSpool(path, fp)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Release()
	if _, _, err := upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.Overwrite = true }); err != nil {
		t.Fatal(err)
	}
	checkDone(t, s, path, "k", data)
}

// TestConditionalCompleteRace: the object appears while the parts are
// sent; completion refuses, and the upload is aborted.
func TestConditionalCompleteRace(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "spool")
	sp := sealedSpool(t, path, randData(100))
	defer sp.Release()
	s2 := &rivalStore{Store: s}
	_, _, err := upload(t, s2, sp, "k")
	if !errors.Is(err, transfer.ErrPreconditionFailed) {
		t.Fatalf("Upload racing a rival: %v", err)
	}
	if ids := s.UploadIDs(); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
	if got, _ := s.Object("k"); string(got) != "rival" {
		t.Errorf("rival object replaced: %q", got)
	}
}

// rivalStore puts another object in place just before completion.
type rivalStore struct{ *memstore.Store }

func (r *rivalStore) CompleteUpload(ctx context.Context, key, id string, parts []transfer.Part, o transfer.CompleteOptions) (transfer.ObjectInfo, error) {
	r.Store.Put(ctx, key, bytes.NewReader([]byte("rival")), 5, transfer.PutOptions{Overwrite: true})
	return r.Store.CompleteUpload(ctx, key, id, parts, o)
}

func TestUploadCancelled(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "spool")
	data := randData(3 * transfer.MinPartSize)
	sp := sealedSpool(t, path, data)
	ctx, cancel := context.WithCancel(t.Context())
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 2, Hook: cancel, Err: context.Canceled})
	_, err := transfer.Upload(ctx, s, sp, transfer.UploadOptions{Key: "k", PartSize: transfer.MinPartSize, Concurrency: 1})
	sp.Release()
	if !errors.Is(err, transfer.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v", err)
	}
	sp, err = transfer.OpenSpool(path, fp)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Release()
	res, _, err := upload(t, s, sp, "k")
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != transfer.MinPartSize {
		t.Errorf("resumed %d bytes, want one part", res.Resumed)
	}
	checkDone(t, s, path, "k", data)
}

// TestSealingFails: the sealer gives up; the upload is aborted and the
// spool removed.
func TestSealingFails(t *testing.T) {
	s := newPartSignal()
	path := filepath.Join(t.TempDir(), "spool")
	sp := newSpool(t, path)
	bad := errors.New("line 7: bad quoting")
	go func() {
		sp.Write(randData(transfer.MinPartSize + 10))
		select { // the upload under way, a part stored (the deadline only ends a hang)
		case <-s.stored:
		case <-time.After(time.Minute):
		}
		sp.CloseWithError(bad)
	}()
	_, _, err := upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.SizeHint = 20 * mib })
	if !errors.Is(err, bad) || errors.Is(err, transfer.ErrInterrupted) {
		t.Fatalf("Upload with failed sealing: %v", err)
	}
	if ids := s.UploadIDs(); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spool left after failed sealing")
	}
}

// TestInterruptedWhileSealing: the network fails while the sealer still
// writes; Upload waits for sealing so the next run resumes without it.
func TestInterruptedWhileSealing(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "spool")
	sp, err := transfer.CreateSpool(path, fp)
	if err != nil {
		t.Fatal(err)
	}
	data := randData(3*transfer.MinPartSize + 1)
	// The first part fails, once the sealer has written it, and only then
	// does the sealer write the rest.
	failed := make(chan struct{})
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 1, Hook: func() { close(failed) }})
	go func() {
		sp.Write(data[:transfer.MinPartSize])
		<-failed
		for off := transfer.MinPartSize; off < len(data); off += mib {
			sp.Write(data[off:min(off+mib, len(data))])
		}
		sp.Close()
	}()
	_, _, err = upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.SizeHint = int64(len(data)) })
	sp.Release()
	if !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatalf("first run: %v", err)
	}
	sp, err = transfer.OpenSpool(path, fp)
	if err != nil {
		t.Fatalf("OpenSpool after an interrupted run: %v", err)
	}
	defer sp.Release()
	if _, _, err := upload(t, s, sp, "k"); err != nil {
		t.Fatal(err)
	}
	checkDone(t, s, path, "k", data)
}

// TestUploadVanished: the recorded upload was aborted (or expired) on the
// server; the next run starts a new one.
func TestUploadVanished(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "spool")
	data := randData(2 * transfer.MinPartSize)
	sp := sealedSpool(t, path, data)
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 2})
	if _, _, err := upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.Concurrency = 1 }); !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatal(err)
	}
	sp.Release()
	for _, id := range s.UploadIDs() {
		s.AbortUpload(t.Context(), "k", id)
	}
	sp, err := transfer.OpenSpool(path, fp)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Release()
	res, _, err := upload(t, s, sp, "k")
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 0 {
		t.Errorf("resumed %d bytes of a vanished upload", res.Resumed)
	}
	checkDone(t, s, path, "k", data)
}

// TestResumeElsewhere: the same spool sent to another key aborts the
// upload to the first.
func TestResumeElsewhere(t *testing.T) {
	s := memstore.New(memstore.Options{})
	path := filepath.Join(t.TempDir(), "spool")
	data := randData(2 * transfer.MinPartSize)
	sp := sealedSpool(t, path, data)
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 2})
	if _, _, err := upload(t, s, sp, "k1", func(o *transfer.UploadOptions) { o.Concurrency = 1 }); !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatal(err)
	}
	sp = reopen(t, sp, path)
	if _, _, err := upload(t, s, sp, "k2"); err != nil {
		t.Fatal(err)
	}
	checkDone(t, s, path, "k2", data)
}

// TestUploadUnreachable: a server that was never reached (a wrong
// endpoint) leaves nothing to resume: Upload returns the error as it is,
// not ErrInterrupted, removes spool and journal, and stops the sealer,
// whose next Write fails with the same error. Once an upload exists on the
// server, the same failure is an interruption that keeps the state.
func TestUploadUnreachable(t *testing.T) {
	unreachable := &transfer.StoreError{Op: "Head", Kind: transfer.ErrUnreachable, Temporary: true}
	t.Run("before any request succeeded", func(t *testing.T) {
		s := memstore.New(memstore.Options{})
		s.Inject(memstore.Fault{Method: memstore.Head, Call: 1, Err: unreachable})
		path := filepath.Join(t.TempDir(), "spool")
		sp, err := transfer.CreateSpool(path, fp)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Release()
		if _, err := sp.Write(randData(1000)); err != nil { // sealing still under way
			t.Fatal(err)
		}
		_, _, err = upload(t, s, sp, "k")
		if !errors.Is(err, transfer.ErrUnreachable) || errors.Is(err, transfer.ErrInterrupted) {
			t.Fatalf("Upload: %v, want ErrUnreachable and not ErrInterrupted", err)
		}
		if _, werr := sp.Write([]byte("more")); !errors.Is(werr, transfer.ErrUnreachable) {
			t.Errorf("the sealer's next Write: %v, want the upload's error", werr)
		}
		for _, p := range []string{path, path + ".journal"} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s left behind: %v", filepath.Base(p), err)
			}
		}
	})
	t.Run("after the upload was created", func(t *testing.T) {
		s := memstore.New(memstore.Options{})
		s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 1, Err: &transfer.StoreError{Op: "UploadPart", Kind: transfer.ErrUnreachable, Temporary: true}})
		path := filepath.Join(t.TempDir(), "spool")
		sp := sealedSpool(t, path, randData(2*transfer.MinPartSize))
		_, _, err := upload(t, s, sp, "k", func(o *transfer.UploadOptions) { o.Concurrency = 1 })
		sp.Release()
		if !errors.Is(err, transfer.ErrInterrupted) {
			t.Fatalf("Upload: %v, want ErrInterrupted", err)
		}
		if _, err := transfer.OpenSpool(path, fp); err != nil {
			t.Fatalf("the state of an upload the server holds is gone: %v", err)
		}
	})
}

// TestDiscardAfterUploadFailed: the upload fails first (a part refused)
// and sealing after it. Discard aborts the upload Upload left and removes
// spool and journal; when the abort fails too, the journal stays and names
// the upload, which the next run aborts.
func TestDiscardAfterUploadFailed(t *testing.T) {
	for _, abortFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("abort-fails=%v", abortFails), func(t *testing.T) {
			s := memstore.New(memstore.Options{})
			path := filepath.Join(t.TempDir(), "spool")
			sp := newSpool(t, path)
			if _, err := sp.Write(randData(transfer.MinPartSize + 10)); err != nil {
				t.Fatal(err)
			}
			s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 1, Err: transfer.ErrAccessDenied})
			if _, _, err := upload(t, s, sp, "k"); !errors.Is(err, transfer.ErrAccessDenied) {
				t.Fatalf("Upload with its part refused: %v", err)
			}
			if ids := s.UploadIDs(); len(ids) != 1 {
				t.Fatalf("uploads %v, want the one started", ids)
			}
			sp.CloseWithError(errors.New("line 7: bad quoting"))
			if abortFails {
				s.Inject(memstore.Fault{Method: memstore.AbortUpload})
			}
			err := sp.Discard(t.Context(), s)
			s.ClearFaults()
			if !abortFails {
				if err != nil {
					t.Fatalf("Discard: %v", err)
				}
				if ids := s.UploadIDs(); len(ids) != 0 {
					t.Errorf("uploads left: %v", ids)
				}
				for _, p := range []string{path, path + ".journal"} {
					if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s left: %v", filepath.Base(p), err)
					}
				}
				return
			}
			if !transfer.IsTransient(err) {
				t.Fatalf("Discard with the abort failing: %v, want the store's error", err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
				t.Errorf("spool not emptied: %v", err)
			}
			sp.Release()
			if _, err := transfer.OpenSpool(path, fp); !errors.Is(err, transfer.ErrNoSpool) {
				t.Errorf("OpenSpool of a discarded spool: %v, want ErrNoSpool", err)
			}
			data := randData(100)
			sp = sealedSpool(t, path, data)
			if _, _, err := upload(t, s, sp, "k"); err != nil {
				t.Fatal(err)
			}
			checkDone(t, s, path, "k", data)
		})
	}
}

// lateCreate is a memstore whose first CreateUpload fails at once, as if
// the connection broke, and reaches the server only when the first part
// of a later upload is sent: the request of a run killed while it was in
// flight, still on its way when the next run looks for its upload.
type lateCreate struct {
	*memstore.Store
	calls  atomic.Int32
	once   sync.Once
	landed chan struct{}
	land   func()
}

func (s *lateCreate) CreateUpload(ctx context.Context, key string, o transfer.CreateOptions) (string, error) {
	if s.calls.Add(1) == 1 {
		s.land = func() {
			s.Store.CreateUpload(context.Background(), key, o)
			close(s.landed)
		}
		return "", &transfer.StoreError{Op: "CreateUpload", Bucket: s.Bucket(), Key: key, Temporary: true, Err: errors.New("connection reset")}
	}
	return s.Store.CreateUpload(ctx, key, o)
}

func (s *lateCreate) UploadPart(ctx context.Context, key, id string, n int, body io.ReadSeeker, size int64, sum string) (transfer.Part, error) {
	s.once.Do(func() { go s.land() })
	<-s.landed
	return s.Store.UploadPart(ctx, key, id, n, body, size, sum)
}

// TestCreateLandingLate: the upload a lost CreateUpload starts after the
// next run looked for it is aborted by that run once it completes.
func TestCreateLandingLate(t *testing.T) {
	s := &lateCreate{Store: memstore.New(memstore.Options{}), landed: make(chan struct{})}
	path := filepath.Join(t.TempDir(), "spool")
	data := randData(100)
	sp := sealedSpool(t, path, data)
	if _, _, err := upload(t, s, sp, "k"); !errors.Is(err, transfer.ErrInterrupted) {
		t.Fatalf("first run, its CreateUpload lost: %v, want ErrInterrupted", err)
	}
	sp = reopen(t, sp, path)
	if _, _, err := upload(t, s, sp, "k"); err != nil {
		t.Fatal(err)
	}
	if n := s.Calls(memstore.CreateUpload); n != 2 {
		t.Fatalf("%d uploads created, want the lost one and the next run's", n)
	}
	checkDone(t, s.Store, path, "k", data)
}
