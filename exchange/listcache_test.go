package exchange

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/transfer"
)

// cacheApp opens list caches in a fresh temporary directory and keeps
// the warnings they give.
type cacheApp struct {
	dir      string
	warnings *bytes.Buffer
}

func newCacheApp(t testing.TB) (*cacheApp, *bytes.Buffer) {
	t.Helper()
	var warnings bytes.Buffer
	return &cacheApp{dir: filepath.Join(t.TempDir(), "cache", "xfer", "list"), warnings: &warnings}, &warnings
}

func (a *cacheApp) openListCache(x *Exchange, fresh bool) *listCache {
	y := *x
	y.CacheDir = a.dir
	return y.openListCache(fresh, bufReporter{a.warnings})
}

// bufReporter writes warnings to a buffer as the CLI prints them.
type bufReporter struct{ w *bytes.Buffer }

func (r bufReporter) Transfer(string) Meter { return quietMeter{} }
func (r bufReporter) Step(string, ...any)   {}
func (r bufReporter) Warn(format string, args ...any) {
	fmt.Fprintf(r.w, "xfer: warning: "+format+"\n", args...)
}

var cacheX = &Exchange{Prefix: "p/", Ident: Ident("http://127.0.0.1:9000", "exchange")}

// listedAs is an object as a listing shows it (milliseconds) and as HEAD
// does (whole seconds, metadata).
func listedAs(key, etag string, size int64, mod time.Time) (listed, head transfer.ObjectInfo) {
	listed = transfer.ObjectInfo{Key: key, ETag: etag, Size: size, LastModified: mod}
	head = listed
	head.LastModified = mod.Truncate(time.Second)
	head.Metadata = map[string]string{"xfer-cipher": "age", "xfer-sender": "ops@" + key}
	head.Checksum = "c2hhMjU2"
	head.VersionID = "v1"
	return listed, head
}

