package s3store_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// TestProbes runs the read-only diagnosis probes against each real server.
func TestProbes(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *s3test.Server{
		"minio":     func(t testing.TB) *s3test.Server { return s3test.StartMinIO(t, s3test.MinIOOptions{}) },
		"minio-tls": func(t testing.TB) *s3test.Server { return s3test.StartMinIO(t, s3test.MinIOOptions{TLS: true}) },
		"versitygw": s3test.StartVersityGW,
	} {
		t.Run(name, func(t *testing.T) { testProbes(t, start(t)) })
	}
}

func testProbes(t *testing.T, srv *s3test.Server) {
	ctx := t.Context()
	s := newStore(t, options(srv))

	p, err := s.ProbeEndpoint(ctx)
	if err != nil {
		t.Fatalf("ProbeEndpoint: %v", err)
	}
	if skew := p.ServerTime.Sub(p.LocalTime); p.ServerTime.IsZero() || skew.Abs() > 5*time.Second {
		t.Errorf("server time %v, local %v", p.ServerTime, p.LocalTime)
	}
	if (p.TLS != nil) != (len(srv.CAPEM) > 0) || (p.TLS != nil && !p.TLS.CustomCA) {
		t.Errorf("TLS info %+v", p.TLS)
	}

	info, err := s.Credentials(ctx)
	if err != nil || info.Source != "StaticCredentials" || info.KeyIDSuffix != srv.AccessKey[len(srv.AccessKey)-4:] {
		t.Errorf("Credentials: %+v, %v", info, err)
	}
	if err := s.CheckCredentials(ctx); err != nil {
		t.Errorf("CheckCredentials: %v", err)
	}
	if err := s.HeadBucket(ctx); err != nil {
		t.Errorf("HeadBucket: %v", err)
	}
	if err := s.CheckList(ctx, "no/such/prefix/"); err != nil {
		t.Errorf("CheckList: %v", err)
	}
	if st, err := s.Versioning(ctx); err != nil || st != "" {
		t.Errorf("Versioning of the plain bucket: %q, %v", st, err)
	}
	vo := options(srv)
	vo.Bucket = srv.VersionedBucket
	if st, err := newStore(t, vo).Versioning(ctx); err != nil || st != "Enabled" {
		t.Errorf("Versioning of the versioned bucket: %q, %v", st, err)
	}
	if enc, err := s.DefaultEncryption(ctx); err != nil && !errors.Is(err, s3store.ErrNotImplemented) || enc.Algorithm != "" {
		t.Errorf("DefaultEncryption: %+v, %v", enc, err)
	}

	// Wrong credentials keep the server's code.
	bad := options(srv)
	bad.SecretAccessKey = "wrong"
	err = newStore(t, bad).CheckCredentials(ctx)
	var se *transfer.StoreError
	if !errors.As(err, &se) || se.Code != "SignatureDoesNotMatch" || !errors.Is(err, transfer.ErrAccessDenied) {
		t.Errorf("CheckCredentials with a wrong secret: %v", err)
	}
	// A missing bucket.
	nb := options(srv)
	nb.Bucket = "no-such-bucket-probe"
	if err := newStore(t, nb).HeadBucket(ctx); !errors.Is(err, transfer.ErrNoSuchBucket) {
		t.Errorf("HeadBucket of a missing bucket: %v", err)
	}
	// Without the CA, the certificate does not verify.
	if len(srv.CAPEM) > 0 {
		o := options(srv)
		o.CAPEM = nil
		_, err := newStore(t, o).ProbeEndpoint(ctx)
		var pe *s3store.ProbeError
		if !errors.As(err, &pe) || pe.Stage != s3store.StageTLS {
			t.Errorf("ProbeEndpoint without the CA: %v", err)
		}
	}
}

// TestProbeNothingListening: a port nobody listens on fails at connect.
func TestProbeNothingListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := newStore(t, s3store.Options{Bucket: "b", Endpoint: "http://" + addr, AccessKeyID: "a", SecretAccessKey: "b"})
	_, err = s.ProbeEndpoint(t.Context())
	var pe *s3store.ProbeError
	if !errors.As(err, &pe) || pe.Stage != s3store.StageConnect || pe.Addr != addr {
		t.Fatalf("ProbeEndpoint: %v", err)
	}
	t.Log(err)
}
