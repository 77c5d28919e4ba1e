package exchange

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// The scale of issue 19: many clients under one prefix. These tests count
// the requests a listing and a pull --all decision make, on memstore, with
// N objects over many client prefixes (clients/c0000/ …): what grows with
// N must be the pages of the listing, never a request per object.

const (
	scaleN        = 5000
	scalePrefixes = 500
)

// scaleKey is object i of the simulated exchange, spread over
// scalePrefixes client prefixes.
func scaleKey(i int) string {
	return fmt.Sprintf("clients/c%04d/f%06d.csv.zip.age", i%scalePrefixes, i)
}

// scaleExchange fills a memstore with scaleN small objects carrying
// send's metadata, a receipt for every tenth, and returns a side on
// prefix clients/.
func scaleExchange(t *testing.T) (*memstore.Store, *Exchange) {
	t.Helper()
	st := memstore.New(memstore.Options{})
	for i := range scaleN {
		k := scaleKey(i)
		put(t, st, k, fmt.Sprint("sealed ", i), map[string]string{MetaFormat: FormatVersion, MetaCipher: "age",
			MetaSender: fmt.Sprintf("client%04d@test", i%scalePrefixes), MetaExpires: "2099-01-01T00:00:00Z"})
		if i%10 == 0 {
			put(t, st, ReceiptKey(k), fmt.Sprintf(`{"name":%q,"by":"house@test"}`, k), nil)
		}
	}
	x := side(t, st, "house@test")
	x.Prefix = "clients/"
	return st, x
}

// smallRanges makes the ranges of a listing small enough for the tests'
// few thousand keys to be listed in several.
func smallRanges(t *testing.T) {
	old := listRangeKeys
	listRangeKeys = 500
	t.Cleanup(func() { listRangeKeys = old })
}

// requests counts the store's calls of some methods between two points.
type requests struct {
	st   *memstore.Store
	last map[string]int
}

var countedMethods = []string{memstore.List, memstore.Head, memstore.Get, memstore.Put}

func countRequests(st *memstore.Store) *requests {
	r := &requests{st: st}
	r.since()
	return r
}

// since returns the calls of each method since the last call.
func (r *requests) since() map[string]int {
	now := map[string]int{}
	out := map[string]int{}
	for _, m := range countedMethods {
		now[m] = r.st.Calls(m)
		out[m] = now[m] - r.last[m]
	}
	r.last = now
	return out
}

// maxListPages is what one listing of n keys may cost: a page a 1000
// keys, and one more a range when listed in ranges.
func maxListPages(n int) int {
	return n/1000 + 1 + n/listRangeKeys + 1
}

