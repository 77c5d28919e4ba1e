package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/transfer"
)

type pullOptions struct {
	keyFlags
	exchangeFlags
	identities  []string
	dir         string
	all         bool
	shredAfter  bool
	concurrency int
	maxSize     string
	dryRun      bool
	group       string
	lease       string
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
others go on. The exit code of the run is the worst of its files. NAME is as
'xfer list' prints it; the .zip.age or .zip.aes suffix may be left out when
only one of the two is there.

--all pulls every sealed file (.zip.age, .zip.aes) under the prefix that was
not pulled before: xfer remembers what it pulled (by bucket, name and ETag) in
a state file in the cache directory, so a cron job running 'xfer pull --all'
again pulls nothing and says so; a file replaced by a new upload is pulled
again. Each pull also leaves a receipt in the exchange, beside the file under
.xfer/receipts/, with the time and who pulled (never anything from the file),
that 'xfer list' shows the sender.

--jobs N (or jobs in the configuration; default 4) pulls N files at once,
each with its own --concurrency ranges: a run of many small files does not
wait for each file's round trips in turn. The output comes whole and in the
order of the files (the names given, or the listing), as --jobs 1 writes it,
with one progress display for all files; a failure of one file stops none of
the others; Ctrl-C stops them all, and a re-run carries on.

--group NAME makes --all share the work with the other pullers of the pulling
group NAME (on other machines, or other runs on this one): before pulling a
file, xfer claims it in the exchange (under .xfer/claims/NAME/, with a lease
it renews while it works); the other pullers of the group skip it, and once the
CSV is written the claim is marked done, so each file is pulled once by the
group, and what the group pulled is known from the exchange, not from one
machine's state. A claim whose puller died is taken over when its lease
(--lease, default 10m) has run out. Two sites that each want a copy are two
groups. The server must honour conditional writes (If-None-Match, If-Match):
xfer checks, and refuses the group (exit code 2) if it does not. See
docs/pullers.md.

--shred-after shreds each file (see 'xfer shred') once its CSV is safely on
disk, and only if the sender has not replaced it meanwhile. With --all it also
finishes an earlier --shred-after that was interrupted or failed after its
CSV was written.

Before writing, the size each file declares for its CSV is checked as decrypt
checks it (--max-size, free space, compression ratio): a file over a bound is
refused with exit code 4, nothing is written, and the download is kept.

After a failure that a re-run can fix (a wrong key or password, an existing
CSV, an interruption) the verified download stays in the cache, so the re-run
downloads nothing that is still current; damaged files are removed at once.

--dry-run checks the settings and secrets as a pull does, then says what would
be pulled, into which file (the name without .zip.age or .zip.aes, as send
names files; a pull goes by the name sealed inside), whether a file of that
name is in the way and whether --shred-after would shred it afterwards, and
with --all --shred-after what an earlier, unfinished --shred-after would
shred now, item by item. It
downloads nothing, creates no directory, writes no CSV, receipt or pull
state and records nothing in the audit log.

The identity is an age identity file or AES-256 key file (-i, repeatable;
default: the identities in the configuration, else the files 'xfer keygen'
writes by default), or a passphrase.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials,
XFER_ZIP_PASSWORD, XFER_PASSPHRASE, XFER_PULL_GROUP, XFER_PULL_LEASE, XFER_CONFIG.`,
		Example: `  xfer pull acme.csv.zip.age -i mailhouse.key -d incoming/
  xfer pull --all -d /srv/incoming --shred-after --json -q
  xfer pull --all --group mailhouse -d /srv/incoming`,
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
	addBWLimitFlag(c, "downloads")
	addJobsFlag(c, "files downloaded and opened")
	f.StringVar(&o.maxSize, "max-size", "", maxSizeUsage)
	f.BoolVar(&o.dryRun, "dry-run", false, "say what would be pulled where (and shredded, with --shred-after), and download, write, record and remove nothing")
	f.StringVar(&o.group, "group", "", "with --all: share the files with the other pullers of this pulling group (env XFER_PULL_GROUP)")
	f.StringVar(&o.lease, "lease", "", "how long a claim of --group holds unless renewed (env XFER_PULL_LEASE; default 10m)")
	return c
}

func (a *app) runPull(c *cobra.Command, o pullOptions, names []string) error {
	switch {
	case o.all && len(names) > 0:
		return usagef("give names or --all, not both")
	case !o.all && len(names) == 0:
		return withHint(usagef("nothing to pull"), "give the names to pull (see 'xfer list') or --all")
	case !o.all && c.Flags().Changed("group"):
		return usagef("--group shares 'pull --all' with a pulling group: give --all, or pull the names without --group")
	}
	for _, name := range names {
		if err := exchange.CheckName(name); err != nil {
			return err
		}
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	p := exchange.PullOptions{Dir: o.dir, All: o.all, ShredAfter: o.shredAfter}
	if p.Concurrency, err = a.concurrencySetting(c, o.concurrency); err != nil {
		return err
	}
	if p.Limit, err = a.bwlimitSetting(c); err != nil {
		return err
	}
	jobs, err := a.jobsSetting(c)
	if err != nil {
		return err
	}
	if p.Limits, err = a.outputLimits(c, cfg); err != nil {
		return err
	}
	// Secrets first: a cron job without them fails before any download.
	if p.Identities, err = a.identities(c, o.identities, cfg); err != nil {
		return err
	}
	if p.ZipPassword, err = a.zipPassword(c, cfg, false); err != nil {
		return err
	}
	if fi, err := os.Stat(p.Dir); err == nil && !fi.IsDir() {
		return usagef("%s is not a directory", p.Dir)
	}
	if !o.dryRun {
		if err := fileperm.MkdirAll(p.Dir); err != nil {
			return usagef("output directory: %w", err)
		}
	}
	x, err := a.openExchangeState(c, &o.exchangeFlags, o.dryRun)
	if err != nil {
		return err
	}
	ctx := c.Context()
	if o.all {
		if err := a.pullGroup(ctx, c, o, cfg, x); err != nil {
			return err
		}
	}
	var items, unshredded []exchange.Pulled
	if o.all {
		l, err := x.Pending(ctx, p.ShredAfter)
		if err != nil {
			return err
		}
		items, unshredded = l.New, l.Unshredded
		for _, cl := range l.Claimed {
			a.result(map[string]any{"event": "claimed", "name": cl.Name, "by": cl.By, "host": cl.Host, "pid": cl.PID, "claimed_until": cl.Expires},
				"skipped %s: claimed by %s until %s", shown(cl.Name), shown(cl.Holder()), cl.Expires.Local().Format(time.RFC3339))
		}
		if l.Others > 0 {
			a.warn("%s under %s not ending in .zip.age or .zip.aes: not pulled by --all", count(l.Others, "object", "objects"), x.Where())
		}
		if len(items) == 0 && len(unshredded) == 0 {
			if len(l.Claimed) > 0 {
				return nil
			}
			a.result(map[string]any{"event": "nothing_new", "already_pulled": l.Already, "prefix": x.Prefix},
				"nothing new to pull under %s (%s pulled before)", x.Where(), count(l.Already, "file", "files"))
			return nil
		}
	} else {
		for _, name := range names {
			name, err := x.Resolve(ctx, name)
			if err != nil {
				return err
			}
			items = append(items, exchange.Pulled{Name: name})
		}
	}
	if o.dryRun {
		return a.planPull(ctx, x, p, items, unshredded)
	}
	pullIt := func(a *app, i int) error {
		p := p
		p.ETag = items[i].ETag
		return a.audited(ctx, audit.ActionPull, x, items[i].Name, func(ev *audit.Event) error { return a.pullOne(ctx, x, p, items[i].Name, ev) })
	}
	if len(items)+len(unshredded) == 1 && len(items) == 1 {
		return pullIt(a, 0)
	}
	many := make([]manyItem, len(items))
	for i, it := range items {
		many[i] = manyItem{name: it.Name, key: it.Name}
	}
	worst := a.forEach(ctx, "name", jobs, many, "pull", pullIt)
	for _, it := range unshredded {
		a.result(map[string]any{"event": "shred_pending", "name": it.Name},
			"%s was pulled before but is still in the exchange: shredding it now", shown(it.Name))
		err := a.shredPulled(ctx, x, it.Name, it.ETag)
		if err == nil {
			continue
		}
		if len(items)+len(unshredded) == 1 {
			return err
		}
		worst = a.reportFailure(ctx, "name", it.Name, err, worst)
	}
	if worst != nil {
		return reported{worst}
	}
	return nil
}

// planPull reports what pulling items, and finishing the shreds of
// unshredded, would do (--dry-run).
func (a *app) planPull(ctx context.Context, x *exchange.Exchange, p exchange.PullOptions, items, unshredded []exchange.Pulled) error {
	var worst error
	single := len(items)+len(unshredded) == 1
	fail := func(name string, err error) error {
		if single {
			return err
		}
		worst = a.reportFailure(ctx, "name", name, err, worst)
		return nil
	}
	for _, it := range items {
		plan, err := planOne(ctx, x, p, it)
		if err != nil {
			if err := fail(it.Name, err); err != nil {
				return err
			}
			continue
		}
		human := fmt.Sprintf("would pull %s (%s) into %s", shown(plan.Name), humanBytes(plan.Size), plan.Output)
		if plan.OutputExists {
			human += fmt.Sprintf("; %s exists and would not be overwritten", plan.Output)
		}
		if p.ShredAfter {
			human += ", then shred it from the exchange"
		}
		a.result(map[string]any{"event": "would_pull", "name": plan.Name, "key": plan.Key, "output": plan.Output, "object_bytes": plan.Size,
			"etag": plan.ETag, "output_exists": plan.OutputExists, "shred_after": p.ShredAfter}, "%s; dry run, nothing pulled", human)
	}
	for _, it := range unshredded {
		plan, err := x.PlanShredPulled(ctx, it.Name, it.ETag)
		if err != nil {
			if err := fail(it.Name, err); err != nil {
				return err
			}
			continue
		}
		a.reportShredPlan(plan)
	}
	if worst != nil {
		return reported{worst}
	}
	return nil
}

// planOne plans the pull of it: a file pull --all listed is planned from
// the listing, a name given on the command line is looked up.
func planOne(ctx context.Context, x *exchange.Exchange, p exchange.PullOptions, it exchange.Pulled) (*exchange.PullPlan, error) {
	if it.ETag != "" {
		return x.PlanListed(it, p), nil
	}
	return x.PlanPull(ctx, it.Name, p)
}

// pullGroup sets up the pulling group of 'pull --all', if one is
// configured: the claims' group and lease, after checking the server
// honours the conditional writes claims rest on.
func (a *app) pullGroup(ctx context.Context, c *cobra.Command, o pullOptions, cfg *config.File, x *exchange.Exchange) error {
	group := a.setting(c, "group", "XFER_PULL_GROUP", cfg.PullGroup, "")
	if group == "" {
		return nil
	}
	if err := exchange.CheckGroup(group); err != nil {
		return usagef("--group: %w", err)
	}
	lease, err := config.ParseDuration(a.setting(c, "lease", "XFER_PULL_LEASE", cfg.PullLease, exchange.DefaultLease.String()))
	if err != nil {
		return usagef("--lease: %w", err)
	}
	if lease < exchange.MinLease {
		return usagef("--lease %s: at least %s", lease, exchange.MinLease)
	}
	if o.dryRun {
		// The probe writes to the exchange; a dry run only reads the claims.
		x.Group, x.Lease = group, lease
		return nil
	}
	cs, err := x.ProbeConditional(ctx)
	if err != nil {
		return err
	}
	if !cs.OK() {
		return withHint(usagef("pulling group %s: the server of %s does not honour conditional writes (%s), so several pullers could pull the same file: refused",
			group, x.Where(), missingConditions(cs)),
			"pull without --group (and without pull_group in the configuration) from one machine, or use a server that supports If-None-Match and If-Match (AWS S3, MinIO); see 'xfer doctor'")
	}
	x.Group, x.Lease = group, lease
	return nil
}

// missingConditions names the conditional writes a server ignores.
func missingConditions(cs exchange.ConditionalSupport) string {
	var miss []string
	if !cs.IfNoneMatch {
		miss = append(miss, "If-None-Match")
	}
	if !cs.IfMatch {
		miss = append(miss, "If-Match")
	}
	return strings.Join(miss, ", ")
}

// pullOne pulls one file and reports it, then shreds it with --shred-after.
func (a *app) pullOne(ctx context.Context, x *exchange.Exchange, p exchange.PullOptions, name string, ev *audit.Event) error {
	res, err := x.Pull(ctx, name, p, a.reporter())
	switch {
	case errors.Is(err, transfer.ErrInterrupted):
		return withHint(err, "what was downloaded is kept; run the same command again to resume")
	case errors.Is(err, fs.ErrExist):
		return withHint(err, "%s is never overwritten: move it away and pull %s again", res.Output, shown(name))
	case err != nil:
		return err
	case errors.Is(res.Skipped, exchange.ErrBusy):
		a.warn("%s: skipped: %v", shown(name), res.Skipped)
		return nil
	case res.Skipped != nil:
		event := map[string]any{"event": "skipped", "name": name, "reason": res.Skipped.Error()}
		var ce *exchange.ClaimedError
		if errors.As(res.Skipped, &ce) && ce.Claim != nil {
			event["claimed_until"] = ce.Claim.Expires
		}
		a.result(event, "skipped %s: %v", shown(name), res.Skipped)
		return nil
	}
	ev.SHA256, ev.Bytes, ev.Rows = hex.EncodeToString(res.SHA256), res.ObjectBytes, res.Rows
	event := map[string]any{"event": "pulled", "name": name, "key": res.Key, "output": res.Output, "bytes": res.Bytes, "object_bytes": res.ObjectBytes,
		"resumed_bytes": res.Resumed, "etag": res.ETag, "verified": res.Verified, "already": res.Already}
	human := fmt.Sprintf("pulled %s into %s (%s", shown(name), res.Output, humanBytes(res.Bytes))
	if res.Already {
		human = fmt.Sprintf("%s already holds %s, byte for byte (%s", res.Output, shown(name), humanBytes(res.Bytes))
	}
	human += manifestNote(res.Opened, event)
	if res.Resumed > 0 {
		human += fmt.Sprintf(", %s resumed from an earlier run", humanBytes(res.Resumed))
	}
	a.result(event, "%s)", human)
	if !p.ShredAfter {
		return nil
	}
	// The CSV is safe on disk: only now may the exchange forget the file.
	return a.shredPulled(ctx, x, name, res.ETag)
}

// shredPulled shreds name after its version etag was pulled and its CSV
// written (see exchange.PlanShredPulled). A failure here leaves the pull
// recorded; the next 'pull --all --shred-after' finds the file still there
// and finishes.
func (a *app) shredPulled(ctx context.Context, x *exchange.Exchange, name, etag string) error {
	plan, err := x.PlanShredPulled(ctx, name, etag)
	if errors.Is(err, exchange.ErrReplaced) {
		return withHint(err, "pull it again to get the new version, then shred")
	}
	if err != nil {
		return err
	}
	if err := a.shred(ctx, x, plan, audit.ActionShred); err != nil {
		return fmt.Errorf("pulled, but not shredded completely: %w", err)
	}
	if err := x.RecordShredded(name, etag); err != nil {
		a.warn("%s: %v", shown(name), err)
	}
	return nil
}
