package transfer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// UploadOptions configure Upload.
type UploadOptions struct {
	// Key is the object's full key (prefix included).
	Key string
	// Metadata and ContentType go on the object. Upload adds its own
	// "xfer-upload" entry, a random token it uses to recognise the object
	// after a completion whose reply got lost.
	Metadata    map[string]string
	ContentType string
	// Overwrite allows replacing an existing object. Without it Upload
	// fails with ErrPreconditionFailed, before sending anything when it
	// can tell, and at the latest at completion, which is conditional.
	Overwrite bool

	// PartSize fixes the part size (at least MinPartSize); 0 chooses one
	// from the spool's size, or from SizeHint while the spool still grows.
	// A resumed upload keeps the part size it started with.
	PartSize int64
	// SizeHint is an estimate of the final spool size, for a spool still
	// being written: the input file's size is a good one. The part size
	// is fixed from it up front, with room for the sealing overhead.
	SizeHint int64
	// Concurrency is how many parts are sent at once (default 4). Each
	// part streams from the spool file, so memory does not grow with the
	// part size.
	Concurrency int
	// Limit caps the bytes per second sent, over all parts in flight (and
	// every other transfer sharing the limiter); nil means no cap. Bytes
	// sent again on a retry count again.
	Limit *RateLimiter

	// Progress receives progress; nil means none.
	Progress Progress
}

// UploadResult describes a completed upload.
type UploadResult struct {
	Key       string
	Size      int64
	ETag      string
	VersionID string
	UploadID  string
	Parts     int
	PartSize  int64
	// Resumed is how many bytes were already on the server from an
	// earlier run and were not sent again.
	Resumed int64
}

// Progress receives the progress of an upload. Calls come from several
// goroutines, possibly often: implementations must be safe for concurrent
// use and cheap (throttle drawing yourself).
type Progress interface {
	// Progress reports the bytes stored so far (done, which includes
	// resumed), how many of them were already on the server when this run
	// started (resumed), and the total, or -1 while the spool still grows.
	// done may go down when a part is retried from its start.
	Progress(done, resumed, total int64)
}

type noProgress struct{}

func (noProgress) Progress(int64, int64, int64) {}

// DefaultConcurrency is the number of parts sent at once by default: the
// work is network-bound, and four parts keep a link busy without loading
// two cores.
const DefaultConcurrency = 4

// defaultMinPartSize is the smallest part size Upload chooses by itself:
// larger than S3's minimum to make fewer requests.
const defaultMinPartSize = 8 << 20

// ChoosePartSize returns the part size for a file of about size bytes:
// at least 8 MiB, a whole number of MiB, and large enough that the file
// fits in MaxParts parts with 10% to spare for an estimate that falls short.
func ChoosePartSize(size int64) int64 {
	const mib = 1 << 20
	need := (size + size/10) / MaxParts
	ps := max(int64(defaultMinPartSize), (need+mib-1)/mib*mib)
	return min(ps, MaxPartSize)
}

// journalInterval bounds how often the journal is rewritten while parts
// complete: the server's part list is the truth on resume, so a few parts
// missing from the journal cost nothing.
const journalInterval = time.Second

