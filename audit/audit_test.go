package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/flock"
)

func TestMain(m *testing.M) {
	// TestConcurrentProcesses re-runs this binary as an appending process.
	if path := os.Getenv("AUDIT_TEST_APPEND"); path != "" {
		n, _ := strconv.Atoi(os.Getenv("AUDIT_TEST_COUNT"))
		who := os.Getenv("AUDIT_TEST_WHO")
		for i := range n {
			if err := appendOne(context.Background(), path, event(fmt.Sprintf("%s-%d", who, i))); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func event(key string) Event {
	return Event{Time: t0, User: "ops", Host: "box", Action: ActionSend, Exchange: "s3.example/exchange/acme/",
		Key: key, SHA256: strings.Repeat("ab", 32), Rows: 1000, Bytes: 123456,
		Details: map[string]int64{"suppressed": 7}}
}

// newLog writes a log of n events, the i-th one day after the (i-1)-th.
func newLog(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "audit.jsonl")
	for i := range n {
		ev := event(fmt.Sprintf("file-%d.csv.zip.age", i+1))
		ev.Time = t0.AddDate(0, 0, i)
		if err := appendOne(context.Background(), path, ev); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

func writeLines(t testing.TB, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	path := newLog(t, 5)
	res, err := Verify(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 5 || res.HeadLagging {
		t.Fatalf("Verify = %+v, want 5 events, head up to date", res)
	}
	for _, c := range []struct {
		path string
		perm fs.FileMode
	}{{path, 0o600}, {path + ".head", 0o600}, {path + ".lock", 0o600}, {filepath.Dir(path), 0o700}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != c.perm {
			t.Errorf("%s: mode %o, want %o", c.path, fi.Mode().Perm(), c.perm)
		}
	}
	lines := readLines(t, path)
	var first map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if first["seq"] != 1.0 || first["prev"] != strings.Repeat("0", 64) || first["outcome"] != "ok" ||
		first["time"] != "2026-11-30T09:00:00Z" || first["key"] != "file-1.csv.zip.age" {
		t.Errorf("first line: %s", lines[0])
	}
	if _, ok := first["error"]; ok {
		t.Errorf("first line has an empty error member: %s", lines[0])
	}
	if !bytes.HasPrefix(lines[0], []byte(`{"v":1,"seq":1,"prev":"`)) {
		t.Errorf("first line does not start with v, seq, prev: %s", lines[0])
	}
}

func TestEventDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	ctx := context.Background()
	if err := appendOne(ctx, path, Event{}); err == nil {
		t.Error("an event without an action was recorded")
	}
	if err := appendOne(ctx, path, Event{Action: ActionFetch, Outcome: "maybe"}); err == nil {
		t.Error("an event with an unknown outcome was recorded")
	}
	before := time.Now().UTC()
	long := strings.Repeat("é", 2000)
	if err := appendOne(ctx, path, Event{Action: ActionPull, Key: "k", ExitCode: 4, Error: long}); err != nil {
		t.Fatal(err)
	}
	var rec record
	if err := json.Unmarshal(readLines(t, path)[0], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != OutcomeError || rec.User == "" || rec.Host == "" || rec.Time.Before(before.Add(-time.Second)) ||
		rec.Time.Location() != time.UTC {
		t.Errorf("defaults not filled: %+v", rec.Event)
	}
	if len(rec.Error) > maxErrorLen+len("…") || !strings.HasSuffix(rec.Error, "…") || !utf8Valid(rec.Error) {
		t.Errorf("error message not cut to %d bytes on a character boundary: %d bytes", maxErrorLen, len(rec.Error))
	}
	if err := appendOne(ctx, path, Event{Action: ActionSend, Key: strings.Repeat("k", MaxLineSize)}); err == nil {
		t.Error("an event larger than a line was recorded")
	}
	if _, err := Verify(ctx, path); err != nil {
		t.Fatal(err)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestVerifyMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if _, err := Verify(context.Background(), path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Verify of a missing log: %v, want ErrNotExist", err)
	}
	path = newLog(t, 2)
	os.Remove(path)
	_, err := Verify(context.Background(), path)
	var brk *BreakError
	if !errors.As(err, &brk) || brk.Line != 1 {
		t.Fatalf("Verify of a removed log with its head: %v, want a break at line 1", err)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				errs <- appendOne(context.Background(), path, event(fmt.Sprintf("g%d-%d", w, i)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkKeys(t, path, workers*each, func(k string) bool { return strings.HasPrefix(k, "g") })
}

// Several processes append at once (and this one too): the lock keeps the
// chain linear.
func TestConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const procs, each = 4, 30
	var cmds []*exec.Cmd
	for p := range procs {
		c := exec.Command(exe, "-test.run=^$")
		c.Env = append(os.Environ(), "AUDIT_TEST_APPEND="+path, "AUDIT_TEST_COUNT="+strconv.Itoa(each), "AUDIT_TEST_WHO=p"+strconv.Itoa(p))
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for i := range each {
		if err := appendOne(context.Background(), path, event(fmt.Sprintf("main-%d", i))); err != nil {
			t.Error(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("appending process: %v", err)
		}
	}
	checkKeys(t, path, (procs+1)*each, func(string) bool { return true })
}

func checkKeys(t *testing.T, path string, want int, ok func(string) bool) {
	t.Helper()
	res, err := Verify(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != want {
		t.Fatalf("%d events, want %d", res.Events, want)
	}
	seen := map[string]bool{}
	for _, l := range readLines(t, path) {
		var rec record
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatal(err)
		}
		if seen[rec.Key] || !ok(rec.Key) {
			t.Fatalf("key %q twice or unexpected", rec.Key)
		}
		seen[rec.Key] = true
	}
}

// reseal recomputes a line's own hash after an edit, as a careful forger
// would.
func reseal(t testing.TB, line []byte) []byte {
	t.Helper()
	body := bytes.TrimSuffix(line, []byte("\n"))
	var rec record
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatal(err)
	}
	var prev [32]byte
	if _, err := hex.Decode(prev[:], []byte(rec.Prev)); err != nil {
		t.Fatal(err)
	}
	out, _, err := encodeLine(rec.Seq, prev, rec.Event)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestTamperSweep edits, removes, swaps, inserts and cuts lines of a log
// in every position and requires Verify to name the first bad line.
func TestTamperSweep(t *testing.T) {
	const n = 6
	orig := newLog(t, n)
	lines := readLines(t, orig)
	head, err := os.ReadFile(orig + ".head")
	if err != nil {
		t.Fatal(err)
	}
	edits := []struct{ name, old, new string }{
		{"key", `"key":"file-`, `"key":"fyle-`},
		{"action", `"action":"send"`, `"action":"pull"`},
		{"seq", `"seq":`, `"seq":1`},
		{"prev", `"prev":"`, `"prev":"f`},
		{"time", `"time":"2026-1`, `"time":"2025-1`},
		{"rows", `"rows":1000`, `"rows":999`},
		{"outcome", `"outcome":"ok"`, `"outcome":"error"`},
		{"details", `"suppressed":7`, `"suppressed":0`},
		{"hash", `"hash":"`, `"hash":"0`},
		{"space", `{"v":1,`, `{"v":1, `},
	}
	type tc struct {
		name  string
		lines [][]byte
		want  int
	}
	var cases []tc
	clone := func() [][]byte {
		c := make([][]byte, len(lines))
		for i, l := range lines {
			c[i] = bytes.Clone(l)
		}
		return c
	}
	for k := range n {
		for _, e := range edits {
			c := clone()
			c[k] = bytes.Replace(c[k], []byte(e.old), []byte(e.new), 1)
			if bytes.Equal(c[k], lines[k]) {
				t.Fatalf("edit %s does not apply", e.name)
			}
			cases = append(cases, tc{fmt.Sprintf("edit %s of line %d", e.name, k+1), c, k + 1})
			if e.name != "hash" && e.name != "space" && e.name != "seq" && e.name != "prev" {
				r := clone()
				r[k] = reseal(t, c[k])
				cases = append(cases, tc{fmt.Sprintf("resealed edit %s of line %d", e.name, k+1), r, k + 1})
			}
		}
		c := clone()
		cases = append(cases, tc{fmt.Sprintf("delete line %d", k+1), append(c[:k:k], c[k+1:]...), k + 1})
		if k+1 < n {
			c := clone()
			c[k], c[k+1] = c[k+1], c[k]
			cases = append(cases, tc{fmt.Sprintf("swap lines %d and %d", k+1, k+2), c, k + 1})
		}
		for j := range n {
			c := clone()
			ins := append(append(c[:k:k], bytes.Clone(lines[j])), c[k:]...)
			want := k + 1
			if j == k {
				want = k + 2 // two identical lines: the second repeats the first
			}
			cases = append(cases, tc{fmt.Sprintf("insert a copy of line %d before line %d", j+1, k+1), ins, want})
		}
		c = clone()
		junk := []byte(`{"v":1,"seq":` + strconv.Itoa(k+1) + `,"note":"forged"}` + "\n")
		cases = append(cases, tc{fmt.Sprintf("insert junk before line %d", k+1), append(append(c[:k:k], junk), c[k:]...), k + 1})
		c = clone()
		cases = append(cases, tc{fmt.Sprintf("cut after line %d", k), c[:k], k + 1})
		c = clone()
		c[k] = c[k][:len(c[k])/2]
		cases = append(cases, tc{fmt.Sprintf("cut in line %d", k+1), c[:k+1], k + 1})
	}
	c := clone()
	cases = append(cases, tc{"append a copy of the last line", append(c, bytes.Clone(lines[n-1])), n + 1})
	c = clone()
	c[n-1] = bytes.TrimSuffix(c[n-1], []byte("\n"))
	cases = append(cases, tc{"remove the last newline", c, n})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			writeLines(t, path, c.lines)
			if err := os.WriteFile(path+".head", head, 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := Verify(context.Background(), path)
			var brk *BreakError
			if !errors.As(err, &brk) {
				t.Fatalf("Verify = %+v, %v; want a break at line %d", res, err, c.want)
			}
			if brk.Line != c.want {
				t.Fatalf("break at line %d (%s), want line %d", brk.Line, brk.Reason, c.want)
			}
			if res.Events != c.want-1 {
				t.Errorf("%d good events, want %d", res.Events, c.want-1)
			}
			// Appending must not paper over the damage.
			before, _ := os.ReadFile(path)
			if err := appendOne(context.Background(), path, event("after")); err == nil && c.want <= n {
				after, _ := os.ReadFile(path)
				if _, verr := Verify(context.Background(), path); verr == nil {
					t.Fatalf("an append after the damage made the log verify again (%d -> %d bytes)", len(before), len(after))
				}
			}
		})
	}
}

func TestHead(t *testing.T) {
	ctx := context.Background()
	lagging := func(t *testing.T, n int) string {
		path := newLog(t, n)
		lines := readLines(t, path)
		// A writer killed between its line and the head.
		if err := writeHead(path+".head", head{V: 1, Seq: int64(n - 1), Hash: sum(lines[n-2])}); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("lagging one line", func(t *testing.T) {
		path := lagging(t, 4)
		res, err := Verify(ctx, path)
		if err != nil || res.Events != 4 || !res.HeadLagging {
			t.Fatalf("Verify = %+v, %v; want 4 events with the head lagging", res, err)
		}
		if err := appendOne(ctx, path, event("next")); err != nil {
			t.Fatal(err)
		}
		res, err = Verify(ctx, path)
		if err != nil || res.Events != 5 || res.HeadLagging {
			t.Fatalf("after an append: %+v, %v; want 5 events, head up to date", res, err)
		}
	})
	t.Run("lagging two lines", func(t *testing.T) {
		path := newLog(t, 4)
		lines := readLines(t, path)
		writeHead(path+".head", head{V: 1, Seq: 2, Hash: sum(lines[1])})
		expectBreak(t, path, 4)
	})
	t.Run("first line without head", func(t *testing.T) {
		path := newLog(t, 1)
		os.Remove(path + ".head")
		res, err := Verify(ctx, path)
		if err != nil || res.Events != 1 || !res.HeadLagging {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
	})
	t.Run("head removed", func(t *testing.T) {
		path := newLog(t, 3)
		os.Remove(path + ".head")
		expectBreak(t, path, 4)
		if err := appendOne(ctx, path, event("x")); !errors.As(err, new(*BreakError)) {
			t.Fatalf("append without the head: %v", err)
		}
	})
	t.Run("head damaged", func(t *testing.T) {
		path := newLog(t, 3)
		os.WriteFile(path+".head", []byte("{"), 0o600)
		expectBreak(t, path, 4)
	})
	t.Run("head of another log", func(t *testing.T) {
		path := newLog(t, 3)
		for seq := int64(2); seq <= 3; seq++ {
			writeHead(path+".head", head{V: 1, Seq: seq, Hash: strings.Repeat("1a", 32)})
			_, err := Verify(ctx, path)
			if !errors.As(err, new(*BreakError)) {
				t.Fatalf("head at %d of another log: %v", seq, err)
			}
		}
	})
	t.Run("lagging and cut", func(t *testing.T) {
		// The one line a killed writer left unanchored can go unnoticed.
		path := lagging(t, 4)
		writeLines(t, path, readLines(t, path)[:3])
		if _, err := Verify(ctx, path); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("torn last line", func(t *testing.T) {
		path := newLog(t, 3)
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.WriteString(`{"v":1,"seq":4,"pr`)
		f.Close()
		expectBreak(t, path, 4)
		if err := appendOne(ctx, path, event("x")); !errors.As(err, new(*BreakError)) {
			t.Fatalf("append after a torn line: %v", err)
		}
	})
}

func sum(line []byte) string {
	p, reason := parseLine(bytes.TrimSuffix(line, []byte("\n")))
	if reason != "" {
		panic(reason)
	}
	return fmt.Sprintf("%x", p.sum)
}

func expectBreak(t *testing.T, path string, line int) {
	t.Helper()
	_, err := Verify(context.Background(), path)
	var brk *BreakError
	if !errors.As(err, &brk) || brk.Line != line {
		t.Fatalf("Verify: %v; want a break at line %d", err, line)
	}
}

type fakeMirror struct {
	mu    sync.Mutex
	names []string
	lines [][]byte
	err   error
}

func (m *fakeMirror) PutAudit(_ context.Context, name string, line []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.names = append(m.names, name)
	m.lines = append(m.lines, bytes.Clone(line))
	return nil
}

func TestMirror(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	m := &fakeMirror{}
	l := &Log{Path: path, Mirror: m}
	for i := range 3 {
		ev := event(strconv.Itoa(i))
		ev.Time = t0.Add(time.Duration(i) * time.Second)
		if err := l.AppendAll(context.Background(), []Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	local := readLines(t, path)
	if len(m.lines) != 3 {
		t.Fatalf("mirror got %d lines", len(m.lines))
	}
	for i := range local {
		if !bytes.Equal(m.lines[i], local[i]) {
			t.Errorf("mirrored line %d differs:\n%s\n%s", i+1, m.lines[i], local[i])
		}
		if i > 0 && m.names[i] <= m.names[i-1] {
			t.Errorf("mirror names do not sort by time: %q after %q", m.names[i], m.names[i-1])
		}
	}
	if !strings.HasPrefix(m.names[0], "20261130T090000.000000000Z-") || !strings.HasSuffix(m.names[0], ".json") {
		t.Errorf("mirror name %q", m.names[0])
	}
	m.err = errors.New("bucket unreachable")
	if err := l.AppendAll(context.Background(), []Event{event("3")}); !errors.Is(err, ErrMirror) {
		t.Fatalf("failed mirror: %v, want ErrMirror", err)
	}
	if res, err := Verify(context.Background(), path); err != nil || res.Events != 4 {
		t.Fatalf("local log after a failed mirror: %+v, %v", res, err)
	}
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	path := newLog(t, 5) // one event a day from 2026-11-30
	ev := event("=HYPERLINK(\"http://x\")")
	ev.Time = t0.AddDate(0, 0, 5)
	ev.ExitCode, ev.Error = 4, "checksum mismatch"
	if err := appendOne(ctx, path, ev); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Export(ctx, path, &out, t0.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	rows := parseCSV(t, out.Bytes())
	if res.Exported != 3 || len(rows) != 1+3+1 {
		t.Fatalf("exported %d, %d rows:\n%s", res.Exported, len(rows), out.Bytes())
	}
	if strings.Join(rows[0], ",") != strings.Join(ExportHeader, ",") {
		t.Errorf("header %v", rows[0])
	}
	col := func(row []string, name string) string {
		for i, h := range ExportHeader {
			if h == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	if col(rows[1], "seq") != "4" || col(rows[1], "time") != "2026-12-03T09:00:00Z" || col(rows[1], "details") != "suppressed=7" ||
		col(rows[1], "verified") != "yes" || len(col(rows[1], "line_sha256")) != 64 {
		t.Errorf("first row %v", rows[1])
	}
	if col(rows[3], "key") != `'=HYPERLINK("http://x")` || col(rows[3], "outcome") != "error" || col(rows[3], "exit_code") != "4" {
		t.Errorf("failed event's row %v", rows[3])
	}
	last := rows[4]
	if col(last, "action") != "verify" || col(last, "outcome") != "ok" || col(last, "details") != "events=6;exported=3" || col(last, "verified") != "yes" {
		t.Errorf("summary row %v", last)
	}

	// A broken log is exported all the same, marked from the break on.
	lines := readLines(t, path)
	lines[1] = bytes.Replace(lines[1], []byte(`"rows":1000`), []byte(`"rows":10`), 1)
	writeLines(t, path, lines)
	out.Reset()
	res, err = Export(ctx, path, &out, time.Time{})
	var brk *BreakError
	if !errors.As(err, &brk) || brk.Line != 2 {
		t.Fatalf("Export of a broken log: %v", err)
	}
	rows = parseCSV(t, out.Bytes())
	if res.Exported != 6 || len(rows) != 1+6+1 {
		t.Fatalf("exported %d:\n%s", res.Exported, out.Bytes())
	}
	if col(rows[1], "verified") != "yes" || col(rows[2], "verified") != "no" || col(rows[2], "rows") != "10" || col(rows[3], "verified") != "no" {
		t.Errorf("rows around the break: %v / %v", rows[1], rows[2])
	}
	last = rows[7]
	if col(last, "outcome") != "error" || !strings.Contains(col(last, "error"), "line 2") || col(last, "verified") != "no" {
		t.Errorf("summary row of a broken log %v", last)
	}
}

func parseCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll() // every row the header's width
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return rows
}

// An append waits for the lock only as long as its context lasts.
func TestAppendWaitsForLock(t *testing.T) {
	if !flock.Supported {
		t.Skip("no file locks on this platform")
	}
	path := newLog(t, 1)
	lf, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	unlock, err := flock.TryLock(lf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := appendOne(ctx, path, event("late")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Record while another process holds the lock: %v", err)
	}
	if _, err := Verify(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify while an append holds the lock: %v", err)
	}
	unlock()
	if err := appendOne(context.Background(), path, event("now")); err != nil {
		t.Fatal(err)
	}
	if res, err := Verify(context.Background(), path); err != nil || res.Events != 2 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

// TestAppendAll: many events in one call make the lines one Append each
// would, in order, and verify; the mirror gets every line.
func TestAppendAll(t *testing.T) {
	ctx := context.Background()
	path := newLog(t, 2)
	m := &fakeMirror{}
	l := &Log{Path: path, Mirror: m}
	var evs []Event
	for i := range 50 {
		ev := event(fmt.Sprintf("batch-%d", i))
		ev.Action, ev.Details = ActionShred, map[string]int64{"versions": 3}
		evs = append(evs, ev)
	}
	if err := l.AppendAll(ctx, evs); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(ctx, path)
	if err != nil || res.Events != 52 || res.HeadLagging {
		t.Fatalf("Verify = %+v, %v; want 52 events, head up to date", res, err)
	}
	lines := readLines(t, path)
	for i, line := range lines[2:] {
		if !strings.Contains(string(line), fmt.Sprintf(`"seq":%d,`, i+3)) || !strings.Contains(string(line), fmt.Sprintf(`"key":"batch-%d"`, i)) {
			t.Fatalf("line %d: %s", i+3, line)
		}
	}
	if len(m.lines) != 50 {
		t.Errorf("mirror got %d lines, want 50", len(m.lines))
	}
	if err := l.AppendAll(ctx, nil); err != nil {
		t.Errorf("AppendAll of nothing: %v", err)
	}
	m.err = errors.New("bucket unreachable")
	if err := l.AppendAll(ctx, evs[:3]); !errors.Is(err, ErrMirror) || !strings.Contains(err.Error(), "2 more") {
		t.Errorf("failed mirror: %v, want ErrMirror naming the other failures", err)
	}
	if res, err := Verify(ctx, path); err != nil || res.Events != 55 {
		t.Fatalf("after a failed mirror: %+v, %v", res, err)
	}
}

// TestAppendAllStopped: a writer stopped after writing its lines but
// before the head leaves the head lagging by those lines, which Verify and
// the next append accept; more lines than announced are a break.
func TestAppendAllStopped(t *testing.T) {
	ctx := context.Background()
	for _, start := range []int{0, 3} {
		path := newLog(t, start)
		prev := fmt.Sprintf("%x", zeroHash)
		if start > 0 {
			prev = sum(readLines(t, path)[start-1])
		} else {
			path = filepath.Join(t.TempDir(), "audit.jsonl")
		}
		evs := []Event{event("a"), event("b"), event("c")}
		if err := (&Log{Path: path}).AppendAll(ctx, evs); err != nil {
			t.Fatal(err)
		}
		// The head AppendAll wrote before its lines.
		announced := head{V: 1, Seq: int64(start), Hash: prev, Pending: 3}
		if err := writeHead(path+".head", announced); err != nil {
			t.Fatal(err)
		}
		res, err := Verify(ctx, path)
		if err != nil || res.Events != start+3 || !res.HeadLagging {
			t.Fatalf("start %d: Verify = %+v, %v; want %d events, head lagging", start, res, err, start+3)
		}
		if err := appendOne(ctx, path, event("d")); err != nil {
			t.Fatalf("start %d: append after a stopped AppendAll: %v", start, err)
		}
		if res, err := Verify(ctx, path); err != nil || res.Events != start+4 || res.HeadLagging {
			t.Fatalf("start %d: after an append: %+v, %v", start, res, err)
		}
		// Lines beyond what was announced were not the stopped writer's.
		announced.Pending = 2
		writeHead(path+".head", announced)
		expectBreak(t, path, start+2)
	}
}

// appendOne appends one event to the log at path.
func appendOne(ctx context.Context, path string, ev Event) error {
	return (&Log{Path: path}).AppendAll(ctx, []Event{ev})
}
