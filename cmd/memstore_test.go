package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// TestCommandsOnMemstore runs the exchange commands in process on an
// in-memory store (Env.OpenStore): send, list, pull --all (twice), shred,
// list again. It checks the wiring from flags to package exchange and
// back to the output; the protocol's rules have their own tests in
// package exchange, and the end-to-end tests run the binary on MinIO and
// versitygw.
func TestCommandsOnMemstore(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange", Versioned: true})
	dir := t.TempDir()
	vars := memVars(t, dir)
	var opened []s3store.Options
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runOnStore(t, st, vars, &opened, args...)
	}
	must := func(want string, args ...string) string {
		t.Helper()
		code, out, errOut := run(args...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("xfer %s: exit %d, want 0 and %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out
	}

	key := filepath.Join(dir, "house.key")
	recipient := strings.TrimSpace(must("age1", "keygen", "-o", key))
	csv := filepath.Join(dir, "acme.csv")
	if err := os.WriteFile(csv, []byte("name,street\nAda,1 Road\nBob,2 Road\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	must(`"event":"sent"`, "send", "--json", csv, "-r", recipient)
	if _, ok := st.Object("clients/acme/acme.csv.zip.age"); !ok {
		t.Fatal("send stored nothing under the prefix")
	}
	if len(opened) != 1 || opened[0].Bucket != "exchange" || opened[0].Endpoint != "http://127.0.0.1:1" {
		t.Errorf("the store was opened with %+v", opened)
	}
	must(`"name":"acme.csv.zip.age"`, "list", "--json")

	out := filepath.Join(dir, "in")
	must(`"rows":2`, "pull", "--json", "--all", "-d", out, "-i", key)
	if b, err := os.ReadFile(filepath.Join(out, "acme.csv")); err != nil || string(b) != "name,street\r\nAda,1 Road\r\nBob,2 Road\r\n" { // canonical CRLF
		t.Fatalf("pulled CSV %q, %v", b, err)
	}
	must(`"event":"nothing_new"`, "pull", "--json", "--all", "-d", out, "-i", key)
	if code, _, errOut := run("pull", "../x"); code != exitUsage || !strings.Contains(errOut, "bad name") {
		t.Errorf("pull of a bad name: exit %d\n%s", code, errOut)
	}
	must(`"complete":true`, "shred", "--json", "--yes", "acme.csv.zip.age")
	list := must(`"event":"summary"`, "list", "--json")
	if strings.Contains(list, `"event":"object"`) {
		t.Errorf("list after shred:\n%s", list)
	}
}

// memVars are the settings of an xfer run in process (runOnStore) with
// its files in dir: an empty config file, cache and audit log there, and
// the exchange clients/acme/ of bucket "exchange".
func memVars(t *testing.T, dir string) map[string]string {
	t.Helper()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"XFER_CONFIG": cfg, "XDG_CACHE_HOME": filepath.Join(dir, "cache"), "XFER_AUDIT_LOG": filepath.Join(dir, "audit.jsonl"),
		"XFER_BUCKET": "exchange", "XFER_PREFIX": "clients/acme", "XFER_ENDPOINT": "http://127.0.0.1:1",
		"XFER_ZIP_PASSWORD": "Corr3ct-Horse-Battery",
	}
}

// runOnStore runs xfer in process with the settings in vars and st as the
// exchange's store, and returns its exit code, stdout and stderr; the
// options the store was opened with are appended to opened (if not nil).
// Every --json line is checked against the event format.
func runOnStore(t *testing.T, st transfer.Store, vars map[string]string, opened *[]s3store.Options, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &Env{
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return vars[k] },
		OpenStore: func(_ context.Context, o s3store.Options) (transfer.Store, error) {
			if opened != nil {
				*opened = append(*opened, o)
			}
			return st, nil
		},
	})
	if jsonArgs(args) {
		checkEvents(t, stdout.String())
	}
	return code, stdout.String(), stderr.String()
}

// mustRunOnStore is runOnStore for a run that must succeed: it returns
// its stdout and stderr.
func mustRunOnStore(t *testing.T, st transfer.Store, vars map[string]string, args ...string) (string, string) {
	t.Helper()
	code, stdout, stderr := runOnStore(t, st, vars, nil, args...)
	if code != 0 {
		t.Fatalf("xfer %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout, stderr
}
