package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
)

// notPrintedByTestEventTypes are the event types TestEventTypes cannot
// provoke without racing the clock or another run; other tests print them
// (and every line they print is checked all the same).
var notPrintedByTestEventTypes = map[string]string{
	"progress": "printed once a second during a transfer (TestFetchResumesAfterKill and the fault matrix print it)",
	"skipped":  "a file replaced or pulled by another run between the listing and the work",
	"claimed":  "needs a second puller of a group holding a file (TestPullerKilledMidFile prints it)",
}

// TestEventTypes runs every command that prints events with --json
// against MinIO, so that each event type of the format is printed and
// checked at least once (checkingMain checks every line, eventCheckingM
// fails the run on any that does not follow docs/events.md).
func TestEventTypes(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	prefix := filepath.Base(dir) + "/"
	env := append(sendEnv(dir, srv.Endpoint, srv), "XFER_BUCKET="+srv.VersionedBucket,
		"XFER_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl"), "XFER_CONFIG="+filepath.Join(dir, "xfer.toml"))
	file := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file("xfer.toml", "min_age = \"0\"\n")
	csv := file("a.csv", "surname,postcode\nLovelace,SW1A 1AA\nSmith,B33 8TH\n")
	bad := file("bad.csv", "surname,postcode\nLovelace\n")
	optouts := file("optouts.csv", "surname\nSmith\n")
	seen := map[string]bool{}
	run := func(code int, args ...string) map[string][]map[string]any {
		t.Helper()
		c := xferCmd(env, append(args, "--json")...)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if got := exitCodeOf(c.Run()); code >= 0 && got != code {
			t.Fatalf("xfer %s: exit %d, want %d\n%s%s", strings.Join(args, " "), got, code, stdout.String(), stderr.String())
		}
		evs := eventsByType(t, stdout.String())
		for typ := range evs {
			seen[typ] = true
		}
		return evs
	}
	key := filepath.Join(dir, "k.txt")

	run(0, "version")
	recipient, _ := run(0, "keygen", "-o", key)["keygen"][0]["recipient"].(string)
	run(0, "keygen", "--aes", "-o", filepath.Join(dir, "aes.key"))
	run(0, "keygen", "--zip-password", "-o", filepath.Join(dir, "zip.pw"))
	run(0, "encrypt", csv, "-o", filepath.Join(dir, "a.sealed"), "-r", recipient)
	run(0, "decrypt", filepath.Join(dir, "a.sealed"), "-i", key, "-o", filepath.Join(dir, "a.out.csv"))
	run(0, "suppress", "hash", optouts, "-o", filepath.Join(dir, "optouts.hashed"), "--key", "surname")
	run(0, "send", "--dry-run", csv, "-r", recipient)
	run(6, "send", csv, bad, "-r", recipient, "--suppress", filepath.Join(dir, "optouts.hashed"), "--no-progress")
	run(0, "list")
	run(0, "list", "--all-versions")
	run(0, "fetch", "a.csv.zip.age", "-o", filepath.Join(dir, "a.fetched"), "--no-progress")

	store := storeOn(t, srv, srv.VersionedBucket)
	if _, err := store.CreateUpload(t.Context(), prefix+"u.csv.zip.age", transfer.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	run(0, "list", "--incomplete")
	run(0, "shred", "--dry-run", "u.csv.zip.age")
	run(0, "shred", "--yes", "u.csv.zip.age")

	// pull, then as if its --shred-after had failed: the next pull --all
	// --shred-after finishes the shred.
	in := filepath.Join(dir, "in")
	run(0, "pull", "--dry-run", "--all", "-d", in, "-i", key)
	run(0, "pull", "--all", "-d", in, "-i", key, "--no-progress")
	run(0, "pull", "--all", "-d", in, "-i", key)
	state := filepath.Join(dir, "cache", "xfer", exchange.PulledStateFile)
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		e["shred_pending"] = true
		nb, _ := json.Marshal(e)
		lines = append(lines, string(nb))
	}
	if err := os.WriteFile(state, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if evs := run(0, "pull", "--dry-run", "--all", "--shred-after", "-d", in, "-i", key); len(evs["would_shred"]) != 1 {
		t.Errorf("pull --dry-run --all --shred-after: %v", evs)
	}
	if evs := run(0, "pull", "--all", "--shred-after", "-d", in, "-i", key); len(evs["shred_pending"]) != 1 || len(evs["shredded"]) != 1 {
		t.Errorf("pull --all --shred-after: %v", evs)
	}

	// sweep: a file whose expiry has passed.
	if _, err := store.Put(t.Context(), prefix+"old.csv.zip.age", bytes.NewReader([]byte("sealed")), 6, transfer.PutOptions{
		CreateOptions: transfer.CreateOptions{Metadata: map[string]string{
			exchange.MetaCipher: "age", exchange.MetaExpires: "2001-01-01T00:00:00Z", exchange.MetaCreated: "2000-01-01T00:00:00Z"}}}); err != nil {
		t.Fatal(err)
	}
	if evs := run(0, "sweep", "--dry-run"); len(evs["expired"]) != 1 || len(evs["shredded"]) != 0 {
		t.Errorf("sweep --dry-run: %v", evs)
	}
	if evs := run(0, "sweep"); len(evs["shredded"]) != 1 {
		t.Errorf("sweep: %v", evs)
	}

	run(-1, "doctor")
	run(-1, "bucket", "init", "--dry-run")
	run(0, "bucket", "policy", "--client", "acme")
	run(0, "audit", "verify")
	run(0, "audit", "export", "--since", "2000-01-01", "-o", filepath.Join(dir, "audit.csv"))
	b, err = os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	broken := file("broken.jsonl", strings.Replace(string(b), `"action":"send"`, `"action":"pull"`, 1))
	run(4, "audit", "verify", "--log", broken)

	for _, s := range eventSpecs {
		if !seen[s.name] && notPrintedByTestEventTypes[s.name] == "" {
			t.Errorf("no command printed a %s event", s.name)
		}
	}
	for typ := range notPrintedByTestEventTypes {
		if findEvent(typ) == nil {
			t.Errorf("notPrintedByTestEventTypes names %s, which is not in the format", typ)
		}
	}
}