func TestListCacheHitAndMiss(t *testing.T) {
	a, stderr := newCacheApp(t)
	mod := time.Date(2026, 3, 1, 10, 0, 0, 123e6, time.UTC)
	listed, head := listedAs("p/a.csv.zip.age", `"e1"`, 1000, mod)
	rlisted := transfer.ObjectInfo{Key: ReceiptKey(listed.Key), ETag: `"r1"`, Size: 120, LastModified: mod.Add(time.Hour)}
	r := &Receipt{Name: "a.csv.zip.age", ETag: `"e1"`, Size: 1000, DownloadedAt: mod.Add(time.Hour), By: "house"}

	c := a.openListCache(cacheX, false)
	if _, ok := c.head(listed); ok {
		t.Fatal("hit in an empty cache")
	}
	c.putHead(listed, head)
	c.putReceipt(rlisted, r)
	if err := c.save(cacheX.Prefix); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(c.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(c.path)); di.Mode().Perm() != 0o700 {
		t.Errorf("cache directory mode %v, want 0700", di.Mode().Perm())
	}

	c = a.openListCache(cacheX, false)
	got, ok := c.head(listed)
	if !ok {
		t.Fatal("miss for the object as recorded")
	}
	if got.Key != head.Key || got.ETag != head.ETag || got.Size != head.Size || !got.LastModified.Equal(head.LastModified) ||
		got.Checksum != head.Checksum || got.VersionID != head.VersionID || fmt.Sprint(got.Metadata) != fmt.Sprint(head.Metadata) {
		t.Errorf("cached head %+v, want %+v", got, head)
	}
	if gr, ok := c.receipt(rlisted); !ok || *gr != *r {
		t.Errorf("cached receipt %+v %v, want %+v", gr, ok, r)
	}
	changed := map[string]func(o *transfer.ObjectInfo){
		"etag":          func(o *transfer.ObjectInfo) { o.ETag = `"e2"` },
		"size":          func(o *transfer.ObjectInfo) { o.Size++ },
		"last modified": func(o *transfer.ObjectInfo) { o.LastModified = o.LastModified.Add(time.Millisecond) },
		"key":           func(o *transfer.ObjectInfo) { o.Key = "p/b.csv.zip.age" },
	}
	for what, change := range changed {
		o, ro := listed, rlisted
		change(&o)
		change(&ro)
		if _, ok := c.head(o); ok {
			t.Errorf("head: hit with another %s", what)
		}
		if _, ok := c.receipt(ro); ok {
			t.Errorf("receipt: hit with another %s", what)
		}
	}
	if fresh := a.openListCache(cacheX, true); fresh != nil {
		if _, ok := fresh.head(listed); ok {
			t.Error("fresh: hit")
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("warnings: %s", stderr)
	}
}

// TestListCacheKeepsOnlyWhatTheListingSaw: saving drops the entries under
// the listed prefix that this listing did not confirm, keeps those of
// other prefixes, and records no HEAD of an object rewritten since the
// listing.
func TestListCacheKeepsOnlyWhatTheListingSaw(t *testing.T) {
	a, _ := newCacheApp(t)
	mod := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var listed, heads []transfer.ObjectInfo
	for _, k := range []string{"p/a", "p/b", "p/sub/c", "q/d"} {
		l, h := listedAs(k, `"e"`, 10, mod)
		listed, heads = append(listed, l), append(heads, h)
	}
	c := a.openListCache(cacheX, false)
	for i := range listed {
		c.putHead(listed[i], heads[i])
	}
	if err := c.save(""); err != nil {
		t.Fatal(err)
	}

	// The second listing, of p/, sees a unchanged and b rewritten; HEAD
	// answers about a newer b still.
	c = a.openListCache(cacheX, false)
	if _, ok := c.head(listed[0]); !ok {
		t.Fatal("miss for p/a")
	}
	newer := heads[1]
	newer.ETag = `"e-newer"`
	c.putHead(listed[1], newer)
	if err := c.save("p/"); err != nil {
		t.Fatal(err)
	}
	c = a.openListCache(cacheX, false)
	for i, want := range []bool{true, false, false, true} {
		if _, ok := c.head(listed[i]); ok != want {
			t.Errorf("%s cached: %v, want %v", listed[i].Key, ok, want)
		}
	}
	if n := len(c.old.Objects); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
}

func TestListCacheBounded(t *testing.T) {
	defer func(n int) { maxListCacheEntries = n }(maxListCacheEntries)
	maxListCacheEntries = 5
	a, _ := newCacheApp(t)
	c := a.openListCache(cacheX, false)
	for i := range 8 {
		c.putHead(listedAs(fmt.Sprintf("q/%d", i), `"e"`, 1, time.Now()))
	}
	if err := c.save("q/"); err != nil {
		t.Fatal(err)
	}
	c = a.openListCache(cacheX, false)
	if n := len(c.old.Objects); n != 5 {
		t.Fatalf("%d entries, want the cap of 5", n)
	}
	// Entries of other prefixes give way to those of the listing.
	for i := range 4 {
		c.putHead(listedAs(fmt.Sprintf("p/%d", i), `"e"`, 1, time.Now()))
	}
	if err := c.save("p/"); err != nil {
		t.Fatal(err)
	}
	c = a.openListCache(cacheX, false)
	p := 0
	for k := range c.old.Objects {
		if strings.HasPrefix(k, "p/") {
			p++
		}
	}
	if n := len(c.old.Objects); n != 5 || p != 4 {
		t.Fatalf("%d entries, %d of p/; want 5 and 4", n, p)
	}
}

// TestListCacheUnusable: a corrupt or unreadable file is ignored with one
// warning, a file of another version silently, and either is replaced by
// the next save.
func TestListCacheUnusable(t *testing.T) {
	listed, head := listedAs("p/a", `"e"`, 10, time.Now())
	gobOf := func(v any) string {
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(v); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	type otherFormat struct {
		Version int
		Objects []string
	}
	valid := gobOf(listCacheFile{Version: listCacheVersion, Objects: map[string]*cachedHead{"p/a": {Stamp: stampOf(listed)}}})
	for name, content := range map[string]string{
		"truncated":     valid[:len(valid)-5],
		"not gob":       "\x00\x01garbage",
		"json":          `{"version":1,"objects":{}}`,
		"wrong type":    gobOf(otherFormat{Version: listCacheVersion, Objects: []string{"p/a"}}),
		"other version": gobOf(otherFormat{Version: listCacheVersion + 1, Objects: []string{"p/a"}}),
		"directory":     "",
	} {
		t.Run(name, func(t *testing.T) {
			a, stderr := newCacheApp(t)
			c := a.openListCache(cacheX, false)
			c.putHead(listed, head)
			if err := c.save(""); err != nil {
				t.Fatal(err)
			}
			if name == "directory" {
				os.Remove(c.path)
				os.Mkdir(c.path, 0o700)
			} else if err := os.WriteFile(c.path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			c = a.openListCache(cacheX, false)
			if _, ok := c.head(listed); ok {
				t.Error("hit from an unusable cache")
			}
			warned := strings.Count(stderr.String(), "warning: list cache")
			if want := map[bool]int{true: 0, false: 1}[name == "other version"]; warned != want {
				t.Errorf("%d warnings, want %d: %s", warned, want, stderr)
			}
			c.putHead(listed, head)
			err := c.save("")
			if name == "directory" {
				if err == nil {
					t.Error("saving over a directory succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := a.openListCache(cacheX, false).head(listed); !ok {
				t.Error("the rewritten cache misses")
			}
		})
	}
}

// BenchmarkListCache loads and saves the cache of 10,000 files sent by
// xfer, half of them with a receipt: what a warm list of them adds to
// the listing itself.
func BenchmarkListCache(b *testing.B) {
	a, _ := newCacheApp(b)
	c := a.openListCache(cacheX, false)
	now := time.Now().UTC()
	for i := range 10_000 {
		l, h := listedAs(fmt.Sprintf("p/export-%05d.csv.zip.age", i), `"0123456789abcdef0123456789abcdef"`, 1<<20, now)
		h.Metadata = map[string]string{"xfer-format": "1", "xfer-cipher": "age", "xfer-sender": "client@host",
			"xfer-created": now.Format(time.RFC3339), "xfer-expires": now.Format(time.RFC3339), "xfer-source": "0123456789abcdef0123456789abcdef"}
		c.putHead(l, h)
		if i%2 == 0 {
			rl := transfer.ObjectInfo{Key: ReceiptKey(l.Key), ETag: `"0123456789abcdef0123456789abcdef"`, Size: 200, LastModified: now}
			c.putReceipt(rl, &Receipt{Name: l.Key, ETag: l.ETag, Size: l.Size, DownloadedAt: now, By: "house@host", Tool: "xfer"})
		}
	}
	if err := c.save(""); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(c.path)
	b.ReportMetric(float64(fi.Size()), "file-bytes")
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			if c := a.openListCache(cacheX, false); len(c.old.Objects) != 10_000 {
				b.Fatal("not loaded")
			}
		}
	})
	b.Run("save", func(b *testing.B) {
		c := a.openListCache(cacheX, false)
		c.seen = c.old
		for b.Loop() {
			c.learnt = true // as after a HEAD: write
			if err := c.save(""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestListCacheUnchangedNotRewritten: a list that confirms every entry of
// its prefix and learns nothing leaves the file as it was; one that
// finds an entry gone rewrites it.
func TestListCacheUnchangedNotRewritten(t *testing.T) {
	a, _ := newCacheApp(t)
	la, ha := listedAs("p/a", `"e"`, 10, time.Now())
	lb, hb := listedAs("p/b", `"e"`, 10, time.Now())
	c := a.openListCache(cacheX, false)
	c.putHead(la, ha)
	c.putHead(lb, hb)
	if err := c.save("p/"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(c.path)
	c = a.openListCache(cacheX, false)
	c.head(la)
	c.head(lb)
	if err := c.save("p/"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(c.path); !os.SameFile(before, after) {
		t.Error("an unchanged cache was rewritten")
	}
	c = a.openListCache(cacheX, false)
	c.head(la)
	if err := c.save("p/"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(c.path); os.SameFile(before, after) {
		t.Error("the cache was not rewritten without p/b")
	}
	if _, ok := a.openListCache(cacheX, false).head(lb); ok {
		t.Error("p/b still cached")
	}
}

// FuzzListCacheLoad: whatever the file holds, loading it never panics,
// and what it keeps is a cache of this version.
func FuzzListCacheLoad(f *testing.F) {
	var b bytes.Buffer
	l, h := listedAs("p/a", `"e"`, 10, time.Now())
	gob.NewEncoder(&b).Encode(listCacheFile{Version: listCacheVersion,
		Objects:  map[string]*cachedHead{"p/a": {Stamp: stampOf(l), Metadata: h.Metadata}},
		Receipts: map[string]*cachedReceipt{"r": {Stamp: stampOf(l), Receipt: &Receipt{By: "x"}}}})
	f.Add(b.Bytes())
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newListCache(filepath.Join(dir, "c.gob"), false)
		if err := os.WriteFile(c.path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if c.load() == nil && c.old.Objects != nil && c.old.Version != listCacheVersion {
			t.Fatalf("kept a cache of version %d", c.old.Version)
		}
		c.head(l)
		c.receipt(l)
	})
}
