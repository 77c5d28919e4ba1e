package exchange

import "golang.org/x/sys/windows"

// FreeSpace is the space, in bytes, that this user may still write on
// the volume holding dir (quotas included); -1 where it cannot be told.
func FreeSpace(dir string) (int64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, err
	}
	return int64(min(avail, 1<<63-1)), nil
}
