package cmd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// servers are the real S3 servers the receiving side is tested against.
var servers = map[string]func(testing.TB) *s3test.Server{
	"minio":     func(t testing.TB) *s3test.Server { return s3test.StartMinIO(t, s3test.MinIOOptions{}) },
	"versitygw": s3test.StartVersityGW,
}

// startCappedProxy puts a toxiproxy in front of srv that caps the
// bandwidth of each connection in one direction ("upstream": to the
// server, "downstream": from it) at rateKiB KiB/s.
func startCappedProxy(t *testing.T, srv *s3test.Server, stream string, rateKiB int) string {
	t.Helper()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := toxiproxyTo(t, u.Host)
	toxic := `{"type":"bandwidth","stream":"` + stream + `","attributes":{"rate":` + itoa(rateKiB) + `}}`
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + p.Listen
}

// uploadRandom stores n random bytes at key the way send does (parts of
// 5 MiB with SHA-256 checksums) and returns them.
func uploadRandom(t *testing.T, s transfer.Store, key string, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	sp, err := transfer.CreateSpool(filepath.Join(t.TempDir(), "up.spool"), "fp")
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Release()
	sp.Write(data)
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Upload(t.Context(), s, sp, transfer.UploadOptions{Key: key, PartSize: 5 << 20, Overwrite: true}); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	return data
}

// TestFetchResumesAfterKill kills `xfer fetch` with SIGKILL half way
// through a download over a capped link, runs it again, and checks that
// the second run downloads less than 60% of the object, and that the
// result is the object.
func TestFetchResumesAfterKill(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	prefix := filepath.Base(dir) + "/"
	const size = 64 << 20
	data := uploadRandom(t, xferTestStore(t, srv), prefix+"big.csv.zip.age", size)
	// 1 MiB/s a connection, four connections: about 16 s for the object.
	endpoint := startCappedProxy(t, srv, "downstream", 1<<10)
	env := sendEnv(dir, endpoint, srv)
	out := filepath.Join(dir, "big.age")
	args := []string{"fetch", "--json", "big.csv.zip.age", "-o", out, "--concurrency", "4"}

	first := xferCmd(env, args...)
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	killedAt := int64(-1)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var ev struct {
			Event        string
			Bytes, Total int64
		}
		json.Unmarshal(sc.Bytes(), &ev)
		if ev.Event == "progress" && ev.Total > 0 && ev.Bytes >= ev.Total/2 {
			first.Process.Kill()
			killedAt = ev.Bytes
			break
		}
	}
	first.Wait()
	if killedAt < 0 {
		t.Fatal("the first run ended before it was half way")
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a killed fetch left its output")
	}

	var fetched struct {
		Bytes        int64
		ResumedBytes int64 `json:"resumed_bytes"`
		Verified     bool
	}
	out2 := runForEvent(t, env, args, "fetched", &fetched)
	if fetched.Bytes != size || !fetched.Verified {
		t.Fatalf("no verified fetched event for %d bytes:\n%s", size, out2)
	}
	downloaded := fetched.Bytes - fetched.ResumedBytes
	t.Logf("object %d bytes; killed at %d; second run downloaded %d (%.0f%%)",
		size, killedAt, downloaded, float64(downloaded)*100/float64(size))
	if downloaded >= size*6/10 {
		t.Errorf("second run downloaded %d bytes, want < 60%% of %d", downloaded, size)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the fetched file differs from the object")
	}
	if spools, _ := filepath.Glob(filepath.Join(dir, "cache", "xfer", "spool", "*")); len(spools) != 0 {
		t.Errorf("spool left after success: %v", spools)
	}
}

// corruptingProxy forwards to srv and inverts one byte of every ranged
// GET's body: damage on the way or in storage that the server does not
// notice. Requests keep their Host, so their signatures stay valid.
func corruptingProxy(t *testing.T, srv *s3test.Server) string {
	return rewritingProxy(t, srv, func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && resp.Request.Header.Get("Range") != "" && resp.StatusCode == http.StatusPartialContent {
			resp.Body = &flipFirst{rc: resp.Body}
		}
		return nil
	})
}

// rewritingProxy starts a reverse proxy to srv on loopback that passes
// every answer through modify, and returns its URL.
func rewritingProxy(t *testing.T, srv *s3test.Server, modify func(*http.Response) error) string {
	t.Helper()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = modify
	ts := http.Server{Handler: rp}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.Serve(l)
	t.Cleanup(func() { ts.Close() })
	return "http://" + l.Addr().String()
}

