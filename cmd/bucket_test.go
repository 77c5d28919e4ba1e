package cmd

import (
	"fmt"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// TestBucketScripts runs the scenarios in testdata/bucket (bucket init
// and policy through the real main) against each real S3 server. A
// script tells the servers apart with the conditions [minio] and
// [versitygw], since they support different settings.
func TestBucketScripts(t *testing.T) {
	servers := map[string]func(testing.TB) *s3test.Server{
		"minio":     func(t testing.TB) *s3test.Server { return s3test.StartMinIO(t, s3test.MinIOOptions{KMS: true}) },
		"versitygw": s3test.StartVersityGW,
	}
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			p := scriptParams("testdata/bucket", func(e *testscript.Env) {
				e.Setenv("XFER_ENDPOINT", srv.Endpoint)
				e.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
				e.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
				e.Setenv("AWS_REGION", srv.Region)
				e.Setenv("KMS_KEY_ID", srv.KMSKeyID)
				e.Setenv("SERVER", name)
			})
			p.Condition = func(cond string) (bool, error) {
				if _, ok := servers[cond]; ok {
					return cond == name, nil
				}
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			testscript.Run(t, p)
		})
	}
}
