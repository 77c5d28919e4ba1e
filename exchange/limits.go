package exchange

import (
	"errors"
	"fmt"

	"github.com/xfer-dev/xfer/seal"
)

// Opening a sealed file writes what its zip entry declares, and a small
// file can declare a great deal (a 312 KiB file that inflates to 256 MiB).
// CheckOutput refuses before anything is written.

// DefaultMaxSize is the largest CSV an opened file may write unless
// configured otherwise: 64 GiB, some 300 million address rows, far more
// than a mailing file holds, and still a ceiling on what one file can do
// to a disk.
const DefaultMaxSize = 64 << 30

// DefaultMaxRatio is the largest compression ratio (CSV size over stored
// size) accepted for a CSV larger than ratioFloor. Address data compresses
// about 4:1 (internal/testkit/addrgen at level 9: 4.17:1); a degenerate export of
// 60 columns, 58 of them empty and one name on every row, 206:1. Deflate
// cannot exceed about 1032:1, and a crafted file gets close (840:1 was
// reported), so 250:1 lets every real file through and stops the bombs.
const DefaultMaxRatio = 250

// ratioFloor is the size below which the ratio is not checked: a small
// file cannot harm a disk, whatever its ratio.
const ratioFloor = 16 << 20

// OutputLimits bound what opening a sealed file may write.
type OutputLimits struct {
	// MaxSize is the largest CSV; 0 means DefaultMaxSize.
	MaxSize int64
	// MaxRatio is the largest compression ratio; 0 means DefaultMaxRatio.
	MaxRatio float64
}

// ErrTooLarge: the opened file declares more than may be written (see
// CheckOutput). Nothing was written.
var ErrTooLarge = errors.New("too large to write")

type tooLarge struct{ msg string }

func (e tooLarge) Error() string        { return e.msg }
func (e tooLarge) Is(target error) bool { return target == ErrTooLarge }

// CheckOutput checks the size the opened file declares for its CSV
// against the limits and, unless dir is "" (standard output), against the
// space free for this user on dir's file system. It fails with
// ErrTooLarge, saying which bound, before anything is written.
func CheckOutput(o *seal.Opened, dir string, l OutputLimits) error {
	free := func() (int64, error) { return FreeSpace(dir) }
	if dir == "" {
		free = nil
	}
	return checkOutput(o.Name(), o.Size(), o.StoredSize(), l, free)
}

// checkOutput is CheckOutput's rule for a CSV name of size bytes stored
// in stored bytes, with the free space told by free (nil: not checked).
func checkOutput(name string, size, stored uint64, l OutputLimits, free func() (int64, error)) error {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultMaxRatio
	}
	if size > uint64(l.MaxSize) {
		return tooLarge{fmt.Sprintf("%s declares %d bytes, more than the %d bytes allowed (max_size)", name, size, l.MaxSize)}
	}
	if ratio := float64(size) / float64(max(stored, 1)); size > ratioFloor && ratio > l.MaxRatio {
		return tooLarge{fmt.Sprintf("%s declares %d bytes from %d stored, a compression ratio of %.0f:1; address data never reaches %.0f:1 (max_ratio)",
			name, size, stored, ratio, l.MaxRatio)}
	}
	if free == nil {
		return nil
	}
	n, err := free()
	if err != nil {
		return fmt.Errorf("free space for %s: %w", name, err)
	}
	if n >= 0 && size > uint64(n) {
		return tooLarge{fmt.Sprintf("%s declares %d bytes, but only %d bytes are free there", name, size, n)}
	}
	return nil
}
