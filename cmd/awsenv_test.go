package cmd

import (
	"os"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// TestAWSEndpointVariables: AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL name
// the exchange like XFER_ENDPOINT (which wins over them), with path-style
// addressing (a host name such as localhost works) and the plain-http rule;
// --endpoint-url is --endpoint under the aws-cli spelling.
func TestAWSEndpointVariables(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	base := append(sendEnv(dir, srv.Endpoint, srv), "AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=")
	csv := dir + "/a.csv"
	if err := os.WriteFile(csv, []byte("name,email\nAda,ada@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runForEvent(t, base, []string{"send", csv, "-r", id.Recipient().String(), "--no-progress"}, "sent", &struct{}{})

	localhost := strings.Replace(srv.Endpoint, "127.0.0.1", "localhost", 1)
	closed := "http://" + closedPort(t)
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"AWS_ENDPOINT_URL with a host name", []string{"XFER_ENDPOINT=", "AWS_ENDPOINT_URL=" + localhost}, nil, 0, "a.csv.zip.age"},
		{"AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL", []string{"XFER_ENDPOINT=", "AWS_ENDPOINT_URL=" + closed, "AWS_ENDPOINT_URL_S3=" + localhost}, nil, 0, "a.csv.zip.age"},
		{"XFER_ENDPOINT wins over both", []string{"AWS_ENDPOINT_URL=" + closed, "AWS_ENDPOINT_URL_S3=" + closed}, nil, 0, "a.csv.zip.age"},
		{"--endpoint-url wins over the environment", []string{"XFER_ENDPOINT=" + closed}, []string{"--endpoint-url", localhost}, 0, "a.csv.zip.age"},
		{"the plain-http rule holds", []string{"XFER_ENDPOINT=", "AWS_ENDPOINT_URL=http://s3.example.com"}, nil, 2, "plain http and not on this machine"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := xferCmd(append(append([]string(nil), base...), c.env...), append([]string{"list"}, c.args...)...)
			var out strings.Builder
			x.Stdout, x.Stderr = &out, &out
			err := x.Run()
			code := exitCodeOf(err)
			if code < 0 {
				t.Fatal(err)
			}
			if code != c.code || !strings.Contains(out.String(), c.want) {
				t.Errorf("exit %d, want %d, and output with %q:\n%s", code, c.code, c.want, out.String())
			}
		})
	}
}
