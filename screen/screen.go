// Package screen applies the address-data controls to a CSV stream on its
// way to being sealed: suppression lists (opt-outs, deceased, preference
// services), a schema of required and allowed columns, minimisation
// (dropping columns), and checks for empty required fields, malformed UK
// postcodes and duplicate rows.
//
// A Screen streams: it holds one record at a time (plus, for the duplicate
// check, 8 bytes per row up to a limit), and kept rows pass through as
// their original bytes unless a column is dropped. It reports counts, column
// names and row numbers, never the contents of a row or a suppression
// entry, which are personal data.
package screen

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"

	"github.com/xfer-dev/xfer/csvcheck"
)

// Action is what a failed check does.
type Action string

const (
	Reject Action = "reject" // report, and fail the whole file at Close
	Warn   Action = "warn"   // report, keep the row
	Drop   Action = "drop"   // report, leave the row out of the output
	Off    Action = "off"    // do not check
)

// ParseAction parses an action name; "" is the check's default.
func ParseAction(s string) (Action, error) {
	switch a := Action(strings.ToLower(strings.TrimSpace(s))); a {
	case "", Reject, Warn, Drop, Off:
		return a, nil
	}
	return "", fmt.Errorf("unknown action %q (use reject, warn, drop or off)", s)
}

// Issue kinds.
const (
	KindEmptyRequired   = "empty_required"
	KindBadPostcode     = "bad_postcode"
	KindDuplicate       = "duplicate"
	KindDuplicateLimit  = "duplicate_check_incomplete"
	defaultDuplicateMax = 3_000_000
)

// Rules configures a Screen. The zero Rules does nothing (Active is false).
type Rules struct {
	// Required columns must be in the header, and (per EmptyRequired)
	// non-blank in every row.
	Required []string
	// Allowed lists the columns a file may have; empty means any. A column
	// outside it (and not in Drop) refuses the whole file.
	Allowed []string
	// Drop lists columns removed from the output (minimisation). Dropped
	// columns can still be suppression key columns.
	Drop []string
	// PostcodeColumn, when set, names the column checked as a UK postcode.
	PostcodeColumn string

	// What each check does; "" means its default: EmptyRequired rejects,
	// BadPostcode warns, Duplicate is off.
	EmptyRequired, BadPostcode, Duplicate Action
	// DuplicateLimit is how many rows the duplicate check tracks (8 bytes
	// each in a table of at most 32 MiB by default); 0 means 3,000,000.
	DuplicateLimit int

	// Lists are the suppression lists; each carries its own key.
	Lists []*List
}

func (r Rules) action(a Action, def Action) Action {
	if a == "" {
		return def
	}
	return a
}

// Active reports whether the rules check or change anything. When it is
// false, a caller can leave the Screen out of the data path entirely.
func (r Rules) Active() bool {
	return len(r.Required) > 0 || len(r.Allowed) > 0 || len(r.Drop) > 0 ||
		r.PostcodeColumn != "" || len(r.Lists) > 0 || r.action(r.Duplicate, Off) != Off
}

// Validate checks the rules for mistakes that no input could satisfy.
func (r Rules) Validate() error {
	for _, a := range []struct {
		name string
		a    Action
	}{{"on_empty_required", r.EmptyRequired}, {"on_bad_postcode", r.BadPostcode}, {"on_duplicate", r.Duplicate}} {
		if _, err := ParseAction(string(a.a)); err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
	}
	drop := nameSet(r.Drop)
	for _, c := range r.Required {
		if drop[headerName(c)] {
			return fmt.Errorf("column %q is both required and dropped", c)
		}
	}
	if r.PostcodeColumn != "" && drop[headerName(r.PostcodeColumn)] {
		return fmt.Errorf("postcode column %q is dropped", r.PostcodeColumn)
	}
	for i, l := range r.Lists {
		if l == nil || len(l.key) == 0 {
			return fmt.Errorf("suppression list %d has no key", i+1)
		}
	}
	if r.DuplicateLimit < 0 {
		return errors.New("duplicate limit is negative")
	}
	return nil
}

func nameSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[headerName(n)] = true
	}
	return m
}

