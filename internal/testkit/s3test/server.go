// Package s3test runs real S3 servers for xfer's tests: MinIO (plain, with
// TLS under a CA generated for the test, and with a static KMS key for
// SSE-S3, SSE-KMS and SSE-C) and versitygw, a second implementation.
//
// Servers are built from the Go module proxy at pinned versions and cached
// (see Binary.Build and cmd/buildservers), started on 127.0.0.1 with a free
// port and a temporary data directory, given a plain and a versioned
// bucket, and stopped when the test ends. A server that cannot be built or
// started fails the test in strict mode (CI) and skips it otherwise.
//
// The package never imports the AWS SDK: the few bucket requests it makes
// are signed here.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/internal/testkit/testutil"
)

// Server is a running S3 server and what a client needs to reach it.
type Server struct {
	Name      string // "minio", "minio-tls", "versitygw", …
	Endpoint  string // base URL, http:// or https:// on 127.0.0.1
	Region    string
	AccessKey string
	SecretKey string
	// CAPEM is the CA that signed the server's certificate (TLS only).
	CAPEM []byte
	// KMSKeyID names the server's KMS key, empty when it has none.
	KMSKeyID string
	// Bucket is plain; VersionedBucket has versioning enabled.
	Bucket          string
	VersionedBucket string

	cmd     *exec.Cmd
	logPath string
	// launch runs the server on the ports given and waits until it is
	// ready; port and port2 are the ones it was first started on.
	launch      func(port, port2, attempt int) error
	port, port2 int
	exited      chan struct{}
	waitErr     error

	clientOnce sync.Once
	client     *http.Client
}

// MinIOOptions select a MinIO variant.
type MinIOOptions struct {
	// TLS serves https with a certificate from a CA made for the test
	// (Server.CAPEM). MinIO accepts SSE-C only over TLS.
	TLS bool
	// KMS gives MinIO a static key (MINIO_KMS_SECRET_KEY), which SSE-S3,
	// SSE-KMS and SSE-C need.
	KMS bool
}

const (
	bucketName          = "xfer-test"
	versionedBucketName = "xfer-test-versioned"
	region              = "us-east-1"
	startTimeout        = 60 * time.Second
)

