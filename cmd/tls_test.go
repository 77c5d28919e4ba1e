package cmd

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// TestSendTLSAndSSE sends to MinIO over TLS with a private CA, with each
// kind of server-side encryption at rest, and checks that an unknown CA is
// refused rather than trusted.
func TestSendTLSAndSSE(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{TLS: true, KMS: true})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	ssecFile := filepath.Join(dir, "ssec.key")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(caFile, srv.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ssecFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "a.csv")
	f, _ := os.Create(csvPath)
	addrgen.Write(f, 1<<20, 4)
	f.Close()
	id, _ := age.GenerateX25519Identity()
	env := sendEnv(dir, srv.Endpoint, srv)
	send := []string{"send", csvPath, "-r", id.Recipient().String()}

	// Without the CA the server's certificate is not trusted.
	out, err := xferCmd(env, append(send, "--as", "untrusted.csv")...).CombinedOutput()
	t.Logf("without the CA: %s", out)
	if err == nil || !strings.Contains(string(out), "hint: the server's TLS certificate is not trusted") {
		t.Fatalf("a server with an unknown CA was accepted: %v\n%s", err, out)
	}
	if code := exitCodeOf(err); code != 2 {
		t.Errorf("untrusted certificate: exit %d, want 2 (configuration: ca_file)", code)
	}
	env = append(env, "XFER_CA_FILE="+caFile)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"none.csv", nil},
		{"sse-s3.csv", []string{"--sse", "AES256"}},
		{"sse-kms.csv", []string{"--sse", "aws:kms", "--sse-kms-key-id", srv.KMSKeyID}},
		{"sse-c.csv", []string{"--sse-c-key-file", ssecFile}},
	} {
		args := append(append(send, "--as", c.name), c.args...)
		if out, err := xferCmd(env, args...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, out)
		}
	}
}
