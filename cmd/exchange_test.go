package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// TestProfile: the credentials of a named AWS profile, chosen by --profile,
// by profile in the config file, or by AWS_PROFILE; an unknown profile is a
// configuration error.
func TestProfile(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte(fmt.Sprintf("[xch]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profile.toml"), []byte("profile = \"xch\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(sendEnv(dir, srv.Endpoint, srv),
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_PROFILE=",
		"AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_CONFIG_FILE="+filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true")
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"flag", nil, []string{"list", "--profile", "xch"}, 0},
		{"config", nil, []string{"--config", filepath.Join(dir, "profile.toml"), "list"}, 0},
		{"environment", []string{"AWS_PROFILE=xch"}, []string{"list"}, 0},
		{"none", nil, []string{"list"}, 3},
		{"unknown", nil, []string{"list", "--profile", "nope"}, 2},
	} {
		out, err := xferCmd(append(env, c.env...), c.args...).CombinedOutput()
		if code := exitCodeOf(err); code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, code, c.code, out)
		}
		if strings.Contains(string(out), srv.SecretKey) {
			t.Errorf("%s: the secret key is in the output", c.name)
		}
	}
}
