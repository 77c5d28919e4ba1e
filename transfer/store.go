// Package transfer moves sealed files through the exchange bucket: the
// resumable multipart upload of a spool file, the resumable, checksum-verified
// download into one, and the narrow Store interface every bucket
// implementation satisfies.
//
// transfer only ever sees ciphertext. It never imports the AWS SDK (that is
// transfer/s3store's job), never prompts and never prints: progress goes
// through the Progress interface and failures come back as errors that carry
// their category (see the Err variables) for the CLI to turn into exit codes.
package transfer

import (
	"context"
	"io"
	"time"
)

// Store is the exchange bucket as transfer needs it: multipart uploads,
// reads, listings and deletes of one bucket. Keys are full object keys
// (prefix included); callers strip and add the prefix.
//
// Every method honours ctx and returns ctx.Err() (possibly wrapped) once it is
// cancelled. Failures are reported with the Err variables of this package,
// usually wrapped in a *StoreError, so callers test them with errors.Is:
//
//   - ErrAccessDenied: the credentials were refused, or lack a permission.
//   - ErrNoSuchBucket: the bucket does not exist (the message names it).
//   - ErrNotFound: the key (or version) does not exist.
//   - ErrNoSuchUpload: the upload ID is unknown: aborted, expired, or completed.
//   - ErrPreconditionFailed: a conditional write found the object already there.
//   - ErrChecksumMismatch: the server computed another checksum than the one sent.
//
// A Store may retry transient failures itself (s3store does, with backoff);
// an error that is still transient after that satisfies IsTransient, and
// retrying the whole operation later may succeed. Errors that are not
// transient are permanent: trying again will fail the same way.
//
// Implementations must be safe for concurrent use.
type Store interface {
	// Bucket names the bucket, for messages and the resume journal.
	Bucket() string

	// CreateUpload starts a multipart upload of key and returns its upload
	// ID. Parts must carry SHA-256 checksums (UploadPart). It is not
	// idempotent: every call starts a new upload, which must be completed or
	// aborted or it lingers (and is billed) until a lifecycle rule removes it.
	CreateUpload(ctx context.Context, key string, opts CreateOptions) (uploadID string, err error)

	// UploadPart stores part number n (1 to 10,000) of an upload. body holds
	// exactly size bytes from its current position; checksum is the
	// base64-encoded SHA-256 of those bytes, which the server verifies
	// (ErrChecksumMismatch otherwise). The store may read body more than once:
	// it seeks back to the start position before each attempt. Uploading the
	// same part number again replaces the part, so the call is idempotent.
	// All parts but the last must be at least MinPartSize long.
	UploadPart(ctx context.Context, key, uploadID string, n int, body io.ReadSeeker, size int64, checksum string) (Part, error)

	// ListParts returns the parts the server holds for an upload, in
	// ascending part number, with their ETags and (where the server keeps
	// them) checksums. ErrNoSuchUpload means the upload no longer exists.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)

	// CompleteUpload assembles parts (ascending part numbers, as returned by
	// UploadPart or ListParts) into the object. Unless opts.Overwrite is
	// set, it is conditional on the key not existing yet (If-None-Match: *)
	// and fails with ErrPreconditionFailed when it does; the upload then
	// stays open, for the caller to abort. Completing an upload that was
	// already completed (a retry whose first reply was lost) either
	// succeeds again without changing the object (S3, versitygw) or fails
	// with ErrNoSuchUpload (MinIO): callers check the object then.
	CompleteUpload(ctx context.Context, key, uploadID string, parts []Part, opts CompleteOptions) (ObjectInfo, error)

	// AbortUpload discards an upload and its parts. Aborting an upload that
	// no longer exists is not an error, so the call is idempotent.
	AbortUpload(ctx context.Context, key, uploadID string) error

	// ListUploads calls fn for every unfinished multipart upload whose key
	// starts with prefix, in key order, stopping at fn's first error, which
	// it returns. (Servers differ here, MinIO matching only whole keys:
	// the store makes up for it.)
	ListUploads(ctx context.Context, prefix string, fn func(UploadInfo) error) error

	// Get reads length bytes of key starting at offset; length < 0 reads to
	// the end. The caller must close the reader. ErrNotFound when the key
	// does not exist. The server's reply is checked against offset and
	// length: a short body is an io.ErrUnexpectedEOF from Read. Where the
	// reply names the version it comes from, the reader is also a Tagged.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)

	// Head returns the current version's size, ETag, modification time,
	// user metadata and, where the server keeps one, its SHA-256 checksum
	// (ObjectInfo.Checksum). ErrNotFound when the key does not exist (or
	// its current version is a delete marker).
	Head(ctx context.Context, key string) (ObjectInfo, error)

	// HeadPart returns the size of part n (from 1) of the current version
	// of key and the number of parts it was uploaded in, which is what it
	// takes to recompute a composite checksum. An object stored by one
	// request has one part, the whole object. ErrNotFound as for Head.
	HeadPart(ctx context.Context, key string, n int) (PartInfo, error)

	// List calls fn for every object whose key starts with prefix, in key
	// order, a page at a time, stopping at fn's first error, which it
	// returns. Metadata is not filled in (use Head).
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// ListAfter is List of the keys after startAfter only (S3's
	// StartAfter), so that the ranges of a large listing can be listed at
	// once; "" lists from the first key.
	ListAfter(ctx context.Context, prefix, startAfter string, fn func(ObjectInfo) error) error

	// ListVersions calls fn for every version and delete marker of the keys
	// starting with prefix, newest first within a key, stopping at fn's
	// first error, which it returns. On an unversioned bucket every object
	// is listed once, with VersionID "null" or empty.
	ListVersions(ctx context.Context, prefix string, fn func(Version) error) error

	// DeleteVersions permanently removes many versions and delete markers,
	// of any keys, in as few requests as the server allows (S3: up to
	// DeleteBatchSize a request). An empty VersionID deletes the
	// unversioned object, or on a versioned bucket adds a delete marker.
	// It returns one
	// error per item of vs, in the same order, nil where the item is gone:
	// deleting what does not exist is not an error, so the call is
	// idempotent. An item fails on its own (ErrAccessDenied for a version
	// Object Lock protects) without failing the others; a request that
	// fails as a whole gives its error to each of its items.
	DeleteVersions(ctx context.Context, vs []ObjectVersion) []error

	// Put stores a small object (receipts, claims, audit records) in one
	// request, replacing any existing one unless opts.Overwrite is false,
	// in which case ErrPreconditionFailed means the key exists
	// (If-None-Match: *). With opts.IfMatch it replaces the object only if
	// its current ETag is opts.IfMatch (If-Match), and fails with
	// ErrPreconditionFailed when the ETag is another or there is no object:
	// of several writers holding the same ETag, exactly one succeeds. body
	// is read from its current position, possibly more than once.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, opts PutOptions) (ObjectInfo, error)
}

