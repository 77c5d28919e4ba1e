//go:build !linux

package safefile

import (
	"errors"
	"os"

	"github.com/xfer-dev/xfer/internal/fileperm"
)

// createTemp opens a named temporary file in dir: only Linux has nameless
// ones. It is private from the start (on Windows an owner-only DACL).
func createTemp(dir string) (*os.File, bool, error) {
	f, err := fileperm.CreateTemp(dir, TempPrefix+"*")
	return f, false, err
}

func linkAnon(*os.File, string) error { return errors.ErrUnsupported }

// StartWriteback does nothing here: the fsync that follows writes
// everything.
func StartWriteback(*os.File, int64, int64) {}

// Direct changes nothing here (see File.Direct).
func localDisk(*os.File) bool       { return false }
func setDirect(*os.File, bool) bool { return false }
func alignedBuffer(n, _ int) []byte { return make([]byte, n) }
