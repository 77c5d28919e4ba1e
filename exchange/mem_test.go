package exchange

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// These tests run the protocol on transfer/memstore: no server, no
// process, fault injection where a rule depends on a failure. The
// end-to-end tests in cmd run the same commands through MinIO and
// versitygw.

const zipPassword = "Correct-Horse-9"

// side is one end of an exchange on a shared store: its own spool, state
// and cache directories.
func side(t *testing.T, st *memstore.Store, who string) *Exchange {
	t.Helper()
	dir := t.TempDir()
	x := &Exchange{Store: st, Prefix: "p/", Ident: Ident("http://127.0.0.1:9000", st.Bucket()), Sender: who, Tool: "xfer test",
		SpoolDir: filepath.Join(dir, "spool"), StateDir: dir, CacheDir: filepath.Join(dir, "list")}
	if err := os.MkdirAll(x.SpoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return x
}

type keys struct {
	send SendOptions
	pull PullOptions
}

func newKeys(t *testing.T) keys {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return keys{
		send: SendOptions{Outer: crypt.EncryptOptions{Cipher: crypt.CipherAge, Recipients: []age.Recipient{id.Recipient()}}, ZipPassword: []byte(zipPassword),
			Level: 1, Expires: 30 * 24 * time.Hour},
		pull: PullOptions{Identities: crypt.Identities{Age: []age.Identity{id}}, ZipPassword: []byte(zipPassword)},
	}
}

// csvFile writes a small CSV of rows rows and returns its path.
// The file is in the canonical form (UTF-8, comma, CRLF), so what a pull
// writes equals it byte for byte.
func csvFile(t *testing.T, dir, name string, rows int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name,street,postcode\r\n")
	for i := range rows {
		fmt.Fprintf(&b, "Person %d,%d High Street,AB%d 1CD\r\n", i, i, i%100)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func send(t *testing.T, x *Exchange, path string, o SendOptions) (*SendResult, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if o.Name == "" {
		o.Name = filepath.Base(path)
	}
	return x.Send(t.Context(), Source{Path: path, Size: fi.Size(), ModTime: fi.ModTime(), R: f}, o, nil)
}

func mustSend(t *testing.T, x *Exchange, path string, o SendOptions) *SendResult {
	t.Helper()
	res, err := send(t, x, path, o)
	if err != nil {
		t.Fatalf("send %s: %v", path, err)
	}
	return res
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a.csv.zip.age", "sub/a.csv.zip.age", "a..b"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/a", "a/../b", "./a", "..", ".xfer/receipts/a.json", "sub/.xfer/x", "a\x00b"} {
		if err := CheckName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want ErrBadName", bad, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`} {
		if err := checkSendName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("checkSendName(%q) = %v, want ErrBadName", bad, err)
		}
	}
}

func TestReceiptKeys(t *testing.T) {
	for key, want := range map[string]string{
		"a.csv.zip.age":          ".xfer/receipts/a.csv.zip.age.json",
		"p/a.csv.zip.age":        "p/.xfer/receipts/a.csv.zip.age.json",
		"p/client/b.csv.zip.aes": "p/client/.xfer/receipts/b.csv.zip.aes.json",
	} {
		got := ReceiptKey(key)
		if got != want || !IsReceiptKey(got) {
			t.Errorf("ReceiptKey(%q) = %q (IsReceiptKey %v), want %q", key, got, IsReceiptKey(got), want)
		}
	}
	for _, k := range []string{"p/a.json", "p/xfer/receipts/a.json", "p/.xfer/receipts/a.txt", "p/x.xfer/receipts/a.json"} {
		if IsReceiptKey(k) {
			t.Errorf("IsReceiptKey(%q) = true", k)
		}
	}
}

// TestSendAlreadySent: a send whose object is there already succeeds
// only when that object was sealed from this very file (a run killed
// between completing the upload and saying so); another file under the
// name is refused unless Overwrite.
func TestSendAlreadySent(t *testing.T) {
	st := memstore.New(memstore.Options{})
	x := side(t, st, "client@test")
	k := newKeys(t)
	path := csvFile(t, t.TempDir(), "a.csv", 50)
	first := mustSend(t, x, path, k.send)
	if first.Already || first.Seal == nil || first.Seal.Rows != 50 || first.Name != "a.csv.zip.age" || first.Key != "p/a.csv.zip.age" {
		t.Fatalf("first send: %+v", first)
	}
	info, err := st.Head(t.Context(), first.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{MetaFormat, MetaCipher, MetaSender, MetaCreated, MetaExpires, MetaSource} {
		if info.Metadata[m] == "" {
			t.Errorf("metadata %s missing: %v", m, info.Metadata)
		}
	}
	if info.Metadata[MetaSender] != "client@test" || info.Metadata[MetaCipher] != "age" {
		t.Errorf("metadata %v", info.Metadata)
	}
	if _, err := os.Stat(x.SpoolPath(first.Key)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spool left after a complete send: %v", err)
	}

	again := mustSend(t, x, path, k.send)
	if !again.Already || again.ETag != first.ETag || again.Size != first.Size {
		t.Errorf("same file again: %+v, want Already with ETag %s", again, first.ETag)
	}

	// The same name from a changed file (or other keys) is another file.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, x, path, k.send); !errors.Is(err, transfer.ErrPreconditionFailed) {
		t.Errorf("changed file: %v, want ErrPreconditionFailed", err)
	}
	other := newKeys(t)
	if _, err := send(t, x, path, other.send); !errors.Is(err, transfer.ErrPreconditionFailed) {
		t.Errorf("other recipient: %v, want ErrPreconditionFailed", err)
	}
	o := k.send
	o.Overwrite = true
	if res := mustSend(t, x, path, o); res.Already || res.ETag == first.ETag {
		t.Errorf("overwrite: %+v", res)
	}
	if up := st.UploadIDs(); len(up) != 0 {
		t.Errorf("unfinished uploads left: %v", up)
	}
	if _, err := send(t, x, path, SendOptions{Name: "../x", Outer: k.send.Outer, ZipPassword: k.send.ZipPassword}); !errors.Is(err, ErrBadName) {
		t.Errorf("bad name: %v", err)
	}
}

// TestSendResumeDecisions: an upload interrupted after sealing resumes
// from the spool without sealing again; Restart seals again; a changed
// source makes the spool stale.
func TestSendResumeDecisions(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	path := csvFile(t, dir, "b.csv", 200)
	interrupted := func(t *testing.T) (*memstore.Store, *Exchange) {
		st := memstore.New(memstore.Options{})
		x := side(t, st, "client@test")
		st.Inject(memstore.Fault{Method: memstore.CompleteUpload})
		_, err := send(t, x, path, k.send)
		if !errors.Is(err, transfer.ErrInterrupted) {
			t.Fatalf("send with a failing CompleteUpload: %v, want ErrInterrupted", err)
		}
		st.ClearFaults()
		return st, x
	}
	t.Run("resume", func(t *testing.T) {
		st, x := interrupted(t)
		res := mustSend(t, x, path, k.send)
		if res.Seal != nil || res.Resumed == 0 || res.Resumed != res.Size {
			t.Errorf("resumed send: Seal %v, Resumed %d of %d; want no sealing and every byte resumed", res.Seal, res.Resumed, res.Size)
		}
		if n := st.Calls(memstore.UploadPart); n != 1 {
			t.Errorf("%d UploadPart calls in all, want 1 (the part is not sent again)", n)
		}
	})
	t.Run("restart", func(t *testing.T) {
		st, x := interrupted(t)
		o := k.send
		o.Restart = true
		res := mustSend(t, x, path, o)
		if res.Seal == nil || res.Resumed != 0 {
			t.Errorf("restarted send: Seal %v, Resumed %d; want sealed anew", res.Seal, res.Resumed)
		}
		if up := st.UploadIDs(); len(up) != 0 {
			t.Errorf("the interrupted upload was left behind: %v", up)
		}
	})
	t.Run("changed source", func(t *testing.T) {
		st, x := interrupted(t)
		later := time.Now().Add(time.Hour)
		p2 := csvFile(t, t.TempDir(), "b.csv", 200)
		if err := os.Chtimes(p2, later, later); err != nil {
			t.Fatal(err)
		}
		res := mustSend(t, x, p2, k.send)
		if res.Seal == nil || res.Resumed != 0 {
			t.Errorf("send of a changed file: Seal %v, Resumed %d; want sealed anew", res.Seal, res.Resumed)
		}
		if up := st.UploadIDs(); len(up) != 0 {
			t.Errorf("the stale upload was left behind: %v", up)
		}
	})
}

// TestPullState: a pull records what it pulled; Pending then finds
// nothing new, and finds a file replaced by a new upload again.
func TestPullState(t *testing.T) {
	st := memstore.New(memstore.Options{Versioned: true})
	client, house := side(t, st, "client@test"), side(t, st, "house@test")
	k := newKeys(t)
	src := t.TempDir()
	mustSend(t, client, csvFile(t, src, "a.csv", 10), k.send)
	mustSend(t, client, csvFile(t, src, "b.csv", 20), k.send)
	put(t, st, "p/notes.txt", "not sealed", nil)

	l, err := house.Pending(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.New) != 2 || l.Already != 0 || l.Others != 1 {
		t.Fatalf("before any pull: %+v", l)
	}
	out := t.TempDir()
	o := k.pull
	o.Dir, o.All = out, true
	for _, p := range l.New {
		res, err := house.Pull(t.Context(), p.Name, o, nil)
		if err != nil || res.Skipped != nil {
			t.Fatalf("pull %s: %+v %v", p.Name, res, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "b.csv"))
	if err != nil || bytes.Count(b, []byte("\n")) != 21 {
		t.Fatalf("b.csv: %d lines, %v", bytes.Count(b, []byte("\n")), err)
	}
	if l, err = house.Pending(t.Context(), false); err != nil || len(l.New) != 0 || l.Already != 2 {
		t.Fatalf("after pulling both: %+v %v", l, err)
	}
	// Another side's state is its own.
	if l, err := side(t, st, "house2@test").Pending(t.Context(), false); err != nil || len(l.New) != 2 {
		t.Fatalf("another state directory: %+v %v", l, err)
	}
	// A pull of something already pulled, as --all would after another
	// run pulled it meanwhile, is skipped and writes nothing.
	res, err := house.Pull(t.Context(), "a.csv.zip.age", o, nil)
	if err != nil || !errors.Is(res.Skipped, ErrPulledMeanwhile) {
		t.Fatalf("pull of a pulled file: %+v %v", res, err)
	}
	// A new upload under the same name is new.
	o2 := k.send
	o2.Overwrite = true
	mustSend(t, client, csvFile(t, t.TempDir(), "a.csv", 11), o2)
	if l, err = house.Pending(t.Context(), false); err != nil || len(l.New) != 1 || l.New[0].Name != "a.csv.zip.age" {
		t.Fatalf("after a new upload of a: %+v %v", l, err)
	}
	// Its CSV exists, with other content: never overwritten.
	if _, err := house.Pull(t.Context(), "a.csv.zip.age", o, nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("pull over another a.csv: %v, want fs.ErrExist", err)
	}
}

// TestPullAlreadyWritten: a run killed after writing the CSV and before
// recording the pull leaves the CSV; the next pull finds it byte for byte
// and records the pull without writing.
func TestPullAlreadyWritten(t *testing.T) {
	st := memstore.New(memstore.Options{})
	client, house := side(t, st, "client@test"), side(t, st, "house@test")
	k := newKeys(t)
	mustSend(t, client, csvFile(t, t.TempDir(), "a.csv", 30), k.send)
	o := k.pull
	o.Dir = t.TempDir()
	if _, err := house.Pull(t.Context(), "a.csv.zip.age", o, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(house.StateDir, PulledStateFile)); err != nil {
		t.Fatal(err)
	}
	res, err := house.Pull(t.Context(), "a.csv.zip.age", o, nil)
	if err != nil || !res.Already || res.Rows != 30 {
		t.Fatalf("pull onto its own CSV: %+v %v, want Already with 30 rows", res, err)
	}
	if l, err := house.Pending(t.Context(), false); err != nil || l.Already != 1 {
		t.Fatalf("the pull was not recorded: %+v %v", l, err)
	}
}

// TestPullReceipt: a pull leaves a receipt beside the file, with who and
// which version, and List shows it.
func TestPullReceipt(t *testing.T) {
	st := memstore.New(memstore.Options{})
	client, house := side(t, st, "client@test"), side(t, st, "house@test")
	k := newKeys(t)
	sent := mustSend(t, client, csvFile(t, t.TempDir(), "a.csv", 5), k.send)
	o := k.pull
	o.Dir = t.TempDir()
	if _, err := house.Pull(t.Context(), "a.csv.zip.age", o, nil); err != nil {
		t.Fatal(err)
	}
	objs, err := client.List(t.Context(), ListOptions{Receipts: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Receipt == nil {
		t.Fatalf("list: %d objects, receipt %v", len(objs), objs)
	}
	r := objs[0].Receipt
	if r.By != "house@test" || r.ETag != sent.ETag || r.Name != "a.csv.zip.age" || r.Tool != "xfer test" {
		t.Errorf("receipt %+v", r)
	}
}

// TestShredAfterRaces: pull --shred-after shreds only the version pulled:
// a file replaced meanwhile stays (ErrReplaced), and so does an upload in
// progress; a shred that never happened is found by the next Pending.
func TestShredAfterRaces(t *testing.T) {
	st := memstore.New(memstore.Options{Versioned: true})
	client, house := side(t, st, "client@test"), side(t, st, "house@test")
	k := newKeys(t)
	mustSend(t, client, csvFile(t, t.TempDir(), "a.csv", 5), k.send)
	o := k.pull
	o.Dir, o.ShredAfter = t.TempDir(), true
	res, err := house.Pull(t.Context(), "a.csv.zip.age", o, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Killed before shredding: the next pull --all --shred-after finds it.
	l, err := house.Pending(t.Context(), true)
	if err != nil || len(l.Unshredded) != 1 || l.Unshredded[0].ETag != res.ETag {
		t.Fatalf("pending after a pull not shredded: %+v %v", l, err)
	}
	// Meanwhile an upload of the same name began: it is not the file pulled.
	if _, err := st.CreateUpload(t.Context(), "p/a.csv.zip.age", transfer.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plan, err := house.PlanShredPulled(t.Context(), "a.csv.zip.age", res.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Uploads) != 0 || len(plan.Versions) != 1 {
		t.Fatalf("plan %+v: want the one version and no upload", plan)
	}
	// And the sender replaced the file before the shred ran.
	o2 := k.send
	o2.Overwrite = true
	mustSend(t, client, csvFile(t, t.TempDir(), "a.csv", 6), o2)
	if _, err := house.PlanShredPulled(t.Context(), "a.csv.zip.age", res.ETag); !errors.Is(err, ErrReplaced) {
		t.Fatalf("shred after a replacement: %v, want ErrReplaced", err)
	}
	// Pulled again, the new version may go.
	if err := os.Remove(filepath.Join(o.Dir, "a.csv")); err != nil {
		t.Fatal(err)
	}
	res2, err := house.Pull(t.Context(), "a.csv.zip.age", o, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err = house.PlanShredPulled(t.Context(), "a.csv.zip.age", res2.ETag)
	if err != nil {
		t.Fatal(err)
	}
	outs := house.Shred(t.Context(), []*ShredPlan{plan})
	if err := errors.Join(append(append(outs[0].Deleted, outs[0].Local...), outs[0].LeftErr)...); err != nil || outs[0].Left != 0 {
		t.Fatalf("shred: %+v", outs[0])
	}
	if err := house.RecordShredded("a.csv.zip.age", res2.ETag); err != nil {
		t.Fatal(err)
	}
	if l, err := house.Pending(t.Context(), true); err != nil || len(l.Unshredded) != 0 || len(l.New) != 0 {
		t.Fatalf("pending after the shred: %+v %v", l, err)
	}
	if up := st.UploadIDs(); len(up) != 1 {
		t.Errorf("uploads %v: the one in progress must stay", up)
	}
}

func put(t *testing.T, st transfer.Store, key, body string, meta map[string]string) transfer.ObjectInfo {
	t.Helper()
	info, err := st.Put(t.Context(), key, strings.NewReader(body), int64(len(body)), transfer.PutOptions{
		CreateOptions: transfer.CreateOptions{Metadata: meta}, Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestSweep: expired files go, unexpired ones and files without an xfer
// expiry stay, and a file replaced since the listing is left for the next
// sweep.
func TestSweep(t *testing.T) {
	st := memstore.New(memstore.Options{Versioned: true})
	x := side(t, st, "house@test")
	// Two days on: every file is older than the minimum age.
	now := time.Now().Add(48 * time.Hour)
	exp := func(d time.Duration) map[string]string {
		return map[string]string{MetaExpires: now.Add(d).Format(time.RFC3339)}
	}
	put(t, st, "p/old.csv.zip.age", "1", exp(-time.Hour))
	put(t, st, "p/old2.csv.zip.age", "2", exp(-time.Minute))
	put(t, st, "p/new.csv.zip.age", "3", exp(time.Hour))
	put(t, st, "p/foreign.bin", "4", nil)
	put(t, st, "p/.xfer/receipts/old.csv.zip.age.json", "{}", nil)
	plan, err := x.PlanSweep(t.Context(), now, Retention{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Expired) != 2 || plan.Unexpired != 1 || plan.NoExpiry != 1 {
		t.Fatalf("sweep plan: %d expired, %d unexpired, %d without expiry", len(plan.Expired), plan.Unexpired, plan.NoExpiry)
	}
	// old2 is replaced after the listing: not this sweep's to shred.
	put(t, st, "p/old2.csv.zip.age", "2 again", exp(time.Hour))
	var shredded []string
	for _, l := range plan.Expired {
		p, err := x.PlanExpiredShred(t.Context(), l)
		if errors.Is(err, ErrReplaced) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		outs := x.Shred(t.Context(), []*ShredPlan{p})
		if err := errors.Join(outs[0].Deleted...); err != nil || outs[0].Left != 0 {
			t.Fatalf("shred %s: %+v", p.Name, outs[0])
		}
		shredded = append(shredded, p.Name)
	}
	if fmt.Sprint(shredded) != "[old.csv.zip.age]" {
		t.Errorf("shredded %v, want old.csv.zip.age only", shredded)
	}
	for key, want := range map[string]bool{"p/old.csv.zip.age": false, "p/old2.csv.zip.age": true, "p/new.csv.zip.age": true,
		"p/foreign.bin": true, "p/.xfer/receipts/old.csv.zip.age.json": true} {
		if _, ok := st.Object(key); ok != want {
			t.Errorf("%s there: %v, want %v", key, ok, want)
		}
	}
	var versions int
	if err := st.ListVersions(t.Context(), "p/old.csv.zip.age", func(transfer.Version) error { versions++; return nil }); err != nil || versions != 0 {
		t.Errorf("old.csv.zip.age: %d versions or markers left (%v)", versions, err)
	}
}

// TestListUsesTheCache: a second list of unchanged files asks no HEAD and
// reads no receipt; a rewritten file is asked for again; Fresh asks for
// everything.
func TestListUsesTheCache(t *testing.T) {
	st := memstore.New(memstore.Options{})
	x := side(t, st, "house@test")
	for _, n := range []string{"a", "b", "c"} {
		put(t, st, "p/"+n+".csv.zip.age", n, map[string]string{MetaSender: "client-" + n})
	}
	put(t, st, ReceiptKey("p/a.csv.zip.age"), `{"name":"a.csv.zip.age","by":"house"}`, nil)
	calls := func() (heads, gets int) { return st.Calls(memstore.Head), st.Calls(memstore.Get) }
	list := func(fresh bool) []*Listed {
		t.Helper()
		objs, err := x.List(t.Context(), ListOptions{Receipts: true, Fresh: fresh}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	h0, g0 := calls()
	list(false)
	h1, g1 := calls()
	if h1-h0 != 3 || g1-g0 != 1 {
		t.Fatalf("cold list: %d HEAD, %d GET; want 3 and 1", h1-h0, g1-g0)
	}
	objs := list(false)
	h2, g2 := calls()
	if h2 != h1 || g2 != g1 {
		t.Errorf("warm list: %d HEAD, %d GET; want none", h2-h1, g2-g1)
	}
	if len(objs) != 3 || objs[0].Info.Metadata[MetaSender] != "client-a" || objs[0].Receipt == nil || objs[0].Receipt.By != "house" {
		t.Errorf("warm list: %+v", objs[0])
	}
	put(t, st, "p/b.csv.zip.age", "b2", map[string]string{MetaSender: "client-b2"})
	objs = list(false)
	h3, _ := calls()
	if h3-h2 != 1 || objs[1].Info.Metadata[MetaSender] != "client-b2" {
		t.Errorf("after rewriting b: %d HEAD, sender %q; want 1 and client-b2", h3-h2, objs[1].Info.Metadata[MetaSender])
	}
	list(true)
	h4, g4 := calls()
	if h4-h3 != 3 || g4-g2 != 1 {
		t.Errorf("fresh list: %d HEAD, %d GET; want 3 and 1", h4-h3, g4-g2)
	}
	// Without a cache directory nothing is cached.
	y := *x
	y.CacheDir = ""
	if _, err := y.List(t.Context(), ListOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if h5, _ := calls(); h5-h4 != 3 {
		t.Errorf("list without a cache: %d HEAD, want 3", h5-h4)
	}
}

// TestFaults: failures of the store reach the caller with their category,
// and a shred carries on past the failure of one name's items.
func TestFaults(t *testing.T) {
	st := memstore.New(memstore.Options{Versioned: true})
	x := side(t, st, "house@test")
	for _, n := range []string{"a", "b"} {
		put(t, st, "p/"+n+".csv.zip.age", n, nil)
	}
	t.Run("list", func(t *testing.T) {
		st.Inject(memstore.Fault{Method: memstore.Head, Err: transfer.ErrAccessDenied})
		defer st.ClearFaults()
		if _, err := x.List(t.Context(), ListOptions{Fresh: true}, nil); !errors.Is(err, transfer.ErrAccessDenied) {
			t.Errorf("list with HEAD denied: %v", err)
		}
	})
	t.Run("shred", func(t *testing.T) {
		plans, err := x.PlanShreds(t.Context(), []string{"a.csv.zip.age", "b.csv.zip.age"})
		if err != nil {
			t.Fatal(err)
		}
		st.Inject(memstore.Fault{Method: memstore.DeleteVersions, Key: "p/a.csv.zip.age", Err: transfer.ErrAccessDenied})
		outs := x.Shred(t.Context(), plans)
		st.ClearFaults()
		if !errors.Is(outs[0].Deleted[0], transfer.ErrAccessDenied) || outs[0].Left != 1 {
			t.Errorf("a: %+v, want the version refused and left", outs[0])
		}
		if outs[1].Deleted[0] != nil || outs[1].Left != 0 {
			t.Errorf("b: %+v, want it gone", outs[1])
		}
	})
	t.Run("pull of damaged content", func(t *testing.T) {
		k := newKeys(t)
		mustSend(t, x, csvFile(t, t.TempDir(), "c.csv", 5), k.send)
		st.Inject(memstore.Fault{Method: memstore.Get, Corrupt: true})
		defer st.ClearFaults()
		o := k.pull
		o.Dir = t.TempDir()
		_, err := x.Pull(t.Context(), "c.csv.zip.age", o, nil)
		if !errors.Is(err, transfer.ErrChecksumMismatch) {
			t.Fatalf("pull of a corrupted download: %v, want ErrChecksumMismatch", err)
		}
		if ents, _ := os.ReadDir(o.Dir); len(ents) != 0 {
			t.Errorf("output directory holds %d files", len(ents))
		}
	})
	t.Run("pull interrupted", func(t *testing.T) {
		k := newKeys(t)
		mustSend(t, x, csvFile(t, t.TempDir(), "d.csv", 5), k.send)
		ctx, cancel := context.WithCancel(t.Context())
		st.Inject(memstore.Fault{Method: memstore.Get, Hook: cancel})
		defer st.ClearFaults()
		o := k.pull
		o.Dir = t.TempDir()
		if _, err := x.Pull(ctx, "d.csv.zip.age", o, nil); !errors.Is(err, transfer.ErrInterrupted) {
			t.Fatalf("pull cancelled mid-download: %v, want ErrInterrupted", err)
		}
		st.ClearFaults()
		if _, err := os.Stat(x.DownloadPath("p/d.csv.zip.age") + ".journal"); err != nil {
			t.Errorf("no journal kept for the re-run: %v", err)
		}
		res, err := x.Pull(t.Context(), "d.csv.zip.age", o, nil)
		if err != nil || res.Rows != 5 {
			t.Fatalf("re-run: %+v %v", res, err)
		}
	})
}

// stallingCSV yields a CSV of random fields (which do not compress), n
// bytes of it, then blocks until ctx ends: a source still being sealed
// whenever the test acts.
type stallingCSV struct {
	ctx  context.Context
	n    int
	body []byte
}

func (s *stallingCSV) Read(p []byte) (int, error) {
	if s.body == nil {
		var b bytes.Buffer
		b.WriteString("id,token\n")
		field := make([]byte, 48)
		for i := 0; b.Len() < s.n; i++ {
			rand.Read(field)
			fmt.Fprintf(&b, "%d,%s\n", i, base64.StdEncoding.EncodeToString(field))
		}
		s.body = b.Bytes()
	}
	if len(s.body) == 0 {
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	n := copy(p, s.body)
	s.body = s.body[n:]
	return n, nil
}

// TestSendCancelledWhileSealing: a send cancelled (Ctrl-C) while sealing,
// with its upload under way, keeps spool and journal, so the next run
// aborts that upload as stale instead of leaving it unfinished.
func TestSendCancelledWhileSealing(t *testing.T) {
	st := memstore.New(memstore.Options{})
	x := side(t, st, "client@test")
	k := newKeys(t)
	// The first part's upload cancels; the deadline only ends a test
	// that would otherwise hang.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	st.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 1, Hook: cancel})
	o := k.send
	o.Name = "a.csv"
	_, err := x.Send(ctx, Source{Path: "a.csv", Size: 16 << 20, ModTime: time.Unix(1e9, 0), R: &stallingCSV{ctx: ctx, n: 16 << 20}}, o, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("send cancelled while sealing: %v, want context.Canceled", err)
	}
	st.ClearFaults()
	if _, err := os.Stat(x.SpoolPath("p/a.csv.zip.age") + ".journal"); err != nil {
		t.Errorf("journal not kept: %v", err)
	}
	if up := st.UploadIDs(); len(up) != 1 {
		t.Fatalf("uploads %v, want the one started", up)
	}
	mustSend(t, x, csvFile(t, t.TempDir(), "a.csv", 3), k.send)
	if up := st.UploadIDs(); len(up) != 0 {
		t.Errorf("uploads left after the next run: %v", up)
	}
}
