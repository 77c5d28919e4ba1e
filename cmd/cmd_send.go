package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/secret"
	"github.com/xfer-dev/xfer/transfer"
)

type sendOptions struct {
	keyFlags
	exchangeFlags
	screenFlags
	dialectFlags
	as          string
	partSize    string
	concurrency int
	expires     string
	overwrite   bool
	restart     bool
	level       int
	dryRun      bool
}

func (a *app) newSendCommand() *cobra.Command {
	var o sendOptions
	c := &cobra.Command{
		Use:   "send FILE…|- [--as NAME]",
		Short: "Seal files and upload them to the exchange",
		Long: `Check each CSV, seal it (as encrypt does) and upload it to the exchange bucket
as <prefix><name>.zip.age (or .zip.aes). Only ciphertext is written to disk: a
spool in the cache directory, with a journal of the upload beside it.

Sealing runs ahead of the upload at full speed. If the upload is interrupted (a
dropped connection, Ctrl-C, kill -9, a reboot), running the same command again
carries on: parts already on the server are not sent again. Once the upload is
complete, spool and journal are removed and nothing unfinished is left in the
bucket. An existing object is never replaced unless --overwrite.

The CSV may come from Excel or another program: UTF-8 (with or without a
byte-order mark), UTF-16 with a byte-order mark, or --encoding windows-1252 and
the like; delimiter , ; TAB or |, found from the header (or Excel's sep= line,
or --delimiter). It is sealed as UTF-8, comma-separated, CRLF (docs/excel.md).

Several files are sealed and uploaded --jobs at once (or jobs in the
configuration; default 4), sharing the cores; the output comes whole and in
the order of the files, as --jobs 1 writes it. A file that fails stops none
of the others, and the exit code of the run is the worst of its files.

FILE - reads standard input, streaming, with --as NAME. There is no file to
recognise again, so an interrupted send from standard input does not resume:
running it again seals the input afresh and starts a new upload (the old one
is aborted), and a name already in the exchange is refused unless --overwrite.

--dry-run does every check and seals each file into nothing: an input that
send would refuse fails the same way (exit code 6), and for each file it
reports the rows, what screening dropped and suppressed, the name and bucket
it would be uploaded to, whether that name is taken, and the check codes of
the recipients and the zip password (as 'xfer doctor' shows them, to compare
with the mailing house). It uploads nothing, leaves no spool and records
nothing in the audit log, as nothing was sent.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials,
XFER_ZIP_PASSWORD, XFER_PASSPHRASE, XFER_CIPHER, XFER_KEY_FILE, XFER_CONFIG.`,
		Example: `  xfer send addresses.csv --bucket exchange --prefix clients/acme/ -R mailhouse.pub
  xfer send --json -q weekly.csv --as "weekly-$(date +%F).csv"
  xfer send export.csv --encoding windows-1252 -R mailhouse.pub
  iconv -f CP1252 -t UTF-8 export.csv | xfer send - --as export.csv -R mailhouse.pub`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runSend(c, o, args) },
	}
	o.addSealFlags(c)
	o.exchangeFlags.add(c)
	o.screenFlags.add(c)
	o.dialectFlags.add(c)
	f := c.Flags()
	f.StringVar(&o.as, "as", "", "name in the exchange instead of the file's name (one file only; needed for -, standard input)")
	f.StringVar(&o.partSize, "part-size", "", "multipart part size, e.g. 16MiB (default: chosen from the file size)")
	f.IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("parts uploaded at once (default %d)", transfer.DefaultConcurrency))
	addBWLimitFlag(c, "uploads")
	addJobsFlag(c, "files sealed and uploaded")
	f.StringVar(&o.expires, "expires", "", "expiry recorded with the file, shown by list; xfer sweep shreds the file after it, e.g. 30d (default from config, else 30d)")
	f.BoolVar(&o.overwrite, "overwrite", false, "replace an existing object of the same name")
	f.BoolVar(&o.restart, "restart", false, "seal again and start a new upload instead of resuming an interrupted one")
	f.IntVar(&o.level, "level", 0, "compression level 1 (fastest) to 9 (smallest); default from config or 5")
	f.BoolVar(&o.dryRun, "dry-run", false, "read, check, screen and seal each file, report what would be uploaded where, and upload and keep nothing")
	return c
}

