package safefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// createTemp opens a nameless file in dir (O_TMPFILE), or a named one
// where the file system cannot, or where /proc is missing to link it.
func createTemp(dir string) (f *os.File, anon bool, err error) {
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(dir, TempPrefix+"(unnamed)")), true, nil
		}
	}
	f, err = os.CreateTemp(dir, TempPrefix+"*")
	return f, false, err
}

// linkAnon gives the nameless file f the name target, failing if target
// exists. Linking through /proc needs no privilege (AT_EMPTY_PATH would).
func linkAnon(f *os.File, target string) error {
	proc := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, target, unix.AT_SYMLINK_FOLLOW)
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%w: %s", ErrExists, target)
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: target, Err: err}
	}
	return nil
}

// StartWriteback starts writing the n bytes at off to the device without
// waiting for it (sync_file_range); it promises nothing about durability,
// which is an fsync's job. Failures are ignored: it is only a head start.
func StartWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
