package cmd

import (
	"os"
	"strings"
	"unicode/utf16"

	"github.com/rogpeppe/go-internal/testscript"
)

// wintext FILE ENCODING TEXT|@SRC: write TEXT (or the content of file SRC)
// the way a Windows editor saves it: CRLF line ends, and
//
//	utf8bom   UTF-8 with a byte order mark (Notepad, PowerShell 7's Set-Content -Encoding utf8BOM)
//	utf16le   UTF-16LE with a byte order mark (PowerShell 5's >, Notepad's "UTF-16 LE")
//	utf16be   UTF-16BE with a byte order mark (Notepad's "UTF-16 BE")
//	crlf      UTF-8 without a byte order mark (Notepad's default, PowerShell 7's >)
//
// TEXT is given without its line end; wintext adds one CRLF (Notepad's
// "Enter" at the end), unless TEXT comes from a file.
func cmdWinText(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: wintext FILE utf8bom|utf16le|utf16be|crlf TEXT|@SRC")
	}
	text := args[2] + "\n"
	if src, ok := strings.CutPrefix(args[2], "@"); ok {
		text = ts.ReadFile(src)
	}
	text = strings.ReplaceAll(text, "\n", "\r\n")
	var b []byte
	switch args[1] {
	case "utf8bom":
		b = append([]byte{0xEF, 0xBB, 0xBF}, text...)
	case "crlf":
		b = []byte(text)
	case "utf16le", "utf16be":
		be := args[1] == "utf16be"
		b = []byte{0xFF, 0xFE}
		if be {
			b = []byte{0xFE, 0xFF}
		}
		for _, u := range utf16.Encode([]rune(text)) {
			if be {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
	default:
		ts.Fatalf("wintext: unknown encoding %q", args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o600))
}
