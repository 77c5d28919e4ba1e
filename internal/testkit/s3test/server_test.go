package s3test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestServersStart checks every variant starts, has its buckets, and that
// the harness's request signing is accepted (a bad signature is refused).
func TestServersStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB) *Server
	}{
		{"minio", func(t testing.TB) *Server { return StartMinIO(t, MinIOOptions{}) }},
		{"minio-tls-kms", func(t testing.TB) *Server { return StartMinIO(t, MinIOOptions{TLS: true, KMS: true}) }},
		{"versitygw", StartVersityGW},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.adminRequest(ctx, http.MethodHead, "/"+s.VersionedBucket, "", nil); err != nil {
				t.Fatalf("versioned bucket: %v", err)
			}
			bad := &Server{Endpoint: s.Endpoint, Region: s.Region, AccessKey: s.AccessKey, SecretKey: "wrong", CAPEM: s.CAPEM}
			if err := bad.adminRequest(ctx, http.MethodHead, "/"+s.Bucket, "", nil); err == nil {
				t.Fatal("a request signed with the wrong key was accepted")
			}
		})
	}
}

// TestRestart: a stopped server refuses connections, and started again it
// is on the same endpoint with its buckets.
func TestRestart(t *testing.T) {
	s := StartMinIO(t, MinIOOptions{})
	endpoint := s.Endpoint
	s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.adminRequest(ctx, http.MethodHead, "/"+s.Bucket, "", nil); err == nil {
		t.Fatal("a stopped server answered")
	}
	s.Start(t)
	if s.Endpoint != endpoint {
		t.Errorf("endpoint %s after the restart, was %s", s.Endpoint, endpoint)
	}
	// A deadline of its own: starting again may have used up the first's.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.adminRequest(ctx, http.MethodHead, "/"+s.VersionedBucket, "", nil); err != nil {
		t.Fatalf("bucket after the restart: %v", err)
	}
}
