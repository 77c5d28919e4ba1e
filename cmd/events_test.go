package cmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Every xfer the tests run as a process with --json (testscript's xfer,
// xferCmd) checks each line it prints on stdout against eventSpecs and
// writes what fails, and the event types it printed, into the directory
// named by eventLogEnv; the test binary fails at the end when any line
// failed (see eventCheckingM). In-process runs check their stdout with
// checkEvents.
const eventLogEnv = "XFER_TEST_EVENT_LOG"

// jsonArgs reports whether a command line asks for --json.
func jsonArgs(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// checkingMain is Main, checking the events on stdout with --json.
func checkingMain() int {
	dir := os.Getenv(eventLogEnv)
	if dir == "" || !jsonArgs(os.Args[1:]) {
		return Main()
	}
	w := &eventChecker{w: os.Stdout}
	code := mainTo(w)
	w.close()
	var b bytes.Buffer
	for _, p := range w.problems {
		fmt.Fprintf(&b, "xfer %s: %s\n", strings.Join(os.Args[1:], " "), p)
	}
	if len(w.problems) > 0 {
		os.Stderr.Write(b.Bytes())
	}
	for t := range w.seen {
		fmt.Fprintf(&b, "seen %s\n", t)
	}
	f, err := os.CreateTemp(dir, "events-*.log")
	if err == nil {
		f.Write(b.Bytes())
		f.Close()
	}
	return code
}

// eventChecker passes what is written on to w and checks each line.
type eventChecker struct {
	mu       sync.Mutex
	w        io.Writer
	partial  []byte
	problems []string
	seen     map[string]bool
}

func (c *eventChecker) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.check(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	return c.w.Write(p)
}

func (c *eventChecker) check(line []byte) {
	if err := checkEvent(line); err != nil {
		c.problems = append(c.problems, fmt.Sprintf("%v in %s", err, line))
		return
	}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[eventType(line)] = true
}

// close checks what was written after the last newline: every event ends
// with one.
func (c *eventChecker) close() {
	if len(c.partial) > 0 {
		c.problems = append(c.problems, fmt.Sprintf("output not ending in a newline: %q", c.partial))
	}
}

func eventType(line []byte) string {
	const key = `"event":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// checkEvents checks the stdout of an in-process run with --json.
func checkEvents(t testing.TB, stdout string) {
	t.Helper()
	c := &eventChecker{w: io.Discard}
	c.Write([]byte(stdout))
	c.close()
	for _, p := range c.problems {
		t.Errorf("event format: %s", p)
	}
}

// eventCheckingM runs the tests, then fails when a process run by them
// printed an event that is not in the format.
type eventCheckingM struct {
	m interface{ Run() int }
}

func (e eventCheckingM) Run() int {
	dir, err := os.MkdirTemp("", "xfer-events-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv(eventLogEnv, dir)
	code := e.m.Run()
	problems, seen := readEventLogs(dir)
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d lines printed with --json do not follow docs/events.md:\n%s", len(problems), strings.Join(problems, ""))
		return 1
	}
	if testing.Verbose() {
		var unseen []string
		for _, s := range eventSpecs {
			if !seen[s.name] {
				unseen = append(unseen, s.name)
			}
		}
		fmt.Fprintf(os.Stderr, "event format: %d event types printed and checked; not printed by the tests run: %s\n", len(seen), strings.Join(unseen, " "))
	}
	return code
}

func readEventLogs(dir string) (problems []string, seen map[string]bool) {
	seen = map[string]bool{}
	paths, _ := filepath.Glob(filepath.Join(dir, "events-*.log"))
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			problems = append(problems, err.Error()+"\n")
			continue
		}
		for _, line := range strings.SplitAfter(string(b), "\n") {
			switch {
			case line == "":
			case strings.HasPrefix(line, "seen "):
				seen[strings.TrimSpace(strings.TrimPrefix(line, "seen "))] = true
			default:
				problems = append(problems, line)
			}
		}
	}
	return problems, seen
}

// TestEventsDoc: docs/events.md is what the format generates.
func TestEventsDoc(t *testing.T) {
	have, err := os.ReadFile(filepath.Join("..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, EventsMarkdown()) {
		t.Error("docs/events.md is stale: run go run ./internal/cmd/gendocs -events docs/events.md")
	}
	for _, s := range eventSpecs {
		if !strings.Contains(string(have), "\n### "+s.name+"\n") {
			t.Errorf("docs/events.md has no section for %s", s.name)
		}
	}
}

// TestEventSchema: the format's own rules, and that the checker refuses
// what it must.
func TestEventSchema(t *testing.T) {
	names := map[string]bool{}
	for _, s := range eventSpecs {
		if names[s.name] {
			t.Errorf("event type %s twice", s.name)
		}
		names[s.name] = true
		checkNames(t, s.name, s.name, s.fields)
	}
	for _, c := range []struct {
		line string
		ok   bool
	}{
		{`{"event":"summary","v":1,"ok":true,"exit_code":0}`, true},
		{`{"event":"summary","v":1,"ok":false,"exit_code":6,"error":"bad"}`, true},
		{`{"event":"nothing_new","v":1,"already_pulled":3,"prefix":"a/"}`, true},
		{`{"event":"encrypted","v":1,"input":"a","output":"b","cipher":"age","rows":1,"columns":2,"input_bytes":3,"output_bytes":4,"sha256":"00",` +
			`"source":{"encoding":"utf-8","delimiter":",","line_ends":"crlf"},"issues":[{"kind":"k","count":1,"first_rows":[2],"action":"warn","rejected":false}],"suppressed":{"l":1}}`, true},
		{`{"event":"summary","ok":true,"exit_code":0}`, false},                                                           // no version
		{`{"event":"summary","v":2,"ok":true,"exit_code":0}`, false},                                                     // another version
		{`{"event":"bucket-init","v":1}`, false},                                                                         // unknown type
		{`{"v":1,"ok":true,"exit_code":0}`, false},                                                                       // no type
		{`{"event":"summary","v":1,"ok":true,"exit_code":0,"extra":1}`, false},                                           // unknown field
		{`{"event":"summary","v":1,"ok":"yes","exit_code":0}`, false},                                                    // wrong type
		{`{"event":"summary","v":1,"ok":true,"exit_code":1.5}`, false},                                                   // not an integer
		{`{"event":"summary","v":1,"ok":true}`, false},                                                                   // missing field
		{`{"event":"upload","v":1,"name":"a","key":"k","upload_id":"u","initiated":"yesterday","age_seconds":1}`, false}, // not a time
		{`{"event":"encrypted","v":1,"input":"a","output":"b","cipher":"age","rows":1,"columns":2,"input_bytes":3,"output_bytes":4,"sha256":"00",` +
			`"source":{"encoding":"utf-8","delimiter":",","line_ends":"crlf","extra":true}}`, false}, // unknown nested field
		{`{"event":"encrypted","v":1,"input":"a","output":"b","cipher":"age","rows":1,"columns":2,"input_bytes":3,"output_bytes":4,"sha256":"00",` +
			`"source":{"encoding":"utf-8","delimiter":",","line_ends":"crlf"},"suppressed":{"l":"x"}}`, false}, // counts not integers
		{`sent a.csv`, false},
		{`{"event":"summary","v":1,"ok":true,"exit_code":0} {}`, false},
	} {
		err := checkEvent([]byte(c.line))
		if (err == nil) != c.ok {
			t.Errorf("checkEvent(%s) = %v, want ok %v", c.line, err, c.ok)
		}
	}
}

func checkNames(t *testing.T, event, where string, fields []eventField) {
	seen := map[string]bool{"event": true, "v": true}
	for _, f := range fields {
		if seen[f.name] {
			t.Errorf("%s: field %s twice (or a common field)", where, f.name)
		}
		seen[f.name] = true
		if f.name != strings.ToLower(f.name) || strings.Contains(f.name, "-") {
			t.Errorf("%s: field %s is not snake_case", where, f.name)
		}
		if f.doc == "" {
			t.Errorf("%s: field %s has no description", where, f.name)
		}
		if (len(f.fields) > 0) != (f.typ == tObject || f.typ == tObjects) {
			t.Errorf("%s: field %s: type %s with %d fields", where, f.name, f.typ, len(f.fields))
		}
		checkNames(t, event, where+"."+f.name, f.fields)
	}
	if event != strings.ToLower(event) || strings.Contains(event, "-") {
		t.Errorf("event type %s is not snake_case", event)
	}
}
