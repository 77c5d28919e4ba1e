package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// pullerFiles is how many files the four pullers share: the 200.
const pullerFiles = 200

// TestFourPullersShareAnExchange: four `xfer pull --all --group` processes,
// each with its own state and output directory, started at once on 200
// files: every file is pulled exactly once (one CSV among the four
// directories, one "pulled" event, one receipt), every CSV is byte for
// byte the file sent, and every claim ends done. Run on MinIO and
// versitygw.
func TestFourPullersShareAnExchange(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *s3test.Server{
		"minio":     func(t testing.TB) *s3test.Server { return s3test.StartMinIO(t, s3test.MinIOOptions{}) },
		"versitygw": s3test.StartVersityGW,
	} {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			ft := newFaultTarget(t, srv)
			env := sendEnv(ft.dir, srv.Endpoint, srv)
			src := filepath.Join(ft.dir, "src")
			if err := os.Mkdir(src, 0o700); err != nil {
				t.Fatal(err)
			}
			want := map[string][32]byte{}
			var files []string
			for i := range pullerFiles {
				name := fmt.Sprintf("f%03d.csv", i)
				path := filepath.Join(src, name)
				want[name] = genCSV(t, path, 2<<10+int64(i)*37, uint64(1000+i))
				files = append(files, path)
			}
			// Sealed in process and stored with one PUT each: send (its
			// scrypt verifier, a process per run) is not what is tested.
			began := time.Now()
			for _, path := range files {
				ft.putSealed(t, path)
			}
			t.Logf("%s: sealing and storing %d files took %v", name, pullerFiles, time.Since(began).Round(time.Millisecond))
			idPath := filepath.Join(ft.dir, "id.txt")
			if err := os.WriteFile(idPath, []byte(ft.id.String()+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			const n = 4
			var runs [][]string
			for i := range n {
				runs = append(runs, []string{"pull", "--all", "--group", "house", "--json", "--no-progress", "-i", idPath,
					"-d", filepath.Join(ft.dir, fmt.Sprintf("out%d", i))})
			}
			// Each puller its own machine: its own cache and state.
			envs := make([][]string, n)
			for i := range n {
				envs[i] = append(env[:len(env):len(env)], "XDG_CACHE_HOME="+filepath.Join(ft.dir, fmt.Sprintf("cache%d", i)))
			}
			// doctor checks what the group rests on.
			doc, _ := xferCmd(envs[0], "doctor", "--group", "house", "-i", idPath).CombinedOutput()
			if !strings.Contains(string(doc), "pulling group house: the server honours If-None-Match and If-Match") {
				t.Errorf("doctor --group does not report the conditional writes:\n%s", doc)
			}
			began = time.Now()
			outs := runTogetherEnvs(envs, runs)
			t.Logf("%s: four pullers took %v", name, time.Since(began).Round(time.Millisecond))
			pulledBy := map[string]int{}
			per := make([]int, n)
			for i, o := range outs {
				if o.code != 0 {
					t.Fatalf("puller %d: exit %d\n%s", i, o.code, o.out)
				}
				for _, ev := range events(t, o.out) {
					if ev["event"] == "pulled" {
						pulledBy[ev["name"].(string)]++
						per[i]++
					}
				}
			}
			t.Logf("%s: files pulled per puller: %v", name, per)
			found := map[string]int{}
			for i := range n {
				dir := filepath.Join(ft.dir, fmt.Sprintf("out%d", i))
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					found[e.Name()]++
					if got := fileSum(t, filepath.Join(dir, e.Name())); got != want[e.Name()] {
						t.Errorf("%s in %s differs from the file sent", e.Name(), dir)
					}
				}
			}
			for name := range want {
				if found[name] != 1 || pulledBy[name+".zip.age"] != 1 {
					t.Errorf("%s: %d CSVs, %d pulled events; want exactly one of each", name, found[name], pulledBy[name+".zip.age"])
				}
			}
			if len(found) != len(want) {
				t.Errorf("%d CSVs written, want %d", len(found), len(want))
			}
			// In the exchange: one receipt per file, every claim done.
			ctx := t.Context()
			receipts, claims := 0, 0
			if err := ft.store.List(ctx, ft.prefix+exchange.InternalDir, func(o transfer.ObjectInfo) error {
				switch {
				case exchange.IsReceiptKey(o.Key):
					receipts++
				case strings.Contains(o.Key, "/claims/house/"):
					claims++
					c, err := exchange.ReadClaim(ctx, ft.store, o.Key)
					if err != nil {
						return err
					}
					if !c.Done {
						t.Errorf("left claimed: %+v", c)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if receipts != pullerFiles || claims != pullerFiles {
				t.Errorf("%d receipts and %d claims in the exchange, want %d of each", receipts, claims, pullerFiles)
			}
			// Run again: nothing new for any of them.
			for i, o := range runTogetherEnvs(envs, runs) {
				if o.code != 0 || !strings.Contains(o.out, `"nothing_new"`) {
					t.Errorf("puller %d again: exit %d, want nothing new\n%s", i, o.code, o.out)
				}
			}
		})
	}
}

// runTogetherEnvs is runTogether with an environment for each run.
func runTogetherEnvs(envs, runs [][]string) []runResult {
	res := make([]runResult, len(runs))
	done := make(chan struct{})
	start := make(chan struct{})
	for i, args := range runs {
		go func() {
			defer func() { done <- struct{}{} }()
			c := xferCmd(envs[i], args...)
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			<-start
			err := c.Run()
			res[i] = runResult{exitCodeOf(err), out.String()}
		}()
	}
	close(start)
	for range runs {
		<-done
	}
	return res
}

// events parses the NDJSON lines of out (other lines are ignored).
func events(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

// TestPullerKilledMidFile: a puller of a group is killed (SIGKILL) while
// it downloads a file. Until its lease ends, another puller of the group
// skips the file and says until when it is claimed; after, it takes the
// claim over and pulls the file; then nobody pulls it again.
func TestPullerKilledMidFile(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ft := newFaultTarget(t, srv)
	csvPath, want := ft.newCSV(t, "a.csv", 8<<20, 19)
	if out, err := xferCmd(sendEnv(ft.dir, srv.Endpoint, srv), ft.sendArgs(csvPath)...).CombinedOutput(); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	idPath := filepath.Join(ft.dir, "id.txt")
	if err := os.WriteFile(idPath, []byte(ft.id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	machine := func(name, endpoint string) (env, args []string, out, spool string) {
		dir := filepath.Join(ft.dir, name)
		env = append(sendEnv(ft.dir, endpoint, srv), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
		out = filepath.Join(dir, "out")
		// 8s: long enough that B's first run, however loaded the machine,
		// looks before A's lease ends.
		return env, []string{"pull", "--all", "--group", "house", "--lease", "8s", "--json", "--no-progress", "-i", idPath, "-d", out},
			out, filepath.Join(dir, "cache", "xfer", "spool")
	}
	// A downloads at 1 MiB/s: 8 seconds for the file.
	envA, argsA, outA, spoolA := machine("a", startCappedProxy(t, srv, "downstream", 1<<10))
	c, outputA, exited := startXfer(t, envA, argsA)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		// Mid-file: its download spool has bytes in it.
		if m, _ := filepath.Glob(filepath.Join(spoolA, "*.fetch")); len(m) > 0 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("puller A ended before it was killed: %v\n%s", err, outputA)
		case <-tick.C:
		}
	}
	c.Process.Kill()
	if err := <-exited; err == nil {
		t.Fatalf("puller A finished before the kill\n%s", outputA)
	}
	if ents, _ := os.ReadDir(outA); len(ents) != 0 {
		t.Fatalf("the killed puller left %v", ents)
	}

	envB, argsB, outB, _ := machine("b", srv.Endpoint)
	res, err := xferCmd(envB, argsB...).CombinedOutput()
	if err != nil {
		t.Fatalf("puller B: %v\n%s", err, res)
	}
	var until time.Time
	for _, ev := range events(t, string(res)) {
		if ev["event"] == "claimed" && ev["name"] == "a.csv.zip.age" {
			until, _ = time.Parse(time.RFC3339Nano, ev["claimed_until"].(string))
		}
		if ev["event"] == "pulled" {
			t.Fatalf("puller B pulled a file held by A's unexpired claim\n%s", res)
		}
	}
	if until.IsZero() {
		t.Fatalf("puller B does not report A's claim\n%s", res)
	}
	// The event B waits for is the end of A's lease, which B reported.
	<-time.After(time.Until(until) + 10*time.Millisecond)
	res, err = xferCmd(envB, argsB...).CombinedOutput()
	if err != nil || !strings.Contains(string(res), `"event":"pulled"`) {
		t.Fatalf("puller B after A's lease: %v\n%s", err, res)
	}
	if !strings.Contains(string(res), "a.csv.zip.age: took over the claim of ") {
		t.Errorf("puller B does not say it took A's claim over\n%s", res)
	}
	if got := fileSum(t, filepath.Join(outB, "a.csv")); got != want {
		t.Fatal("the CSV B pulled differs from the file sent")
	}
	claim, err := exchange.ReadClaim(t.Context(), ft.store, exchange.ClaimKey(ft.prefix+"a.csv.zip.age", "house"))
	if err != nil || !claim.Done || claim.ETag == "" {
		t.Fatalf("claim after the takeover: %+v, %v", claim, err)
	}
	// Done: neither B again nor a new machine pulls it.
	envC, argsC, outC, _ := machine("c", srv.Endpoint)
	for _, m := range []struct{ env, args []string }{{envB, argsB}, {envC, argsC}} {
		res, err := xferCmd(m.env, m.args...).CombinedOutput()
		if err != nil || !strings.Contains(string(res), `"nothing_new"`) {
			t.Errorf("a pull after completion: %v\n%s", err, res)
		}
	}
	if ents, _ := os.ReadDir(outC); len(ents) != 0 {
		t.Errorf("a new machine of the group pulled %v again", ents)
	}
}

// TestGroupRefusedWithoutConditionalWrites: on a server that ignores
// If-None-Match and If-Match, pull --all --group refuses with exit code 2
// and says why, pulling nothing, and doctor fails its pullers check.
func TestGroupRefusedWithoutConditionalWrites(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange", IgnoreConditional: true})
	dir := t.TempDir()
	vars := memVars(t, dir)
	vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"], vars["AWS_REGION"] = "k", "s", "us-east-1"
	run := func(args ...string) (int, string) {
		t.Helper()
		code, stdout, stderr := runOnStore(t, st, vars, nil, args...)
		return code, stdout + stderr
	}
	key := filepath.Join(dir, "house.key")
	if code, out := run("keygen", "-o", key); code != 0 {
		t.Fatalf("keygen: %d\n%s", code, out)
	}
	code, out := run("pull", "--all", "--group", "house", "-i", key, "-d", filepath.Join(dir, "out"))
	if code != exitUsage || !strings.Contains(out, "does not honour conditional writes (If-None-Match, If-Match)") {
		t.Fatalf("pull --all --group on a server without conditional writes: exit %d, want %d\n%s", code, exitUsage, out)
	}
	if st.Calls(memstore.List) != 0 {
		t.Errorf("the refused pull listed the exchange")
	}
	vars["XFER_PULL_GROUP"] = "house"
	code, out = run("pull", "--all", "-i", key, "-d", filepath.Join(dir, "out"))
	if code != exitUsage {
		t.Errorf("pull --all with XFER_PULL_GROUP: exit %d, want %d\n%s", code, exitUsage, out)
	}
	if code, out := run("pull", "x.csv.zip.age", "--group", "house", "-i", key); code != exitUsage || !strings.Contains(out, "--all") {
		t.Errorf("--group without --all: exit %d\n%s", code, out)
	}
	if code, out := run("pull", "--all", "--group", "../x", "-i", key); code != exitUsage || !strings.Contains(out, "bad pulling group") {
		t.Errorf("bad group: exit %d\n%s", code, out)
	}
}

// TestPullersShredAfter: two pullers of a group with --shred-after, at
// once: each file is pulled once, and shredded once it is, so the
// exchange holds none of them afterwards.
func TestPullersShredAfter(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ft := newFaultTarget(t, srv)
	env := sendEnv(ft.dir, srv.Endpoint, srv)
	const files = 12
	want := map[string][32]byte{}
	var paths []string
	for i := range files {
		name := fmt.Sprintf("s%02d.csv", i)
		path, sum := ft.newCSV(t, name, 4<<10+int64(i)*101, uint64(500+i))
		want[name], paths = sum, append(paths, path)
	}
	if out, err := xferCmd(env, ft.sendArgs(paths[0], paths[1:]...)...).CombinedOutput(); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	idPath := filepath.Join(ft.dir, "id.txt")
	if err := os.WriteFile(idPath, []byte(ft.id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var envs, runs [][]string
	for i := range 2 {
		envs = append(envs, append(env[:len(env):len(env)], "XDG_CACHE_HOME="+filepath.Join(ft.dir, fmt.Sprintf("cache%d", i))))
		runs = append(runs, []string{"pull", "--all", "--group", "house", "--shred-after", "--json", "--no-progress", "-i", idPath,
			"-d", filepath.Join(ft.dir, fmt.Sprintf("out%d", i))})
	}
	for i, o := range runTogetherEnvs(envs, runs) {
		if o.code != 0 {
			t.Fatalf("puller %d: exit %d\n%s", i, o.code, o.out)
		}
	}
	found := map[string]int{}
	for i := range 2 {
		dir := filepath.Join(ft.dir, fmt.Sprintf("out%d", i))
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			found[e.Name()]++
			if fileSum(t, filepath.Join(dir, e.Name())) != want[e.Name()] {
				t.Errorf("%s differs from the file sent", e.Name())
			}
		}
	}
	for name := range want {
		if found[name] != 1 {
			t.Errorf("%s pulled %d times, want once", name, found[name])
		}
	}
	var left []string
	if err := ft.store.List(t.Context(), ft.prefix, func(o transfer.ObjectInfo) error {
		if exchange.IsSealedName(o.Key) {
			left = append(left, o.Key)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("not shredded: %v", left)
	}
}

// putSealed seals the CSV at path for the target's identity, as send
// does, and stores it as <name>.zip.age with one PUT.
func (ft *faultTarget) putSealed(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sealed bytes.Buffer
	name := filepath.Base(path)
	if _, err := seal.Seal(t.Context(), &sealed, f, seal.Options{
		ZipPassword: []byte(testZipPassword), Level: 1, Concurrency: 1, Name: name, Modified: time.Now(),
		Outer: crypt.EncryptOptions{Cipher: crypt.CipherAge, Recipients: []age.Recipient{ft.id.Recipient()}},
	}); err != nil {
		t.Fatalf("seal %s: %v", name, err)
	}
	if _, err := ft.store.Put(t.Context(), ft.prefix+name+".zip.age", bytes.NewReader(sealed.Bytes()), int64(sealed.Len()), transfer.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}
