package safefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

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

// localDisk reports whether f is on a local disk file system whose
// O_DIRECT is known to work as Direct needs (see Direct).
func localDisk(f *os.File) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC:
		return true
	}
	return false
}

// setDirect turns O_DIRECT on or off for f and reports whether it could.
func setDirect(f *os.File, on bool) bool {
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return false
	}
	if on {
		fl |= unix.O_DIRECT
	} else {
		fl &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(f.Fd(), unix.F_SETFL, fl)
	return err == nil
}

// alignedBuffer returns n bytes whose address is a multiple of align.
func alignedBuffer(n, align int) []byte {
	b := make([]byte, n+align)
	off := (align - int(uintptr(unsafe.Pointer(&b[0]))%uintptr(align))) % align
	return b[off : off+n : off+n]
}
