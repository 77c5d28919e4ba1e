// Package seal composes xfer's two layers into one sealed file and back:
// a checked CSV goes into a WinZip AES-256 zip (package zipenc), and the zip
// into an outer age or AES-256-GCM layer (package crypt).
//
// Seal streams: plaintext exists only in memory, in bounded buffers, on its
// way from the reader to the compressor. Open never releases plaintext that
// has not been authenticated by both layers.
package seal

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/csvcheck"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/screen"
	"github.com/xfer-dev/xfer/secret"
	"github.com/xfer-dev/xfer/zipenc"
)

// ErrPolicy is matched by a zip password that fails the password policy
// (the CLI's exit code 6). The policy itself is package secret's.
var ErrPolicy = secret.ErrPolicy

// ErrContent is wrapped when a sealed file opens but does not hold what xfer
// seals: no CSV entry, or entries it does not expect (exit code 4).
var ErrContent = errors.New("unexpected content in sealed file")

// MinPasswordLength is the built-in minimum length of a zip password
// (secret.MinPasswordLength).
const MinPasswordLength = secret.MinPasswordLength

// Options configures Seal.
type Options struct {
	ZipPassword []byte
	Level       int // deflate level; 0 means zipenc.DefaultLevel
	Concurrency int // compression workers; 0 means all cores
	Outer       crypt.EncryptOptions
	Name        string    // the CSV's file name inside the zip
	Modified    time.Time // its modification time
	MaxField    int       // largest CSV field in bytes; 0 means csvcheck's default
	// Encoding and Delimiter say what the sender knows of the CSV's
	// dialect (see csvcheck.Options); "" detects it.
	Encoding, Delimiter string
	// AllowEmpty seals a CSV with a header and no rows, which is refused
	// otherwise (a failed export job).
	AllowEmpty bool
	// Manifest is recorded in the manifest entry beside the CSV.
	Manifest ManifestInfo
	// Screen checks, suppresses and minimises the CSV on its way into the
	// zip; the zero Rules leaves it as it is.
	Screen screen.Rules
	// Progress, if set, is called from Seal's goroutine with the number of
	// input bytes just consumed.
	Progress func(n int64)
}

// Result describes a sealed file.
type Result struct {
	Rows        int64  // data rows, header excluded
	Columns     int    // fields per row
	InputBytes  int64  // size of the CSV
	OutputBytes int64  // size of the sealed file
	SHA256      []byte // SHA-256 of the sealed file
	// Manifest is what the manifest entry records.
	Manifest *Manifest
	// Screen is what screening did, nil when Options.Screen was inactive.
	// Rows and Columns then count the CSV as sealed, after screening.
	Screen *screen.Report
	// Source is the dialect the CSV came in (also in the manifest).
	Source csvcheck.Dialect
}

// readSize is the unit in which input is checked and handed to the
// compressor: large enough to keep system calls rare, small enough that a
// few in flight stay far inside the memory budget.
const readSize = 1 << 20

