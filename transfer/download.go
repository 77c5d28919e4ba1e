package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xfer-dev/xfer/internal/safefile"
	"golang.org/x/sync/errgroup"
)

// DefaultChunkSize is the size of one ranged GET of a download.
const DefaultChunkSize = 8 << 20

// minResumeChunk is the smallest chunk size a journal may name and still
// be resumed from.
const minResumeChunk = 64 << 10

// DownloadOptions configure Download.
type DownloadOptions struct {
	// Key is the object's full key (prefix included).
	Key string
	// ChunkSize is the size of each ranged GET (default DefaultChunkSize).
	// A resumed download keeps the chunk size it started with.
	ChunkSize int64
	// Concurrency is how many ranges are fetched at once (default
	// DefaultConcurrency). Each streams into the spool through a small
	// buffer, so memory does not grow with the chunk or object size.
	Concurrency int
	// Limit caps the bytes per second received, over all ranges in flight
	// (and every other transfer sharing the limiter); nil means no cap.
	Limit *RateLimiter
	// Progress receives progress (total is always known); nil means none.
	Progress Progress
}

// Fetched is a downloaded object in its spool, verified, and still locked
// against other processes: read it with ReadAt, then Remove it (done with
// it) or Release it (keep it for a later run, which verifies it again).
type Fetched struct {
	// Info is the object as Head described it: size, ETag, metadata and
	// the server's checksum.
	Info ObjectInfo
	// Verified says the bytes matched the server's SHA-256 checksum
	// (whole-object or composite). It is false only when the server keeps
	// no checksum for the object, and then only the size was checked.
	Verified bool
	// Parts is the number of parts the checksum was recomputed over.
	Parts int
	// SHA256 is the SHA-256 of the whole object as downloaded, computed in
	// the same pass that checks the server's checksum.
	SHA256 []byte
	// Resumed is how many bytes an earlier run had already downloaded.
	Resumed int64
	// Restarted says the download started over: an earlier run's spool
	// held another version of the object (its ETag changed), the object
	// changed during the download, or the bytes resumed from an earlier
	// run failed the checksum (damaged on this disk since).
	Restarted bool

	path     string
	f        *os.File
	unlock   func()
	mu       sync.Mutex
	released bool
}

// Size is the object's size.
func (d *Fetched) Size() int64 { return d.Info.Size }

// Path is the spool file's name.
func (d *Fetched) Path() string { return d.path }

// ReadAt reads the downloaded object.
func (d *Fetched) ReadAt(p []byte, off int64) (int, error) { return d.f.ReadAt(p, off) }

// Release closes the spool and lets go of its lock, leaving spool and
// journal for a later run. It is safe to call more than once, and after
// Remove.
func (d *Fetched) Release() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		return nil
	}
	d.released = true
	d.unlock()
	return d.f.Close()
}

// Remove deletes spool and journal and releases the spool.
func (d *Fetched) Remove() error {
	if !canRemoveOpenFile {
		d.Release()
	}
	err := errors.Join(removeIfExists(d.path), removeIfExists(d.path+".journal"))
	if rerr := d.Release(); err == nil {
		err = rerr
	}
	return err
}

// downloadJournalVersion is the format of a download's journal; another
// version is never resumed from.
const downloadJournalVersion = 1

// downloadJournal is the resume state of a download, kept as JSON beside
// its spool. It names the object version (by ETag) the spool holds bytes
// of and which ranges are complete; a run finding another ETag on the
// server starts over. It holds no secret and nothing of the object's
// content.
type downloadJournal struct {
	Version   int       `json:"version"`
	Kind      string    `json:"kind"`
	Bucket    string    `json:"bucket"`
	Key       string    `json:"key"`
	ETag      string    `json:"etag"`
	Size      int64     `json:"size"`
	ChunkSize int64     `json:"chunk_size"`
	Started   time.Time `json:"started"`
	// Done lists runs of complete chunks, [first, last] inclusive.
	Done [][2]int `json:"done,omitempty"`
	// Partial maps a chunk in progress to the bytes stored from its start.
	Partial map[int]int64 `json:"partial,omitempty"`
}

const downloadKind = "download"

