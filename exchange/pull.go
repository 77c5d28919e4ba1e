package exchange

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
)

// PullOptions are the settings of one pull.
type PullOptions struct {
	Identities  crypt.Identities
	ZipPassword []byte
	// Dir is the directory the CSV is written into.
	Dir         string
	Concurrency int
	// Limit caps the download's bytes per second (shared by every pull
	// given the same limiter); nil: no cap.
	Limit *transfer.RateLimiter
	// All: the name came from Pending; one another run pulled meanwhile,
	// or is pulling right now, is skipped.
	All bool
	// ShredAfter records the pull as waiting for its shred (see
	// PlanShredPulled), which a later Pending finds if it never happens.
	ShredAfter bool
	// Limits bound the CSV written (see CheckOutput).
	Limits OutputLimits
	// ETag is the version of the file Pending listed, which a puller of a
	// group claims (Exchange.Group); "" claims the current one.
	ETag string
}

// ErrPulledMeanwhile: another run pulled the file while this one was
// downloading it (PullResult.Skipped).
var ErrPulledMeanwhile = errors.New("pulled meanwhile by another run")

// ErrBusy: another run is pulling the file right now (PullResult.Skipped).
var ErrBusy = errors.New("another xfer is pulling it right now")

// PullResult is what a pull did.
type PullResult struct {
	Name, Key string
	// Skipped, when not nil, says why nothing was pulled with All:
	// ErrPulledMeanwhile or ErrBusy.
	Skipped error
	// Output is the CSV's path; on a failure, the one that was refused.
	Output string
	// Already: Output held this very CSV already (a run killed after
	// writing it and before recording it); nothing was written.
	Already     bool
	Bytes       int64 // of the CSV
	ObjectBytes int64 // of the sealed object
	Resumed     int64 // of the object, downloaded by an earlier run
	ETag        string
	Verified    bool   // the download was checked against the server's checksum
	SHA256      []byte // of the sealed object
	Rows        int64  // as the manifest says; 0 without one
	Opened      *seal.Opened
}

// Pull fetches name (as Fetch), opens both layers and writes the CSV into
// o.Dir under the name its sender gave it, committed only when every
// check passed; an existing file is never overwritten (fs.ErrExist), and
// a CSV larger than o.Limits or the free space allow is never begun
// (ErrTooLarge). Then it records the pull in the pull state and leaves a
// receipt in the exchange; failing either is a warning. After a failure a
// re-run can fix (a wrong key or password, an existing CSV, a limit, an
// interruption) the verified download stays in the spool; damaged content
// goes at once.
//
// The object is opened while it downloads: its outer layer decrypted, the
// zip entry decrypted, inflated and hashed into the 0600 temporary file as
// the bytes arrive in order (the download fetches the object's tail
// second, for the zip's directory and the outer layer's final chunk).
// Nothing of it is trusted until the download has ended verified against
// the server's checksum: an opening that failed meanwhile is judged only
// then (the download's own error, say an interruption or a checksum
// mismatch, comes first), and one that read bytes of a download that
// started over is done again from the verified spool. An interrupted pull
// therefore restarts the same way as before: the download resumes from
// its journal, and the opening starts at the beginning of the object,
// reading what the spool holds at disk speed and then following the
// network.
//
// A puller of a group (Exchange.Group) first claims the file (see Claim)
// and skips it when another puller of the group holds it or pulled it
// (PullResult.Skipped: ErrClaimed, ErrPulledMeanwhile); after the
// receipt, it marks the claim done. A failed pull gives the claim up.
func (x *Exchange) Pull(ctx context.Context, name string, o PullOptions, rep Reporter) (*PullResult, error) {
	rep = orQuiet(rep)
	if !x.Pulling() {
		return x.pull(ctx, name, o, nil, rep)
	}
	etag := o.ETag
	if etag == "" {
		info, err := x.Store.Head(ctx, x.Key(name))
		if err != nil {
			return &PullResult{Name: name, Key: x.Key(name)}, err
		}
		etag = info.ETag
	}
	hold, wctx, err := x.Claim(ctx, name, etag)
	if errors.Is(err, ErrClaimed) || errors.Is(err, ErrPulledMeanwhile) {
		return &PullResult{Name: name, Key: x.Key(name), Skipped: err}, nil
	}
	if err != nil {
		return &PullResult{Name: name, Key: x.Key(name)}, fmt.Errorf("claiming %s: %w", name, err)
	}
	if old := hold.TookOver; old != nil && old.ETag == hold.Claim.ETag {
		// An expired claim on this very version (not one on a version
		// since replaced): said here, as the done claim keeps no names
		// (see doneClaim).
		rep.Warn("%s: took over the claim of %s, whose lease had run out (that puller died or lost the exchange)", name, old.Holder())
	}
	res, err := x.pull(wctx, name, o, hold, rep)
	if errors.Is(context.Cause(wctx), ErrClaimLost) {
		res.Skipped, err = ErrClaimLost, nil
	}
	if err != nil || res.Skipped != nil {
		// Given up even when ctx was cancelled (a signal), but not for
		// long: unreleased, the claim still ends with its lease.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if rerr := hold.Release(rctx); rerr != nil {
			rep.Warn("%s: could not give up the claim (it holds until its lease ends): %v", name, rerr)
		}
		return res, err
	}
	if err := hold.Complete(ctx); err != nil {
		rep.Warn("%s: pulled, but the claim could not be marked done (another puller of the group may pull it again): %v", name, err)
	}
	return res, nil
}