// Seal reads CSV from src in any dialect csvcheck's Intake accepts, checks
// and screens it, and writes the sealed file, holding the CSV in its
// canonical form (UTF-8, comma, CRLF; see package csvcheck), to dst. On
// any error dst holds an unusable prefix, which the caller discards. A
// cancelled ctx stops Seal between two reads.
func Seal(ctx context.Context, dst io.Writer, src io.Reader, opts Options) (*Result, error) {
	if opts.Name == "" || strings.ContainsAny(opts.Name, "/\\") || opts.Name == ManifestName {
		return nil, fmt.Errorf("bad entry name %q", opts.Name)
	}
	out := &countingHash{w: dst, h: sha256.New()}
	outer, err := crypt.NewWriter(out, opts.Outer)
	if err != nil {
		return nil, err
	}
	zw := zipenc.NewWriter(outer, opts.ZipPassword, zipenc.Options{Level: opts.Level, Concurrency: opts.Concurrency})
	entry, err := zw.Create(opts.Name, opts.Modified)
	if err != nil {
		return nil, err
	}
	// The CSV is read once, by the intake: decoded, tokenized, checked,
	// screened, and written out in the canonical form, which the digest
	// hashes on its way into the zip.
	digest := &csvDigest{h: sha256.New()}
	var sc *screen.Screen
	var h csvcheck.Handler
	if opts.Screen.Active() {
		sc = screen.NewHandler(opts.Screen)
		h = sc
	}
	in := csvcheck.NewIntake(io.MultiWriter(digest, entry), h, csvcheck.Options{
		Encoding: opts.Encoding, Delimiter: opts.Delimiter, MaxField: opts.MaxField,
	})
	res := &Result{}
	buf := make([]byte, readSize)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := in.Write(buf[:n]); err != nil {
				return nil, err
			}
			res.InputBytes += int64(n)
			if opts.Progress != nil {
				opts.Progress(int64(n))
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	if err := in.Close(); err != nil {
		return nil, err
	}
	if in.Rows() == 0 && !opts.AllowEmpty {
		return nil, &csvcheck.Error{Line: in.Line(), Msg: "the file has a header but no rows (a failed export?); nothing was sealed (to send it anyway: --allow-empty, or allow_empty in the [csv] section of the config)"}
	}
	digest.rowCount, digest.columns, digest.parsed = in.Rows(), in.Header(), true
	if sc != nil {
		if err := sc.Finish(); err != nil {
			return nil, err
		}
		rep := sc.Report()
		res.Screen = &rep
		digest.screened(rep)
	}
	res.Source = in.Dialect()
	digest.source = &res.Source
	res.Manifest = digest.manifest(opts.Name, opts.Manifest)
	if err := writeManifest(zw, res.Manifest, opts.Modified); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := outer.Close(); err != nil {
		return nil, err
	}
	res.Rows, res.Columns = res.Manifest.Rows, len(res.Manifest.Columns)
	res.OutputBytes, res.SHA256 = out.n, out.h.Sum(nil)
	return res, nil
}

type countingHash struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// Opened is a sealed file whose outer layer has been opened.
type Opened struct {
	Format        crypt.Format
	entry         *zipenc.File
	manifestEntry *zipenc.File // nil in files sealed before manifests, or by other tools
	manifest      *Manifest
	password      []byte
}

// Open opens the outer layer of the sealed file in src and finds its CSV
// entry. Nothing is decrypted beyond the headers yet.
func Open(src io.ReaderAt, size int64, ids crypt.Identities, zipPassword []byte) (*Opened, error) {
	plain, plainSize, format, err := crypt.NewReaderAt(src, size, ids)
	if err != nil {
		return nil, err
	}
	zr, err := zipenc.NewReader(plain, plainSize)
	if err != nil {
		return nil, err
	}
	var csv, manifest *zipenc.File
	for _, f := range zr.Files() {
		switch {
		case f.Name == ManifestName && manifest == nil:
			manifest = f
		case csv != nil:
			return nil, fmt.Errorf("%w: more than one CSV entry in the zip", ErrContent)
		default:
			csv = f
		}
	}
	if csv == nil {
		return nil, fmt.Errorf("%w: the zip holds no CSV", ErrContent)
	}
	if manifest != nil && manifest.Size > maxManifest {
		return nil, fmt.Errorf("%w: manifest larger than %d bytes", ErrContent, maxManifest)
	}
	return &Opened{Format: format, entry: csv, manifestEntry: manifest, password: zipPassword}, nil
}

// Name is the CSV's file name as the sender gave it, reduced to a plain
// base name that is safe to create in any directory on any system
// (safefile.PortableName; "unnamed.csv" when nothing of it is left).
func (o *Opened) Name() string {
	return safefile.PortableName(path.Base(strings.ReplaceAll(o.entry.Name, "\\", "/")), "unnamed.csv")
}

// Size is the CSV's size as its zip entry declares it. It is not
// authenticated until the entry is, but it is a bound: extracting fails
// rather than write more.
func (o *Opened) Size() uint64 { return o.entry.Size }

// StoredSize is the size of the CSV entry's stored data (compressed and
// encrypted), for the compression ratio Size / StoredSize.
func (o *Opened) StoredSize() uint64 { return o.entry.CompressedSize }

// Manifest reads and authenticates the manifest entry. It returns nil and
// no error for a file that has none (sealed by an older xfer, or zipped by
// another tool).
func (o *Opened) Manifest() (*Manifest, error) {
	if o.manifestEntry == nil || o.manifest != nil {
		return o.manifest, nil
	}
	buf := &limitedBuffer{max: maxManifest}
	if _, err := o.manifestEntry.Extract(buf, o.password); err != nil {
		return nil, err
	}
	m, err := decodeManifest(buf.Bytes())
	if err != nil {
		return nil, err
	}
	o.manifest = m
	return m, nil
}

// WriteTo authenticates the whole zip entry and then writes the CSV to dst.
// Nothing reaches dst unless the entry's MAC verified; an error after that
// (a size mismatch, a failing writer, a CSV that does not match the
// manifest) leaves dst with a prefix or a whole CSV the caller must
// discard.
func (o *Opened) WriteTo(dst io.Writer) (int64, error) {
	return o.writeTo(dst, (*zipenc.File).Extract)
}

// WriteOnceTo is WriteTo in one pass over the sealed file (see zipenc's
// ExtractOnce): dst receives the CSV before its MAC is checked, so it must
// be a destination nobody else can read meanwhile and that is discarded
// unless WriteOnceTo returns nil, such as an unnamed temporary file. The
// outer layer authenticates every chunk it decrypts either way.
func (o *Opened) WriteOnceTo(dst io.Writer) (int64, error) {
	return o.writeTo(dst, (*zipenc.File).ExtractOnce)
}

func (o *Opened) writeTo(dst io.Writer, extract func(*zipenc.File, io.Writer, []byte) (int64, error)) (int64, error) {
	m, err := o.Manifest()
	if err != nil || m == nil {
		if err != nil {
			return 0, err
		}
		return extract(o.entry, dst, o.password)
	}
	digest := newCSVDigest()
	n, err := extract(o.entry, io.MultiWriter(dst, digest), o.password)
	if err != nil {
		if errors.Is(err, csvcheck.ErrInvalid) {
			return n, fmt.Errorf("%w (the extracted CSV is not valid: %v)", ErrManifest, err)
		}
		return n, err
	}
	return n, m.check(digest)
}