// downloader is one Download.
type downloader struct {
	store Store
	opts  DownloadOptions
	path  string
	f     *os.File

	info     ObjectInfo
	chunks   int
	resumed  int64
	restarts int
	// untagged: a range's reply did not say which version it was of
	// (see Tagged), so the end of the download asks again.
	untagged atomic.Bool

	mu      sync.Mutex
	done    []bool
	partial map[int]int64
	got     int64 // bytes in the spool, for progress
	journal downloadJournal

	// For Streams, under mu, signalled on cond: the spool's layout once
	// known (sized), how often it was emptied since (epoch), and the end.
	cond   *sync.Cond
	sized  bool
	size   int64 // the object's size, as the spool holds it
	csize  int64 // its chunk size
	epoch  int
	ended  bool
	endErr error
}

// maxRestarts bounds how often one Download starts over because the
// object changed under it.
const maxRestarts = 3

// Download fetches opts.Key into the spool file at path with ranged GETs,
// Concurrency at a time, recording the ranges done in a journal beside it
// (path + ".journal"), and verifies the result against the server's
// SHA-256 checksum before returning it.
//
// If an earlier run left a spool and journal for the same version of the
// object (same ETag and size), only the missing ranges are fetched; when
// the object has changed since, the spool is discarded and the download
// starts over, and when it changes during the download, too.
//
// A download whose bytes do not match the checksum fails with an error
// wrapping ErrChecksumMismatch and leaves nothing behind (when part of it
// came from an earlier run, it is first fetched once more from scratch);
// so does one of an object or bucket that does not exist, or one refused
// before any byte arrived.
// One that stops for a reason that may go away (network, server,
// cancellation) keeps spool and journal and wraps ErrInterrupted. The
// spool is created 0600 and locked: a second Download of the same path
// fails with ErrSpoolBusy.
func Download(ctx context.Context, store Store, path string, opts DownloadOptions) (*Fetched, error) {
	dl, err := StartDownload(ctx, store, path, opts)
	if err != nil {
		return nil, err
	}
	return dl.Wait()
}

// Downloading is a Download under way (StartDownload). Its Stream reads
// the object while it arrives; Wait ends it as Download does.
type Downloading struct {
	d    *downloader
	done chan struct{}
	res  *Fetched
	err  error
}

