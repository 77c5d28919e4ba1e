package exchange

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

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
func (x *Exchange) Pull(ctx context.Context, name string, o PullOptions, rep Reporter) (*PullResult, error) {
	rep = orQuiet(rep)
	res := &PullResult{Name: name, Key: x.Key(name)}
	d, err := x.Fetch(ctx, name, FetchOptions{Concurrency: o.Concurrency, Limit: o.Limit}, rep)
	if errors.Is(err, transfer.ErrSpoolBusy) && o.All {
		res.Skipped = ErrBusy
		return res, nil
	}
	if err != nil {
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
	key, etag := res.Key, d.Info.ETag
	res.ETag, res.ObjectBytes, res.Resumed, res.Verified, res.SHA256 = etag, d.Size(), d.Resumed, d.Verified, d.SHA256
	opened, err := seal.Open(d, d.Size(), o.Identities, o.ZipPassword)
	if err != nil {
		keep = !seal.IsDamaged(err)
		return res, err
	}
	res.Opened = opened
	out := filepath.Join(o.Dir, opened.Name())
	res.Output = out
	state := x.pullState()
	if o.All {
		if pulled, _, err := state.load(); err == nil && pulled[stateKey(x.Ident, key, etag)] {
			keep = false
			res.Skipped = ErrPulledMeanwhile
			return res, nil
		}
	}
	f, err := safefile.Create(out)
	switch {
	case errors.Is(err, fs.ErrExist) && matchesManifest(out, opened):
		// The CSV this file holds is there already, byte for byte: a
		// run killed after writing it and before recording it.
		res.Already = true
		fi, _ := os.Stat(out)
		res.Bytes = fi.Size()
	case err != nil:
		return res, err
	default:
		defer f.Abort()
		if err := CheckOutput(opened, o.Dir, o.Limits); err != nil {
			return res, err // the verified download stays for a run with other limits
		}
		// One pass: f is a 0600 temporary file (nameless on Linux) that
		// becomes the CSV only if the whole entry authenticates.
		if res.Bytes, err = opened.WriteOnceTo(ContextWriter{ctx, f}); err != nil {
			keep = !seal.IsDamaged(err)
			return res, err
		}
		if err := f.Commit(); err != nil {
			return res, err
		}
	}
	keep = false
	entry := pulledEntry{Ident: x.Ident, Key: key, ETag: etag, File: out, ShredPending: o.ShredAfter}
	if m, _ := opened.Manifest(); m != nil {
		res.Rows, entry.ManifestExpires = m.Rows, m.Expires
	}
	now := time.Now().UTC()
	entry.PulledAt = now
	if err := state.add(entry); err != nil {
		rep.Warn("%s: could not record the pull in %s (a later pull --all will try it again): %v", name, state.path, err)
	}
	if err := x.putReceipt(ctx, name, d, now); err != nil {
		rep.Warn("%s: could not leave a receipt in the exchange: %v", name, err)
	}
	return res, nil
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

// Pulled is a sealed file in the exchange, by name and ETag.
type Pulled struct{ Name, ETag string }

// PendingList is what a pull of everything has to do.
type PendingList struct {
	// New are the sealed files not pulled before (by name and ETag: a
	// file replaced by a new upload is new).
	New []Pulled
	// Unshredded were pulled with ShredAfter but are still there: that
	// shred was interrupted or failed (only asked for with shredAfter).
	Unshredded []Pulled
	// Already counts the files pulled before; Others the objects under
	// the prefix that are no sealed files.
	Already, Others int
}

// Pending lists what a pull of everything under the prefix has to do.
func (x *Exchange) Pending(ctx context.Context, shredAfter bool) (*PendingList, error) {
	state := x.pullState()
	pulled, pending, err := state.load()
	if err != nil {
		return nil, err
	}
	var l PendingList
	if err := x.Store.List(ctx, x.Prefix, func(obj transfer.ObjectInfo) error {
		k := stateKey(x.Ident, obj.Key, obj.ETag)
		switch {
		case x.IsInternal(obj.Key):
		case !IsSealedName(obj.Key):
			l.Others++
		case pulled[k]:
			l.Already++
			if shredAfter && pending[k] {
				// Pulled with --shred-after, but still here: that
				// shred was interrupted or failed. Finish it.
				l.Unshredded = append(l.Unshredded, Pulled{x.Name(obj.Key), obj.ETag})
			}
		default:
			l.New = append(l.New, Pulled{x.Name(obj.Key), obj.ETag})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return &l, nil
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
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e pulledEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Ident != s.ident {
			continue
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
	}
	return st, sc.Err()
}

func (s *pullState) add(e pulledEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := fileperm.OpenPrivate(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
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
