package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/zipenc"
)

type pullOptions struct {
	keyFlags
	exchangeFlags
	identities  []string
	dir         string
	all         bool
	shredAfter  bool
	concurrency int
}

func (a *app) newPullCommand() *cobra.Command {
	var o pullOptions
	c := &cobra.Command{
		Use:   "pull NAME… | --all [-d DIR] [--shred-after]",
		Short: "Download, verify and open files from the exchange into CSVs",
		Long: `Fetch each NAME (as fetch does: resumable, checked against the server's
checksum), open both layers (as decrypt does) and write the CSV into DIR
(default: the current directory) under the file name the sender gave it, with
mode 0600. The CSV appears only once every check has passed; an existing file
is never overwritten: that file is skipped with an error (exit code 2) and the
others go on. The exit code of the run is the worst of its files.

--all pulls every sealed file (.zip.age, .zip.aes) under the prefix that was
not pulled before: xfer remembers what it pulled (by bucket, name and ETag) in
a state file in the cache directory, so a cron job running 'xfer pull --all'
again pulls nothing and says so; a file replaced by a new upload is pulled
again. Each pull also leaves a receipt in the exchange, beside the file under
.xfer/receipts/, with the time and who pulled (never anything from the file),
that 'xfer list' shows the sender.

--shred-after shreds each file (see 'xfer shred') once its CSV is safely on
disk, and only if the sender has not replaced it meanwhile. With --all it also
finishes an earlier --shred-after that was interrupted or failed after its
CSV was written.

After a failure that a re-run can fix (a wrong key or password, an existing
CSV, an interruption) the verified download stays in the cache, so the re-run
downloads nothing that is still current; damaged files are removed at once.

The identity is an age identity file or AES-256 key file (-i, repeatable;
default: the identities in the configuration, else the files 'xfer keygen'
writes by default), or a passphrase.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials,
XFER_ZIP_PASSWORD, XFER_PASSPHRASE, XFER_CONFIG.`,
		Example: `  xfer pull acme.csv.zip.age -i mailhouse.key -d incoming/
  xfer pull --all -d /srv/incoming --shred-after --json -q`,
		RunE: func(c *cobra.Command, args []string) error { return a.runPull(c, o, args) },
	}
	o.exchangeFlags.add(c)
	o.addSecretFlags(c)
	f := c.Flags()
	f.StringArrayVarP(&o.identities, "identity", "i", nil, "age identity or AES-256 key file (repeatable)")
	f.StringVarP(&o.dir, "dir", "d", ".", "directory to write the CSVs into (created if missing)")
	f.BoolVar(&o.all, "all", false, "pull every file under the prefix not pulled before")
	f.BoolVar(&o.shredAfter, "shred-after", false, "shred each file from the exchange once its CSV is written")
	f.IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("ranges downloaded at once (default %d)", transfer.DefaultConcurrency))
	return c
}

// pullPlan is what every file of one pull shares.
type pullPlan struct {
	x           *exchange
	ids         crypt.Identities
	zipPassword []byte
	spoolDir    string
	dir         string
	concurrency int
	all         bool
	shredAfter  bool
	state       *pullState
}

