package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/xfer-dev/xfer/internal/flock"
)

// Result is what Verify and Export found.
type Result struct {
	// Events is the number of lines that verified: all of them when the
	// error is nil.
	Events int
	// HeadLagging means the head records a line before the last one: a
	// writer was stopped between writing its lines and the head (one
	// line, or the lines of one AppendAll). The next
	// AppendAll brings the head up to date. Until then, removing the last line
	// would go unnoticed.
	HeadLagging bool
	// Exported is the number of events Export wrote.
	Exported int
}

// Verify checks the log at path and its head, reading the log once with
// bounded memory, under a shared lock so that no append runs meanwhile. A
// log that was edited, cut, or had lines removed, inserted or reordered
// gives an error wrapping a *BreakError that names the first bad line;
// Result.Events then counts the lines before it. A log that does not exist
// is an error wrapping fs.ErrNotExist (unless its head exists: then the log
// was removed, a *BreakError).
func Verify(ctx context.Context, path string) (*Result, error) {
	var res *Result
	err := locked(ctx, path, func() (err error) {
		res, err = verify(ctx, path)
		return err
	})
	return res, err
}

// locked runs fn under a shared lock on the log, when it has a lock file.
func locked(ctx context.Context, path string, fn func() error) error {
	lf, err := os.Open(path + ".lock")
	if err != nil {
		return fn() // no writer ever ran here, as on a copy of a log
	}
	defer lf.Close()
	unlock, err := flock.RLock(ctx, lf)
	if err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}
	defer unlock()
	return fn()
}

func verify(ctx context.Context, path string) (*Result, error) {
	h, herr := readHead(headPath(path))
	if herr != nil && !errors.As(herr, new(*BreakError)) {
		return nil, herr
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && (h != nil || herr != nil) {
		return &Result{}, fmt.Errorf("audit log %s: %w", path, &BreakError{Line: 1, Reason: "the log is missing but its head exists: it was removed"})
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := walk(ctx, f, h, herr)
	if err != nil {
		err = fmt.Errorf("audit log %s: %w", path, err)
	}
	return res, err
}

// walk checks a log read from r against its head h (nil when absent; herr
// when damaged).
func walk(ctx context.Context, r io.Reader, h *head, herr error) (*Result, error) {
	res := &Result{}
	var brk *BreakError
	var mark int64
	if h != nil {
		mark = h.Seq
	}
	n, last, prev, marked, err := chain(ctx, r, mark, func(b *BreakError) { brk = b })
	switch {
	case err != nil:
		return res, err
	case brk == nil:
		brk = checkHead(n, last, prev, marked, h, herr, res)
	}
	if brk != nil {
		res.Events, res.HeadLagging = max(brk.Line-1, 0), false
		return res, brk
	}
	res.Events = n
	return res, nil
}

// chain reads lines until the first that breaks the chain, which it
// passes to fail. It returns the number of good lines, the last two, and
// line mark when it was read.
// Each line is vouched for by the next one (or the head): an edit that also
// fixed the line's own hash shows only in the hash its successor holds.
func chain(ctx context.Context, r io.Reader, mark int64, fail func(*BreakError)) (n int, last, prev, marked *parsed, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineSize+1)
	sc.Split(splitLines)
	brk := func(line int, format string, args ...any) (int, *parsed, *parsed, *parsed, error) {
		fail(&BreakError{Line: line, Reason: fmt.Sprintf(format, args...)})
		return n, last, prev, marked, nil
	}
	for sc.Scan() {
		i := n + 1
		if i%4096 == 0 {
			if err := context.Cause(ctx); err != nil {
				return n, last, prev, marked, err
			}
		}
		raw := sc.Bytes()
		if raw[len(raw)-1] != '\n' {
			return brk(i, "is incomplete: a writer was interrupted, or the log was cut")
		}
		p, reason := parseLine(raw[:len(raw)-1])
		switch {
		case reason != "":
			return brk(i, "%s", reason)
		case p.rec.Seq < int64(i):
			return brk(i, "has seq %d, which came before: it was moved, copied or inserted", p.rec.Seq)
		case p.rec.Seq > int64(i):
			return brk(i, "has seq %d where %d was due: lines before it were removed, or it was moved", p.rec.Seq, i)
		case last == nil && p.rec.Prev != hex.EncodeToString(zeroHash[:]):
			return brk(i, "does not start a chain: lines before it were removed")
		case last != nil && p.rec.Prev != hex.EncodeToString(last.sum[:]):
			// Both lines are consistent in themselves: the earlier one was
			// rewritten, its own hash recomputed.
			return brk(i-1, "was changed after line %d was written: that line holds a different hash of it", i)
		}
		n, prev, last = i, last, p
		if int64(i) == mark {
			marked = p
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return brk(n+1, "is longer than %d bytes", MaxLineSize)
		}
		return n, last, prev, marked, err
	}
	return n, last, prev, marked, nil
}

// checkHead compares the end of a log of n good lines (the last two given,
// and the one the head records) with its head.
func checkHead(n int, last, prev, marked *parsed, h *head, herr error, res *Result) *BreakError {
	hashOf := func(p *parsed) string {
		if p == nil {
			return hex.EncodeToString(zeroHash[:])
		}
		return hex.EncodeToString(p.sum[:])
	}
	switch {
	case herr != nil:
		return &BreakError{Line: n + 1, Reason: "the head file is damaged: the log may have been cut"}
	case h == nil && n <= 1:
		res.HeadLagging = n == 1
		return nil
	case h == nil:
		return &BreakError{Line: n + 1, Reason: "the head file is missing: the log may have been cut"}
	case h.Seq > int64(n):
		return &BreakError{Line: n + 1, Reason: fmt.Sprintf("is missing: the log ends after line %d but its head records %d lines", n, h.Seq)}
	case h.Seq == int64(n) && h.Hash != hashOf(last):
		return &BreakError{Line: n, Reason: "was changed after it was written: the head holds a different hash of it"}
	case h.Seq == int64(n):
		return nil
	case h.Seq == int64(n-1) && h.Hash == hashOf(prev):
		res.HeadLagging = true
		return nil
	case h.Seq == int64(n-1):
		return &BreakError{Line: n + 1, Reason: "the head does not match the log"}
	case int64(n)-h.Seq <= h.Pending && h.Hash == hashOf(marked):
		// A writer of several lines was stopped before it updated the
		// head it had announced them in.
		res.HeadLagging = true
		return nil
	case int64(n)-h.Seq <= h.Pending:
		return &BreakError{Line: int(h.Seq) + 1, Reason: "the head does not match the log"}
	}
	return &BreakError{Line: int(h.Seq) + 2, Reason: fmt.Sprintf("was added without updating the head, which records %d lines", h.Seq)}
}

// splitLines splits after each newline, keeping it, so that a last line
// without one shows.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
