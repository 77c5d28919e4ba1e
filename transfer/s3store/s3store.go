// Package s3store implements transfer.Store on Amazon S3 and S3-compatible
// servers (MinIO, versitygw). It is the only package of xfer that imports the
// AWS SDK; nothing of the SDK leaks through its API.
//
// Requests go through the SDK's standard retryer, with exponential backoff,
// for transient failures (network errors, throttling, 5xx). Authentication
// and authorisation failures, missing buckets and keys are never retried.
// Errors come back as *transfer.StoreError carrying one of transfer's Err
// categories.
package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/transfer"
)

// SSEMode selects server-side encryption. It is in addition to xfer's own
// encryption, never instead: the server only ever sees ciphertext.
type SSEMode string

const (
	SSENone SSEMode = ""
	SSES3   SSEMode = "AES256"  // keys managed by the server (SSE-S3)
	SSEKMS  SSEMode = "aws:kms" // keys in the server's KMS (SSE-KMS); Options.KMSKeyID names one
	SSEC    SSEMode = "SSE-C"   // a key the client supplies with every request (SSE-C)
)

// Options configure a Store. Only Bucket is required.
type Options struct {
	Bucket string
	// Endpoint is the server's base URL ("https://minio.example:9000");
	// empty means AWS. Plain http:// is refused unless the host is a
	// loopback address or AllowHTTP is set.
	Endpoint  string
	AllowHTTP bool
	// PathStyle addresses the bucket in the path (https://host/bucket/key)
	// instead of the host name: what most S3-compatible servers need.
	PathStyle bool
	// Region defaults to the standard chain (AWS_REGION, the profile), and
	// to us-east-1 for a custom Endpoint when that finds none.
	Region string

	// Profile selects a shared-config profile (AWS_PROFILE otherwise).
	Profile string
	// AccessKeyID and SecretAccessKey, when set, replace the standard
	// credential chain (environment, profile, SSO, web identity, instance
	// role), which is used otherwise.
	AccessKeyID, SecretAccessKey, SessionToken string

	// CAPEM holds extra PEM certificates to trust, in addition to the
	// system's and AWS_CA_BUNDLE: for a server with a private CA.
	CAPEM []byte

	// SSE is the server-side encryption of new objects. KMSKeyID goes
	// with SSEKMS (empty: the server's default key); CustomerKey, exactly
	// 32 bytes, with SSEC, and is then sent with every request that
	// writes or reads object data, as S3 requires.
	SSE         SSEMode
	KMSKeyID    string
	CustomerKey []byte

	// MaxAttempts bounds the tries of one request, the first included
	// (default 5). Backoff between them is exponential with jitter, capped
	// by MaxBackoff (default 20s).
	MaxAttempts int
	MaxBackoff  time.Duration

	// StallTimeout fails a request whose connection moves no byte, either
	// way, for this long: a server that accepts a request and never
	// answers, stops reading a part, or stops half way through a
	// response. The request is then retried like any network failure. A
	// slow transfer that keeps moving is never cut. Zero means
	// DefaultStallTimeout, negative turns the detection off.
	StallTimeout time.Duration

	// OnAttempt, when set, is called after every HTTP attempt with the
	// operation's name and the attempt's error: for logging and tests.
	OnAttempt func(op string, err error)

	// Trace, when set, gets a line for every HTTP request and response
	// (see addTrace): for --debug. It never sees headers or bodies.
	Trace func(line string)
}

// Store is a transfer.Store on one S3 bucket.
type Store struct {
	client *s3.Client
	bucket string
	opts   Options
	// ssec holds the SSE-C headers, nil unless SSE is SSEC.
	ssec *ssecKey
	// deleteBatch, when positive, is DeleteVersions' batch size, smaller
	// than S3's for tests.
	deleteBatch int
	// creds is what the credential chain last gave: whether they are
	// temporary, and until when. An access denied is explained with it.
	creds credsSeen
}

// credsSeen records the kind of the credentials in use, never the
// credentials themselves.
type credsSeen struct {
	mu        sync.Mutex
	temporary bool // a session token came with them
	expires   time.Time
}

func (c *credsSeen) set(cr aws.Credentials) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.temporary = cr.SessionToken != ""
	c.expires = time.Time{}
	if cr.CanExpire {
		c.expires = cr.Expires
	}
}

func (c *credsSeen) get() (temporary bool, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.temporary, c.expires
}

var _ transfer.Store = (*Store)(nil)

type ssecKey struct{ alg, key, keyMD5 *string }

