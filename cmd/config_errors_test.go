package cmd

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// TestExchangeConfigErrors: mistakes in the exchange settings, and a server
// that is not there, end with a plain message, a hint that names the
// setting and 'xfer doctor', exit 2 (nothing reached the server, so
// there is nothing to resume) and no spool left in the cache. Temporary
// credentials the server refuses are explained as possibly expired (exit
// 3). No message carries a package prefix or the SDK's request dump.
func TestExchangeConfigErrors(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		code int
		want []string // substrings of stderr
	}{
		{"connection refused", []string{"XFER_ENDPOINT=http://" + closedPort(t)}, 2,
			[]string{"nothing accepts connections at 127.0.0.1:", "(connection refused)", "hint: check --endpoint", "'xfer doctor'"}},
		{"https to a plain http server", []string{"XFER_ENDPOINT=" + strings.Replace(plain.URL, "http:", "https:", 1)}, 2,
			[]string{"the server answered in plain HTTP, but the endpoint says https://", "hint: check --endpoint"}},
		{"http to a TLS server", []string{"XFER_ENDPOINT=" + strings.Replace(tlsSrv.URL, "https:", "http:", 1)}, 2,
			[]string{"it may speak https, and the endpoint says http://", "hint: check --endpoint"}},
		{"endpoint without a scheme", []string{"XFER_ENDPOINT=" + strings.TrimPrefix(srv.Endpoint, "http://")}, 2,
			[]string{"is not a URL: write it with its scheme, like https://127.0.0.1:", "'xfer doctor'"}},
		{"invalid region", []string{"AWS_REGION=eu central"}, 2,
			[]string{`the region "eu central" is not a region name like eu-central-1`, "'xfer doctor'"}},
		{"temporary credentials the server does not know", []string{"AWS_SESSION_TOKEN=expired-session-token"}, 3,
			[]string{"they may have expired", "hint: get new temporary credentials"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			csv := filepath.Join(dir, "a.csv")
			if err := os.WriteFile(csv, []byte("name,email\nAda,ada@example.com\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			env := append(sendEnv(dir, srv.Endpoint, srv), "AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=")
			env = append(env, c.env...)
			for _, args := range [][]string{
				{"send", csv, "-r", id.Recipient().String(), "--no-progress"},
				{"list"},
			} {
				x := xferCmd(env, args...)
				var stderr strings.Builder
				x.Stderr = &stderr
				err := x.Run()
				code := exitCodeOf(err)
				if code < 0 {
					t.Fatal(err)
				}
				msg := stderr.String()
				t.Logf("xfer %s → exit %d\n%s", args[0], code, msg)
				if code != c.code {
					t.Errorf("xfer %s: exit %d, want %d", args[0], code, c.code)
				}
				for _, w := range c.want {
					if !strings.Contains(msg, w) {
						t.Errorf("xfer %s: stderr lacks %q", args[0], w)
					}
				}
				for _, bad := range []string{"s3store:", "operation error", "RequestID", srv.SecretKey, "expired-session-token"} {
					if strings.Contains(msg, bad) {
						t.Errorf("xfer %s: stderr holds %q", args[0], bad)
					}
				}
			}
			if left := leftovers(t, spoolDirOf(dir)); c.code == 2 && len(left) > 0 {
				t.Errorf("left in the spool directory: %v", left)
			}
		})
	}
}
