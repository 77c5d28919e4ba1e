package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/audit"
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
	addBWLimitFlag(c, "downloads")
	f.StringVar(&o.maxSize, "max-size", "", maxSizeUsage)
	return c
}

func (a *app) runPull(c *cobra.Command, o pullOptions, names []string) error {
	switch {
	case o.all && len(names) > 0:
		return usagef("give names or --all, not both")
	case !o.all && len(names) == 0:
		return withHint(usagef("nothing to pull"), "give the names to pull (see 'xfer list') or --all")
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
	if err := fileperm.MkdirAll(p.Dir); err != nil {
		return usagef("output directory: %w", err)
	}
	x, err := a.openExchangeSpool(c, &o.exchangeFlags)
	if err != nil {
		return err
	}
	ctx := c.Context()
	var items, unshredded []exchange.Pulled
	if o.all {
		l, err := x.Pending(ctx, p.ShredAfter)
		if err != nil {
			return err
		}
		items, unshredded = l.New, l.Unshredded
		if l.Others > 0 {
			a.warn("%s under %s not ending in .zip.age or .zip.aes: not pulled by --all", count(l.Others, "object", "objects"), x.Where())
		}
		if len(items) == 0 && len(unshredded) == 0 {
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
	var worst error
	for _, it := range items {
		err := a.audited(ctx, audit.ActionPull, x, it.Name, func(ev *audit.Event) error { return a.pullOne(ctx, x, p, it.Name, ev) })
		if err == nil {
			continue
		}
		if len(items)+len(unshredded) == 1 {
			return err
		}
		worst = a.reportFailure(ctx, "name", it.Name, err, worst)
	}
	for _, it := range unshredded {
		a.result(map[string]any{"event": "shred_pending", "name": it.Name},
			"%s was pulled before but is still in the exchange: shredding it now", it.Name)
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

// pullOne pulls one file and reports it, then shreds it with --shred-after.
func (a *app) pullOne(ctx context.Context, x *exchange.Exchange, p exchange.PullOptions, name string, ev *audit.Event) error {
	res, err := x.Pull(ctx, name, p, a.reporter())
	switch {
	case errors.Is(err, transfer.ErrInterrupted):
		return withHint(err, "what was downloaded is kept; run the same command again to resume")
	case errors.Is(err, fs.ErrExist):
		return withHint(err, "%s is never overwritten: move it away and pull %s again", res.Output, name)
	case err != nil:
		return err
	case errors.Is(res.Skipped, exchange.ErrBusy):
		a.warn("%s: skipped: %v", name, res.Skipped)
		return nil
	case res.Skipped != nil:
		a.result(map[string]any{"event": "skipped", "name": name, "reason": res.Skipped.Error()},
			"skipped %s: %v", name, res.Skipped)
		return nil
	}
	ev.SHA256, ev.Bytes, ev.Rows = hex.EncodeToString(res.SHA256), res.ObjectBytes, res.Rows
	event := map[string]any{"event": "pulled", "name": name, "key": res.Key, "output": res.Output, "bytes": res.Bytes, "object_bytes": res.ObjectBytes,
		"resumed_bytes": res.Resumed, "etag": res.ETag, "verified": res.Verified}
	human := fmt.Sprintf("pulled %s into %s (%s", name, res.Output, humanBytes(res.Bytes))
	if res.Already {
		event["already"] = true
		human = fmt.Sprintf("%s already holds %s, byte for byte (%s", res.Output, name, humanBytes(res.Bytes))
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
		a.warn("%s: %v", name, err)
	}
	return nil
}
