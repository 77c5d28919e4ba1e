package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// TestSendResumeWithNewZipPassword: a send cut off by an outage after
// sealing, run again with another zip password (the old one leaked),
// seals again under the new one; the file in the exchange opens with the
// new password and not with the old. (Issue 15, item 1: before, the
// re-run uploaded the spool sealed under the old password and said
// nothing.)
func TestSendResumeWithNewZipPassword(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	g := startGate(t, srv, &gate{trip: isPartUpload, down: true})
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "a.csv")
	genCSV(t, csvPath, 12<<20, 3)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(dir, "id.txt")
	if err := os.WriteFile(idPath, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := sendEnv(dir, g.URL, srv)
	args := []string{"send", "--json", csvPath, "-r", id.Recipient().String(), "--part-size", "5MiB", "--no-progress"}
	first := xferCmd(env, args...)
	var out bytes.Buffer
	first.Stdout, first.Stderr = &out, &out
	if err := first.Run(); exitCodeOf(err) != 5 {
		t.Fatalf("exit %d during the outage, want 5\n%s", exitCodeOf(err), out.String())
	}
	journals, _ := filepath.Glob(filepath.Join(spoolDirOf(dir), "*.journal"))
	if len(journals) != 1 {
		t.Fatalf("journals after the outage: %v", journals)
	}
	var j struct{ Sealed bool }
	if b, err := os.ReadFile(journals[0]); err != nil || json.Unmarshal(b, &j) != nil || !j.Sealed {
		t.Fatalf("the spool was not sealed completely before the outage ended the run (%v): the test proves nothing", err)
	}
	g.Open()

	const newPassword = "N3w-Horse-Battery-Staple"
	newEnv := append(append([]string{}, env...), "XFER_ZIP_PASSWORD="+newPassword)
	var sent struct {
		Name    string
		Rows    int64
		Resumed int64 `json:"resumed_bytes"`
	}
	runForEvent(t, newEnv, args, "sent", &sent)
	if sent.Rows == 0 || sent.Resumed != 0 {
		t.Errorf("re-run with a new zip password: rows %d, resumed %d bytes; want sealed anew, nothing resumed", sent.Rows, sent.Resumed)
	}
	checkNoLeftovers(t, spoolDirOf(dir))

	pull := func(env []string) (int, string) {
		c := xferCmd(env, "pull", sent.Name, "-i", idPath, "-d", t.TempDir(), "--no-progress")
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		return exitCodeOf(err), out.String()
	}
	if code, out := pull(env); code != 3 || !strings.Contains(out, "wrong zip password") {
		t.Errorf("pull with the old zip password: exit %d, want 3 (wrong password)\n%s", code, out)
	}
	if code, out := pull(newEnv); code != 0 {
		t.Errorf("pull with the new zip password: exit %d\n%s", code, out)
	}
}

// TestSweepKeepsYoungFiles: a file whose metadata says it expired an hour
// ago, uploaded just now (by someone who may write the prefix and wants it
// gone before the mailing house pulls it), is kept by sweep: younger than
// the minimum age. A file without any expiry is counted as kept until the
// maximum retention. (Issue 15, item 4: before, sweep shredded the first
// at once.) The rule has its table test in package exchange
// (TestSweepDistrustsMetadata); this one runs the command on an in-memory
// store and reads its swept event (TestSweepRemovesExactlyTheExpired
// sweeps through the binary on MinIO).
func TestSweepKeepsYoungFiles(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange"})
	vars := memVars(t, t.TempDir())
	prefix := vars["XFER_PREFIX"] + "/"
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for key, meta := range map[string]map[string]string{
		"sudden.csv.zip.age": {"xfer-expires": past},
		"none.csv.zip.age":   nil,
	} {
		if _, err := st.Put(t.Context(), prefix+key, strings.NewReader("x"), 1,
			transfer.PutOptions{CreateOptions: transfer.CreateOptions{Metadata: meta}}); err != nil {
			t.Fatal(err)
		}
	}
	var swept struct {
		Expired, Shredded int
		NoExpiry          int `json:"no_expiry"`
		TooYoung          int `json:"too_young"`
	}
	code, out, errOut := runOnStore(t, st, vars, nil, "sweep", "--json")
	lastEvent(t, out, "swept", &swept)
	if code != 0 || swept.Expired != 0 || swept.Shredded != 0 || swept.TooYoung != 1 || swept.NoExpiry != 1 {
		t.Errorf("exit %d, swept %+v, want 0, nothing shredded, 1 too young, 1 without expiry\n%s%s", code, swept, out, errOut)
	}
	if _, err := st.Head(t.Context(), prefix+"sudden.csv.zip.age"); err != nil {
		t.Errorf("the young file is gone: %v", err)
	}
}

// TestListShowsExpiryDisagreement: a file whose metadata was rewritten to
// claim 2099 before the mailing house pulled it is listed with the
// manifest's expiry beside it, and a warning. (On an in-memory store: the
// rule is the list's, not the server's.)
func TestListShowsExpiryDisagreement(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange"})
	dir := t.TempDir()
	vars := memVars(t, dir)
	key := vars["XFER_PREFIX"] + "/a.csv.zip.age"
	run := func(args ...string) (string, string) { t.Helper(); return mustRunOnStore(t, st, vars, args...) }
	idPath := filepath.Join(dir, "k.txt")
	rcpt, _ := run("keygen", "-o", idPath)
	csvPath := filepath.Join(dir, "a.csv")
	genCSV(t, csvPath, 64<<10, 5)
	run("send", csvPath, "-r", strings.TrimSpace(rcpt), "--expires", "30d", "--no-progress")
	sealed, ok := st.Object(key)
	if !ok {
		t.Fatal("send stored nothing")
	}
	if _, err := st.Put(t.Context(), key, bytes.NewReader(sealed), int64(len(sealed)), transfer.PutOptions{Overwrite: true,
		CreateOptions: transfer.CreateOptions{Metadata: map[string]string{"xfer-expires": "2099-01-01T00:00:00Z"}}}); err != nil {
		t.Fatal(err)
	}
	run("pull", "a.csv", "-i", idPath, "-d", filepath.Join(dir, "in"), "--no-progress")
	var obj struct {
		Expires         time.Time
		ManifestExpires time.Time `json:"manifest_expires"`
		Disagrees       bool      `json:"expiry_disagrees"`
	}
	out, errOut := run("list", "--json")
	lastEvent(t, out, "object", &obj)
	if !obj.Disagrees || obj.Expires.Year() != 2099 || time.Until(obj.ManifestExpires) > 31*24*time.Hour || time.Until(obj.ManifestExpires) < 29*24*time.Hour {
		t.Errorf("list: %+v, want the 2099 metadata expiry shown disagreeing with the manifest's 30 days\n%s", obj, out)
	}
	if !strings.Contains(errOut, "warning: a.csv.zip.age: its metadata says it expires 2099-01-01T00:00:00Z, but its manifest said") {
		t.Errorf("no warning:\n%s", errOut)
	}
}

// lastEvent decodes the last NDJSON event named event in out into v,
// failing the test when there is none.
func lastEvent(t *testing.T, out, event string, v any) {
	t.Helper()
	if !decodeLastEvent(out, event, v) {
		t.Fatalf("no %s event in\n%s", event, out)
	}
}

// decodeLastEvent decodes the last NDJSON event named event in out into v
// and reports whether there was one.
func decodeLastEvent(out, event string, v any) bool {
	found := false
	for line := range strings.Lines(out) {
		if strings.Contains(line, `"event":"`+event+`"`) && json.Unmarshal([]byte(line), v) == nil {
			found = true
		}
	}
	return found
}
