//go:build linux

package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// mountSpool mounts a tmpfs with opts over the send's spool directory for
// the rest of the test. Mounting needs root: without it the test is
// skipped, the only reason it may be.
func mountSpool(t *testing.T, fc *faultCase, opts string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if err := os.MkdirAll(fc.spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", fc.spoolDir, "tmpfs", 0, opts); err != nil {
		t.Fatalf("mount tmpfs -o %s: %v", opts, err)
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			syscall.Unmount(fc.spoolDir, syscall.MNT_DETACH)
		}
	})
	fc.unmount = func() {
		t.Helper()
		if err := syscall.Unmount(fc.spoolDir, 0); err != nil {
			t.Fatal(err)
		}
		mounted = false
	}
}

// TestSendSpoolFaults: a spool directory that is read-only or too small
// for the sealed file ends the send with exit code 1 and a message naming
// the cause, leaves no unfinished upload, and the run after the fault is
// gone completes.
func TestSendSpoolFaults(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	cases := []struct{ name, opts, want string }{
		{"read-only", "size=4m,ro", "read-only file system"},
		// The CSV seals into about 1 MiB.
		{"full", "size=256k", "no space left on device"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := newFaultCase(t, srv, srv.Endpoint)
			mountSpool(t, fc, c.opts)
			code, out := fc.run()
			t.Logf("%s", out)
			if code != exitFailure || !strings.Contains(out, "xfer: error:") || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, want %d and a message saying %q\n%s", code, exitFailure, c.want, out)
			}
			fc.checkNoUploads(t, "a.csv.zip.age")
			if _, err := fc.store.Head(t.Context(), fc.prefix+"a.csv.zip.age"); err == nil {
				t.Error("an object is at the final key after a failed send")
			}
			checkNoLeftovers(t, fc.spoolDir)
			fc.unmount()
			fc.completes(t, false)
			// The spool directory, and the salt of the spool fingerprints
			// (kept for good, beside the pull state).
			if ents, _ := os.ReadDir(filepath.Dir(fc.spoolDir)); len(ents) != 2 || ents[0].Name() != exchange.SecretsSaltFile {
				t.Errorf("cache holds %v", ents)
			}
		})
	}
}