type flipFirst struct {
	rc   io.ReadCloser
	done bool
}

func (f *flipFirst) Read(p []byte) (int, error) {
	n, err := f.rc.Read(p)
	if n > 0 && !f.done {
		p[0] ^= 0xff
		f.done = true
	}
	return n, err
}

func (f *flipFirst) Close() error { return f.rc.Close() }

// TestReceiveIntegrity: a stored object altered after upload (a Put of
// modified bytes, so the server's checksum matches them) fails to open,
// and bytes damaged between server and client fail the checksum; either
// way exit code 4 and no output file.
func TestReceiveIntegrity(t *testing.T) {
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			dir := t.TempDir()
			env := sendEnv(dir, srv.Endpoint, srv)
			prefix := filepath.Base(dir) + "/"
			csvPath := filepath.Join(dir, "a.csv")
			f, _ := os.Create(csvPath)
			addrgen.Write(f, 1<<20, 3)
			f.Close()
			idPath := filepath.Join(dir, "k.txt")
			rcpt, err := xferCmd(env, "keygen", "-o", idPath).Output()
			if err != nil {
				t.Fatal(err)
			}
			if out, err := xferCmd(env, "send", csvPath, "-r", strings.TrimSpace(string(rcpt))).CombinedOutput(); err != nil {
				t.Fatalf("send: %v\n%s", err, out)
			}
			store := xferTestStore(t, srv)
			key := prefix + "a.csv.zip.age"

			// In storage: flip a byte in the middle and put it back.
			sealed := filepath.Join(dir, "sealed")
			n := xferTestGet(t, srv, key, sealed)
			b, _ := os.ReadFile(sealed)
			b[n/2] ^= 0x01
			if _, err := store.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), transfer.PutOptions{Overwrite: true}); err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(dir, "in")
			pull := xferCmd(env, "pull", "a.csv.zip.age", "-i", idPath, "-d", in)
			out, err := pull.CombinedOutput()
			if code := exitCodeOf(err); code != 4 {
				t.Fatalf("pull of an altered object: exit %d, want 4\n%s", code, out)
			}
			if ents, _ := os.ReadDir(in); len(ents) != 0 {
				t.Errorf("pull of an altered object left %v", ents)
			}
			if spools, _ := filepath.Glob(filepath.Join(dir, "cache", "xfer", "spool", "*")); len(spools) != 0 {
				t.Errorf("damaged download kept: %v", spools)
			}

			// On the way: the bytes fail the checksum the server recorded.
			b[n/2] ^= 0x01
			if _, err := store.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), transfer.PutOptions{Overwrite: true}); err != nil {
				t.Fatal(err)
			}
			bad := sendEnv(dir, corruptingProxy(t, srv), srv)
			outFile := filepath.Join(dir, "a.age")
			out, err = xferCmd(bad, "fetch", "a.csv.zip.age", "-o", outFile).CombinedOutput()
			if code := exitCodeOf(err); code != 4 {
				t.Fatalf("fetch through a corrupting link: exit %d, want 4\n%s", code, out)
			}
			if !strings.Contains(string(out), "checksum mismatch") {
				t.Errorf("no checksum mismatch reported:\n%s", out)
			}
			if _, err := os.Stat(outFile); err == nil {
				t.Error("fetch through a corrupting link left its output")
			}
			out, err = xferCmd(bad, "pull", "a.csv.zip.age", "-i", idPath, "-d", in).CombinedOutput()
			if code := exitCodeOf(err); code != 4 {
				t.Fatalf("pull through a corrupting link: exit %d, want 4\n%s", code, out)
			}
			// The same file, undamaged, pulls fine.
			if out, err := xferCmd(env, "pull", "a.csv.zip.age", "-i", idPath, "-d", in).CombinedOutput(); err != nil {
				t.Fatalf("pull: %v\n%s", err, out)
			}
			want, _ := os.ReadFile(csvPath)
			if got, _ := os.ReadFile(filepath.Join(in, "a.csv")); !bytes.Equal(got, want) {
				t.Error("pulled CSV differs from the original")
			}
		})
	}
}

