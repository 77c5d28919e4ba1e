// Command s3serve runs one of the S3 servers xfer's tests run against
// (MinIO or versitygw, at the versions pinned in internal/testkit/s3test, built
// and cached there) on 127.0.0.1, for scripts such as
// scripts/acceptance-send.sh:
//
//	s3serve -server minio -dir /tmp/work/minio -env /tmp/work/minio.env &
//
// Once the server answers and its bucket exists, s3serve writes what a
// client needs as NAME=VALUE lines (XFER_ENDPOINT, XFER_BUCKET,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION) to the -env file
// (atomically, so a script can wait for it to appear) or to stdout. It then
// serves until SIGINT or SIGTERM, or until its parent process exits, and
// stops the server and removes the server's data before it exits itself.
// The server dies with s3serve even on SIGKILL (see s3test's Pdeathsig).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

func main() {
	server := flag.String("server", "minio", "minio or versitygw")
	dir := flag.String("dir", "", "directory for the server's data (default: a new temporary directory)")
	envFile := flag.String("env", "", "write the NAME=VALUE lines here instead of stdout")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("s3serve: ")
	// A server that cannot be built or started is an error, never a skip.
	os.Setenv("XFER_STRICT", "1")

	base := *dir
	if base == "" {
		var err error
		if base, err = os.MkdirTemp("", "s3serve-"); err != nil {
			log.Fatal(err)
		}
	} else if err := os.MkdirAll(base, 0o700); err != nil {
		log.Fatal(err)
	}
	t := &harness{dir: base, removeDir: *dir == ""}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)

	var bin s3test.Binary
	switch *server {
	case "minio":
		bin = s3test.MinIO
	case "versitygw":
		bin = s3test.VersityGW
	default:
		log.Fatalf("-server %q: use minio or versitygw", *server)
	}
	// Build (or find cached) first, so a signal can stop a long build.
	ctx, cancel := context.WithCancel(context.Background())
	signalled := make(chan bool, 1)
	go func() {
		select {
		case sig := <-stop:
			log.Printf("%s while building %s: stopping", sig, bin.Name)
			cancel()
			signalled <- true
		case <-ctx.Done(): // a signal still pending stays in stop
			signalled <- false
		}
	}()
	_, err := bin.Build(ctx, os.Stderr)
	cancel()
	if <-signalled || err != nil {
		t.Fatal("building ", bin.Name, ": ", err)
	}
	var s *s3test.Server
	if *server == "minio" {
		s = s3test.StartMinIO(t, s3test.MinIOOptions{})
	} else {
		s = s3test.StartVersityGW(t)
	}
	lines := strings.Join([]string{
		"XFER_ENDPOINT=" + s.Endpoint,
		"XFER_BUCKET=" + s.Bucket,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
	}, "\n") + "\n"
	if *envFile == "" {
		fmt.Print(lines)
	} else {
		tmp := *envFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(lines), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, *envFile); err != nil {
			t.Fatal(err)
		}
	}
	log.Printf("%s serving at %s (pid %d)", s.Name, s.Endpoint, os.Getpid())

	// Serve until told to stop, or until the script that started us is
	// gone (it may have been killed without cleaning up).
	parent := os.Getppid()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case sig := <-stop:
			log.Printf("%s: stopping %s", sig, s.Name)
			t.cleanup()
			return
		case <-tick.C:
			if os.Getppid() != parent {
				log.Printf("parent exited: stopping %s", s.Name)
				t.cleanup()
				return
			}
		}
	}
}

// harness is the testing.TB that s3test needs, outside a test: temporary
// directories under dir, cleanups run by cleanup, and a failure that
// cleans up and exits. The embedded interface is nil: s3test calls only
// the methods defined here.
type harness struct {
	testing.TB
	dir       string
	removeDir bool
	n         int
	cleanups  []func()
}

func (t *harness) Helper()                   {}
func (t *harness) Name() string              { return "s3serve" }
func (t *harness) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *harness) Log(a ...any)              { log.Print(a...) }
func (t *harness) Logf(f string, a ...any)   { log.Printf(f, a...) }
func (t *harness) Error(a ...any)            { t.Fatal(a...) }
func (t *harness) Errorf(f string, a ...any) { t.Fatalf(f, a...) }
func (t *harness) Fatal(a ...any)            { t.fail(fmt.Sprint(a...)) }
func (t *harness) Fatalf(f string, a ...any) { t.fail(fmt.Sprintf(f, a...)) }
func (t *harness) Skip(a ...any)             { t.Fatal(a...) }
func (t *harness) Skipf(f string, a ...any)  { t.Fatalf(f, a...) }
func (t *harness) FailNow()                  { t.fail("failed") }
func (t *harness) Failed() bool              { return false }

func (t *harness) TempDir() string {
	t.n++
	d := filepath.Join(t.dir, fmt.Sprint(t.n))
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// cleanup runs the cleanups, last registered first, as testing does.
func (t *harness) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
	if t.removeDir {
		os.RemoveAll(t.dir)
	}
}

func (t *harness) fail(msg string) {
	log.Print(msg)
	t.cleanup()
	os.Exit(1)
}
