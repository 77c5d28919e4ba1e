//go:build !linux

package cmd

import "os"

// peakRSS is the peak resident set size of an exited child in bytes, or
// -1 where the platform does not say (Maxrss is in other units, or absent,
// off Linux).
func peakRSS(*os.ProcessState) int64 { return -1 }
