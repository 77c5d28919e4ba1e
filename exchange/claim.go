package exchange

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/xfer-dev/xfer/transfer"
)

// Claims let several pullers share one exchange (a pulling group): before
// pulling a file, a puller of the group creates the file's claim object
// with a conditional write that fails when the claim exists, so exactly
// one puller of the group pulls each version of a file. The claim holds a
// lease the puller renews while it works; a claim whose lease ran out (its
// puller died) is taken over by a write conditional on the claim's ETag,
// so of two pullers taking it over exactly one succeeds. Once the CSV is
// written the claim is marked done: that, in the bucket, is what tells
// every puller of the group the file is pulled. Different groups keep
// separate claims, so two sites that each want a copy are two groups.

// DefaultLease is how long a claim holds without being renewed. A puller
// renews it every third of the lease while it works.
const DefaultLease = 10 * time.Minute

// MinLease is the shortest lease allowed.
const MinLease = time.Second

// claimsDir is the folder of claims inside InternalDir, one folder a
// group.
const claimsDir = "claims/"

// ClaimKey is where the claim of group on the object at key lives:
// beside it, like its receipt.
func ClaimKey(key, group string) string {
	dir, base := path.Split(key)
	return dir + InternalDir + claimsDir + group + "/" + base + ".json"
}

var groupRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckGroup refuses a pulling group name that cannot be a folder of
// claims: letters, digits, '.', '_' and '-', at most 64, starting with a
// letter or digit. The error is ErrBadName.
func CheckGroup(group string) error {
	if !groupRE.MatchString(group) {
		return badName("bad pulling group %q: use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit", group)
	}
	return nil
}

// Claim is the claim object: who pulls which version of a file, and until
// when the claim holds unless renewed. Never anything from inside the
// file.
type Claim struct {
	Name  string `json:"name"`
	ETag  string `json:"etag"` // of the sealed object claimed
	Group string `json:"group"`
	By    string `json:"by"`
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	// Run is a random token of this claim: a takeover, even by the same
	// process, writes another, so a puller knows its own claim.
	Run       string    `json:"run"`
	Tool      string    `json:"tool,omitempty"`
	ClaimedAt time.Time `json:"claimed_at"`
	RenewedAt time.Time `json:"renewed_at"`
	// Expires is when the claim stops holding unless renewed (RenewedAt
	// plus the lease), by the claiming machine's clock.
	Expires time.Time `json:"expires"`
	// Done: the CSV was written. The claim in the exchange then holds
	// only that (doneClaim); DoneAt, this run's, says when.
	Done   bool       `json:"done,omitempty"`
	DoneAt *time.Time `json:"done_at,omitempty"`
	// TookOver names the puller whose expired claim this one replaced.
	TookOver string `json:"took_over,omitempty"`
}

// Expired reports whether the claim has stopped holding at now.
func (c *Claim) Expired(now time.Time) bool { return !c.Done && !now.Before(c.Expires) }

// Holder names the puller of a claim for messages: "by on host (pid N)".
func (c *Claim) Holder() string {
	return fmt.Sprintf("%s on %s (pid %d)", c.By, c.Host, c.PID)
}

// ErrClaimed: another puller of the group holds an unexpired claim on
// the file (PullResult.Skipped; errors.As to *ClaimedError for whom).
var ErrClaimed = errors.New("claimed by another puller of the group")

// ClaimedError is ErrClaimed with the claim that holds.
type ClaimedError struct{ Claim *Claim }

func (e *ClaimedError) Error() string {
	if e.Claim == nil {
		return "claimed by another puller of the group"
	}
	return fmt.Sprintf("claimed by %s until %s", e.Claim.Holder(), e.Claim.Expires.Format(time.RFC3339))
}

func (e *ClaimedError) Is(target error) bool { return target == ErrClaimed }

// ErrClaimLost: while this puller worked, its claim was taken over by
// another puller (its lease ran out unrenewed: the exchange was out of
// reach too long). The pull stopped, or if the CSV was written already,
// the other puller may write it too.
var ErrClaimLost = errors.New("the claim was taken over by another puller")

// ErrNoConditionalWrites: the exchange's server does not honour the
// conditional writes claims rest on, so several pullers cannot share it.
var ErrNoConditionalWrites = errors.New("the server does not honour conditional writes")

// Pulling reports whether this exchange pulls as a member of a group.
func (x *Exchange) Pulling() bool { return x.Group != "" }

func (x *Exchange) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Exchange) lease() time.Duration {
	if x.Lease > 0 {
		return max(x.Lease, MinLease)
	}
	return DefaultLease
}

