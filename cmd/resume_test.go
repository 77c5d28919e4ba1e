package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/internal/testkit/testutil"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// startProxy puts a toxiproxy in front of srv, capping the upload
// bandwidth at rateKiB KiB/s, and returns the proxy's endpoint URL.
func startProxy(t *testing.T, srv *s3test.Server, rateKiB int) string {
	t.Helper()
	return startCappedProxy(t, srv, "upstream", rateKiB)
}

// toxiproxyTo starts an in-process toxiproxy on loopback in front of addr
// (host:port), stopped when the test ends; toxics go in through p.Toxics.
func toxiproxyTo(t *testing.T, addr string) *toxiproxy.Proxy {
	t.Helper()
	// The toxics log through zerolog's global logger, at trace level.
	zerolog.SetGlobalLevel(zerolog.ErrorLevel)
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "s3", "127.0.0.1:0", addr)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// xferCmd runs this test binary as xfer (see TestMain) with env.
func xferCmd(env []string, args ...string) *exec.Cmd {
	c := exec.Command(os.Args[0], args...)
	c.Env = append(append(os.Environ(), "XFER_TEST_RUN_MAIN=1"), env...)
	return c
}

// TestSendResumesAfterKill kills `xfer send` with SIGKILL once the server
// has stored two of its four parts (a gate holds the upload there, so the
// kill comes part way however fast or slow the machine), runs it again,
// and checks that the second run uploads none of the parts the server
// holds, that the object opens to the original bytes, and that no
// unfinished upload is left; on MinIO and versitygw.
func TestSendResumesAfterKill(t *testing.T) {
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sendResumesAfterKill(t, start(t))
		})
	}
}