// TestShredEverything: on a versioned bucket, shred removes old versions,
// delete markers and unfinished uploads of the name, and the local spool of
// an interrupted fetch, and nothing of other names.
func TestShredEverything(t *testing.T) {
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			dir := t.TempDir()
			prefix := filepath.Base(dir) + "/"
			env := append(sendEnv(dir, srv.Endpoint, srv), "XFER_BUCKET="+srv.VersionedBucket)
			ctx := t.Context()
			vstore := storeOn(t, srv, srv.VersionedBucket)
			key, other := prefix+"a.csv.zip.age", prefix+"a.csv.zip.age.keep"
			for _, k := range []string{key, key, other} {
				if _, err := vstore.Put(ctx, k, strings.NewReader("sealed"), 6, transfer.PutOptions{Overwrite: true}); err != nil {
					t.Fatal(err)
				}
			}
			if err := vstore.DeleteVersions(ctx, []transfer.ObjectVersion{{Key: key}})[0]; err != nil { // a delete marker
				t.Fatal(err)
			}
			if _, err := vstore.Put(ctx, key, strings.NewReader("sealed"), 6, transfer.PutOptions{Overwrite: true}); err != nil {
				t.Fatal(err)
			}
			id, err := vstore.CreateUpload(ctx, key, transfer.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			part := []byte("part")
			if _, err := vstore.UploadPart(ctx, key, id, 1, bytes.NewReader(part), 4, checksumOf(part)); err != nil {
				t.Fatal(err)
			}
			// An interrupted fetch leaves a spool and journal.
			spoolDir := filepath.Join(dir, "cache", "xfer", "spool")
			os.MkdirAll(spoolDir, 0o700)
			x := &exchange.Exchange{Store: vstore, Prefix: prefix, Ident: srv.Endpoint + "|" + srv.VersionedBucket, SpoolDir: spoolDir}
			fetchSpool := x.DownloadPath(key)
			os.WriteFile(fetchSpool, []byte("partial"), 0o600)
			os.WriteFile(fetchSpool+".journal", []byte("{}"), 0o600)

			// list --incomplete finds the upload under the prefix, on MinIO
			// too (whose listing by prefix matches whole names only).
			out, err := xferCmd(env, "list", "--incomplete").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "a.csv.zip.age\t") || !strings.Contains(string(out), id) {
				t.Errorf("list --incomplete: %v\n%s", err, out)
			}
			out, err = xferCmd(env, "list", "--all-versions", "--json").CombinedOutput()
			if err != nil || strings.Count(string(out), `"event":"object_version"`) != 5 || strings.Count(string(out), `"delete_marker":true`) != 1 {
				t.Errorf("list --all-versions: %v\n%s", err, out)
			}

			out, err = xferCmd(env, "shred", "--yes", "--json", "a.csv.zip.age").CombinedOutput()
			if err != nil {
				t.Fatalf("shred: %v\n%s", err, out)
			}
			t.Logf("%s", out)
			var done struct {
				Versions, DeleteMarkers, Uploads, LocalFiles int
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, `"event":"shredded"`) {
					var m map[string]int
					json.Unmarshal([]byte(line), &m)
					done.Versions, done.DeleteMarkers, done.Uploads, done.LocalFiles = m["versions"], m["delete_markers"], m["uploads"], m["local_files"]
				}
			}
			if done.Versions != 3 || done.DeleteMarkers != 1 || done.Uploads != 1 || done.LocalFiles != 2 {
				t.Errorf("shredded %+v, want 3 versions, 1 delete marker, 1 upload, 2 local files", done)
			}
			var left []string
			vstore.ListVersions(ctx, prefix, func(v transfer.Version) error {
				left = append(left, v.Key)
				return nil
			})
			if len(left) != 1 || left[0] != other {
				t.Errorf("versions left: %v, want only %s", left, other)
			}
			vstore.ListUploads(ctx, key, func(u transfer.UploadInfo) error {
				t.Errorf("unfinished upload %s left", u.UploadID)
				return nil
			})
			if _, err := os.Stat(fetchSpool); err == nil {
				t.Error("the fetch spool is still there")
			}
		})
	}
}

