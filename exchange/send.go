package exchange

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/screen"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
)

// FormatVersion is the version of the sealed-file layout recorded in
// object metadata.
const FormatVersion = "1"

// The object metadata send records with each file (never anything from
// inside it).
const (
	MetaFormat  = "xfer-format"
	MetaCipher  = "xfer-cipher"
	MetaSender  = "xfer-sender"
	MetaCreated = "xfer-created"
	MetaExpires = "xfer-expires"
	// MetaSource tells a re-run that the object was sealed from the same
	// file (see sourceTag).
	MetaSource = "xfer-source"
)

// Source is the file a send seals: its content and what identifies it
// for a re-run (path, size, modification time).
type Source struct {
	Path    string
	Size    int64 // -1 when unknown (standard input)
	ModTime time.Time
	R       io.Reader
	// Stream is a source with no file to recognise again (standard
	// input): its send never resumes another run's spool.
	Stream bool
}

// SendOptions are the settings of one send.
type SendOptions struct {
	// Name is the file's name in the exchange, before the sealed suffix.
	Name        string
	Outer       crypt.EncryptOptions
	ZipPassword []byte
	Level       int
	// Workers is how many cores compress the file (see
	// seal.Options.Concurrency); 0 means all.
	Workers     int
	PartSize    int64
	Concurrency int
	Expires     time.Duration
	Overwrite   bool
	// Restart seals again and starts a new upload instead of resuming.
	Restart bool
	Screen  screen.Rules
	// ScreenTag changes with the screening rules and list files: part of
	// the spool fingerprint.
	ScreenTag string
	// Encoding, Delimiter and AllowEmpty say how to read the CSV (see
	// seal.Options); DialectTag changes with them, for the fingerprint.
	Encoding, Delimiter string
	AllowEmpty          bool
	DialectTag          string
	// Now is the time recorded as the creation; zero means time.Now().
	Now time.Time
	// Limit caps the upload's bytes per second (shared by every send
	// given the same limiter); nil: no cap.
	Limit *transfer.RateLimiter
}

// SendResult is what a send did.
type SendResult struct {
	Name string // as list prints it
	Key  string
	// Already: the object was there, sealed from this very file by an
	// earlier run killed before it could say so; nothing was uploaded.
	Already bool
	ETag    string
	Size    int64
	Parts   int
	Resumed int64
	// Seal is the result of sealing, nil when the upload resumed a spool
	// sealed by an earlier run (or Already).
	Seal *seal.Result
}

// ObjectName is the name a file sent as name with opts gets in the
// exchange.
func ObjectName(name string, outer crypt.EncryptOptions) string {
	return name + SealedSuffix(outer.Cipher)
}

