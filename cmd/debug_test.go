package cmd

import (
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"filippo.io/age"
	"github.com/elazarl/goproxy"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// TestDebugLogThroughProxy sends a file with --debug and --log-file over
// https through a forward proxy (HTTPS_PROXY, a private CA in XFER_CA_FILE,
// SSE-C): the log shows every request and response line, the proxy saw
// the connections, and no secret (S3 secret key, session token, SSE-C key,
// zip password, identity) appears in the log or on standard error.
func TestDebugLogThroughProxy(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{TLS: true})
	_, port, err := net.SplitHostPort(strings.TrimPrefix(srv.Endpoint, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	var connects atomic.Int64
	proxy := goproxy.NewProxyHttpServer()
	proxy.ConnectDial = func(network, addr string) (net.Conn, error) {
		connects.Add(1)
		if addr != net.JoinHostPort(s3test.ProxiedHost, port) {
			t.Errorf("the proxy was asked for %s", addr)
		}
		return net.Dial(network, net.JoinHostPort("127.0.0.1", port)) // the proxy resolves the name
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(l, proxy)
	t.Cleanup(func() { l.Close() })

	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ssec := []byte("0123456789abcdef0123456789ABCDEF")
	csv := write("a.csv", []byte("name,email\nAda,ada@example.com\n"))
	logPath := filepath.Join(dir, "xfer.log")
	env := append(sendEnv(dir, "https://"+net.JoinHostPort(s3test.ProxiedHost, port), srv),
		"HTTPS_PROXY=http://"+l.Addr().String(), "NO_PROXY=", "no_proxy=",
		"XFER_CA_FILE="+write("ca.pem", srv.CAPEM),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=")
	x := xferCmd(env, "send", csv, "-r", id.Recipient().String(), "--no-progress",
		"--sse-c-key-file", write("ssec.key", ssec), "--debug", "--log-file", logPath)
	var stderr strings.Builder
	x.Stderr = &stderr
	if err := x.Run(); err != nil {
		t.Fatalf("send: %v\n%s", err, stderr.String())
	}
	if connects.Load() == 0 {
		t.Error("no connection went through the proxy")
	}
	// Another file under the same name: refused, and the error goes to the
	// log too.
	other := write("b.csv", []byte("name,email\nBob,bob@example.com\n"))
	x = xferCmd(env, "send", other, "--as", "a.csv", "-r", id.Recipient().String(), "--no-progress",
		"--sse-c-key-file", filepath.Join(dir, "ssec.key"), "--debug", "--log-file", logPath)
	x.Stderr = &stderr
	if err := x.Run(); err == nil {
		t.Fatal("a second send of the same name succeeded")
	}
	logData, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(logData)
	t.Logf("debug log:\n%s", log)
	if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode: %v %v", fi.Mode(), err)
	}
	for _, want := range []string{
		`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z xfer: debug: s3: → HeadObject HEAD s3\.xfer\.test:\d+/` + srv.Bucket + `/`,
		`(?m)xfer: debug: s3: ← HeadObject 404 Not Found`,
		`(?m)xfer: debug: s3: → (PutObject PUT|CreateMultipartUpload POST) `,
		`(?m)xfer: debug: s3: ← (PutObject|CompleteMultipartUpload) 200 OK, request id \w+ in `,
		`(?m)^\S+ xfer: error: .*object already exists\n\S+ xfer: hint: a\.csv\.zip\.age is already in the exchange`, // standard error, time-stamped
	} {
		if !regexp.MustCompile(want).MatchString(log) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(stderr.String(), "debug:") {
		t.Error("with --log-file, the debug lines went to standard error too")
	}
	for name, secret := range map[string]string{
		"S3 secret key": srv.SecretKey, "zip password": "Corr3ct-Horse-Battery", "identity": id.String(),
		"SSE-C key": string(ssec), "SSE-C key (base64)": base64.StdEncoding.EncodeToString(ssec), "SSE-C key (hex)": hex.EncodeToString(ssec),
		"signature": "Signature=", "authorization": "AWS4-HMAC-SHA256",
	} {
		if strings.Contains(log, secret) || strings.Contains(stderr.String(), secret) {
			t.Errorf("the %s appears in the output", name)
		}
	}
}
