package exchange

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// clock is a settable clock for claims' leases.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// puller is one puller of group on st, with its own state directory.
func puller(t *testing.T, st transfer.Store, who, group string, clk *clock) *Exchange {
	t.Helper()
	dir := t.TempDir()
	x := &Exchange{Store: st, Prefix: "p/", Ident: Ident("http://127.0.0.1:9000", st.Bucket()), Sender: who, Tool: "xfer test",
		SpoolDir: filepath.Join(dir, "spool"), StateDir: dir, Group: group, Lease: time.Hour}
	if clk != nil {
		x.Now = clk.Now
	}
	if err := os.MkdirAll(x.SpoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return x
}

func minioStore(t *testing.T) transfer.Store {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	s, err := s3store.New(t.Context(), s3store.Options{Bucket: srv.Bucket, Endpoint: srv.Endpoint, PathStyle: true, Region: srv.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClaimKey(t *testing.T) {
	for key, want := range map[string]string{
		"a.csv.zip.age":   ".xfer/claims/g/a.csv.zip.age.json",
		"p/c/b.csv.zip.a": "p/c/.xfer/claims/g/b.csv.zip.a.json",
	} {
		if got := ClaimKey(key, "g"); got != want {
			t.Errorf("ClaimKey(%q) = %q, want %q", key, got, want)
		}
	}
	for _, ok := range []string{"site-a", "line.2", "A_1"} {
		if err := CheckGroup(ok); err != nil {
			t.Errorf("CheckGroup(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "-a", "a b", string(make([]byte, 65))} {
		if err := CheckGroup(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("CheckGroup(%q) = %v, want ErrBadName", bad, err)
		}
	}
}

// TestClaimTakeoverRace: eight pullers find the same expired claim and
// take it over at once; exactly one wins, the others are told it is
// claimed, and once the winner completes it every one of them is told
// the group pulled it.
func TestClaimTakeoverRace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) transfer.Store
	}{
		{"memstore", func(*testing.T) transfer.Store { return memstore.New(memstore.Options{}) }},
		{"MinIO", minioStore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.store(t)
			ctx := t.Context()
			clk := &clock{now: time.Now()}
			dead := puller(t, st, "dead@a", "g", clk)
			const name, etag = "f.csv.zip.age", `"0123456789abcdef0123456789abcdef"`
			h, _, err := dead.Claim(ctx, name, etag)
			if err != nil {
				t.Fatal(err)
			}
			h.halt() // the process dies: no more renewals, no release
			clk.advance(2 * time.Hour)

			const n = 8
			var (
				wins    atomic.Int32
				holds   = make([]*Hold, n)
				start   = make(chan struct{})
				wg      sync.WaitGroup
				errs    = make([]error, n)
				pullers = make([]*Exchange, n)
			)
			for i := range n {
				pullers[i] = puller(t, st, "p@"+string(rune('a'+i)), "g", clk)
			}
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					holds[i], _, errs[i] = pullers[i].Claim(ctx, name, etag)
					if errs[i] == nil {
						wins.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d pullers took the expired claim over, want exactly 1 (errors %v)", wins.Load(), errs)
			}
			var winner *Hold
			for i, err := range errs {
				switch {
				case err == nil:
					winner = holds[i]
				case !errors.Is(err, ErrClaimed):
					t.Errorf("puller %d: %v, want ErrClaimed", i, err)
				}
			}
			if winner.TookOver == nil || winner.TookOver.By != "dead@a" || winner.Claim.TookOver == "" {
				t.Errorf("the winner's claim does not say whose it took over: %+v", winner.Claim)
			}
			got, err := ReadClaim(ctx, st, winner.Key)
			if err != nil || got.Run != winner.Claim.Run || got.By != winner.Claim.By {
				t.Fatalf("claim in the bucket %+v (%v), want the winner's %+v", got, err, winner.Claim)
			}
			// The dead puller comes back: its claim is gone.
			if err := h.Complete(ctx); !errors.Is(err, ErrClaimLost) {
				t.Errorf("the dead puller completing its old claim: %v, want ErrClaimLost", err)
			}
			if err := winner.Complete(ctx); err != nil {
				t.Fatal(err)
			}
			for i, x := range pullers {
				if _, _, err := x.Claim(ctx, name, etag); !errors.Is(err, ErrPulledMeanwhile) {
					t.Errorf("puller %d claiming a done file: %v, want ErrPulledMeanwhile", i, err)
				}
			}
			// A new version of the file is claimed anew, done claim or not.
			h2, _, err := pullers[3].Claim(ctx, name, `"ffffffffffffffffffffffffffffffff"`)
			if err != nil {
				t.Fatalf("claiming a new version: %v", err)
			}
			h2.Release(ctx)
		})
	}
}

// TestGroupPulls: two pullers of a group share the files: a claim held
// is skipped until its lease runs out, then taken over; a third puller
// with an empty state (a new machine) finds everything pulled by the
// group's claims; another group pulls its own copy.
func TestGroupPulls(t *testing.T) {
	st := memstore.New(memstore.Options{})
	ctx := t.Context()
	k := newKeys(t)
	sender := side(t, st, "client@test")
	src := t.TempDir()
	for _, name := range []string{"a.csv", "b.csv", "c.csv"} {
		mustSend(t, sender, csvFile(t, src, name, 20), k.send)
	}
	clk := &clock{now: time.Now()}
	a := puller(t, st, "a@site", "g", clk)
	b := puller(t, st, "b@site", "g", clk)
	pullAll := func(x *Exchange) (pulled, skipped map[string]error) {
		t.Helper()
		l, err := x.Pending(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		pulled, skipped = map[string]error{}, map[string]error{}
		o := k.pull
		o.All, o.Dir = true, t.TempDir()
		for _, p := range l.New {
			o.ETag = p.ETag
			res, err := x.Pull(ctx, p.Name, o, nil)
			if err != nil {
				t.Fatalf("pull %s: %v", p.Name, err)
			}
			if res.Skipped != nil {
				skipped[p.Name] = res.Skipped
			} else {
				pulled[p.Name] = nil
			}
		}
		return pulled, skipped
	}

	// a claims a.csv and dies holding it.
	l, err := a.Pending(ctx, false)
	if err != nil || len(l.New) != 3 {
		t.Fatalf("Pending: %+v, %v", l, err)
	}
	h, _, err := a.Claim(ctx, "a.csv.zip.age", l.New[0].ETag)
	if err != nil {
		t.Fatal(err)
	}
	h.halt()

	l, err = b.Pending(ctx, false)
	if err != nil || len(l.New) != 2 || len(l.Claimed) != 1 || l.Claimed[0].By != "a@site" {
		t.Fatalf("Pending with a claim held: %+v, %v", l, err)
	}
	pulled, skipped := pullAll(b)
	if len(pulled) != 2 || len(skipped) != 0 {
		t.Fatalf("b pulled %v, skipped %v", pulled, skipped)
	}
	// A puller that listed before the claim skips it at the claim.
	res, err := b.Pull(ctx, "a.csv.zip.age", PullOptions{All: true, Identities: k.pull.Identities, ZipPassword: k.pull.ZipPassword, Dir: t.TempDir()}, nil)
	if err != nil || !errors.Is(res.Skipped, ErrClaimed) {
		t.Fatalf("pull of a held claim: %+v, %v", res, err)
	}

	clk.advance(time.Hour) // a's lease runs out
	pulled, skipped = pullAll(b)
	if _, ok := pulled["a.csv.zip.age"]; !ok || len(pulled) != 1 || len(skipped) != 0 {
		t.Fatalf("after the lease: b pulled %v, skipped %v", pulled, skipped)
	}

	// A new machine of the group, nothing in its state: nothing new.
	c := puller(t, st, "c@site", "g", clk)
	l, err = c.Pending(ctx, false)
	if err != nil || len(l.New) != 0 || l.Already != 3 || len(l.Claimed) != 0 {
		t.Fatalf("new machine's Pending: %+v, %v", l, err)
	}
	// Read once, then known from the cache.
	gets := st.Calls(memstore.Get)
	if l, err = c.Pending(ctx, false); err != nil || l.Already != 3 {
		t.Fatalf("second Pending: %+v, %v", l, err)
	}
	if n := st.Calls(memstore.Get) - gets; n != 0 {
		t.Errorf("second Pending read %d claims, want 0 (cached)", n)
	}

	// Another site, another group: its own copy of everything.
	other := puller(t, st, "o@other", "other-site", clk)
	if pulled, _ := pullAll(other); len(pulled) != 3 {
		t.Errorf("the other group pulled %v, want all 3", pulled)
	}
	// Nothing is left claimed: every claim of both groups is done.
	for _, g := range []string{"g", "other-site"} {
		for _, n := range []string{"a", "b", "c"} {
			c, err := ReadClaim(ctx, st, ClaimKey("p/"+n+".csv.zip.age", g))
			if err != nil || !c.Done {
				t.Errorf("claim of %s in %s: %+v, %v", n, g, c, err)
			}
		}
	}
}

// TestClaimRenewedAndLost: a claim is renewed while its puller works; a
// puller whose claim is taken over meanwhile is stopped, its context cancelled with ErrClaimLost.
func TestClaimRenewedAndLost(t *testing.T) {
	st := memstore.New(memstore.Options{})
	ctx := t.Context()
	x := puller(t, st, "a@site", "g", nil)
	x.Lease = 3 * MinLease
	h, wctx, err := x.Claim(ctx, "f.csv.zip.age", `"aa"`)
	if err != nil {
		t.Fatal(err)
	}
	first := h.ETag()
	// Wait for a renewal (a third of the lease): the claim's ETag changes.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for h.ETag() == first {
		select {
		case <-wctx.Done():
			t.Fatalf("cancelled: %v", context.Cause(wctx))
		case <-tick.C:
		}
	}
	if c, err := ReadClaim(ctx, st, h.Key); err != nil || !c.RenewedAt.After(c.ClaimedAt) {
		t.Fatalf("renewed claim %+v, %v", c, err)
	}
	// Another puller overwrites the claim (as a takeover would).
	c, err := ReadClaim(ctx, st, h.Key)
	if err != nil {
		t.Fatal(err)
	}
	c.Run, c.By = "other", "b@site"
	if _, err := x.putClaim(ctx, h.Key, c, h.ETag()); err != nil {
		t.Fatal(err)
	}
	<-wctx.Done()
	if !errors.Is(context.Cause(wctx), ErrClaimLost) {
		t.Fatalf("cause %v, want ErrClaimLost", context.Cause(wctx))
	}
	if err := h.Complete(ctx); !errors.Is(err, ErrClaimLost) {
		t.Errorf("Complete of a lost claim: %v", err)
	}
}

// TestProbeConditional: the probe tells a store that honours conditional
// writes from one that ignores them, and leaves nothing behind.
func TestProbeConditional(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   *memstore.Store
		want ConditionalSupport
	}{
		{"honours", memstore.New(memstore.Options{Versioned: true}), ConditionalSupport{true, true}},
		{"ignores", memstore.New(memstore.Options{IgnoreConditional: true}), ConditionalSupport{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := puller(t, tc.st, "a", "g", nil)
			got, err := x.ProbeConditional(t.Context())
			if err != nil || got != tc.want {
				t.Fatalf("ProbeConditional = %+v, %v; want %+v", got, err, tc.want)
			}
			var left []string
			tc.st.ListVersions(t.Context(), "", func(v transfer.Version) error { left = append(left, v.Key); return nil })
			if len(left) != 0 {
				t.Errorf("the probe left %v", left)
			}
		})
	}
	t.Run("MinIO", func(t *testing.T) {
		x := puller(t, minioStore(t), "a", "g", nil)
		if got, err := x.ProbeConditional(t.Context()); err != nil || !got.OK() {
			t.Fatalf("ProbeConditional on MinIO = %+v, %v", got, err)
		}
	})
}

// TestClaimRenewalReplyLost: a renewal that took effect though its reply
// was lost leaves the puller with a stale ETag; the claim is still its
// own, so it is neither given up nor reported lost, and completes.
func TestClaimRenewalReplyLost(t *testing.T) {
	st := memstore.New(memstore.Options{})
	ctx := t.Context()
	x := puller(t, st, "a@site", "g", nil)
	x.Lease = 3 * MinLease
	puts := st.Calls(memstore.Put)
	h, wctx, err := x.Claim(ctx, "f.csv.zip.age", `"aa"`)
	if err != nil {
		t.Fatal(err)
	}
	st.Inject(memstore.Fault{Method: memstore.Put, Call: puts + 2, Lost: true})
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for st.Calls(memstore.Put) < puts+2 { // the renewal whose reply is lost
		select {
		case <-wctx.Done():
			t.Fatalf("cancelled: %v", context.Cause(wctx))
		case <-tick.C:
		}
	}
	if err := h.Complete(ctx); err != nil {
		t.Fatalf("Complete after a renewal whose reply was lost: %v", err)
	}
	// Done, as the listing tells by the ETag (the done claim holds no
	// puller's name: whoever completed it, its bytes are the same).
	c, err := ReadClaim(ctx, st, h.Key)
	if err != nil || !c.Done || c.ETag != "aa" {
		t.Fatalf("claim %+v, %v; want done, of version aa", c, err)
	}
	if head, err := st.Head(ctx, h.Key); err != nil || !isDoneClaim(head.ETag, x.Key("f.csv.zip.age"), `"aa"`, "g") {
		t.Errorf("the done claim's ETag %q does not tell it done (%v)", head.ETag, err)
	}
}

// TestFailedPullGivesClaimUp: a pull of a group that fails (here
// interrupted, as by Ctrl-C) gives its claim up at once, so another
// puller of the group takes the file without waiting for the lease.
func TestFailedPullGivesClaimUp(t *testing.T) {
	st := memstore.New(memstore.Options{})
	k := newKeys(t)
	sender := side(t, st, "client@test")
	mustSend(t, sender, csvFile(t, t.TempDir(), "a.csv", 20), k.send)
	clk := &clock{now: time.Now()}
	a := puller(t, st, "a@site", "g", clk)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st.Inject(memstore.Fault{Method: memstore.Get, Key: "p/a.csv.zip.age", Hook: cancel})
	o := k.pull
	o.All, o.Dir = true, t.TempDir()
	if _, err := a.Pull(ctx, "a.csv.zip.age", o, nil); err == nil {
		t.Fatal("interrupted pull succeeded")
	}
	st.ClearFaults()
	c, err := ReadClaim(t.Context(), st, ClaimKey("p/a.csv.zip.age", "g"))
	if err != nil || !c.Expired(clk.Now()) {
		t.Fatalf("claim after a failed pull: %+v, %v; want given up", c, err)
	}
	// No time passes: b takes it over at once.
	b := puller(t, st, "b@site", "g", clk)
	o.Dir = t.TempDir()
	res, err := b.Pull(t.Context(), "a.csv.zip.age", o, nil)
	if err != nil || res.Skipped != nil {
		t.Fatalf("b's pull after a's failure: %+v, %v", res, err)
	}
}

// TestTakeoverWarned: a puller that takes over an expired claim on the
// version it pulls says whose; one that replaces the done claim of a
// version since replaced by the sender says nothing.
func TestTakeoverWarned(t *testing.T) {
	st := memstore.New(memstore.Options{})
	ctx := t.Context()
	k := newKeys(t)
	sender := side(t, st, "client@test")
	src := t.TempDir()
	file := csvFile(t, src, "a.csv", 20)
	mustSend(t, sender, file, k.send)
	clk := &clock{now: time.Now()}
	a := puller(t, st, "a@site", "g", clk)
	b := puller(t, st, "b@site", "g", clk)
	pull := func() string {
		t.Helper()
		l, err := b.Pending(ctx, false)
		if err != nil || len(l.New) != 1 {
			t.Fatalf("Pending: %+v, %v", l, err)
		}
		var warnings bytes.Buffer
		o := k.pull
		o.All, o.Dir, o.ETag = true, t.TempDir(), l.New[0].ETag
		res, err := b.Pull(ctx, l.New[0].Name, o, bufReporter{&warnings})
		if err != nil || res.Skipped != nil {
			t.Fatalf("pull: %+v, %v", res, err)
		}
		return warnings.String()
	}
	l, err := a.Pending(ctx, false)
	if err != nil || len(l.New) != 1 {
		t.Fatalf("Pending: %+v, %v", l, err)
	}
	h, _, err := a.Claim(ctx, l.New[0].Name, l.New[0].ETag)
	if err != nil {
		t.Fatal(err)
	}
	h.halt() // a dies holding it
	clk.advance(2 * time.Hour)
	if w := pull(); !strings.Contains(w, "a.csv.zip.age: took over the claim of a@site on ") {
		t.Errorf("warnings of the takeover: %q", w)
	}
	// The sender sends a new version: its claim replaces the done one
	// silently.
	if err := os.WriteFile(file, append(readFile(t, file), "x,y,z\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	o := k.send
	o.Overwrite = true
	mustSend(t, sender, file, o)
	if w := pull(); w != "" {
		t.Errorf("warnings of the pull of a new version: %q", w)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