// StartMinIO builds (if needed) and starts a MinIO server for the test.
func StartMinIO(t testing.TB, o MinIOOptions) *Server {
	t.Helper()
	bin := requireBinary(t, MinIO)
	name := "minio"
	if o.TLS {
		name += "-tls"
	}
	if o.KMS {
		name += "-kms"
	}
	s := newServer(t, name)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	certs := filepath.Join(dir, "certs")
	for _, d := range []string{data, certs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	scheme := "http"
	if o.TLS {
		ca, cert, key, err := generateCerts()
		if err != nil {
			t.Fatal(err)
		}
		s.CAPEM = ca
		if err := os.WriteFile(filepath.Join(certs, "public.crt"), cert, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(certs, "private.key"), key, 0o600); err != nil {
			t.Fatal(err)
		}
		scheme = "https"
	}
	env := []string{
		"MINIO_ROOT_USER=" + s.AccessKey,
		"MINIO_ROOT_PASSWORD=" + s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on", // the data dir may be on the root disk
		"HOME=" + dir,
	}
	if o.KMS {
		s.KMSKeyID = "xfer-test-key"
		k := make([]byte, 32)
		rand.Read(k)
		env = append(env, "MINIO_KMS_SECRET_KEY="+s.KMSKeyID+":"+base64.StdEncoding.EncodeToString(k))
	}
	s.start(t, bin, env, dir, scheme, "/minio/health/ready", func(port, port2 int) []string {
		return []string{"server", data, "--quiet",
			"--address", "127.0.0.1:" + strconv.Itoa(port),
			"--console-address", "127.0.0.1:" + strconv.Itoa(port2),
			"--certs-dir", certs}
	})
	s.createBuckets(t)
	return s
}

// StartVersityGW builds (if needed) and starts versitygw on its POSIX
// backend, with versioning available.
func StartVersityGW(t testing.TB) *Server {
	t.Helper()
	bin := requireBinary(t, VersityGW)
	s := newServer(t, "versitygw")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	versions := filepath.Join(dir, "versions")
	for _, d := range []string{data, versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"HOME=" + dir}
	s.start(t, bin, env, dir, "http", "/health", func(port, _ int) []string {
		return []string{
			"--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
			"--port", "127.0.0.1:" + strconv.Itoa(port), "--health", "/health", "--quiet",
			"posix", "--versioning-dir", versions, data}
	})
	s.createBuckets(t)
	return s
}

func newServer(t testing.TB, name string) *Server {
	return &Server{
		Name:            name,
		Region:          region,
		AccessKey:       "xfertest" + randHex(4),
		SecretKey:       randHex(20),
		Bucket:          bucketName,
		VersionedBucket: versionedBucketName,
		exited:          make(chan struct{}),
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// requireBinary returns the server's binary, building it when it is not
// cached; failure stops the test (strict) or skips it.
func requireBinary(t testing.TB, b Binary) string {
	t.Helper()
	if p, ok := b.Cached(); ok {
		return p
	}
	t.Logf("s3test: building %s %s (run `go run ./internal/testkit/s3test/cmd/buildservers` once to cache it)", b.Name, b.Version)
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	p, err := b.Build(ctx, &log)
	if err != nil {
		testutil.Missing(t, fmt.Sprintf("S3 server %s: %v\n%s", b.Name, err, tail(log.Bytes(), 4000)))
	}
	return p
}

// start runs the server on a free port, retrying with another when the
// port was taken in between, and waits until it answers on readyPath.
func (s *Server) start(t testing.TB, bin string, env []string, dir, scheme, readyPath string, args func(port, port2 int) []string) {
	t.Helper()
	s.launch = func(port, port2, attempt int) error {
		s.Endpoint = scheme + "://127.0.0.1:" + strconv.Itoa(port)
		s.logPath = filepath.Join(dir, fmt.Sprintf("server-%d.log", attempt))
		logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, args(port, port2)...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			logf.Close()
			return errStart{err}
		}
		s.cmd = cmd
		exited := make(chan struct{})
		s.exited = exited
		go func() {
			s.waitErr = cmd.Wait()
			logf.Close()
			close(exited)
		}()
		if err := s.waitReady(readyPath); err != nil {
			s.stop()
			return err
		}
		return nil
	}
	t.Cleanup(s.stop)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, port2, err := freePorts()
		if err != nil {
			t.Fatal(err)
		}
		s.port, s.port2 = port, port2
		lastErr = s.launch(port, port2, attempt)
		var es errStart
		if errors.As(lastErr, &es) {
			testutil.Missing(t, fmt.Sprintf("starting %s: %v", s.Name, es.err))
		}
		if lastErr == nil {
			return
		}
	}
	log, _ := os.ReadFile(s.logPath)
	testutil.Missing(t, fmt.Sprintf("S3 server %s did not start: %v\n%s", s.Name, lastErr, tail(log, 4000)))
}

// errStart is a server binary that could not be run at all.
type errStart struct{ err error }

func (e errStart) Error() string { return e.err.Error() }

// Stop ends the server the way an operator's restart does (SIGTERM, then
// SIGKILL after 10s), keeping its port and data for Start.
func (s *Server) Stop() { s.stop() }

// Start starts a stopped server again on the same port and data directory:
// to a client, the same server back after a restart.
// It returns once the server serves its bucket: MinIO reports ready a
// moment before it takes requests (503 XMinioServerNotInitialized).
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.launch(s.port, s.port2, 0); err != nil {
		t.Fatalf("%s: starting again on port %d: %v\n%s", s.Name, s.port, err, tail([]byte(s.Log()), 2000))
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := untilInitialized(ctx, func() error { return s.adminRequest(ctx, http.MethodHead, "/"+s.Bucket, "", nil) }); err != nil {
		t.Fatalf("%s: started again, but its bucket: %v\n%s", s.Name, err, tail([]byte(s.Log()), 2000))
	}
}

// untilInitialized calls f until it succeeds, fails otherwise than with
// MinIO's 503 of a server still initializing, or ctx ends.
func untilInitialized(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || !strings.Contains(err.Error(), "503") || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) waitReady(path string) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("exited: %v", s.waitErr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+path, nil)
		resp, err := s.httpClient().Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", startTimeout)
}

// stop ends the server: terminate (SIGTERM to its process group), then
// kill after 10s.
// It is safe to call more than once.
func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	terminate(s.cmd.Process)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		kill(s.cmd.Process)
		<-s.exited
	}
}

// Log returns what the server has printed so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *Server) httpClient() *http.Client {
	s.clientOnce.Do(func() {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if len(s.CAPEM) > 0 {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(s.CAPEM)
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		s.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	})
	return s.client
}

const versioningXML = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`

func (s *Server) createBuckets(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range []string{s.Bucket, s.VersionedBucket} {
		// MinIO reports ready a moment before it takes requests (503
		// XMinioServerNotInitialized): try for a while.
		if err := untilInitialized(ctx, func() error { return s.CreateBucket(ctx, b) }); err != nil {
			t.Fatalf("%s: creating bucket %s: %v\n%s", s.Name, b, err, tail([]byte(s.Log()), 2000))
		}
	}
	if err := s.adminRequest(ctx, http.MethodPut, "/"+s.VersionedBucket, "versioning", []byte(versioningXML)); err != nil {
		t.Fatalf("%s: enabling versioning: %v", s.Name, err)
	}
}

// CreateBucket creates a bucket on the server.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	return s.adminRequest(ctx, http.MethodPut, "/"+name, "", nil)
}

// freePorts asks the kernel for two free loopback ports. The server binds
// them a moment later; start retries should another process win the race.
func freePorts() (int, int, error) {
	var ports [2]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
