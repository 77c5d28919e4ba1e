// Package audit keeps xfer's local audit trail: an append-only,
// hash-chained log of what was sent, fetched, pulled, shredded and swept,
// one JSON line per event, that shows afterwards whether any line was
// edited, removed, inserted or reordered.
//
// It records who did what to which object and how it ended: time, user,
// host, action, exchange, object name, ciphertext SHA-256, row and byte
// counts, outcome. It never records CSV content, rows, column values,
// passwords, keys or credentials; callers must pass error messages that
// contain none of them either.
//
// # Format
//
// The log (default $XDG_STATE_HOME/xfer/audit.jsonl, see DefaultPath) is
// JSON Lines. Each line is one Event plus:
//
//   - "v": the format version, 1;
//   - "seq": the line's number, 1, 2, 3, …;
//   - "prev": the hex SHA-256 of the previous line's bytes (without its
//     newline), 64 zeros on the first line;
//   - "hash", always the last member: the hex SHA-256 of the line's bytes
//     up to the comma before "hash", so an edited line names itself.
//
// Beside the log, PATH.head holds the last line's seq and SHA-256 (the
// anchor that shows a cut tail), and PATH.lock is the lock that keeps
// appending processes apart. AppendAll writes the line, syncs it, then
// replaces the head, so after a crash the head is at most one line
// behind; Verify accepts exactly that lag (Result.HeadLagging). AppendAll
// first records in the head how many lines it is about to write, and
// Verify accepts up to that many after the head.
//
// A chain without a secret cannot stop someone who rewrites the whole log
// and its head consistently; the copy in the bucket (Mirror) is the
// counter to that.
//
// # What the commands record
//
// The commands call Log.AppendAll once per object (or once for many),
// after the outcome is known, failures included, with Outcome left empty
// (it follows from ExitCode and Error):
//
//   - send: Action "send", Exchange, Key (the object name as list prints
//     it), SHA256 and Bytes of the uploaded ciphertext, Rows sealed, and
//     Details such as "suppressed" (rows dropped by screening, in total and
//     per list) and "dropped_columns";
//   - fetch: "fetch", Exchange, Key, SHA256, Bytes;
//   - pull: "pull", Exchange, Key, SHA256, Bytes, Rows received (from the
//     manifest), Details "shredded" = 1 with --shred-after;
//   - shred: "shred", Exchange, Key, Details "versions", "delete_markers",
//     "uploads" (what was removed);
//   - sweep: "sweep", one event per expired object, as shred.
//
// For example, in cmd:
//
//	l := &audit.Log{Path: logPath}
//	l.AppendAll(ctx, []audit.Event{{Action: audit.ActionSend, Exchange: x.AuditName(), Key: name,
//		SHA256: sum, Rows: rows, Bytes: size, ExitCode: exitCode(ctx, err), Error: msg}})
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/internal/flock"
)

// Actions the commands record.
const (
	ActionSend  = "send"
	ActionFetch = "fetch"
	ActionPull  = "pull"
	ActionShred = "shred"
	ActionSweep = "sweep"
)

// Outcomes.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// MaxLineSize bounds a line of the log, without its newline. AppendAll
// refuses a larger event; Verify reports a larger line as broken.
const MaxLineSize = 64 << 10

// maxErrorLen bounds Event.Error: AppendAll cuts a longer message.
const maxErrorLen = 1024

