package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/secret"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// TestDryRun: send, pull and shred with --dry-run say what they would
// do, in the event format, and change nothing: the bucket's versions and
// uploads, and every file under the run's directories (spool, cache, pull
// state, audit log, output directory), are as before. The commands run on
// an in-memory store, which also counts every request: a dry run makes
// none that writes.
func TestDryRun(t *testing.T) {
	store := memstore.New(memstore.Options{Bucket: "exchange", Versioned: true})
	dir := t.TempDir()
	vars := memVars(t, dir)
	prefix := vars["XFER_PREFIX"] + "/"
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vars["XFER_CONFIG"] = write("xfer.toml", "[suppress]\nkey = [\"surname\", \"postcode\"]\n")
	csv := write("a.csv", "first_name,surname,postcode,date_of_birth\nAda,Lovelace,SW1A 1AA,1815-12-10\nBrian,OBrien,EC1A 1BB,1970-01-01\nDee,Smith,B33 8TH,1990-04-04\n")
	optouts := write("optouts.csv", "surname,postcode\nOBRIEN,EC1A 1BB\n")
	bad := write("bad.csv", "name,street\nAda,1 Road\nBob\n")
	key := filepath.Join(dir, "house.key")
	code, out, errOut := runOnStore(t, store, vars, nil, "keygen", "-o", key)
	if code != 0 {
		t.Fatalf("keygen: exit %d\n%s", code, errOut)
	}
	recipient := strings.TrimSpace(out)
	writes := func() int {
		n := 0
		for _, m := range []string{memstore.Put, memstore.CreateUpload, memstore.UploadPart, memstore.CompleteUpload, memstore.AbortUpload, memstore.DeleteVersions} {
			n += store.Calls(m)
		}
		return n
	}

	// bucket is everything under the prefix: versions and uploads.
	bucket := func() []string {
		t.Helper()
		var got []string
		if err := store.ListVersions(t.Context(), prefix, func(v transfer.Version) error {
			got = append(got, fmt.Sprintf("version %s %s %d %v", v.Key, v.VersionID, v.Size, v.DeleteMarker))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := store.ListUploads(t.Context(), prefix, func(u transfer.UploadInfo) error {
			got = append(got, "upload "+u.Key+" "+u.UploadID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		return got
	}
	// unchanged runs xfer with args, which must exit with code, and
	// requires that it changed nothing; it returns the events by type.
	unchanged := func(code int, args ...string) map[string][]map[string]any {
		t.Helper()
		b0, l0, w0 := bucket(), localTree(t, dir), writes()
		got, stdout, stderr := runOnStore(t, store, vars, nil, append(args, "--json")...)
		if got != code {
			t.Fatalf("xfer %s: exit %d, want %d\n%s%s", strings.Join(args, " "), got, code, stdout, stderr)
		}
		if b1 := bucket(); !reflect.DeepEqual(b0, b1) {
			t.Errorf("xfer %s changed the bucket:\nbefore %q\nafter  %q", strings.Join(args, " "), b0, b1)
		}
		if w := writes() - w0; w != 0 {
			t.Errorf("xfer %s sent %d requests that write", strings.Join(args, " "), w)
		}
		if l1 := localTree(t, dir); !reflect.DeepEqual(l0, l1) {
			t.Errorf("xfer %s changed local files:\nbefore %q\nafter  %q", strings.Join(args, " "), l0, l1)
		}
		return eventsByType(t, stdout)
	}
	one := func(evs map[string][]map[string]any, typ string) map[string]any {
		t.Helper()
		if len(evs[typ]) != 1 {
			t.Fatalf("%d %s events, want 1: %v", len(evs[typ]), typ, evs)
		}
		return evs[typ][0]
	}

	// send: the CSV is read, screened and sealed into nothing.
	evs := unchanged(0, "send", "--dry-run", csv, "-r", recipient, "--drop-columns", "date_of_birth", "--suppress", optouts)
	ev := one(evs, "would_send")
	want := map[string]any{
		"name": "a.csv.zip.age", "key": prefix + "a.csv.zip.age", "bucket": "exchange", "exists": false, "cipher": "age",
		"rows": 2.0, "rows_in": 3.0, "suppressed_rows": 1.0, "suppressed": map[string]any{"optouts.csv": 1.0},
		"dropped_columns": []any{"date_of_birth"}, "columns": 3.0,
		"recipients":              []any{secret.RecipientCheckCode(recipient)},
		"zip_password_check_code": secret.ZipPasswordCheckCode([]byte("Corr3ct-Horse-Battery")),
	}
	for k, v := range want {
		if !reflect.DeepEqual(ev[k], v) {
			t.Errorf("would_send %s = %#v, want %#v", k, ev[k], v)
		}
	}
	if n, _ := ev["bytes"].(float64); n <= 0 {
		t.Errorf("would_send bytes = %v", ev["bytes"])
	}
	if len(evs["sent"]) != 0 || one(evs, "summary")["ok"] != true {
		t.Errorf("events %v", evs)
	}
	// A CSV send would refuse is refused the same way, exit 6.
	if evs := unchanged(6, "send", "--dry-run", bad, "-r", recipient); len(evs["would_send"]) != 0 {
		t.Errorf("a dry run of a bad CSV reported %v", evs["would_send"])
	}

	// The real send, then: the dry run sees the name taken.
	if code, out, errOut := runOnStore(t, store, vars, nil, "send", csv, "-r", recipient, "--drop-columns", "date_of_birth"); code != 0 {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	if ev := one(unchanged(0, "send", "--dry-run", csv, "-r", recipient, "--drop-columns", "date_of_birth"), "would_send"); ev["exists"] != true {
		t.Errorf("would_send after the send: exists %v", ev["exists"])
	}

	// pull: what would be pulled where; no directory made, nothing
	// downloaded, no receipt, nothing remembered.
	in := filepath.Join(dir, "in")
	ev = one(unchanged(0, "pull", "--dry-run", "--all", "-d", in, "-i", key, "--shred-after"), "would_pull")
	if ev["name"] != "a.csv.zip.age" || ev["output"] != filepath.Join(in, "a.csv") || ev["output_exists"] != false || ev["shred_after"] != true {
		t.Errorf("would_pull %v", ev)
	}
	if _, err := os.Stat(in); !os.IsNotExist(err) {
		t.Errorf("the output directory was made: %v", err)
	}
	if evs := unchanged(2, "pull", "--dry-run", "nothere.csv.zip.age", "-d", in, "-i", key); len(evs["would_pull"]) != 0 {
		t.Errorf("a dry run of a missing name reported %v", evs["would_pull"])
	}

	// shred: every item it would remove, without --yes and without a
	// terminal; nothing is removed.
	evs = unchanged(0, "shred", "--dry-run", "a.csv")
	if len(evs["would_remove"]) != 1 || evs["would_remove"][0]["kind"] != "version" {
		t.Errorf("would_remove %v", evs["would_remove"])
	}
	if ev := one(evs, "would_shred"); ev["versions"] != 1.0 || ev["name"] != "a.csv.zip.age" {
		t.Errorf("would_shred %v", ev)
	}
	if len(evs["removed"])+len(evs["shredded"]) != 0 {
		t.Errorf("a dry run reported removals: %v", evs)
	}
	unchanged(2, "shred", "--dry-run", "nothere.csv.zip.age")

	// The audit log holds the one real send, nothing of the dry runs.
	b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 1 {
		t.Errorf("audit log has %d events, want 1 (the real send):\n%s", n, b)
	}
}

// localTree describes every file and directory under dir: path, mode,
// size and modification time.
func localTree(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		got = append(got, fmt.Sprintf("%s %v %d %d", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// eventsByType decodes NDJSON events by their type.
func eventsByType(t *testing.T, out string) map[string][]map[string]any {
	t.Helper()
	evs := map[string][]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not an event: %q", sc.Text())
		}
		typ, _ := ev["event"].(string)
		evs[typ] = append(evs[typ], ev)
	}
	return evs
}

// TestVerbose: -v prints each file's steps with their timings on stderr
// (sealed, uploaded, fetched, opened, written), and never the zip
// password, the identity or anything from inside the file. The steps are
// the command's rendering: it runs on an in-memory store, which keeps a
// SHA-256 for each object as S3 does.
func TestVerbose(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange"})
	dir := t.TempDir()
	vars := memVars(t, dir)
	csv := filepath.Join(dir, "a.csv")
	if err := os.WriteFile(csv, []byte("name,street\nLovelace,1 Analytical Road\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string) { t.Helper(); return mustRunOnStore(t, st, vars, args...) }
	key := filepath.Join(dir, "house.key")
	out, _ := run("keygen", "-o", key)
	recipient := strings.TrimSpace(out)
	identity, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	_, quiet := run("send", csv, "-r", recipient, "--no-progress")
	if strings.Contains(quiet, "sealed") || strings.Contains(quiet, "uploaded") {
		t.Errorf("steps without -v:\n%s", quiet)
	}
	run("shred", "--yes", "a.csv.zip.age")
	_, steps := run("send", "-v", csv, "-r", recipient, "--no-progress")
	_, more := run("pull", "--verbose", "a.csv.zip.age", "-d", filepath.Join(dir, "in"), "-i", key, "--no-progress")
	steps += more
	for _, want := range []string{
		`xfer: a.csv: sealed 1 rows, \d+ bytes of CSV, in [0-9.]+[mµn]?s`,
		`xfer: a.csv.zip.age: uploaded 1 parts, \d+ bytes \(0 resumed from an earlier run\), in [0-9.]+[mµn]?s`,
		`xfer: a.csv.zip.age: fetched \d+ bytes \(0 resumed from an earlier run\) in [0-9.]+[mµn]?s, verified against the server's SHA-256`,
		`xfer: a.csv.zip.age: opened the outer layer and the zip in [0-9.]+[mµn]?s`,
		`xfer: a.csv.zip.age: decrypted, checked and wrote .*a.csv, \d+ bytes, in [0-9.]+[mµn]?s`,
		`xfer: a.csv.zip.age: recorded the pull and left a receipt in the exchange`,
	} {
		if !regexp.MustCompile(want).MatchString(steps) {
			t.Errorf("no line matching %s in:\n%s", want, steps)
		}
	}
	for _, secret := range []string{"Corr3ct-Horse-Battery", "AGE-SECRET-KEY", "Lovelace", "Analytical"} {
		if strings.Contains(steps, secret) {
			t.Errorf("-v printed %q", secret)
		}
	}
	if !strings.Contains(string(identity), "AGE-SECRET-KEY") {
		t.Fatal("the identity file holds no secret key to look for")
	}
}
