// Package screen applies the address-data controls to a CSV stream on its
// way to being sealed: suppression lists (opt-outs, deceased, preference
// services), a schema of required and allowed columns, minimisation
// (dropping columns), and checks for empty required fields, malformed UK
// postcodes and duplicate rows.
//
// A Screen streams: it is handed one record at a time by the one CSV
// tokenizer at xfer's door (package csvcheck), holds nothing else (but, for
// the duplicate check, 8 bytes per row up to a limit), and decides which
// rows and columns go on into the canonical CSV. It reports counts, column
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

// Screen applies Rules to the records of one CSV. It is a csvcheck.Handler
// (the tokenizer at the door hands it each record; see NewHandler), or, made
// by New, an io.WriteCloser: comma-separated CSV in, screened canonical CSV
// out to dst.
type Screen struct {
	r   Rules
	in  *csvcheck.Intake // when used as an io.WriteCloser
	err error

	// the plan, made from the header
	header   bool
	ncol     int
	keepCol  []bool // per input column: in the output
	required []int
	postcode int
	groups   []keyGroup
	dups     *dupSet
	dupSeed  maphash.Seed
	dupFull  int64

	issues [4]*Issue // indexed by issue slot
	reqIss []*Issue  // per required column
	report Report
	fold   folder
	keybuf []byte
}

// keyGroup is the lists sharing one key spec, so a row's key is
// normalised once for all of them.
type keyGroup struct {
	spec    KeySpec
	cols    []int
	lists   []*List
	hashers []*keyHasher
}

// New returns a Screen that reads comma-separated CSV (UTF-8, with or
// without a byte-order mark) written to it and writes the screened,
// canonical CSV (see csvcheck) to dst. Rule mistakes (see Rules.Validate)
// are returned by the first Write or Close.
func New(r Rules, dst io.Writer) *Screen {
	s := NewHandler(r)
	s.in = csvcheck.NewIntake(dst, s, csvcheck.Options{Delimiter: ","})
	return s
}

// NewHandler returns a Screen to be the csvcheck.Handler of a Tokenizer or
// Intake; once that is closed, Finish reports the checks' rejections.
func NewHandler(r Rules) *Screen {
	s := &Screen{r: r, postcode: -1}
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

// Write screens p. It fails on a schema violation or malformed input;
// rejections by the row checks are reported by Close.
func (s *Screen) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	return s.in.Write(p)
}

// Close screens what remains, and returns an error wrapping
// csvcheck.ErrInvalid if a check whose action is Reject found anything. It
// does not close dst.
func (s *Screen) Close() error {
	if s.err != nil {
		return s.err
	}
	if err := s.in.Close(); err != nil {
		return err
	}
	return s.Finish()
}

// Header plans the screening from the header record (csvcheck.Handler).
func (s *Screen) Header(rec *csvcheck.Record) ([]bool, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := s.plan(rec); err != nil {
		return nil, err
	}
	for _, k := range s.keepCol {
		if !k {
			return s.keepCol, nil
		}
	}
	return nil, nil
}

// Row screens one data record and reports whether it is kept
// (csvcheck.Handler).
func (s *Screen) Row(rec *csvcheck.Record) (bool, error) {
	line := rec.Line
	s.report.RowsIn++
	if s.suppressed(rec) {
		s.report.SuppressedRows++
		return false, nil
	}
	keep := true
	for k, c := range s.required {
		if len(bytes.TrimSpace(rec.Field(c))) == 0 {
			keep = s.note(s.reqIss[k], line) && keep
		}
	}
	if s.postcode >= 0 {
		if v := bytes.TrimSpace(rec.Field(s.postcode)); len(v) > 0 && !ValidPostcode(v) {
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

func (s *Screen) suppressed(rec *csvcheck.Record) bool {
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
			s.keybuf = s.fold.appendKeyPart(s.keybuf, rec.Field(c), grp.spec[k].Transform)
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
func (s *Screen) duplicate(rec *csvcheck.Record, line int64) bool {
	s.keybuf = s.keybuf[:0]
	for c := range rec.Len() {
		if s.keepCol[c] {
			s.keybuf = s.fold.appendText(s.keybuf, rec.Field(c))
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
func (s *Screen) plan(rec *csvcheck.Record) error {
	line := rec.Line
	s.header = true
	s.ncol = rec.Len()
	names := make([]string, s.ncol)
	index := make(map[string]int, s.ncol)
	for c := range s.ncol {
		names[c] = strings.TrimSpace(string(rec.Field(c)))
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
	// A column to drop that the header lacks is most likely a typo, and
	// sealing anyway would send the column meant to be left out.
	for _, d := range s.r.Drop {
		if _, ok := index[headerName(d)]; !ok {
			return s.fail("column %q to drop is not in the header%s; nothing was sealed", d, suggest(d, names))
		}
	}
	s.keepCol = make([]bool, s.ncol)
	for c, n := range names {
		key := headerName(n)
		if drop[key] {
			s.report.Dropped = append(s.report.Dropped, n)
			continue
		}
		if len(allowed) > 0 && !allowed[key] {
			return s.fail("column %q is not allowed by the schema%s (drop it with --drop-columns %s)", n, suggest(n, s.r.Allowed), n)
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
			return s.fail("required column %q is missing from the header%s", c, suggest(c, names))
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
			return s.fail("postcode column %q is missing from the header%s", s.r.PostcodeColumn, suggest(s.r.PostcodeColumn, names))
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
					return s.fail("suppression key column %q (list %s) is missing from the header%s", p.Column, l.Name, suggest(p.Column, names))
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

// Finish reports, once the tokenizer is closed, an error wrapping
// csvcheck.ErrInvalid if a check whose action is Reject found anything.
func (s *Screen) Finish() error {
	if s.err != nil {
		return s.err
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