// releaseTimeout bounds giving a claim up after a failed pull.
const releaseTimeout = 30 * time.Second

// pull is Pull of a file claimed as hold (nil: no group).
func (x *Exchange) pull(ctx context.Context, name string, o PullOptions, hold *Hold, rep Reporter) (*PullResult, error) {
	res := &PullResult{Name: name, Key: x.Key(name)}
	fx, err := x.startFetch(ctx, name, FetchOptions{Concurrency: o.Concurrency, Limit: o.Limit}, rep)
	if errors.Is(err, transfer.ErrSpoolBusy) && o.All {
		res.Skipped = ErrBusy
		return res, nil
	}
	if err != nil {
		return res, err
	}
	var w *opening
	st, err := fx.Stream()
	if err == nil {
		w = openInto(ctx, st, st.Size(), o)
	}
	d, err := fx.wait()
	if err != nil {
		w.abort()
		return res, err
	}
	// The verified spool is kept until the CSV is committed, so that a
	// re-run after a wrong key or an existing output downloads nothing;
	// damaged content is worth nothing and goes at once.
	keep := true
	defer func() {
		if keep {
			d.Release()
		} else {
			d.Remove()
		}
	}()
	if st == nil || !st.Current() {
		// The download started over after the opening began: what it
		// read may be of no version of the object. Open the verified
		// spool instead.
		w.abort()
		w = openInto(ctx, d, d.Size(), o)
	}
	defer w.abort()
	key, etag := res.Key, d.Info.ETag
	res.ETag, res.ObjectBytes, res.Resumed, res.Verified, res.SHA256 = etag, d.Size(), d.Resumed, d.Verified, d.SHA256
	if hold != nil && hold.Claim.ETag != strings.Trim(etag, `"`) {
		// Replaced since it was listed: the claim is for the old version;
		// the next run claims the new one.
		res.Skipped = ErrReplaced
		return res, nil
	}
	if w.opened == nil {
		keep = !seal.IsDamaged(w.err)
		return res, w.err
	}
	rep.Step("%s: opened the outer layer and the zip in %s", name, w.openTook.Round(time.Millisecond))
	res.Opened, res.Output = w.opened, w.out
	state := x.pullState()
	if o.All && hold == nil {
		// A group's claims say what was pulled; alone, the local state.
		if pulled, err := state.has(key, etag); err == nil && pulled {
			keep = false
			res.Skipped = ErrPulledMeanwhile
			return res, nil
		}
	}
	if w.err != nil {
		keep = !seal.IsDamaged(w.err)
		return res, w.err
	}
	res.Already, res.Bytes = w.already, w.bytes
	if !w.already {
		err := w.f.Commit() // removes its temporary file when it fails
		w.f = nil
		switch {
		case errors.Is(err, fs.ErrExist) && matchesManifest(w.out, w.opened):
			// Another pull of this run (--jobs) wrote the same CSV, byte
			// for byte, since this one began: as if it had been there.
			res.Already = true
		case err != nil:
			return res, err
		default:
			rep.Step("%s: decrypted, checked and wrote %s, %d bytes, in %s (while it downloaded)", name, w.out, res.Bytes, w.took.Round(time.Millisecond))
		}
	}
	keep = false
	entry := pulledEntry{Ident: x.Ident, Key: key, ETag: etag, File: w.out, ShredPending: o.ShredAfter}
	if m, _ := w.opened.Manifest(); m != nil {
		res.Rows, entry.ManifestExpires = m.Rows, m.Expires
	}
	now := time.Now().UTC()
	entry.PulledAt = now
	if err := state.add(entry); err != nil {
		rep.Warn("%s: could not record the pull in %s (a later pull --all will try it again): %v", name, state.path, err)
	}
	if err := x.putReceipt(ctx, name, d, now); err != nil {
		rep.Warn("%s: could not leave a receipt in the exchange: %v", name, err)
	} else {
		rep.Step("%s: recorded the pull and left a receipt in the exchange", name)
	}
	return res, nil
}

