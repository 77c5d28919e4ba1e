package cmd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/zipenc"
)

// TestPullChecksTheManifest: pull reports the rows the manifest vouches
// for, and a CSV that does not match its manifest (forged by someone who
// holds the zip password and the recipient, but not xfer's sealing) ends
// with exit 4 and no output file.
func TestPullChecksTheManifest(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	env := sendEnv(dir, srv.Endpoint, srv)
	csvPath := filepath.Join(dir, "a.csv")
	var csv bytes.Buffer
	addrgen.Write(&csv, 256<<10, 7)
	if err := os.WriteFile(csvPath, csv.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(dir, "k.txt")
	rcpt := keygen(t, env, idPath)

	var sent struct{ Rows int64 }
	runForEvent(t, env, []string{"send", csvPath, "-r", rcpt, "--expires", "7d", "--json"}, "sent", &sent)
	rows := sent.Rows
	var pulled struct {
		Rows      int64
		Manifest  bool
		CSVSHA256 string `json:"csv_sha256"`
		Expires   string
	}
	in := filepath.Join(dir, "in")
	runForEvent(t, env, []string{"pull", "a.csv.zip.age", "-i", idPath, "-d", in, "--json"}, "pulled", &pulled)
	sum := sha256.Sum256(csv.Bytes())
	if !pulled.Manifest || pulled.Rows != rows || rows == 0 || pulled.CSVSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("pulled event %+v; sent %d rows, CSV SHA-256 %x", pulled, rows, sum)
	}
	if exp, err := time.Parse(time.RFC3339, pulled.Expires); err != nil || time.Until(exp) < 6*24*time.Hour || time.Until(exp) > 7*24*time.Hour {
		t.Errorf("expiry %q, want about 7 days from now", pulled.Expires)
	}

	// The forgery: the same CSV, its manifest claiming one row more.
	r, err := age.ParseX25519Recipient(rcpt)
	if err != nil {
		t.Fatal(err)
	}
	manifest, _ := json.Marshal(seal.Manifest{
		Format: seal.ManifestFormat, File: "a.csv", Rows: rows + 1, Columns: []string{},
		CSVBytes: int64(csv.Len()), CSVSHA256: hex.EncodeToString(sum[:]), Created: time.Now(),
	})
	var forged bytes.Buffer
	outer, err := crypt.NewWriter(&forged, crypt.EncryptOptions{Recipients: []age.Recipient{r}})
	if err != nil {
		t.Fatal(err)
	}
	zw := zipenc.NewWriter(outer, []byte("Corr3ct-Horse-Battery"), zipenc.Options{})
	for _, e := range []struct {
		name string
		data []byte
	}{{"b.csv", csv.Bytes()}, {seal.ManifestName, manifest}} {
		w, err := zw.Create(e.name, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	key := filepath.Base(dir) + "/b.csv.zip.age"
	if _, err := xferTestStore(t, srv).Put(t.Context(), key, bytes.NewReader(forged.Bytes()), int64(forged.Len()), transfer.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	in2 := filepath.Join(dir, "in2")
	b, err := xferCmd(env, "pull", "b.csv.zip.age", "-i", idPath, "-d", in2).CombinedOutput()
	if code := exitCodeOf(err); code != 4 {
		t.Fatalf("pull of a CSV that does not match its manifest: exit %d, want 4\n%s", code, b)
	}
	if !strings.Contains(string(b), "manifest") {
		t.Errorf("the error does not name the manifest:\n%s", b)
	}
	if ents, _ := os.ReadDir(in2); len(ents) != 0 {
		t.Errorf("a mismatching pull left %v", ents)
	}
}
