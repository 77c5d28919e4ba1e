// Command xfer seals address files and moves them through an S3 exchange
// bucket. See docs/ for the user guide.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/xfer-dev/xfer/cmd"
)

func main() { os.Exit(run()) }

func run() int {
	// XFER_CPUPROFILE=FILE writes a CPU profile of the whole run, for
	// docs/performance.md. A profile holds call stacks and timings, never
	// data. FILE is created new (mode 0600, never over an existing file or
	// through a symlink); when it cannot be, xfer says so and runs anyway.
	if path := os.Getenv("XFER_CPUPROFILE"); path != "" {
		if stop, err := startCPUProfile(path); err != nil {
			fmt.Fprintf(os.Stderr, "xfer: warning: XFER_CPUPROFILE: %v (running without a profile)\n", err)
		} else {
			defer stop()
		}
	}
	return cmd.Main()
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "xfer: warning: XFER_CPUPROFILE: %v\n", err)
		}
	}, nil
}
