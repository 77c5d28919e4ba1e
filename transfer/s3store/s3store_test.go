package s3store_test

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
	"github.com/xfer-dev/xfer/transfer/storetest"
)

// What each server does where servers differ (see storetest.Caps).
var (
	minioCaps   = storetest.Caps{ConditionalWrites: true, ConditionalReplace: true, PartChecksums: true, ControlKeys: true}
	versityCaps = storetest.Caps{ConditionalWrites: true, ConditionalReplace: true, PartChecksums: true}
)

// options are the s3store options for srv's plain bucket.
func options(srv *s3test.Server) s3store.Options {
	return s3store.Options{
		Bucket:          srv.Bucket,
		Endpoint:        srv.Endpoint,
		PathStyle:       true,
		Region:          srv.Region,
		AccessKeyID:     srv.AccessKey,
		SecretAccessKey: srv.SecretKey,
		CAPEM:           srv.CAPEM,
	}
}

func newStore(t *testing.T, o s3store.Options) *s3store.Store {
	t.Helper()
	s, err := s3store.New(t.Context(), o)
	if err != nil {
		t.Fatalf("s3store.New: %v", err)
	}
	return s
}

// harness runs the store suite on srv, with mod applied to every store's
// options (server-side encryption, say).
func harness(srv *s3test.Server, caps storetest.Caps, mod func(*s3store.Options)) storetest.Harness {
	mk := func(t *testing.T, f func(*s3store.Options)) *s3store.Store {
		o := options(srv)
		if mod != nil {
			mod(&o)
		}
		if f != nil {
			f(&o)
		}
		return newStore(t, o)
	}
	return storetest.Harness{
		New: func(t *testing.T) transfer.Store { return mk(t, nil) },
		NewVersioned: func(t *testing.T) transfer.Store {
			return mk(t, func(o *s3store.Options) { o.Bucket = srv.VersionedBucket })
		},
		NewMissingBucket: func(t *testing.T) transfer.Store {
			return mk(t, func(o *s3store.Options) { o.Bucket = "xfer-no-such-bucket" })
		},
		NewDenied: func(t *testing.T) (transfer.Store, func() int) {
			var n atomic.Int64
			s := mk(t, func(o *s3store.Options) {
				o.SecretAccessKey = "not-the-secret-key"
				o.OnAttempt = func(string, error) { n.Add(1) }
			})
			return s, func() int { return int(n.Load()) }
		},
		Caps: caps,
	}
}

func TestMinIO(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	storetest.Run(t, harness(srv, minioCaps, nil))
}

// TestMinIOTLSKMS runs the suite over TLS with a private CA, once per kind
// of server-side encryption.
func TestMinIOTLSKMS(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{TLS: true, KMS: true})
	ssecKey := make([]byte, 32)
	rand.Read(ssecKey)
	for _, tc := range []struct {
		name   string
		mod    func(*s3store.Options)
		header string // the SSE header a HEAD must show
	}{
		{"NoSSE", nil, ""},
		{"SSE-S3", func(o *s3store.Options) { o.SSE = s3store.SSES3 }, "AES256"},
		{"SSE-KMS", func(o *s3store.Options) { o.SSE, o.KMSKeyID = s3store.SSEKMS, srv.KMSKeyID }, "aws:kms"},
		{"SSE-C", func(o *s3store.Options) { o.SSE, o.CustomerKey = s3store.SSEC, ssecKey }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := harness(srv, minioCaps, tc.mod)
			h.Quick = tc.mod != nil
			storetest.Run(t, h)
			if tc.header != "" {
				checkSSEHeader(t, srv, tc.mod, tc.header)
			}
		})
	}
	t.Run("SSE-C-KeyRequired", func(t *testing.T) {
		ctx := t.Context()
		o := options(srv)
		o.SSE, o.CustomerKey = s3store.SSEC, ssecKey
		s := newStore(t, o)
		key := "ssec/" + t.Name()
		if _, err := s.Put(ctx, key, strings.NewReader("secret"), 6, transfer.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		// Without the key, or with another, the object cannot be read.
		plain := newStore(t, options(srv))
		if _, err := plain.Get(ctx, key, 0, -1); err == nil {
			t.Error("SSE-C object read without its key")
		}
		other := make([]byte, 32)
		o.CustomerKey = other
		if _, err := newStore(t, o).Head(ctx, key); err == nil {
			t.Error("SSE-C object read with another key")
		}
	})
	t.Run("UnknownCA", func(t *testing.T) {
		o := options(srv)
		o.CAPEM = nil
		var n atomic.Int64
		o.OnAttempt = func(string, error) { n.Add(1) }
		_, err := newStore(t, o).Head(t.Context(), "x")
		if err == nil || transfer.IsTransient(err) {
			t.Fatalf("Head with an untrusted certificate: %v, want a permanent error", err)
		}
		if n.Load() != 1 {
			t.Errorf("%d attempts with an untrusted certificate, want 1", n.Load())
		}
	})
}

