package s3test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/xfer-dev/xfer/internal/flock"
)

// A Binary is an S3 server the harness builds from the Go module proxy at a
// pinned version (the proxy serves a fixed set of versions: never @latest).
type Binary struct {
	Name    string // executable name, and the name users and CI see
	Module  string
	Version string
	Package string // the main package inside Module
}

// The servers the tests run against.
var (
	MinIO = Binary{
		Name:    "minio",
		Module:  "github.com/minio/minio",
		Version: "v0.0.0-20260212201848-7aac2a2c5b7c",
		Package: "github.com/minio/minio",
	}
	VersityGW = Binary{
		Name:    "versitygw",
		Module:  "github.com/versity/versitygw",
		Version: "v1.8.0",
		Package: "github.com/versity/versitygw/cmd/versitygw",
	}
	Binaries = []Binary{MinIO, VersityGW}
)

// CacheDir is where built servers are kept: $XFER_TEST_BIN if set, else
// xfer-test-bin in the user's cache directory ($XDG_CACHE_HOME or
// ~/.cache). Each version has its own subdirectory, so bumping a version
// rebuilds and an old binary is never used by mistake.
func CacheDir() (string, error) {
	if d := os.Getenv("XFER_TEST_BIN"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "xfer-test-bin"), nil
}

// Path is where the built binary lives (or will).
func (b Binary) Path() (string, error) {
	d, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, b.Name+"-"+b.Version, exe(b.Name)), nil
}

// exe is the file name of the executable name on this platform (".exe"
// on Windows).
func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

// Cached returns the binary's path when it has been built already.
func (b Binary) Cached() (string, bool) {
	p, err := b.Path()
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(p)
	// Windows has no execute bit: a regular file is all it can check.
	return p, err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0)
}

// Build returns the path of the binary, building it first when it is not
// cached. Concurrent builders (parallel test packages, CI's prebuild) are
// serialised with a lock file, so each version is built once. Build output
// goes to log (which may be nil). MinIO takes minutes on two cores.
func (b Binary) Build(ctx context.Context, log io.Writer) (string, error) {
	if p, ok := b.Cached(); ok {
		return p, nil
	}
	if log == nil {
		log = io.Discard
	}
	out, err := b.Path()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	unlock, err := flock.Lock(ctx, lock)
	if err != nil {
		return "", err
	}
	defer unlock()
	if p, ok := b.Cached(); ok { // built while we waited
		return p, nil
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building %s: no go command: %w", b.Name, err)
	}
	work, err := os.MkdirTemp("", "xfer-build-"+b.Name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	tmpOut := filepath.Join(work, "bin", exe(b.Name))
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false", "GOBIN="+filepath.Dir(tmpOut))
	run := func(dir string, args ...string) error {
		fmt.Fprintf(log, "s3test: (in %s) go %s\n", dir, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, log, log
		return cmd.Run()
	}

	start := time.Now()
	// The direct way first; replace directives in a server's go.mod make
	// `go install M@V` refuse, and then a throwaway module builds it.
	err = run(work, "install", b.Package+"@"+b.Version)
	if err != nil {
		mod := filepath.Join(work, "mod")
		if err2 := os.MkdirAll(mod, 0o755); err2 != nil {
			return "", err2
		}
		if err = run(mod, "mod", "init", "xferbuild"); err == nil {
			if err = run(mod, "get", b.Module+"@"+b.Version); err == nil {
				err = run(mod, "build", "-o", tmpOut, b.Package)
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("building %s %s: %w", b.Module, b.Version, err)
	}
	if err := os.Rename(tmpOut, out); err != nil {
		// Another filesystem: copy instead.
		if err := copyFile(tmpOut, out); err != nil {
			return "", err
		}
	}
	fi, _ := os.Stat(out)
	fmt.Fprintf(log, "s3test: built %s in %s (%d MB)\n", out, time.Since(start).Round(time.Second), fi.Size()>>20)
	return out, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := to + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}
