package cmd

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/zipenc"
)

// TestUnsupportedZipHint: a zip xfer cannot read (ZipCrypto, BZip2) still
// ends with exit 4, but is not called damaged (issue 15, item 8).
func TestUnsupportedZipHint(t *testing.T) {
	err := fmt.Errorf("pull x.zip.age: %w", fmt.Errorf(`zipenc: "a.csv" is compressed with BZip2 (method 12): %w`, zipenc.ErrUnsupported))
	if got := exitCode(context.Background(), err); got != exitIntegrity {
		t.Errorf("exit code %d, want %d", got, exitIntegrity)
	}
	if h := hintFor(err); h == "" || strings.Contains(h, "damaged") {
		t.Errorf("hint %q", h)
	}
}
