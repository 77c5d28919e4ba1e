// Package testutil holds helpers shared by xfer's tests. It is never
// imported by production code.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether tests must fail, rather than skip, when something
// they need (a peer tool, a server) is missing. It is true in CI and under
// the project's test script, which installs everything first.
func Strict() bool {
	return os.Getenv("CI") != "" || os.Getenv("XFER_STRICT") != ""
}

// RequireTool returns the path of the named executable. When it is missing
// the test fails in strict mode and is skipped otherwise.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not found on PATH (Debian: apt-get install 7zip libarchive-tools age)")
	}
	return p
}

// Missing stops a test that lacks a prerequisite: a failure in strict mode,
// a skip otherwise. It never returns.
func Missing(t testing.TB, what string) {
	t.Helper()
	if Strict() {
		t.Fatalf("required for this test: %s", what)
	}
	t.Skipf("skipping (not strict): %s", what)
}
