package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/xfer-dev/xfer/csvcheck"
	"github.com/xfer-dev/xfer/screen"
	"github.com/xfer-dev/xfer/zipenc"
)

// ManifestName is the name of the manifest entry inside the zip. It sits
// after the CSV entry, encrypted with the same zip password, so a recipient
// with 7-Zip or bsdtar sees it as a second, small file.
const ManifestName = "xfer-manifest.json"

// ManifestFormat names the manifest's version; a reader refuses others.
const ManifestFormat = "xfer-manifest/1"

// maxManifest bounds the manifest entry a reader accepts: it holds column
// names and a few counters, never rows.
const maxManifest = 1 << 20

// Manifest describes the CSV a sealed file holds. It never holds anything
// from the rows themselves: only counts, column names and a digest.
type Manifest struct {
	Format    string   `json:"format"`
	File      string   `json:"file"`
	Rows      int64    `json:"rows"`
	Columns   []string `json:"columns"`
	CSVBytes  int64    `json:"csv_bytes"`
	CSVSHA256 string   `json:"csv_sha256"`
	// Suppressed counts the rows each suppression list removed before
	// sealing; Dropped names the columns removed.
	Suppressed map[string]int64 `json:"suppressed,omitempty"`
	Dropped    []string         `json:"dropped_columns,omitempty"`
	// Source is the dialect the sender's file came in (encoding,
	// delimiter, line ends); the CSV itself is always canonical. Absent in
	// files sealed before xfer read other dialects.
	Source  *csvcheck.Dialect `json:"source,omitempty"`
	Sender  string            `json:"sender,omitempty"`
	Created time.Time         `json:"created"`
	Expires *time.Time        `json:"expires,omitempty"`

	// SuppressedByVariant counts the suppressed rows that no list held
	// under their own key, only under another spelling (Mueller for Müller).
	SuppressedByVariant int64 `json:"suppressed_by_variant,omitempty"`
}

// ManifestInfo is what the caller of Seal knows about a file beyond its
// content: who sends it, when, and until when it may be kept.
type ManifestInfo struct {
	Sender  string
	Created time.Time // zero means now
	Expires time.Time // zero means no expiry recorded
}

// csvDigest follows the CSV on its way into or out of the zip: its
// SHA-256, its size, its header's column names and, through a counter, its
// row count. When sealing, the intake that wrote the CSV gives rows and
// columns instead (count is nil, rowCount is set): its output is valid CSV
// by construction.
//
// When opening, a quote-aware counter (which also checks UTF-8) stands in
// for a full validation: the CSV is compared with the manifest's SHA-256,
// which the sender recorded of a CSV its intake validated, so a CSV that
// matches is that valid CSV; the count, UTF-8 and the header are checked
// all the same.
type csvDigest struct {
	h        hash.Hash
	n        int64
	count    *csvcheck.Counter
	header   []byte // the first bytes, until the header is parsed
	columns  []string
	parsed   bool
	rowCount int64
	screen   *screen.Report
	source   *csvcheck.Dialect
}

func newCSVDigest() *csvDigest {
	return &csvDigest{h: sha256.New(), count: new(csvcheck.Counter)}
}

// headerBytes bounds what csvDigest keeps to find the column names; a
// header longer than this is recorded without them.
const headerBytes = 1 << 20

func (d *csvDigest) Write(p []byte) (int, error) {
	if d.count != nil {
		if _, err := d.count.Write(p); err != nil {
			return 0, err
		}
	}
	d.h.Write(p)
	d.n += int64(len(p))
	if !d.parsed && d.count != nil {
		d.header = append(d.header, p[:min(len(p), headerBytes-len(d.header))]...)
		if cols, ok := parseHeader(d.header, len(d.header) == headerBytes); ok {
			d.columns, d.parsed, d.header = cols, true, nil
		}
	}
	return len(p), nil
}

// parseHeader reads the column names from the start of a CSV. ok is false
// while more bytes could still complete the header; full says none will
// come (the header is too long to keep), and gives up without names.
func parseHeader(b []byte, full bool) (cols []string, ok bool) {
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	// The header is complete once the reader has moved past its line
	// ending: more input follows it, or the input ends with a newline.
	if err == nil && (r.InputOffset() < int64(len(b)) || bytes.HasSuffix(b, []byte("\n"))) {
		return rec, true
	}
	if full {
		return nil, true
	}
	return nil, false
}

