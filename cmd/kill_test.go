package cmd

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// killPoints is how many times each kill test kills xfer.
const killPoints = 20

// killSeed is the seed the kill moments are drawn from: $XFER_KILL_SEED
// when set (to replay a failure), else a new one. It is logged either way.
func killSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("XFER_KILL_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("XFER_KILL_SEED: %v", err)
		}
	}
	t.Logf("kill seed %d (XFER_KILL_SEED=%d replays these moments)", seed, seed)
	return seed
}

// killFractions draws n moments, as fractions of an uninterrupted run, one
// in each of n equal slices of the run, so that they cover all of it: the
// first seconds (sealing, creating the upload), the middle and the end.
func killFractions(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x5deece66d))
	fs := make([]float64, n)
	for i := range fs {
		fs[i] = (float64(i) + r.Float64()) / float64(n)
	}
	return fs
}

// killRecord is what became of one kill point.
type killRecord struct {
	fraction float64
	at       time.Duration
	phase    string // what the run was doing when killed, or "ended" when it had finished
}

// killAfter runs xfer with args and kills it with SIGKILL after d, unless
// it ended before; phase names what it is doing just before the kill. A
// run that ends by itself must succeed.
func killAfter(t *testing.T, env, args []string, d time.Duration, phase func(pid int) string) string {
	t.Helper()
	c, out, exited := startXfer(t, env, args)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("xfer %s ended by itself with %v\n%s", args[0], err, out.String())
		}
		return "ended"
	case <-time.After(d):
	}
	p := phase(c.Process.Pid)
	c.Process.Kill()
	if err := <-exited; err == nil {
		return "ended" // it won the race with the kill
	}
	return p
}

