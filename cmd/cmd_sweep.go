package cmd

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/exchange"
)

type sweepOptions struct {
	exchangeFlags
	dryRun bool
}

func (a *app) newSweepCommand() *cobra.Command {
	var o sweepOptions
	c := &cobra.Command{
		Use:   "sweep [--dry-run]",
		Short: "Shred every file in the exchange whose expiry has passed",
		Long: `Shred, as 'xfer shred' does, every file under the prefix whose expiry has
passed: every version and delete marker of it, and the local spool and journal
of an interrupted fetch. The expiry is the one 'xfer send --expires' recorded
with the file (default from the config's expires, else 30 days); 'xfer list'
shows it, and sweep reads it as list does, from the list cache for files
unchanged since the last list or sweep.

The expiry in the metadata is not authenticated (anyone who may write the
prefix can change it), so sweep does not take it alone: a file without a
readable expiry is kept for the maximum retention after its upload, and no
expiry counts for longer (config: max_retention, default 90d); a file this
side has pulled goes by the expiry in its manifest, which is authenticated;
and no file younger than the minimum age (config: min_age, default 1d) is
shredded, whatever its expiry.

Made for cron: it asks nothing. A file replaced by a newer upload since the
listing is left for the next sweep, and so is an upload still in progress
under an expired name. Use --dry-run to see what would go.

Versions that an earlier delete made noncurrent are not visible to the
listing; the lifecycle rule 'xfer bucket init' sets expires them.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials, XFER_CONFIG.`,
		Example: `  xfer sweep --dry-run
  15 3 * * *  xfer sweep --json >>/var/log/xfer-sweep.ndjson`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runSweep(c, o) },
	}
	o.exchangeFlags.add(c)
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "only print what would be shredded")
	return c
}

func (a *app) runSweep(c *cobra.Command, o sweepOptions) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	var r exchange.Retention
	if cfg.MaxRetention != "" {
		if r.Max, err = config.ParseDuration(cfg.MaxRetention); err != nil || r.Max <= 0 {
			return usagef("max_retention %q: give a duration such as 90d", cfg.MaxRetention)
		}
	}
	if cfg.MinAge != "" {
		if r.MinAge, err = config.ParseDuration(cfg.MinAge); err != nil || r.MinAge < 0 {
			return usagef("min_age %q: give a duration such as 1d, or 0", cfg.MinAge)
		}
		if r.MinAge == 0 {
			r.MinAge = -1 // configured: no minimum
		}
	}
	x, err := a.openExchangeSpool(c, &o.exchangeFlags)
	if err != nil {
		return err
	}
	ctx := c.Context()
	plan, err := x.PlanSweep(ctx, a.now(), r, a.reporter())
	if err != nil {
		return err
	}
	var shredded, skipped int
	var worst error
	for _, lo := range plan.Expired {
		exp, from := plan.Retention.Expiry(lo)
		name := x.Name(lo.Info.Key)
		event := map[string]any{"event": "expired", "name": name, "key": lo.Info.Key, "expires": exp, "expiry_from": from, "size": lo.Info.Size}
		if o.dryRun {
			a.result(event, "would shred %s (expired %s, by its %s)", shown(name), exp.Local().Format(timeLayout), strings.ReplaceAll(from, "_", " "))
			continue
		}
		p, err := x.PlanExpiredShred(ctx, lo)
		if errors.Is(err, exchange.ErrReplaced) {
			skipped++
			a.result(map[string]any{"event": "skipped", "name": name, "reason": "replaced since the listing"},
				"skipped %s: replaced by a newer upload since the listing; the next sweep looks at it again", shown(name))
			continue
		}
		if err == nil {
			err = a.shred(ctx, x, p, audit.ActionSweep)
		}
		if err != nil {
			worst = a.reportFailure(ctx, "name", name, err, worst)
			continue
		}
		shredded++
	}
	expired, kept, noExpiry := len(plan.Expired), plan.Unexpired, plan.NoExpiry
	verb, done := "shredded", shredded
	if o.dryRun {
		verb, done = "would shred", expired
	}
	a.result(map[string]any{"event": "swept", "expired": expired, "shredded": shredded, "skipped": skipped,
		"unexpired": kept, "no_expiry": noExpiry, "too_young": plan.Young, "dry_run": o.dryRun},
		"sweep: %d expired (%s %d), %d not yet expired, %d without a readable expiry kept until the maximum retention, %d expired but younger than the minimum age kept",
		expired, verb, done, kept, noExpiry, plan.Young)
	if worst != nil {
		return reported{worst}
	}
	return nil
}