func (a *app) runPull(c *cobra.Command, o pullOptions, names []string) error {
	switch {
	case o.all && len(names) > 0:
		return usagef("give names or --all, not both")
	case !o.all && len(names) == 0:
		return withHint(usagef("nothing to pull"), "give the names to pull (see 'xfer list') or --all")
	}
	for _, name := range names {
		if err := checkName(name); err != nil {
			return err
		}
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	p := pullPlan{dir: o.dir, all: o.all, shredAfter: o.shredAfter}
	if p.concurrency, err = a.concurrencySetting(c, o.concurrency); err != nil {
		return err
	}
	// Secrets first: a cron job without them fails before any download.
	if p.ids, err = a.identities(c, o.identities, cfg); err != nil {
		return err
	}
	if p.zipPassword, err = a.zipPassword(c, cfg, false); err != nil {
		return err
	}
	if fi, err := os.Stat(p.dir); err == nil && !fi.IsDir() {
		return usagef("%s is not a directory", p.dir)
	}
	if err := fileperm.MkdirAll(p.dir); err != nil {
		return usagef("output directory: %w", err)
	}
	if p.x, err = a.openExchange(c, &o.exchangeFlags); err != nil {
		return err
	}
	if p.spoolDir, err = a.spoolDir(); err != nil {
		return err
	}
	p.state = &pullState{path: filepath.Join(a.stateDir(p.spoolDir), pulledStateFile), ident: p.x.ident}
	ctx := c.Context()
	type item struct{ name, etag string }
	var items, unshredded []item
	if o.all {
		pulled, pending, err := p.state.load()
		if err != nil {
			return err
		}
		already, others := 0, 0
		if err := p.x.store.List(ctx, p.x.prefix, func(obj transfer.ObjectInfo) error {
			switch {
			case p.x.isInternal(obj.Key):
			case !isSealedName(obj.Key):
				others++
			case pulled[stateKey(p.x.ident, obj.Key, obj.ETag)]:
				already++
				if p.shredAfter && pending[stateKey(p.x.ident, obj.Key, obj.ETag)] {
					// Pulled with --shred-after, but still here: that
					// shred was interrupted or failed. Finish it.
					unshredded = append(unshredded, item{p.x.name(obj.Key), obj.ETag})
				}
			default:
				items = append(items, item{p.x.name(obj.Key), obj.ETag})
			}
			return nil
		}); err != nil {
			return err
		}
		if others > 0 {
			a.warn("%s under %s not ending in .zip.age or .zip.aes: not pulled by --all", plural(others, "object", "objects"), p.x.where())
		}
		if len(items) == 0 && len(unshredded) == 0 {
			a.result(map[string]any{"event": "nothing_new", "already_pulled": already, "prefix": p.x.prefix},
				"nothing new to pull under %s (%s pulled before)", p.x.where(), plural(already, "file", "files"))
			return nil
		}
	} else {
		for _, name := range names {
			items = append(items, item{name: name})
		}
	}
	var worst error
	for _, it := range items {
		err := a.audited(ctx, audit.ActionPull, p.x, it.name, func(ev *audit.Event) error { return a.pullOne(ctx, p, it.name, ev) })
		if err == nil {
			continue
		}
		if len(items)+len(unshredded) == 1 {
			return err
		}
		worst = a.reportFailure(ctx, "name", it.name, err, worst)
	}
	for _, it := range unshredded {
		a.result(map[string]any{"event": "shred_pending", "name": it.name},
			"%s was pulled before but is still in the exchange: shredding it now", it.name)
		err := a.shredPulled(ctx, p, it.name, it.etag)
		if err == nil {
			continue
		}
		if len(items)+len(unshredded) == 1 {
			return err
		}
		worst = a.reportFailure(ctx, "name", it.name, err, worst)
	}
	if worst != nil {
		return reported{worst}
	}
	return nil
}

// isSealedName reports a name send gives its objects.
func isSealedName(key string) bool {
	return strings.HasSuffix(key, ".zip.age") || strings.HasSuffix(key, ".zip.aes")
}

// errPulledMeanwhile ends a pull --all of a file another run pulled while
// this one was downloading it.
var errPulledMeanwhile = errors.New("pulled meanwhile by another run")

func (a *app) pullOne(ctx context.Context, p pullPlan, name string, ev *audit.Event) error {
	d, err := a.download(ctx, p.x, p.spoolDir, name, p.concurrency)
	if errors.Is(err, transfer.ErrSpoolBusy) && p.all {
		a.warn("%s: skipped: another xfer is pulling it right now", name)
		return nil
	}
	if err != nil {
		return err
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
	key, etag := p.x.key(name), d.Info.ETag
	opened, err := seal.Open(d, d.Size(), p.ids, p.zipPassword)
	if err != nil {
		keep = !isIntegrity(err)
		return err
	}
	out := filepath.Join(p.dir, opened.Name())
	if p.all {
		if pulled, _, err := p.state.load(); err == nil && pulled[stateKey(p.x.ident, key, etag)] {
			keep = false
			a.result(map[string]any{"event": "skipped", "name": name, "reason": errPulledMeanwhile.Error()},
				"skipped %s: %v", name, errPulledMeanwhile)
			return nil
		}
	}
	var n int64
	already := false
	f, err := safefile.Create(out)
	switch {
	case errors.Is(err, fs.ErrExist) && matchesManifest(out, opened):
		// The CSV this file holds is there already, byte for byte: a
		// run killed after writing it and before recording it.
		already = true
		fi, _ := os.Stat(out)
		n = fi.Size()
	case err != nil:
		return withHint(err, "%s is never overwritten: move it away and pull %s again", out, name)
	default:
		defer f.Abort()
		// One pass: f is a 0600 temporary file (nameless on Linux) that
		// becomes the CSV only if the whole entry authenticates.
		if n, err = opened.WriteOnceTo(ctxWriter{ctx, f}); err != nil {
			keep = !isIntegrity(err)
			return err
		}
		if err := f.Commit(); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return withHint(err, "%s is never overwritten: move it away and pull %s again", out, name)
			}
			return err
		}
	}
	keep = false
	ev.SHA256, ev.Bytes = hex.EncodeToString(d.SHA256), d.Size()
	if m, _ := opened.Manifest(); m != nil {
		ev.Rows = m.Rows
	}
	now := time.Now().UTC()
	if err := p.state.add(pulledEntry{Ident: p.x.ident, Key: key, ETag: etag, PulledAt: now, File: out, ShredPending: p.shredAfter}); err != nil {
		a.warn("%s: could not record the pull in %s (a later pull --all will try it again): %v", name, p.state.path, err)
	}
	if err := a.putReceipt(ctx, p.x, name, d, now); err != nil {
		a.warn("%s: could not leave a receipt in the exchange: %v", name, err)
	}
	event := map[string]any{"event": "pulled", "name": name, "key": key, "output": out, "bytes": n, "object_bytes": d.Size(),
		"resumed_bytes": d.Resumed, "etag": etag, "verified": d.Verified}
	human := fmt.Sprintf("pulled %s into %s (%s", name, out, humanBytes(n))
	if already {
		event["already"] = true
		human = fmt.Sprintf("%s already holds %s, byte for byte (%s", out, name, humanBytes(n))
	}
	human += manifestNote(opened, event)
	if d.Resumed > 0 {
		human += fmt.Sprintf(", %s resumed from an earlier run", humanBytes(d.Resumed))
	}
	a.result(event, "%s)", human)
	if !p.shredAfter {
		return nil
	}
	// The CSV is safe on disk: only now may the exchange forget the file.
	d.Remove()
	return a.shredPulled(ctx, p, name, etag)
}