// screened hands the digest what the screen reports of its output.
func (d *csvDigest) screened(rep screen.Report) {
	d.screen, d.columns, d.parsed = &rep, rep.Columns, true
}

func (d *csvDigest) rows() int64 {
	switch {
	case d.count != nil:
		return d.count.Rows()
	case d.screen != nil:
		return d.screen.RowsOut
	}
	return d.rowCount
}

func (d *csvDigest) close() error {
	if d.count == nil {
		return nil
	}
	if err := d.count.Close(); err != nil {
		return err
	}
	if !d.parsed {
		d.columns, _ = parseHeader(d.header, true)
		d.parsed = true
	}
	return nil
}

func (d *csvDigest) manifest(file string, info ManifestInfo) *Manifest {
	m := &Manifest{
		Format: ManifestFormat, File: file, Rows: d.rows(), Columns: d.columns,
		CSVBytes: d.n, CSVSHA256: hex.EncodeToString(d.h.Sum(nil)),
		Sender: info.Sender, Created: info.Created.UTC(), Source: d.source,
	}
	if d.screen != nil {
		m.Suppressed, m.Dropped = d.screen.Suppressed, d.screen.Dropped
		m.SuppressedByVariant = d.screen.SuppressedByVariant
	}
	if m.Columns == nil {
		m.Columns = []string{}
	}
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	if !info.Expires.IsZero() {
		e := info.Expires.UTC()
		m.Expires = &e
	}
	return m
}

// ErrManifest is wrapped when the CSV does not match its manifest, or the
// manifest cannot be read (exit code 4: the content is not what was sealed).
var ErrManifest = fmt.Errorf("%w: the CSV does not match its manifest", ErrContent)

// decodeManifest parses a manifest entry's content.
func decodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: unreadable manifest: %v", ErrContent, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%w: manifest format %q is not %q", ErrContent, m.Format, ManifestFormat)
	}
	if _, err := hex.DecodeString(m.CSVSHA256); err != nil || len(m.CSVSHA256) != 2*sha256.Size {
		return nil, fmt.Errorf("%w: manifest has no valid csv_sha256", ErrContent)
	}
	return &m, nil
}

// check compares what was extracted with the manifest.
func (m *Manifest) check(d *csvDigest) error {
	if err := d.close(); err != nil {
		if errors.Is(err, csvcheck.ErrInvalid) {
			return fmt.Errorf("%w (the extracted CSV is not valid: %v)", ErrManifest, err)
		}
		return err
	}
	got := hex.EncodeToString(d.h.Sum(nil))
	switch {
	case d.n != m.CSVBytes:
		return fmt.Errorf("%w: %d bytes, the manifest says %d", ErrManifest, d.n, m.CSVBytes)
	case got != m.CSVSHA256:
		return fmt.Errorf("%w: its SHA-256 differs", ErrManifest)
	case d.rows() != m.Rows:
		return fmt.Errorf("%w: %d rows, the manifest says %d", ErrManifest, d.rows(), m.Rows)
	case len(m.Columns) > 0 && d.columns != nil && !sameColumns(d.columns, m.Columns):
		return fmt.Errorf("%w: its header differs", ErrManifest)
	}
	return nil
}

// sameColumns compares column names as read back (by encoding/csv, which
// reads a quoted CRLF as LF) with the manifest's (the intake's, verbatim).
func sameColumns(read, recorded []string) bool {
	return slices.EqualFunc(read, recorded, func(a, b string) bool {
		return a == strings.ReplaceAll(b, "\r\n", "\n")
	})
}

// Describes reports whether r holds exactly the CSV m describes, by the
// same checks Opened.WriteTo makes of an extracted one: size, SHA-256 and
// rows.
func (m *Manifest) Describes(r io.Reader) bool {
	d := newCSVDigest()
	if _, err := io.Copy(d, r); err != nil {
		return false
	}
	return m.check(d) == nil
}

// limitedBuffer is a bytes.Buffer that refuses to grow past max.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, fmt.Errorf("%w: manifest larger than %d bytes", ErrContent, b.max)
	}
	return b.Buffer.Write(p)
}

// writeManifest adds m as the zip's manifest entry.
func writeManifest(zw *zipenc.Writer, m *Manifest, modified time.Time) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	w, err := zw.Create(ManifestName, modified)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
