package testutil

import (
	"time"

	"golang.org/x/sys/windows"
)

// CPUTime is the process's user plus kernel CPU time so far, or 0 when
// the platform cannot tell: on a loaded machine it compares costs better
// than the wall clock does.
func CPUTime() time.Duration {
	var creation, exit, kernel, user windows.Filetime
	if windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user) != nil {
		return 0
	}
	return filetimeDuration(kernel) + filetimeDuration(user)
}

// filetimeDuration reads a FILETIME that holds a duration, in units of
// 100 ns (Filetime.Nanoseconds would subtract the 1601 epoch).
func filetimeDuration(ft windows.Filetime) time.Duration {
	return time.Duration(int64(ft.HighDateTime)<<32|int64(ft.LowDateTime)) * 100
}
