package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/transfer"
)

type fetchOptions struct {
	exchangeFlags
	output      string
	concurrency int
}

func (a *app) newFetchCommand() *cobra.Command {
	var o fetchOptions
	c := &cobra.Command{
		Use:   "fetch NAME [-o FILE]",
		Short: "Download a sealed file from the exchange, verified, still encrypted",
		Long: `Download one object of the exchange as it is stored: still sealed, never
decrypted. NAME is the name as 'xfer list' prints it; the .zip.age or .zip.aes
suffix may be left out when only one of the two is there. Ranges are fetched
several at once into a spool in the cache directory, with a journal of the
ranges done beside it: if the download is interrupted (a dropped connection,
Ctrl-C, kill -9), running the same command again fetches only what is missing.
If the object was replaced in the meantime, the download starts over.

The result is checked against the SHA-256 checksum the server recorded when the
file was uploaded (for a multipart upload, the composite checksum over its
parts) and only then written to FILE (default: NAME in the current directory),
with mode 0600. A mismatch ends with exit code 4 and leaves no file; an
existing file is never replaced.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials, XFER_CONFIG.`,
		Example: `  xfer fetch acme.csv.zip.age
  xfer fetch acme.csv.zip.age -o /secure/incoming/acme.csv.zip.age`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runFetch(c, o, args[0]) },
	}
	o.exchangeFlags.add(c)
	c.Flags().StringVarP(&o.output, "output", "o", "", "write the sealed file to FILE (- for stdout)")
	c.Flags().IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("ranges downloaded at once (default %d)", transfer.DefaultConcurrency))
	addBWLimitFlag(c, "download")
	return c
}

// addBWLimitFlag adds --bwlimit, the cap on the bytes per second that c
// uploads or downloads (what).
func addBWLimitFlag(c *cobra.Command, what string) {
	c.Flags().String("bwlimit", "", "cap the "+what+" at `RATE` bytes per second over all parts at once, e.g. 20MiB/s or 500KB/s (default from config, else no limit)")
}

// bwlimitSetting resolves --bwlimit: flag, else the configuration's
// bwlimit; nil means no limit. One limiter serves every transfer of the
// command, so the cap holds for the command as a whole.
func (a *app) bwlimitSetting(c *cobra.Command) (*transfer.RateLimiter, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	s := a.setting(c, "bwlimit", "", cfg.BWLimit, "")
	if s == "" {
		return nil, nil
	}
	n, err := config.ParseRate(s)
	if err != nil {
		return nil, usagef("--bwlimit: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	l, err := transfer.NewRateLimiter(n)
	if err != nil {
		return nil, usagef("--bwlimit %s: %w", s, err)
	}
	return l, nil
}

// concurrencySetting resolves --concurrency: flag, else config, else the
// default.
func (a *app) concurrencySetting(c *cobra.Command, flag int) (int, error) {
	n := flag
	if !c.Flags().Changed("concurrency") {
		cfg, err := a.config()
		if err != nil {
			return 0, err
		}
		n = cfg.Concurrency
	}
	if n < 0 || n > 64 {
		return 0, usagef("--concurrency %d: use 1 to 64", n)
	}
	return n, nil
}

// fetch downloads name (see exchange.Fetch), with progress and a hint
// for an interruption.
func (a *app) fetch(ctx context.Context, x *exchange.Exchange, name string, o exchange.FetchOptions) (*transfer.Fetched, error) {
	d, err := x.Fetch(ctx, name, o, a.reporter())
	if errors.Is(err, transfer.ErrInterrupted) {
		return nil, withHint(err, "what was downloaded is kept; run the same command again to resume")
	}
	return d, err
}

func (a *app) runFetch(c *cobra.Command, o fetchOptions, name string) error {
	if err := exchange.CheckName(name); err != nil {
		return err
	}
	out := o.output
	if out == "-" && a.isTerminal(a.env.Stdout) {
		return withHint(usagef("refusing to write a sealed file to a terminal"), "redirect stdout or give -o FILE")
	}
	if out == "-" && a.json {
		return usagef("-o - and --json both need stdout: give -o FILE")
	}
	var fo exchange.FetchOptions
	var err error
	if fo.Concurrency, err = a.concurrencySetting(c, o.concurrency); err != nil {
		return err
	}
	if fo.Limit, err = a.bwlimitSetting(c); err != nil {
		return err
	}
	x, err := a.openExchangeSpool(c, &o.exchangeFlags)
	if err != nil {
		return err
	}
	if name, err = x.Resolve(c.Context(), name); err != nil {
		return err
	}
	if out == "" {
		// The object's name, as a file name that stays in this directory
		// and means a file on every system (no device, no stream).
		out = safefile.PortableName(path.Base(name), "unnamed")
	}
	if out != "-" {
		// Refuse before downloading anything for an output that could not
		// be kept.
		if _, err := os.Lstat(out); err == nil {
			return fmt.Errorf("%w: %s", safefile.ErrExists, out)
		}
	}
	return a.audited(c.Context(), audit.ActionFetch, x, name, func(ev *audit.Event) error {
		return a.fetchTo(c.Context(), x, name, out, fo, ev)
	})
}

// fetchTo downloads name and writes it, verified, to out (- for stdout).
func (a *app) fetchTo(ctx context.Context, x *exchange.Exchange, name, out string, o exchange.FetchOptions, ev *audit.Event) error {
	d, err := a.fetch(ctx, x, name, o)
	if err != nil {
		return err
	}
	// Until the copy below is committed the verified spool stays, so a
	// failure here costs no download.
	defer d.Release()
	src := io.NewSectionReader(d, 0, d.Size())
	if out == "-" {
		if _, err := io.Copy(a.env.Stdout, src); err != nil {
			return err
		}
	} else {
		f, err := safefile.Create(out)
		if err != nil {
			return err
		}
		defer f.Abort()
		if _, err := io.Copy(f, src); err != nil {
			return err
		}
		if err := f.Commit(); err != nil {
			return err
		}
	}
	if err := d.Remove(); err != nil {
		a.warn("removing the download spool: %v", err)
	}
	ev.SHA256, ev.Bytes = hex.EncodeToString(d.SHA256), d.Size()
	event := map[string]any{"event": "fetched", "name": name, "key": x.Key(name), "output": out, "bytes": d.Size(),
		"resumed_bytes": d.Resumed, "etag": d.Info.ETag, "checksum": d.Info.Checksum, "verified": d.Verified}
	human := fmt.Sprintf("fetched %s into %s (%s", shown(name), out, humanBytes(d.Size()))
	if d.Verified {
		human += ", SHA-256 verified"
	}
	if d.Resumed > 0 {
		human += fmt.Sprintf(", %s resumed from an earlier run", humanBytes(d.Resumed))
	}
	if out == "-" {
		return nil // stdout carries the file
	}
	a.result(event, "%s)", human)
	return nil
}