// StartDownload is Download in the background: it locks the spool (a busy
// one fails here, with ErrSpoolBusy) and returns at once. Wait returns
// what Download would have; Stream reads the object as it arrives.
//
// Ranges are fetched in order, except that the object's last range comes
// second: the tail is where a zip keeps its directory and an outer layer
// its final chunk, both read first by whoever opens the object.
func StartDownload(ctx context.Context, store Store, path string, opts DownloadOptions) (*Downloading, error) {
	if opts.Key == "" {
		return nil, errors.New("download: no key")
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Progress == nil {
		opts.Progress = noProgress{}
	}
	sp, err := lockSpool(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	d := &downloader{store: store, opts: opts, path: path, f: sp.f}
	d.cond = sync.NewCond(&d.mu)
	dl := &Downloading{d: d, done: make(chan struct{})}
	go func() {
		defer close(dl.done)
		dl.res, dl.err = d.finish(ctx, sp)
	}()
	return dl, nil
}

// Wait waits for the download to end and returns what Download returns.
func (dl *Downloading) Wait() (*Fetched, error) {
	<-dl.done
	return dl.res, dl.err
}

// finish runs the download and settles the spool: kept and returned
// locked, kept for a re-run, or removed. It wakes every Stream.
func (d *downloader) finish(ctx context.Context, sp *Spool) (*Fetched, error) {
	res, err := d.run(ctx)
	if err != nil {
		err = d.settleFailure(ctx, sp, err)
	}
	// Streams learn the outcome before a failed spool is closed.
	d.mu.Lock()
	d.ended, d.endErr = true, err
	d.cond.Broadcast()
	d.mu.Unlock()
	if err != nil {
		sp.Release()
		return nil, err
	}
	res.path, res.f, res.unlock = d.path, sp.f, sp.unlock
	return res, nil
}

// settleFailure removes a spool not worth keeping and says why the
// download failed.
func (d *downloader) settleFailure(ctx context.Context, sp *Spool, err error) error {
	// Nothing worth keeping: damaged bytes, an object (or bucket) that
	// is gone, or an empty spool the first request was refused for.
	// Spool.remove deletes while still locked, where the system
	// allows it, so that no other process writes into a file about
	// to be unlinked.
	drop := errors.Is(err, ErrChecksumMismatch) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoSuchBucket)
	if fi, serr := sp.f.Stat(); serr == nil && fi.Size() == 0 && !IsTransient(err) && ctx.Err() == nil {
		drop = true
	}
	if drop {
		_ = sp.remove()
	}
	if errors.Is(err, ErrChecksumMismatch) {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	if IsTransient(err) {
		return fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	return err
}

func (d *downloader) run(ctx context.Context) (*Fetched, error) {
	res := &Fetched{}
	retried := false
	for {
		info, err := d.store.Head(ctx, d.opts.Key)
		if err != nil {
			return nil, err
		}
		d.info = info
		fresh, err := d.prepare()
		if err != nil {
			return nil, err
		}
		res.Restarted = res.Restarted || fresh && d.restarts > 0
		layout, err := d.layout(ctx)
		if errors.Is(err, errChanged) {
			if err := d.changed(); err != nil {
				return nil, err
			}
			res.Restarted = true
			continue
		}
		if err != nil {
			return nil, err
		}
		ahead := d.hashAhead(layout)
		err = d.fetchAll(ctx) // errChanged: a range of another version
		switch {
		case err != nil && !errors.Is(err, errChanged) && ctx.Err() == nil && !IsTransient(err):
			// A range the object no longer has (416) is how a replaced
			// object often shows: look before giving up.
			if errors.Is(d.replaced(ctx), errChanged) {
				err = errChanged
			}
		case err == nil && (d.resumed > 0 || d.untagged.Load()):
			// The object may have been replaced while we read it: the
			// ranges would then mix two versions. Every range of this run
			// came with the ETag it began with (fetchChunk) unless a reply
			// did not say; ranges from an earlier run were not all
			// checked so.
			err = d.replaced(ctx)
		}
		if errors.Is(err, errChanged) {
			if err := d.changed(); err != nil {
				return nil, err
			}
			res.Restarted = true
			continue
		}
		if err != nil {
			return nil, err
		}
		sum, err := d.verify(ctx, layout, ahead)
		if errors.Is(err, ErrChecksumMismatch) && d.resumed > 0 && !retried {
			// Part of the spool came from an earlier run: it may have been
			// damaged on this disk since. Fetch everything once more.
			retried = true
			if err := d.reset(); err != nil {
				return nil, err
			}
			res.Restarted = true
			continue
		}
		if err != nil {
			return nil, err
		}
		res.Info, res.Verified, res.Parts, res.Resumed, res.SHA256 = d.info, d.info.Checksum != "", len(layout), d.resumed, sum
		return res, nil
	}
}

// checkTag checks that a range's reply is of the version the download
// began with (see Tagged). A reply that names no version, or names one the
// server's HEAD does not (a server whose GETs name versions otherwise),
// leaves it to the HEAD at the end (untagged); errChanged if the object
// was replaced.
func (d *downloader) checkTag(ctx context.Context, rc io.Reader) error {
	t, ok := rc.(Tagged)
	switch {
	case !ok || t.ETag() == "" || d.untagged.Load():
		d.untagged.Store(true)
		return nil
	case sameETag(t.ETag(), d.info.ETag):
		return nil
	}
	if err := d.replaced(ctx); err != nil {
		return err
	}
	d.untagged.Store(true)
	return nil
}

// replaced asks the server whether the object is still the version the
// download began with: errChanged if it is not, or the HEAD's error.
func (d *downloader) replaced(ctx context.Context) error {
	now, err := d.store.Head(ctx, d.opts.Key)
	if err != nil {
		return err
	}
	if now.ETag != d.info.ETag || now.Size != d.info.Size {
		return errChanged
	}
	return nil
}

// sameETag compares two ETags, quoted or not.
func sameETag(a, b string) bool { return strings.Trim(a, `"`) == strings.Trim(b, `"`) }

// errChanged says the object changed between two requests.
var errChanged = errors.New("the object changed during the download")

// changed counts a restart because the object changed, and clears the
// spool for the new version.
func (d *downloader) changed() error {
	d.restarts++
	if d.restarts > maxRestarts {
		return fmt.Errorf("download %s: %w %d times; try again later", d.opts.Key, errChanged, d.restarts)
	}
	return d.reset()
}

// reset forgets what the spool holds.
func (d *downloader) reset() error {
	d.resumed = 0
	d.emptying()
	if err := removeIfExists(d.path + ".journal"); err != nil {
		return err
	}
	return d.f.Truncate(0)
}

// prepare resumes from the journal when it is for this version of the
// object, and otherwise starts an empty spool of the object's size. It
// reports whether it started afresh.
func (d *downloader) prepare() (fresh bool, err error) {
	size := d.info.Size
	d.chunks = 0
	if size > 0 {
		d.chunks = int((size + d.opts.ChunkSize - 1) / d.opts.ChunkSize)
	}
	j, jerr := loadDownloadJournal(d.path + ".journal")
	fi, serr := d.f.Stat()
	same := jerr == nil && serr == nil && j.Bucket == d.store.Bucket() && j.Key == d.opts.Key && j.ETag != ""
	// A chunk size far from any xfer writes (a damaged or hostile journal)
	// is not resumed from: its bitmap of chunks would grow with the object.
	if same && j.ETag == d.info.ETag && j.Size == size && j.ChunkSize >= minResumeChunk && fi.Size() == size {
		d.opts.ChunkSize = j.ChunkSize
		d.chunks = 0
		if size > 0 {
			d.chunks = int((size + j.ChunkSize - 1) / j.ChunkSize)
		}
		d.loadProgress(j)
		return false, nil
	}
	if same && j.ETag != d.info.ETag {
		d.restarts++ // an earlier run fetched another version
	}
	d.emptying()
	if err := d.f.Truncate(0); err != nil {
		return false, err
	}
	if err := d.f.Truncate(size); err != nil {
		return false, err
	}
	d.mu.Lock()
	d.done, d.partial, d.got, d.resumed = make([]bool, d.chunks), map[int]int64{}, 0, 0
	d.journal = downloadJournal{Version: downloadJournalVersion, Kind: downloadKind, Bucket: d.store.Bucket(), Key: d.opts.Key,
		ETag: d.info.ETag, Size: size, ChunkSize: d.opts.ChunkSize, Started: time.Now().UTC().Truncate(time.Second)}
	d.publish(size)
	d.mu.Unlock()
	// No journal yet: one that records nothing done resumes nothing, as
	// none does. fetchAll writes the first after journalInterval, and
	// another when it ends, whatever happened (a small file's pull saves
	// a file creation and two fsyncs).
	return true, nil
}

// loadProgress takes the ranges done from a journal.
func (d *downloader) loadProgress(j *downloadJournal) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.journal = *j
	d.done = make([]bool, d.chunks)
	d.partial = map[int]int64{}
	d.got = 0
	for _, r := range j.Done {
		for i := max(r[0], 0); i <= r[1] && i < d.chunks; i++ {
			d.done[i] = true
		}
	}
	for i, n := range j.Partial {
		if i >= 0 && i < d.chunks && !d.done[i] && n > 0 && n < d.chunkLen(i) {
			d.partial[i] = n
		}
	}
	for i := range d.chunks {
		if d.done[i] {
			d.got += d.chunkLen(i)
		} else {
			d.got += d.partial[i]
		}
	}
	d.resumed = d.got
	d.publish(d.info.Size)
}

// emptying tells Streams that the spool is about to be emptied: what they
// read from now on may belong to no version of the object.
func (d *downloader) emptying() {
	d.mu.Lock()
	d.epoch++
	d.sized = false
	d.cond.Broadcast()
	d.mu.Unlock()
}

// publish tells Streams the spool's layout (size, chunks, done and
// partial are set). The caller holds mu.
func (d *downloader) publish(size int64) {
	d.sized, d.size, d.csize = true, size, d.opts.ChunkSize
	d.cond.Broadcast()
}

func (d *downloader) chunkLen(i int) int64 {
	off := int64(i) * d.opts.ChunkSize
	return min(d.opts.ChunkSize, d.info.Size-off)
}

// layout returns the sizes of the parts the server's checksum covers: one
// part for a whole-object checksum (or none), the upload's parts for a
// composite one.
func (d *downloader) layout(ctx context.Context) ([]int64, error) {
	sum := d.info.Checksum
	_, count, composite := strings.Cut(sum, "-")
	if sum == "" || !composite {
		return []int64{d.info.Size}, nil
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > MaxParts {
		return nil, fmt.Errorf("download %s: cannot read the server's checksum %q", d.opts.Key, sum)
	}
	if n == 1 {
		// One part is the whole object: nothing to ask (a small file's
		// pull makes one request fewer).
		return []int64{d.info.Size}, nil
	}
	first, err := d.store.HeadPart(ctx, d.opts.Key, 1)
	if err != nil {
		return nil, err
	}
	if first.ETag != d.info.ETag {
		return nil, errChanged
	}
	if first.Parts != n {
		return nil, fmt.Errorf("download %s: the checksum covers %d parts, the server lists %d", d.opts.Key, n, first.Parts)
	}
	size, ps := d.info.Size, first.Size
	// xfer's uploader (its token in the metadata) makes every part but the
	// last the same size; anything else is asked part by part.
	if d.info.Metadata[tokenKey] != "" && ps > 0 && int64(n-1)*ps < size && size <= int64(n)*ps {
		sizes := make([]int64, n)
		for i := range sizes {
			sizes[i] = ps
		}
		sizes[n-1] = size - int64(n-1)*ps
		return sizes, nil
	}
	sizes := make([]int64, n)
	sizes[0] = ps
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.opts.Concurrency * 2)
	for i := 2; i <= n; i++ {
		g.Go(func() error {
			p, err := d.store.HeadPart(gctx, d.opts.Key, i)
			if err != nil {
				return err
			}
			if p.ETag != d.info.ETag {
				return errChanged
			}
			sizes[i-1] = p.Size
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var total int64
	for _, s := range sizes {
		total += s
	}
	if total != size {
		return nil, fmt.Errorf("download %s: the parts add up to %d bytes, the object has %d", d.opts.Key, total, size)
	}
	return sizes, nil
}

// fetchAll fetches every chunk the spool does not hold yet.
func (d *downloader) fetchAll(ctx context.Context) error {
	d.report()
	stop := make(chan struct{})
	var saver sync.WaitGroup
	saver.Add(1)
	go func() {
		defer saver.Done()
		t := time.NewTicker(journalInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// A failure here costs at most a little resume; the
				// save at the end reports it.
				_ = d.saveJournal(true)
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.opts.Concurrency)
	for _, i := range fetchOrder(d.chunks) {
		d.mu.Lock()
		skip, from := d.done[i], d.partial[i]
		d.mu.Unlock()
		if skip {
			continue
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return d.fetchChunk(gctx, i, from) })
	}
	err := g.Wait()
	close(stop)
	saver.Wait()
	// Record what this run got, whatever happened: the next run starts there.
	if jerr := d.saveJournal(true); err == nil {
		err = jerr
	}

	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return err
}

// fetchOrder is the order chunks are fetched in: the first, the last,
// then the rest in order (see StartDownload).
func fetchOrder(chunks int) []int {
	order := make([]int, 0, chunks)
	if chunks > 0 {
		order = append(order, 0)
	}
	if chunks > 1 {
		order = append(order, chunks-1)
	}
	for i := 1; i < chunks-1; i++ {
		order = append(order, i)
	}
	return order
}

// readRetries is how often a range whose body breaks off is asked for
// again, from where it broke, without progress in between. Request-level
// failures are retried by the Store itself.
const readRetries = 4

// copyBufSize is the buffer of one range being copied into the spool.
const copyBufSize = 256 << 10

func (d *downloader) fetchChunk(ctx context.Context, i int, from int64) error {
	start := int64(i) * d.opts.ChunkSize
	end := start + d.chunkLen(i)
	pos := start + from
	buf := make([]byte, copyBufSize)
	failures := 0
	for {
		rc, err := d.store.Get(ctx, d.opts.Key, pos, end-pos)
		if err != nil {
			return err
		}
		if err := d.checkTag(ctx, rc); err != nil {
			rc.Close()
			return err
		}
		n, rerr, werr := d.copyRange(ctx, rc, i, start, pos, end, buf)
		rc.Close()
		pos += n
		if werr != nil {
			return fmt.Errorf("writing the download spool: %w", werr)
		}
		if pos == end {
			// The journal's flush at the end then has little left to do.
			safefile.StartWriteback(d.f, start, end-start)
			d.mu.Lock()
			d.done[i] = true
			delete(d.partial, i)
			d.cond.Broadcast()
			d.mu.Unlock()
			return nil
		}
		if rerr == nil || rerr == io.EOF {
			rerr = io.ErrUnexpectedEOF
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if n > 0 {
			failures = 0
		}
		failures++
		if failures > readRetries {
			return &StoreError{Op: "GetObject", Bucket: d.store.Bucket(), Key: d.opts.Key, Temporary: true,
				Err: fmt.Errorf("reading bytes %d-%d: %w", pos, end-1, rerr)}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(failures) * 200 * time.Millisecond):
		}
	}
}

// copyRange copies a range body into the spool at pos, recording the
// progress of chunk i (which starts at start). It returns the bytes stored
// and the read or the write error that stopped it. With a rate limit, each
// read waits for the limiter before the next: the body is read no faster
// than the limit, and TCP's flow control slows the server down to it.
func (d *downloader) copyRange(ctx context.Context, r io.Reader, i int, start, pos, end int64, buf []byte) (n int64, rerr, werr error) {
	lim := d.opts.Limit
	buf = buf[:lim.chunk(len(buf))]
	for pos+n < end {
		m, err := r.Read(buf[:min(int64(len(buf)), end-pos-n)])
		if lerr := lim.Wait(ctx, m); lerr != nil && err == nil {
			err = lerr
		}
		if m > 0 {
			if _, werr = d.f.WriteAt(buf[:m], pos+n); werr != nil {
				return n, nil, werr
			}
			n += int64(m)
			d.mu.Lock()
			d.partial[i] = pos + n - start
			d.got += int64(m)
			d.cond.Broadcast()
			d.mu.Unlock()
			d.report()
		}
		if err != nil {
			return n, err, nil
		}
	}
	return n, nil, nil
}

func (d *downloader) report() {
	d.mu.Lock()
	got, resumed := d.got, d.resumed
	d.mu.Unlock()
	d.opts.Progress.Progress(got, resumed, d.info.Size)
}

// saveJournal records the ranges done. With sync it flushes the spool
// after taking the snapshot and before writing it, so the journal never
// claims bytes that a power cut could still lose.
func (d *downloader) saveJournal(sync bool) error {
	d.mu.Lock()
	j := d.journal
	j.Done = nil
	for i := 0; i < len(d.done); i++ {
		if !d.done[i] {
			continue
		}
		k := i
		for k+1 < len(d.done) && d.done[k+1] {
			k++
		}
		j.Done = append(j.Done, [2]int{i, k})
		i = k
	}
	j.Partial = make(map[int]int64, len(d.partial))
	for i, n := range d.partial {
		j.Partial[i] = n
	}
	d.mu.Unlock()
	if sync {
		if err := d.f.Sync(); err != nil {
			return err
		}
	}
	return writeJSONAtomic(d.path+".journal", j, sync)
}

// verify recomputes the server's checksum from the spool: the SHA-256 of
// each part, and for a composite checksum the SHA-256 of those digests. It
// returns the SHA-256 of the whole object too. What ahead hashed while the
// spool filled is taken as it is; otherwise the parts are hashed on all
// cores while one goroutine hashes the whole, the spool being in the page
// cache, just written.
func (d *downloader) verify(ctx context.Context, layout []int64, ahead *hashedAhead) ([]byte, error) {
	digests := make([][]byte, len(layout))
	var whole []byte
	if w, parts, ok := ahead.result(ctx); ok {
		return d.compare(w, parts)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)) + 1) // +1: the whole's goroutine
	g.Go(func() error {
		h := sha256.New()
		if err := hashRange(gctx, h, d.f, 0, d.info.Size); err != nil {
			return err
		}
		whole = h.Sum(nil)
		return nil
	})
	if d.info.Checksum != "" {
		var off int64
		for i, size := range layout {
			at := off
			g.Go(func() error {
				h := sha256.New()
				if err := hashRange(gctx, h, d.f, at, size); err != nil {
					return err
				}
				digests[i] = h.Sum(nil)
				return nil
			})
			off += size
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return d.compare(whole, digests)
}

// compare checks the digests of the parts against the server's checksum,
// and returns whole, the object's SHA-256.
func (d *downloader) compare(whole []byte, digests [][]byte) ([]byte, error) {
	if d.info.Checksum == "" {
		return whole, nil
	}
	got := base64.StdEncoding.EncodeToString(digests[0])
	if strings.Contains(d.info.Checksum, "-") {
		got = CompositeChecksum(digests)
	}
	if got != d.info.Checksum {
		return nil, &StoreError{Op: "Download", Bucket: d.store.Bucket(), Key: d.opts.Key, Kind: ErrChecksumMismatch,
			Err: fmt.Errorf("the downloaded bytes have SHA-256 %s, the server recorded %s at upload", got, d.info.Checksum)}
	}
	return whole, nil
}

// hashedAhead is the SHA-256 of a download's object and of each of its
// parts, computed in order while the spool fills (hashAhead), so that
// verifying the download at its end costs nothing more. It gives up, and
// verify hashes the spool itself, when the download ends or starts over
// first, or a read fails.
type hashedAhead struct {
	done  chan struct{}
	whole []byte
	parts [][]byte
	ok    bool
}

// hashAhead starts hashing the spool in order as its bytes arrive, by the
// parts of layout.
func (d *downloader) hashAhead(layout []int64) *hashedAhead {
	a := &hashedAhead{done: make(chan struct{})}
	d.mu.Lock()
	epoch, size := d.epoch, d.size
	d.mu.Unlock()
	composite := d.info.Checksum != "" && len(layout) > 1
	go func() {
		defer close(a.done)
		buf := make([]byte, copyBufSize)
		whole, part := sha256.New(), sha256.New()
		var parts [][]byte
		var off, partEnd int64
		next := 0
		for off < size {
			if composite && off == partEnd {
				partEnd += layout[next]
				next++
			}
			n := int64(len(buf))
			if composite {
				n = min(n, partEnd-off)
			}
			n = min(n, size-off)
			d.mu.Lock()
			for d.epoch == epoch && !d.ended && !d.stored(off, n) {
				d.cond.Wait()
			}
			stale := d.epoch != epoch || d.ended
			d.mu.Unlock()
			if stale {
				return
			}
			if _, err := d.f.ReadAt(buf[:n], off); err != nil {
				return
			}
			whole.Write(buf[:n])
			if composite {
				part.Write(buf[:n])
			}
			off += n
			if composite && off == partEnd {
				parts = append(parts, part.Sum(nil))
				part.Reset()
			}
		}
		a.whole = whole.Sum(nil)
		if composite {
			if len(parts) != len(layout) {
				return // empty parts at the end: verify hashes them
			}
			a.parts = parts
		} else {
			a.parts = [][]byte{a.whole}
		}
		// The spool may have been emptied while it was read.
		d.mu.Lock()
		a.ok = d.epoch == epoch
		d.mu.Unlock()
	}()
	return a
}

// result waits for the hashing to end and returns its digests, or false
// when it gave up (or ctx ended first).
func (a *hashedAhead) result(ctx context.Context) (whole []byte, parts [][]byte, ok bool) {
	select {
	case <-a.done:
		return a.whole, a.parts, a.ok
	case <-ctx.Done():
		return nil, nil, false
	}
}

// hashRange feeds n bytes of f at off to h.
func hashRange(ctx context.Context, h hash.Hash, f io.ReaderAt, off, n int64) error {
	buf := make([]byte, 1<<20)
	r := io.NewSectionReader(f, off, n)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := r.Read(buf)
		h.Write(buf[:m])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the download spool: %w", err)
		}
	}
}

// CompositeChecksum returns the checksum S3 keeps for a multipart upload
// whose parts have the given SHA-256 digests, in part order: the base64
// SHA-256 of the concatenated digests, "-", and the number of parts.
func CompositeChecksum(partDigests [][]byte) string {
	h := sha256.New()
	for _, d := range partDigests {
		h.Write(d)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partDigests))
}

func loadDownloadJournal(path string) (*downloadJournal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j downloadJournal
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if j.Version != downloadJournalVersion || j.Kind != downloadKind {
		return nil, fmt.Errorf("journal %s: not a download journal of version %d", path, downloadJournalVersion)
	}
	slices.SortFunc(j.Done, func(a, b [2]int) int { return a[0] - b[0] })
	return &j, nil
}
