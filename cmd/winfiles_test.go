package cmd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/xfer-dev/xfer/internal/testkit/testutil"
	"github.com/xfer-dev/xfer/secret"
)

// wintext FILE ENCODING TEXT|@SRC: write TEXT (or the content of file SRC)
// the way a Windows editor saves it, with CRLF line ends (see
// testutil.WindowsText for the encodings). TEXT is given without its line
// end; wintext adds one (Notepad's Enter at the end), unless TEXT comes
// from a file.
func cmdWinText(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: wintext FILE utf8bom|utf16le|utf16be|crlf TEXT|@SRC")
	}
	text := args[2] + "\n"
	if src, ok := strings.CutPrefix(args[2], "@"); ok {
		text = ts.ReadFile(src)
	}
	b, err := testutil.WindowsText(text, args[1])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o600))
}

// TestGeneratedZipPasswordStaysInItsFile runs keygen --zip-password the
// ways a script would (plain, quiet, JSON) and checks that the password
// it wrote reaches neither stdout nor stderr, while its check code does.
func TestGeneratedZipPasswordStaysInItsFile(t *testing.T) {
	dir := t.TempDir()
	env := []string{"XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	for i, args := range [][]string{{}, {"-q"}, {"--json"}} {
		path := filepath.Join(dir, fmt.Sprintf("zip%d.pw", i))
		c := xferCmd(env, append([]string{"keygen", "--zip-password", "-o", path}, args...)...)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			t.Fatalf("keygen %v: %v\n%s", args, err, stderr.String())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pw := strings.TrimSuffix(string(b), "\n")
		if err := secret.CheckZipPassword([]byte(pw), 0); err != nil || len(pw) != 23 {
			t.Fatalf("keygen %v wrote %d bytes that fail the policy: %v", args, len(pw), err)
		}
		out := stdout.String() + stderr.String()
		for _, part := range strings.Split(pw, "-") {
			if strings.Contains(out, part) {
				t.Errorf("keygen %v printed a part of the password:\n%s", args, out)
			}
		}
		quiet := len(args) > 0 && args[0] == "-q"
		if code := secret.ZipPasswordCheckCode([]byte(pw)); !quiet && !strings.Contains(out, code) {
			t.Errorf("keygen %v did not print the check code %s:\n%s", args, code, out)
		}
	}
}
