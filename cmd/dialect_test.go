package cmd

import (
	"bytes"
	"os"

	"github.com/rogpeppe/go-internal/testscript"
)

// crlf FILE...: end every line of each file in CRLF, as the canonical CSV
// xfer seals does, so a round trip can be compared byte for byte.
func cmdCRLF(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: crlf FILE...")
	}
	for _, f := range args {
		path := ts.MkAbs(f)
		b, err := os.ReadFile(path)
		ts.Check(err)
		b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
		ts.Check(os.WriteFile(path, b, 0o600))
	}
}
