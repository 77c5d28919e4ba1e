package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

func TestShown(t *testing.T) {
	for _, c := range []struct{ in, shown, line string }{
		{"acme.csv.zip.age", "acme.csv.zip.age", "acme.csv.zip.age"},
		{"Müller & Söhne.csv", "Müller & Söhne.csv", "Müller & Söhne.csv"},
		{`C:\in\a.csv`, `C:\in\a.csv`, `C:\in\a.csv`},
		{"\x1b]0;pwned\a\x1b[31mRED.csv", `"\x1b]0;pwned\a\x1b[31mRED.csv"`, `\x1b]0;pwned\a\x1b[31mRED.csv`},
		{"acme\u202evsc.exe", `"acme\u202evsc.exe"`, `acme\u202evsc.exe`},
		{"a\nxfer: error: forged", `"a\nxfer: error: forged"`, `a\nxfer: error: forged`},
		{"a\tb", `"a\tb"`, `a\tb`},
		{"a\u2028b\u2029c", `"a\u2028b\u2029c"`, `a\u2028b\u2029c`},
		{"c1\u0085\u009b31m", `"c1\u0085\u009b31m"`, `c1\u0085\u009b31m`},
		{"zero\u200bwidth\ufeff", `"zero\u200bwidth\ufeff"`, `zero\u200bwidth\ufeff`},
		{"bad\xff\xc0utf8", `"bad\xff\xc0utf8"`, `bad\xff\xc0utf8`},
		{"del\x7f", `"del\x7f"`, `del\x7f`},
		{`"quoted"`, `"\"quoted\""`, `"quoted"`},
		{"", "", ""},
	} {
		if got := shown(c.in); got != c.shown {
			t.Errorf("shown(%q) = %s, want %s", c.in, got, c.shown)
		}
		if got := escapeLine(c.in); got != c.line {
			t.Errorf("escapeLine(%q) = %s, want %s", c.in, got, c.line)
		}
		// What both make of anything is printable text on one line.
		assertClean(t, "shown", shown(c.in)+"\n")
		assertClean(t, "escapeLine", escapeLine(c.in)+"\n")
	}
}

// assertClean fails unless out is lines of printable text: no control
// character but the newline ending each line and the tab between fields,
// no C1, format (bidi) or separator character, valid UTF-8, and no line
// that a hostile name forged (one starting with FORGED).
func assertClean(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		if r == '\n' || r == '\t' {
			continue
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			t.Errorf("%s: %U at byte %d:\n%q", what, r, i, out)
			return
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "FORGED") || strings.HasPrefix(line, "xfer: error: forged") {
			t.Errorf("%s: a forged line: %q\n%q", what, line, out)
		}
	}
}

// assertListed checks list's plain output: a line for each of files, with
// seven tabs, and want shown somewhere.
func assertListed(t *testing.T, out string, files int, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != files {
		t.Fatalf("list printed %d lines for %d files:\n%s", len(lines), files, out)
	}
	for _, l := range lines {
		if n := strings.Count(l, "\t"); n != 7 {
			t.Errorf("list line with %d tabs, not 7: %q", n, l)
		}
	}
	if !strings.Contains(out, want) {
		t.Errorf("list does not show %s:\n%s", want, out)
	}
}

// Names and metadata a hostile writer of the bucket might choose.
const (
	hostileTitle = "\x1b]0;pwned\a\x1b[31mRED.csv.zip.age"                    // retitles the terminal, turns it red
	hostileBidi  = "acme\u202evsc.exe.zip.age"                                // reads as acmeexe.csv...
	hostileLines = "two\nFORGED: lines\u2028\u0085\u009b2J.zip.age"           // forges lines; C1 CSI
	hostileC1    = "\u009d]0;pwned\u009c\u009b31m\u2028RED\u0085.csv.zip.age" // OSC, ST and CSI in their C1 forms
	hostileMeta  = "\x1b[2Jmallory\nxfer: error: forged\r\u202eFORGED"        // clears the screen, forges an error
)

