// Command buildservers builds the S3 servers xfer's tests run against
// (MinIO and versitygw, at the versions pinned in internal/testkit/s3test) into the
// test binary cache, and prints one NAME=PATH line for each. CI runs it
// before `go test` so the slow build happens once and is cached:
//
//	go run ./internal/testkit/s3test/cmd/buildservers
//	go run ./internal/testkit/s3test/cmd/buildservers -server minio -log build.log
//
// -server builds only the named server (repeat it for several); the demo
// needs MinIO alone. Each server that is not cached yet gets a line on
// stderr before its build starts, saying that this happens once and about
// how long it takes, and another each minute while it runs. The go
// command's own output goes to stderr too, or to the -log file. It exits
// non-zero when a server cannot be built, or -server names none it knows.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// took is about how long a first build takes on two cores, downloads
// included: what the line before a build promises.
var took = map[string]string{
	s3test.MinIO.Name:     "about 5 minutes",
	s3test.VersityGW.Name: "about 3 minutes",
}

type names []string

func (n *names) String() string     { return strings.Join(*n, ",") }
func (n *names) Set(v string) error { *n = append(*n, v); return nil }

func main() {
	var only names
	flag.Var(&only, "server", "build only this server (minio or versitygw); repeat for several")
	logPath := flag.String("log", "", "write the go command's build output to this file instead of stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "buildservers: error: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	servers, err := selectServers(only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "buildservers: error: %v\n", err)
		os.Exit(2)
	}
	var log io.Writer = os.Stderr
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "buildservers: error: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
		log = f
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	failed := false
	for _, b := range servers {
		p, err := build(ctx, b, log, *logPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "buildservers: error: %v\n", err)
			failed = true
			continue
		}
		fmt.Printf("%s=%s\n", b.Name, p)
	}
	if failed {
		os.Exit(1)
	}
}

// selectServers returns the servers named in only, or all of them when
// only is empty.
func selectServers(only []string) ([]s3test.Binary, error) {
	if len(only) == 0 {
		return s3test.Binaries, nil
	}
	var out []s3test.Binary
	for _, n := range only {
		i := slices.IndexFunc(s3test.Binaries, func(b s3test.Binary) bool { return b.Name == n })
		if i < 0 {
			known := make([]string, len(s3test.Binaries))
			for j, b := range s3test.Binaries {
				known[j] = b.Name
			}
			return nil, fmt.Errorf("unknown server %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, s3test.Binaries[i])
	}
	return out, nil
}

// build builds (or finds cached) b, saying on stderr what it is doing while
// a build runs.
func build(ctx context.Context, b s3test.Binary, log io.Writer, logPath string) (string, error) {
	start := time.Now()
	_, cached := b.Cached()
	if !cached {
		where := ""
		if logPath != "" {
			where = "; its output goes to " + logPath
		}
		fmt.Fprintf(os.Stderr, "buildservers: building %s %s from the Go module proxy: first run only, %s on two cores%s\n",
			b.Name, b.Version, took[b.Name], where)
	}
	done := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "buildservers: still building %s (%s so far)\n", b.Name, time.Since(start).Round(time.Minute))
			}
		}
	}()
	p, err := b.Build(ctx, log)
	close(done)
	<-ticked
	if err != nil {
		return "", err
	}
	how := "built in " + time.Since(start).Round(time.Second).String()
	if cached {
		how = "cached"
	}
	if fi, err := os.Stat(p); err == nil {
		fmt.Fprintf(os.Stderr, "buildservers: %s %s: %s, %d MB\n", b.Name, b.Version, how, fi.Size()>>20)
	}
	return p, nil
}