func sendResumesAfterKill(t *testing.T, srv *s3test.Server) {
	const partSize = 5 << 20
	var stored atomic.Int32
	g := startGate(t, srv, &gate{trip: func(r *http.Response) bool { return isPartUpload(r) && stored.Add(1) == 2 }})
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "a.csv")
	// Base64 fields deflate to about 3/4: four parts of 5 MiB, the last short.
	if err := os.WriteFile(csvPath, testutil.IncompressibleCSV(21<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(dir, "k.txt")
	env := sendEnv(dir, g.URL, srv)
	recipient := keygen(t, env, idPath)
	args := []string{"send", "--json", "--no-progress", csvPath, "-r", recipient, "--part-size", "5MiB", "--concurrency", "2"}

	// First run: killed while the gate holds it, two parts stored, once
	// its spool is sealed (a spool not sealed is never resumed; under
	// -race sealing is slower than sending).
	spoolDir := spoolDirOf(dir)
	killAt(t, env, args, g, func() bool { return g.hasTripped() && sendPhase(spoolDir) == "uploading" }, func(int) string { return "" })

	// Second run: the same command, the same way (the gate is open now).
	var sent struct {
		sentEvent
		Name string
	}
	out2 := runForEvent(t, env, args, "sent", &sent)
	if sent.Bytes == 0 {
		t.Fatalf("no sent event:\n%s", out2)
	}
	t.Logf("object %d bytes in %d parts; the second run uploaded %d (%.0f%%)",
		sent.Bytes, (sent.Bytes+partSize-1)/partSize, sent.uploaded(), float64(sent.uploaded())*100/float64(sent.Bytes))
	if sent.Bytes <= 3*partSize {
		t.Fatalf("sealed %d bytes: fewer than four parts", sent.Bytes)
	}
	if up := sent.uploaded(); up <= 0 || up > sent.Bytes-2*partSize {
		t.Errorf("second run uploaded %d of %d bytes, want some, and none of the two parts stored", up, sent.Bytes)
	}

	// The object opens to the original, and nothing unfinished is left.
	dl := filepath.Join(dir, "back.zip.age")
	xferTestGet(t, srv, filepath.Base(dir)+"/"+sent.Name, dl)
	back := filepath.Join(dir, "back.csv")
	if out, err := xferCmd(env, "decrypt", dl, "-i", idPath, "-o", back).CombinedOutput(); err != nil {
		t.Fatalf("decrypt: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(csvPath)
	got, _ := os.ReadFile(back)
	if !bytes.Equal(got, want) {
		t.Fatal("the uploaded object does not open to the original")
	}
	store := xferTestStore(t, srv)
	var left []string
	store.ListUploads(context.Background(), filepath.Base(dir)+"/"+sent.Name, func(u transfer.UploadInfo) error {
		left = append(left, u.UploadID)
		return nil
	})
	if len(left) > 0 {
		t.Errorf("unfinished uploads left: %v", left)
	}
}

func xferTestStore(t *testing.T, srv *s3test.Server) *s3store.Store {
	t.Helper()
	s, err := s3store.New(context.Background(), s3store.Options{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Region: srv.Region, PathStyle: true,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, CAPEM: srv.CAPEM,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// xferTestGet downloads an object to path, straight from the store.
func xferTestGet(t *testing.T, srv *s3test.Server, key, path string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := xferTestStore(t, srv).Get(ctx, key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.ReadFrom(rc)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sendEnv is the environment of an xfer process sending to endpoint.
func sendEnv(dir, endpoint string, srv *s3test.Server) []string {
	return []string{
		"XDG_CONFIG_HOME=" + dir, "XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"XFER_ENDPOINT=" + endpoint, "XFER_BUCKET=" + srv.Bucket, "XFER_PREFIX=" + filepath.Base(dir) + "/",
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey, "AWS_REGION=" + srv.Region,
		"XFER_ZIP_PASSWORD=Corr3ct-Horse-Battery",
	}
}

// inProcessEnv is the Getenv of a run in this process with env, as
// sendEnv gives it. The AWS_ variables go into the process's environment
// too, for the rest of the test: the SDK reads credentials from there.
func inProcessEnv(t *testing.T, env []string) func(string) string {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	return func(k string) string { return vars[k] }
}

// TestSendInterruptedBySignal: SIGINT ends the send with exit 130 and the
// state kept, and the same command then completes the upload.
func TestSendInterruptedBySignal(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	// The signal goes once the server has a part: the upload is held
	// there, so it is part way whatever the machine's speed.
	g := startGate(t, srv, &gate{trip: isPartUpload})
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "a.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	// Two parts of 5 MiB sealed: the gate trips at the first, so the send
	// is part way when the signal comes, whatever the machine's speed.
	if _, err := addrgen.Write(f, 24<<20, 9); err != nil {
		t.Fatal(err)
	}
	f.Close()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	env := sendEnv(dir, g.URL, srv)
	args := []string{"send", csvPath, "-r", id.Recipient().String(), "--part-size", "5MiB", "--no-progress"}
	interruptKeepingState(t, env, args, g, filepath.Join(dir, "cache", "xfer", "spool", "*.journal"), nil)
	if out, err := xferCmd(env, args...).CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	spools, _ := filepath.Glob(filepath.Join(dir, "cache", "xfer", "spool", "*"))
	if len(spools) != 0 {
		t.Errorf("spool left after success: %v", spools)
	}
}

// runForEvent runs xfer with args to success and decodes the last NDJSON
// event named event (stdout and stderr together) into v; it returns the
// output for messages.
func runForEvent(t *testing.T, env, args []string, event string, v any) string {
	t.Helper()
	c := xferCmd(env, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	decodeLastEvent(out.String(), event, v)
	return out.String()
}

// interruptKeepingState runs xfer with args, sends it SIGINT once g has
// tripped (the transfer is part way and held there) and ready, when not
// nil, reports what the test needs (the hold keeps the transfer from
// finishing meanwhile), and checks that it ends with exit 130, hints at
// re-running, and leaves exactly one journal matching pattern for the
// re-run. Then it opens g.
func interruptKeepingState(t *testing.T, env, args []string, g *gate, pattern string, ready func() bool) {
	t.Helper()
	first := xferCmd(env, args...)
	var errOut bytes.Buffer
	first.Stderr = &errOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	var err error
	select {
	case <-g.Tripped:
	case err = <-exited:
		t.Fatalf("ended before the gate tripped: %v\n%s", err, errOut.String())
	}
	for deadline := time.After(2 * time.Minute); ready != nil && !ready(); {
		select {
		case err = <-exited:
			t.Fatalf("ended while held at the gate: %v\n%s", err, errOut.String())
		case <-deadline:
			first.Process.Kill()
			t.Fatalf("not ready after two minutes at the gate\n%s", errOut.String())
		case <-time.After(20 * time.Millisecond): // polling a file the held transfer is about to write
		}
	}
	first.Process.Signal(os.Interrupt)
	err = <-exited
	g.Open()
	if code := exitCodeOf(err); code != 130 {
		t.Fatalf("exit %d after SIGINT, want 130\n%s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "run the same command again") {
		t.Errorf("no hint to re-run:\n%s", errOut.String())
	}
	if journals, _ := filepath.Glob(pattern); len(journals) != 1 {
		t.Fatalf("journal not kept after SIGINT: %v", journals)
	}
}

// TestSendServerOutage: the server vanishes mid-upload, the moment it has
// stored a part (an event, however fast the machine), and stays gone: the
// send ends with exit 5, and the re-run completes. (A server gone briefly,
// which the send rides out, is a row of TestFaultMatrix.)
func TestSendServerOutage(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	// The server goes the moment it has stored a part: every connection
	// is cut and every new request dropped until the gate opens.
	g := startGate(t, srv, &gate{trip: isPartUpload, down: true})
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "a.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	// Two parts of 5 MiB sealed: the outage begins at the first.
	if _, err := addrgen.Write(f, 24<<20, 11); err != nil {
		t.Fatal(err)
	}
	f.Close()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	env := sendEnv(dir, g.URL, srv)
	args := []string{"send", csvPath, "-r", id.Recipient().String(), "--part-size", "5MiB", "--no-progress"}

	cmd := xferCmd(env, args...)
	var out bytes.Buffer
	cmd.Stderr = &out
	if err := cmd.Run(); exitCodeOf(err) != 5 {
		t.Fatalf("exit %d, want 5\n%s", exitCodeOf(err), out.String())
	}
	select {
	case <-g.Tripped:
	default:
		t.Fatalf("the send ended without the outage:\n%s", out.String())
	}
	g.Open()
	if out, err := xferCmd(env, args...).CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
}

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
