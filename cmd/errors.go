package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/xfer-dev/xfer/audit"
	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/csvcheck"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/screen"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/zipenc"
)

// Exit codes: the contract of docs/exit-codes.md. Scripts rely on them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitAuth        = 3
	exitIntegrity   = 4
	exitInterrupted = 5
	exitInput       = 6
	exitSignal      = 130
)

// usageError marks a mistake in the command line or configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// hinted carries advice on the next step; the printer shows it after the
// error on a line of its own.
type hinted struct {
	err  error
	hint string
}

func (e hinted) Error() string { return e.err.Error() }
func (e hinted) Unwrap() error { return e.err }

func withHint(err error, format string, args ...any) error {
	return hinted{err, fmt.Sprintf(format, args...)}
}

// errSignal is the cause of the root context when SIGINT or SIGTERM arrived.
var errSignal = errors.New("interrupted by a signal")

// exitCode maps an error to the exit code table. It is the only place that
// knows the table.
func exitCode(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(context.Cause(ctx), errSignal):
		return exitSignal
	case errors.As(err, new(usageError)), errors.Is(err, fs.ErrExist):
		return exitUsage // an output that exists is refused, never replaced
	case errors.Is(err, exchange.ErrBadName):
		return exitUsage
	case errors.Is(err, transfer.ErrPreconditionFailed), errors.Is(err, transfer.ErrNoSuchBucket):
		return exitUsage
	case errors.Is(err, transfer.ErrNotFound):
		return exitUsage // a name that is not in the exchange
	case errors.As(err, new(*tls.CertificateVerificationError)):
		return exitUsage // fixed in the configuration: ca_file
	case errors.Is(err, crypt.ErrNoIdentity), errors.Is(err, zipenc.ErrPassword), errors.Is(err, transfer.ErrAccessDenied):
		return exitAuth
	case errors.Is(err, transfer.ErrChecksumMismatch), errors.As(err, new(*audit.BreakError)), errors.Is(err, exchange.ErrTooLarge):
		return exitIntegrity
	case errors.Is(err, transfer.ErrInterrupted):
		return exitInterrupted
	case errors.Is(err, transfer.ErrUnreachable):
		return exitUsage // nothing reached the server: the endpoint, or the server is down
	case seal.IsDamaged(err):
		return exitIntegrity
	case errors.Is(err, csvcheck.ErrInvalid), errors.Is(err, seal.ErrPolicy):
		return exitInput
	}
	return exitFailure
}

// hintFor suggests a next step for errors that commonly have one.
func hintFor(err error) string {
	var h hinted
	if errors.As(err, &h) {
		return h.hint
	}
	switch {
	case errors.Is(err, exchange.ErrTooLarge):
		return "nothing was written; if you trust the file and its sender, make room or raise the bound (--max-size, or max_size / max_ratio in the config)"
	case errors.Is(err, crypt.ErrNoIdentity):
		return "decrypt with the identity (-i FILE) or passphrase the file was sealed for"
	case errors.Is(err, zipenc.ErrPassword):
		return "check the zip password (--zip-password-file or XFER_ZIP_PASSWORD)"
	case errors.Is(err, zipenc.ErrUnsupported):
		return "the zip inside was not made the way xfer makes it (see the message): open it with 7-Zip, or ask the sender to send it with xfer"
	case errors.Is(err, crypt.ErrIntegrity), errors.Is(err, zipenc.ErrIntegrity):
		return "the file was damaged or altered after sealing: fetch it again or ask the sender to resend"
	case errors.Is(err, screen.ErrRejected):
		return "the exchange's schema (the config's [schema] table) refuses this file: change the export, or drop the column with --drop-columns"
	case errors.Is(err, csvcheck.ErrInvalid):
		return "fix the CSV, or say how to read it: --encoding, --delimiter (docs/excel.md)"
	case errors.As(err, new(*tls.CertificateVerificationError)):
		return "the server's TLS certificate is not trusted: give its CA certificate with --ca-file (or XFER_CA_FILE)"
	case errors.Is(err, transfer.ErrCredentialsExpired):
		return "get new temporary credentials (aws sso login, a new session token or role session) and run again"
	case errors.Is(err, transfer.ErrUnreachable):
		return "check --endpoint (or XFER_ENDPOINT) and that the server is up; 'xfer doctor' checks the whole configuration"
	case errors.Is(err, transfer.ErrAccessDenied):
		return "check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and that they may use this bucket and prefix"
	case errors.Is(err, transfer.ErrNoSuchBucket):
		return "check --bucket (or XFER_BUCKET) and --endpoint"
	case errors.Is(err, transfer.ErrNotFound):
		return "see 'xfer list' for the names in the exchange"
	case errors.Is(err, transfer.ErrChecksumMismatch):
		return "the stored object is not what was uploaded: nothing was kept; fetch it again, or ask the sender to send it again"
	case errors.As(err, new(*audit.BreakError)):
		return "the log was edited, cut or reordered from that line on: keep it and its .head file as evidence, compare them with the copy in the bucket, then move both aside to start a new log"
	case errors.Is(err, transfer.ErrSpoolBusy):
		return "another xfer is working on the same file right now; let it finish"
	case errors.Is(err, fs.ErrExist):
		return "remove the existing file or choose another output with -o"
	case errors.Is(err, config.ErrBackslashEscape):
		return `write Windows paths in single quotes, spool_dir = 'C:\ProgramData\xfer', or double each backslash, "C:\\ProgramData\\xfer" (docs/quickstart-windows.md)`
	}
	return ""
}

// printError writes the error the way every xfer error looks: a program
// prefix, lower case, no final period, then an optional hint.
func printError(w io.Writer, err error) {
	msg := strings.TrimSuffix(err.Error(), ".")
	fmt.Fprintf(w, "xfer: error: %s\n", escapeLine(msg))
	if hint := hintFor(err); hint != "" {
		fmt.Fprintf(w, "xfer: hint: %s\n", escapeLine(hint))
	}
}
