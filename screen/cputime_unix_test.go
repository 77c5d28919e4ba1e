//go:build unix

package screen_test

import (
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time: under a loaded machine
// it compares costs better than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