// New checks opts, loads the AWS configuration (credentials are resolved
// lazily, at the first request) and returns a Store.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		return nil, errors.New("no bucket given")
	}
	if opts.Endpoint != "" {
		if err := checkEndpoint(opts.Endpoint, opts.AllowHTTP); err != nil {
			return nil, err
		}
	}
	s := &Store{bucket: opts.Bucket, opts: opts}
	switch opts.SSE {
	case SSENone, SSES3, SSEKMS:
	case SSEC:
		if len(opts.CustomerKey) != 32 {
			return nil, fmt.Errorf("an SSE-C key must be 32 bytes, not %d", len(opts.CustomerKey))
		}
		sum := md5.Sum(opts.CustomerKey)
		s.ssec = &ssecKey{
			alg:    aws.String("AES256"),
			key:    aws.String(base64.StdEncoding.EncodeToString(opts.CustomerKey)),
			keyMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		}
	default:
		return nil, fmt.Errorf("unknown server-side encryption %q", opts.SSE)
	}

	// The SDK must get a BuildableClient: with AWS_CA_BUNDLE set, config
	// loading adds the bundle through it and fails on any other client.
	httpClient := awshttp.NewBuildableClient()
	if len(opts.CAPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(opts.CAPEM) {
			return nil, errors.New("no certificate found in the CA PEM")
		}
		// Runs before the AWS_CA_BUNDLE option, which then adds to this pool.
		httpClient = httpClient.WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			tr.TLSClientConfig.RootCAs = pool
		})
	}

	maxAttempts := opts.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	maxBackoff := opts.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 20 * time.Second
	}
	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithLogger(logging.Nop{}),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
				// A CLI run is one client: no shared retry budget to protect,
				// and a quota error would hide the real one.
				o.RateLimiter = ratelimit.None
				o.Retryables = append([]retry.IsErrorRetryable{neverRetry{}}, o.Retryables...)
			})
		}),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" && opts.Endpoint != "" {
		cfg.Region = "us-east-1"
	}
	if err := checkRegion(cfg.Region); err != nil {
		return nil, err
	}
	if cfg.Credentials != nil {
		cfg.Credentials = markCredentialErrors{cfg.Credentials, &s.creds}
	}
	stall := opts.StallTimeout
	if stall == 0 {
		stall = DefaultStallTimeout
	}
	s.client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Here, after the SDK has set up its client: its own dialer
		// options would otherwise replace the dialer detectStalls wraps.
		if b, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = b.WithTransportOptions(func(tr *http.Transport) { detectStalls(tr, stall) })
		}
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
		if opts.OnAttempt != nil {
			o.APIOptions = append(o.APIOptions, addAttemptHook(opts.OnAttempt))
		}
		if opts.Trace != nil {
			o.APIOptions = append(o.APIOptions, addTrace(opts.Trace))
		}
	})
	return s, nil
}

// checkEndpoint refuses URLs that are not http(s), and plain http to
// anything but loopback unless allowed.
func checkEndpoint(endpoint string, allowHTTP bool) error {
	if !strings.Contains(endpoint, "://") {
		// "minio.example:9000" parses as a URL of scheme "minio.example",
		// "127.0.0.1:9000" not at all: either way the scheme is missing.
		return fmt.Errorf("the endpoint %q is not a URL: write it with its scheme, like https://%s", endpoint, endpoint)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the endpoint %q is not a URL like https://host:port", endpoint)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if allowHTTP || isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("the endpoint %s is plain http and not on this machine: refusing to send credentials unencrypted (allow it explicitly to go ahead)", endpoint)
	default:
		return fmt.Errorf("the endpoint %q: its scheme must be https or http", endpoint)
	}
}

