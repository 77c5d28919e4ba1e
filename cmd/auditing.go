package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/exchange"
)

// audited runs one object's work and appends what happened to the audit
// log, failures included; fn fills in what it learns (hash, rows, bytes,
// counts). The log is a record, not a gate: when it cannot be written,
// xfer warns and the work's outcome stands.
func (a *app) audited(ctx context.Context, action string, x *exchange.Exchange, key string, fn func(*audit.Event) error) error {
	ev := audit.Event{Action: action, Key: key}
	err := fn(&ev)
	if err != nil {
		ev.ExitCode, ev.Error = exitCode(ctx, err), err.Error()
	}
	a.recordAudit(ctx, x, ev)
	return err
}

// recordAudit appends ev to the audit log (and, with audit_mirror, to the
// exchange), even when ctx was cancelled by a signal: the interruption is
// worth recording.
func (a *app) recordAudit(ctx context.Context, x *exchange.Exchange, ev audit.Event) {
	a.recordAudits(ctx, x, []audit.Event{ev})
}

// recordAudits appends evs as recordAudit appends one, with one write to
// the log: for commands that record an event for each of many objects.
func (a *app) recordAudits(ctx context.Context, x *exchange.Exchange, evs []audit.Event) {
	if len(evs) == 0 {
		return
	}
	if x != nil {
		for i := range evs {
			evs[i].Exchange = x.AuditName()
		}
	}
	if a.cmd == nil {
		return // not run from the command line
	}
	path, err := a.auditLogPath(a.cmd)
	if err != nil {
		a.warn("not recorded in the audit log: %v", err)
		return
	}
	l := &audit.Log{Path: path}
	if cfg, err := a.config(); err == nil && cfg.AuditMirror && x != nil {
		l.Mirror = x
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	what := evs[0].Action + " " + evs[0].Key
	if len(evs) > 1 {
		what = fmt.Sprintf("%s of %d objects", evs[0].Action, len(evs))
	}
	a.auditMu.Lock()
	err = l.AppendAll(ctx, evs)
	a.auditMu.Unlock()
	if err != nil {
		if errors.Is(err, audit.ErrMirror) {
			a.warn("%s: recorded in %s, but not in the exchange: %v", what, path, err)
			return
		}
		a.warn("%s: not recorded in the audit log %s: %v", what, path, err)
	}
}