func mustList(t *testing.T, x *Exchange, fresh bool) []*Listed {
	t.Helper()
	objs, err := x.List(t.Context(), ListOptions{Receipts: true, Fresh: fresh}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestListScale: a first list HEADs each object and reads each receipt
// once; a second list of the same objects over 500 client prefixes makes
// only the listing's requests, in ranges, and finds the same.
func TestListScale(t *testing.T) {
	smallRanges(t)
	st, x := scaleExchange(t)
	keys := scaleN + scaleN/10 // the objects and their receipts
	r := countRequests(st)
	cold := mustList(t, x, false)
	if c := r.since(); c[memstore.Head] != scaleN || c[memstore.Get] != scaleN/10 || c[memstore.List] > keys/1000+1 {
		t.Fatalf("first list: %v; want %d HEAD, %d GET and %d pages at most", c, scaleN, scaleN/10, keys/1000+1)
	}
	if len(cold) != scaleN {
		t.Fatalf("first list: %d objects, want %d", len(cold), scaleN)
	}
	// The first listing recorded where to split the next.
	if s := readListRanges(x.cachePath(".ranges.json")).Splits["clients/"]; len(s) < keys/listRangeKeys-1 {
		t.Fatalf("split keys recorded: %q", s)
	}
	for range 2 {
		warm := mustList(t, x, false)
		c := r.since()
		if c[memstore.Head] != 0 || c[memstore.Get] != 0 || c[memstore.Put] != 0 || c[memstore.List] > maxListPages(keys) {
			t.Errorf("warm list: %v; want no HEAD, GET or PUT and %d pages at most", c, maxListPages(keys))
		}
		t.Logf("warm list of %d objects (%d keys): requests %v", scaleN, keys, c)
		sameListing(t, warm, cold)
	}
	// A changed object is asked again, and only it.
	put(t, st, scaleKey(42), "sealed anew", map[string]string{MetaSender: "new@test"})
	warm := mustList(t, x, false)
	if c := r.since(); c[memstore.Head] != 1 {
		t.Errorf("list after one object changed: %v; want 1 HEAD", c)
	}
	if i := slices.IndexFunc(warm, func(l *Listed) bool { return l.Info.Key == scaleKey(42) }); i < 0 || warm[i].Info.Metadata[MetaSender] != "new@test" {
		t.Errorf("the changed object is not listed with its new metadata")
	}
}

func sameListing(t *testing.T, got, want []*Listed) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("listed %d objects, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Info.Key != w.Info.Key || g.Info.ETag != w.Info.ETag || g.Info.Metadata[MetaSender] != w.Info.Metadata[MetaSender] ||
			(g.Receipt == nil) != (w.Receipt == nil) {
			t.Fatalf("object %d: %+v, want %+v", i, g.Info, w.Info)
		}
	}
}

// TestListRangesExact: listed in ranges from split keys that no longer
// match the keys (some gone, others added, before, between and after
// them), the listing is still every key once, in order.
func TestListRangesExact(t *testing.T) {
	st := memstore.New(memstore.Options{PageSize: 7})
	x := side(t, st, "house@test")
	x.Prefix = "clients/"
	want := map[string]bool{}
	for i := range 300 {
		k := scaleKey(i)
		put(t, st, k, "x", nil)
		want[k] = true
	}
	put(t, st, "clients0", "outside the prefix", nil)
	put(t, st, "client", "outside the prefix", nil)
	file := readListRanges(x.cachePath(".ranges.json"))
	file.set("clients/", []string{scaleKey(3), "clients/c0100/gone", scaleKey(160), scaleKey(161), "clients/zzz"})
	if err := file.write(x.cachePath(".ranges.json")); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := x.listObjects(t.Context(), func(o transfer.ObjectInfo) error { got = append(got, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(got) || len(got) != len(want) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("listed %d keys (sorted %v), want %d once each", len(got), slices.IsSorted(got), len(want))
	}
	for _, k := range got {
		if !want[k] {
			t.Errorf("listed %q", k)
		}
	}
	// Too many ranges for the keys: the split keys are dropped.
	if s, ok := readListRanges(x.cachePath(".ranges.json")).Splits["clients/"]; ok {
		t.Errorf("split keys kept for a few hundred keys: %q", s)
	}
}

// TestListCacheAcrossPrefixes: listing clients/ and then one client's
// prefix (and the other way round) uses and keeps each other's entries:
// neither listing discards what the other learnt.
func TestListCacheAcrossPrefixes(t *testing.T) {
	smallRanges(t)
	st, x := scaleExchange(t)
	one := *x
	one.Prefix = "clients/c0042/"
	perClient := scaleN / scalePrefixes
	r := countRequests(st)

	mustList(t, x, false) // learns them all
	r.since()
	if objs := mustList(t, &one, false); len(objs) != perClient {
		t.Fatalf("listed %d objects of one client, want %d", len(objs), perClient)
	}
	if c := r.since(); c[memstore.Head] != 0 || c[memstore.Get] != 0 {
		t.Errorf("one client's list after the list of all: %v; want no HEAD or GET", c)
	}
	mustList(t, x, false)
	if c := r.since(); c[memstore.Head] != 0 || c[memstore.Get] != 0 {
		t.Errorf("list of all after one client's: %v; want no HEAD or GET", c)
	}

	// The other way round, on a new machine: one client first.
	y, yone := *x, one
	y.CacheDir = filepath.Join(t.TempDir(), "list")
	yone.CacheDir = y.CacheDir
	mustList(t, &yone, false)
	if c := r.since(); c[memstore.Head] != perClient {
		t.Errorf("one client's first list: %v; want %d HEAD", c, perClient)
	}
	mustList(t, &y, false)
	if c := r.since(); c[memstore.Head] != scaleN-perClient {
		t.Errorf("list of all after one client's: %v; want %d HEAD (not the client's again)", c, scaleN-perClient)
	}
	mustList(t, &yone, false)
	if c := r.since(); c[memstore.Head] != 0 || c[memstore.Get] != 0 {
		t.Errorf("one client's list again: %v; want no HEAD or GET", c)
	}
}

// TestPendingScale: pull --all decides what is new from the listing and
// the local state, alone, or with a group from the claims as listed: no
// request per object, and a dry run plans from the listing too.
func TestPendingScale(t *testing.T) {
	smallRanges(t)
	st, x := scaleExchange(t)
	tags := etags(t, st)
	// This puller pulled every other object before.
	for i := 0; i < scaleN; i += 2 {
		if err := x.pullState().add(pulledEntry{Ident: x.Ident, Key: scaleKey(i), ETag: tags[scaleKey(i)], File: "f.csv"}); err != nil {
			t.Fatal(err)
		}
	}
	r := countRequests(st)
	l, err := x.Pending(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	c := r.since()
	if len(l.New) != scaleN/2 || l.Already != scaleN/2 {
		t.Fatalf("Pending: %d new, %d already; want %d each", len(l.New), l.Already, scaleN/2)
	}
	if c[memstore.Head] != 0 || c[memstore.Get] != 0 || c[memstore.List] > maxListPages(scaleN+scaleN/10) {
		t.Errorf("Pending: %v; want no HEAD or GET and %d pages at most", c, maxListPages(scaleN+scaleN/10))
	}
	t.Logf("Pending alone over %d objects: requests %v", scaleN, c)
	// The dry run's plans come from the listing.
	for _, p := range l.New[:100] {
		plan := x.PlanListed(p, PullOptions{Dir: t.TempDir()})
		if plan.ETag == "" || plan.Size == 0 || plan.Key != x.Key(p.Name) {
			t.Fatalf("plan %+v", plan)
		}
	}
	if c := r.since(); c[memstore.Head] != 0 {
		t.Errorf("planning: %d HEAD, want 0", c[memstore.Head])
	}
	// The state's check before a CSV is committed agrees with load.
	for _, i := range []int{0, 1, 2, scaleN - 1} {
		has, err := x.pullState().has(scaleKey(i), tags[scaleKey(i)])
		if err != nil || has != (i%2 == 0) {
			t.Errorf("has(%s) = %v, %v; want %v", scaleKey(i), has, err, i%2 == 0)
		}
	}
}

// TestPendingGroupScale: a puller of a group, on a new machine, decides
// what is new from the claims as listed: a done claim is known by its
// ETag, with no request; only the claims held by others are read.
func TestPendingGroupScale(t *testing.T) {
	smallRanges(t)
	st, x := scaleExchange(t)
	x.Group = "site"
	clk := &clock{now: time.Now()}
	x.Now = clk.Now
	// Another puller of the group pulled every other object (its claims
	// are done) and holds the claims of two more.
	other := *x
	other.StateDir, other.CacheDir, other.Sender = t.TempDir(), "", "other@test"
	ctx := t.Context()
	tags := etags(t, st)
	for i := 0; i < scaleN; i += 2 {
		h, _, err := other.Claim(ctx, other.Name(scaleKey(i)), tags[scaleKey(i)])
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Complete(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{1, 3} {
		h, _, err := other.Claim(ctx, other.Name(scaleKey(i)), tags[scaleKey(i)])
		if err != nil {
			t.Fatal(err)
		}
		h.halt()
	}
	r := countRequests(st)
	for round := range 2 {
		l, err := x.Pending(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		c := r.since()
		if len(l.New) != scaleN/2-2 || l.Already != scaleN/2 || len(l.Claimed) != 2 {
			t.Fatalf("Pending %d: %d new, %d already, %d claimed; want %d, %d, 2", round, len(l.New), l.Already, len(l.Claimed), scaleN/2-2, scaleN/2)
		}
		keys := scaleN + scaleN/10 + scaleN/2 + 2
		if c[memstore.Head] != 0 || c[memstore.Get] != 2 || c[memstore.List] > maxListPages(keys) {
			t.Errorf("Pending %d: %v; want no HEAD, 2 GET (the claims held) and %d pages at most", round, c, maxListPages(keys))
		}
		t.Logf("Pending %d of a group over %d objects (%d keys): requests %v", round, scaleN, keys, c)
	}
}

// etags returns the ETag of every object of the store, by key.
func etags(t *testing.T, st *memstore.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := st.List(t.Context(), "", func(o transfer.ObjectInfo) error { out[o.Key] = o.ETag; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}
