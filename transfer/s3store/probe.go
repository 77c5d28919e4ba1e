package s3store

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/xfer-dev/xfer/transfer"
)

// The probes below are for diagnosis ('xfer doctor'): read-only requests
// that tell apart what can be wrong between xfer and a bucket. None of
// them writes anything, and none of them returns a secret.

// CheckEndpoint applies New's rule to an endpoint URL: http or https, and
// plain http only to a loopback host unless allowHTTP.
func CheckEndpoint(endpoint string, allowHTTP bool) error {
	return checkEndpoint(endpoint, allowHTTP)
}

// IsLoopback reports whether host (a name or an address, without port)
// is this machine, which plain http may reach without AllowHTTP.
func IsLoopback(host string) bool { return isLoopback(host) }

// Endpoint is the endpoint the store was given; empty means AWS.
func (s *Store) Endpoint() string { return s.opts.Endpoint }

// CustomCA reports whether the store trusts extra CA certificates
// (Options.CAPEM) besides the system's.
func (s *Store) CustomCA() bool { return len(s.opts.CAPEM) > 0 }

// Region is the region requests are signed for, as resolved by New.
func (s *Store) Region() string { return s.client.Options().Region }

// ProbeStage says how far a connection got before it failed.
type ProbeStage string

const (
	StageConnect ProbeStage = "connect" // no TCP connection: refused, unreachable, unknown host, timeout
	StageTLS     ProbeStage = "tls"     // connected, but the TLS handshake failed (a certificate not trusted, not TLS at all)
	StageHTTP    ProbeStage = "http"    // connected (and TLS done), but no HTTP answer came
)

// ErrHTTPSOnly is wrapped by the ProbeError of a plain http probe that
// reached a server speaking only https (its answer is Go's canned 400,
// "Client sent an HTTP request to an HTTPS server").
var ErrHTTPSOnly = errors.New("the server speaks only https")

// ProbeError is a failed ProbeEndpoint.
type ProbeError struct {
	Stage ProbeStage
	URL   string // the URL probed
	Addr  string // host:port
	Err   error
}