func (a *app) runSend(c *cobra.Command, o sendOptions, files []string) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if o.as != "" && len(files) > 1 {
		return usagef("--as names one file; %d were given", len(files))
	}
	p := exchange.SendOptions{Overwrite: o.overwrite, Restart: o.restart, Level: o.level, Concurrency: o.concurrency}
	if !c.Flags().Changed("level") {
		p.Level = cfg.CompressionLevel
	}
	if p.Level < 0 || p.Level > 9 {
		return usagef("--level %d: use 1 to 9", p.Level)
	}
	if !c.Flags().Changed("concurrency") {
		p.Concurrency = cfg.Concurrency
	}
	if p.Concurrency < 0 || p.Concurrency > 64 {
		return usagef("--concurrency %d: use 1 to 64", p.Concurrency)
	}
	if p.Limit, err = a.bwlimitSetting(c); err != nil {
		return err
	}
	jobs, err := a.jobsSetting(c)
	if err != nil {
		return err
	}
	if o.dryRun {
		jobs = 1 // a dry run seals into nothing, one file after another
	}
	if jobs > 1 && len(files) > 1 {
		// Several files at once share the cores rather than each taking
		// all of them: the compression buffers (two per core and three
		// per file, see zipenc) stay near those of one file on every
		// core, not jobs times them.
		p.Workers = max(1, runtime.GOMAXPROCS(0)/min(jobs, len(files)))
	}
	if s := a.setting(c, "part-size", "", cfg.PartSize, ""); s != "" {
		if p.PartSize, err = config.ParseSize(s); err != nil {
			return usagef("--part-size: %w", err)
		}
		if p.PartSize < transfer.MinPartSize || p.PartSize > transfer.MaxPartSize {
			return usagef("--part-size %s: use 5MiB to 5GiB", s)
		}
	}
	if p.Expires, err = config.ParseDuration(a.setting(c, "expires", "", cfg.Expires, "30d")); err != nil {
		return usagef("--expires: %w", err)
	}
	if p.Screen, p.ScreenTag, err = a.screenRules(cfg, o.screenFlags); err != nil {
		return err
	}
	dialect, dialectTag, err := a.csvDialect(c, cfg, o.dialectFlags)
	if err != nil {
		return err
	}
	p.Encoding, p.Delimiter, p.AllowEmpty, p.DialectTag = dialect.Encoding, dialect.Delimiter, dialect.AllowEmpty, dialectTag
	x, err := a.openExchange(c, &o.exchangeFlags)
	if err != nil {
		return err
	}
	if p.Outer, err = a.encryptOptions(c, &o.keyFlags, cfg); err != nil {
		return err
	}
	if p.ZipPassword, err = a.zipPassword(c, cfg, true); err != nil {
		return err
	}
	if !o.dryRun {
		if x.SpoolDir, err = a.spoolDir(); err != nil {
			return err
		}
		x.StateDir = a.stateDir(x.SpoolDir)
	}
	ctx := c.Context()
	items := make([]manyItem, len(files))
	names := make([]string, len(files))
	for i, file := range files {
		names[i] = o.as
		if names[i] == "" && file != "-" {
			names[i] = filepath.Base(file)
		}
		items[i] = manyItem{name: file, key: exchange.ObjectName(names[i], p.Outer)}
	}
	one := func(a *app, i int) error {
		p := p
		p.Name = names[i]
		if o.dryRun {
			return a.planSendOne(ctx, x, p, files[i], o.keyFlags.recipientTexts)
		}
		return a.audited(ctx, audit.ActionSend, x, exchange.ObjectName(p.Name, p.Outer), func(ev *audit.Event) error {
			return a.sendOne(ctx, x, p, files[i], ev)
		})
	}
	if len(files) == 1 {
		return one(a, 0)
	}
	// Each failure is reported as it comes (in the order of the files),
	// and the others go on; the exit code is the worst of them.
	if worst := a.forEach(ctx, "file", jobs, items, "send", one); worst != nil {
		return reported{worst}
	}
	return nil
}

// reported is an error already printed; Run prints only its summary.
type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