// PullPlan is what a pull of one file would do (PlanPull).
type PullPlan struct {
	Name, Key, ETag string
	Size            int64 // of the sealed object
	// Output is the CSV the pull would write: the name without its sealed
	// suffix in o.Dir, as send names objects after their files. (The
	// pull itself goes by the name sealed inside the file.)
	Output string
	// OutputExists: a file is there already, which the pull would not
	// overwrite.
	OutputExists bool
}

// PlanPull is Pull's dry run: it looks the object up and names the CSV it
// would write, and downloads, writes and records nothing.
func (x *Exchange) PlanPull(ctx context.Context, name string, o PullOptions) (*PullPlan, error) {
	info, err := x.Store.Head(ctx, x.Key(name))
	if err != nil {
		return nil, err
	}
	return x.PlanListed(Pulled{Name: name, ETag: info.ETag, Size: info.Size}, o), nil
}

// PlanListed is PlanPull of a file as Pending listed it, which asks the
// server nothing: a dry run of pull --all over 100,000 files makes no
// request per file.
func (x *Exchange) PlanListed(f Pulled, o PullOptions) *PullPlan {
	csv := safefile.PortableName(path.Base(strings.TrimSuffix(strings.TrimSuffix(f.Name, ".zip.age"), ".zip.aes")), "unnamed.csv")
	p := &PullPlan{Name: f.Name, Key: x.Key(f.Name), ETag: f.ETag, Size: f.Size, Output: filepath.Join(o.Dir, csv)}
	if _, err := os.Lstat(p.Output); err == nil {
		p.OutputExists = true
	}
	return p
}

// opening is a sealed file opened into a CSV that is not committed yet.
type opening struct {
	opened *seal.Opened // nil when the outer layer or the zip did not open
	out    string       // the CSV's path
	// f holds the CSV, uncommitted; nil when already is set.
	f *safefile.File
	// already: out holds this very CSV already (see PullResult.Already).
	already bool
	bytes   int64 // of the CSV
	err     error
	// openTook and took time the opening and the whole pass, for -v.
	openTook, took time.Duration
}

// openInto opens the sealed file in src and writes its CSV into a
// temporary file for o.Dir, in one pass: the result is worth nothing
// until the caller knows src was what the server holds. The checks are
// those of every pull: both layers' authentication, the zip's directory,
// the manifest's size, SHA-256 and rows, o.Limits.
func openInto(ctx context.Context, src io.ReaderAt, size int64, o PullOptions) *opening {
	w := &opening{}
	start := time.Now()
	defer func() { w.took = time.Since(start) }()
	opened, err := seal.Open(src, size, o.Identities, o.ZipPassword)
	w.openTook = time.Since(start)
	if err != nil {
		w.err = err
		return w
	}
	w.opened, w.out = opened, filepath.Join(o.Dir, opened.Name())
	f, err := safefile.Create(w.out)
	switch {
	case errors.Is(err, fs.ErrExist) && matchesManifest(w.out, opened):
		// The CSV this file holds is there already, byte for byte: a
		// run killed after writing it and before recording it.
		w.already = true
		if fi, err := os.Stat(w.out); err == nil {
			w.bytes = fi.Size()
		}
	case err != nil:
		w.err = err
	default:
		w.f = f
		f.Direct() // a CSV of any size, flushed before it is named
		if err := CheckOutput(opened, o.Dir, o.Limits); err != nil {
			w.err = err // the verified download stays for a run with other limits
			return w
		}
		// One pass: f is a 0600 temporary file (nameless on Linux) that
		// becomes the CSV only if the whole entry authenticates.
		w.bytes, w.err = opened.WriteOnceTo(ContextWriter{ctx, f})
	}
	return w
}