func (e *ProbeError) Error() string {
	switch e.Stage {
	case StageConnect:
		return fmt.Sprintf("nothing answers at %s: %v", e.Addr, e.Err)
	case StageTLS:
		return fmt.Sprintf("TLS with %s failed: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("%s accepts connections but gives no HTTP answer: %v", e.Addr, e.Err)
}

func (e *ProbeError) Unwrap() error { return e.Err }

// EndpointProbe is what ProbeEndpoint found out.
type EndpointProbe struct {
	URL    string // the URL probed: the endpoint, or AWS's for the region
	Addr   string // host:port
	Status int    // the HTTP status of the (unauthenticated) answer
	// TLS describes the verified connection; nil over plain http.
	TLS *TLSInfo
	// ServerTime is the server's Date header (zero when it sent none);
	// LocalTime is this machine's clock half way through the request.
	ServerTime, LocalTime time.Time
	RoundTrip             time.Duration
}

// TLSInfo describes a verified TLS connection.
type TLSInfo struct {
	Version  string    // "TLS 1.3"
	Subject  string    // the server certificate's subject
	Issuer   string    // its issuer
	NotAfter time.Time // its expiry
	// CustomCA is true when the store trusts extra CA certificates
	// (Options.CAPEM) besides the system's.
	CustomCA bool
}

// ProbeEndpoint sends one unauthenticated GET request to the endpoint's
// root (no credentials, nothing the server could act on) over the same
// HTTP client, and so the same trusted CAs, as every other request. It
// tells whether the server answers, whether its certificate verifies, and
// what its clock says. Any HTTP status counts as an answer. The failure is
// a *ProbeError naming the stage that failed.
func (s *Store) ProbeEndpoint(ctx context.Context) (*EndpointProbe, error) {
	raw := s.opts.Endpoint
	if raw == "" {
		raw = "https://s3.amazonaws.com"
		if r := s.Region(); r != "" {
			raw = "https://s3." + r + ".amazonaws.com"
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", raw, err)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	p := &EndpointProbe{URL: u.Scheme + "://" + u.Host + "/", Addr: addr}
	// Atomic: the transport may still call these from its dial goroutine
	// after Do has returned (a timeout).
	var connected, handshook atomic.Bool
	trace := &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				connected.Store(true)
			}
		},
		TLSHandshakeStart: func() { connected.Store(true) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				handshook.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, p.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", raw, err)
	}
	start := time.Now()
	resp, err := s.client.Options().HTTPClient.Do(req)
	p.RoundTrip = time.Since(start)
	if err != nil {
		perr := &ProbeError{URL: p.URL, Addr: addr, Err: unwrapURLError(err)}
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Err != nil {
			perr.Err = opErr.Err // "connect: connection refused", without the address again
		}
		var dnsErr *net.DNSError
		var recErr tls.RecordHeaderError
		switch {
		case errors.As(err, &dnsErr) || !connected.Load():
			perr.Stage = StageConnect
		case isCertError(err) || errors.As(err, &recErr) || (u.Scheme == "https" && !handshook.Load()):
			perr.Stage = StageTLS
		default:
			perr.Stage = StageHTTP
		}
		if perr.Stage == StageConnect && ctx.Err() != nil {
			perr.Err = fmt.Errorf("no connection within %s", p.RoundTrip.Round(time.Second))
		}
		return nil, perr
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if u.Scheme == "http" && resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("HTTP request to an HTTPS server")) {
		return nil, &ProbeError{Stage: StageTLS, URL: p.URL, Addr: addr, Err: ErrHTTPSOnly}
	}
	p.Status = resp.StatusCode
	p.LocalTime = start.Add(p.RoundTrip / 2)
	if d := resp.Header.Get("Date"); d != "" {
		if t, err := http.ParseTime(d); err == nil {
			p.ServerTime = t
		}
	}
	if cs := resp.TLS; cs != nil {
		info := &TLSInfo{Version: tls.VersionName(cs.Version), CustomCA: len(s.opts.CAPEM) > 0}
		if len(cs.PeerCertificates) > 0 {
			leaf := cs.PeerCertificates[0]
			info.Subject, info.Issuer, info.NotAfter = leaf.Subject.String(), leaf.Issuer.String(), leaf.NotAfter
		}
		p.TLS = info
	}
	return p, nil
}

// unwrapURLError drops net/http's "Head \"URL\": " wrapping, which the
// ProbeError says better.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// CredentialInfo describes the credentials the store signs with, without
// the secret.
type CredentialInfo struct {
	// Source is the provider that found them, as the SDK names it
	// ("EnvConfigCredentials", "SharedConfigCredentials: ~/.aws/credentials",
	// "SSOProvider", "EC2RoleProvider", …).
	Source string
	// KeyIDSuffix is the access key ID's last four characters.
	KeyIDSuffix string
	// Session is true for temporary credentials (with a session token);
	// Expires is then when they run out, if known.
	Session bool
	Expires time.Time
}

// Credentials resolves the credentials from the standard chain
// (environment, shared profile, SSO, web identity, instance role), or the
// static ones in Options, without sending any request to the bucket.
func (s *Store) Credentials(ctx context.Context) (CredentialInfo, error) {
	prov := s.client.Options().Credentials
	if prov == nil {
		return CredentialInfo{}, errors.New("no credential provider")
	}
	c, err := prov.Retrieve(ctx)
	if err != nil {
		return CredentialInfo{}, fmt.Errorf("no credentials: %w", err)
	}
	if c.AccessKeyID == "" {
		return CredentialInfo{}, errors.New("no credentials: the access key ID is empty")
	}
	info := CredentialInfo{Source: c.Source, Session: c.SessionToken != ""}
	if id := c.AccessKeyID; len(id) > 4 {
		info.KeyIDSuffix = id[len(id)-4:]
	}
	if c.CanExpire {
		info.Expires = c.Expires
	}
	return info, nil
}

// CheckCredentials sends one signed request that needs no bucket (a
// ListBuckets of at most one bucket) to learn whether the server accepts
// the credentials. A refusal keeps the server's code in the
// *transfer.StoreError (InvalidAccessKeyId, SignatureDoesNotMatch,
// ExpiredToken, RequestTimeTooSkewed, …); AccessDenied means the server
// knows the credentials but does not let them list buckets, which xfer
// does not need.
func (s *Store) CheckCredentials(ctx context.Context) error {
	_, err := s.client.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
	return s.wrap(ctx, "ListBuckets", "", err)
}

// HeadBucket checks that the bucket exists and the credentials may use it:
// transfer.ErrNoSuchBucket or transfer.ErrAccessDenied otherwise.
func (s *Store) HeadBucket(ctx context.Context) error { return s.headBucket(ctx) }

// CheckList lists at most one object under prefix: whether the
// credentials may list it.
func (s *Store) CheckList(ctx context.Context, prefix string) error {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, MaxKeys: aws.Int32(1)}
	if prefix != "" {
		in.Prefix = &prefix
	}
	_, err := s.client.ListObjectsV2(ctx, in)
	return s.wrap(ctx, "ListObjectsV2", "", err)
}

// ErrNotImplemented is wrapped by the error of a probe the server does not
// implement (S3-compatible servers implement only part of the API).
var ErrNotImplemented = errors.New("not implemented by this server")

// Versioning returns the bucket's versioning status: "Enabled",
// "Suspended", or "" for a bucket that never had versioning.
func (s *Store) Versioning(ctx context.Context) (string, error) {
	out, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &s.bucket})
	if err != nil {
		return "", s.wrapProbe(ctx, "GetBucketVersioning", err)
	}
	return string(out.Status), nil
}

// BucketEncryption is a bucket's default encryption at rest.
type BucketEncryption struct {
	Algorithm string // "AES256", "aws:kms", …; empty: none configured
	KMSKeyID  string
}

// DefaultEncryption returns the bucket's default server-side encryption;
// the zero value when none is configured.
func (s *Store) DefaultEncryption(ctx context.Context) (BucketEncryption, error) {
	out, err := s.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &s.bucket})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ServerSideEncryptionConfigurationNotFoundError" {
			return BucketEncryption{}, nil
		}
		return BucketEncryption{}, s.wrapProbe(ctx, "GetBucketEncryption", err)
	}
	var be BucketEncryption
	if c := out.ServerSideEncryptionConfiguration; c != nil {
		for _, r := range c.Rules {
			if d := r.ApplyServerSideEncryptionByDefault; d != nil {
				be.Algorithm, be.KMSKeyID = string(d.SSEAlgorithm), aws.ToString(d.KMSMasterKeyID)
				break
			}
		}
	}
	return be, nil
}

// wrapProbe is wrap, with ErrNotImplemented for the answers of servers
// that lack the request.
func (s *Store) wrapProbe(ctx context.Context, op string, err error) error {
	var ae smithy.APIError
	notImpl := httpStatus(err) == http.StatusNotImplemented ||
		(errors.As(err, &ae) && (ae.ErrorCode() == "NotImplemented" || strings.Contains(ae.ErrorCode(), "NotSupported")))
	err = s.wrap(ctx, op, "", err)
	var se *transfer.StoreError
	if notImpl && errors.As(err, &se) {
		se.Err = fmt.Errorf("%w (%v)", ErrNotImplemented, se.Err)
	}
	return err
}
