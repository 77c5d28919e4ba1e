package exchange

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// createHook is a memstore whose CreateUpload runs after once it has
// started the upload, before the uploader sees the reply.
type createHook struct {
	*memstore.Store
	after func()
}

func (s *createHook) CreateUpload(ctx context.Context, key string, o transfer.CreateOptions) (string, error) {
	id, err := s.Store.CreateUpload(ctx, key, o)
	if err == nil && s.after != nil {
		s.after()
		s.after = nil
	}
	return id, err
}

// heldCSV is a CSV of random rows (which do not compress): n bytes of it,
// then, once resume is closed, as many more as the sealer takes.
type heldCSV struct {
	stallingCSV
	resume <-chan struct{}
}

func (h *heldCSV) Read(p []byte) (int, error) {
	if h.body != nil && len(h.body) == 0 {
		<-h.resume
		h.n, h.body = 1<<20, nil
	}
	return h.stallingCSV.Read(p)
}

// TestSendSpoolDiskFills: the disk of the spool fills just after the
// upload was created, so that neither the journal naming the upload nor
// the rest of the spool can be written. The send fails with the disk's
// error and leaves no unfinished upload and nothing in the spool
// directory; the next run, with room, sends the file. (In cmd,
// TestSendSpoolFaults/full meets this moment by chance.)
func TestSendSpoolDiskFills(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mst := memstore.New(memstore.Options{})
	x := side(t, mst, "client@test")
	if err := syscall.Mount("tmpfs", x.SpoolDir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(x.SpoolDir, syscall.MNT_DETACH) })
	resume := make(chan struct{})
	st := &createHook{Store: mst, after: func() {
		// Fill the disk: whatever is written next fails.
		f, err := os.Create(filepath.Join(x.SpoolDir, "filler"))
		if err != nil {
			t.Error(err)
		} else {
			for _, err = f.Write(make([]byte, 64<<10)); err == nil; _, err = f.Write(make([]byte, 64<<10)) {
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("filling the spool's disk: %v", err)
			}
			f.Close()
		}
		close(resume)
	}}
	x.Store = st
	k := newKeys(t)
	o := k.send
	o.Name = "a.csv"
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // ends only a test that would hang
	defer cancel()
	src := &heldCSV{stallingCSV: stallingCSV{ctx: ctx, n: 64 << 10}, resume: resume}
	_, err := x.Send(ctx, Source{Path: "a.csv", Size: 2 << 20, ModTime: time.Unix(1e9, 0), R: src}, o, nil)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("send with the spool's disk full: %v, want ENOSPC", err)
	}
	if mst.Calls(memstore.CreateUpload) != 1 {
		t.Fatalf("%d uploads created, want the one the full disk met", mst.Calls(memstore.CreateUpload))
	}
	if up := mst.UploadIDs(); len(up) != 0 {
		t.Errorf("unfinished uploads left: %v", up)
	}
	if err := os.Remove(filepath.Join(x.SpoolDir, "filler")); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(x.SpoolDir); len(ents) != 0 {
		t.Errorf("left in the spool directory: %v", ents)
	}
	mustSend(t, x, csvFile(t, t.TempDir(), "a.csv", 3), k.send)
	if up := mst.UploadIDs(); len(up) != 0 {
		t.Errorf("unfinished uploads left after the next run: %v", up)
	}
}