// Issue is one kind of problem found, with the rows it was found on.
type Issue struct {
	Kind   string `json:"kind"`
	Column string `json:"column,omitempty"`
	Count  int64  `json:"count"`
	// FirstRows are the first (at most MaxIssueRows) rows concerned, each
	// as the line number its record starts on, counting the header as
	// line 1 (as csvcheck's errors count).
	FirstRows []int64 `json:"first_rows,omitempty"`
	Action    Action  `json:"action"`
	Rejected  bool    `json:"rejected"`
}

// MaxIssueRows limits Issue.FirstRows.
const MaxIssueRows = 20

// Report is what a Screen did. It holds counts, names and row numbers only.
type Report struct {
	RowsIn  int64    `json:"rows_in"`
	RowsOut int64    `json:"rows_out"`
	Columns []string `json:"columns"` // the output header
	Dropped []string `json:"dropped,omitempty"`
	// Suppressed counts, per list name, the rows that list matched; a row
	// on two lists counts on both. SuppressedRows counts each row once.
	Suppressed     map[string]int64 `json:"suppressed,omitempty"`
	SuppressedRows int64            `json:"suppressed_rows"`
	Issues         []Issue          `json:"issues,omitempty"`

	// SuppressedByVariant counts the suppressed rows that no list held
	// under their own key, only under another spelling (Mueller for Müller).
	SuppressedByVariant int64 `json:"suppressed_by_variant"`
}

// Screen is an io.WriteCloser: raw CSV in, screened CSV out to dst.
type Screen struct {
	r   Rules
	dst io.Writer
	err error

	// the tokenizer, whose state carries over between Writes
	st      state
	fields  []span // the current record's fields, relative to its start
	fstart  int    // current field's start, relative to the record start
	crAt    int    // where a pending CR is, relative to the record start
	recLen  int    // bytes of the current record seen so far
	carry   []byte // a record split over Writes
	line    int64  // physical line the tokenizer is on
	recLine int64  // line the current record started on

	// the plan, made from the header
	header   bool
	ncol     int
	keepCol  []bool // per input column: in the output
	reencode bool
	started  bool   // the first bytes have been checked for a BOM
	pre      []byte // the first bytes, while they may be a BOM
	bom      bool   // a BOM is still to be written before the output
	required []int
	postcode int
	groups   []keyGroup
	dups     *dupSet
	dupSeed  maphash.Seed
	dupFull  int64

	issues  [4]*Issue // indexed by issue slot
	reqIss  []*Issue  // per required column
	report  Report
	fold    folder
	scratch []byte
	keybuf  []byte
	out     []byte
}

// keyGroup is the lists sharing one key spec, so a row's key is
// normalised once for all of them.
type keyGroup struct {
	spec    KeySpec
	cols    []int
	lists   []*List
	hashers []*keyHasher
}

type span struct{ start, end int }

type state uint8

const (
	fieldStart state = iota
	unquoted
	quoted
	quoteSeen
	sawCR
)

// maxRecord bounds one record in memory; csvcheck's limits (16,384 columns
// of at most 1 MiB) are far larger than any address file's rows, but the
// Screen must stay bounded even on input csvcheck would refuse.
const maxRecord = 64 << 20

// New returns a Screen writing to dst. Rule mistakes (see Rules.Validate)
// are returned by the first Write or Close.
func New(r Rules, dst io.Writer) *Screen {
	s := &Screen{r: r, dst: dst, line: 1, recLine: 1, postcode: -1}
	s.err = r.Validate()
	s.report.Suppressed = map[string]int64{}
	return s
}

// Report describes what the Screen did so far; after Close, all of it.
func (s *Screen) Report() Report {
	rep := s.report
	rep.Suppressed = make(map[string]int64, len(s.report.Suppressed))
	for k, v := range s.report.Suppressed {
		rep.Suppressed[k] = v
	}
	rep.Issues = nil
	for _, is := range s.allIssues() {
		c := *is
		c.FirstRows = slices.Clone(is.FirstRows)
		rep.Issues = append(rep.Issues, c)
	}
	return rep
}

func (s *Screen) allIssues() []*Issue {
	var all []*Issue
	for _, is := range s.reqIss {
		if is.Count > 0 {
			all = append(all, is)
		}
	}
	for _, is := range s.issues {
		if is != nil && is.Count > 0 {
			all = append(all, is)
		}
	}
	return all
}