func checkSSEHeader(t *testing.T, srv *s3test.Server, mod func(*s3store.Options), want string) {
	o := options(srv)
	mod(&o)
	s := newStore(t, o)
	ctx := t.Context()
	for _, key := range []string{"sse/put", "sse/multipart"} {
		if key == "sse/put" {
			if _, err := s.Put(ctx, key, strings.NewReader("x"), 1, transfer.PutOptions{Overwrite: true}); err != nil {
				t.Fatal(err)
			}
		} else {
			id, err := s.CreateUpload(ctx, key, transfer.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.UploadPart(ctx, key, id, 1, strings.NewReader("x"), 1, storetest.Checksum([]byte("x")))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CompleteUpload(ctx, key, id, []transfer.Part{p}, transfer.CompleteOptions{Overwrite: true}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := srv.Do(ctx, http.MethodHead, "/"+srv.Bucket+"/"+key, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Amz-Server-Side-Encryption"); got != want {
			t.Errorf("%s: server-side encryption %q, want %q", key, got, want)
		}
	}
}

func TestVersityGW(t *testing.T) {
	srv := s3test.StartVersityGW(t)
	storetest.Run(t, harness(srv, versityCaps, nil))
}

func TestEndpointPolicy(t *testing.T) {
	for _, tc := range []struct {
		endpoint  string
		allowHTTP bool
		ok        bool
	}{
		{"https://s3.example.com", false, true},
		{"http://127.0.0.1:9000", false, true},
		{"http://[::1]:9000", false, true},
		{"http://localhost:9000", false, true},
		{"http://s3.example.com", false, false},
		{"http://10.0.0.5:9000", false, false},
		{"http://s3.example.com", true, true},
		{"ftp://s3.example.com", true, false},
	} {
		_, err := s3store.New(context.Background(), s3store.Options{Bucket: "b", Endpoint: tc.endpoint, AllowHTTP: tc.allowHTTP, AccessKeyID: "a", SecretAccessKey: "b"})
		if (err == nil) != tc.ok {
			t.Errorf("New(%s, allowHTTP=%v): %v, want ok=%v", tc.endpoint, tc.allowHTTP, err, tc.ok)
		}
	}
}

// TestNoCredentials: a credential chain that finds nothing is an
// authentication failure (ErrAccessDenied, not retried), and no request
// reaches the server.
func TestNoCredentials(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	s, err := s3store.New(t.Context(), s3store.Options{Bucket: "b", Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	err = s.List(t.Context(), "", func(transfer.ObjectInfo) error { return nil })
	if !errors.Is(err, transfer.ErrAccessDenied) || transfer.IsTransient(err) {
		t.Errorf("List without credentials: %v, want a permanent ErrAccessDenied", err)
	}
	if err != nil && !strings.Contains(err.Error(), "no usable AWS credentials") {
		t.Errorf("the message does not say what is missing: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

// TestTransientRetried checks throttling and unreachable servers are
// retried with backoff and then reported as transient, and that the retry
// stops as soon as the context is cancelled.
func TestTransientRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	}))
	defer srv.Close()
	o := s3store.Options{Bucket: "b", Endpoint: srv.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b",
		MaxAttempts: 3, MaxBackoff: 20 * time.Millisecond}
	s := newStore(t, o)
	_, err := s.CreateUpload(t.Context(), "k", transfer.CreateOptions{})
	if !transfer.IsTransient(err) {
		t.Fatalf("503 SlowDown: %v, want a transient error", err)
	}
	if hits.Load() != 3 {
		t.Errorf("%d attempts, want 3", hits.Load())
	}

	// Nothing listens: connection refused is retried, then transient.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var n atomic.Int64
	o.Endpoint = "http://" + addr
	o.OnAttempt = func(string, error) { n.Add(1) }
	_, err = newStore(t, o).Head(t.Context(), "k")
	if !transfer.IsTransient(err) || errors.Is(err, transfer.ErrNotFound) {
		t.Fatalf("connection refused: %v, want transient", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d attempts, want 3", n.Load())
	}

	// Cancelled during backoff: returns at once, not transient.
	o.Endpoint, o.MaxAttempts, o.MaxBackoff = srv.URL, 10, 5*time.Second
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = newStore(t, o).CreateUpload(ctx, "k", transfer.CreateOptions{})
	if !errors.Is(err, context.DeadlineExceeded) || transfer.IsTransient(err) {
		t.Errorf("cancelled: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled retry took %s", d)
	}
}

// TestDeleteVersionsBatches: DeleteVersions splits the items into
// requests of the batch size, and on MinIO an item under Object Lock fails
// alone, as access denied, while the rest of its batch is deleted.
func TestDeleteVersionsBatches(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *s3test.Server{
		"minio":     func(t testing.TB) *s3test.Server { return s3test.StartMinIO(t, s3test.MinIOOptions{}) },
		"versitygw": s3test.StartVersityGW,
	} {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			ctx := t.Context()
			var requests atomic.Int64
			o := options(srv)
			o.Bucket = srv.VersionedBucket
			o.OnAttempt = func(op string, _ error) {
				if op == "DeleteObjects" {
					requests.Add(1)
				}
			}
			s := newStore(t, o)
			s3store.SetDeleteBatch(s, 7)
			pre := "batches/"
			for range 2 {
				for i := range 20 {
					k := fmt.Sprintf("%s%02d", pre, i)
					if _, err := s.Put(ctx, k, strings.NewReader(k), int64(len(k)), transfer.PutOptions{Overwrite: true}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if items := storetest.DeleteAll(t, ctx, s, pre); len(items) != 40 {
				t.Errorf("deleted %d versions, want 40", len(items))
			}
			if n := requests.Load(); n != 6 {
				t.Errorf("%d DeleteObjects requests for 40 items in batches of 7, want 6", n)
			}
			if name == "minio" {
				testDeleteVersionsLocked(t, srv)
			}
		})
	}
}

func testDeleteVersionsLocked(t *testing.T, srv *s3test.Server) {
	ctx := t.Context()
	const bucket = "xfer-locked"
	do := func(query string, body []byte, hdr ...string) {
		t.Helper()
		resp, err := srv.Do(ctx, http.MethodPut, "/"+bucket, query, body, hdr...)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT /%s?%s: %s", bucket, query, resp.Status)
		}
	}
	do("", nil, "X-Amz-Bucket-Object-Lock-Enabled", "true")
	o := options(srv)
	o.Bucket = bucket
	s := newStore(t, o)
	put := func(k string) transfer.ObjectVersion {
		info, err := s.Put(ctx, k, strings.NewReader("x"), 1, transfer.PutOptions{Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		return transfer.ObjectVersion{Key: k, VersionID: info.VersionID}
	}
	free := put("free")
	cfg := []byte(`<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled>` +
		`<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>`)
	sum := md5.Sum(cfg)
	do("object-lock=", cfg, "Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	locked := put("locked")
	errs := s.DeleteVersions(ctx, []transfer.ObjectVersion{free, locked})
	if errs[0] != nil {
		t.Errorf("deleting the unlocked version: %v", errs[0])
	}
	if !errors.Is(errs[1], transfer.ErrAccessDenied) || transfer.IsTransient(errs[1]) {
		t.Errorf("deleting the locked version: %v, want access denied", errs[1])
	} else {
		t.Logf("locked: %v", errs[1])
	}
	var left []string
	s.ListVersions(ctx, "", func(v transfer.Version) error { left = append(left, v.Key); return nil })
	if len(left) != 1 || left[0] != "locked" {
		t.Errorf("versions left: %v, want the locked one", left)
	}
}

// TestDeleteVersionsNotImplemented: a server without DeleteObjects gets
// one DeleteObject request per item instead.
func TestDeleteVersionsNotImplemented(t *testing.T) {
	var deletes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			deletes.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotImplemented)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented.</Message></Error>`)
	}))
	defer srv.Close()
	s := newStore(t, s3store.Options{Bucket: "b", Endpoint: srv.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b", MaxAttempts: 1})
	errs := s.DeleteVersions(t.Context(), []transfer.ObjectVersion{{Key: "a"}, {Key: "b", VersionID: "v1"}, {Key: "c"}})
	for i, err := range errs {
		if err != nil {
			t.Errorf("item %d: %v", i, err)
		}
	}
	if n := deletes.Load(); n != 3 {
		t.Errorf("%d DeleteObject requests, want 3", n)
	}
}

// TestSettingsRefusedAtOnce: an endpoint or region the SDK would only
// reject at the first request, after its retries and deep in its
// endpoint rules, is refused by New with words a person can act on.
func TestSettingsRefusedAtOnce(t *testing.T) {
	cases := []struct {
		opts s3store.Options
		want string
	}{
		{s3store.Options{Endpoint: "127.0.0.1:9000"}, `the endpoint "127.0.0.1:9000" is not a URL: write it with its scheme, like https://127.0.0.1:9000`},
		{s3store.Options{Endpoint: "minio.example:9000"}, `like https://minio.example:9000`},
		{s3store.Options{Endpoint: "ftp://minio.example"}, `its scheme must be https or http`},
		{s3store.Options{Endpoint: "https://"}, `is not a URL like https://host:port`},
		{s3store.Options{Endpoint: "http://minio.example:9000"}, `plain http and not on this machine`},
		{s3store.Options{Endpoint: "http://127.0.0.1:9000", Region: "eu central"}, `the region "eu central" is not a region name`},
		{s3store.Options{Endpoint: "http://127.0.0.1:9000", Region: "eu-central-1/"}, `is not a region name`},
	}
	for _, c := range cases {
		c.opts.Bucket = "b"
		c.opts.AccessKeyID, c.opts.SecretAccessKey = "k", "s"
		_, err := s3store.New(t.Context(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v): %v, want %q", c.opts.Endpoint+" "+c.opts.Region, err, c.want)
		}
		if err != nil && strings.HasPrefix(err.Error(), "s3store:") {
			t.Errorf("New: %q carries the package prefix", err)
		}
	}
	for _, ok := range []string{"us-east-1", "eu-central-1", "garage", "US-WEST-2"} {
		if _, err := s3store.New(t.Context(), s3store.Options{Bucket: "b", Endpoint: "http://127.0.0.1:1", Region: ok, AccessKeyID: "k", SecretAccessKey: "s"}); err != nil {
			t.Errorf("region %q refused: %v", ok, err)
		}
	}
}
