package cmd

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/transfer"
)

type shredOptions struct {
	exchangeFlags
	yes bool
}

func (a *app) newShredCommand() *cobra.Command {
	var o shredOptions
	c := &cobra.Command{
		Use:   "shred NAME… [--yes]",
		Short: "Remove files from the exchange for good: every version, upload and local copy",
		Long: `Remove every trace of each NAME that xfer can reach: every version and delete
marker of the object (on a versioned bucket a plain delete only hides it),
every unfinished multipart upload of it, and the local spool and journal of an
interrupted send or fetch. What was removed is printed, item by item.

Shredding cannot be undone. On a terminal xfer asks first unless --yes is
given; without a terminal (cron, pipes) it refuses to run without --yes.

A version that Object Lock retention or a legal hold protects cannot be
deleted before the lock ends: shred says which, removes everything else and
ends with exit code 3. Receipts ('xfer pull' leaves one per file, without any
file content) are kept. What shredding means for the provider's disks: see
docs/shredding.md.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials, XFER_CONFIG.`,
		Example: `  xfer shred acme.csv.zip.age
  xfer shred --yes --json weekly-2026-01-05.csv.zip.age`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runShred(c, o, args) },
	}
	o.exchangeFlags.add(c)
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

func (a *app) runShred(c *cobra.Command, o shredOptions, names []string) error {
	for _, name := range names {
		if err := checkName(name); err != nil {
			return err
		}
	}
	if !o.yes && !a.isTerminal(a.env.Stdin) {
		return withHint(usagef("refusing to shred without --yes: there is no terminal to confirm on"),
			"run it on a terminal, or add --yes when you are sure")
	}
	x, err := a.openExchange(c, &o.exchangeFlags)
	if err != nil {
		return err
	}
	spoolDir, err := a.spoolDir()
	if err != nil {
		return err
	}
	ctx := c.Context()
	plans, err := a.planShreds(ctx, x, spoolDir, names)
	if err != nil {
		return err
	}
	if !o.yes {
		ok, err := a.confirmShred(plans)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not confirmed: nothing was removed")
		}
	}
	var worst error
	errs := a.shredAll(ctx, x, plans, func(p *shredPlan, err error) {
		if len(plans) > 1 {
			worst = a.reportFailure(ctx, "name", p.name, err, worst)
		}
	})
	if len(plans) == 1 {
		return errs[0]
	}
	if worst != nil {
		return reported{worst}
	}
	return nil
}

// shredPlan is what shredding one name removes.
type shredPlan struct {
	name, key string
	action    string // what the audit log calls it: shred, or sweep
	versions  []transfer.Version
	uploads   []transfer.UploadInfo
	spools    []string // spool paths (send and fetch) with files on disk
	files     []string // those files: spools and journals
}

func (p *shredPlan) empty() bool {
	return len(p.versions)+len(p.uploads)+len(p.files) == 0
}

// shredConcurrency is how many requests planning and checking a shred
// have in flight at once.
const shredConcurrency = 32

// planShred finds everything of name: versions and delete markers,
// unfinished uploads (asked by exact key, which every server matches) and
// local spools and journals.
func (a *app) planShred(ctx context.Context, x *exchange, spoolDir, name string) (*shredPlan, error) {
	plans, err := a.planShreds(ctx, x, spoolDir, []string{name})
	if err != nil {
		return nil, err
	}
	return plans[0], nil
}

// planShreds plans the shred of each name, in the order given, asking the
// store a few names at a time (see listVersionsOf). It fails with the
// first name's failure, in that order.
func (a *app) planShreds(ctx context.Context, x *exchange, spoolDir string, names []string) ([]*shredPlan, error) {
	plans := make([]*shredPlan, len(names))
	keys := make([]string, len(names))
	for i, name := range names {
		keys[i] = x.key(name)
		plans[i] = &shredPlan{name: name, key: keys[i], action: audit.ActionShred}
	}
	// The versions and the uploads are asked for at the same time.
	var (
		versions [][]transfer.Version
		errs     []error
	)
	var uerrs []error
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		versions, errs = listVersionsOf(gctx, x.store, keys)
		return cmp.Or(errs...)
	})
	var uploads [][]transfer.UploadInfo
	g.Go(func() error {
		uploads, uerrs = listUploadsOf(gctx, x.store, keys)
		return cmp.Or(uerrs...)
	})
	g.Wait()
	for i, p := range plans {
		p.versions, p.uploads = versions[i], uploads[i]
	}
	for i := range plans {
		// A cancelled sibling's error is not the cause: look for the first
		// real one.
		if err := cmp.Or(errs[i], uerrs[i]); err != nil && (ctx.Err() != nil || !errors.Is(err, context.Canceled)) {
			return nil, err
		}
	}
	for _, p := range plans {
		p.findLocal(x, spoolDir)
	}
	return plans, nil
}

