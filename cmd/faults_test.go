package cmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
)

// faultCase is a send whose state a local fault has damaged: it runs in
// its own directory (so its own cache and prefix) against a shared server.
type faultCase struct {
	*faultTarget
	env      []string
	args     []string
	csvPath  string
	want     [32]byte
	spoolDir string
	unmount  func() // set by mountSpool
}

// newFaultCase prepares a send of a 4 MiB CSV (about 1 MiB sealed) to
// endpoint, which for interruptWhileUploading is a gate that holds it.
func newFaultCase(t *testing.T, srv *s3test.Server, endpoint string) *faultCase {
	t.Helper()
	fc := &faultCase{faultTarget: newFaultTarget(t, srv)}
	fc.csvPath, fc.want = fc.newCSV(t, "a.csv", 4<<20, 31)
	fc.env = sendEnv(fc.dir, endpoint, srv)
	fc.args = fc.sendArgs(fc.csvPath)
	fc.spoolDir = spoolDirOf(fc.dir)
	return fc
}

// interruptWhileUploading runs the send and interrupts it (SIGINT) once
// its spool is sealed and its upload under way, leaving spool and journal.
// fc's endpoint must be a gate that holds the upload once it is created
// (see heldUpload), so the send cannot finish before the signal.
func (fc *faultCase) interruptWhileUploading(t *testing.T) {
	t.Helper()
	c, out, exited := startXfer(t, fc.env, fc.args)
	deadline := time.After(2 * time.Minute)
	for sendPhase(fc.spoolDir) != "uploading" {
		select {
		case err := <-exited:
			t.Fatalf("the send ended before it could be interrupted: %v\n%s", err, out.String())
		case <-deadline:
			c.Process.Kill()
			t.Fatalf("the send never got to uploading\n%s", out.String())
		case <-time.After(50 * time.Millisecond): // polling the journal, which the held upload keeps still
		}
	}
	c.Process.Signal(os.Interrupt)
	if code := exitCodeOf(<-exited); code != exitSignal {
		t.Fatalf("exit %d after SIGINT, want %d\n%s", code, exitSignal, out.String())
	}
}

// journal is the path of the one journal in the spool directory.
func (fc *faultCase) journal(t *testing.T) string {
	t.Helper()
	js, _ := filepath.Glob(filepath.Join(fc.spoolDir, "*.journal"))
	if len(js) != 1 {
		t.Fatalf("journals in the spool directory: %v, want one", js)
	}
	return js[0]
}

// run runs the send and returns its exit code and output.
func (fc *faultCase) run() (int, string) {
	out, err := xferCmd(fc.env, fc.args...).CombinedOutput()
	return exitCodeOf(err), string(out)
}

// completes requires that the send now completes, with an object that
// opens to the CSV and nothing left behind. With knownGap (a journal lost
// or damaged while an upload was under way; reported on issue 6) the
// earlier run's upload, which no journal names any more, and a spool and
// journal the completing run leaves are logged instead of failing.
func (fc *faultCase) completes(t *testing.T, knownGap bool) {
	t.Helper()
	if code, out := fc.run(); code != 0 {
		t.Fatalf("send after the fault: exit %d\n%s", code, out)
	}
	if n := fc.orphans(t); n > 0 && !knownGap {
		t.Errorf("%d unfinished uploads left", n)
	}
	fc.checkObject(t, "a.csv.zip.age", fc.want)
	for _, n := range leftovers(t, fc.spoolDir) {
		if !knownGap {
			t.Errorf("left in %s: %s", fc.spoolDir, n)
		} else {
			t.Logf("known gap: left in the spool directory: %s", n)
		}
	}
	checkNoLeftovers(t, fc.dir)
}

// orphans counts the unfinished uploads left of the object, logs them,
// and aborts them.
func (fc *faultCase) orphans(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := fc.prefix + "a.csv.zip.age"
	var ids []string
	if err := fc.store.ListUploads(ctx, key, func(u transfer.UploadInfo) error {
		ids = append(ids, u.UploadID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		t.Logf("the upload %s of the interrupted run is left unfinished: no journal names it any more", id)
		fc.store.AbortUpload(ctx, key, id)
	}
	return len(ids)
}

// TestSendLocalFaults damages what an interrupted send left on disk, or
// the disk itself, and checks that each fault gives a clear message or a
// clean restart, and that the next run completes with the right object.
func TestSendLocalFaults(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	// Each interrupted send goes through a gate that holds its upload
	// once created: it is under way, and stays so until the signal.
	heldUpload := func(t *testing.T) string { return startGate(t, srv, &gate{trip: isUploadCreated}).URL }

	// A journal that does not parse, or of another format version, is no
	// journal: the next run seals again and starts a new upload. The old
	// upload is then nameless and stays until the bucket's lifecycle rule.
	damage := map[string]func([]byte) []byte{
		"journal-random": func(b []byte) []byte {
			r := make([]byte, len(b))
			rand.Read(r)
			return r
		},
		"journal-truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"journal-empty":     func([]byte) []byte { return nil },
		"journal-version-0": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"version": 1,`), []byte(`"version": 0,`), 1)
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			fc := newFaultCase(t, srv, heldUpload(t))
			fc.interruptWhileUploading(t)
			j := fc.journal(t)
			b, err := os.ReadFile(j)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(j, f(b), 0o600); err != nil {
				t.Fatal(err)
			}
			fc.env = sendEnv(fc.dir, srv.Endpoint, srv) // full speed now
			fc.completes(t, true)
		})
	}

	t.Run("spool-dir-deleted", func(t *testing.T) {
		fc := newFaultCase(t, srv, heldUpload(t))
		fc.interruptWhileUploading(t)
		if err := os.RemoveAll(fc.spoolDir); err != nil {
			t.Fatal(err)
		}
		fc.env = sendEnv(fc.dir, srv.Endpoint, srv)
		fc.completes(t, true)
	})

	// The spool directory cannot be made: the cache is a regular file
	// (what chmod 0500 does, but chmod does not stop root).
	t.Run("spool-dir-not-creatable", func(t *testing.T) {
		fc := newFaultCase(t, srv, srv.Endpoint)
		cache := filepath.Join(fc.dir, "cache")
		if err := os.WriteFile(cache, []byte("not a directory"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := fc.run()
		if code != exitFailure || !strings.Contains(out, "xfer: error:") || !strings.Contains(out, "not a directory") {
			t.Errorf("send with a cache that is a file: exit %d, want %d and a message naming the problem\n%s", code, exitFailure, out)
		}
		t.Logf("%s", out)
		fc.checkNoUploads(t, "a.csv.zip.age")
		if err := os.Remove(cache); err != nil {
			t.Fatal(err)
		}
		fc.completes(t, false)
	})
}
