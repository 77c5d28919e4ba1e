package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
)

// TestSweepRemovesExactlyTheExpired: on a versioned bucket, sweep shreds
// every version of each expired file, and leaves unexpired files and
// objects xfer did not send; on MinIO and versitygw.
func TestSweepRemovesExactlyTheExpired(t *testing.T) {
	for name, start := range servers {
		t.Run(name, func(t *testing.T) { sweepRemovesExactlyTheExpired(t, start(t)) })
	}
}

func sweepRemovesExactlyTheExpired(t *testing.T, srv *s3test.Server) {
	dir := t.TempDir()
	env := append(sendEnv(dir, srv.Endpoint, srv), "XFER_BUCKET="+srv.VersionedBucket)
	prefix := filepath.Base(dir) + "/"
	idPath := filepath.Join(dir, "k.txt")
	rcpt := keygen(t, env, idPath)
	// Files a second old are swept only without the minimum age (1d by
	// default; TestSweepKeepsYoungFiles runs with it).
	os.MkdirAll(filepath.Join(dir, "xfer"), 0o700)
	if err := os.WriteFile(filepath.Join(dir, "xfer", "config.toml"), []byte("min_age = \"0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	send := func(name, expires string, more ...string) {
		t.Helper()
		p := filepath.Join(dir, name)
		f, _ := os.Create(p)
		addrgen.Write(f, 32<<10, uint64(len(name)))
		f.Close()
		args := append([]string{"send", p, "-r", rcpt, "--expires", expires}, more...)
		if b, err := xferCmd(env, args...).CombinedOutput(); err != nil {
			t.Fatalf("send %s: %v\n%s", name, err, b)
		}
	}
	send("old1.csv", "1s")
	send("old2.csv", "1s")
	send("old2.csv", "1s", "--overwrite") // a second version
	send("new.csv", "30d")
	s3 := storeOn(t, srv, srv.VersionedBucket)
	if _, err := s3.Put(t.Context(), prefix+"notes.txt", bytes.NewReader([]byte("x")), 1, transfer.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	versions := func() map[string]int {
		n := map[string]int{}
		if err := s3.ListVersions(t.Context(), prefix, func(v transfer.Version) error {
			n[strings.TrimPrefix(v.Key, prefix)]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if v := versions(); v["old2.csv.zip.age"] != 2 {
		t.Fatalf("versions before the sweep: %v", v)
	}

	// Sweep runs in this process, on a clock an hour on: the files sent
	// to expire in a second have expired, those for 30 days not yet.
	// (XDG_CONFIG_HOME names the config only to a process of its own.)
	getenv := inProcessEnv(t, append(env, "XFER_CONFIG="+filepath.Join(dir, "xfer", "config.toml")))
	later := time.Now().Add(time.Hour)
	sweep := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		code := Run(t.Context(), append([]string{"sweep"}, args...), &Env{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: getenv,
			Now: func() time.Time { return later },
		})
		if code != 0 {
			t.Fatalf("sweep %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
		}
		return out.String()
	}
	if b := sweep("--dry-run"); !strings.Contains(b, "would shred old1.csv.zip.age") || !strings.Contains(b, "would shred old2.csv.zip.age") ||
		strings.Contains(b, "would shred new") {
		t.Fatalf("sweep --dry-run:\n%s", b)
	}
	if v := versions(); v["old1.csv.zip.age"] != 1 || v["old2.csv.zip.age"] != 2 {
		t.Fatalf("--dry-run removed something: %v", v)
	}

	var swept struct {
		Expired, Shredded, Unexpired int
		NoExpiry                     int `json:"no_expiry"`
	}
	sweptEvent := func() {
		t.Helper()
		for line := range strings.Lines(sweep("--json")) {
			if strings.Contains(line, `"event":"swept"`) {
				if err := json.Unmarshal([]byte(line), &swept); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sweptEvent()
	if swept.Expired != 2 || swept.Shredded != 2 || swept.Unexpired != 1 || swept.NoExpiry != 1 {
		t.Errorf("swept event %+v, want 2 expired and shredded, 1 unexpired, 1 without expiry", swept)
	}
	v := versions()
	keys := make([]string, 0, len(v))
	for k := range v {
		if !strings.HasPrefix(k, ".xfer/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if want := []string{"new.csv.zip.age", "notes.txt"}; !slices.Equal(keys, want) || v["new.csv.zip.age"] != 1 {
		t.Fatalf("after the sweep: %v, want only %v (one version each)", v, want)
	}

	// Nothing left to sweep: a second run removes nothing.
	swept.Expired, swept.Shredded = -1, -1
	sweptEvent()
	if swept.Expired != 0 || swept.Shredded != 0 {
		t.Errorf("second sweep: %+v", swept)
	}
}
