package s3store_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

var bucketSeq int

// freshStore is a store on a bucket that does not exist yet on srv.
func freshStore(t *testing.T, srv *s3test.Server) *s3store.Store {
	t.Helper()
	bucketSeq++
	o := options(srv)
	o.Bucket = fmt.Sprintf("xfer-init-%d-%s", bucketSeq, strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(o.Bucket) > 63 {
		o.Bucket = o.Bucket[:63]
	}
	o.Bucket = strings.TrimRight(o.Bucket, "-")
	return newStore(t, o)
}

func defaultSetup() s3store.BucketSetup {
	return s3store.BucketSetup{Create: true, AbortUploadsAfterDays: 7, NoncurrentExpiryDays: 30}
}

func byName(t *testing.T, rs []s3store.SettingResult) map[string]s3store.SettingResult {
	t.Helper()
	m := map[string]s3store.SettingResult{}
	for _, r := range rs {
		t.Logf("%-30s %-11s want=%q got=%q code=%q %s", r.Setting, r.Status, r.Want, r.Got, r.Code, r.Detail)
		m[r.Setting] = r
	}
	return m
}

// wantStatus requires each named setting to end with the given status.
func wantStatus(t *testing.T, m map[string]s3store.SettingResult, want map[string]s3store.SettingStatus) {
	t.Helper()
	for name, st := range want {
		r, ok := m[name]
		if !ok {
			t.Errorf("%s: not reported", name)
			continue
		}
		if r.Status != st {
			t.Errorf("%s: status %s (%s), want %s", name, r.Status, r.Detail, st)
		}
		if st == s3store.StatusRefused && r.Code == "" {
			t.Errorf("%s: refused without the store's error code", name)
		}
	}
}

func TestInitBucketMinIO(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{KMS: true})
	s := freshStore(t, srv)

	// Without Create a missing bucket stops the run.
	setup := defaultSetup()
	setup.Create = false
	if _, err := s.InitBucket(t.Context(), setup); !errors.Is(err, transfer.ErrNoSuchBucket) {
		t.Fatalf("InitBucket of a missing bucket without Create: %v, want ErrNoSuchBucket", err)
	}

	// A dry run writes nothing, not even the bucket.
	setup = defaultSetup()
	setup.DryRun = true
	rs, err := s.InitBucket(t.Context(), setup)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Status != s3store.StatusWouldApply && r.Status != s3store.StatusSkipped {
			t.Errorf("dry run: %s %s", r.Setting, r.Status)
		}
	}
	if err := s.HeadBucket(t.Context()); !errors.Is(err, transfer.ErrNoSuchBucket) {
		t.Fatalf("a dry run created the bucket: %v", err)
	}

	m := byName(t, must(s.InitBucket(t.Context(), defaultSetup())))
	wantStatus(t, m, map[string]s3store.SettingStatus{
		s3store.SettingBucket:           s3store.StatusCreated,
		s3store.SettingVersioning:       s3store.StatusApplied,
		s3store.SettingEncryption:       s3store.StatusApplied,
		s3store.SettingNoncurrentExpiry: s3store.StatusApplied,
		// Plain http: the TLS-only policy would lock xfer out.
		s3store.SettingTLSPolicy: s3store.StatusSkipped,
		// What this MinIO does not do is reported with its code, never as
		// done: it answers PutPublicAccessBlock with MalformedXML and an
		// AbortIncompleteMultipartUpload rule with InvalidArgument.
		s3store.SettingPublicAccessBlock: s3store.StatusRefused,
		s3store.SettingAbortUploads:      s3store.StatusRefused,
	})

	// Read back through the API, independently of InitBucket's own check.
	if v, err := s.Versioning(t.Context()); err != nil || v != "Enabled" {
		t.Errorf("versioning reads back %q, %v", v, err)
	}
	if e, err := s.DefaultEncryption(t.Context()); err != nil || e.Algorithm != "AES256" {
		t.Errorf("encryption reads back %+v, %v", e, err)
	}

	// A second run changes nothing: every setting is already so, and what
	// the store refused is refused again.
	m2 := byName(t, must(s.InitBucket(t.Context(), defaultSetup())))
	for name, r := range m {
		if r.Status == s3store.StatusApplied || r.Status == s3store.StatusCreated {
			if m2[name].Status != s3store.StatusAlready {
				t.Errorf("second run: %s %s, want already", name, m2[name].Status)
			}
		} else if m2[name].Status != r.Status {
			t.Errorf("second run: %s %s, first %s", name, m2[name].Status, r.Status)
		}
	}

	// Other lifetimes replace xfer's rules; KMS with the server's key.
	setup = defaultSetup()
	setup.NoncurrentExpiryDays = 3
	setup.Encryption, setup.KMSKeyID = s3store.SSEKMS, srv.KMSKeyID
	m3 := byName(t, must(s.InitBucket(t.Context(), setup)))
	wantStatus(t, m3, map[string]s3store.SettingStatus{
		s3store.SettingBucket:           s3store.StatusAlready,
		s3store.SettingNoncurrentExpiry: s3store.StatusApplied,
		s3store.SettingEncryption:       s3store.StatusApplied,
	})
	if r := m3[s3store.SettingNoncurrentExpiry]; !strings.Contains(r.Got, "after 3 days") {
		t.Errorf("noncurrent rule reads back %q", r.Got)
	}

	// Forced over http, the policy is written, and reads back: MinIO's
	// root user owns the bucket, and bucket policies do not bind it.
	setup = defaultSetup()
	setup.ForceTLSPolicy = true
	m4 := byName(t, must(s.InitBucket(t.Context(), setup)))
	wantStatus(t, m4, map[string]s3store.SettingStatus{
		s3store.SettingEncryption: s3store.StatusApplied, // back from aws:kms to AES256
		s3store.SettingTLSPolicy:  s3store.StatusApplied,
	})
}

