package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

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
	plans := make([]*shredPlan, 0, len(names))
	for _, name := range names {
		p, err := a.planShred(ctx, x, spoolDir, name)
		if err != nil {
			return err
		}
		plans = append(plans, p)
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
	for _, p := range plans {
		err := a.shred(ctx, x, p)
		if err == nil {
			continue
		}
		if len(plans) == 1 {
			return err
		}
		worst = a.reportFailure(ctx, "name", p.name, err, worst)
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

// planShred finds everything of name: versions and delete markers,
// unfinished uploads (asked by exact key, which every server matches) and
// local spools and journals.
func (a *app) planShred(ctx context.Context, x *exchange, spoolDir, name string) (*shredPlan, error) {
	key := x.key(name)
	p := &shredPlan{name: name, key: key, action: audit.ActionShred}
	if err := x.store.ListVersions(ctx, key, func(v transfer.Version) error {
		if v.Key == key {
			p.versions = append(p.versions, v)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := x.store.ListUploads(ctx, key, func(u transfer.UploadInfo) error {
		if u.Key == key {
			p.uploads = append(p.uploads, u)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, sp := range []string{x.spoolPath(spoolDir, key), x.downloadPath(spoolDir, key)} {
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
	return p, nil
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

// shred removes what the plan lists and reports each item. Uploads go
// first, so none can become a new version behind our back; then the
// versions; then the local files. It carries on past failures and returns
// the worst, with a hint when Object Lock may be the cause.
func (a *app) shred(ctx context.Context, x *exchange, p *shredPlan) error {
	return a.audited(ctx, p.action, x, p.name, func(ev *audit.Event) error { return a.shredPlanned(ctx, x, p, ev) })
}

func (a *app) shredPlanned(ctx context.Context, x *exchange, p *shredPlan, ev *audit.Event) error {
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
	for _, u := range p.uploads {
		if err := x.store.AbortUpload(ctx, u.Key, u.UploadID); err != nil {
			failed = append(failed, fmt.Errorf("aborting upload %s: %w", u.UploadID, err))
			continue
		}
		item("upload", fmt.Sprintf("aborted unfinished upload %s of %s (started %s)", u.UploadID, p.name, u.Initiated.Local().Format(timeLayout)),
			map[string]any{"upload_id": u.UploadID, "initiated": u.Initiated})
	}
	var locked []string
	for _, v := range p.versions {
		if err := x.store.DeleteVersion(ctx, v.Key, v.VersionID); err != nil {
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
	for _, sp := range p.spools {
		if err := transfer.RemoveSpool(sp); err != nil {
			if errors.Is(err, transfer.ErrSpoolBusy) {
				err = withHint(err, "another xfer is sending or fetching %s right now: let it finish or stop it, then shred again", p.name)
			}
			failed = append(failed, err)
			continue
		}
		for _, f := range p.files {
			if strings.HasPrefix(f, sp) {
				if _, err := os.Lstat(f); errors.Is(err, fs.ErrNotExist) {
					item("local", "removed local file "+f, map[string]any{"path": f})
				}
			}
		}
	}
	// What the listing showed is gone; anything still there was written
	// meanwhile or could not be deleted.
	left := 0
	if err := x.store.ListVersions(ctx, p.key, func(v transfer.Version) error {
		if v.Key == p.key {
			left++
		}
		return nil
	}); err != nil {
		failed = append(failed, err)
	} else if left > len(locked) && len(failed) == 0 {
		failed = append(failed, fmt.Errorf("%s remain: written while shredding? run shred again", plural(left, "version", "versions")))
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