// abort discards the uncommitted CSV, if any.
func (w *opening) abort() {
	if w != nil && w.f != nil {
		w.f.Abort()
		w.f = nil
	}
}

// ContextWriter stops a long write (decrypting into a CSV) at the first
// signal: its Write fails once Ctx is cancelled, so the caller aborts the
// temporary output instead of finishing it, and no impatient second
// Ctrl-C is needed (which would kill the process before it could remove
// the temporary file).
type ContextWriter struct {
	Ctx context.Context
	W   io.Writer
}

func (c ContextWriter) Write(p []byte) (int, error) {
	if err := context.Cause(c.Ctx); err != nil {
		return 0, err
	}
	return c.W.Write(p)
}

// Pulled is a sealed file in the exchange, by name and ETag, with its
// size as listed.
type Pulled struct {
	Name, ETag string
	Size       int64
}

// PendingList is what a pull of everything has to do.
type PendingList struct {
	// New are the sealed files not pulled before (by name and ETag: a
	// file replaced by a new upload is new).
	New []Pulled
	// Unshredded were pulled with ShredAfter but are still there: that
	// shred was interrupted or failed (only asked for with shredAfter).
	Unshredded []Pulled
	// Claimed are held by other pullers of the group right now (only
	// with Exchange.Group).
	Claimed []*Claim
	// Already counts the files pulled before (by this puller, or with a
	// group, by the group); Others the objects under the prefix that are
	// no sealed files.
	Already, Others int
}

