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
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/transfer"
)

type shredOptions struct {
	exchangeFlags
	yes    bool
	dryRun bool
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

NAME is as 'xfer list' prints it; without the .zip.age or .zip.aes suffix it
names the one sealed file it matches (refused, naming both, when both exist).
A NAME of which nothing is found is an error (exit code 2).

Shredding cannot be undone. On a terminal xfer asks first unless --yes is
given; without a terminal (cron, pipes) it refuses to run without --yes.

A version that Object Lock retention or a legal hold protects cannot be
deleted before the lock ends: shred says which, removes everything else and
ends with exit code 3. Receipts ('xfer pull' leaves one per file, without any
file content) are kept. --dry-run lists what would be removed, item by item,
and removes nothing; it needs no --yes and records nothing in the audit log.
A name of which nothing is found is an error here too. What shredding means for the provider's disks: see
docs/shredding.md.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials, XFER_CONFIG.`,
		Example: `  xfer shred acme.csv.zip.age
  xfer shred --yes --json weekly-2026-01-05.csv.zip.age`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runShred(c, o, args) },
	}
	o.exchangeFlags.add(c)
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would be removed, item by item, and remove nothing (needs no --yes)")
	return c
}

func (a *app) runShred(c *cobra.Command, o shredOptions, names []string) error {
	for _, name := range names {
		if err := exchange.CheckName(name); err != nil {
			return err
		}
	}
	if !o.yes && !o.dryRun && !a.isTerminal(a.env.Stdin) {
		return withHint(usagef("refusing to shred without --yes: there is no terminal to confirm on"),
			"run it on a terminal, or add --yes when you are sure")
	}
	x, err := a.openExchangeState(c, &o.exchangeFlags, o.dryRun)
	if err != nil {
		return err
	}
	ctx := c.Context()
	resolved := make([]string, len(names))
	for i, name := range names {
		if resolved[i], err = x.Resolve(ctx, name); err != nil {
			return err
		}
	}
	all, err := x.PlanShreds(ctx, resolved)
	if err != nil {
		return err
	}
	var worst error
	var plans []*exchange.ShredPlan
	for _, p := range all {
		if err := p.Check(); err != nil {
			if len(all) == 1 {
				return err
			}
			worst = a.reportFailure(ctx, "name", p.Name, err, worst)
			continue
		}
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		return reported{worst}
	}
	if o.dryRun {
		for _, p := range plans {
			a.reportShredPlan(p)
		}
		if worst != nil {
			return reported{worst}
		}
		return nil
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
	errs := a.shredAll(ctx, x, plans, audit.ActionShred, func(p *exchange.ShredPlan, err error) {
		if len(all) > 1 {
			worst = a.reportFailure(ctx, "name", p.Name, err, worst)
		}
	})
	if len(all) == 1 {
		return errs[0]
	}
	if worst != nil {
		return reported{worst}
	}
	return nil
}

// confirmShred shows the plans on stderr and asks on the terminal.
func (a *app) confirmShred(plans []*exchange.ShredPlan) (bool, error) {
	w := a.env.Stderr
	n := 0
	for _, p := range plans {
		if p.Empty() {
			fmt.Fprintf(w, "%s: nothing to remove\n", shown(p.Name))
			continue
		}
		n++
		fmt.Fprintf(w, "%s: %s\n", shown(p.Name), shredSummary(p))
	}
	if n == 0 {
		return true, nil // nothing to lose: let shred say so
	}
	fmt.Fprintf(w, "Shred %s for good? This cannot be undone. [y/N] ", count(n, "name", "names"))
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

// shredSummary says what the plan removes, for the confirmation.
func shredSummary(p *exchange.ShredPlan) string {
	v, m := p.Counts()
	return fmt.Sprintf("%s, %s, %s, %s", count(v, "version", "versions"), count(m, "delete marker", "delete markers"),
		count(len(p.Uploads), "unfinished upload", "unfinished uploads"), count(len(p.Files), "local file", "local files"))
}

// shred removes what the plan lists and reports each item, as shredAll.
func (a *app) shred(ctx context.Context, x *exchange.Exchange, p *exchange.ShredPlan, action string) error {
	return a.shredAll(ctx, x, []*exchange.ShredPlan{p}, action, nil)[0]
}

// shredAll removes what the plans list (see exchange.Shred), then reports
// each plan's items in order, calls done (when not nil) for each plan that
// failed, and records one audit event per plan, as action. It returns each
// plan's worst failure, with a hint when Object Lock may be the cause.
func (a *app) shredAll(ctx context.Context, x *exchange.Exchange, plans []*exchange.ShredPlan, action string, done func(*exchange.ShredPlan, error)) []error {
	outs := x.Shred(ctx, plans)
	results := make([]error, len(plans))
	evs := make([]audit.Event, len(plans))
	for i, p := range plans {
		ev := audit.Event{Action: action, Key: p.Name}
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
func (a *app) reportShred(ctx context.Context, p *exchange.ShredPlan, out *exchange.ShredOutcome, ev *audit.Event) error {
	name := shown(p.Name) // for people; events carry p.Name
	var failed []error
	removed := map[string]int{}
	item := func(it shredItem) {
		removed[it.kind]++
		a.reportShredItem("removed", p, it)
	}
	for j, u := range p.Uploads {
		if err := out.Aborted[j]; err != nil {
			failed = append(failed, fmt.Errorf("aborting upload %s: %w", u.UploadID, err))
			continue
		}
		item(uploadItem(p, u))
	}
	var locked []string
	for j, v := range p.Versions {
		if err := out.Deleted[j]; err != nil {
			if errors.Is(err, transfer.ErrAccessDenied) {
				locked = append(locked, versionLabel(v.VersionID))
			}
			failed = append(failed, fmt.Errorf("deleting version %s: %w", versionLabel(v.VersionID), err))
			continue
		}
		item(versionItem(p, v))
	}
	for _, err := range out.Local {
		if errors.Is(err, transfer.ErrSpoolBusy) {
			err = withHint(err, "another xfer is sending or fetching %s right now: let it finish or stop it, then shred again", name)
		}
		failed = append(failed, err)
	}
	for _, sp := range out.SpoolsGone {
		for _, f := range p.Files {
			if strings.HasPrefix(f, sp) {
				if _, err := os.Lstat(f); errors.Is(err, fs.ErrNotExist) {
					item(localItem(f))
				}
			}
		}
	}
	if out.LeftErr != nil {
		failed = append(failed, out.LeftErr)
	} else if out.Left > len(locked) && len(failed) == 0 {
		failed = append(failed, fmt.Errorf("%s remain: written while shredding? run shred again", count(out.Left, "version", "versions")))
	}

	v, m := removed["version"], removed["delete_marker"]
	ev.Details = map[string]int64{"versions": int64(v), "delete_markers": int64(m), "uploads": int64(removed["upload"]), "local_files": int64(removed["local"])}
	event := map[string]any{"event": "shredded", "name": p.Name, "key": p.Key, "versions": v, "delete_markers": m,
		"uploads": removed["upload"], "local_files": removed["local"], "complete": len(failed) == 0}
	switch {
	case p.Empty():
		a.result(event, "nothing to shred for %s: no version, delete marker, unfinished upload or local file", name)
	default:
		verb := "shredded"
		if len(failed) > 0 {
			verb = "shredded only in part"
		}
		a.result(event, "%s %s: %s, %s, %s, %s", verb, name, count(v, "version", "versions"), count(m, "delete marker", "delete markers"),
			count(removed["upload"], "unfinished upload", "unfinished uploads"), count(removed["local"], "local file", "local files"))
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
		return withHint(fmt.Errorf("%s not deleted: %w", count(len(locked), "version was", "versions were"), err),
			"Object Lock retention or a legal hold protects them until it ends, or these credentials may not delete versions (s3:DeleteObjectVersion); everything else was removed (see docs/shredding.md)")
	}
	return err
}

// shredItem is one thing a shred removes: kind as the removed event
// names it, what it is in words, and its event fields.
type shredItem struct {
	kind, what string
	fields     map[string]any
}

func uploadItem(p *exchange.ShredPlan, u transfer.UploadInfo) shredItem {
	return shredItem{"upload", fmt.Sprintf("unfinished upload %s of %s (started %s)", shown(u.UploadID), shown(p.Name), u.Initiated.Local().Format(timeLayout)),
		map[string]any{"upload_id": u.UploadID, "initiated": u.Initiated}}
}

func versionItem(p *exchange.ShredPlan, v transfer.Version) shredItem {
	if v.DeleteMarker {
		return shredItem{"delete_marker", fmt.Sprintf("delete marker %s of %s", shown(versionLabel(v.VersionID)), shown(p.Name)),
			map[string]any{"version_id": v.VersionID}}
	}
	what := "version " + shown(v.VersionID) + " of " + shown(p.Name)
	if versionLabel(v.VersionID) != v.VersionID {
		what = shown(p.Name) + " (unversioned)"
	}
	return shredItem{"version", fmt.Sprintf("%s (%s, %s)", what, humanBytes(v.Size), v.LastModified.Local().Format(timeLayout)),
		map[string]any{"version_id": v.VersionID, "size": v.Size, "etag": v.ETag, "modified": v.LastModified}}
}

func localItem(path string) shredItem {
	return shredItem{"local", "local file " + path, map[string]any{"path": path}}
}

// reportShredItem reports one item as event (removed or would_remove).
func (a *app) reportShredItem(event string, p *exchange.ShredPlan, it shredItem) {
	ev := map[string]any{"event": event, "kind": it.kind, "name": p.Name, "key": p.Key}
	for k, v := range it.fields {
		ev[k] = v
	}
	verb := "removed"
	switch {
	case event == "would_remove" && it.kind == "upload":
		verb = "would abort"
	case event == "would_remove":
		verb = "would remove"
	case it.kind == "upload":
		verb = "aborted"
	}
	a.result(ev, "%s %s", verb, it.what)
}

// reportShredPlan reports what shredding p would remove (a dry run):
// each item, then the counts.
func (a *app) reportShredPlan(p *exchange.ShredPlan) {
	for _, u := range p.Uploads {
		a.reportShredItem("would_remove", p, uploadItem(p, u))
	}
	for _, v := range p.Versions {
		a.reportShredItem("would_remove", p, versionItem(p, v))
	}
	for _, f := range p.Files {
		a.reportShredItem("would_remove", p, localItem(f))
	}
	v, m := p.Counts()
	a.result(map[string]any{"event": "would_shred", "name": p.Name, "key": p.Key, "versions": v, "delete_markers": m,
		"uploads": len(p.Uploads), "local_files": len(p.Files)},
		"would shred %s: %s; dry run, nothing removed", shown(p.Name), shredSummary(p))
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
