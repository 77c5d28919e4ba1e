// Command buildservers builds the S3 servers xfer's tests run against
// (MinIO and versitygw, at the versions pinned in internal/s3test) into the
// test binary cache, and prints one NAME=PATH line for each. CI runs it
// before `go test` so the slow build happens once and is cached:
//
//	go run ./internal/s3test/cmd/buildservers
//
// Build output goes to stderr. It exits non-zero when a server cannot be built.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/xfer-dev/xfer/internal/s3test"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	failed := false
	for _, b := range s3test.Binaries {
		start := time.Now()
		_, cached := b.Cached()
		p, err := b.Build(ctx, os.Stderr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "buildservers: error: %v\n", err)
			failed = true
			continue
		}
		how := "built in " + time.Since(start).Round(time.Second).String()
		if cached {
			how = "cached"
		}
		fi, err := os.Stat(p)
		if err == nil {
			fmt.Fprintf(os.Stderr, "buildservers: %s %s: %s, %d MB\n", b.Name, b.Version, how, fi.Size()>>20)
		}
		fmt.Printf("%s=%s\n", b.Name, p)
	}
	if failed {
		os.Exit(1)
	}
}
