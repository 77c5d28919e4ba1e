package exchange

import (
	"path/filepath"
	"syscall"
	"testing"
)

// TestFreeSpace: FreeSpace agrees with the kernel's own count, read here
// through the standard library.
func TestFreeSpace(t *testing.T) {
	dir := t.TempDir()
	got, err := FreeSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	want := int64(st.Bavail) * int64(st.Bsize)
	// Other processes write meanwhile: within 1 GiB.
	if d := got - want; got <= 0 || d > 1<<30 || d < -(1<<30) {
		t.Errorf("FreeSpace(%s) = %d, statfs says %d", dir, got, want)
	}
	if _, err := FreeSpace(filepath.Join(dir, "missing")); err == nil {
		t.Error("FreeSpace of a missing directory: no error")
	}
}