// DeleteBatchSize is the most items S3 deletes in one request.
const DeleteBatchSize = 1000

// MinPartSize is the smallest size S3 accepts for every part but the last;
// MaxParts is the most parts an upload may have.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	MaxParts    = 10000
)

// CreateOptions are the settings of a new object.
type CreateOptions struct {
	// Metadata is stored as user metadata (x-amz-meta-*). Keys are
	// lower-case; values are ASCII. Never put anything from inside the
	// sealed file here: metadata is not encrypted.
	Metadata    map[string]string
	ContentType string
}

// CompleteOptions control CompleteUpload.
type CompleteOptions struct {
	// Overwrite allows replacing an existing object. Without it the
	// completion is conditional on the key being free.
	Overwrite bool
}

// PutOptions control Put.
type PutOptions struct {
	CreateOptions
	// Checksum is the base64 SHA-256 of the body; the store computes it
	// when empty.
	Checksum  string
	Overwrite bool
	// IfMatch, when set, makes the Put replace only the object whose
	// current ETag it is (quoted or not); it implies Overwrite.
	IfMatch string
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number   int    `json:"n"`
	Size     int64  `json:"size"`
	ETag     string `json:"etag"`
	Checksum string `json:"sha256,omitempty"` // base64 SHA-256, as S3 expresses it
}

// UploadInfo describes an unfinished multipart upload.
type UploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// ObjectInfo describes a stored object. Which fields are filled depends on
// the call; each method's doc says.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
	VersionID    string
	Metadata     map[string]string
	// Checksum is the SHA-256 the server keeps for the object, base64, as
	// S3 reports it: of the whole object for an object stored by one
	// request; for a multipart upload with part checksums, the composite
	// "<base64>-<N>", the SHA-256 of the N parts' SHA-256 digests in order
	// (see CompositeChecksum). Empty when the server keeps none.
	Checksum string
}

// Tagged is what the reader of a Get is too where the server's reply says
// which version its bytes are of: ETag is that version's ETag, as the
// server wrote it (possibly quoted). A download that finds every range's
// ETag equal to the one it began with knows that no range came from
// another version, without asking again at the end.
type Tagged interface {
	ETag() string
}

// PartInfo describes one part of a stored object (HeadPart).
type PartInfo struct {
	Number int
	Size   int64
	// Parts is the number of parts of the object; ETag is the object's.
	Parts int
	ETag  string
}

// Version is one entry of a versioned listing: an object version or a
// delete marker.
type Version struct {
	Key          string
	VersionID    string
	IsLatest     bool
	DeleteMarker bool
	Size         int64
	ETag         string
	LastModified time.Time
}

// ObjectVersion names one version or delete marker of a key, for
// DeleteVersions. An empty VersionID names the current object.
type ObjectVersion struct {
	Key       string
	VersionID string
}