// ErrRejected is wrapped by every refusal of the screen: a column the
// schema does not allow, a check whose action is reject. It wraps
// csvcheck.ErrInvalid, so callers that only know the CSV's checks treat it
// as rejected input.
var ErrRejected = fmt.Errorf("%w: refused by the schema", csvcheck.ErrInvalid)

func (s *Screen) fail(format string, args ...any) error {
	s.err = fmt.Errorf("%w: %s", ErrRejected, fmt.Sprintf(format, args...))
	return s.err
}

var bom = []byte("\ufeff")

// Write screens p. It fails on a schema violation or malformed input;
// rejections by the row checks are reported by Close.
func (s *Screen) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := len(p)
	if !s.started {
		// Set a leading byte-order mark aside (even one split over
		// Writes) so that it never becomes part of the first name.
		k := min(len(bom)-len(s.pre), len(p))
		s.pre = append(s.pre, p[:k]...)
		if len(s.pre) < len(bom) && bytes.HasPrefix(bom, s.pre) {
			return n, nil
		}
		s.started = true
		if bytes.Equal(s.pre, bom) {
			s.bom, p = true, p[k:]
		} else {
			p = append(s.pre, p[k:]...)
		}
		s.pre = nil
	}
	if _, err := s.write(p); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *Screen) write(p []byte) (int, error) {
	n := len(p)
	i := 0
	if len(s.carry) > 0 || s.recLen > 0 {
		j, done := s.scan(p, 0)
		s.carry = append(s.carry, p[:j]...)
		if !done {
			if len(s.carry) > maxRecord {
				return 0, s.fail("line %d: a record longer than %d bytes", s.recLine, maxRecord)
			}
			return n, nil
		}
		keep, err := s.record(s.carry)
		if err != nil {
			return 0, err
		}
		if keep {
			if err := s.emit(s.carry); err != nil {
				return 0, err
			}
		}
		s.carry = s.carry[:0]
		if cap(s.carry) > 4<<20 {
			s.carry = nil // do not keep an outsize record's buffer
		}
		i = j
	}
	run := i // start of a run of kept records passed through unchanged
	for i < len(p) {
		start := i
		j, done := s.scanFast(p, i)
		if !done {
			if err := s.flush(p[run:start]); err != nil {
				return 0, err
			}
			s.carry = append(s.carry, p[start:]...)
			if len(s.carry) > maxRecord {
				return 0, s.fail("line %d: a record longer than %d bytes", s.recLine, maxRecord)
			}
			return n, nil
		}
		keep, err := s.record(p[start:j])
		if err != nil {
			return 0, err
		}
		if !keep || s.reencode {
			if err := s.flush(p[run:start]); err != nil {
				return 0, err
			}
			if keep {
				if err := s.emit(p[start:j]); err != nil {
					return 0, err
				}
			}
			run = j
		}
		i = j
	}
	if err := s.flush(p[run:]); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *Screen) flush(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if s.bom {
		s.bom = false
		if _, err := s.dst.Write(bom); err != nil {
			s.err = err
			return err
		}
	}
	if _, err := s.dst.Write(b); err != nil {
		s.err = err
		return err
	}
	return nil
}

// emit writes one kept record: as it is, or without the dropped columns.
func (s *Screen) emit(rec []byte) error {
	if !s.reencode {
		return s.flush(rec)
	}
	s.out = s.encode(s.out[:0], rec)
	return s.flush(s.out)
}

// encode appends rec without its dropped columns. Each kept field keeps its
// original bytes (quotes included), which are already valid RFC 4180, and
// the record keeps its line ending.
func (s *Screen) encode(dst, rec []byte) []byte {
	if len(s.fields) != s.ncol { // a blank line
		return append(dst, rec...)
	}
	first := true
	for c, f := range s.fields {
		if !s.keepCol[c] {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, rec[f.start:f.end]...)
	}
	return append(dst, rec[s.fields[len(s.fields)-1].end:]...)
}