// token returns n random bytes in hex.
func token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (x *Exchange) newClaim(name, etag string) *Claim {
	h, _ := os.Hostname()
	now := x.now().UTC()
	return &Claim{Name: name, ETag: strings.Trim(etag, `"`), Group: x.Group, By: x.Sender, Host: h, PID: os.Getpid(), Run: token(8),
		Tool: x.Tool, ClaimedAt: now, RenewedAt: now, Expires: now.Add(x.lease())}
}

// maxClaim bounds what is read of a claim: they are small.
const maxClaim = 64 << 10

// ReadClaim reads the claim at key; ErrNotFound when there is none.
func ReadClaim(ctx context.Context, s transfer.Store, key string) (*Claim, error) {
	var c Claim
	if err := readJSON(ctx, s, key, maxClaim, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// doneClaim is what a claim becomes once its pull is done: only what says
// so, the same bytes whoever pulled and whenever, so that a puller
// listing the claims knows a done claim by its ETag (the MD5 of these
// bytes, on servers whose ETag is that) without reading it. Who pulled and
// when, the receipt says. It reads as a Claim with Done set.
type doneClaim struct {
	Key   string `json:"key"` // of the object
	ETag  string `json:"etag"`
	Group string `json:"group"`
	Done  bool   `json:"done"`
}

func doneClaimBody(key, etag, group string) []byte {
	b, _ := json.Marshal(doneClaim{Key: key, ETag: strings.Trim(etag, `"`), Group: group, Done: true})
	return b
}

// isDoneClaim reports a claim object, as listed with claimETag, that is
// the done claim of version etag of the object at key: its ETag is that
// of the done claim's bytes. (Where a server's ETags are no MD5, say with
// SSE-KMS, it never is: the claim is then read.)
func isDoneClaim(claimETag, key, etag, group string) bool {
	sum := md5.Sum(doneClaimBody(key, etag, group))
	return strings.Trim(claimETag, `"`) == hex.EncodeToString(sum[:])
}

func (x *Exchange) putClaim(ctx context.Context, key string, c *Claim, ifMatch string) (transfer.ObjectInfo, error) {
	b, err := json.Marshal(c)
	if c.Done {
		b = doneClaimBody(x.Key(c.Name), c.ETag, c.Group)
	}
	if err != nil {
		return transfer.ObjectInfo{}, err
	}
	return x.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), transfer.PutOptions{
		CreateOptions: transfer.CreateOptions{ContentType: "application/json", Metadata: map[string]string{"xfer-kind": "claim"}},
		IfMatch:       ifMatch,
	})
}

// Hold is a claim this puller holds. Its lease is renewed in the
// background until Complete or Release; if another puller takes it over
// meanwhile, the context Claim returned is cancelled with ErrClaimLost.
type Hold struct {
	x     *Exchange
	Key   string
	Claim *Claim
	// TookOver is the expired claim this one replaced; nil for a new one.
	TookOver *Claim

	mu       sync.Mutex
	etag     string // of the claim object as last written
	lost     bool
	halted   chan struct{} // closed to stop the renewals
	haltOnce sync.Once
	done     chan struct{} // closed when they stopped
	cancel   context.CancelCauseFunc
}

