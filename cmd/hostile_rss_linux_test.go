//go:build linux

package cmd

import (
	"os"
	"syscall"
)

// peakRSS is the peak resident set size of an exited child in bytes, or
// -1 where the platform does not say.
func peakRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return -1
	}
	return ru.Maxrss << 10 // KiB on Linux
}