// scanFast scans a record starting at p[i] when a whole line without
// quotes is in p, and falls back to the byte-wise scan otherwise.
func (s *Screen) scanFast(p []byte, i int) (int, bool) {
	nl := bytes.IndexByte(p[i:], '\n')
	if nl < 0 || bytes.IndexByte(p[i:i+nl], '"') >= 0 {
		return s.scan(p, i)
	}
	line := p[i : i+nl]
	end := len(line)
	if end > 0 && line[end-1] == '\r' {
		end--
	}
	s.fields = s.fields[:0]
	at := 0
	for {
		k := bytes.IndexByte(line[at:end], ',')
		if k < 0 {
			s.fields = append(s.fields, span{at, end})
			break
		}
		s.fields = append(s.fields, span{at, at + k})
		at += k + 1
	}
	s.line++
	s.recLen = 0
	return i + nl + 1, true
}

// scan feeds p[i:] to the tokenizer until a record ends (it returns the
// index after it and true) or p runs out (len(p) and false).
func (s *Screen) scan(p []byte, i int) (int, bool) {
	if s.recLen == 0 {
		s.fields, s.fstart, s.st = s.fields[:0], 0, fieldStart
	}
	for ; i < len(p); i++ {
		b := p[i]
		off := s.recLen
		s.recLen++
		switch s.st {
		case quoted:
			switch b {
			case '"':
				s.st = quoteSeen
			case '\n':
				s.line++
			}
		case fieldStart, unquoted, quoteSeen:
			switch b {
			case '"':
				// Opens a quoted field, or after a closing quote is an
				// escaped quote; inside an unquoted field it is a stray
				// quote, kept as data (csvcheck refuses it).
				if s.st != unquoted {
					s.st = quoted
				}
			case ',':
				s.fields = append(s.fields, span{s.fstart, off})
				s.fstart, s.st = off+1, fieldStart
			case '\n':
				s.fields = append(s.fields, span{s.fstart, off})
				return i + 1, s.endRecord()
			case '\r':
				s.crAt, s.st = off, sawCR
			default:
				// data; after a closing quote csvcheck refuses it
				s.st = unquoted
			}
		case sawCR:
			if b == '\n' {
				s.fields = append(s.fields, span{s.fstart, s.crAt})
				return i + 1, s.endRecord()
			}
			// a bare CR is data (csvcheck refuses it); look at b again
			s.st, s.recLen = unquoted, off
			i--
		}
	}
	return len(p), false
}

func (s *Screen) endRecord() bool {
	s.line++
	s.recLen = 0
	return true
}

// finish ends a last record that has no line ending.
func (s *Screen) finish() {
	switch s.st {
	case sawCR:
		s.fields = append(s.fields, span{s.fstart, s.crAt})
	default:
		s.fields = append(s.fields, span{s.fstart, s.recLen})
	}
	s.recLen = 0
}

// value returns field c of rec without its quotes.
func (s *Screen) value(rec []byte, c int) []byte {
	f := s.fields[c]
	v := rec[f.start:f.end]
	if len(v) == 0 || v[0] != '"' {
		return v
	}
	v = v[1:]
	if len(v) > 0 && v[len(v)-1] == '"' {
		v = v[:len(v)-1]
	}
	if bytes.IndexByte(v, '"') < 0 {
		return v
	}
	s.scratch = s.scratch[:0]
	for k := 0; k < len(v); k++ {
		s.scratch = append(s.scratch, v[k])
		if v[k] == '"' && k+1 < len(v) && v[k+1] == '"' {
			k++
		}
	}
	return s.scratch
}

func isBlank(rec []byte, fields []span) bool {
	return len(fields) == 1 && fields[0].end == 0 && (len(rec) == 0 || rec[0] != '"')
}

