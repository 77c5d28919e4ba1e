package cmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
)

// Shared scaffolding of the fault tests (kill, local faults, concurrency).

// testZipPassword is the zip password sendEnv gives xfer.
const testZipPassword = "Corr3ct-Horse-Battery"

// genCSV writes an address CSV of about size bytes and returns its SHA-256.
func genCSV(t *testing.T, path string, size int64, seed uint64) [32]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := addrgen.Write(f, size, seed); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return fileSum(t, path)
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// faultTarget is an exchange prefix the fault tests send to, with a fresh
// age identity and the store to inspect it through.
type faultTarget struct {
	srv    *s3test.Server
	store  transfer.Store
	id     *age.X25519Identity
	dir    string // the test's directory; its base name is the prefix
	prefix string
}

func newFaultTarget(t *testing.T, srv *s3test.Server) *faultTarget {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	// A name of its own: subtests' TempDirs share base names, and the
	// base name is the prefix (sendEnv).
	dir, err := os.MkdirTemp(t.TempDir(), "ft")
	if err != nil {
		t.Fatal(err)
	}
	return &faultTarget{srv: srv, store: xferTestStore(t, srv), id: id, dir: dir, prefix: filepath.Base(dir) + "/"}
}

// newCSV writes an address CSV of about size bytes into the target's
// directory and returns its path and SHA-256.
func (ft *faultTarget) newCSV(t *testing.T, name string, size int64, seed uint64) (string, [32]byte) {
	t.Helper()
	path := filepath.Join(ft.dir, name)
	return path, genCSV(t, path, size, seed)
}

// sendArgs is `xfer send FILE` sealed for the target's identity.
func (ft *faultTarget) sendArgs(file string, more ...string) []string {
	return append([]string{"send", "--no-progress", file, "-r", ft.id.Recipient().String()}, more...)
}

// checkObject requires that name is complete in the exchange, opens to a
// CSV with SHA-256 want, and has no unfinished upload left.
func (ft *faultTarget) checkObject(t *testing.T, name string, want [32]byte) {
	t.Helper()
	key := ft.prefix + name
	sealed := filepath.Join(t.TempDir(), "sealed")
	n := xferTestGet(t, ft.srv, key, sealed)
	f, err := os.Open(sealed)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opened, err := seal.Open(f, n, crypt.Identities{Age: []age.Identity{ft.id}}, []byte(testZipPassword))
	if err != nil {
		t.Fatalf("%s does not open: %v", name, err)
	}
	h := sha256.New()
	if _, err := opened.WriteTo(h); err != nil {
		t.Fatalf("%s does not open: %v", name, err)
	}
	if [32]byte(h.Sum(nil)) != want {
		t.Errorf("%s does not open to the original CSV", name)
	}
	ft.checkNoUploads(t, name)
}

// checkNoUploads requires that no unfinished upload of name is left.
func (ft *faultTarget) checkNoUploads(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var left []string
	err := ft.store.ListUploads(ctx, ft.prefix+name, func(u transfer.UploadInfo) error {
		left = append(left, u.UploadID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("%s: unfinished uploads left: %v", name, left)
	}
}

// checkNoLeftovers requires that dir holds no spool, journal or temporary
// file of xfer's (a missing dir holds none).
func checkNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	for _, n := range leftovers(t, dir) {
		t.Errorf("left in %s: %s", dir, n)
	}
}

// leftovers lists the spools, journals and temporary files in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, safefile.TempPrefix) || strings.HasSuffix(n, ".tmp") || strings.HasSuffix(n, ".spool") ||
			strings.HasSuffix(n, ".fetch") || strings.HasSuffix(n, ".journal") {
			left = append(left, n)
		}
	}
	return left
}

// spoolDirOf is the spool directory of an xfer run with env from sendEnv.
func spoolDirOf(dir string) string { return filepath.Join(dir, "cache", "xfer", "spool") }

// startXfer starts xfer with args, collecting its output, and reports its
// end on the channel returned.
func startXfer(t *testing.T, env, args []string) (*exec.Cmd, *bytes.Buffer, <-chan error) {
	t.Helper()
	c := xferCmd(env, args...)
	out := new(bytes.Buffer)
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	return c, out, exited
}

// keygen makes an age identity at idPath and returns its recipient.
func keygen(t *testing.T, env []string, idPath string) string {
	t.Helper()
	out, err := xferCmd(env, "keygen", "-o", idPath).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// writingInto reports whether process pid is writing an output file in
// dir: a named temporary file there, or (Linux, O_TMPFILE) an open file
// of the process's that lives in dir without a name yet.
func writingInto(pid int, dir string) bool {
	if tmps, _ := filepath.Glob(filepath.Join(dir, safefile.TempPrefix+"*")); len(tmps) > 0 {
		return true
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); strings.HasPrefix(l, dir+"/") {
			return true
		}
	}
	return false
}
