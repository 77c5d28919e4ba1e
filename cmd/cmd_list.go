package cmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/transfer"
)

type listOptions struct {
	exchangeFlags
	incomplete  bool
	allVersions bool
	concurrency int
	fresh       bool
}

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
	f.IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("metadata requests at once (default %d)", exchange.DefaultListConcurrency))
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
	if d, err := a.spoolDir(); err == nil {
		x.StateDir = a.stateDir(d) // what this side pulled: the manifests' expiries
	}
	objs, err := x.List(ctx, exchange.ListOptions{Concurrency: o.concurrency, Receipts: true, Fresh: o.fresh}, a.reporter())
	if err != nil {
		return err
	}
	return a.printObjects(x, objs)
}

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
		fmt.Fprintln(t.w, joinFields(human))
	default:
		fmt.Fprintln(t.w, joinFields(plain))
	}
}

// joinFields joins a row's fields with tabs, each escaped: a field that
// held a tab or a newline would forge a column or a row.
func joinFields(fields []string) string {
	esc := make([]string, len(fields))
	for i, f := range fields {
		esc[i] = escapeLine(f)
	}
	return strings.Join(esc, "\t")
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

// printObjects writes list's table. Of a row it builds only what is
// written (the event, the human or the plain fields): 100,000 rows are
// 100,000 of each.
func (a *app) printObjects(x *exchange.Exchange, objs []*exchange.Listed) error {
	now := time.Now()
	t := a.newTable("NAME", "SIZE", "UPLOADED", "CIPHER", "EXPIRES", "SENDER", "PULLED")
	var total int64
	n := 0
	for _, lo := range objs {
		if lo.Gone {
			continue
		}
		n++
		info := lo.Info
		total += info.Size
		name := x.Name(info.Key)
		meta := info.Metadata
		expires := lo.Expires()
		if lo.ExpiryDisagrees() {
			a.warn("%s: its metadata says it expires %s, but its manifest said %s when it was pulled; sweep goes by the manifest",
				shown(name), timeOrDash(expires, time.RFC3339), lo.ManifestExpires.UTC().Format(time.RFC3339))
		}
		switch {
		case a.json:
			t.row(objectEvent(name, lo, now), nil, nil)
		case a.quiet:
			t.row(nil, nil, nil)
		case t.tty:
			humanExp := timeOrDash(expires, "2006-01-02")
			if lo.Expired(now) {
				humanExp += " (expired)"
			}
			if lo.ExpiryDisagrees() {
				humanExp += " (manifest: " + lo.ManifestExpires.Format("2006-01-02") + ")"
			}
			pulledH := "-"
			if r := lo.Receipt; r != nil {
				pulledH = r.DownloadedAt.Local().Format(timeLayout) + " by " + shown(r.By)
				if r.ETag != info.ETag {
					// The receipt is of a version this upload replaced.
					pulledH = "an earlier version, " + pulledH
				}
			}
			t.row(nil, []string{shown(name), humanBytes(info.Size), timeOrDash(info.LastModified, timeLayout), orDash(shown(meta["xfer-cipher"])), humanExp, orDash(shown(meta["xfer-sender"])), pulledH}, nil)
		default:
			pulledAt, pulledBy := "-", "-"
			if r := lo.Receipt; r != nil && r.ETag == info.ETag {
				pulledAt, pulledBy = r.DownloadedAt.UTC().Format(time.RFC3339), shown(r.By)
			}
			t.row(nil, nil, []string{shown(name), fmt.Sprint(info.Size), timeOrDash(info.LastModified, time.RFC3339), orDash(shown(meta["xfer-cipher"])),
				timeOrDash(expires, time.RFC3339), orDash(shown(meta["xfer-sender"])), pulledAt, pulledBy})
		}
	}
	t.end(fmt.Sprintf("%s, %s", count(n, "file", "files"), humanBytes(total)))
	if n == 0 && !a.json && !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: nothing under %s\n", x.Where())
	}
	return nil
}

// objectEvent is list's NDJSON event of one file.
func objectEvent(name string, lo *exchange.Listed, now time.Time) map[string]any {
	info, meta := lo.Info, lo.Info.Metadata
	event := map[string]any{"event": "object", "name": name, "key": info.Key, "size": info.Size, "uploaded": info.LastModified,
		"etag": info.ETag, "cipher": meta["xfer-cipher"], "sender": meta["xfer-sender"], "expired": lo.Expired(now)}
	if c := meta["xfer-created"]; c != "" {
		event["created"] = c
	}
	if expires := lo.Expires(); !expires.IsZero() {
		event["expires"] = expires
	}
	if m := lo.ManifestExpires; !m.IsZero() {
		event["manifest_expires"], event["expiry_disagrees"] = m, lo.ExpiryDisagrees()
	}
	if r := lo.Receipt; r != nil {
		event["pulled_at"], event["pulled_by"] = r.DownloadedAt, r.By
		event["pulled_this_version"] = r.ETag == info.ETag
	}
	return event
}

func (a *app) listUploads(ctx context.Context, x *exchange.Exchange) error {
	ups, err := x.Uploads(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	t := a.newTable("NAME", "STARTED", "AGE", "UPLOAD ID")
	for _, u := range ups {
		age := now.Sub(u.Initiated)
		t.row(map[string]any{"event": "upload", "name": x.Name(u.Key), "key": u.Key, "upload_id": u.UploadID, "initiated": u.Initiated, "age_seconds": int64(age.Seconds())},
			[]string{shown(x.Name(u.Key)), u.Initiated.Local().Format(timeLayout), humanAge(age), shown(u.UploadID)},
			[]string{shown(x.Name(u.Key)), u.Initiated.UTC().Format(time.RFC3339), fmt.Sprint(int64(age.Seconds())), shown(u.UploadID)})
	}
	t.end(count(len(ups), "unfinished upload", "unfinished uploads"))
	if len(ups) == 0 && !a.json && !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: no unfinished uploads under %s\n", x.Where())
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

func (a *app) listVersions(ctx context.Context, x *exchange.Exchange) error {
	t := a.newTable("NAME", "VERSION", "STATE", "SIZE", "MODIFIED")
	n := 0
	err := x.Versions(ctx, func(v transfer.Version) error {
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
		ev := map[string]any{"event": "object_version", "name": x.Name(v.Key), "key": v.Key, "version_id": v.VersionID, "latest": v.IsLatest,
			"delete_marker": v.DeleteMarker, "modified": v.LastModified}
		if !v.DeleteMarker {
			ev["size"], ev["etag"] = v.Size, v.ETag
		}
		t.row(ev,
			[]string{shown(x.Name(v.Key)), shown(versionLabel(v.VersionID)), state, size, timeOrDash(v.LastModified, timeLayout)},
			[]string{shown(x.Name(v.Key)), orDash(shown(v.VersionID)), strings.ReplaceAll(state, " ", "-"), plainSize, timeOrDash(v.LastModified, time.RFC3339)})
		return nil
	})
	if err != nil {
		t.flush()
		return err
	}
	t.end(count(n, "version or marker", "versions and markers"))
	if n == 0 && !a.json && !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: nothing under %s\n", x.Where())
	}
	return nil
}