// record handles one complete record and reports whether to keep it.
func (s *Screen) record(rec []byte) (bool, error) {
	line := s.recLine
	s.recLine = s.line
	if isBlank(rec, s.fields) {
		// Blank lines are not rows (csvcheck skips them); before the
		// header they are left out, so nothing precedes its check.
		return s.header, nil
	}
	if !s.header {
		return true, s.plan(rec, line)
	}
	if len(s.fields) != s.ncol {
		return false, s.fail("line %d: %d fields, but the header has %d", line, len(s.fields), s.ncol)
	}
	s.report.RowsIn++
	if s.suppressed(rec) {
		s.report.SuppressedRows++
		return false, nil
	}
	keep := true
	for k, c := range s.required {
		if len(bytes.TrimSpace(s.value(rec, c))) == 0 {
			keep = s.note(s.reqIss[k], line) && keep
		}
	}
	if s.postcode >= 0 {
		if v := bytes.TrimSpace(s.value(rec, s.postcode)); len(v) > 0 && !ValidPostcode(v) {
			keep = s.note(s.issues[1], line) && keep
		}
	}
	if s.dups != nil && keep {
		if s.duplicate(rec, line) {
			keep = s.note(s.issues[2], line) && keep
		}
	}
	if keep {
		s.report.RowsOut++
	}
	return keep, nil
}

// note records an issue on a row and reports whether the row stays.
func (s *Screen) note(is *Issue, line int64) bool {
	is.Count++
	if len(is.FirstRows) < MaxIssueRows {
		is.FirstRows = append(is.FirstRows, line)
	}
	if is.Action == Reject {
		is.Rejected = true
	}
	return is.Action != Drop
}

func (s *Screen) suppressed(rec []byte) bool {
	hit, exact := false, false
	for g := range s.groups {
		grp := &s.groups[g]
		s.keybuf = s.keybuf[:0]
		empty := true
		for k, c := range grp.cols {
			if k > 0 {
				s.keybuf = append(s.keybuf, keySep)
			}
			n := len(s.keybuf)
			s.keybuf = s.fold.appendKeyPart(s.keybuf, s.value(rec, c), grp.spec[k].Transform)
			empty = empty && len(s.keybuf) == n
		}
		if empty {
			continue
		}
		h, e := grp.match(&s.fold, s.keybuf, s.report.Suppressed)
		hit, exact = hit || h, exact || e
	}
	if hit && !exact {
		s.report.SuppressedByVariant++
	}
	return hit
}

// duplicate hashes the row's kept fields, each normalised as key text is,
// and reports whether an earlier row had the same.
func (s *Screen) duplicate(rec []byte, line int64) bool {
	s.keybuf = s.keybuf[:0]
	for c := range s.fields {
		if s.keepCol[c] {
			s.keybuf = s.fold.appendText(s.keybuf, s.value(rec, c))
			s.keybuf = append(s.keybuf, keySep)
		}
	}
	seen, full := s.dups.add(maphash.Bytes(s.dupSeed, s.keybuf))
	if full && !seen {
		s.dupFull++
		if is := s.issues[3]; len(is.FirstRows) == 0 {
			is.FirstRows = append(is.FirstRows, line)
		}
		s.issues[3].Count = s.dupFull
	}
	return seen
}

