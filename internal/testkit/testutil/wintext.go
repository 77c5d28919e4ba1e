package testutil

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// WindowsText returns text as a Windows editor saves it, in encoding:
//
//	utf8bom   UTF-8 with a byte order mark (Notepad, PowerShell 7's -Encoding utf8BOM)
//	utf16le   UTF-16LE with a byte order mark (PowerShell 5's >, Notepad's "UTF-16 LE")
//	utf16be   UTF-16BE with a byte order mark (Notepad's "UTF-16 BE")
//	crlf      UTF-8 without a byte order mark (Notepad's default, PowerShell 7's >)
//	utf16le-nocrlf, utf16be-nocrlf: UTF-16 with a byte order mark, line ends as given
//
// Each LF becomes CRLF unless the encoding says nocrlf.
func WindowsText(text, encoding string) ([]byte, error) {
	enc, keepLF := strings.CutSuffix(encoding, "-nocrlf")
	if !keepLF {
		text = strings.ReplaceAll(text, "\n", "\r\n")
	}
	switch enc {
	case "utf8bom":
		return append([]byte{0xEF, 0xBB, 0xBF}, text...), nil
	case "crlf":
		return []byte(text), nil
	case "utf16le", "utf16be":
		be := enc == "utf16be"
		b := []byte{0xFF, 0xFE}
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
		return b, nil
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}
