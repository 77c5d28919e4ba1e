package cmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/safefile"
)

const auditLogHelp = `The log is --log FILE, else XFER_AUDIT_LOG, else audit_log in the
configuration, else $XDG_STATE_HOME/xfer/audit.jsonl (without XDG_STATE_HOME,
~/.local/state/xfer/audit.jsonl; on Windows %LocalAppData%\xfer\audit.jsonl).
Beside it are FILE.head (the anchor that shows a cut) and FILE.lock.`

type auditExportOptions struct {
	since  string
	output string
}

func (a *app) newAuditCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Verify or export the local audit trail",
		Long: `Verify or export xfer's local audit trail: a hash-chained log with one line per
send, fetch, pull, shred and sweep (time, user, host, action, object name,
ciphertext SHA-256, rows, bytes, outcome; never CSV content or secrets).

` + auditLogHelp + `

Environment: XFER_AUDIT_LOG, XDG_STATE_HOME, XFER_CONFIG.`,
		Example: `  xfer audit verify
  xfer audit export --since 2026-11-01 -o audit-november.csv`,
		Args: cobra.NoArgs,
		// Runnable, so that a mistyped subcommand is a usage error rather
		// than help and exit 0.
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.PersistentFlags().String("log", "", "the audit log `FILE` (env XFER_AUDIT_LOG)")
	c.AddCommand(a.newAuditVerifyCommand(), a.newAuditExportCommand())
	return c
}

func (a *app) newAuditVerifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify [--log FILE]",
		Short: "Check that no line of the audit log was edited, removed, inserted or reordered",
		Long: `Check the audit log: every line's own hash, its sequence number, the hash it
holds of the line before, and the head file's record of the last line. Prints
"audit log OK: N events" and exits 0, or names the first line that cannot be
trusted and exits 4 (integrity). A log cut at the end names the line after its
last one.

A log rewritten entirely, its head included, cannot be caught locally: compare
with the copy in the bucket.

` + auditLogHelp,
		Example: `  xfer audit verify
  xfer audit verify --log /var/lib/xfer/audit.jsonl --json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runAuditVerify(c) },
	}
}

func (a *app) newAuditExportCommand() *cobra.Command {
	var o auditExportOptions
	c := &cobra.Command{
		Use:   "export --since DATE [--log FILE] [-o FILE]",
		Short: "Write the audit trail since a date as CSV, for a controller's records",
		Long: `Verify the audit log and write its events from DATE on as CSV: a header row,
one row per event, and a last row (action "verify") that records whether the
chain verified. DATE is YYYY-MM-DD (from midnight UTC) or an RFC 3339 time.

With -o the CSV is written to a temporary file (mode 0600) and renamed when
complete; an existing file is never replaced. Without -o (or with -o -) it
goes to stdout.

When the log does not verify, the CSV is written all the same, its
"verified" column "no" from the first bad line on, and xfer exits 4.
Cells a spreadsheet would take for a formula are prefixed with a quote.

` + auditLogHelp,
		Example: `  xfer audit export --since 2026-11-01 -o audit-november.csv
  xfer audit export --since 2026-11-30T09:00:00Z > recent.csv`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runAuditExport(c, o) },
	}
	c.Flags().StringVar(&o.since, "since", "", "export events from `DATE` on: YYYY-MM-DD or RFC 3339 (required)")
	c.Flags().StringVarP(&o.output, "output", "o", "", "write the CSV to `FILE` (default stdout)")
	return c
}

// auditLogPath resolves the audit log: --log (where the command has it),
// XFER_AUDIT_LOG, audit_log in the configuration, the default.
func (a *app) auditLogPath(c *cobra.Command) (string, error) {
	cfg, err := a.config()
	if err != nil {
		return "", err
	}
	path := a.setting(c, "log", "XFER_AUDIT_LOG", cfg.AuditLog, "")
	if path == "" {
		path = audit.DefaultPath()
	}
	if path == "" {
		return "", usagef("no home directory for the audit log: set audit_log in the configuration or XFER_AUDIT_LOG")
	}
	return path, nil
}

func noAuditLog(err error, path string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return withHint(fmt.Errorf("no audit log at %s", path),
			"nothing was recorded there yet; name the log with --log, XFER_AUDIT_LOG or audit_log")
	}
	return err
}

func (a *app) runAuditVerify(c *cobra.Command) error {
	path, err := a.auditLogPath(c)
	if err != nil {
		return err
	}
	res, err := audit.Verify(c.Context(), path)
	var brk *audit.BreakError
	if errors.As(err, &brk) {
		if a.json {
			a.emit(map[string]any{"event": "audit_broken", "log": path, "events": res.Events, "line": brk.Line, "reason": brk.Reason})
		}
		return err
	}
	if err != nil {
		return noAuditLog(err, path)
	}
	a.result(map[string]any{"event": "audit_verified", "log": path, "events": res.Events, "head_lagging": res.HeadLagging},
		"audit log OK: %d events", res.Events)
	if res.HeadLagging {
		a.warn("the last event is not yet anchored in %s.head (a run was stopped while recording it); the next event anchors it", path)
	}
	return nil
}

func (a *app) runAuditExport(c *cobra.Command, o auditExportOptions) error {
	if o.since == "" {
		return usagef("give --since DATE (YYYY-MM-DD or RFC 3339)")
	}
	since, err := parseSince(o.since)
	if err != nil {
		return err
	}
	path, err := a.auditLogPath(c)
	if err != nil {
		return err
	}
	toStdout := o.output == "" || o.output == "-"
	if toStdout && a.json {
		return usagef("--json prints events on stdout: give the CSV a file with -o")
	}
	var w io.Writer = exchange.ContextWriter{Ctx: c.Context(), W: a.env.Stdout}
	var f *safefile.File
	if !toStdout {
		if f, err = safefile.Create(o.output); err != nil {
			return err
		}
		defer f.Abort()
		w = f
	}
	res, err := audit.Export(c.Context(), path, w, since)
	var brk *audit.BreakError
	if err != nil && !errors.As(err, &brk) {
		return noAuditLog(err, path)
	}
	if f != nil {
		if cerr := f.Commit(); cerr != nil {
			return cerr
		}
	}
	dest := "-"
	if !toStdout {
		dest = o.output
	}
	event := map[string]any{"event": "audit_exported", "log": path, "file": dest, "since": since.Format(time.RFC3339),
		"exported": res.Exported, "events": res.Events, "verified": brk == nil}
	status := "audit log verified"
	if brk != nil {
		event["line"], event["reason"] = brk.Line, brk.Reason
		status = fmt.Sprintf("audit log BROKEN at line %d; rows from there on are marked unverified", brk.Line)
	}
	switch {
	case a.json:
		a.emit(event)
	case a.quiet:
	case toStdout: // the CSV has stdout
		fmt.Fprintf(a.env.Stderr, "xfer: exported %d events since %s; %s\n", res.Exported, o.since, status)
	default:
		fmt.Fprintf(a.env.Stdout, "exported %d events since %s to %s; %s\n", res.Exported, o.since, dest, status)
	}
	return err
}

// parseSince reads YYYY-MM-DD (midnight UTC) or an RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("bad --since %q: use YYYY-MM-DD or an RFC 3339 time such as 2026-11-30T09:00:00Z", s)
}