// Upload sends the spool to opts.Key as a multipart upload and returns
// when the object is complete, or on the first error.
//
// The spool may still be growing: parts are sent as soon as their bytes
// are written, and the upload completes once the spool is closed. The part
// size is fixed up front (see UploadOptions.PartSize and SizeHint).
//
// The journal next to the spool records the upload as it goes. If an
// earlier run left an upload for the same spool (OpenSpool), Upload
// reconciles with the server's part list and sends only the parts that are
// missing or whose checksum does not match the spool's bytes; stale uploads
// recorded by CreateSpool are aborted first.
//
// On success the object is complete, the spool and journal are removed and
// no unfinished upload is left. When sealing failed (CloseWithError, or
// Close could not record the spool as sealed) and ctx is not cancelled,
// the upload is aborted and spool and journal removed (see Discard). On
// other failures both stay for the next run, and the error wraps ErrInterrupted when trying again may succeed (network or
// server trouble, cancellation, the upload vanished) or the Store's category (ErrAccessDenied,
// ErrPreconditionFailed, ...) when it will not. When the network fails
// while the spool is still being sealed, Upload waits for sealing to finish
// (unless ctx is cancelled) so the next run needs no sealing.
//
// Upload does not release the spool: the caller does, when its sealer has
// stopped writing.
func Upload(ctx context.Context, store Store, sp *Spool, opts UploadOptions) (UploadResult, error) {
	u := &uploader{store: store, sp: sp, opts: opts, progress: opts.Progress}
	if u.progress == nil {
		u.progress = noProgress{}
	}
	if u.opts.Concurrency <= 0 {
		u.opts.Concurrency = DefaultConcurrency
	}
	if opts.PartSize != 0 && (opts.PartSize < MinPartSize || opts.PartSize > MaxPartSize) {
		return UploadResult{}, fmt.Errorf("part size %d out of range [%d, %d]", opts.PartSize, MinPartSize, MaxPartSize)
	}
	if opts.Key == "" {
		return UploadResult{}, errors.New("upload: no key")
	}
	res, err := u.run(ctx)
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	if u.sealingFailed() {
		// The spool is worthless, and so is any upload of it, whichever
		// of the two failed first: a journal write the full disk refused
		// after CreateUpload, say, with the sealer's next write refused
		// too. (A cancelled ctx keeps both instead: see run.)
		_ = u.sp.Discard(ctx, u.store)
		return res, err
	}
	if errors.Is(err, ErrUnreachable) && u.abandon(err) {
		// Nothing of this spool ever reached the server: most likely a
		// wrong endpoint, whose spool a corrected run would never find
		// (spools are named after the exchange). There is nothing to
		// resume, so no spool is left behind. (A refusal by the server,
		// access denied say, keeps the sealed spool for the re-run once
		// the credentials are fixed.)
		return res, err
	}
	// A vanished upload (aborted by someone, expired) is no reason to
	// give up: the next run starts a new one from the same spool.
	if IsTransient(err) || errors.Is(err, ErrNoSuchUpload) {
		// Let sealing finish, so the next run resumes from the spool.
		_, _, _ = sp.wait(ctx, 1<<62)
		if ctx.Err() != nil {
			return res, fmt.Errorf("%w: %w", ErrInterrupted, errors.Join(err, ctx.Err()))
		}
		return res, fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	return res, err
}

type uploader struct {
	store    Store
	sp       *Spool
	opts     UploadOptions
	progress Progress

	uploadID string
	partSize int64
	// have are the parts found on the server at the start, by number,
	// trusted when their checksum matches the spool.
	have map[int]Part

	mu          sync.Mutex
	parts       map[int]Part
	done        int64 // bytes stored, including those being sent now
	resumed     int64
	lastJournal time.Time
}

func (u *uploader) run(ctx context.Context) (UploadResult, error) {
	resumed, err := u.resume(ctx)
	var done *alreadyComplete
	if err != nil && !errors.As(err, &done) {
		return UploadResult{}, err
	}
	if err := u.abortStale(ctx); err != nil {
		return UploadResult{}, err
	}
	if done != nil {
		size, _ := u.sp.state()
		res := UploadResult{Key: u.opts.Key, Size: size, ETag: done.info.ETag, VersionID: done.info.VersionID, Resumed: size}
		u.mu.Lock()
		u.done, u.resumed = size, size
		u.mu.Unlock()
		u.report()
		return res, u.sp.remove()
	}
	if !resumed {
		if err := u.create(ctx); err != nil {
			return UploadResult{}, err
		}
	}
	if err := u.sendParts(ctx); err != nil {
		// Sealing failed: Upload discards spool and upload. (Cancelled
		// while sealing, both stay: an abort with the cancelled ctx would
		// fail and orphan the upload, while the journal lets the next run
		// abort it as stale.)
		return UploadResult{}, err
	}
	return u.complete(ctx)
}

// sealingFailed reports whether the spool was closed with an error.
func (u *uploader) sealingFailed() bool {
	u.sp.mu.Lock()
	defer u.sp.mu.Unlock()
	return u.sp.err != nil
}

// abandon gives up a spool the server holds nothing of: no upload of it
// was started (or might have been: a CreateUpload whose reply was lost),
// and no earlier upload waits to be aborted. Sealing is stopped (its next
// Write fails with err) and spool and journal are removed. It reports
// whether it did so.
func (u *uploader) abandon(err error) bool {
	u.sp.mu.Lock()
	j := u.sp.j
	if u.uploadID != "" || j.UploadID != "" || j.Pending != nil || j.Recheck != nil || len(j.Stale) > 0 {
		u.sp.mu.Unlock()
		return false
	}
	if !u.sp.final {
		u.sp.err, u.sp.final = err, true
		u.sp.notify()
	}
	u.sp.mu.Unlock()
	return u.sp.remove() == nil
}

// abortStale aborts the uploads of earlier runs whose spool is gone.
func (u *uploader) abortStale(ctx context.Context) error {
	var stale []uploadRef
	u.sp.mu.Lock()
	stale = slices.Clone(u.sp.j.Stale)
	u.sp.mu.Unlock()
	if len(stale) == 0 {
		return nil
	}
	var keep []uploadRef
	for _, s := range stale {
		if s.Bucket != u.store.Bucket() {
			// Another bucket: not ours to reach; the bucket's lifecycle
			// rule for unfinished uploads removes it.
			continue
		}
		if err := u.store.AbortUpload(ctx, s.Key, s.UploadID); err != nil {
			if IsTransient(err) || ctx.Err() != nil {
				return err
			}
			// Permanent (access denied, say): keep it for a later try.
			keep = append(keep, s)
		}
	}
	return u.sp.saveJournal(func(j *journal) { j.Stale = keep })
}

// resume picks up the journal's upload, if it is for this bucket and key.
func (u *uploader) resume(ctx context.Context) (bool, error) {
	u.sp.mu.Lock()
	j := u.sp.j
	ref, ok := j.upload()
	partSize, token := j.PartSize, j.Token
	journalParts := slices.Clone(j.Parts)
	u.sp.mu.Unlock()
	if !ok {
		return false, nil
	}
	if ref.Bucket != u.store.Bucket() || ref.Key != u.opts.Key || partSize < MinPartSize {
		// Sent elsewhere before: start afresh, abort the old one later.
		return false, u.sp.saveJournal(func(j *journal) { j.forgetUpload() })
	}
	serverParts, err := u.store.ListParts(ctx, ref.Key, ref.UploadID)
	if errors.Is(err, ErrNoSuchUpload) {
		// Gone: completed by an earlier run whose reply got lost, or
		// aborted, or expired.
		if info, herr := u.store.Head(ctx, ref.Key); herr == nil && token != "" && info.Metadata[tokenKey] == token {
			return false, &alreadyComplete{info: info}
		} else if herr != nil && !errors.Is(herr, ErrNotFound) {
			return false, herr
		}
		return false, u.sp.saveJournal(func(j *journal) {
			j.Bucket, j.Key, j.UploadID, j.Token, j.Parts = "", "", "", "", nil
		})
	}
	if err != nil {
		return false, err
	}
	// A part is trusted with the server's checksum, or, where the server
	// keeps none, with the journal's when the ETags agree.
	fromJournal := map[int]Part{}
	for _, p := range journalParts {
		fromJournal[p.Number] = p
	}
	u.have = map[int]Part{}
	for _, p := range serverParts {
		if p.Checksum == "" {
			jp, ok := fromJournal[p.Number]
			if !ok || jp.ETag != p.ETag || jp.Size != p.Size {
				continue
			}
			p.Checksum = jp.Checksum
		}
		u.have[p.Number] = p
	}
	u.uploadID, u.partSize = ref.UploadID, partSize
	u.parts = map[int]Part{}
	return true, nil
}

// tokenKey is the metadata entry holding the upload's token.
const tokenKey = "xfer-upload"

// alreadyComplete ends a run that finds its object already completed.
type alreadyComplete struct{ info ObjectInfo }

func (*alreadyComplete) Error() string { return "upload already complete" }

func (u *uploader) create(ctx context.Context) error {
	if !u.opts.Overwrite {
		_, err := u.store.Head(ctx, u.opts.Key)
		if err == nil {
			return &StoreError{Op: "Upload", Bucket: u.store.Bucket(), Key: u.opts.Key, Kind: ErrPreconditionFailed}
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	u.partSize = u.opts.PartSize
	if u.partSize == 0 {
		size, final := u.sp.state()
		if !final {
			size = max(size, u.opts.SizeHint)
			// Sealing adds a little: zip and age headers, 16 bytes a
			// 64 KiB chunk, and incompressible input does not shrink.
			size += size/64 + 1<<20
		}
		u.partSize = ChoosePartSize(size)
	}
	tb := make([]byte, 16)
	rand.Read(tb)
	token := hex.EncodeToString(tb)
	meta := make(map[string]string, len(u.opts.Metadata)+1)
	for k, v := range u.opts.Metadata {
		meta[k] = v
	}
	meta[tokenKey] = token
	if err := u.abortPending(ctx); err != nil {
		return err
	}
	// Say what is about to happen first: if the reply is lost, the next
	// run knows to look for an upload nobody named.
	pending := &pendingCreate{Bucket: u.store.Bucket(), Key: u.opts.Key, At: time.Now().UTC()}
	if err := u.sp.saveJournal(func(j *journal) { j.Pending = pending }); err != nil {
		return err
	}
	id, err := u.store.CreateUpload(ctx, u.opts.Key, CreateOptions{Metadata: meta, ContentType: u.opts.ContentType})
	if err != nil {
		return err
	}
	u.uploadID = id
	u.parts = map[int]Part{}
	return u.sp.saveJournal(func(j *journal) {
		j.Bucket, j.Key, j.UploadID, j.PartSize, j.Token = u.store.Bucket(), u.opts.Key, id, u.partSize, token
		j.Started, j.Parts, j.Pending = time.Now().UTC().Truncate(time.Second), nil, nil
	})
}

// pendingWindow is how far apart the client's clock and the server's may
// be when matching an upload to a create whose reply was lost.
const pendingWindow = 15 * time.Minute

// abortPending aborts the upload a lost CreateUpload reply may have left
// (see abortCreated), and moves the journal's record of it to Recheck:
// the request may not have reached the server yet.
func (u *uploader) abortPending(ctx context.Context) error {
	u.sp.mu.Lock()
	p := u.sp.j.Pending
	u.sp.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := abortCreated(ctx, u.store, p); err != nil {
		return err
	}
	return u.sp.saveJournal(func(j *journal) {
		if j.Recheck == nil || p.At.Before(j.Recheck.At) {
			j.Recheck = p
		}
		j.Pending = nil
	})
}

// recheck aborts, once the object is complete, the uploads that a create
// whose reply never came may have started since abortPending looked
// (Recheck). The object is there whatever this finds: it is best effort.
func (u *uploader) recheck(ctx context.Context) {
	u.sp.mu.Lock()
	r := u.sp.j.Recheck
	u.sp.mu.Unlock()
	if r != nil {
		_ = abortCreated(ctx, u.store, r)
	}
}

// abortCreated aborts the uploads a CreateUpload whose reply never came
// may have started: those of its key started around the time of the
// attempt. Keys are per sender and file, so these are that attempt's. A
// create in another bucket is not ours to reach (the bucket's lifecycle
// rule for unfinished uploads removes what it left).
func abortCreated(ctx context.Context, store Store, p *pendingCreate) error {
	if p.Bucket != store.Bucket() {
		return nil
	}
	var ids []string
	err := store.ListUploads(ctx, p.Key, func(up UploadInfo) error {
		if up.Key == p.Key && up.Initiated.After(p.At.Add(-pendingWindow)) && up.Initiated.Before(p.At.Add(pendingWindow)) {
			ids = append(ids, up.UploadID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := store.AbortUpload(ctx, p.Key, id); err != nil {
			return err
		}
	}
	return nil
}

// Discard gives the spool up for good, once its sealing failed: it aborts
// every upload its journal knows of (this run's, even one the journal
// could not record on disk, stale ones of earlier runs, and one whose
// creation went unanswered) and removes spool and journal. When an abort
// fails (the network is down, say), the spool is emptied but the journal
// stays, naming what is left for the next run's CreateSpool and Upload to
// abort, and the error is returned. Upload discards the spool itself when
// sealing failed before it returned; the sealer's caller calls Discard
// again after a failure that came later. It does not release the spool.
func (s *Spool) Discard(ctx context.Context, store Store) error {
	s.mu.Lock()
	// The journal in memory is ahead of the one on disk when a write of
	// it failed: it names every upload started.
	s.j.forgetUpload()
	s.j.Sealed, s.j.SpoolSize = false, 0
	stale, creates := slices.Clone(s.j.Stale), []*pendingCreate{s.j.Pending, s.j.Recheck}
	s.mu.Unlock()
	var errs []error
	var keep []uploadRef
	for _, r := range stale {
		if r.Bucket != store.Bucket() {
			continue // not ours to reach: see abortStale
		}
		if err := store.AbortUpload(ctx, r.Key, r.UploadID); err != nil {
			errs = append(errs, err)
			keep = append(keep, r)
		}
	}
	var pending *pendingCreate // the earliest create whose uploads could not be looked for
	for _, p := range creates {
		if p == nil {
			continue
		}
		if err := abortCreated(ctx, store, p); err != nil {
			errs = append(errs, err)
			if pending == nil || p.At.Before(pending.At) {
				pending = p
			}
		}
	}
	if len(errs) == 0 {
		s.mu.Lock()
		s.j.Stale, s.j.Pending, s.j.Recheck = nil, nil, nil // a second Discard has nothing to do
		s.mu.Unlock()
		return s.remove()
	}
	// Emptied first: on a full disk, that makes room for the journal.
	_ = s.f.Truncate(0)
	return errors.Join(append(errs, s.saveJournal(func(j *journal) { j.Stale, j.Pending = keep, pending }))...)
}

// sendParts sends every part of the spool the server does not have yet,
// Concurrency at a time, each as soon as the spool holds it.
func (u *uploader) sendParts(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.opts.Concurrency)
	var err error
	for n := 1; ; n++ {
		off := int64(n-1) * u.partSize
		var size int64
		var final bool
		size, final, err = u.sp.wait(gctx, off+u.partSize)
		if err != nil {
			break
		}
		if final && off >= size && !(n == 1 && size == 0) {
			break
		}
		if n > MaxParts {
			err = fmt.Errorf("the spool outgrew %d parts of %d bytes: give a larger part size or size hint", MaxParts, u.partSize)
			break
		}
		length := min(u.partSize, size-off)
		g.Go(func() error { return u.sendPart(gctx, n, off, length) })
	}
	if werr := g.Wait(); werr != nil {
		// The first failure of a part says more than the cancellation it
		// caused in the wait above.
		err = werr
	}
	if serr := u.flushJournal(); err == nil {
		err = serr
	}
	return err
}

func (u *uploader) sendPart(ctx context.Context, n int, off, length int64) error {
	sec := io.NewSectionReader(u.sp.f, off, length)
	h := sha256.New()
	if _, err := io.Copy(h, sec); err != nil {
		return fmt.Errorf("reading spool part %d: %w", n, err)
	}
	sum := base64.StdEncoding.EncodeToString(h.Sum(nil))
	if p, ok := u.have[n]; ok && p.Checksum == sum && p.Size == length {
		u.mu.Lock()
		u.parts[n] = p
		u.done += length
		u.resumed += length
		u.mu.Unlock()
		u.report()
		return nil
	}
	body := &countingReader{sec: io.NewSectionReader(u.sp.f, off, length), u: u, ctx: ctx}
	p, err := u.store.UploadPart(ctx, u.opts.Key, u.uploadID, n, body, length, sum)
	if err != nil {
		u.mu.Lock()
		body.finish(false, length)
		u.mu.Unlock()
		u.report()
		return err
	}
	p.Checksum = sum
	u.mu.Lock()
	u.parts[n] = p
	body.finish(true, length)
	save := time.Since(u.lastJournal) >= journalInterval
	if save {
		u.lastJournal = time.Now()
	}
	u.mu.Unlock()
	u.report()
	if save {
		return u.flushJournal()
	}
	return nil
}

// flushJournal records the parts done so far.
func (u *uploader) flushJournal() error {
	u.mu.Lock()
	parts := make([]Part, 0, len(u.parts))
	for _, p := range u.parts {
		parts = append(parts, p)
	}
	u.mu.Unlock()
	slices.SortFunc(parts, func(a, b Part) int { return a.Number - b.Number })
	u.sp.mu.Lock()
	defer u.sp.mu.Unlock()
	u.sp.j.Parts = parts
	return u.sp.j.write(u.sp.journalPath, false)
}

func (u *uploader) report() {
	size, final := u.sp.state()
	total := int64(-1)
	if final {
		total = size
	}
	u.mu.Lock()
	done, resumed := u.done, u.resumed
	u.mu.Unlock()
	u.progress.Progress(done, resumed, total)
}

// countingReader counts the bytes of a part as the store reads them, and
// takes them back when the store rewinds for a retry. Seeking forward (to
// learn the length) counts nothing. Its fields are guarded by u.mu: the
// HTTP transport may still read the body after the request returned. With
// a rate limit, Read hands out no byte before the limiter lets it pass.
type countingReader struct {
	sec  *io.SectionReader
	u    *uploader
	ctx  context.Context // the part's: a cancelled upload stops waiting
	pos  int64
	n    int64 // bytes of this part counted in u.done: the furthest read
	dead bool  // the attempt is over: count nothing more
}

func (c *countingReader) Read(p []byte) (int, error) {
	lim := c.u.opts.Limit
	n, err := c.sec.Read(p[:lim.chunk(len(p))])
	if werr := lim.Wait(c.ctx, n); werr != nil {
		return 0, werr
	}
	c.u.mu.Lock()
	c.pos += int64(n)
	changed := c.pos > c.n && !c.dead
	if changed {
		c.u.done += c.pos - c.n
		c.n = c.pos
	}
	c.u.mu.Unlock()
	if changed {
		c.u.report()
	}
	return n, err
}

func (c *countingReader) Seek(offset int64, whence int) (int64, error) {
	pos, err := c.sec.Seek(offset, whence)
	if err != nil {
		return pos, err
	}
	c.u.mu.Lock()
	c.pos = pos
	changed := pos < c.n && !c.dead
	if changed {
		c.u.done -= c.n - pos
		c.n = pos
	}
	c.u.mu.Unlock()
	if changed {
		c.u.report()
	}
	return pos, nil
}

// finish ends counting: the part's count becomes final (it was stored) or
// is taken back (it failed). u.mu must be held.
func (c *countingReader) finish(stored bool, length int64) {
	c.dead = true
	if stored {
		c.u.done += length - c.n
		c.n = length
	} else {
		c.u.done -= c.n
		c.n = 0
	}
}

func (u *uploader) complete(ctx context.Context) (UploadResult, error) {
	size, _ := u.sp.state()
	parts := make([]Part, 0, len(u.parts))
	for _, p := range u.parts {
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b Part) int { return a.Number - b.Number })
	for i, p := range parts {
		if p.Number != i+1 {
			return UploadResult{}, fmt.Errorf("upload: part %d missing", i+1)
		}
	}
	res := UploadResult{Key: u.opts.Key, Size: size, UploadID: u.uploadID, Parts: len(parts), PartSize: u.partSize, Resumed: u.resumed}
	info, err := u.store.CompleteUpload(ctx, u.opts.Key, u.uploadID, parts, CompleteOptions{Overwrite: u.opts.Overwrite})
	switch {
	case errors.Is(err, ErrNoSuchUpload):
		// A retried completion whose first reply got lost: the object is
		// there if it carries our token.
		head, herr := u.store.Head(ctx, u.opts.Key)
		if herr != nil || head.Metadata[tokenKey] != u.token() {
			return res, err
		}
		info = head
	case errors.Is(err, ErrPreconditionFailed):
		// Never replace: drop the upload, keep the sealed spool for a
		// re-run with Overwrite.
		if aerr := u.store.AbortUpload(ctx, u.opts.Key, u.uploadID); aerr == nil {
			_ = u.sp.saveJournal(func(j *journal) {
				j.Bucket, j.Key, j.UploadID, j.Token, j.Parts = "", "", "", "", nil
			})
		}
		return res, err
	case err != nil:
		return res, err
	}
	res.ETag, res.VersionID = info.ETag, info.VersionID
	u.recheck(ctx)
	u.report()
	return res, u.sp.remove()
}

func (u *uploader) token() string {
	u.sp.mu.Lock()
	defer u.sp.mu.Unlock()
	return u.sp.j.Token
}