// fingerprint identifies what a spool was sealed from and under which
// keys and secrets: when any of it changes, the spool and its upload are
// stale. It holds no secret: the AES key by its id, the zip password and
// passphrase by their slow verifier (see secretsVerifier).
//
// A Stream has nothing to recognise it by: each run gets a fingerprint of
// its own, so it never resumes another run's spool.
func fingerprint(src Source, o SendOptions, verifier []byte) string {
	if src.Stream {
		return "stdin-" + rand.Text()
	}
	abs, _ := filepath.Abs(src.Path)
	var recips []string
	for _, r := range o.Outer.Recipients {
		recips = append(recips, fmt.Sprint(r))
	}
	aesKey := ""
	if o.Outer.AESKey != nil {
		aesKey = o.Outer.AESKey.KeyID()
	}
	parts := []string{abs, strconv.FormatInt(src.Size, 10), strconv.FormatInt(src.ModTime.UnixNano(), 10),
		o.Name, string(o.Outer.Cipher), strings.Join(recips, ","), strconv.Itoa(o.Level), aesKey, o.ScreenTag, o.DialectTag, hex.EncodeToString(verifier)}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

// sourceTag is the xfer-source metadata of an object: it tells a re-run
// that the object was sealed from the same file (path, size, time, keys,
// secrets) without saying anything about the file's content, and, as the
// verifier in fp is salted with this machine's salt, without letting
// anyone who reads the metadata test a guessed password.
func sourceTag(fp, key string) string {
	h := sha256.Sum256([]byte("xfer-source\x00" + fp + "\x00" + key))
	return hex.EncodeToString(h[:16])
}

// sealOptions are the options send seals src with, created at now.
func (x *Exchange) sealOptions(src Source, o SendOptions, now time.Time) seal.Options {
	return seal.Options{
		ZipPassword: o.ZipPassword,
		Level:       o.Level,
		Concurrency: o.Workers,
		Outer:       o.Outer,
		Name:        o.Name,
		Modified:    src.ModTime,
		Manifest:    seal.ManifestInfo{Sender: x.Sender, Created: now, Expires: now.Add(o.Expires)},
		Screen:      o.Screen,
		Encoding:    o.Encoding,
		Delimiter:   o.Delimiter,
		AllowEmpty:  o.AllowEmpty,
	}
}

// SendPlan is what a send would do (PlanSend).
type SendPlan struct {
	Name string // as list prints it
	Key  string
	// Exists: an object of that name is in the exchange, which Send
	// refuses without Overwrite (unless sent from this same file before).
	Exists bool
	// Size is the size the sealed object would have.
	Size int64
	Seal *seal.Result
}

// PlanSend is Send's dry run: it reads src, checks and screens it and
// seals it into nothing, as Send would (so a CSV Send would refuse fails
// here with the same error), and looks whether the name is taken. It
// writes nothing: no spool, no journal, no salt, no upload.
func (x *Exchange) PlanSend(ctx context.Context, src Source, o SendOptions) (*SendPlan, error) {
	if err := checkSendName(o.Name); err != nil {
		return nil, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	var n countWriter
	res, err := seal.Seal(ctx, &n, src.R, x.sealOptions(src, o, now.UTC()))
	if err != nil {
		return nil, err
	}
	p := &SendPlan{Name: ObjectName(o.Name, o.Outer), Size: int64(n), Seal: res}
	p.Key = x.Key(p.Name)
	switch _, err := x.Store.Head(ctx, p.Key); {
	case err == nil:
		p.Exists = true
	case !errors.Is(err, transfer.ErrNotFound):
		return nil, err
	}
	return p, nil
}

// countWriter counts what is written to it and keeps none of it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// Send seals src and uploads it as opts.Name plus the sealed suffix.
// Re-run after an interruption, it resumes the upload from the spool;
// when the object is there already, sealed from this very file by an
// earlier run, it reports that (Already) instead of failing. Other
// failures: ErrBadName, transfer.ErrSpoolBusy (another run sends the same
// file), transfer.ErrPreconditionFailed (another file is there under this
// name), transfer.ErrInterrupted (state kept, a re-run resumes), and the
// sealing's own errors.
func (x *Exchange) Send(ctx context.Context, src Source, o SendOptions, rep Reporter) (*SendResult, error) {
	rep = orQuiet(rep)
	if err := checkSendName(o.Name); err != nil {
		return nil, err
	}
	objName := ObjectName(o.Name, o.Outer)
	key := x.Key(objName)
	spoolPath := x.SpoolPath(key)
	verifier, err := x.secretsVerifier(o.ZipPassword, o.Outer.Passphrase)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(src, o, verifier)

	// A spool sealed from another file, or under other keys or secrets
	// (a zip password changed because the old one leaked), is sealed
	// again: what the run is given is what the recipient must need.
	// CreateSpool marks the upload of an earlier spool stale, and Upload
	// aborts it: neither Restart nor a changed secret leaves an orphaned
	// upload behind.
	sp, err := transfer.OpenSpool(spoolPath, fp)
	if err == nil && o.Restart {
		sp.Release()
		err = transfer.ErrNoSpool
	}
	resumed := err == nil
	if errors.Is(err, transfer.ErrNoSpool) {
		sp, err = transfer.CreateSpool(spoolPath, fp)
	}
	if err != nil {
		return nil, err
	}
	defer sp.Release()

	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	meta := map[string]string{
		MetaFormat:  FormatVersion,
		MetaCipher:  string(o.Outer.Cipher),
		MetaSender:  x.Sender,
		MetaCreated: now.Format(time.RFC3339),
		MetaExpires: now.Add(o.Expires).Format(time.RFC3339),
		MetaSource:  sourceTag(fp, key),
	}

	var (
		sealRes *seal.Result
		sealErr error
		sealing sync.WaitGroup
	)
	m := rep.Transfer("sending " + o.Name)
	defer m.Finish()
	start := time.Now()
	if resumed {
		rep.Step("%s: resuming from the spool an earlier run sealed", o.Name)
	} else {
		sealing.Add(1)
		go func() {
			defer sealing.Done()
			sealRes, sealErr = seal.Seal(ctx, sp, src.R, x.sealOptions(src, o, now))
			if sealErr != nil {
				sp.CloseWithError(sealErr)
				return
			}
			sealErr = sp.Close()
			if sealErr == nil {
				rep.Step("%s: sealed %d rows, %d bytes of CSV, in %s", o.Name, sealRes.Rows, sealRes.InputBytes, took(start))
			}
		}()
	}
	res, err := transfer.Upload(ctx, x.Store, sp, transfer.UploadOptions{
		Key:         key,
		Metadata:    meta,
		ContentType: "application/octet-stream",
		Overwrite:   o.Overwrite,
		PartSize:    o.PartSize,
		SizeHint:    max(src.Size, 0),
		Concurrency: o.Concurrency,
		Limit:       o.Limit,
		Progress:    m,
	})
	sealing.Wait()
	m.Finish()
	// Sealing stops with the upload's own error when the upload failed
	// first (Spool.Write returns it): that one is reported below.
	if sealErr != nil && (err == nil || !errors.Is(sealErr, err)) {
		if ctx.Err() == nil {
			// The file failed its checks, or its spool's disk filled:
			// nothing of it may stay behind. Upload discarded the upload
			// when sealing failed first; when the upload failed first (a
			// journal write on the full disk, say), it is done here. A
			// failed abort leaves the journal, for the next run to abort
			// the upload as stale; the sealing's error is the one to report.
			_ = sp.Discard(ctx, x.Store)
		}
		// Interrupted while sealing: the journal stays, so the next run
		// aborts the upload this one started.
		return nil, sealErr
	}
	if err != nil {
		if errors.Is(err, transfer.ErrPreconditionFailed) {
			sp.Release()
			transfer.RemoveSpool(spoolPath)
			if info, herr := x.Store.Head(ctx, key); herr == nil && info.Metadata[MetaSource] == sourceTag(fp, key) {
				// A run killed between completing the upload and saying
				// so: the object there was sealed from this very file.
				rep.Step("%s: already in the exchange, sent from this same file by an earlier run", o.Name)
				return &SendResult{Name: objName, Key: key, Already: true, ETag: info.ETag, Size: info.Size}, nil
			}
		}
		return nil, err
	}
	rep.Step("%s: uploaded %d parts, %d bytes (%d resumed from an earlier run), in %s; the server confirmed each part's checksum", objName, res.Parts, res.Size, res.Resumed, took(start))
	return &SendResult{Name: objName, Key: key, ETag: res.ETag, Size: res.Size, Parts: res.Parts, Resumed: res.Resumed, Seal: sealRes}, nil
}