func TestInitBucketVersityGW(t *testing.T) {
	srv := s3test.StartVersityGW(t)
	s := freshStore(t, srv)
	m := byName(t, must(s.InitBucket(t.Context(), defaultSetup())))
	// versitygw v1.8.0 on its POSIX backend: NotImplemented for default
	// encryption, public access block and lifecycle.
	wantStatus(t, m, map[string]s3store.SettingStatus{
		s3store.SettingBucket:            s3store.StatusCreated,
		s3store.SettingVersioning:        s3store.StatusApplied,
		s3store.SettingEncryption:        s3store.StatusRefused,
		s3store.SettingPublicAccessBlock: s3store.StatusRefused,
		s3store.SettingAbortUploads:      s3store.StatusRefused,
		s3store.SettingNoncurrentExpiry:  s3store.StatusRefused,
		s3store.SettingTLSPolicy:         s3store.StatusSkipped,
	})
	for _, r := range m {
		if !r.Status.OK() && r.Detail == "" {
			t.Errorf("%s: %s without a reason", r.Setting, r.Status)
		}
	}
	setup := defaultSetup()
	setup.ForceTLSPolicy = true
	m2 := byName(t, must(s.InitBucket(t.Context(), setup)))
	wantStatus(t, m2, map[string]s3store.SettingStatus{
		s3store.SettingVersioning: s3store.StatusAlready,
		s3store.SettingTLSPolicy:  s3store.StatusApplied,
	})
}