func storeOn(t *testing.T, srv *s3test.Server, bucket string) transfer.Store {
	t.Helper()
	s, err := s3store.New(t.Context(), s3store.Options{
		Endpoint: srv.Endpoint, Bucket: bucket, Region: srv.Region, PathStyle: true,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, CAPEM: srv.CAPEM,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checksumOf(b []byte) string {
	d := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(d[:])
}

// TestShredObjectLock: a version under Object Lock retention cannot be
// deleted; shred says so plainly and ends with exit code 3. MinIO only:
// the harness's versitygw runs without a lock backend.
func TestShredObjectLock(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ctx := context.Background()
	const bucket = "xfer-locked"
	resp, err := srv.Do(ctx, http.MethodPut, "/"+bucket, "", nil, "X-Amz-Bucket-Object-Lock-Enabled", "true")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("creating a bucket with Object Lock: %s %s", resp.Status, msg)
	}
	cfg := []byte(`<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled>` +
		`<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>`)
	sum := md5.Sum(cfg)
	resp, err = srv.Do(ctx, http.MethodPut, "/"+bucket, "object-lock=", cfg, "Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setting default retention: %s %s", resp.Status, msg)
	}

	dir := t.TempDir()
	env := append(sendEnv(dir, srv.Endpoint, srv), "XFER_BUCKET="+bucket)
	csvPath := filepath.Join(dir, "a.csv")
	os.WriteFile(csvPath, []byte("name,postcode\nAnn,SW1A 1AA\n"), 0o600)
	rcpt, err := xferCmd(env, "keygen", "-o", filepath.Join(dir, "k.txt")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := xferCmd(env, "send", csvPath, "-r", strings.TrimSpace(string(rcpt))).CombinedOutput(); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	out, err := xferCmd(env, "shred", "--yes", "a.csv.zip.age").CombinedOutput()
	if code := exitCodeOf(err); code != 3 {
		t.Fatalf("shred of a locked version: exit %d, want 3\n%s", code, out)
	}
	for _, want := range []string{"1 version was not deleted", "Object Lock", "WORM"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("shred output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("%s", out)
	n := 0
	storeOn(t, srv, bucket).ListVersions(ctx, "", func(transfer.Version) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d versions in the locked bucket, want the locked one", n)
	}
}

// TestShredConfirms: on a terminal shred asks first; anything but yes
// leaves everything as it was. (The prompt is the command's alone: it runs
// on an in-memory store; TestShredEverything and the shred script shred
// through the binary on MinIO and versitygw.)
func TestShredConfirms(t *testing.T) {
	st := memstore.New(memstore.Options{Bucket: "exchange", Versioned: true})
	vars := memVars(t, t.TempDir())
	key := vars["XFER_PREFIX"] + "/a.csv.zip.age"
	if _, err := st.Put(t.Context(), key, strings.NewReader("sealed"), 6, transfer.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	run := func(answer string) (int, string, string) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(answer)
		w.Close()
		defer r.Close()
		var stdout, stderr bytes.Buffer
		code := Run(t.Context(), []string{"shred", "a.csv.zip.age"}, &Env{
			Stdin: r, Stdout: &stdout, Stderr: &stderr,
			Getenv:     func(k string) string { return vars[k] },
			IsTerminal: func(f *os.File) bool { return f == r }, // stdin plays the terminal
			OpenStore:  func(context.Context, s3store.Options) (transfer.Store, error) { return st, nil },
		})
		return code, stdout.String(), stderr.String()
	}
	code, stdout, stderr := run("n\n")
	if code != 1 || !strings.Contains(stderr, "Shred 1 name for good?") || !strings.Contains(stderr, "nothing was removed") || stdout != "" {
		t.Errorf("answered no: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := st.Head(t.Context(), key); err != nil {
		t.Fatalf("the object is gone after answering no: %v", err)
	}
	code, stdout, stderr = run("yes\n")
	if code != 0 || !strings.Contains(stdout, "shredded a.csv.zip.age: 1 version") {
		t.Errorf("answered yes: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := st.Head(t.Context(), key); !errors.Is(err, transfer.ErrNotFound) {
		t.Errorf("the object is still there after answering yes: %v", err)
	}
}

// TestFetchInterruptedBySignal: SIGINT ends a fetch with exit 130 and its
// state kept; the same command then completes it without starting over.
func TestFetchInterruptedBySignal(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	// Parts of 5 and 1 MiB; the download of the first is held after its
	// first MiB, and the signal goes once the journal records progress:
	// the fetch is part way, with something to resume, whatever the
	// machine's speed.
	data := uploadRandom(t, xferTestStore(t, srv), filepath.Base(dir)+"/a.csv.zip.age", 6<<20)
	g := startGate(t, srv, &gate{trip: isBigGet, holdAfter: 1 << 20})
	env := sendEnv(dir, g.URL, srv)
	out := filepath.Join(dir, "a.age")
	args := []string{"fetch", "a.csv.zip.age", "-o", out, "--no-progress", "--json"}
	journal := filepath.Join(dir, "cache", "xfer", "spool", "*.fetch.journal")
	progressed := func() bool {
		js, _ := filepath.Glob(journal)
		if len(js) != 1 {
			return false
		}
		var j struct {
			Done    [][2]int
			Partial map[string]int64
		}
		b, _ := os.ReadFile(js[0])
		return json.Unmarshal(b, &j) == nil && (len(j.Done) > 0 || len(j.Partial) > 0)
	}
	interruptKeepingState(t, env, args, g, journal, progressed)
	res, err := xferCmd(env, args...).Output()
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, res)
	}
	if !strings.Contains(string(res), `"event":"fetched"`) || strings.Contains(string(res), `"resumed_bytes":0,`) {
		t.Errorf("re-run did not resume:\n%s", res)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Error("the fetched file differs from the object")
	}
}

// TestShredMany: shred of many names removes every version and upload of
// each, reports each name as one shred does, and records one audit line
// per name in a log that verifies.
func TestShredMany(t *testing.T) {
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			dir := t.TempDir()
			prefix := filepath.Base(dir) + "/"
			auditLog := filepath.Join(dir, "audit.jsonl")
			env := append(sendEnv(dir, srv.Endpoint, srv), "XFER_BUCKET="+srv.VersionedBucket, "XFER_AUDIT_LOG="+auditLog)
			ctx := t.Context()
			vstore := storeOn(t, srv, srv.VersionedBucket)
			const n = 30
			var names []string
			for i := range n {
				names = append(names, fmt.Sprintf("f%02d.csv.zip.age", i))
			}
			other := prefix + "f00.csv.zip.age.keep"
			for _, k := range append([]string{other}, names...) {
				if !strings.HasPrefix(k, prefix) {
					k = prefix + k
				}
				for range 2 {
					if _, err := vstore.Put(ctx, k, strings.NewReader("sealed"), 6, transfer.PutOptions{Overwrite: true}); err != nil {
						t.Fatal(err)
					}
				}
			}
			upKey := prefix + names[7]
			id, err := vstore.CreateUpload(ctx, upKey, transfer.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}

			out, err := xferCmd(env, append([]string{"shred", "--yes", "--json"}, names...)...).Output()
			if err != nil {
				t.Fatalf("shred: %v\n%s", err, out)
			}
			removed := map[string]int{}
			var shredded []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var ev struct {
					Event, Name, Kind string
					Versions, Uploads int
					DeleteMarkers     int `json:"delete_markers"`
					Complete          bool
				}
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("not NDJSON: %q", line)
				}
				switch ev.Event {
				case "removed":
					removed[ev.Name+" "+ev.Kind]++
				case "shredded":
					shredded = append(shredded, ev.Name)
					wantUploads := 0
					if ev.Name == names[7] {
						wantUploads = 1
					}
					if ev.Versions != 2 || ev.DeleteMarkers != 0 || ev.Uploads != wantUploads || !ev.Complete {
						t.Errorf("shredded event %s", line)
					}
				}
			}
			if strings.Join(shredded, " ") != strings.Join(names, " ") {
				t.Errorf("shredded events for %v, want one per name in argument order", shredded)
			}
			for _, nm := range names {
				if removed[nm+" version"] != 2 {
					t.Errorf("%s: %d removed version events, want 2", nm, removed[nm+" version"])
				}
			}
			if removed[names[7]+" upload"] != 1 {
				t.Errorf("no removed upload event for %s", names[7])
			}
			var left []string
			vstore.ListVersions(ctx, prefix, func(v transfer.Version) error {
				left = append(left, v.Key)
				return nil
			})
			if len(left) != 2 || left[0] != other || left[1] != other {
				t.Errorf("versions left: %v, want only the two of %s", left, other)
			}
			vstore.ListUploads(ctx, upKey, func(u transfer.UploadInfo) error {
				t.Errorf("unfinished upload %s left (%s aborted)", u.UploadID, id)
				return nil
			})

			b, err := os.ReadFile(auditLog)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(string(b), `"action":"shred"`); got != n {
				t.Errorf("%d shred lines in the audit log, want %d", got, n)
			}
			if !strings.Contains(string(b), `"key":"`+names[7]+`","outcome":"ok","exit_code":0,"details":{"delete_markers":0,"local_files":0,"uploads":1,"versions":2}`) {
				t.Errorf("audit log lacks the counts of %s:\n%s", names[7], b)
			}
			if out, err := xferCmd(env, "audit", "verify").CombinedOutput(); err != nil {
				t.Errorf("audit verify: %v\n%s", err, out)
			}
		})
	}
}