// findLocal adds the spools and journals of p's key to p.
func (p *shredPlan) findLocal(x *exchange, spoolDir string) {
	for _, sp := range []string{x.spoolPath(spoolDir, p.key), x.downloadPath(spoolDir, p.key)} {
		found := false
		for _, f := range []string{sp, sp + ".journal"} {
			if _, err := os.Lstat(f); err == nil {
				p.files = append(p.files, f)
				found = true
			}
		}
		if found {
			p.spools = append(p.spools, sp)
		}
	}
}

// listVersionsOf returns the versions and delete markers of each key, or
// the failure to list them, by the keys' index: many keys by listing their
// longest common prefix once (see byKeys).
func listVersionsOf(ctx context.Context, store transfer.Store, keys []string) ([][]transfer.Version, []error) {
	return byKeys(ctx, keys, store.ListVersions,
		func(v transfer.Version) (string, string) { return v.Key, v.Key + "\x00" + v.VersionID },
		false, commonPrefix(keys))
}

// listUploadsOf returns the unfinished uploads of each key, or the failure
// to list them, by the keys' index. Servers differ in how they match the
// prefix of an upload listing (MinIO: only a whole key, or everything for
// an empty one; S3 and versitygw: as a prefix), and every one matches an
// exact key. So many keys are found by listing both their common prefix
// and the whole bucket, once each, which finds them on either kind of
// server; when the credentials may not list the whole bucket, key by key
// (see byKeys).
func listUploadsOf(ctx context.Context, store transfer.Store, keys []string) ([][]transfer.UploadInfo, []error) {
	return byKeys(ctx, keys, store.ListUploads,
		func(u transfer.UploadInfo) (string, string) { return u.Key, u.UploadID },
		true, commonPrefix(keys), "")
}

// byKeys gathers the items list finds for each key, by the keys' index,
// with the failure to list them. A few keys are listed key by key; many
// by listing each of prefixes once (an item found twice, by its id, counts
// once), unless those turn out to hold far more than the keys (a big
// bucket, where the listing would cost more than it saves) or, with
// deniedFallsBack, the credentials may not list them: then key by key, a
// few at a time.
func byKeys[T any](ctx context.Context, keys []string, list func(context.Context, string, func(T) error) error,
	keyID func(T) (key, id string), deniedFallsBack bool, prefixes ...string) ([][]T, []error) {
	items := make([][]T, len(keys))
	errs := make([]error, len(keys))
	if len(keys) >= prefixListingMin {
		at := make(map[string][]int, len(keys))
		for i, k := range keys {
			at[k] = append(at[k], i)
		}
		budget, seen := 4*len(keys)+1000, 0
		found := map[string]bool{}
		collect := func(item T) error {
			if seen++; seen > budget {
				return errOverBudget
			}
			key, id := keyID(item)
			if found[id] {
				return nil
			}
			found[id] = true
			for _, i := range at[key] {
				items[i] = append(items[i], item)
			}
			return nil
		}
		var err error
		for _, p := range prefixes {
			if err = list(ctx, p, collect); err != nil {
				break
			}
		}
		if err == nil {
			return items, errs
		}
		clear(items)
		if !errors.Is(err, errOverBudget) && !(deniedFallsBack && errors.Is(err, transfer.ErrAccessDenied)) {
			for i := range errs {
				errs[i] = err
			}
			return items, errs
		}
	}
	var g errgroup.Group
	g.SetLimit(shredConcurrency)
	for i, key := range keys {
		g.Go(func() error {
			errs[i] = list(ctx, key, func(item T) error {
				if k, _ := keyID(item); k == key {
					items[i] = append(items[i], item)
				}
				return nil
			})
			return nil
		})
	}
	g.Wait()
	return items, errs
}

// prefixListingMin is the fewest keys listVersionsOf and listUploadsOf
// list by their common prefix.
const prefixListingMin = 8

var errOverBudget = errors.New("listing holds far more than the names")

// commonPrefix is the longest prefix every key shares.
func commonPrefix(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	p := keys[0]
	for _, k := range keys[1:] {
		n := 0
		for n < len(p) && n < len(k) && p[n] == k[n] {
			n++
		}
		p = p[:n]
	}
	return p
}