// Pending lists what a pull of everything under the prefix has to do:
// alone, by the local pull state; with a group (Exchange.Group), by the
// group's claims in the exchange, listed with the files, so that any
// puller of the group, a new machine too, knows what the group pulled. A
// done claim is known by its ETag as listed (see doneClaim); a claim is
// read only when that does not tell and the local cache (ClaimsFile) does
// not know it done already: the claims held, in practice. So the requests
// are the listing's pages, whatever the number of files.
func (x *Exchange) Pending(ctx context.Context, shredAfter bool) (*PendingList, error) {
	state := x.pullState()
	pulled, pending, err := state.load()
	if err != nil {
		return nil, err
	}
	var (
		l      PendingList
		sealed []transfer.ObjectInfo
		claims = map[string]transfer.ObjectInfo{}
		inDir  = InternalDir + claimsDir + x.Group + "/"
	)
	if err := x.listObjects(ctx, func(obj transfer.ObjectInfo) error {
		switch {
		case x.IsInternal(obj.Key):
			if x.Pulling() && strings.Contains(obj.Key, inDir) {
				claims[obj.Key] = obj
			}
		case !IsSealedName(obj.Key):
			l.Others++
		default:
			sealed = append(sealed, obj)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	done, err := x.groupDone(ctx, sealed, claims, &l)
	if err != nil {
		return nil, err
	}
	for i, obj := range sealed {
		k := stateKey(x.Ident, obj.Key, obj.ETag)
		switch {
		case done == nil && pulled[k], done != nil && done[i] == claimDone:
			l.Already++
			if shredAfter && pending[k] {
				// Pulled with --shred-after, but still here: that
				// shred was interrupted or failed. Finish it.
				l.Unshredded = append(l.Unshredded, Pulled{x.Name(obj.Key), obj.ETag, obj.Size})
			}
		case done != nil && done[i] == claimHeld:
		default:
			l.New = append(l.New, Pulled{x.Name(obj.Key), obj.ETag, obj.Size})
		}
	}
	return &l, nil
}

type claimState int

const (
	claimFree claimState = iota // no claim, or one that no longer holds
	claimHeld                   // another puller holds it (PendingList.Claimed)
	claimDone                   // the group pulled this version
)

// pendingReads is how many claims Pending reads at once.
const pendingReads = 16

// groupDone returns the state of each of sealed in the group's claims
// (nil when pulling alone), and adds the claims held to l.
func (x *Exchange) groupDone(ctx context.Context, sealed []transfer.ObjectInfo, claims map[string]transfer.ObjectInfo, l *PendingList) ([]claimState, error) {
	if !x.Pulling() {
		return nil, nil
	}
	cache := x.claimCache()
	known := cache.load()
	out := make([]claimState, len(sealed))
	held := make([]*Claim, len(sealed))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pendingReads)
	now := x.now()
	for i, obj := range sealed {
		ck := ClaimKey(obj.Key, x.Group)
		ci, ok := claims[ck]
		if !ok {
			continue
		}
		etag := strings.Trim(obj.ETag, `"`)
		if known[claimCacheKey(ck, ci.ETag)] == etag || isDoneClaim(ci.ETag, obj.Key, etag, x.Group) {
			out[i] = claimDone
			continue
		}
		g.Go(func() error {
			c, err := ReadClaim(gctx, x.Store, ck)
			switch {
			case errors.Is(err, transfer.ErrNotFound) || err != nil && isDecodeError(err):
				return nil // gone meanwhile, or unreadable: free to claim
			case err != nil:
				return err
			case c.ETag != etag:
				return nil // for an earlier version
			case c.Done:
				out[i] = claimDone
				// The ETag listed may be older than what was read; then
				// the entry is never matched, and costs nothing.
				cache.add(claimEntry{Ident: x.Ident, Claim: ck, ClaimETag: ci.ETag, ETag: etag})
			case !c.Expired(now):
				out[i], held[i] = claimHeld, c
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, c := range held {
		if c != nil {
			l.Claimed = append(l.Claimed, c)
		}
	}
	return out, nil
}

// ErrReplaced: the file was replaced (or deleted) in the exchange since
// it was pulled or listed, so it is not shredded.
var ErrReplaced = errors.New("replaced in the exchange")

type replacedError struct{ msg string }

func (e replacedError) Error() string        { return e.msg }
func (e replacedError) Is(target error) bool { return target == ErrReplaced }

// PlanShredPulled plans the shred of name after its version etag was
// pulled and its CSV written: only what was pulled goes. If the sender has
// uploaded a new version since, nothing does (ErrReplaced; the next pull
// takes it), and an upload still in progress is kept either way. Once the
// shred succeeded, RecordShredded closes the pull in the state.
func (x *Exchange) PlanShredPulled(ctx context.Context, name, etag string) (*ShredPlan, error) {
	plan, err := x.PlanShred(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("pulled, but not shredded: %w", err)
	}
	if !LatestIs(plan.Versions, etag) {
		return nil, replacedError{fmt.Sprintf("pulled, but not shredded: %s was replaced in the exchange while it was being pulled", name)}
	}
	plan.Uploads = nil
	return plan, nil
}

// RecordShredded records in the pull state that the pull of name's
// version etag was shredded, so no later Pending finds it unshredded.
func (x *Exchange) RecordShredded(name, etag string) error {
	s := x.pullState()
	if err := s.add(pulledEntry{Ident: x.Ident, Key: x.Key(name), ETag: etag, Shredded: true}); err != nil {
		return fmt.Errorf("could not record the shred in %s: %w", s.path, err)
	}
	return nil
}

// LatestIs reports whether the current version among versions is an
// object (not a delete marker) with the given ETag.
func LatestIs(versions []transfer.Version, etag string) bool {
	for _, v := range versions {
		if v.IsLatest {
			return !v.DeleteMarker && strings.Trim(v.ETag, `"`) == strings.Trim(etag, `"`)
		}
	}
	return false
}

// PulledStateFile records what pull has pulled, one JSON object a line,
// in StateDir.
const PulledStateFile = "pulled.jsonl"

func (x *Exchange) pullState() *pullState {
	return &pullState{path: filepath.Join(x.StateDir, PulledStateFile), ident: x.Ident}
}

// pullState is the local record of what was pulled. Lines are appended
// with O_APPEND, one write each, so overlapping runs never interleave
// them; a line that does not parse is ignored.
type pullState struct {
	path  string
	ident string
}

type pulledEntry struct {
	Ident    string    `json:"exchange"`
	Key      string    `json:"key"`
	ETag     string    `json:"etag"`
	PulledAt time.Time `json:"pulled_at"`
	File     string    `json:"file"`
	// ShredPending: pulled with --shred-after, not yet shredded; a later
	// entry with Shredded set closes it.
	ShredPending bool `json:"shred_pending,omitempty"`
	Shredded     bool `json:"shredded,omitempty"`
	// ManifestExpires is the expiry the sealed file's manifest gave,
	// authenticated, for list and sweep to set against the metadata's.
	ManifestExpires *time.Time `json:"manifest_expires,omitempty"`
}

func stateKey(ident, key, etag string) string { return ident + "\x00" + key + "\x00" + etag }

// load returns the set of stateKeys pulled, and of those whose
// --shred-after has not been done yet.
func (s *pullState) load() (pulled, pending map[string]bool, err error) {
	st, err := s.read()
	if err != nil {
		return nil, nil, err
	}
	return st.pulled, st.pending, nil
}

// pulledSet is what the pull state holds, by stateKey.
type pulledSet struct {
	pulled, pending map[string]bool
	expires         map[string]time.Time // the manifests' expiries
}

func (s *pullState) read() (*pulledSet, error) {
	st := &pulledSet{pulled: map[string]bool{}, pending: map[string]bool{}, expires: map[string]time.Time{}}
	pulled, pending := st.pulled, st.pending
	err := readLines(s.path, func(b []byte) {
		var e pulledEntry
		if json.Unmarshal(b, &e) != nil || e.Ident != s.ident {
			return
		}
		k := stateKey(e.Ident, e.Key, e.ETag)
		if e.ManifestExpires != nil {
			st.expires[k] = *e.ManifestExpires
		}
		switch {
		case e.Shredded:
			delete(pending, k)
		case e.ShredPending:
			pulled[k], pending[k] = true, true
		default:
			pulled[k] = true
		}
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (s *pullState) add(e pulledEntry) error { return appendLine(s.path, e) }

// has reports whether the state records a pull of version etag of key,
// as load's pulled set would. It parses only the lines that hold the key
// (a substring search first), so that a pull --all checking each file
// before it commits the CSV costs little with 100,000 lines.
func (s *pullState) has(key, etag string) (bool, error) {
	quoted, err := json.Marshal(key) // as appendLine wrote it
	if err != nil {
		return false, err
	}
	found := false
	err = readLines(s.path, func(b []byte) {
		if !bytes.Contains(b, quoted) {
			return
		}
		var e pulledEntry
		if json.Unmarshal(b, &e) == nil && e.Ident == s.ident && e.Key == key && e.ETag == etag && !e.Shredded {
			found = true
		}
	})
	return found, err
}

// readLines calls fn with each line of the file at path; a missing file
// has none.
func readLines(path string, fn func([]byte)) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	return sc.Err()
}

// appendLine appends v as one JSON line to the 0600 file at path, with
// O_APPEND and one write, so overlapping runs never interleave lines; the
// pulls of one run working on several files at once take turns.
func appendLine(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	appendMu.Lock()
	defer appendMu.Unlock()
	f, err := fileperm.OpenPrivate(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// appendMu makes the appends of one process (several pulls at once) take
// turns.
var appendMu sync.Mutex

// matchesManifest reports whether the file at path is the CSV the opened
// file's manifest describes, checked as an extracted CSV is (size, SHA-256,
// rows). Without a manifest nothing can be said, and an existing file
// stays a refusal.
func matchesManifest(path string, o *seal.Opened) bool {
	m, err := o.Manifest()
	if err != nil || m == nil {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != m.CSVBytes {
		return false
	}
	return m.Describes(f)
}