// Claim claims version etag of name for this puller's group (see
// Exchange.Group): it creates the claim object if there is none, or takes
// over a claim that no longer holds (its lease expired, or it was for
// another version of the file). It fails with an error that is ErrClaimed
// when another puller holds the file, ErrPulledMeanwhile when the group
// pulled this version already. The returned context is ctx, cancelled
// with ErrClaimLost should the claim be taken over; the Hold must be
// completed or released.
func (x *Exchange) Claim(ctx context.Context, name, etag string) (*Hold, context.Context, error) {
	key := ClaimKey(x.Key(name), x.Group)
	c := x.newClaim(name, etag)
	info, err := x.putClaim(ctx, key, c, "")
	var took *Claim
	if errors.Is(err, transfer.ErrPreconditionFailed) {
		// A claim is there: the ETag first, then the content, so a claim
		// renewed in between makes the takeover below fail, as it should.
		head, herr := x.Store.Head(ctx, key)
		if errors.Is(herr, transfer.ErrNotFound) {
			return nil, nil, &ClaimedError{} // gone again: its holder is finishing; the next run sees
		}
		if herr != nil {
			return nil, nil, herr
		}
		old, rerr := ReadClaim(ctx, x.Store, key)
		if rerr != nil && !isDecodeError(rerr) {
			if errors.Is(rerr, transfer.ErrNotFound) {
				return nil, nil, &ClaimedError{}
			}
			return nil, nil, rerr
		}
		if old != nil && old.ETag == c.ETag {
			if old.Done {
				return nil, nil, ErrPulledMeanwhile
			}
			if !old.Expired(x.now()) {
				return nil, nil, &ClaimedError{old}
			}
		}
		// Expired, for another version, or unreadable: take it over, if no
		// other puller does first.
		if old != nil {
			c.TookOver = old.Holder()
		}
		info, err = x.putClaim(ctx, key, c, head.ETag)
		if errors.Is(err, transfer.ErrPreconditionFailed) {
			return nil, nil, &ClaimedError{}
		}
		took = old
		if took == nil {
			took = &Claim{}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	h := &Hold{x: x, Key: key, Claim: c, TookOver: took, etag: info.ETag, done: make(chan struct{}), halted: make(chan struct{})}
	wctx, cancel := context.WithCancelCause(ctx)
	h.cancel = cancel
	// Renewals outlive a cancelled ctx until halted: one cut off in flight
	// could take effect unseen.
	go h.renew(context.WithoutCancel(ctx))
	return h, wctx, nil
}

func isDecodeError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// renew rewrites the claim every third of the lease until stopped. A
// renewal that finds the claim taken over cancels the work; one that
// fails otherwise is tried again at the next tick.
func (h *Hold) renew(ctx context.Context) {
	defer close(h.done)
	every := h.x.lease() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.halted:
			return
		case <-t.C:
		}
		h.mu.Lock()
		now := h.x.now().UTC()
		c := *h.Claim
		c.RenewedAt, c.Expires = now, now.Add(h.x.lease())
		rctx, cancel := context.WithTimeout(ctx, every)
		info, err := h.x.putClaim(rctx, h.Key, &c, h.etag)
		if errors.Is(err, transfer.ErrPreconditionFailed) {
			err = h.reclaim(rctx)
		}
		cancel()
		switch {
		case err == nil:
			if info.ETag != "" {
				h.etag, h.Claim = info.ETag, &c
			}
		case errors.Is(err, ErrClaimLost):
			h.lost = true
			h.cancel(ErrClaimLost)
		}
		lost := h.lost
		h.mu.Unlock()
		if lost {
			return
		}
	}
}

// reclaim tells a claim lost from one whose last write took effect though
// its reply never came (a timeout, a dropped connection), which leaves
// h.etag stale: if the claim in the bucket is still this run's, its ETag
// becomes h's. Otherwise the claim is lost (ErrClaimLost). The caller
// holds h.mu.
func (h *Hold) reclaim(ctx context.Context) error {
	head, err := h.x.Store.Head(ctx, h.Key)
	if errors.Is(err, transfer.ErrNotFound) {
		return ErrClaimLost
	}
	if err != nil {
		return err
	}
	c, err := ReadClaim(ctx, h.x.Store, h.Key)
	switch {
	case errors.Is(err, transfer.ErrNotFound) || err != nil && isDecodeError(err):
		return ErrClaimLost
	case err != nil:
		return err
	case c.Run != h.Claim.Run || c.ETag != h.Claim.ETag || c.Done:
		return ErrClaimLost
	}
	h.etag, h.Claim = head.ETag, c
	return nil
}

// halt stops the renewals and waits for a renewal in flight.
func (h *Hold) halt() {
	h.haltOnce.Do(func() { close(h.halted) })
	<-h.done
	h.cancel(nil)
}

// ETag is the claim object's ETag as last written.
func (h *Hold) ETag() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.etag
}

// Complete marks the claim done: the group has pulled this version. It
// fails with ErrClaimLost when another puller took the claim over.
func (h *Hold) Complete(ctx context.Context) error {
	return h.finish(ctx, func(c *Claim, now time.Time) { c.Done, c.DoneAt = true, &now })
}

// Release gives the claim up (the pull failed or was interrupted): it
// expires at once, so another puller may take the file without waiting
// for the lease. Losing it meanwhile is no error.
func (h *Hold) Release(ctx context.Context) error {
	err := h.finish(ctx, func(c *Claim, now time.Time) { c.Expires = now })
	if errors.Is(err, ErrClaimLost) {
		return nil
	}
	return err
}

// finish stops the renewals and writes the claim changed by change, if
// it is still this puller's.
func (h *Hold) finish(ctx context.Context, change func(*Claim, time.Time)) error {
	h.halt()
	if h.lost {
		return ErrClaimLost
	}
	c := *h.Claim
	change(&c, h.x.now().UTC())
	info, err := h.x.putClaim(ctx, h.Key, &c, h.etag)
	if errors.Is(err, transfer.ErrPreconditionFailed) {
		// Perhaps a renewal whose reply was lost: try once more if so.
		if err = h.reclaim(ctx); err == nil {
			c = *h.Claim
			change(&c, h.x.now().UTC())
			info, err = h.x.putClaim(ctx, h.Key, &c, h.etag)
			if errors.Is(err, transfer.ErrPreconditionFailed) {
				err = ErrClaimLost
			}
		}
	}
	if err != nil {
		return err
	}
	h.etag, h.Claim = info.ETag, &c
	if c.Done {
		h.x.claimCache().add(claimEntry{Ident: h.x.Ident, Claim: h.Key, ClaimETag: info.ETag, ETag: c.ETag})
	}
	return nil
}