// An existing policy's statements and lifecycle rules that are not xfer's
// survive InitBucket.
func TestInitBucketKeepsOthers(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	s := freshStore(t, srv)
	setup := defaultSetup()
	setup.ForceTLSPolicy = true
	must(s.InitBucket(t.Context(), setup))
	if err := s3store.PutTestBucketExtras(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	setup.NoncurrentExpiryDays = 10
	m := byName(t, must(s.InitBucket(t.Context(), setup)))
	wantStatus(t, m, map[string]s3store.SettingStatus{
		s3store.SettingNoncurrentExpiry: s3store.StatusApplied,
		s3store.SettingTLSPolicy:        s3store.StatusAlready,
	})
	if err := s3store.CheckTestBucketExtras(t.Context(), s); err != nil {
		t.Error(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Over https the TLS-only policy is set without being forced. This MinIO
// has no KMS, and then refuses even SSE-S3 as a bucket default.
func TestInitBucketMinIOTLS(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{TLS: true})
	s := freshStore(t, srv)
	m := byName(t, must(s.InitBucket(t.Context(), defaultSetup())))
	wantStatus(t, m, map[string]s3store.SettingStatus{
		s3store.SettingBucket:     s3store.StatusCreated,
		s3store.SettingTLSPolicy:  s3store.StatusApplied,
		s3store.SettingEncryption: s3store.StatusRefused,
	})
	if r := m[s3store.SettingEncryption]; r.Code != "NotImplemented" {
		t.Errorf("encryption without KMS: code %q", r.Code)
	}
}

// How answers are classed, on a fake server: a store that takes a write
// and then reads back something else has failed, not applied; access
// denied is failed; a write taken that cannot be read back is unverified;
// a 501 without a body is refused as NotImplemented; a server error is
// failed. None of them stops the other settings.
func TestInitBucketClassifies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		xmlErr := func(status int, code string) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message></Error>`, code)
		}
		get := r.Method == http.MethodGet
		switch {
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusOK)
		case q.Has("versioning") && get:
			fmt.Fprint(w, `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></VersioningConfiguration>`)
		case q.Has("versioning"):
			w.WriteHeader(http.StatusOK) // takes it, but keeps reading Suspended
		case q.Has("encryption"):
			xmlErr(http.StatusForbidden, "AccessDenied")
		case q.Has("publicAccessBlock") && get:
			w.WriteHeader(http.StatusNotImplemented)
		case q.Has("publicAccessBlock"):
			w.WriteHeader(http.StatusOK)
		case q.Has("lifecycle") && get:
			xmlErr(http.StatusNotFound, "NoSuchLifecycleConfiguration")
		case q.Has("lifecycle"):
			w.WriteHeader(http.StatusNotImplemented)
		default:
			xmlErr(http.StatusInternalServerError, "InternalError")
		}
	}))
	defer srv.Close()
	s := newStore(t, s3store.Options{Bucket: "b", Endpoint: srv.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b",
		MaxAttempts: 1})
	setup := defaultSetup()
	setup.ForceTLSPolicy = true
	m := byName(t, must(s.InitBucket(t.Context(), setup)))
	wantStatus(t, m, map[string]s3store.SettingStatus{
		s3store.SettingBucket:            s3store.StatusAlready,
		s3store.SettingVersioning:        s3store.StatusFailed,
		s3store.SettingEncryption:        s3store.StatusFailed,
		s3store.SettingPublicAccessBlock: s3store.StatusUnverified,
		s3store.SettingAbortUploads:      s3store.StatusRefused,
		s3store.SettingNoncurrentExpiry:  s3store.StatusRefused,
		s3store.SettingTLSPolicy:         s3store.StatusFailed,
	})
	for name, code := range map[string]string{
		s3store.SettingEncryption:        "AccessDenied",
		s3store.SettingPublicAccessBlock: "NotImplemented",
		s3store.SettingAbortUploads:      "NotImplemented",
		s3store.SettingTLSPolicy:         "InternalError",
	} {
		if got := m[name].Code; got != code {
			t.Errorf("%s: code %q, want %q", name, got, code)
		}
	}
	if r := m[s3store.SettingVersioning]; r.Got != "Suspended" {
		t.Errorf("versioning read back %q", r.Got)
	}
}

// A real policy parser takes the client policy: MinIO, as a bucket policy
// for everyone (MinIO's bucket policies name no other principal). versitygw
// v1.8.0 refuses it (MalformedPolicy: conditions on these actions, and IAM
// ARNs as principals), which docs/bucket-setup.md says.
func TestClientPolicyOnMinIO(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	s := newStore(t, options(srv))
	p, err := s3store.ClientPolicy(s3store.ClientPolicyOptions{
		Bucket: srv.Bucket, Prefix: "clients/", Client: "acme", SourceCIDRs: []string{"127.0.0.1", "::1"},
		Principal: "arn:aws:iam::123456789012:user/acme",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Statement {
		p.Statement[i].Principal = "*"
	}
	if err := s3store.PutTestPolicy(t.Context(), s, p); err != nil {
		t.Fatalf("MinIO refuses the client policy: %v", err)
	}
}
