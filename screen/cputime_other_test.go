//go:build !unix

package screen_test

import "time"

func cpuTime() time.Duration { return 0 }
