package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/screen"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
)

// formatVersion is the version of the sealed-file layout recorded in object
// metadata.
const formatVersion = "1"

type sendOptions struct {
	keyFlags
	exchangeFlags
	screenFlags
	as          string
	partSize    string
	concurrency int
	expires     string
	overwrite   bool
	restart     bool
	level       int
}

func (a *app) newSendCommand() *cobra.Command {
	var o sendOptions
	c := &cobra.Command{
		Use:   "send FILE… [--as NAME]",
		Short: "Seal files and upload them to the exchange",
		Long: `Check each CSV, seal it (as encrypt does) and upload it to the exchange bucket
as <prefix><name>.zip.age (or .zip.aes). Only ciphertext is written to disk: a
spool in the cache directory, with a journal of the upload beside it.

Sealing runs ahead of the upload at full speed. If the upload is interrupted (a
dropped connection, Ctrl-C, kill -9, a reboot), running the same command again
carries on: parts already on the server are not sent again. Once the upload is
complete, spool and journal are removed and nothing unfinished is left in the
bucket. An existing object is never replaced unless --overwrite.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials,
XFER_ZIP_PASSWORD, XFER_PASSPHRASE, XFER_CIPHER, XFER_KEY_FILE, XFER_CONFIG.`,
		Example: `  xfer send addresses.csv --bucket exchange --prefix clients/acme/ -R mailhouse.pub
  xfer send --json -q weekly.csv --as "weekly-$(date +%F).csv"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runSend(c, o, args) },
	}
	o.addSealFlags(c)
	o.exchangeFlags.add(c)
	o.screenFlags.add(c)
	f := c.Flags()
	f.StringVar(&o.as, "as", "", "name in the exchange instead of the file's name (one file only)")
	f.StringVar(&o.partSize, "part-size", "", "multipart part size, e.g. 16MiB (default: chosen from the file size)")
	f.IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("parts uploaded at once (default %d)", transfer.DefaultConcurrency))
	f.StringVar(&o.expires, "expires", "", "expiry recorded with the file, shown by list; xfer sweep shreds the file after it, e.g. 30d (default from config, else 30d)")
	f.BoolVar(&o.overwrite, "overwrite", false, "replace an existing object of the same name")
	f.BoolVar(&o.restart, "restart", false, "seal again and start a new upload instead of resuming an interrupted one")
	f.IntVar(&o.level, "level", 0, "compression level 1 (fastest) to 9 (smallest); default from config or 5")
	return c
}

// sendPlan is what every file of one send shares.
type sendPlan struct {
	x           *exchange
	outer       crypt.EncryptOptions
	zipPassword []byte
	spoolDir    string
	level       int
	partSize    int64
	concurrency int
	expires     time.Duration
	overwrite   bool
	restart     bool
	sender      string
	screen      screen.Rules
	screenTag   string // changes with the rules and list files: part of the spool fingerprint
}

func (a *app) runSend(c *cobra.Command, o sendOptions, files []string) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if o.as != "" && len(files) > 1 {
		return usagef("--as names one file; %d were given", len(files))
	}
	p := sendPlan{overwrite: o.overwrite, restart: o.restart, level: o.level, concurrency: o.concurrency, sender: a.sender()}
	if !c.Flags().Changed("level") {
		p.level = cfg.CompressionLevel
	}
	if p.level < 0 || p.level > 9 {
		return usagef("--level %d: use 1 to 9", p.level)
	}
	if !c.Flags().Changed("concurrency") {
		p.concurrency = cfg.Concurrency
	}
	if p.concurrency < 0 || p.concurrency > 64 {
		return usagef("--concurrency %d: use 1 to 64", p.concurrency)
	}
	if s := a.setting(c, "part-size", "", cfg.PartSize, ""); s != "" {
		if p.partSize, err = config.ParseSize(s); err != nil {
			return usagef("--part-size: %w", err)
		}
		if p.partSize < transfer.MinPartSize || p.partSize > transfer.MaxPartSize {
			return usagef("--part-size %s: use 5MiB to 5GiB", s)
		}
	}
	if p.expires, err = config.ParseDuration(a.setting(c, "expires", "", cfg.Expires, "30d")); err != nil {
		return usagef("--expires: %w", err)
	}
	if p.screen, p.screenTag, err = a.screenRules(cfg, o.screenFlags); err != nil {
		return err
	}
	if p.x, err = a.openExchange(c, &o.exchangeFlags); err != nil {
		return err
	}
	if p.outer, err = a.encryptOptions(c, &o.keyFlags, cfg); err != nil {
		return err
	}
	if p.zipPassword, err = a.zipPassword(c, cfg, true); err != nil {
		return err
	}
	if p.spoolDir, err = a.spoolDir(); err != nil {
		return err
	}
	var worst error
	for _, file := range files {
		name := o.as
		if name == "" {
			name = filepath.Base(file)
		}
		err := a.audited(c.Context(), audit.ActionSend, p.x, name+sealedSuffix(p.outer.Cipher), func(ev *audit.Event) error {
			return a.sendOne(c.Context(), p, file, name, ev)
		})
		if err == nil {
			continue
		}
		if len(files) == 1 {
			return err
		}
		// Report each failure now and go on with the other files; the
		// exit code is the worst of them.
		worst = a.reportFailure(c.Context(), "file", file, err, worst)
	}
	if worst != nil {
		return reported{worst}
	}
	return nil
}

// reported is an error already printed; Run prints only its summary.
type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

// fingerprint identifies what a spool was sealed from: when any of it
// changes, the spool and its upload are stale. It holds no secret.
func fingerprint(path string, fi os.FileInfo, name string, p sendPlan) string {
	abs, _ := filepath.Abs(path)
	var recips []string
	for _, r := range p.outer.Recipients {
		recips = append(recips, fmt.Sprint(r))
	}
	parts := []string{abs, strconv.FormatInt(fi.Size(), 10), strconv.FormatInt(fi.ModTime().UnixNano(), 10),
		name, string(p.outer.Cipher), strings.Join(recips, ","), strconv.Itoa(p.level), strconv.FormatBool(p.outer.AESKey != nil), p.screenTag}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

// sourceTag is the xfer-source metadata of an object: it tells a re-run
// that the object was sealed from the same file (path, size, time, keys)
// without saying anything about the file's content.
func sourceTag(fp, key string) string {
	h := sha256.Sum256([]byte("xfer-source\x00" + fp + "\x00" + key))
	return hex.EncodeToString(h[:16])
}

func (a *app) sendOne(ctx context.Context, p sendPlan, file, name string, ev *audit.Event) error {
	in, err := os.Open(file)
	if err != nil {
		return usagef("%w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return usagef("%s is a directory", file)
	}
	if strings.ContainsAny(name, "/\\") || name == "" || name == "." || name == ".." {
		return usagef("bad name %q: a plain file name, without slashes", name)
	}
	objName := name + sealedSuffix(p.outer.Cipher)
	key := p.x.key(objName)
	spoolPath := p.x.spoolPath(p.spoolDir, key)
	fp := fingerprint(file, fi, name, p)

	// CreateSpool marks the upload of an earlier spool stale, and Upload
	// aborts it: --restart never leaves an orphaned upload behind.
	sp, err := transfer.OpenSpool(spoolPath, fp)
	if err == nil && p.restart {
		sp.Release()
		err = transfer.ErrNoSpool
	}
	resumed := err == nil
	if errors.Is(err, transfer.ErrNoSpool) {
		sp, err = transfer.CreateSpool(spoolPath, fp)
	}
	if errors.Is(err, transfer.ErrSpoolBusy) {
		return withHint(err, "another xfer is sending %s right now; let it finish", file)
	}
	if err != nil {
		return err
	}
	defer sp.Release()

	now := time.Now().UTC()
	meta := map[string]string{
		"xfer-format":  formatVersion,
		"xfer-cipher":  string(p.outer.Cipher),
		"xfer-sender":  p.sender,
		"xfer-created": now.Format(time.RFC3339),
		"xfer-expires": now.Add(p.expires).Format(time.RFC3339),
		"xfer-source":  sourceTag(fp, key),
	}

	var (
		sealRes *seal.Result
		sealErr error
		sealing sync.WaitGroup
	)
	m := a.startMeter("sending "+name, -1, 0)
	defer m.Finish()
	if !resumed {
		sealing.Add(1)
		go func() {
			defer sealing.Done()
			sealRes, sealErr = seal.Seal(ctx, sp, in, seal.Options{
				ZipPassword: p.zipPassword,
				Level:       p.level,
				Outer:       p.outer,
				Name:        name,
				Modified:    fi.ModTime(),
				Manifest:    seal.ManifestInfo{Sender: p.sender, Created: now, Expires: now.Add(p.expires)},
				Screen:      p.screen,
			})
			if sealErr != nil {
				sp.CloseWithError(sealErr)
				return
			}
			sealErr = sp.Close()
		}()
	}
	res, err := transfer.Upload(ctx, p.x.store, sp, transfer.UploadOptions{
		Key:         key,
		Metadata:    meta,
		ContentType: "application/octet-stream",
		Overwrite:   p.overwrite,
		PartSize:    p.partSize,
		SizeHint:    fi.Size(),
		Concurrency: p.concurrency,
		Progress:    m,
	})
	sealing.Wait()
	m.Finish()
	if sealErr != nil && (err == nil || !errors.Is(sealErr, err)) {
		if ctx.Err() == nil {
			// The file failed its checks and Upload aborted the upload:
			// nothing of it may stay behind.
			sp.Release()
			transfer.RemoveSpool(spoolPath)
		}
		// Interrupted while sealing: the journal stays, so the next run
		// aborts the upload this one started.
		return sealErr
	}
	if err != nil {
		if errors.Is(err, transfer.ErrPreconditionFailed) {
			sp.Release()
			transfer.RemoveSpool(spoolPath)
			if info, herr := p.x.store.Head(ctx, key); herr == nil && info.Metadata["xfer-source"] == sourceTag(fp, key) {
				// A run killed between completing the upload and saying
				// so: the object there was sealed from this very file.
				ev.Bytes, ev.Details = info.Size, map[string]int64{"already_sent": 1}
				a.result(map[string]any{"event": "sent", "file": file, "name": objName, "key": key, "bucket": p.x.store.Bucket(),
					"bytes": info.Size, "already": true, "etag": info.ETag},
					"%s is already in the exchange as %s, sent from this same file by an earlier run (%s)", file, objName, humanBytes(info.Size))
				return nil
			}
			return withHint(err, "%s is already in the exchange: send under another name (--as) or replace it (--overwrite)", objName)
		}
		if errors.Is(err, transfer.ErrInterrupted) {
			return withHint(err, "the upload state is kept; run the same command again to resume")
		}
		return err
	}
	event := map[string]any{
		"event": "sent", "file": file, "name": objName, "key": key, "bucket": p.x.store.Bucket(),
		"bytes": res.Size, "parts": res.Parts, "resumed_bytes": res.Resumed, "cipher": string(p.outer.Cipher),
	}
	human := fmt.Sprintf("sent %s as %s (%s", file, objName, humanBytes(res.Size))
	ev.Bytes = res.Size
	if sealRes != nil {
		ev.Rows, ev.SHA256 = sealRes.Rows, hex.EncodeToString(sealRes.SHA256)
		if sc := sealRes.Screen; sc != nil {
			ev.Details = map[string]int64{"rows_in": sc.RowsIn, "suppressed_rows": sc.SuppressedRows, "dropped_columns": int64(len(sc.Dropped))}
			for list, n := range sc.Suppressed {
				ev.Details["suppressed:"+list] = n
			}
		}
		event["rows"], event["sha256"] = sealRes.Rows, hex.EncodeToString(sealRes.SHA256)
		human += fmt.Sprintf(", %d rows", sealRes.Rows)
		human += a.reportScreen(file, sealRes.Screen, event)
	}
	if res.Resumed > 0 {
		human += fmt.Sprintf(", %s resumed from an earlier run", humanBytes(res.Resumed))
	}
	a.result(event, "%s)", human)
	return nil
}