// shredPulled shreds name after its version etag was pulled and its CSV
// written. A failure here leaves the pull recorded; the next
// 'pull --all --shred-after' finds the file still there and finishes.
func (a *app) shredPulled(ctx context.Context, p pullPlan, name, etag string) (err error) {
	plan, err := a.planShred(ctx, p.x, p.spoolDir, name)
	if err != nil {
		return fmt.Errorf("pulled, but not shredded: %w", err)
	}
	// Shred only what was pulled: if the sender has uploaded a new version
	// since, it is kept (the next pull --all takes it), and so is an upload
	// still in progress.
	if !latestIs(plan.versions, etag) {
		return withHint(fmt.Errorf("pulled, but not shredded: %s was replaced in the exchange while it was being pulled", name),
			"pull it again to get the new version, then shred")
	}
	plan.uploads = nil
	defer func() {
		if err == nil {
			if serr := p.state.add(pulledEntry{Ident: p.x.ident, Key: p.x.key(name), ETag: etag, Shredded: true}); serr != nil {
				a.warn("%s: could not record the shred in %s: %v", name, p.state.path, serr)
			}
		}
	}()
	if err := a.shred(ctx, p.x, plan); err != nil {
		return fmt.Errorf("pulled, but not shredded completely: %w", err)
	}
	return nil
}

// latestIs reports whether the current version among versions is an
// object (not a delete marker) with the given ETag.
func latestIs(versions []transfer.Version, etag string) bool {
	for _, v := range versions {
		if v.IsLatest {
			return !v.DeleteMarker && strings.Trim(v.ETag, `"`) == strings.Trim(etag, `"`)
		}
	}
	return false
}

// isIntegrity reports damaged or altered content (exit code 4).
func isIntegrity(err error) bool {
	return errors.Is(err, crypt.ErrIntegrity) || errors.Is(err, zipenc.ErrIntegrity) ||
		errors.Is(err, zipenc.ErrUnsupported) || errors.Is(err, seal.ErrContent)
}

// putReceipt leaves the receipt of a pull in the exchange.
func (a *app) putReceipt(ctx context.Context, x *exchange, name string, d *transfer.Fetched, at time.Time) error {
	b, err := json.Marshal(receipt{Name: name, ETag: d.Info.ETag, Size: d.Size(), DownloadedAt: at, By: a.sender(), Tool: "xfer " + Version()})
	if err != nil {
		return err
	}
	_, err = x.store.Put(ctx, receiptKey(x.key(name)), bytes.NewReader(b), int64(len(b)), transfer.PutOptions{
		CreateOptions: transfer.CreateOptions{ContentType: "application/json", Metadata: map[string]string{"xfer-kind": "receipt"}},
		Overwrite:     true,
	})
	return err
}

// pulledStateFile records what pull has pulled, one JSON object a line.
const pulledStateFile = "pulled.jsonl"

// stateDir is the cache directory the pull state lives in: the configured
// spool_dir, else the xfer cache directory that holds the spool.
func (a *app) stateDir(spoolDir string) string {
	if cfg, err := a.config(); err == nil && cfg.SpoolDir != "" {
		return spoolDir
	}
	return filepath.Dir(spoolDir)
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
}

func stateKey(ident, key, etag string) string { return ident + "\x00" + key + "\x00" + etag }

// load returns the set of stateKeys pulled, and of those whose
// --shred-after has not been done yet.
func (s *pullState) load() (pulled, pending map[string]bool, err error) {
	pulled, pending = map[string]bool{}, map[string]bool{}
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return pulled, pending, nil
	}
	if err != nil {
		return nil, nil, err
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
		switch {
		case e.Shredded:
			delete(pending, k)
		case e.ShredPending:
			pulled[k], pending[k] = true, true
		default:
			pulled[k] = true
		}
	}
	return pulled, pending, sc.Err()
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
