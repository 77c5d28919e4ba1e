package transfer

import (
	"errors"
	"strings"
)

// The categories of Store failures, for errors.Is. A Store wraps them, with
// the operation and key, in a *StoreError.
var (
	ErrNotFound           = errors.New("no such object")
	ErrNoSuchUpload       = errors.New("no such upload")
	ErrPreconditionFailed = errors.New("object already exists")
	ErrAccessDenied       = errors.New("access denied") // the CLI's exit code 3
	ErrNoSuchBucket       = errors.New("no such bucket")
	ErrChecksumMismatch   = errors.New("checksum mismatch") // the CLI's exit code 4
	// ErrUnreachable is a request that never reached an S3 server: the
	// connection was refused or timed out, the host name is unknown, or
	// the other end does not speak the endpoint's protocol (plain HTTP
	// behind an https:// endpoint, or the reverse). The error's text says
	// which. It is transient only where a retry later could succeed.
	ErrUnreachable = errors.New("cannot reach the S3 server")
	// ErrCredentialsExpired is an access denied for temporary credentials
	// (a session token: SSO, an assumed role, STS) that have expired or
	// were revoked. It comes together with ErrAccessDenied.
	ErrCredentialsExpired = errors.New("the temporary credentials have expired or are no longer valid")
)

// ErrInterrupted is wrapped by the error of a transfer that stopped part way
// for a reason that may go away (network, server unavailable, cancellation)
// and left its journal for a re-run to resume from: the CLI's exit code 5.
var ErrInterrupted = errors.New("transfer interrupted")

// StoreError is a failed Store request.
type StoreError struct {
	Op     string // the request, e.g. "UploadPart"
	Bucket string
	Key    string // empty for bucket-wide requests
	Code   string // the server's error code, if it sent one
	// Kind is the category: one of this package's Err variables, or nil
	// when the failure fits none of them.
	Kind error
	// Temporary marks a failure that may succeed when tried again later
	// (network errors, throttling, 5xx) after the store's own retries.
	Temporary bool
	Err       error // the underlying error
}

func (e *StoreError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(" ")
	if e.Key != "" {
		b.WriteString(e.Bucket + "/" + e.Key)
	} else {
		b.WriteString("bucket " + e.Bucket)
	}
	b.WriteString(": ")
	switch {
	case e.Kind != nil && e.Err != nil:
		b.WriteString(e.Kind.Error() + ": " + e.Err.Error())
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("failed")
	}
	return b.String()
}

// Unwrap returns the category and the underlying error, so errors.Is
// matches both.
func (e *StoreError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Transient reports whether trying again later may succeed.
func (e *StoreError) Transient() bool { return e.Temporary }

// IsTransient reports whether err, or an error it wraps, says that trying
// the operation again later may succeed: a network failure, throttling, or
// a server error, after the store's own retries. Cancellation, access
// denied, missing buckets and every other error are permanent.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var t interface{ Transient() bool }
	return errors.As(err, &t) && t.Transient()
}
