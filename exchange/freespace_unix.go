//go:build linux || darwin || freebsd

package exchange

import "golang.org/x/sys/unix"

// FreeSpace is the space, in bytes, that this user may still write on
// the file system holding dir; -1 where it cannot be told.
func FreeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:unconvert // the field types differ between systems
}
