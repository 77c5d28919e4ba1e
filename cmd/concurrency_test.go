package cmd

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// TestSendSameFileTwiceAtOnce: two `xfer send` of the same file started
// together over a slow link. One sends it; the other finds the spool
// locked and refuses at once with exit code 1 and a message saying why,
// touching nothing; the object is intact and nothing is left behind.
func TestSendSameFileTwiceAtOnce(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ft := newFaultTarget(t, srv)
	csvPath, want := ft.newCSV(t, "a.csv", 8<<20, 21)
	// 512 KiB/s: the winner is still uploading when the loser starts.
	env := sendEnv(ft.dir, startProxy(t, srv, 512), srv)
	args := ft.sendArgs(csvPath, "--part-size", "5MiB")
	outs := runTogether(env, args, args)
	var codes []int
	for _, o := range outs {
		codes = append(codes, o.code)
	}
	won, lost := outs[0], outs[1]
	if won.code != 0 {
		won, lost = lost, won
	}
	if won.code != 0 || lost.code != exitFailure {
		t.Fatalf("exit codes %v, want one 0 and one %d\n%s\n%s", codes, exitFailure, outs[0].out, outs[1].out)
	}
	for _, s := range []string{"xfer: error:", "spool in use by another process", "another xfer is sending " + csvPath} {
		if !strings.Contains(lost.out, s) {
			t.Errorf("the refused send does not say %q:\n%s", s, lost.out)
		}
	}
	ft.checkObject(t, "a.csv.zip.age", want)
	checkNoLeftovers(t, spoolDirOf(ft.dir))
}

// TestTwentyConcurrentSends: twenty `xfer send` processes of different
// files, at once, sharing one spool directory, all complete, and every
// object opens to its own CSV.
func TestTwentyConcurrentSends(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ft := newFaultTarget(t, srv)
	env := sendEnv(ft.dir, srv.Endpoint, srv)
	const n = 20
	var runs [][]string
	var want [n][32]byte
	for i := range n {
		csvPath, sum := ft.newCSV(t, fmt.Sprintf("f%02d.csv", i), 1<<20+int64(i)<<14, uint64(100+i))
		want[i] = sum
		runs = append(runs, ft.sendArgs(csvPath))
	}
	for i, o := range runTogether(env, runs...) {
		if o.code != 0 {
			t.Errorf("send %d: exit %d\n%s", i, o.code, o.out)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for i := range n {
		ft.checkObject(t, fmt.Sprintf("f%02d.csv.zip.age", i), want[i])
	}
	checkNoLeftovers(t, spoolDirOf(ft.dir))
}

type runResult struct {
	code int
	out  string
}

// runTogether starts one xfer process for each argument list, all at
// once, and waits for them all.
func runTogether(env []string, runs ...[]string) []runResult {
	res := make([]runResult, len(runs))
	var start, done sync.WaitGroup
	start.Add(1)
	for i, args := range runs {
		done.Add(1)
		go func() {
			defer done.Done()
			c := xferCmd(env, args...)
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			start.Wait()
			err := c.Run()
			res[i] = runResult{exitCodeOf(err), out.String()}
		}()
	}
	start.Done()
	done.Wait()
	return res
}
