package transfer

import (
	"errors"
	"os"

	"github.com/xfer-dev/xfer/internal/flock"
)

// lockFile takes an exclusive, non-blocking lock on f: released when the
// process dies, so a crash never leaves a stale lock. Where the platform
// has no file locks, overlapping runs on the same spool are not detected.
func lockFile(f *os.File) (unlock func(), err error) {
	unlock, err = flock.TryLock(f)
	if errors.Is(err, flock.ErrLocked) {
		return nil, ErrSpoolBusy
	}
	return unlock, err
}
