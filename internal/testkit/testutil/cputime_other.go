//go:build !unix && !windows

package testutil

import "time"

// CPUTime is 0 here: this platform has no process CPU clock xfer reads.
func CPUTime() time.Duration { return 0 }
