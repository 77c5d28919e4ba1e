// Package exchange is xfer's exchange protocol over a transfer.Store: how
// files are named in the bucket, what send records with each file and when
// a file counts as sent already, what pull remembers and the receipt it
// leaves, what list shows (and caches), what shred and sweep remove.
//
// It does the work and returns plain results; it never prints, prompts or
// reads configuration, and it never imports the AWS SDK: the store, the
// directories and this side's identity are given to it (see Exchange).
// Progress and warnings go through a Reporter, which may be nil.
package exchange

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/transfer"
)

// Exchange is an opened exchange bucket under one key prefix, as seen by
// this side. The zero directories disable what needs them: without
// CacheDir, List caches nothing.
type Exchange struct {
	Store transfer.Store
	// Prefix is the key prefix, "" or ending in "/".
	Prefix string
	// Ident names the exchange for the local state kept about it (spools,
	// journals, what was pulled, the list cache): see Ident.
	Ident string
	// Sender names this side in object metadata and receipts; never
	// anything from inside a file.
	Sender string
	// Tool names the program in receipts, e.g. "xfer v1.2.0".
	Tool string
	// SpoolDir holds spools and journals of sends and downloads.
	SpoolDir string
	// StateDir holds what pull remembers (pulled.jsonl) and the salt of
	// the send spools' secrets verifier (SecretsSaltFile).
	StateDir string
	// CacheDir holds the list caches; "" caches nothing.
	CacheDir string
	// Group, when set, makes Pending and Pull share the work with the
	// other pullers of this pulling group through claims in the
	// exchange (see Claim); "" pulls alone, by the local state.
	Group string
	// Lease is how long a claim holds unless renewed; 0 is DefaultLease.
	Lease time.Duration
	// Now is the clock claims are judged by; nil is time.Now.
	Now func() time.Time

	// chunkSize is the size of one ranged GET of a download; 0 is
	// transfer's default. Tests make it small to have many.
	chunkSize int64
}

// Ident names an exchange for the local state kept about it: the
// endpoint as written in different but equal ways (a trailing slash,
// upper-case host, the scheme's default port) names the same exchange, so
// a re-run with the endpoint spelt otherwise still resumes and still knows
// what it pulled.
func Ident(endpoint, bucket string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		u.Scheme = strings.ToLower(u.Scheme)
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
			port = ""
		}
		if port != "" {
			u.Host = net.JoinHostPort(host, port)
		} else if strings.Contains(host, ":") {
			u.Host = "[" + host + "]" // IPv6
		} else {
			u.Host = host
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath, u.RawQuery, u.Fragment = "", "", ""
		endpoint = u.String()
	}
	return endpoint + "|" + bucket
}

// Key turns a name as list prints it into the object key.
func (x *Exchange) Key(name string) string { return x.Prefix + name }

// Name turns an object key into the name list prints.
func (x *Exchange) Name(key string) string { return strings.TrimPrefix(key, x.Prefix) }

// Where names the bucket and prefix for messages.
func (x *Exchange) Where() string {
	return x.Store.Bucket() + "/" + x.Prefix
}

// AuditName names the exchange in the audit log: endpoint host (AWS when
// none), bucket and prefix, as "host/bucket/prefix".
func (x *Exchange) AuditName() string {
	endpoint, bucket, _ := strings.Cut(x.Ident, "|")
	host := "s3.amazonaws.com"
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		host = u.Host + strings.TrimRight(u.Path, "/")
	}
	return host + "/" + bucket + "/" + x.Prefix
}

// InternalDir is where xfer keeps its own records under the prefix
// (receipts, the audit mirror); list, pull --all and the name checks
// leave it alone.
const InternalDir = ".xfer/"

// IsInternal reports a key that is no file of the exchange: xfer's own
// records under the prefix, or a folder placeholder some consoles create.
func (x *Exchange) IsInternal(key string) bool {
	return strings.HasPrefix(key, InternalDir) || strings.Contains(key, "/"+InternalDir) || strings.HasSuffix(key, "/")
}

// ErrBadName is the category of a name that cannot be a file of the
// exchange; the error's text says why.
var ErrBadName = errors.New("bad name")

type nameError struct{ msg string }

func (e nameError) Error() string        { return e.msg }
func (e nameError) Is(target error) bool { return target == ErrBadName }

func badName(format string, args ...any) error { return nameError{fmt.Sprintf(format, args...)} }

// CheckName refuses names that cannot be objects of the exchange as list
// prints them, with an error that is ErrBadName.
func CheckName(name string) error {
	switch {
	case name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0):
		return badName("bad name %q: give the name as 'xfer list' prints it", name)
	case strings.HasPrefix(name, InternalDir) || strings.Contains(name, "/"+InternalDir):
		return badName("%s is xfer's own record, not a file of the exchange", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "." || seg == ".." {
			return badName("bad name %q: give the name as 'xfer list' prints it", name)
		}
	}
	return nil
}

// checkSendName refuses the name a file is sent as unless it is a plain
// file name.
func checkSendName(name string) error {
	if strings.ContainsAny(name, "/\\") || name == "" || name == "." || name == ".." {
		return badName("bad name %q: a plain file name, without slashes", name)
	}
	return nil
}

// SealedSuffix is what send appends to a file's name for the outer cipher.
func SealedSuffix(c crypt.Cipher) string {
	if c == crypt.CipherAES256 {
		return ".zip.aes"
	}
	return ".zip.age"
}

// IsSealedName reports a name send gives its objects.
func IsSealedName(key string) bool {
	return strings.HasSuffix(key, ".zip.age") || strings.HasSuffix(key, ".zip.aes")
}

// SpoolPath names the spool of a send of key: the same object always gets
// the same spool, so a re-run finds what an interrupted run left.
func (x *Exchange) SpoolPath(key string) string {
	h := sha256.Sum256([]byte(x.Ident + "|" + key))
	return filepath.Join(x.SpoolDir, hex.EncodeToString(h[:12])+".spool")
}

// DownloadPath names the spool of a download of key: beside the send
// spools, with its own suffix, so a download never meets a send's spool.
func (x *Exchange) DownloadPath(key string) string {
	return strings.TrimSuffix(x.SpoolPath(key), ".spool") + ".fetch"
}

// Reporter receives what the exchange has to tell while it works. A nil
// Reporter is quiet.
type Reporter interface {
	// Transfer begins showing the progress of one upload or download.
	Transfer(label string) Meter
	// Warn tells of something that did not stop the work.
	Warn(format string, args ...any)
	// Step tells of one step of the work done (sealed, uploaded,
	// fetched, written) and how long it took: names, counts, sizes and
	// times, never anything from inside a file or a secret.
	Step(format string, args ...any)
}

// Meter shows the progress of one transfer; Finish ends it and may be
// called more than once.
type Meter interface {
	transfer.Progress
	Finish()
}

type quiet struct{}

func (quiet) Transfer(string) Meter { return quietMeter{} }
func (quiet) Warn(string, ...any)   {}
func (quiet) Step(string, ...any)   {}

type quietMeter struct{}

func (quietMeter) Progress(int64, int64, int64) {}
func (quietMeter) Finish()                      {}

// took formats how long since start, for steps: "1.234s".
func took(start time.Time) string { return time.Since(start).Round(time.Millisecond).String() }

func orQuiet(r Reporter) Reporter {
	if r == nil {
		return quiet{}
	}
	return r
}