// ClaimsFile caches, in StateDir, the claims seen done (by claim key and
// the claim object's ETag), so that Pending reads each done claim once.
// It is only a cache: the claims in the exchange decide.
const ClaimsFile = "claims.jsonl"

type claimEntry struct {
	Ident     string `json:"exchange"`
	Claim     string `json:"claim"`
	ClaimETag string `json:"claim_etag"`
	ETag      string `json:"etag"` // of the object the done claim was for
}

type claimCache struct{ path, ident string }

func (x *Exchange) claimCache() *claimCache {
	if x.StateDir == "" {
		return nil
	}
	return &claimCache{path: filepath.Join(x.StateDir, ClaimsFile), ident: x.Ident}
}

func claimCacheKey(claimKey, claimETag string) string {
	return claimKey + "\x00" + strings.Trim(claimETag, `"`)
}

// load returns the object ETag each cached done claim was for.
func (c *claimCache) load() map[string]string {
	out := map[string]string{}
	if c == nil {
		return out
	}
	_ = readLines(c.path, func(b []byte) {
		var e claimEntry
		if json.Unmarshal(b, &e) == nil && e.Ident == c.ident {
			out[claimCacheKey(e.Claim, e.ClaimETag)] = e.ETag
		}
	})
	return out
}

func (c *claimCache) add(e claimEntry) {
	if c != nil {
		_ = appendLine(c.path, e) // a cache: failing to write it costs a read later
	}
}

// ConditionalSupport is what ProbeConditional found.
type ConditionalSupport struct {
	IfNoneMatch bool // create-if-absent (If-None-Match: *)
	IfMatch     bool // replace-if-ETag (If-Match)
}

// OK reports support for both.
func (c ConditionalSupport) OK() bool { return c.IfNoneMatch && c.IfMatch }

// ProbeConditional writes a probe object under the prefix's InternalDir
// and tries both conditions on it, then removes every version of it. It
// fails only when the probe object cannot be written or read at all.
func (x *Exchange) ProbeConditional(ctx context.Context) (ConditionalSupport, error) {
	key := x.Prefix + InternalDir + "probe/" + token(12)
	defer x.removeAll(context.WithoutCancel(ctx), key)
	put := func(body string, o transfer.PutOptions) (transfer.ObjectInfo, error) {
		return x.Store.Put(ctx, key, strings.NewReader(body), int64(len(body)), o)
	}
	var cs ConditionalSupport
	if _, err := put("probe 1", transfer.PutOptions{}); err != nil {
		return cs, fmt.Errorf("conditional-write probe: %w", err)
	}
	_, err := put("probe 2", transfer.PutOptions{})
	if err != nil && !errors.Is(err, transfer.ErrPreconditionFailed) {
		return cs, fmt.Errorf("conditional-write probe: %w", err)
	}
	cs.IfNoneMatch = err != nil
	cur, err := x.Store.Head(ctx, key)
	if err != nil {
		return cs, fmt.Errorf("conditional-write probe: %w", err)
	}
	const other = `"00000000000000000000000000000000"`
	_, wrongErr := put("probe 3", transfer.PutOptions{IfMatch: other})
	if wrongErr != nil && !errors.Is(wrongErr, transfer.ErrPreconditionFailed) {
		return cs, fmt.Errorf("conditional-write probe: %w", wrongErr)
	}
	if wrongErr != nil {
		_, rightErr := put("probe 4", transfer.PutOptions{IfMatch: cur.ETag})
		cs.IfMatch = rightErr == nil
	}
	return cs, nil
}

// removeAll removes every version of key, best effort.
func (x *Exchange) removeAll(ctx context.Context, key string) {
	var vs []transfer.ObjectVersion
	_ = x.Store.ListVersions(ctx, key, func(v transfer.Version) error {
		if v.Key == key {
			vs = append(vs, transfer.ObjectVersion{Key: key, VersionID: v.VersionID})
		}
		return nil
	})
	if len(vs) == 0 {
		vs = []transfer.ObjectVersion{{Key: key}}
	}
	x.Store.DeleteVersions(ctx, vs)
}
