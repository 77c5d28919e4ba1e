package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/internal/s3test"
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
	if code, out := pull(env); code != 3 || !strings.Contains(out, "wrong password") {
		t.Errorf("pull with the old zip password: exit %d, want 3 (wrong password)\n%s", code, out)
	}
	if code, out := pull(newEnv); code != 0 {
		t.Errorf("pull with the new zip password: exit %d\n%s", code, out)
	}
}
