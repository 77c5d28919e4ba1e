package cmd

import (
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/xfer-dev/xfer/internal/testutil"
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