// planSendOne reports what sending file would do (--dry-run).
func (a *app) planSendOne(ctx context.Context, x *exchange.Exchange, p exchange.SendOptions, file string, recipients []string) error {
	in, err := a.openCSV(file, p.Name, "send")
	if err != nil {
		return err
	}
	defer in.close()
	plan, err := x.PlanSend(ctx, exchange.Source{Path: file, Size: in.size, ModTime: in.modified, R: in, Stream: in.fi == nil}, p)
	if err != nil {
		return err
	}
	codes := []string{}
	switch {
	case p.Outer.AESKey != nil:
		codes = append(codes, p.Outer.AESKey.KeyID())
	case len(p.Outer.Passphrase) == 0:
		for _, r := range recipients {
			codes = append(codes, secret.RecipientCheckCode(r))
		}
	}
	res := plan.Seal
	event := map[string]any{
		"event": "would_send", "file": file, "name": plan.Name, "key": plan.Key, "bucket": x.Store.Bucket(), "exists": plan.Exists,
		"cipher": string(p.Outer.Cipher), "recipients": codes, "zip_password_check_code": secret.ZipPasswordCheckCode(p.ZipPassword),
		"rows": res.Rows, "columns": res.Columns, "input_bytes": res.InputBytes, "bytes": plan.Size,
		"sha256": hex.EncodeToString(res.SHA256), "source": res.Source,
	}
	human := fmt.Sprintf("would send %s as %s to %s (%d rows, %s sealed", file, plan.Name, x.Where(), res.Rows, humanBytes(plan.Size))
	human += a.reportScreen(file, res.Screen, event)
	human += sourceLine(&res.Source)
	human += fmt.Sprintf("; zip password check code %s", event["zip_password_check_code"])
	if len(codes) > 0 {
		what := "recipient check codes"
		if p.Outer.AESKey != nil {
			what = "AES key"
		}
		human += fmt.Sprintf("; %s %s", what, strings.Join(codes, ", "))
	}
	human += ")"
	if plan.Exists {
		human += fmt.Sprintf("; %s is already in the exchange: send would refuse it without --overwrite", plan.Name)
		if p.Overwrite {
			human = strings.TrimSuffix(human, " without --overwrite") + "; --overwrite would replace it"
		}
	}
	a.result(event, "%s; dry run, nothing uploaded", human)
	return nil
}

// sendOne sends one file and reports it.
func (a *app) sendOne(ctx context.Context, x *exchange.Exchange, p exchange.SendOptions, file string, ev *audit.Event) error {
	in, err := a.openCSV(file, p.Name, "send")
	if err != nil {
		return err
	}
	defer in.close()
	src := exchange.Source{Path: file, Size: in.size, ModTime: in.modified, R: in, Stream: in.fi == nil}
	res, err := x.Send(ctx, src, p, a.reporter())
	switch {
	case errors.Is(err, transfer.ErrSpoolBusy):
		return withHint(err, "another xfer is sending %s right now; let it finish", file)
	case errors.Is(err, transfer.ErrPreconditionFailed):
		return withHint(err, "%s is already in the exchange: send under another name (--as) or replace it (--overwrite)", exchange.ObjectName(p.Name, p.Outer))
	case errors.Is(err, transfer.ErrInterrupted):
		return withHint(err, "the upload state is kept; run the same command again to resume")
	case err != nil:
		return err
	}
	if res.Already {
		ev.Bytes, ev.Details = res.Size, map[string]int64{"already_sent": 1}
		a.result(map[string]any{"event": "sent", "file": file, "name": res.Name, "key": res.Key, "bucket": x.Store.Bucket(),
			"bytes": res.Size, "already": true, "etag": res.ETag},
			"%s is already in the exchange as %s, sent from this same file by an earlier run (%s)", file, res.Name, humanBytes(res.Size))
		return nil
	}
	event := map[string]any{
		"event": "sent", "file": file, "name": res.Name, "key": res.Key, "bucket": x.Store.Bucket(),
		"bytes": res.Size, "already": false, "parts": res.Parts, "resumed_bytes": res.Resumed, "cipher": string(p.Outer.Cipher),
	}
	shown := file
	if src.Stream {
		shown = "standard input"
	}
	human := fmt.Sprintf("sent %s as %s (%s", shown, res.Name, humanBytes(res.Size))
	ev.Bytes = res.Size
	if sealRes := res.Seal; sealRes != nil {
		ev.Rows, ev.SHA256 = sealRes.Rows, hex.EncodeToString(sealRes.SHA256)
		if sc := sealRes.Screen; sc != nil {
			ev.Details = map[string]int64{"rows_in": sc.RowsIn, "suppressed_rows": sc.SuppressedRows, "dropped_columns": int64(len(sc.Dropped))}
			for list, n := range sc.Suppressed {
				ev.Details["suppressed:"+list] = n
			}
			ev.Details["suppressed_by_variant"] = sc.SuppressedByVariant
		}
		event["rows"], event["sha256"] = sealRes.Rows, hex.EncodeToString(sealRes.SHA256)
		human += fmt.Sprintf(", %d rows", sealRes.Rows)
		human += a.reportScreen(file, sealRes.Screen, event)
		human += sourceLine(&sealRes.Source)
		event["source"] = sealRes.Source
	}
	if res.Resumed > 0 {
		human += fmt.Sprintf(", %s resumed from an earlier run", humanBytes(res.Resumed))
	}
	a.result(event, "%s)", human)
	return nil
}