// plan reads the header and decides, before any output, what the file may
// hold and what to do with each column.
func (s *Screen) plan(rec []byte, line int64) error {
	s.header = true
	s.ncol = len(s.fields)
	names := make([]string, s.ncol)
	index := make(map[string]int, s.ncol)
	for c := range s.fields {
		names[c] = strings.TrimSpace(string(s.value(rec, c)))
		key := headerName(names[c])
		if key == "" {
			return s.fail("line %d: header column %d has no name", line, c+1)
		}
		if _, dup := index[key]; dup {
			return s.fail("line %d: header names column %q twice", line, names[c])
		}
		index[key] = c
	}
	allowed, drop := nameSet(s.r.Allowed), nameSet(s.r.Drop)
	s.keepCol = make([]bool, s.ncol)
	for c, n := range names {
		key := headerName(n)
		if drop[key] {
			s.reencode = true
			s.report.Dropped = append(s.report.Dropped, n)
			continue
		}
		if len(allowed) > 0 && !allowed[key] {
			return s.fail("column %q is not allowed by the schema (drop it with --drop-columns %s)", n, n)
		}
		s.keepCol[c] = true
		s.report.Columns = append(s.report.Columns, n)
	}
	if len(s.report.Columns) == 0 {
		return s.fail("no columns left once %s are dropped", strings.Join(s.report.Dropped, ", "))
	}
	for _, c := range s.r.Required {
		i, ok := index[headerName(c)]
		if !ok {
			return s.fail("required column %q is missing from the header", c)
		}
		s.required = append(s.required, i)
		s.reqIss = append(s.reqIss, &Issue{Kind: KindEmptyRequired, Column: names[i], Action: s.r.action(s.r.EmptyRequired, Reject)})
	}
	if a := s.r.action(s.r.EmptyRequired, Reject); a == Off {
		s.required, s.reqIss = nil, nil
	}
	if s.r.PostcodeColumn != "" && s.r.action(s.r.BadPostcode, Warn) != Off {
		i, ok := index[headerName(s.r.PostcodeColumn)]
		if !ok {
			return s.fail("postcode column %q is missing from the header", s.r.PostcodeColumn)
		}
		s.postcode = i
		s.issues[1] = &Issue{Kind: KindBadPostcode, Column: names[i], Action: s.r.action(s.r.BadPostcode, Warn)}
	}
	if a := s.r.action(s.r.Duplicate, Off); a != Off {
		limit := s.r.DuplicateLimit
		if limit == 0 {
			limit = defaultDuplicateMax
		}
		s.dups, s.dupSeed = newDupSet(limit), maphash.MakeSeed()
		s.issues[2] = &Issue{Kind: KindDuplicate, Action: a}
		s.issues[3] = &Issue{Kind: KindDuplicateLimit, Action: Warn}
	}
	for _, l := range s.r.Lists {
		spec := l.key.String()
		g := slices.IndexFunc(s.groups, func(g keyGroup) bool { return g.spec.String() == spec })
		if g < 0 {
			grp := keyGroup{spec: l.key}
			for _, p := range l.key {
				i, ok := index[p.Column]
				if !ok {
					return s.fail("suppression key column %q (list %s) is missing from the header", p.Column, l.Name)
				}
				grp.cols = append(grp.cols, i)
			}
			s.groups = append(s.groups, grp)
			g = len(s.groups) - 1
		}
		s.groups[g].lists = append(s.groups[g].lists, l)
		s.groups[g].hashers = append(s.groups[g].hashers, l.hasher())
		s.report.Suppressed[l.Name] += 0
	}
	return nil
}

// Close screens what remains, and returns an error wrapping
// csvcheck.ErrInvalid if a check whose action is Reject found anything. It
// does not close dst.
func (s *Screen) Close() error {
	if s.err != nil {
		return s.err
	}
	if !s.started {
		s.started = true
		if _, err := s.write(s.pre); err != nil {
			return err
		}
	}
	if len(s.carry) > 0 || s.recLen > 0 {
		if s.st == quoted {
			return s.fail("line %d: a quoted field is never closed", s.recLine)
		}
		s.finish()
		keep, err := s.record(s.carry)
		if err != nil {
			return err
		}
		if keep {
			if err := s.emit(s.carry); err != nil {
				return err
			}
		}
		s.carry = nil
	}
	if !s.header {
		return s.fail("empty file: a header row is required")
	}
	var msgs []string
	for _, is := range s.allIssues() {
		if is.Rejected {
			msgs = append(msgs, describe(is))
		}
	}
	if len(msgs) > 0 {
		return s.fail("%s", strings.Join(msgs, "; "))
	}
	return nil
}

// describe says what an issue is, by column and row numbers only.
func describe(is *Issue) string {
	rows := make([]string, len(is.FirstRows))
	for i, r := range is.FirstRows {
		rows[i] = fmt.Sprint(r)
	}
	at := strings.Join(rows, ", ")
	if int64(len(is.FirstRows)) < is.Count {
		at += ", …"
	}
	switch is.Kind {
	case KindEmptyRequired:
		return fmt.Sprintf("%d rows have an empty required field %q (lines %s)", is.Count, is.Column, at)
	case KindBadPostcode:
		return fmt.Sprintf("%d rows have a malformed UK postcode in %q (lines %s)", is.Count, is.Column, at)
	case KindDuplicate:
		return fmt.Sprintf("%d rows duplicate an earlier row (lines %s)", is.Count, at)
	}
	return fmt.Sprintf("%d rows: %s (lines %s)", is.Count, is.Kind, at)
}

// Describe is a one-line account of an issue for people: its kind, column,
// count and first row numbers, never row contents.
func (is Issue) Describe() string { return describe(&is) }
