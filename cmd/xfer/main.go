// Command xfer seals address files and moves them through an S3 exchange
// bucket. See docs/ for the user guide.
package main

import (
	"os"

	"github.com/xfer-dev/xfer/cmd"
)

func main() { os.Exit(cmd.Main()) }
