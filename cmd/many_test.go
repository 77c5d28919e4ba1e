package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// manyFiles is how many files the tests of --jobs send and pull.
const manyFiles = 50

// TestManyFilesAtOnce sends 50 files with --jobs 4 and pulls them with
// pull --all --jobs 4, in process, on the in-memory store and on MinIO:
// the output lines come whole and in the order of the files, exactly as
// --jobs 1 writes them; every CSV is byte for byte the file sent; there
// is one receipt and one audit event per file, and the audit log's chain
// holds. One object damaged among them fails alone (exit 4, no CSV),
// while the others are pulled.
func TestManyFilesAtOnce(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) transfer.Store{
		"memstore": func(*testing.T) transfer.Store {
			return memstore.New(memstore.Options{Bucket: "exchange", Versioned: true})
		},
		"minio": func(t *testing.T) transfer.Store {
			return xferTestStore(t, s3test.StartMinIO(t, s3test.MinIOOptions{}))
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			dir := t.TempDir()
			vars := memVars(t, dir)
			vars["XFER_BUCKET"] = st.Bucket()
			run := func(vars map[string]string, args ...string) (int, string, string) {
				t.Helper()
				return runOnStore(t, st, vars, nil, args...)
			}
			key, recipient := memKeygen(t, st, vars, dir)
			src := filepath.Join(dir, "src")
			if err := os.Mkdir(src, 0o700); err != nil {
				t.Fatal(err)
			}
			want := map[string][32]byte{}
			var files []string
			// Listed in reverse: send's output follows the arguments,
			// pull's the listing (sorted by name).
			for i := manyFiles - 1; i >= 0; i-- {
				name := fmt.Sprintf("f%03d.csv", i)
				path := filepath.Join(src, name)
				want[name] = genCSV(t, path, 1<<10+int64(i)*97, uint64(300+i))
				files = append(files, path)
			}

			code, out, errOut := run(vars, append([]string{"send", "--no-progress", "--jobs", "4", "-r", recipient}, files...)...)
			if code != 0 {
				t.Fatalf("send --jobs 4: exit %d\n%s", code, errOut)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != manyFiles {
				t.Fatalf("send --jobs 4 printed %d lines, want %d:\n%s", len(lines), manyFiles, out)
			}
			for i, l := range lines {
				if !strings.HasPrefix(l, "sent "+files[i]+" as "+filepath.Base(files[i])+".zip.age (") {
					t.Fatalf("line %d of send --jobs 4 is %q, want the send of %s", i+1, l, files[i])
				}
			}

			// Damage one object: it still downloads verified (its checksum
			// is the new bytes'), and fails to open.
			bad := "f007.csv.zip.age"
			damage(t, st, "clients/acme/"+bad)

			pull := func(cache, outDir string, jobs int, more ...string) (int, string, string) {
				t.Helper()
				v := maps(vars)
				v["XDG_CACHE_HOME"] = filepath.Join(dir, cache)
				v["XFER_AUDIT_LOG"] = filepath.Join(dir, cache+".audit.jsonl")
				args := append([]string{"pull", "--all", "--no-progress", "--jobs", fmt.Sprint(jobs), "-i", key, "-d", filepath.Join(dir, outDir)}, more...)
				return run(v, args...)
			}
			code1, out1, err1 := pull("c1", "out", 1)
			if code1 != exitIntegrity {
				t.Fatalf("pull --all --jobs 1 with one damaged file: exit %d, want %d\n%s", code1, exitIntegrity, err1)
			}
			// Into the same directory name, from a fresh cache: the text
			// must be the same as --jobs 1 wrote (but for the progress,
			// which goes by the clock: --no-progress).
			if err := os.Rename(filepath.Join(dir, "out"), filepath.Join(dir, "out.1")); err != nil {
				t.Fatal(err)
			}
			code4, out4, err4 := pull("c4", "out", 4)
			if code4 != exitIntegrity {
				t.Fatalf("pull --all --jobs 4 with one damaged file: exit %d, want %d\n%s", code4, exitIntegrity, err4)
			}
			if out4 != out1 || err4 != err1 {
				t.Errorf("--jobs 4 wrote otherwise than --jobs 1\n--jobs 1 stdout:\n%s\n--jobs 4 stdout:\n%s\n--jobs 1 stderr:\n%s\n--jobs 4 stderr:\n%s", out1, out4, err1, err4)
			}
			pulled := strings.Split(strings.TrimSuffix(out4, "\n"), "\n")
			if len(pulled) != manyFiles-1 {
				t.Errorf("pull --jobs 4 printed %d lines, want %d", len(pulled), manyFiles-1)
			}
			if !strings.Contains(err4, "xfer: error: "+bad+": ") {
				t.Errorf("pull --jobs 4 does not name the damaged file:\n%s", err4)
			}
			names := slices.Sorted(mapKeys(want))
			j := 0
			for _, n := range names {
				if n+".zip.age" == bad {
					continue
				}
				if j < len(pulled) && !strings.HasPrefix(pulled[j], "pulled "+n+".zip.age into ") {
					t.Errorf("line %d of pull --jobs 4 is %q, want %s", j+1, pulled[j], n)
				}
				j++
			}
			outDir := filepath.Join(dir, "out")
			for _, n := range names {
				p := filepath.Join(outDir, n)
				if n+".zip.age" == bad {
					if _, err := os.Lstat(p); err == nil {
						t.Errorf("%s was written from a damaged object", p)
					}
					continue
				}
				if fileSum(t, p) != want[n] {
					t.Errorf("%s differs from the file sent", p)
				}
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != manyFiles-1 {
				t.Errorf("%d files in %s, want %d", len(ents), outDir, manyFiles-1)
			}
			// Receipts: one per file pulled, none for the damaged one.
			receipts := map[string]int{}
			if err := st.List(t.Context(), "clients/acme/"+exchange.InternalDir, func(o transfer.ObjectInfo) error {
				if exchange.IsReceiptKey(o.Key) {
					receipts[o.Key]++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(receipts) != manyFiles-1 || receipts[exchange.ReceiptKey("clients/acme/"+bad)] != 0 {
				t.Errorf("%d receipts in the exchange, want %d, none for %s", len(receipts), manyFiles-1, bad)
			}
			// The audit logs: one event per file, the damaged one failed
			// with 4, and the chain holds.
			for _, log := range []string{vars["XFER_AUDIT_LOG"], filepath.Join(dir, "c4.audit.jsonl")} {
				action := "pull"
				if log == vars["XFER_AUDIT_LOG"] {
					action = "send"
				}
				byKey := auditByKey(t, log, action)
				if len(byKey) != manyFiles {
					t.Errorf("%s: %d %s events, want %d", log, len(byKey), action, manyFiles)
				}
				for k, codes := range byKey {
					wantCode := 0
					if action == "pull" && k == bad {
						wantCode = exitIntegrity
					}
					if len(codes) != 1 || codes[0] != wantCode {
						t.Errorf("%s: %s %s recorded with exit codes %v, want [%d]", log, action, k, codes, wantCode)
					}
				}
				if code, _, errOut := run(vars, "audit", "verify", "--log", log); code != 0 {
					t.Errorf("audit verify %s: exit %d\n%s", log, code, errOut)
				}
			}

			// --json: the events of the files come in listing order, the
			// damaged one's error among them, the summary last.
			code, out, errOut = pull("cj", "outj", 4, "--json")
			if code != exitIntegrity {
				t.Fatalf("pull --all --json --jobs 4: exit %d\n%s", code, errOut)
			}
			var order []string
			for _, ev := range events(t, out) {
				switch ev["event"] {
				case "pulled", "error":
					order = append(order, ev["name"].(string))
				}
			}
			var wantOrder []string
			for _, n := range names {
				wantOrder = append(wantOrder, n+".zip.age")
			}
			if !slices.Equal(order, wantOrder) {
				t.Errorf("pull --json --jobs 4: events in the order %v, want %v", order, wantOrder)
			}
		})
	}
}

// memKeygen makes an age identity in dir with keygen run on st, and
// returns its path and recipient.
func memKeygen(t *testing.T, st transfer.Store, vars map[string]string, dir string) (string, string) {
	t.Helper()
	key := filepath.Join(dir, "house.key")
	code, out, errOut := runOnStore(t, st, vars, nil, "keygen", "-o", key)
	if code != 0 {
		t.Fatalf("keygen: exit %d\n%s", code, errOut)
	}
	return key, strings.TrimSpace(out)
}

// damage replaces the object at key with its bytes, one flipped half way.
func damage(t *testing.T, st transfer.Store, key string) {
	t.Helper()
	ctx := t.Context()
	info, err := st.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(ctx, key, 0, info.Size)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if _, err := st.Put(ctx, key, bytes.NewReader(b), int64(len(b)), transfer.PutOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
}

// auditByKey reads the audit log at path: the exit codes recorded for
// each key of action.
func auditByKey(t *testing.T, path, action string) map[string][]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Action   string `json:"action"`
			Key      string `json:"key"`
			ExitCode int    `json:"exit_code"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if ev.Action == action {
			out[ev.Key] = append(out[ev.Key], ev.ExitCode)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestManyFilesInterrupted: a signal while pull --all --jobs 4 works on
// several files cancels them all: exit 130, no CSV of a file not done, no
// file begun after it; a re-run pulls the rest, each file once, byte for
// byte.
func TestManyFilesInterrupted(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange", Versioned: true})
	dir := t.TempDir()
	vars := memVars(t, dir)
	key, recipient := memKeygen(t, st, vars, dir)
	want := map[string][32]byte{}
	var files []string
	for i := range 20 {
		name := fmt.Sprintf("g%02d.csv", i)
		path := filepath.Join(dir, name)
		want[name] = genCSV(t, path, 4<<10, uint64(i))
		files = append(files, path)
	}
	if code, _, errOut := runOnStore(t, st, vars, nil, append([]string{"send", "-q", "-r", recipient}, files...)...); code != 0 {
		t.Fatalf("send: exit %d\n%s", code, errOut)
	}
	// The GET of the sixth file fires the signal, while the other files
	// in flight are somewhere in their work.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var once sync.Once
	st.Inject(memstore.Fault{Method: "Get", Key: "clients/acme/g05.csv.zip.age", Hook: func() { once.Do(func() { cancel(errSignal) }) }})
	outDir := filepath.Join(dir, "in")
	var stdout, stderr bytes.Buffer
	code := Run(ctx, []string{"pull", "--all", "--jobs", "4", "-i", key, "-d", outDir}, &Env{
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv:    func(k string) string { return vars[k] },
		OpenStore: func(context.Context, s3store.Options) (transfer.Store, error) { return st, nil },
	})
	if code != exitSignal {
		t.Fatalf("pull --all --jobs 4 interrupted: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitSignal, stdout.String(), stderr.String())
	}
	if _, err := os.Lstat(filepath.Join(outDir, "g05.csv")); err == nil {
		t.Error("the interrupted file was written")
	}
	if !strings.Contains(stderr.String(), "interrupted by a signal") {
		t.Errorf("the interruption is not reported:\n%s", stderr.String())
	}
	done := 0
	for i := range 20 {
		if _, err := os.Lstat(filepath.Join(outDir, fmt.Sprintf("g%02d.csv", i))); err == nil {
			done++
		}
	}
	st.ClearFaults()
	code, out, errOut := runOnStore(t, st, vars, nil, "pull", "--all", "--jobs", "4", "-i", key, "-d", outDir)
	if code != 0 {
		t.Fatalf("pull --all again: exit %d\n%s", code, errOut)
	}
	if n := strings.Count("\n"+out, "\npulled "); n != 20-done {
		t.Errorf("the re-run pulled %d files, want the %d left\n%s", n, 20-done, out)
	}
	for name, sum := range want {
		if fileSum(t, filepath.Join(outDir, name)) != sum {
			t.Errorf("%s differs from the file sent", name)
		}
	}
}

// TestSendManyOneRejected: send --jobs 4 of ten files, the fourth
// refused at the door (a NUL byte): the others are sent, the run ends
// with 6, and stdout and stderr are what --jobs 1 writes, in the order
// of the arguments.
func TestSendManyOneRejected(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange", Versioned: true})
	dir := t.TempDir()
	vars := memVars(t, dir)
	_, recipient := memKeygen(t, st, vars, dir)
	var files []string
	for i := range 10 {
		path := filepath.Join(dir, fmt.Sprintf("h%02d.csv", i))
		if i == 3 {
			if err := os.WriteFile(path, []byte("name,city\r\nA\x00B,C\r\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		} else {
			genCSV(t, path, 8<<10, uint64(i))
		}
		files = append(files, path)
	}
	send := func(prefix string, jobs int) (string, string) {
		t.Helper()
		v := maps(vars)
		v["XFER_PREFIX"] = prefix
		code, out, errOut := runOnStore(t, st, v, nil, append([]string{"send", "--no-progress", "--jobs", fmt.Sprint(jobs), "-r", recipient}, files...)...)
		if code != exitInput {
			t.Fatalf("send --jobs %d with one bad CSV: exit %d, want %d\n%s", jobs, code, exitInput, errOut)
		}
		for i, f := range files {
			_, ok := st.Object(prefix + "/" + filepath.Base(f) + ".zip.age")
			if ok != (i != 3) {
				t.Errorf("send --jobs %d: %s in the exchange: %v", jobs, filepath.Base(f), ok)
			}
		}
		return out, errOut
	}
	out1, err1 := send("one", 1)
	out4, err4 := send("four", 4)
	if out1 != out4 || err1 != err4 {
		t.Errorf("--jobs 4 wrote otherwise than --jobs 1\n--jobs 1 stdout:\n%s\n--jobs 4 stdout:\n%s\n--jobs 1 stderr:\n%s\n--jobs 4 stderr:\n%s", out1, out4, err1, err4)
	}
	if !strings.Contains(err4, files[3]) || strings.Count(out4, "\n") != 9 {
		t.Errorf("send --jobs 4: want 9 lines sent and an error for %s\nstdout:\n%s\nstderr:\n%s", files[3], out4, err4)
	}
}

// TestSendSameNameTwice: two files of the same name in one send --jobs 4
// go to the same object one after the other, as with --jobs 1: the first
// is sent, the second refused as already there (exit 2), never "busy".
func TestSendSameNameTwice(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange", Versioned: true})
	dir := t.TempDir()
	vars := memVars(t, dir)
	_, recipient := memKeygen(t, st, vars, dir)
	var files []string
	for i, sub := range []string{"x", "y", "z"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a.csv", fmt.Sprintf("b%d.csv", i)} {
			path := filepath.Join(dir, sub, name)
			genCSV(t, path, 4<<10, uint64(10*i+len(files)))
			files = append(files, path)
		}
	}
	var outs, errs []string
	for _, jobs := range []int{1, 4} {
		v := maps(vars)
		v["XFER_PREFIX"] = fmt.Sprintf("jobs%d", jobs)
		code, out, errOut := runOnStore(t, st, v, nil, append([]string{"send", "--no-progress", "--jobs", fmt.Sprint(jobs), "-r", recipient}, files...)...)
		if code != exitUsage || strings.Count(errOut, "is already in the exchange") != 2 || strings.Contains(errOut, "right now") {
			t.Fatalf("send --jobs %d of a.csv three times: exit %d, want %d and two refusals\n%s", jobs, code, exitUsage, errOut)
		}
		// The messages name the object's key, prefix and all.
		outs, errs = append(outs, out), append(errs, strings.ReplaceAll(errOut, v["XFER_PREFIX"]+"/", "PREFIX/"))
	}
	if outs[0] != outs[1] || errs[0] != errs[1] {
		t.Errorf("--jobs 4 wrote otherwise than --jobs 1\nstdout:\n%s\n%s\nstderr:\n%s\n%s", outs[0], outs[1], errs[0], errs[1])
	}
}