// confirmShred shows the plans on stderr and asks on the terminal.
func (a *app) confirmShred(plans []*shredPlan) (bool, error) {
	w := a.env.Stderr
	n := 0
	for _, p := range plans {
		if p.empty() {
			fmt.Fprintf(w, "%s: nothing to remove\n", p.name)
			continue
		}
		n++
		fmt.Fprintf(w, "%s: %s\n", p.name, p.summary())
	}
	if n == 0 {
		return true, nil // nothing to lose: let shred say so
	}
	fmt.Fprintf(w, "Shred %s for good? This cannot be undone. [y/N] ", plural(n, "name", "names"))
	line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func (p *shredPlan) counts() (versions, markers int) {
	for _, v := range p.versions {
		if v.DeleteMarker {
			markers++
		} else {
			versions++
		}
	}
	return versions, markers
}

func (p *shredPlan) summary() string {
	v, m := p.counts()
	return fmt.Sprintf("%s, %s, %s, %s", plural(v, "version", "versions"), plural(m, "delete marker", "delete markers"),
		plural(len(p.uploads), "unfinished upload", "unfinished uploads"), plural(len(p.files), "local file", "local files"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// shred removes what the plan lists and reports each item, as shredAll.
func (a *app) shred(ctx context.Context, x *exchange, p *shredPlan) error {
	return a.shredAll(ctx, x, []*shredPlan{p}, nil)[0]
}

// shredOutcome is what shredAll did for one plan.
type shredOutcome struct {
	aborted    []error  // by upload
	deleted    []error  // by version
	local      []error  // failures removing spools
	spoolsGone []string // the spools removed
	left       int      // versions the listing afterwards found
	leftErr    error    // that listing's failure
}

// shredAll removes what the plans list, phase by phase across all of them
// so that many names cost few requests: first the uploads, so none can
// become a new version behind our back; then the versions, in batches;
// then the local files; then it lists again to see what remains. It
// then reports each plan's items in order, calls done (when not nil) for
// each plan that failed, and records one audit event per plan. It carries
// on past failures and returns each plan's worst, with a hint when Object
// Lock may be the cause.
func (a *app) shredAll(ctx context.Context, x *exchange, plans []*shredPlan, done func(*shredPlan, error)) []error {
	outs := make([]shredOutcome, len(plans))
	var g errgroup.Group
	g.SetLimit(shredConcurrency)
	for i, p := range plans {
		outs[i].aborted = make([]error, len(p.uploads))
		for j, u := range p.uploads {
			g.Go(func() error {
				outs[i].aborted[j] = x.store.AbortUpload(ctx, u.Key, u.UploadID)
				return nil
			})
		}
	}
	g.Wait()

	// One batch for all: a version two names share (a name given twice)
	// is deleted once.
	var items []transfer.ObjectVersion
	index := map[transfer.ObjectVersion]int{}
	for _, p := range plans {
		for _, v := range p.versions {
			it := transfer.ObjectVersion{Key: v.Key, VersionID: v.VersionID}
			if _, ok := index[it]; !ok {
				index[it] = len(items)
				items = append(items, it)
			}
		}
	}
	errs := x.store.DeleteVersions(ctx, items)
	for i, p := range plans {
		outs[i].deleted = make([]error, len(p.versions))
		for j, v := range p.versions {
			outs[i].deleted[j] = errs[index[transfer.ObjectVersion{Key: v.Key, VersionID: v.VersionID}]]
		}
	}

	for i, p := range plans {
		for _, sp := range p.spools {
			if err := transfer.RemoveSpool(sp); err != nil {
				if errors.Is(err, transfer.ErrSpoolBusy) {
					err = withHint(err, "another xfer is sending or fetching %s right now: let it finish or stop it, then shred again", p.name)
				}
				outs[i].local = append(outs[i].local, err)
				continue
			}
			outs[i].spoolsGone = append(outs[i].spoolsGone, sp)
		}
	}

	// What the listing showed is gone; anything still there was written
	// meanwhile or could not be deleted.
	keys := make([]string, len(plans))
	for i, p := range plans {
		keys[i] = p.key
	}
	left, lerrs := listVersionsOf(ctx, x.store, keys)
	for i := range plans {
		outs[i].left, outs[i].leftErr = len(left[i]), lerrs[i]
	}

	results := make([]error, len(plans))
	evs := make([]audit.Event, len(plans))
	for i, p := range plans {
		ev := audit.Event{Action: p.action, Key: p.name}
		err := a.reportShred(ctx, p, &outs[i], &ev)
		if err != nil {
			ev.ExitCode, ev.Error = exitCode(ctx, err), err.Error()
			if done != nil {
				done(p, err)
			}
		}
		results[i], evs[i] = err, ev
	}
	a.recordAudits(ctx, x, evs)
	return results
}

// reportShred reports what shredAll did for p, item by item, then the
// summary, fills in ev's counts and returns p's worst failure.
func (a *app) reportShred(ctx context.Context, p *shredPlan, out *shredOutcome, ev *audit.Event) error {
	var failed []error
	removed := map[string]int{}
	item := func(kind, human string, fields map[string]any) {
		removed[kind]++
		ev := map[string]any{"event": "removed", "kind": kind, "name": p.name, "key": p.key}
		for k, v := range fields {
			ev[k] = v
		}
		a.result(ev, "%s", human)
	}
	for j, u := range p.uploads {
		if err := out.aborted[j]; err != nil {
			failed = append(failed, fmt.Errorf("aborting upload %s: %w", u.UploadID, err))
			continue
		}
		item("upload", fmt.Sprintf("aborted unfinished upload %s of %s (started %s)", u.UploadID, p.name, u.Initiated.Local().Format(timeLayout)),
			map[string]any{"upload_id": u.UploadID, "initiated": u.Initiated})
	}
	var locked []string
	for j, v := range p.versions {
		if err := out.deleted[j]; err != nil {
			if errors.Is(err, transfer.ErrAccessDenied) {
				locked = append(locked, versionLabel(v.VersionID))
			}
			failed = append(failed, fmt.Errorf("deleting version %s: %w", versionLabel(v.VersionID), err))
			continue
		}
		if v.DeleteMarker {
			item("delete_marker", fmt.Sprintf("removed delete marker %s of %s", versionLabel(v.VersionID), p.name),
				map[string]any{"version_id": v.VersionID})
		} else {
			what := "version " + v.VersionID + " of " + p.name
			if versionLabel(v.VersionID) != v.VersionID {
				what = p.name + " (unversioned)"
			}
			item("version", fmt.Sprintf("removed %s (%s, %s)", what, humanBytes(v.Size), v.LastModified.Local().Format(timeLayout)),
				map[string]any{"version_id": v.VersionID, "size": v.Size, "etag": v.ETag, "modified": v.LastModified})
		}
	}
	failed = append(failed, out.local...)
	for _, sp := range out.spoolsGone {
		for _, f := range p.files {
			if strings.HasPrefix(f, sp) {
				if _, err := os.Lstat(f); errors.Is(err, fs.ErrNotExist) {
					item("local", "removed local file "+f, map[string]any{"path": f})
				}
			}
		}
	}
	if out.leftErr != nil {
		failed = append(failed, out.leftErr)
	} else if out.left > len(locked) && len(failed) == 0 {
		failed = append(failed, fmt.Errorf("%s remain: written while shredding? run shred again", plural(out.left, "version", "versions")))
	}

	v, m := removed["version"], removed["delete_marker"]
	ev.Details = map[string]int64{"versions": int64(v), "delete_markers": int64(m), "uploads": int64(removed["upload"]), "local_files": int64(removed["local"])}
	event := map[string]any{"event": "shredded", "name": p.name, "key": p.key, "versions": v, "delete_markers": m,
		"uploads": removed["upload"], "local_files": removed["local"], "complete": len(failed) == 0}
	switch {
	case p.empty():
		a.result(event, "nothing to shred for %s: no version, delete marker, unfinished upload or local file", p.name)
	default:
		verb := "shredded"
		if len(failed) > 0 {
			verb = "shredded only in part"
		}
		a.result(event, "%s %s: %s, %s, %s, %s", verb, p.name, plural(v, "version", "versions"), plural(m, "delete marker", "delete markers"),
			plural(removed["upload"], "unfinished upload", "unfinished uploads"), plural(removed["local"], "local file", "local files"))
	}
	if len(failed) == 0 {
		return nil
	}
	// The exit code is the worst of the failures (an Object Lock refusal,
	// 3, is not hidden behind a transient error that came first).
	worst := failed[0]
	for _, f := range failed[1:] {
		if exitCode(ctx, f) > exitCode(ctx, worst) {
			worst = f
		}
	}
	err := worst
	if len(failed) > 1 {
		err = fmt.Errorf("%w (and %d more failures)", worst, len(failed)-1)
	}
	if len(locked) > 0 {
		return withHint(fmt.Errorf("%s not deleted: %w", plural(len(locked), "version was", "versions were"), err),
			"Object Lock retention or a legal hold protects them until it ends, or these credentials may not delete versions (s3:DeleteObjectVersion); everything else was removed (see docs/shredding.md)")
	}
	return err
}

// versionLabel shows a version ID, naming the unversioned one.
func versionLabel(id string) string {
	if id == "" || id == "null" {
		return "(unversioned)"
	}
	return id
}

// timeLayout is how times are shown to people.
const timeLayout = "2006-01-02 15:04"