// regionName is what S3 region names look like (us-east-1, eu-central-1,
// and the names S3-compatible servers choose).
var regionName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?$`)

// checkRegion refuses a region the SDK would only reject at the first
// request, deep inside endpoint resolution ("endpoint rule error").
func checkRegion(region string) error {
	if region == "" || regionName.MatchString(region) {
		return nil
	}
	return fmt.Errorf("the region %q is not a region name like eu-central-1", region)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Bucket implements transfer.Store.
func (s *Store) Bucket() string { return s.bucket }

func (s *Store) sseCreate() (types.ServerSideEncryption, *string) {
	switch s.opts.SSE {
	case SSES3:
		return types.ServerSideEncryptionAes256, nil
	case SSEKMS:
		var id *string
		if s.opts.KMSKeyID != "" {
			id = aws.String(s.opts.KMSKeyID)
		}
		return types.ServerSideEncryptionAwsKms, id
	}
	return "", nil
}

func (s *Store) ssecFields() (alg, key, keyMD5 *string) {
	if s.ssec == nil {
		return nil, nil, nil
	}
	return s.ssec.alg, s.ssec.key, s.ssec.keyMD5
}

// CreateUpload implements transfer.Store.
func (s *Store) CreateUpload(ctx context.Context, key string, opts transfer.CreateOptions) (string, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:            &s.bucket,
		Key:               &key,
		Metadata:          opts.Metadata,
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	in.ServerSideEncryption, in.SSEKMSKeyId = s.sseCreate()
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssecFields()
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", s.wrap(ctx, "CreateMultipartUpload", key, err)
	}
	if out.UploadId == nil || *out.UploadId == "" {
		return "", &transfer.StoreError{Op: "CreateMultipartUpload", Bucket: s.bucket, Key: key, Err: errors.New("server returned no upload ID")}
	}
	return *out.UploadId, nil
}

// UploadPart implements transfer.Store.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, body io.ReadSeeker, size int64, checksum string) (transfer.Part, error) {
	if n < 1 || n > transfer.MaxParts {
		return transfer.Part{}, fmt.Errorf("part number %d out of range", n)
	}
	window, err := newWindow(body, size)
	if err != nil {
		return transfer.Part{}, err
	}
	in := &s3.UploadPartInput{
		Bucket:            &s.bucket,
		Key:               &key,
		UploadId:          &uploadID,
		PartNumber:        aws.Int32(int32(n)),
		Body:              window,
		ContentLength:     aws.Int64(size),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(checksum),
	}
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssecFields()
	var optFns []func(*s3.Options)
	if sum, err := base64.StdEncoding.DecodeString(checksum); err == nil && len(sum) == sha256.Size {
		optFns = append(optFns, s3.WithAPIOptions(signWithPayloadHash(hex.EncodeToString(sum))))
	}
	out, err := s.client.UploadPart(ctx, in, optFns...)
	if err != nil {
		return transfer.Part{}, s.wrap(ctx, "UploadPart", key, err)
	}
	p := transfer.Part{Number: n, Size: size, ETag: aws.ToString(out.ETag), Checksum: checksum}
	if got := aws.ToString(out.ChecksumSHA256); got != "" && got != checksum {
		return p, &transfer.StoreError{Op: "UploadPart", Bucket: s.bucket, Key: key, Kind: transfer.ErrChecksumMismatch,
			Err: fmt.Errorf("part %d: server stored SHA-256 %s, sent %s", n, got, checksum)}
	}
	return p, nil
}

// ListParts implements transfer.Store.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]transfer.Part, error) {
	var parts []transfer.Part
	in := &s3.ListPartsInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID}
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssecFields()
	for {
		out, err := s.client.ListParts(ctx, in)
		if err != nil {
			return nil, s.wrap(ctx, "ListParts", key, err)
		}
		for _, p := range out.Parts {
			parts = append(parts, transfer.Part{
				Number:   int(aws.ToInt32(p.PartNumber)),
				Size:     aws.ToInt64(p.Size),
				ETag:     aws.ToString(p.ETag),
				Checksum: aws.ToString(p.ChecksumSHA256),
			})
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextPartNumberMarker) == "" {
			break
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
	slices.SortFunc(parts, func(a, b transfer.Part) int { return a.Number - b.Number })
	return parts, nil
}

// CompleteUpload implements transfer.Store.
func (s *Store) CompleteUpload(ctx context.Context, key, uploadID string, parts []transfer.Part, opts transfer.CompleteOptions) (transfer.ObjectInfo, error) {
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
		if p.Checksum != "" {
			completed[i].ChecksumSHA256 = aws.String(p.Checksum)
		}
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             &key,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	}
	if !opts.Overwrite {
		in.IfNoneMatch = aws.String("*")
	}
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssecFields()
	out, err := s.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return transfer.ObjectInfo{}, s.wrap(ctx, "CompleteMultipartUpload", key, err)
	}
	return transfer.ObjectInfo{Key: key, ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId)}, nil
}

// AbortUpload implements transfer.Store.
func (s *Store) AbortUpload(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	err = s.wrap(ctx, "AbortMultipartUpload", key, err)
	if errors.Is(err, transfer.ErrNoSuchUpload) {
		return nil
	}
	return err
}

// ListUploads implements transfer.Store. The prefix is sent to the server
// and applied again here, since servers differ in how they apply it.
//
// MinIO matches the prefix of an upload listing only as a whole key, but
// lists every upload of the bucket for an empty one. So on MinIO (by its
// Server header), unless the listing by prefix already found a longer key,
// the whole bucket's uploads are listed too and those under prefix kept:
// callers see S3's behaviour on every server. (Credentials that may list
// by prefix may list the whole bucket too: MinIO, like AWS, has no
// condition key that limits s3:ListBucketMultipartUploads to a prefix. Were
// the second listing denied anyway, it is left at what the first found.)
func (s *Store) ListUploads(ctx context.Context, prefix string, fn func(transfer.UploadInfo) error) error {
	var found []transfer.UploadInfo
	matchesPrefix := false
	wholeKeysOnly, err := s.listUploads(ctx, prefix, func(u transfer.UploadInfo) error {
		if u.Key != prefix {
			matchesPrefix = true
		}
		found = append(found, u)
		return nil
	})
	if err != nil {
		return err
	}
	if prefix != "" && wholeKeysOnly && !matchesPrefix {
		seen := make(map[string]bool, len(found))
		for _, u := range found {
			seen[u.UploadID] = true
		}
		_, err := s.listUploads(ctx, "", func(u transfer.UploadInfo) error {
			if strings.HasPrefix(u.Key, prefix) && !seen[u.UploadID] {
				seen[u.UploadID] = true
				found = append(found, u)
			}
			return nil
		})
		if err != nil && !errors.Is(err, transfer.ErrAccessDenied) {
			return err
		}
		slices.SortStableFunc(found, func(a, b transfer.UploadInfo) int { return strings.Compare(a.Key, b.Key) })
	}
	for _, u := range found {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// listUploads is one listing of the uploads by prefix, as the server
// matches it. wholeKeysOnly reports a server that matches the prefix only
// as a whole key (MinIO).
func (s *Store) listUploads(ctx context.Context, prefix string, fn func(transfer.UploadInfo) error) (wholeKeysOnly bool, err error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, EncodingType: types.EncodingTypeUrl}
	if prefix != "" {
		in.Prefix = &prefix
	}
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return wholeKeysOnly, s.wrap(ctx, "ListMultipartUploads", "", err)
		}
		dec := keyDecoder(out.EncodingType)
		if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
			wholeKeysOnly = wholeKeysOnly || strings.HasPrefix(strings.ToLower(raw.Header.Get("Server")), "minio")
		}
		for _, u := range out.Uploads {
			k, err := dec(u.Key)
			if err != nil {
				return wholeKeysOnly, s.wrap(ctx, "ListMultipartUploads", "", err)
			}
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			if err := fn(transfer.UploadInfo{Key: k, UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)}); err != nil {
				return wholeKeysOnly, err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return wholeKeysOnly, nil
		}
		if aws.ToString(out.NextKeyMarker) == "" && aws.ToString(out.NextUploadIdMarker) == "" {
			return wholeKeysOnly, nil
		}
		var decErr error
		marker := decoded(out.NextKeyMarker, func(k *string) string {
			d, err := dec(k)
			decErr = err
			return d
		})
		if decErr != nil {
			return wholeKeysOnly, s.wrap(ctx, "ListMultipartUploads", "", decErr)
		}
		in.KeyMarker, in.UploadIdMarker = marker, out.NextUploadIdMarker
	}
}

// Get implements transfer.Store.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("negative offset %d", offset)
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	switch {
	case length == 0:
		// No range can say "nothing"; check the key exists and return empty.
		if _, err := s.Head(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssecFields()
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, s.wrap(ctx, "GetObject", key, err)
	}
	if in.Range != nil && !strings.HasPrefix(aws.ToString(out.ContentRange), fmt.Sprintf("bytes %d-", offset)) {
		// A server that ignores Range sends the whole object: never
		// hand that out as the range.
		out.Body.Close()
		return nil, &transfer.StoreError{Op: "GetObject", Bucket: s.bucket, Key: key,
			Err: fmt.Errorf("asked for bytes from %d, server sent range %q", offset, aws.ToString(out.ContentRange))}
	}
	n := aws.ToInt64(out.ContentLength)
	if out.ContentLength == nil || n < 0 {
		return out.Body, nil
	}
	if length > 0 && n > length {
		out.Body.Close()
		return nil, &transfer.StoreError{Op: "GetObject", Bucket: s.bucket, Key: key,
			Err: fmt.Errorf("asked for %d bytes at %d, server sent %d", length, offset, n)}
	}
	return &exactReader{rc: out.Body, left: n, etag: aws.ToString(out.ETag)}, nil
}

// exactReader turns a body shorter than its Content-Length into
// io.ErrUnexpectedEOF rather than a clean end.
type exactReader struct {
	rc   io.ReadCloser
	left int64
	etag string // the reply's, "" when it had none
}

// ETag implements transfer.Tagged where the reply named its version.
func (r *exactReader) ETag() string { return r.etag }

func (r *exactReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	r.left -= int64(n)
	if err == io.EOF {
		if r.left > 0 {
			return n, io.ErrUnexpectedEOF
		}
		return n, io.EOF
	}
	return n, err
}

func (r *exactReader) Close() error { return r.rc.Close() }

// Head implements transfer.Store. A HEAD reply has no body, so a 404 cannot
// say whether the key or the bucket is missing: Head asks the bucket then.
func (s *Store) Head(ctx context.Context, key string) (transfer.ObjectInfo, error) {
	out, err := s.headObject(ctx, key, 0)
	if err != nil {
		return transfer.ObjectInfo{}, err
	}
	return transfer.ObjectInfo{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		VersionID:    aws.ToString(out.VersionId),
		Metadata:     out.Metadata,
		Checksum:     aws.ToString(out.ChecksumSHA256),
	}, nil
}

// HeadPart implements transfer.Store: a HEAD with partNumber, which S3,
// MinIO and versitygw answer with the part's length and the part count
// (none for an object stored in one piece).
func (s *Store) HeadPart(ctx context.Context, key string, n int) (transfer.PartInfo, error) {
	if n < 1 || n > transfer.MaxParts {
		return transfer.PartInfo{}, fmt.Errorf("part number %d out of range", n)
	}
	out, err := s.headObject(ctx, key, n)
	if err != nil {
		return transfer.PartInfo{}, err
	}
	parts := int(aws.ToInt32(out.PartsCount))
	if parts == 0 {
		parts = 1
	}
	return transfer.PartInfo{Number: n, Size: aws.ToInt64(out.ContentLength), Parts: parts, ETag: aws.ToString(out.ETag)}, nil
}

// headObject sends a HEAD, of part n when n > 0, asking for checksums.
func (s *Store) headObject(ctx context.Context, key string, n int) (*s3.HeadObjectOutput, error) {
	in := &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled}
	if n > 0 {
		in.PartNumber = aws.Int32(int32(n))
	}
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssecFields()
	out, err := s.client.HeadObject(ctx, in)
	if err != nil {
		err = s.wrap(ctx, "HeadObject", key, err)
		if errors.Is(err, transfer.ErrNotFound) {
			if berr := s.headBucket(ctx); berr != nil && errors.Is(berr, transfer.ErrNoSuchBucket) {
				return nil, berr
			}
		}
		return nil, err
	}
	return out, nil
}

func (s *Store) headBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	err = s.wrap(ctx, "HeadBucket", "", err)
	var se *transfer.StoreError
	if errors.As(err, &se) && errors.Is(err, transfer.ErrNotFound) {
		se.Kind = transfer.ErrNoSuchBucket
	}
	return err
}

// List implements transfer.Store.
func (s *Store) List(ctx context.Context, prefix string, fn func(transfer.ObjectInfo) error) error {
	return s.ListAfter(ctx, prefix, "", fn)
}

// ListAfter implements transfer.Store.
func (s *Store) ListAfter(ctx context.Context, prefix, startAfter string, fn func(transfer.ObjectInfo) error) error {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, EncodingType: types.EncodingTypeUrl}
	if prefix != "" {
		in.Prefix = &prefix
	}
	if startAfter != "" {
		in.StartAfter = &startAfter
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return s.wrap(ctx, "ListObjectsV2", "", err)
		}
		dec := keyDecoder(out.EncodingType)
		for _, o := range out.Contents {
			key, err := dec(o.Key)
			if err != nil {
				return s.wrap(ctx, "ListObjectsV2", "", err)
			}
			err = fn(transfer.ObjectInfo{
				Key:          key,
				Size:         aws.ToInt64(o.Size),
				ETag:         aws.ToString(o.ETag),
				LastModified: aws.ToTime(o.LastModified),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// ListVersions implements transfer.Store.
func (s *Store) ListVersions(ctx context.Context, prefix string, fn func(transfer.Version) error) error {
	in := &s3.ListObjectVersionsInput{Bucket: &s.bucket, EncodingType: types.EncodingTypeUrl}
	if prefix != "" {
		in.Prefix = &prefix
	}
	for {
		out, err := s.client.ListObjectVersions(ctx, in)
		if err != nil {
			return s.wrap(ctx, "ListObjectVersions", "", err)
		}
		dec := keyDecoder(out.EncodingType)
		var decErr error
		key := func(k *string) string {
			d, err := dec(k)
			if err != nil && decErr == nil {
				decErr = err
			}
			return d
		}
		// S3 lists versions and delete markers apart; merge them back.
		page := make([]transfer.Version, 0, len(out.Versions)+len(out.DeleteMarkers))
		for _, v := range out.Versions {
			page = append(page, transfer.Version{
				Key:          key(v.Key),
				VersionID:    aws.ToString(v.VersionId),
				IsLatest:     aws.ToBool(v.IsLatest),
				Size:         aws.ToInt64(v.Size),
				ETag:         aws.ToString(v.ETag),
				LastModified: aws.ToTime(v.LastModified),
			})
		}
		for _, d := range out.DeleteMarkers {
			page = append(page, transfer.Version{
				Key:          key(d.Key),
				VersionID:    aws.ToString(d.VersionId),
				IsLatest:     aws.ToBool(d.IsLatest),
				DeleteMarker: true,
				LastModified: aws.ToTime(d.LastModified),
			})
		}
		marker := decoded(out.NextKeyMarker, key)
		if decErr != nil {
			return s.wrap(ctx, "ListObjectVersions", "", decErr)
		}
		slices.SortStableFunc(page, compareVersions)
		for _, v := range page {
			if err := fn(v); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.VersionIdMarker = marker, out.NextVersionIdMarker
	}
}

// decoded is the decoded marker for the next request: nil when the server
// sent none.
func decoded(marker *string, dec func(*string) string) *string {
	if marker == nil {
		return nil
	}
	d := dec(marker)
	return &d
}

// keyDecoder returns how to read the keys of a listing. The listings ask
// for URL-encoded keys: XML 1.0 cannot carry most C0 control characters,
// so a key holding one (anyone who may write the bucket can make it) would
// otherwise make the whole listing unreadable. A server that ignores the
// request says so by not echoing the encoding type; its keys are as they
// are.
func keyDecoder(enc types.EncodingType) func(*string) (string, error) {
	if enc != types.EncodingTypeUrl {
		return func(k *string) (string, error) { return aws.ToString(k), nil }
	}
	return func(k *string) (string, error) {
		d, err := url.QueryUnescape(aws.ToString(k))
		if err != nil {
			return "", fmt.Errorf("undecodable key %q in a listing: %w", aws.ToString(k), err)
		}
		return d, nil
	}
}

// compareVersions orders by key, then the latest first, then newest first.
func compareVersions(a, b transfer.Version) int {
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	if a.IsLatest != b.IsLatest {
		if a.IsLatest {
			return -1
		}
		return 1
	}
	return b.LastModified.Compare(a.LastModified)
}

// DeleteVersion permanently removes one version or delete marker of key.
// An empty versionID deletes the unversioned object, or on a versioned
// bucket adds a delete marker. Deleting what does not exist is not an
// error. DeleteVersions falls back on it where a server has no batch
// delete; s3tool uses it to add delete markers.
func (s *Store) DeleteVersion(ctx context.Context, key, versionID string) error {
	in := &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	_, err := s.client.DeleteObject(ctx, in)
	err = s.wrap(ctx, "DeleteObject", key, err)
	if errors.Is(err, transfer.ErrNotFound) {
		return nil
	}
	return err
}

// DeleteVersions implements transfer.Store with DeleteObjects in quiet
// mode. Servers delete the items of one request one after the other, so
// the items are spread over up to deleteConcurrency requests at once (of
// at least minDeleteBatch items, at most DeleteBatchSize). Should the
// server not implement DeleteObjects, it deletes the items one by one
// instead.
func (s *Store) DeleteVersions(ctx context.Context, vs []transfer.ObjectVersion) []error {
	errs := make([]error, len(vs))
	batch := s.deleteBatch
	if batch <= 0 {
		batch = min(max((len(vs)+deleteConcurrency-1)/deleteConcurrency, minDeleteBatch), transfer.DeleteBatchSize)
	}
	var g errgroup.Group
	g.SetLimit(deleteConcurrency)
	for start := 0; start < len(vs); start += batch {
		end := min(start+batch, len(vs))
		g.Go(func() error {
			s.deleteBatchOf(ctx, vs[start:end], errs[start:end])
			return nil
		})
	}
	g.Wait()
	return errs
}

// deleteConcurrency is how many DeleteObjects requests DeleteVersions
// has in flight at once; minDeleteBatch the fewest items it sends in one
// when there are more.
const (
	deleteConcurrency = 16
	minDeleteBatch    = 100
)

// deleteBatchOf deletes vs with one DeleteObjects request and sets errs[i]
// to the failure of vs[i].
func (s *Store) deleteBatchOf(ctx context.Context, vs []transfer.ObjectVersion, errs []error) {
	ids := make([]types.ObjectIdentifier, len(vs))
	for i, v := range vs {
		ids[i] = types.ObjectIdentifier{Key: aws.String(v.Key)}
		if v.VersionID != "" {
			ids[i].VersionId = aws.String(v.VersionID)
		}
	}
	// The SDK adds a CRC32 checksum; S3's general purpose buckets, MinIO
	// before 2025 and other S3-compatible servers want a Content-MD5.
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: &s.bucket,
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	}, s3.WithAPIOptions(smithyhttp.AddContentChecksumMiddleware))
	if err != nil {
		if httpStatus(err) == http.StatusNotImplemented {
			for i, v := range vs {
				errs[i] = s.DeleteVersion(ctx, v.Key, v.VersionID)
			}
			return
		}
		err = s.wrap(ctx, "DeleteObjects", "", err)
		for i := range errs {
			errs[i] = err
		}
		return
	}
	// Quiet mode reports only the failures; match them to the items. The
	// unversioned object may be named "null" or not at all.
	item := func(key, id string) transfer.ObjectVersion {
		if id == "null" {
			id = ""
		}
		return transfer.ObjectVersion{Key: key, VersionID: id}
	}
	at := make(map[transfer.ObjectVersion][]int, len(vs))
	for i, v := range vs {
		at[item(v.Key, v.VersionID)] = append(at[item(v.Key, v.VersionID)], i)
	}
	for _, e := range out.Errors {
		key, id := aws.ToString(e.Key), aws.ToString(e.VersionId)
		code := aws.ToString(e.Code)
		kind := codeKind(code, aws.ToString(e.Message))
		if errors.Is(kind, transfer.ErrNotFound) {
			continue
		}
		for _, i := range at[item(key, id)] {
			errs[i] = &transfer.StoreError{Op: "DeleteObjects", Bucket: s.bucket, Key: key, Code: code, Kind: kind,
				Err: errors.New(codeMessage(code, aws.ToString(e.Message))), Temporary: kind == nil && transientCodes[code]}
		}
	}
}

// transientCodes are the error codes of a DeleteObjects item that may
// succeed when tried again.
var transientCodes = map[string]bool{"InternalError": true, "SlowDown": true, "ServiceUnavailable": true, "RequestTimeout": true}

// Put implements transfer.Store.
func (s *Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, opts transfer.PutOptions) (transfer.ObjectInfo, error) {
	window, err := newWindow(body, size)
	if err != nil {
		return transfer.ObjectInfo{}, err
	}
	checksum := opts.Checksum
	if checksum == "" {
		h := sha256.New()
		if _, err := io.Copy(h, window); err != nil {
			return transfer.ObjectInfo{}, fmt.Errorf("reading %s: %w", key, err)
		}
		if _, err := window.Seek(0, io.SeekStart); err != nil {
			return transfer.ObjectInfo{}, err
		}
		checksum = base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	in := &s3.PutObjectInput{
		Bucket:            &s.bucket,
		Key:               &key,
		Body:              window,
		ContentLength:     aws.Int64(size),
		Metadata:          opts.Metadata,
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(checksum),
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	switch {
	case opts.IfMatch != "":
		in.IfMatch = aws.String(quoteETag(opts.IfMatch))
	case !opts.Overwrite:
		in.IfNoneMatch = aws.String("*")
	}
	in.ServerSideEncryption, in.SSEKMSKeyId = s.sseCreate()
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = s.ssecFields()
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		werr := s.wrap(ctx, "PutObject", key, err)
		if opts.IfMatch != "" && ctx.Err() == nil {
			werr = lostCondition(werr, httpStatus(err))
		}
		return transfer.ObjectInfo{}, werr
	}
	return transfer.ObjectInfo{Key: key, Size: size, ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId)}, nil
}

// quoteETag puts an ETag in the quotes an If-Match header wants.
func quoteETag(etag string) string {
	if strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		return etag
	}
	return `"` + etag + `"`
}

// lostCondition gives the failures of an If-Match write that mean "the
// object is not the one named" the one category Put promises: S3 answers
// 404 when there is no object at all, and 409 ConditionalRequestConflict
// when a concurrent conditional write to the key got there first.
func lostCondition(err error, status int) error {
	var se *transfer.StoreError
	if !errors.As(err, &se) {
		return err
	}
	if errors.Is(se.Kind, transfer.ErrNotFound) && se.Code != "NoSuchBucket" || se.Code == "ConditionalRequestConflict" || status == http.StatusConflict {
		se.Kind, se.Temporary = transfer.ErrPreconditionFailed, false
	}
	return se
}

// Error codes by category. Codes from S3 and the S3-compatible servers xfer
// is tested with.
var codeKinds = map[string]error{
	"AccessDenied":                transfer.ErrAccessDenied,
	"AllAccessDisabled":           transfer.ErrAccessDenied,
	"InvalidAccessKeyId":          transfer.ErrAccessDenied,
	"SignatureDoesNotMatch":       transfer.ErrAccessDenied,
	"InvalidToken":                transfer.ErrAccessDenied,
	"ExpiredToken":                transfer.ErrAccessDenied,
	"TokenRefreshRequired":        transfer.ErrAccessDenied,
	"AccountProblem":              transfer.ErrAccessDenied,
	"Forbidden":                   transfer.ErrAccessDenied,
	"NoSuchBucket":                transfer.ErrNoSuchBucket,
	"NoSuchKey":                   transfer.ErrNotFound,
	"NoSuchVersion":               transfer.ErrNotFound,
	"NotFound":                    transfer.ErrNotFound,
	"NoSuchUpload":                transfer.ErrNoSuchUpload,
	"PreconditionFailed":          transfer.ErrPreconditionFailed,
	"BadDigest":                   transfer.ErrChecksumMismatch,
	"InvalidDigest":               transfer.ErrChecksumMismatch,
	"XAmzContentSHA256Mismatch":   transfer.ErrChecksumMismatch,
	"XAmzContentChecksumMismatch": transfer.ErrChecksumMismatch,
}

// codeKind is the category of a server's error code and message.
func codeKind(code, msg string) error {
	if code == "InvalidRequest" && strings.Contains(msg, "WORM") {
		// MinIO's answer to deleting a version under Object Lock; S3 and
		// versitygw say AccessDenied.
		return transfer.ErrAccessDenied
	}
	return codeKinds[code]
}

// neverRetry stops the retryer from retrying a failure whose category says
// trying again cannot help, whatever the other checks say about it.
type neverRetry struct{}

func (neverRetry) IsErrorRetryable(err error) aws.Ternary {
	if isCertError(err) {
		return aws.FalseTernary
	}
	if why, temporary := unreachable(err); why != "" && !temporary {
		return aws.FalseTernary // the endpoint's protocol is wrong
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if _, ok := codeKinds[ae.ErrorCode()]; ok {
			return aws.FalseTernary
		}
	}
	if ae == nil || ae.ErrorCode() == "" || ae.ErrorCode() == "Forbidden" || ae.ErrorCode() == "NotFound" {
		// A HEAD reply has no body, so no code: go by the status. Other
		// 403 codes (RequestTimeTooSkewed) are left to the retryer.
		switch httpStatus(err) {
		case http.StatusForbidden, http.StatusNotFound, http.StatusPreconditionFailed:
			return aws.FalseTernary
		}
	}
	return aws.UnknownTernary
}

// isCertError reports a server certificate that does not verify: a
// configuration problem (or an attack), never cured by trying again.
func isCertError(err error) bool {
	var (
		unknownCA *x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
	)
	return errors.As(err, &unknownCA) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify)
}

// retryable is the retryer's verdict on err.
var retryable = retry.IsErrorRetryables(append([]retry.IsErrorRetryable{neverRetry{}}, retry.DefaultRetryables...))

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wrap turns an SDK error into a *transfer.StoreError with its category.
func (s *Store) wrap(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	e := &transfer.StoreError{Op: op, Bucket: s.bucket, Key: key, Err: err}
	if ctx.Err() != nil {
		// Cancelled: say so plainly, whatever the SDK made of it.
		if !errors.Is(err, ctx.Err()) {
			e.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return e
	}
	var ce *credentialsError
	if errors.As(err, &ce) {
		// No request was sent: the credential chain found nothing usable.
		e.Kind, e.Err = transfer.ErrAccessDenied, ce
		return e
	}
	if why, temporary := unreachable(err); why != "" {
		e.Kind, e.Err, e.Temporary = transfer.ErrUnreachable, explained{why, err}, temporary
		return e
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
		e.Kind = codeKind(e.Code, ae.ErrorMessage())
		e.Err = errors.New(apiMessage(ae))
	}
	status := httpStatus(err)
	if status == http.StatusBadRequest && (e.Code == "" || e.Code == "BadRequest") && strings.HasPrefix(strings.ToLower(s.opts.Endpoint), "http://") {
		// A TLS server's answer to plain HTTP is a bare 400 ("Client sent
		// an HTTP request to an HTTPS server"), no S3 error document.
		e.Kind, e.Err = transfer.ErrUnreachable, explained{"the server answered 400 without an S3 error: it may speak https, and the endpoint says http://", err}
		return e
	}
	if e.Kind == nil {
		switch status {
		case http.StatusForbidden:
			e.Kind = transfer.ErrAccessDenied
		case http.StatusNotFound:
			e.Kind = transfer.ErrNotFound
		case http.StatusPreconditionFailed:
			e.Kind = transfer.ErrPreconditionFailed
		}
	}
	if errors.Is(e.Kind, transfer.ErrAccessDenied) {
		if why := s.expiredCredentials(e.Code); why != "" {
			e.Err = explained{e.Err.Error() + "; " + why, errors.Join(e.Err, transfer.ErrCredentialsExpired)}
		}
	}
	if e.Kind == nil && !isCertError(err) {
		var maxErr *retry.MaxAttemptsError
		e.Temporary = errors.As(err, &maxErr) || retryable.IsErrorRetryable(err).Bool() ||
			status >= 500 && status != http.StatusNotImplemented || // 501: the server lacks the feature
			status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
	}
	return e
}

// markCredentialErrors lets wrap tell a credential chain that found no
// usable credentials (no keys in the environment, no profile, no instance
// role) from a failed request: that is an authentication failure, exit 3,
// not a network error to retry.
// It also notes whether the credentials are temporary, for wrap's
// explanation of an access denied.
type markCredentialErrors struct {
	aws.CredentialsProvider
	seen *credsSeen
}

func (m markCredentialErrors) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.CredentialsProvider.Retrieve(ctx)
	if err != nil && ctx.Err() == nil {
		return c, &credentialsError{err}
	}
	if err == nil {
		m.seen.set(c)
	}
	return c, err
}

type credentialsError struct{ err error }

func (e *credentialsError) Error() string {
	msg := e.err.Error()
	// A credential_process helper's error can quote the helper's whole
	// output, keys included: never pass that on.
	if i := strings.Index(msg, "parse failed of process output"); i >= 0 {
		msg = msg[:i] + "credential_process printed something that is not valid credentials (its output is not shown)"
	}
	return "no usable AWS credentials (" + msg + ")"
}
func (e *credentialsError) Unwrap() error { return e.err }

// apiMessage renders an API error compactly: code, message, HTTP status.
func apiMessage(ae smithy.APIError) string {
	return codeMessage(ae.ErrorCode(), ae.ErrorMessage())
}

func codeMessage(code, msg string) string {
	if msg != "" && msg != code {
		return code + ": " + msg
	}
	return code
}

// explained is an error told in plain words, with the SDK's error kept
// underneath for errors.Is and errors.As.
type explained struct {
	why   string
	cause error
}

func (e explained) Error() string { return e.why }
func (e explained) Unwrap() error { return e.cause }

// unreachable explains a request that never reached an S3 server, and
// says whether trying again later may help; it returns "" for any other
// failure. A refused or timed-out connection may be a server that is
// restarting; a protocol mismatch is a mistake in the endpoint.
func unreachable(err error) (why string, temporary bool) {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Sprintf("the host name %s is not known (%s)", dns.Name, dns.Err), dns.IsTemporary
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return "the server answered in plain HTTP, but the endpoint says https://", false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		addr := ""
		if op.Addr != nil {
			addr = " " + op.Addr.String()
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Sprintf("nothing accepts connections at%s (connection refused)", addr), true
		}
		return fmt.Sprintf("cannot connect to%s (%v)", addr, op.Err), true
	}
	return "", false
}

// expiredCredentials explains an access denied that temporary credentials
// may have caused: "" when the credentials are long-term, or the server's
// code says something else.
func (s *Store) expiredCredentials(code string) string {
	temporary, expires := s.creds.get()
	switch {
	case code == "ExpiredToken" || code == "TokenRefreshRequired":
		return "the server says the session token has expired"
	case !expires.IsZero() && time.Now().After(expires):
		return "the temporary credentials expired at " + expires.UTC().Format(time.RFC3339)
	case temporary && (code == "InvalidToken" || code == "InvalidAccessKeyId" || code == "InvalidTokenId" || code == "Forbidden" || code == ""):
		return "these are temporary credentials (with a session token) and the server does not know them: they may have expired"
	}
	return ""
}
