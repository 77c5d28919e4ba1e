package cmd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
)

// TestListCache: against MinIO through a proxy that counts the requests,
// a second list of unchanged files sends no HEAD and reads no receipt and
// prints the same; a file re-uploaded with the same bytes and other
// metadata, or a rewritten receipt, is asked for again and shown as it is
// now; --fresh asks for everything.
func TestListCache(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	var mu sync.Mutex
	requests := map[string]int{}
	endpoint := rewritingProxy(t, srv, func(r *http.Response) error {
		mu.Lock()
		defer mu.Unlock()
		requests[r.Request.Method]++
		return nil
	})
	counted := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		n := requests
		requests = map[string]int{}
		return n
	}
	dir := t.TempDir()
	env := sendEnv(dir, endpoint, srv)
	prefix := filepath.Base(dir) + "/"
	s3 := storeOn(t, srv, srv.Bucket)
	put := func(key string, body []byte, meta map[string]string) {
		t.Helper()
		if _, err := s3.Put(t.Context(), key, bytes.NewReader(body), int64(len(body)), transfer.PutOptions{
			CreateOptions: transfer.CreateOptions{Metadata: meta}, Overwrite: true}); err != nil {
			t.Fatal(err)
		}
	}
	sent := func(sender string) map[string]string {
		return map[string]string{"xfer-cipher": "age", "xfer-sender": sender, "xfer-expires": "2099-01-01T00:00:00Z"}
	}
	for _, name := range []string{"a", "b", "c"} {
		put(prefix+name+".csv.zip.age", []byte("sealed "+name), sent("client-"+name))
	}
	putReceipt := func(by string) {
		b, _ := json.Marshal(exchange.Receipt{Name: "a.csv.zip.age", By: by, DownloadedAt: time.Now().UTC(), Tool: "test"})
		put(exchange.ReceiptKey(prefix+"a.csv.zip.age"), b, nil)
	}
	putReceipt("house-1")

	// list returns the object events by name, and the requests it sent.
	list := func(args ...string) (map[string]map[string]any, map[string]int) {
		t.Helper()
		counted()
		c := xferCmd(env, append([]string{"list", "--json"}, args...)...)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil || stderr.Len() != 0 {
			t.Fatalf("list: %v\n%s%s", err, out, stderr.String())
		}
		objs := map[string]map[string]any{}
		for _, line := range strings.Split(string(out), "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "object" {
				objs[ev["name"].(string)] = ev
			}
		}
		return objs, counted()
	}

	cold, n := list()
	if len(cold) != 3 || cold["b.csv.zip.age"]["sender"] != "client-b" || cold["a.csv.zip.age"]["pulled_by"] != "house-1" {
		t.Fatalf("first list: %v", cold)
	}
	if n["HEAD"] != 3 || n["GET"] != 2 { // the listing and the receipt
		t.Errorf("first list sent %v, want 3 HEAD and 2 GET", n)
	}
	caches, _ := filepath.Glob(filepath.Join(dir, "cache", "xfer", "list", "*.gob"))
	if len(caches) != 1 {
		t.Fatalf("list caches: %v", caches)
	}
	if fi, err := os.Stat(caches[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("list cache: %v, mode %v", err, fi.Mode())
	}

	warm, n := list()
	if n["HEAD"] != 0 || n["GET"] != 1 {
		t.Errorf("second list sent %v, want the listing alone", n)
	}
	if a, b := jsonOf(t, warm), jsonOf(t, cold); a != b {
		t.Errorf("second list shows\n%s\nfirst\n%s", a, b)
	}

	// Same bytes, so the same ETag and size: only the time tells.
	listed := func() transfer.ObjectInfo {
		var o transfer.ObjectInfo
		s3.List(t.Context(), prefix+"b.", func(oi transfer.ObjectInfo) error { o = oi; return nil })
		return o
	}
	before := listed()
	// Uploaded again until the server's clock has moved on (the listing
	// shows milliseconds): once, as a rule.
	for i := 0; ; i++ {
		put(prefix+"b.csv.zip.age", []byte("sealed b"), sent("client-b2"))
		if now := listed(); now.ETag != before.ETag || now.Size != before.Size {
			t.Fatalf("re-upload listed as %+v, before %+v: the test needs the same ETag", now, before)
		} else if now.LastModified.After(before.LastModified) {
			break
		} else if i == 100 {
			t.Fatalf("re-upload listed as %+v, before %+v: the server's time stands still", now, before)
		}
	}
	putReceipt("house-2")
	after, n := list()
	if s := after["b.csv.zip.age"]["sender"]; s != "client-b2" {
		t.Errorf("re-uploaded file's sender %v, want client-b2", s)
	}
	if by := after["a.csv.zip.age"]["pulled_by"]; by != "house-2" {
		t.Errorf("pulled by %v after a new receipt, want house-2", by)
	}
	if n["HEAD"] != 1 || n["GET"] != 2 {
		t.Errorf("list after one change sent %v, want 1 HEAD and 2 GET", n)
	}

	if _, n = list("--fresh"); n["HEAD"] != 3 || n["GET"] != 2 {
		t.Errorf("list --fresh sent %v, want 3 HEAD and 2 GET", n)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
