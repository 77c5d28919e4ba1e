package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/transfer"
)

type listOptions struct {
	exchangeFlags
	incomplete  bool
	allVersions bool
	concurrency int
	fresh       bool
}

// defaultListConcurrency is how many HEAD requests list has in flight: the
// metadata of 10,000 objects takes 10,000 small requests.
const defaultListConcurrency = 32

func (a *app) newListCommand() *cobra.Command {
	var o listOptions
	c := &cobra.Command{
		Use:   "list [--incomplete] [--all-versions]",
		Short: "Show what is in the exchange",
		Long: `List the sealed files under the prefix: name (as fetch, pull and shred take it),
size, upload time, outer cipher, expiry and sender, from the metadata send
stores with each file, and whether and when a recipient pulled it (the receipt
'xfer pull' leaves in the exchange).

The metadata and receipts take a request per file, so list remembers them
in a cache file per exchange (in xfer's cache directory, list/) and asks
again only for files whose ETag, size or upload time changed since: S3
cannot change a file's metadata without rewriting the file. --fresh asks
for everything again and rewrites the cache.

--incomplete lists unfinished multipart uploads instead, with their age: an
interrupted send that was never resumed leaves one (and is billed for it) until
'xfer shred' or a lifecycle rule removes it. --all-versions lists every version
and delete marker on a versioned bucket.

On a terminal the output is a table; otherwise one tab-separated line per row
with exact sizes and RFC 3339 times, for scripts; with --json one NDJSON event
per row, then the summary.

Environment: XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, AWS_REGION, AWS_* credentials, XFER_CONFIG.`,
		Example: `  xfer list
  xfer list --fresh
  xfer list --incomplete
  xfer list --json | jq -r 'select(.event=="object") | .name'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runList(c, o) },
	}
	o.exchangeFlags.add(c)
	f := c.Flags()
	f.BoolVar(&o.incomplete, "incomplete", false, "list unfinished multipart uploads with their age")
	f.BoolVar(&o.allVersions, "all-versions", false, "list every version and delete marker")
	f.BoolVar(&o.fresh, "fresh", false, "ask the server for every file's metadata, not the list cache")
	f.IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("metadata requests at once (default %d)", defaultListConcurrency))
	return c
}

func (a *app) runList(c *cobra.Command, o listOptions) error {
	if o.incomplete && o.allVersions {
		return usagef("--incomplete and --all-versions list different things: give one")
	}
	if o.fresh && (o.incomplete || o.allVersions) {
		return usagef("--fresh is for the list of files: their uploads and versions are never cached")
	}
	if o.concurrency < 0 || o.concurrency > 256 {
		return usagef("--concurrency %d: use 1 to 256", o.concurrency)
	}
	if o.concurrency == 0 {
		o.concurrency = defaultListConcurrency
	}
	x, err := a.openExchange(c, &o.exchangeFlags)
	if err != nil {
		return err
	}
	ctx := c.Context()
	switch {
	case o.incomplete:
		return a.listUploads(ctx, x)
	case o.allVersions:
		return a.listVersions(ctx, x)
	}
	return a.listObjects(ctx, x, o.concurrency, o.fresh)
}

// isInternal reports a key that is no file of the exchange: xfer's own
// records under the prefix, or a folder placeholder some consoles create.
func (x *exchange) isInternal(key string) bool {
	return strings.HasPrefix(key, internalDir) || strings.Contains(key, "/"+internalDir) || strings.HasSuffix(key, "/")
}

// name turns an object key into the name list prints.
func (x *exchange) name(key string) string { return strings.TrimPrefix(key, x.prefix) }

// table writes rows: aligned with a header on a terminal, tab-separated
// without one otherwise; buffered (a write per row doubled the 25 ms that
// 10,000 rows take to /dev/null).
type table struct {
	a    *app
	tw   *tabwriter.Writer
	bw   *bufio.Writer
	w    io.Writer
	tty  bool
	rows int
}

func (a *app) newTable(header ...string) *table {
	t := &table{a: a, tty: a.isTerminal(a.env.Stdout)}
	t.bw = bufio.NewWriterSize(a.env.Stdout, 64<<10)
	t.w = t.bw
	if t.tty {
		t.tw = tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
		t.w = t.tw
		fmt.Fprintln(t.w, strings.Join(header, "\t"))
	}
	return t
}

// flush writes out the rows so far.
func (t *table) flush() {
	if t.tw != nil {
		t.tw.Flush()
	}
	t.bw.Flush()
}

// row writes one row: human fields on a terminal, plain ones otherwise,
// the event with --json. Nothing with --quiet.
func (t *table) row(event map[string]any, human, plain []string) {
	t.rows++
	switch {
	case t.a.json:
		t.a.emit(event)
	case t.a.quiet:
	case t.tty:
		fmt.Fprintln(t.w, strings.Join(human, "\t"))
	default:
		fmt.Fprintln(t.w, strings.Join(plain, "\t"))
	}
}

// end flushes the table and, on a terminal, prints footer.
func (t *table) end(footer string) {
	t.flush()
	if t.tty && !t.a.json && !t.a.quiet && footer != "" {
		fmt.Fprintln(t.a.env.Stdout, footer)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t time.Time, layout string) string {
	if t.IsZero() {
		return "-"
	}
	if layout == time.RFC3339 {
		return t.UTC().Format(layout)
	}
	return t.Local().Format(layout)
}

// listedObject is one row of list.
type listedObject struct {
	info    transfer.ObjectInfo
	rkey    string // where its receipt would be
	gone    bool   // deleted between the listing and its HEAD
	receipt *receipt
}

func (a *app) listObjects(ctx context.Context, x *exchange, concurrency int, fresh bool) error {
	objs, err := a.collectObjects(ctx, x, concurrency, true, fresh)
	if err != nil {
		return err
	}
	return a.printObjects(x, objs)
}

// collectObjects lists the objects under the exchange's prefix and HEADs
// each for its metadata, concurrency at a time; with receipts it reads
// the receipt of each object that has one. What the list cache holds of
// an unchanged object is not asked again, unless fresh.
func (a *app) collectObjects(ctx context.Context, x *exchange, concurrency int, withReceipts, fresh bool) ([]*listedObject, error) {
	// The cache loads while the listing waits on the server.
	loaded := make(chan *listCache, 1)
	go func() { loaded <- a.openListCache(x, fresh) }()
	var objs []*listedObject
	receipts := map[string]transfer.ObjectInfo{} // the receipts under the prefix, as listed
	if err := x.store.List(ctx, x.prefix, func(o transfer.ObjectInfo) error {
		switch {
		case !x.isInternal(o.Key):
			objs = append(objs, &listedObject{info: o, rkey: receiptKey(o.Key)})
		case isReceiptKey(o.Key):
			receipts[o.Key] = o
		}
		return nil
	}); err != nil {
		return nil, err
	}
	cache := <-loaded
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, lo := range objs {
		listed := lo.info
		if info, ok := cache.head(listed); ok {
			lo.info = info
			continue
		}
		g.Go(func() error {
			info, err := x.store.Head(gctx, listed.Key)
			if errors.Is(err, transfer.ErrNotFound) {
				lo.gone = true
				return nil
			}
			if err != nil {
				return err
			}
			lo.info = info
			cache.putHead(listed, info)
			return nil
		})
	}
	// Receipts: what was pulled, by whom, when. Each lies beside its
	// object; only those of listed objects are read.
	for _, lo := range objs {
		rinfo, ok := receipts[lo.rkey] // not lo.info: the HEADs above may be filling it in
		if !ok {
			continue
		}
		if r, ok := cache.receipt(rinfo); ok {
			lo.receipt = r
			continue
		}
		if !withReceipts {
			continue
		}
		g.Go(func() error {
			r, err := readReceipt(gctx, x.store, rinfo.Key)
			if err != nil {
				return nil // a receipt is a courtesy: an unreadable one is no reason to fail
			}
			lo.receipt = r
			cache.putReceipt(rinfo, r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := cache.save(x.prefix); err != nil {
		a.warn("list cache not saved (the next list asks the server again): %v", err)
	}
	return objs, nil
}

// printObjects writes list's table.
func (a *app) printObjects(x *exchange, objs []*listedObject) error {

	now := time.Now()
	t := a.newTable("NAME", "SIZE", "UPLOADED", "CIPHER", "EXPIRES", "SENDER", "PULLED")
	var total int64
	n := 0
	for _, lo := range objs {
		if lo.gone {
			continue
		}
		n++
		info := lo.info
		total += info.Size
		name := x.name(info.Key)
		meta := info.Metadata
		expires := lo.expires()
		expired := !expires.IsZero() && now.After(expires)
		event := map[string]any{"event": "object", "name": name, "key": info.Key, "size": info.Size, "uploaded": info.LastModified,
			"etag": info.ETag, "cipher": meta["xfer-cipher"], "sender": meta["xfer-sender"], "expired": expired}
		if c := meta["xfer-created"]; c != "" {
			event["created"] = c
		}
		if !expires.IsZero() {
			event["expires"] = expires
		}
		humanExp := timeOrDash(expires, "2006-01-02")
		if expired {
			humanExp += " (expired)"
		}
		pulledH, pulledAt, pulledBy := "-", "-", "-"
		if r := lo.receipt; r != nil {
			event["pulled_at"], event["pulled_by"] = r.DownloadedAt, r.By
			event["pulled_this_version"] = r.ETag == info.ETag
			pulledH = r.DownloadedAt.Local().Format(timeLayout) + " by " + r.By
			if r.ETag != info.ETag {
				// The receipt is of a version this upload replaced.
				pulledH = "an earlier version, " + pulledH
			} else {
				pulledAt, pulledBy = r.DownloadedAt.UTC().Format(time.RFC3339), r.By
			}
		}
		t.row(event,
			[]string{name, humanBytes(info.Size), timeOrDash(info.LastModified, timeLayout), orDash(meta["xfer-cipher"]), humanExp, orDash(meta["xfer-sender"]), pulledH},
			[]string{name, fmt.Sprint(info.Size), timeOrDash(info.LastModified, time.RFC3339), orDash(meta["xfer-cipher"]),
				timeOrDash(expires, time.RFC3339), orDash(meta["xfer-sender"]), pulledAt, pulledBy})
	}
	t.end(fmt.Sprintf("%s, %s", plural(n, "file", "files"), humanBytes(total)))
	if n == 0 && !a.json && !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: nothing under %s\n", x.where())
	}
	return nil
}

// where names the bucket and prefix for messages.
func (x *exchange) where() string {
	return x.store.Bucket() + "/" + x.prefix
}

func (a *app) listUploads(ctx context.Context, x *exchange) error {
	seen := map[string]bool{}
	var ups []transfer.UploadInfo
	collect := func(u transfer.UploadInfo) error {
		if strings.HasPrefix(u.Key, x.prefix) && !seen[u.UploadID] {
			seen[u.UploadID] = true
			ups = append(ups, u)
		}
		return nil
	}
	if err := x.store.ListUploads(ctx, x.prefix, collect); err != nil {
		return err
	}
	// MinIO matches the prefix of this request only as a whole key, but
	// lists every upload of the bucket for an empty one: ask that too and
	// keep what is under the prefix.
	partial := false
	if x.prefix != "" {
		if err := x.store.ListUploads(ctx, "", collect); err != nil {
			if !errors.Is(err, transfer.ErrAccessDenied) {
				return err
			}
			partial = true
		}
	}
	slices.SortFunc(ups, func(a, b transfer.UploadInfo) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.Initiated.Compare(b.Initiated)
	})
	now := time.Now()
	t := a.newTable("NAME", "STARTED", "AGE", "UPLOAD ID")
	for _, u := range ups {
		age := now.Sub(u.Initiated)
		t.row(map[string]any{"event": "upload", "name": x.name(u.Key), "key": u.Key, "upload_id": u.UploadID, "initiated": u.Initiated, "age_seconds": int64(age.Seconds())},
			[]string{x.name(u.Key), u.Initiated.Local().Format(timeLayout), humanAge(age), u.UploadID},
			[]string{x.name(u.Key), u.Initiated.UTC().Format(time.RFC3339), fmt.Sprint(int64(age.Seconds())), u.UploadID})
	}
	t.end(plural(len(ups), "unfinished upload", "unfinished uploads"))
	if partial {
		a.warn("these credentials may not list the bucket's uploads, and some servers (MinIO) match the prefix only as a whole name: uploads of names not yet in the exchange may be missing; 'xfer shred NAME' finds those of a given name everywhere")
	}
	if len(ups) == 0 && !a.json && !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: no unfinished uploads under %s\n", x.where())
	}
	return nil
}

// humanAge formats a duration as people read ages: "3d 4h", "25m".
func humanAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

func (a *app) listVersions(ctx context.Context, x *exchange) error {
	t := a.newTable("NAME", "VERSION", "STATE", "SIZE", "MODIFIED")
	n := 0
	err := x.store.ListVersions(ctx, x.prefix, func(v transfer.Version) error {
		if x.isInternal(v.Key) {
			return nil
		}
		n++
		state := "old"
		switch {
		case v.DeleteMarker && v.IsLatest:
			state = "delete marker (latest)"
		case v.DeleteMarker:
			state = "delete marker"
		case v.IsLatest:
			state = "latest"
		}
		size, plainSize := humanBytes(v.Size), fmt.Sprint(v.Size)
		if v.DeleteMarker {
			size, plainSize = "-", "-"
		}
		ev := map[string]any{"event": "version", "name": x.name(v.Key), "key": v.Key, "version_id": v.VersionID, "latest": v.IsLatest,
			"delete_marker": v.DeleteMarker, "modified": v.LastModified}
		if !v.DeleteMarker {
			ev["size"], ev["etag"] = v.Size, v.ETag
		}
		t.row(ev,
			[]string{x.name(v.Key), versionLabel(v.VersionID), state, size, timeOrDash(v.LastModified, timeLayout)},
			[]string{x.name(v.Key), orDash(v.VersionID), strings.ReplaceAll(state, " ", "-"), plainSize, timeOrDash(v.LastModified, time.RFC3339)})
		return nil
	})
	if err != nil {
		t.flush()
		return err
	}
	t.end(plural(n, "version or marker", "versions and markers"))
	if n == 0 && !a.json && !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: nothing under %s\n", x.where())
	}
	return nil
}

// receipt is what pull leaves in the exchange for the sender to see: which
// object (by name and ETag) was downloaded, when and by whom. Never
// anything from inside the file.
type receipt struct {
	Name         string    `json:"name"`
	ETag         string    `json:"etag"`
	Size         int64     `json:"size"`
	DownloadedAt time.Time `json:"downloaded_at"`
	By           string    `json:"by"`
	Tool         string    `json:"tool"`
}

// receiptKey is where the receipt of the object at key lives: beside it,
// so that the sender, listing its own prefix, finds the receipts of its
// files whatever prefix the receiver pulled them under.
func receiptKey(key string) string {
	dir, base := path.Split(key)
	return dir + internalDir + receiptsDir + base + ".json"
}

// receiptsDir is the folder of receipts inside internalDir.
const receiptsDir = "receipts/"

// isReceiptKey reports a key where receiptKey puts receipts.
func isReceiptKey(key string) bool {
	dir, base := path.Split(key)
	return strings.HasSuffix(dir, internalDir+receiptsDir) && strings.HasSuffix(base, ".json") &&
		(dir == internalDir+receiptsDir || strings.HasSuffix(dir, "/"+internalDir+receiptsDir))
}

// maxReceipt bounds what is read of a receipt: they are small.
const maxReceipt = 64 << 10

func readReceipt(ctx context.Context, s transfer.Store, key string) (*receipt, error) {
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var r receipt
	if err := json.NewDecoder(io.LimitReader(rc, maxReceipt)).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}
