//go:build !unix && !windows

package transfer

import "os"

// lockFile does not lock where flock is missing: overlapping runs on the
// same spool are not detected there.
func lockFile(*os.File) (unlock func(), err error) { return func() {}, nil }

// canRemoveOpenFile says whether a file can be removed while open.
const canRemoveOpenFile = true
