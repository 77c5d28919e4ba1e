package cmd

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
)

// TestBWLimit: --bwlimit caps send and fetch, and the configuration's
// bwlimit caps pull, against MinIO. A limited transfer can be slowed by a
// loaded machine but never sped up, so each command must take at least
// what 128 KiB/s needs for the sealed file after the first burst (about
// 4 s, several times what the commands take unlimited): no more than 10 %
// faster than the limit. The measured rates are logged.
func TestBWLimit(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	env := sendEnv(dir, srv.Endpoint, srv)
	idPath := filepath.Join(dir, "k.txt")
	rcpt := keygen(t, env, idPath)
	csvPath := filepath.Join(dir, "a.csv")
	sum := genCSV(t, csvPath, 2<<20, 11)
	const rate = 128 << 10
	lim, err := transfer.NewRateLimiter(rate)
	if err != nil {
		t.Fatal(err)
	}
	var size int64 // the sealed file's
	timed := func(what string, args []string, event string, v any) {
		t.Helper()
		start := time.Now()
		runForEvent(t, env, args, event, v)
		elapsed := time.Since(start)
		got := float64(size) / elapsed.Seconds()
		t.Logf("%s: %d bytes in %v: %.2f MiB/s, limit 0.125 MiB/s", what, size, elapsed.Round(time.Millisecond), got/(1<<20))
		if least := time.Duration(float64(size-lim.Burst()) / rate * float64(time.Second)); elapsed < least {
			t.Errorf("%s of %d bytes took %v: the 128 KiB/s limit needs at least %v", what, size, elapsed, least)
		}
	}

	timed("send --bwlimit 128KiB/s", []string{"send", csvPath, "-r", rcpt, "--json", "--bwlimit", "128KiB/s"}, "sent", &struct {
		Bytes *int64
	}{&size})
	if size < 256<<10 {
		t.Fatalf("sealed %d bytes: too few to measure a rate", size)
	}

	fetched := filepath.Join(dir, "fetched.zip.age")
	timed("fetch --bwlimit 128KiB/s", []string{"fetch", "a.csv.zip.age", "-o", fetched, "--json", "--bwlimit", "128KiB/s"}, "fetched", &struct{}{})
	if fi, err := os.Stat(fetched); err != nil || fi.Size() != size {
		t.Fatalf("fetched %v bytes (%v), want %d", fi, err, size)
	}

	if err := os.MkdirAll(filepath.Join(dir, "xfer"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "xfer", "config.toml"), []byte("bwlimit = \"128KiB/s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in")
	timed("pull (bwlimit in config.toml)", []string{"pull", "a.csv.zip.age", "-i", idPath, "-d", in, "--json"}, "pulled", &struct{}{})
	if fileSum(t, filepath.Join(in, "a.csv")) != sum {
		t.Fatal("the pulled CSV differs from the one sent")
	}
}