// Event is one thing that happened. Nothing in it may come from inside a
// CSV or be a secret.
type Event struct {
	// Time is when it happened, stored in UTC; zero means now.
	Time time.Time `json:"time"`
	// User and Host are who did it and where; empty means the current
	// user and the host name.
	User string `json:"user"`
	Host string `json:"host"`
	// Action is what was done: ActionSend, ActionFetch, …
	Action string `json:"action"`
	// Exchange names the bucket: endpoint host, bucket and prefix.
	Exchange string `json:"exchange,omitempty"`
	// Key is the object name relative to the prefix.
	Key string `json:"key,omitempty"`
	// SHA256 is the hex SHA-256 of the ciphertext.
	SHA256 string `json:"sha256,omitempty"`
	Rows   int64  `json:"rows,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	// Outcome is OutcomeOK or OutcomeError; empty means OutcomeError when
	// ExitCode or Error is set, else OutcomeOK.
	Outcome  string `json:"outcome"`
	ExitCode int    `json:"exit_code"`
	// Error is a message without secrets or CSV content; AppendAll cuts it to
	// 1024 bytes.
	Error string `json:"error,omitempty"`
	// Details holds further counts, such as rows suppressed.
	Details map[string]int64 `json:"details,omitempty"`
}

// Mirror receives a copy of every appended line, for example to write it
// to the exchange bucket under an audit prefix so both parties share the
// record. name is unique per line (the event's time and the line's hash)
// and sorts by time; line is the line as written to the log, ending in a
// newline. PutAudit may be called again with the same name and line after
// a failure, and must then store the same object.
type Mirror interface {
	PutAudit(ctx context.Context, name string, line []byte) error
}

// ErrMirror wraps a Mirror's failure. The line is in the local log even
// when AppendAll returns it.
var ErrMirror = errors.New("audit mirror")

// Log is an audit log file.
type Log struct {
	// Path is the log's file name; the head and the lock file are beside it.
	Path string
	// Mirror, when not nil, also receives each line AppendAll writes.
	Mirror Mirror
}

// DefaultPath is $XDG_STATE_HOME/xfer/audit.jsonl, else
// ~/.local/state/xfer/audit.jsonl (%LocalAppData%\xfer\audit.jsonl on
// Windows); empty when there is no home directory. It reads the process's
// environment.
func DefaultPath() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "xfer", "audit.jsonl")
	}
	if runtime.GOOS == "windows" {
		if d, err := os.UserCacheDir(); err == nil {
			return filepath.Join(d, "xfer", "audit.jsonl")
		}
		return ""
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "state", "xfer", "audit.jsonl")
}

// AppendAll adds evs to the log, in order, under an exclusive lock shared
// by every process, so concurrent appends never interleave or fork the
// chain. It creates the log (0600, directory 0700) when missing, writes
// the lines in one O_APPEND write (all or none), syncs them, then replaces
// the head.
//
// AppendAll checks the last line and the head, not the whole log (that is
// Verify's job). When they show a broken or cut log it appends nothing and
// returns an error wrapping the *BreakError, because appending would
// overwrite the head that proves the cut. The Mirror receives the lines a
// few at a time; when it fails for any, the error wraps ErrMirror and
// names the first failure.
func (l *Log) AppendAll(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	evs = slices.Clone(evs)
	for i := range evs {
		if err := normalise(&evs[i]); err != nil {
			return err
		}
	}
	dir := filepath.Dir(l.Path)
	if err := fileperm.MkdirAll(dir); err != nil {
		return err
	}
	lf, err := fileperm.OpenPrivate(l.Path+".lock", os.O_RDWR|os.O_CREATE)
	if err != nil {
		return err
	}
	defer lf.Close()
	unlock, err := flock.Lock(ctx, lf)
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.Path, err)
	}
	lines, err := l.appendLocked(evs)
	unlock()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.Path, err)
	}
	if l.Mirror == nil {
		return nil
	}
	return l.mirror(ctx, evs, lines)
}

// mirrorConcurrency bounds the Mirror calls AppendAll has in flight.
const mirrorConcurrency = 8

// mirror hands each line to the Mirror.
func (l *Log) mirror(ctx context.Context, evs []Event, lines [][]byte) error {
	errs := make([]error, len(lines))
	var g errgroup.Group
	g.SetLimit(mirrorConcurrency)
	for i, line := range lines {
		g.Go(func() error {
			errs[i] = l.Mirror.PutAudit(ctx, mirrorName(evs[i].Time, line), line)
			return nil
		})
	}
	g.Wait()
	var first error
	failed := 0
	for _, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
			failed++
		}
	}
	switch {
	case failed == 0:
		return nil
	case failed == 1:
		return fmt.Errorf("%w: %w", ErrMirror, first)
	}
	return fmt.Errorf("%w: %w (and %d more lines not mirrored)", ErrMirror, first, failed-1)
}

// appendLocked writes evs as the next lines and returns them, each ending
// in a newline.
func (l *Log) appendLocked(evs []Event) ([][]byte, error) {
	f, err := fileperm.OpenPrivate(l.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	seq, last, err := tail(f, fi.Size())
	if err != nil {
		return nil, err
	}
	h, err := readHead(headPath(l.Path))
	if err != nil {
		return nil, err
	}
	if err := checkTail(seq, last, h); err != nil {
		return nil, err
	}
	prev := zeroHash
	if last != nil {
		prev = last.sum
	}
	if len(evs) > 1 {
		// Announce the lines, so that a crash before the head is
		// updated after them leaves a head lagging, not a broken log.
		if err := writeHead(headPath(l.Path), head{V: 1, Seq: seq, Hash: hex.EncodeToString(prev[:]), Pending: int64(len(evs))}); err != nil {
			return nil, err
		}
	}
	var buf []byte
	lines := make([][]byte, len(evs))
	for i, ev := range evs {
		seq++
		line, sum, err := encodeLine(seq, prev, ev)
		if err != nil {
			return nil, err
		}
		lines[i] = append(line, '\n')
		buf = append(buf, lines[i]...)
		prev = sum
	}
	if _, err := f.Write(buf); err != nil {
		f.Truncate(fi.Size()) // best effort: leave no torn line
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if err := writeHead(headPath(l.Path), head{V: 1, Seq: seq, Hash: hex.EncodeToString(prev[:])}); err != nil {
		return nil, err
	}
	return lines, nil
}

// tail reads the log's last line. It fails with a *BreakError when the log
// ends in a torn or broken line.
func tail(f *os.File, size int64) (int64, *parsed, error) {
	if size == 0 {
		return 0, nil, nil
	}
	n := min(size, MaxLineSize+2)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil {
		return 0, nil, err
	}
	if buf[len(buf)-1] != '\n' {
		return 0, nil, &BreakError{Reason: "the last line is incomplete: a writer was interrupted, or the log was cut"}
	}
	body := buf[:len(buf)-1]
	i := bytes.LastIndexByte(body, '\n')
	if i < 0 && n < size {
		return 0, nil, &BreakError{Reason: "the last line is too long"}
	}
	p, reason := parseLine(body[i+1:])
	if reason != "" {
		return 0, nil, &BreakError{Reason: "the last line " + reason}
	}
	return p.rec.Seq, p, nil
}

// checkTail refuses to append after a last line the head does not match,
// as Verify's end-of-log check would.
func checkTail(seq int64, last *parsed, h *head) error {
	switch {
	case h == nil && seq <= 1:
		return nil
	case h != nil && h.Seq == 0 && seq == 0:
		return nil // an AppendAll to an empty log stopped before writing
	case h == nil:
		return &BreakError{Line: int(seq) + 1, Reason: "the head file is missing: the log may have been cut"}
	case seq == 0:
		return &BreakError{Line: 1, Reason: fmt.Sprintf("the log is empty but its head records %d lines", h.Seq)}
	case h.Seq == seq && h.Hash == hex.EncodeToString(last.sum[:]):
		return nil
	case h.Seq == seq-1 && h.Hash == last.rec.Prev:
		return nil
	case seq > h.Seq && seq-h.Seq <= h.Pending:
		return nil // an AppendAll stopped before its head (Verify checks the lines)
	}
	return &BreakError{Line: int(seq), Reason: fmt.Sprintf("the last line (seq %d) does not match the head (seq %d)", seq, h.Seq)}
}

func normalise(ev *Event) error {
	if ev.Action == "" {
		return errors.New("event without an action")
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	if ev.User == "" {
		ev.User = "unknown"
		if u, err := user.Current(); err == nil {
			ev.User = u.Username
		}
	}
	if ev.Host == "" {
		ev.Host, _ = os.Hostname()
	}
	if ev.Outcome == "" {
		ev.Outcome = OutcomeOK
		if ev.ExitCode != 0 || ev.Error != "" {
			ev.Outcome = OutcomeError
		}
	}
	if ev.Outcome != OutcomeOK && ev.Outcome != OutcomeError {
		return fmt.Errorf("outcome %q is neither %q nor %q", ev.Outcome, OutcomeOK, OutcomeError)
	}
	if len(ev.Error) > maxErrorLen {
		cut := maxErrorLen
		for cut > 0 && !utf8.RuneStart(ev.Error[cut]) {
			cut--
		}
		ev.Error = ev.Error[:cut] + "…"
	}
	return nil
}

var zeroHash [32]byte

// lineBody is a line without its hash, in the order the members appear.
type lineBody struct {
	V    int    `json:"v"`
	Seq  int64  `json:"seq"`
	Prev string `json:"prev"`
	Event
}

// hashMember separates a line's hashed part from its hash.
const hashMember = `,"hash":"`

// hashTail is the length of `,"hash":"<64 hex>"}`.
const hashTail = len(hashMember) + 64 + 2

// encodeLine returns line seq and its SHA-256 (what the next prev holds).
func encodeLine(seq int64, prev [32]byte, ev Event) ([]byte, [32]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(lineBody{V: 1, Seq: seq, Prev: hex.EncodeToString(prev[:]), Event: ev}); err != nil {
		return nil, zeroHash, err
	}
	body := bytes.TrimSuffix(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("}"))
	self := sha256.Sum256(body)
	line := append(append(body, hashMember...), hex.EncodeToString(self[:])+`"}`...)
	if len(line) > MaxLineSize {
		return nil, zeroHash, fmt.Errorf("event too large (%d bytes; at most %d)", len(line), MaxLineSize)
	}
	return line, sha256.Sum256(line), nil
}

// record is a decoded line.
type record struct {
	lineBody
	Hash string `json:"hash"`
}

// parsed is a line that is consistent in itself.
type parsed struct {
	rec record
	sum [32]byte // SHA-256 of the line
}

// parseLine checks a line (without its newline) on its own: JSON of the
// right shape whose hash matches its content. The reason, when not empty,
// completes "line N …".
func parseLine(line []byte) (*parsed, string) {
	if len(line) < hashTail || !bytes.HasSuffix(line, []byte(`"}`)) ||
		!bytes.Equal(line[len(line)-hashTail:len(line)-hashTail+len(hashMember)], []byte(hashMember)) {
		return nil, "is not an audit line (no hash at its end)"
	}
	var p parsed
	if err := json.Unmarshal(line, &p.rec); err != nil {
		return nil, "is not an audit line (bad JSON)"
	}
	want := sha256.Sum256(line[:len(line)-hashTail])
	if p.rec.Hash != hex.EncodeToString(want[:]) {
		return nil, "was edited: its content does not match its hash"
	}
	if p.rec.V != 1 {
		return nil, fmt.Sprintf("has format version %d; this xfer reads 1", p.rec.V)
	}
	if len(p.rec.Prev) != 64 {
		return nil, "is not an audit line (bad prev)"
	}
	p.sum = sha256.Sum256(line)
	return &p, ""
}

// mirrorName names a line's copy: its time, then the start of its hash.
func mirrorName(t time.Time, line []byte) string {
	sum := sha256.Sum256(bytes.TrimSuffix(line, []byte("\n")))
	return t.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(sum[:8]) + ".json"
}

// head is the anchor file's content: the last line's seq and the SHA-256
// of its bytes (what the next line's prev will hold).
type head struct {
	V    int    `json:"v"`
	Seq  int64  `json:"seq"`
	Hash string `json:"line_sha256"`
	// Pending announces that many lines about to be appended in one
	// write: until the head is updated after them, they may follow seq.
	Pending int64 `json:"pending,omitempty"`
}

func headPath(path string) string { return path + ".head" }

// readHead returns nil when there is no head, and a *BreakError when it
// is damaged.
func readHead(path string) (*head, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, err
	}
	return parseHead(b)
}

func parseHead(b []byte) (*head, error) {
	var h head
	if err := json.Unmarshal(b, &h); err != nil || h.V != 1 || h.Seq < 0 || h.Seq == 0 && h.Pending == 0 || h.Pending < 0 || len(h.Hash) != 64 {
		return nil, &BreakError{Reason: "the head file is damaged"}
	}
	return &h, nil
}

// writeHead replaces the head atomically. The temporary file has a fixed
// name: only the lock's holder writes it.
func writeHead(path string, h head) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := fileperm.OpenPrivate(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // best effort: not every platform can sync a directory
		d.Close()
	}
	return nil
}

// BreakError names the first line of the log that cannot be trusted.
type BreakError struct {
	// Line is the 1-based line number; one past the last line when lines
	// are missing at the end. Zero when the line is unknown.
	Line   int
	Reason string
}

func (e *BreakError) Error() string {
	if e.Line == 0 {
		return e.Reason
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}