// TestHostileNamesOnMemstore: objects with hostile names, metadata and a
// receipt in the exchange; list, pull, fetch, sweep and shred print
// nothing raw of them on a terminal or in a log, while NDJSON carries
// them exactly.
func TestHostileNamesOnMemstore(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange", Versioned: true})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("min_age = \"0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "xfer.log")
	vars := map[string]string{
		"XFER_CONFIG": cfg, "XDG_CACHE_HOME": filepath.Join(dir, "cache"), "XFER_AUDIT_LOG": filepath.Join(dir, "audit.jsonl"),
		"XFER_BUCKET": "exchange", "XFER_PREFIX": "clients/acme", "XFER_ENDPOINT": "http://127.0.0.1:1",
		"XFER_ZIP_PASSWORD": "Corr3ct-Horse-Battery",
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"--log-file", logFile, "--debug"}, args...), &Env{
			Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Getenv:    func(k string) string { return vars[k] },
			OpenStore: func(context.Context, s3store.Options) (transfer.Store, error) { return st, nil },
		})
		what := "xfer " + strings.Join(args, " ")
		if !slicesContains(args, "--json") {
			assertClean(t, what+" (stdout)", stdout.String())
		}
		assertClean(t, what+" (stderr)", stderr.String())
		return code, stdout.String(), stderr.String()
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(args...)
		if code != 0 {
			t.Fatalf("xfer %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	put := func(name string, body []byte, meta map[string]string) {
		t.Helper()
		if _, err := st.Put(t.Context(), "clients/acme/"+name, bytes.NewReader(body), int64(len(body)),
			transfer.PutOptions{CreateOptions: transfer.CreateOptions{Metadata: meta}, Overwrite: true}); err != nil {
			t.Fatal(err)
		}
	}

	key := filepath.Join(dir, "house.key")
	recipient := strings.TrimSpace(must("keygen", "-o", key))
	csv := filepath.Join(dir, "acme.csv")
	if err := os.WriteFile(csv, []byte("name,street\nAda,1 Road\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	must("send", csv, "-r", recipient)
	sealed, ok := st.Object("clients/acme/acme.csv.zip.age")
	if !ok {
		t.Fatal("send stored nothing")
	}
	put(hostileTitle, sealed, map[string]string{"xfer-cipher": "age\x1b[5m", "xfer-sender": hostileMeta, "xfer-expires": "2099-01-01T00:00:00Z"})
	put(hostileBidi, []byte("expired long ago"), map[string]string{"xfer-cipher": "age", "xfer-sender": "client", "xfer-expires": "2001-01-01T00:00:00Z"})
	put(hostileLines, []byte("not a sealed file"), map[string]string{"xfer-sender": hostileMeta})
	receipt, _ := json.Marshal(exchange.Receipt{Name: hostileTitle, By: "house\x1b[8m\nFORGED", DownloadedAt: time.Now().UTC(), Tool: "t"})
	put(exchange.ReceiptKey(hostileTitle), receipt, nil)

	// list: one line per file, seven tabs each, the hostile text escaped.
	assertListed(t, must("list"), 4, `"\x1b]0;pwned\a\x1b[31mRED.csv.zip.age"`)
	// list --json: the names and the sender exactly as stored.
	names := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(must("list", "--json")), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("list --json line %q: %v", l, err)
		}
		if ev["event"] == "object" {
			names[ev["name"].(string)], _ = ev["sender"].(string)
		}
	}
	for _, n := range []string{hostileTitle, hostileBidi, hostileLines} {
		if _, ok := names[n]; !ok {
			t.Errorf("list --json lacks %q: %q", n, names)
		}
	}
	if names[hostileTitle] != hostileMeta {
		t.Errorf("list --json sender %q, want %q", names[hostileTitle], hostileMeta)
	}

	out := filepath.Join(dir, "in")
	if got := must("pull", hostileTitle, "-d", out, "-i", key); !strings.Contains(got, `pulled "\x1b]0;pwned`) {
		t.Errorf("pull said %q", got)
	}
	if code, _, errOut := run("pull", hostileLines, "-d", out, "-i", key); code == 0 {
		t.Errorf("pull of a file that is not sealed: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run("pull", "--all", "-d", filepath.Join(dir, "all"), "-i", key); code == 0 || !strings.Contains(errOut, `"two\nFORGED`) {
		t.Errorf("pull --all of files that are not sealed: exit %d\n%s", code, errOut)
	}
	must("fetch", hostileTitle, "-o", filepath.Join(dir, "fetched"))
	must("sweep", "--dry-run")
	must("shred", "--yes", hostileTitle)
	must("sweep")
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, "--log-file", string(log))
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestHostileNamesOnMinIO: the same against MinIO with the binary: list
// and pull --all keep the terminal clean, and fetch saves objects whose
// names hold a stream colon, a device name or a bidi override under a
// portable local name in the current directory.
func TestHostileNamesOnMinIO(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	env := sendEnv(dir, srv.Endpoint, srv)
	prefix := filepath.Base(dir) + "/"
	s3 := storeOn(t, srv, srv.Bucket)
	put := func(name string, body []byte, meta map[string]string) string {
		t.Helper()
		info, err := s3.Put(t.Context(), prefix+name, bytes.NewReader(body), int64(len(body)), transfer.PutOptions{
			CreateOptions: transfer.CreateOptions{Metadata: meta}, Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		return info.ETag
	}
	xfer := func(wantOK bool, args ...string) string {
		t.Helper()
		c := xferCmd(env, args...)
		c.Dir = dir
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		if (err == nil) != wantOK {
			t.Fatalf("xfer %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
		}
		assertClean(t, strings.Join(args, " ")+" (stdout)", stdout.String())
		assertClean(t, strings.Join(args, " ")+" (stderr)", stderr.String())
		return stdout.String()
	}
	key := filepath.Join(dir, "house.key")
	recipient := strings.TrimSpace(xfer(true, "keygen", "-o", key))
	csv := filepath.Join(dir, "acme.csv")
	if err := os.WriteFile(csv, []byte("name,street\nAda,1 Road\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	xfer(true, "send", csv, "-r", recipient)
	sealed := []byte(nil)
	{
		r, err := s3.Get(t.Context(), prefix+"acme.csv.zip.age", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(r); err != nil {
			t.Fatal(err)
		}
		r.Close()
		sealed = b.Bytes()
	}
	// Metadata travels in HTTP headers: MinIO refuses the signature of a
	// value with a tab or a byte from 0x80 on (as the SDK signs them), so
	// hostile metadata is TestHostileNamesOnMemstore's. Keys and receipts
	// (JSON objects) may hold anything.
	meta := map[string]string{"xfer-cipher": "age", "xfer-sender": "mallory"}
	put(hostileTitle, sealed, meta)
	put(hostileC1, sealed, meta)
	put("x.csv:stream.zip.age", sealed, meta)
	etag := put("CON.zip.age", sealed, meta)
	put(hostileBidi, sealed, meta)
	receipt, _ := json.Marshal(exchange.Receipt{Name: "CON.zip.age", ETag: etag, By: "house\x1b[8m\nFORGED", DownloadedAt: time.Now().UTC(), Tool: "t"})
	put(exchange.ReceiptKey("CON.zip.age"), receipt, nil)

	logFile := filepath.Join(dir, "xfer.log")
	assertListed(t, xfer(true, "list", "--debug", "--log-file", logFile), 6, `"house\x1b[8m\nFORGED"`)
	// Six copies of one sealed file: one is pulled (which one depends on
	// the order several pulls at once finish), the CSV holds the others
	// already; every name is shown escaped.
	got := xfer(true, "pull", "--all", "-d", filepath.Join(dir, "in"), "-i", key, "--debug", "--log-file", logFile)
	if strings.Count(got, "pulled ") != 1 || strings.Count(got, "already holds") != 5 || !strings.Contains(got, ` "\x1b]0;pwned\a\x1b[31mRED.csv.zip.age"`) {
		t.Errorf("pull --all said:\n%s", got)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, "--log-file", string(log))
	if !strings.Contains(string(log), "xfer: debug: ") {
		t.Errorf("the log holds no --debug line:\n%s", log)
	}
	for name, local := range map[string]string{
		"x.csv:stream.zip.age": "x.csv_stream.zip.age",
		"CON.zip.age":          "_CON.zip.age",
		hostileBidi:            "acme_vsc.exe.zip.age",
		hostileTitle:           "_]0;pwned__[31mRED.csv.zip.age",
		hostileC1:              "_]0;pwned__31m_RED_.csv.zip.age",
	} {
		xfer(true, "fetch", name)
		if b, err := os.ReadFile(filepath.Join(dir, local)); err != nil || !bytes.Equal(b, sealed) {
			t.Errorf("fetch %q: %s: %v", name, local, err)
		}
	}
}
