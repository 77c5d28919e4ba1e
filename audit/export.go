package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ExportHeader is the first row Export writes.
var ExportHeader = []string{"seq", "time", "user", "host", "action", "exchange", "key", "sha256",
	"rows", "bytes", "outcome", "exit_code", "error", "details", "line_sha256", "verified"}

// Export verifies the log at path and writes its events from since on to w
// as CSV: a header row (ExportHeader), one row per event, and a last row
// with the action "verify" that records the check itself: outcome "ok"
// with the number of events when the chain and head verified, else
// "error" with the first bad line.
//
// It writes the record even when the log does not verify, so that a
// controller can file what is there: the "verified" column is "no" from
// the first bad line on (lines that are not JSON at all are left out),
// and the error wraps the *BreakError. Cells that a spreadsheet would take
// for a formula (starting with =, +, -, @) are prefixed with a quote.
func Export(ctx context.Context, path string, w io.Writer, since time.Time) (*Result, error) {
	var res *Result
	var verr error
	err := locked(ctx, path, func() error {
		res, verr = verify(ctx, path)
		var brk *BreakError
		if verr != nil && !errors.As(verr, &brk) {
			return verr
		}
		cw := csv.NewWriter(w)
		if err := cw.Write(ExportHeader); err != nil {
			return err
		}
		if err := exportRows(ctx, path, cw, since, brk, res); err != nil {
			return err
		}
		if err := cw.Write(summaryRow(res, verr)); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return res, err
	}
	return res, verr
}

func exportRows(ctx context.Context, path string, cw *csv.Writer, since time.Time, brk *BreakError, res *Result) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), MaxLineSize+1)
	sc.Split(splitLines)
	for i := 1; sc.Scan(); i++ {
		if i%4096 == 0 {
			if err := context.Cause(ctx); err != nil {
				return err
			}
		}
		// Lines after a break are shown as they read, even edited ones, as
		// long as they are JSON at all.
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\n"))
		var rec record
		if json.Unmarshal(line, &rec) != nil || rec.Time.Before(since) {
			continue
		}
		p := &parsed{rec: rec, sum: sha256.Sum256(line)}
		verified := "yes"
		if brk != nil && i >= brk.Line {
			verified = "no"
		}
		if err := cw.Write(eventRow(strconv.FormatInt(p.rec.Seq, 10), &p.rec.Event, hex.EncodeToString(p.sum[:]), verified)); err != nil {
			return err
		}
		res.Exported++
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return err
	}
	return nil
}

func eventRow(seq string, ev *Event, lineSum, verified string) []string {
	keys := make([]string, 0, len(ev.Details))
	for k := range ev.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	details := make([]string, len(keys))
	for i, k := range keys {
		details[i] = fmt.Sprintf("%s=%d", k, ev.Details[k])
	}
	t := ""
	if !ev.Time.IsZero() {
		t = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	return []string{seq, t, cell(ev.User), cell(ev.Host), cell(ev.Action), cell(ev.Exchange), cell(ev.Key),
		cell(ev.SHA256), num(ev.Rows), num(ev.Bytes), cell(ev.Outcome), strconv.Itoa(ev.ExitCode),
		cell(ev.Error), cell(strings.Join(details, ";")), lineSum, verified}
}

func summaryRow(res *Result, verr error) []string {
	ev := Event{Time: time.Now(), Action: "verify", Outcome: OutcomeOK, User: "unknown"}
	if u, err := user.Current(); err == nil {
		ev.User = u.Username
	}
	ev.Host, _ = os.Hostname()
	ev.Details = map[string]int64{"events": int64(res.Events), "exported": int64(res.Exported)}
	verified := "yes"
	if verr != nil {
		var brk *BreakError
		errors.As(verr, &brk)
		ev.Outcome, ev.ExitCode, ev.Error, verified = OutcomeError, 4, "chain broken at "+brk.Error(), "no"
	}
	return eventRow("", &ev, "", verified)
}

func num(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// cell defuses text a spreadsheet would run as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