// timedRun runs xfer with args to success and returns how long it took.
func timedRun(t *testing.T, env, args []string) time.Duration {
	t.Helper()
	start := time.Now()
	if out, err := xferCmd(env, args...).CombinedOutput(); err != nil {
		t.Fatalf("xfer %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return time.Since(start)
}

func logKills(t *testing.T, what string, recs []killRecord) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s kill points:\n  #  fraction  after    phase\n", what)
	count := map[string]int{}
	for i, r := range recs {
		fmt.Fprintf(&b, "  %2d  %.3f    %-7s  %s\n", i+1, r.fraction, r.at.Round(time.Millisecond), r.phase)
		r.phase, _, _ = strings.Cut(r.phase, ",")
		count[r.phase]++
	}
	fmt.Fprintf(&b, "  by phase: %v", count)
	t.Log(b.String())
	if count["ended"] > len(recs)/2 {
		t.Errorf("%d of %d runs ended before their kill: the kill points do not cover the run", count["ended"], len(recs))
	}
}

// killEach runs kill point i of fractions as a parallel subtest (two at a
// time by default: the work is half waiting for a capped link), after
// measuring an uninterrupted run of the same shape two at a time as well.
// measure runs one uninterrupted run; point kills after d and re-runs,
// returning the phase it killed in. The points are logged as a table.
func killEach(t *testing.T, what string, measure func(t *testing.T, i int), point func(t *testing.T, i int, d time.Duration) string) {
	var full [2]time.Duration
	t.Run("measure", func(t *testing.T) {
		for i := range full {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				measure(t, i)
				full[i] = time.Since(start)
			})
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	run := (full[0] + full[1]) / 2
	t.Logf("an uninterrupted %s takes %v", what, run.Round(time.Millisecond))
	fractions := killFractions(killSeed(t), killPoints)
	recs := make([]killRecord, len(fractions))
	t.Run("kill", func(t *testing.T) {
		for i, f := range fractions {
			t.Run(fmt.Sprintf("%02d", i+1), func(t *testing.T) {
				t.Parallel()
				d := time.Duration(f * float64(run))
				recs[i] = killRecord{f, d, point(t, i+1, d)}
			})
		}
	})
	logKills(t, what, recs)
}

// TestSendSurvivesKillAnywhere kills `xfer send` with SIGKILL at
// killPoints moments spread over a whole run (sealing, creating the
// upload, sending, completing, cleaning up), each time runs the same
// command again, and checks that it completes with an object that opens
// to the original CSV, no unfinished upload, and nothing left in the
// spool directory or beside the CSV.
func TestSendSurvivesKillAnywhere(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ft := newFaultTarget(t, srv)
	// Small, because -race seals at a few MB/s: 3 MiB of CSV seal into
	// one part of about 800 KiB; TestSendResumesAfterKill covers resuming
	// several parts.
	csvPath, want := ft.newCSV(t, "a.csv", 3<<20, 7)
	env := sendEnv(ft.dir, startProxy(t, srv, 768), srv)
	// Each run has its own cache, so that two run at once.
	envFor := func(i int) ([]string, string) {
		cache := filepath.Join(ft.dir, fmt.Sprintf("cache%02d", i))
		return append(env[:len(env):len(env)], "XDG_CACHE_HOME="+cache), filepath.Join(cache, "xfer", "spool")
	}
	args := func(name string) []string { return ft.sendArgs(csvPath, "--as", name) }
	killEach(t, "send", func(t *testing.T, i int) {
		name := fmt.Sprintf("whole%d.csv", i)
		e, _ := envFor(100 + i)
		timedRun(t, e, args(name))
		ft.checkObject(t, name+".zip.age", want)
	}, func(t *testing.T, i int, d time.Duration) string {
		name := fmt.Sprintf("k%02d.csv", i)
		e, spoolDir := envFor(i)
		p := killAfter(t, e, args(name), d, func(int) string { return sendPhase(spoolDir) })
		out, err := xferCmd(e, args(name)...).CombinedOutput()
		switch {
		case err != nil:
			t.Fatalf("killed while %s after %v; re-run: %v\n%s", p, d, err, out)
		case strings.Contains(string(out), "sent from this same file by an earlier run"):
			// Killed after the upload completed and its journal was
			// removed: the object's xfer-source tells the re-run.
			p += ", re-run: already sent"
		}
		ft.checkObject(t, name+".zip.age", want)
		checkNoLeftovers(t, spoolDir)
		checkNoLeftovers(t, ft.dir)
		return p
	})
}

// sendPhase names what a send using spoolDir is doing, from its journal.
func sendPhase(spoolDir string) string {
	journals, _ := filepath.Glob(filepath.Join(spoolDir, "*.journal"))
	spools, _ := filepath.Glob(filepath.Join(spoolDir, "*.spool"))
	if len(journals) == 0 {
		if len(spools) == 0 {
			return "starting"
		}
		return "completing"
	}
	var j struct {
		Sealed   bool
		UploadID string `json:"upload_id"`
	}
	b, _ := os.ReadFile(journals[0])
	json.Unmarshal(b, &j)
	switch {
	case len(spools) == 0:
		return "completing"
	case !j.Sealed && j.UploadID == "":
		return "sealing"
	case !j.Sealed:
		return "sealing+upload"
	}
	return "uploading"
}

// TestPullSurvivesKillAnywhere kills `xfer pull` with SIGKILL at
// killPoints moments spread over a whole run (fetching, verifying,
// decrypting and writing the CSV), each time runs the same command again,
// and checks that the CSV is the original byte for byte, with no
// temporary file beside it and the download spool gone.
func TestPullSurvivesKillAnywhere(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ft := newFaultTarget(t, srv)
	csvPath, want := ft.newCSV(t, "a.csv", 4<<20, 8)
	if out, err := xferCmd(sendEnv(ft.dir, srv.Endpoint, srv), ft.sendArgs(csvPath)...).CombinedOutput(); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	idPath := filepath.Join(ft.dir, "id.txt")
	if err := os.WriteFile(idPath, []byte(ft.id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// About a second of fetching, then opening and writing.
	env := sendEnv(ft.dir, startCappedProxy(t, srv, "downstream", 1<<10), srv)
	pull := func(t *testing.T, i int) (args []string, e []string, out, spoolDir string) {
		dir := filepath.Join(ft.dir, fmt.Sprintf("run%02d", i))
		out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
		e = append(env[:len(env):len(env)], "XDG_CACHE_HOME="+cache)
		return []string{"pull", "--no-progress", "a.csv.zip.age", "-i", idPath, "-d", out}, e, out, filepath.Join(cache, "xfer", "spool")
	}
	check := func(t *testing.T, out, spoolDir string) {
		t.Helper()
		if got := fileSum(t, filepath.Join(out, "a.csv")); got != want {
			t.Errorf("%s: the pulled CSV differs from the original", out)
		}
		checkNoLeftovers(t, out)
		checkNoLeftovers(t, spoolDir)
	}
	killEach(t, "pull", func(t *testing.T, i int) {
		args, e, out, spoolDir := pull(t, 100+i)
		timedRun(t, e, args)
		check(t, out, spoolDir)
	}, func(t *testing.T, i int, d time.Duration) string {
		args, e, out, spoolDir := pull(t, i)
		p := killAfter(t, e, args, d, func(pid int) string { return pullPhase(out, spoolDir, pid) })
		res, err := xferCmd(e, args...).CombinedOutput()
		switch {
		case err != nil:
			t.Fatalf("killed while %s after %v; re-run: %v\n%s", p, d, err, res)
		case strings.Contains(string(res), "already holds"):
			// Killed after the CSV was in place and before the pull was
			// recorded: the re-run recognises it from the manifest.
			p += ", re-run: CSV already there"
		}
		check(t, out, spoolDir)
		return p
	})
}

// pullPhase names what a pull (process pid) into out using spoolDir is
// doing. Its CSV being written is a file without a name on Linux
// (O_TMPFILE), seen only among the process's open files.
func pullPhase(out, spoolDir string, pid int) string {
	if writingInto(pid, out) {
		return "writing"
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if e.Name() == "a.csv" {
			return "finishing"
		}
	}
	if spools, _ := filepath.Glob(filepath.Join(spoolDir, "*.fetch")); len(spools) > 0 {
		return "fetching"
	}
	return "starting"
}
