package screen_test

import "github.com/xfer-dev/xfer/internal/testutil"

// cpuTime is the process's CPU time (see testutil.CPUTime).
var cpuTime = testutil.CPUTime
