package config

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// The Windows example in the docs parses, and every path means what it
// says on Windows.
func TestWindowsExample(t *testing.T) {
	f, err := Load(filepath.Join("..", "docs", "examples", "config-windows.toml"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"ca_file", f.CAFile, `C:\ProgramData\xfer\mailhouse-ca.pem`},
		{"recipients_file", f.RecipientsFile, `C:\ProgramData\xfer\mailhouse.recipients`},
		{"zip_password_file", f.ZipPasswordFile, `C:\ProgramData\xfer\zip.pw`},
		{"spool_dir", f.SpoolDir, `D:\xfer\spool`},
		{"audit_log", f.AuditLog, `D:\xfer\audit.jsonl`},
		{"bucket", f.Bucket, "exchange"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if want := []string{`\\fileserver\marketing\optouts.csv`}; !slices.Equal(f.Suppress.Lists, want) {
		t.Errorf("suppress.lists = %q, want %q", f.Suppress.Lists, want)
	}
}

func TestWindowsPaths(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.toml")
	for _, tc := range []struct {
		name, src string
		want      string // spool_dir, or "" for ErrBackslashEscape
		line      string // in the error
	}{
		{"single quotes", `spool_dir = 'C:\ProgramData\xfer'`, `C:\ProgramData\xfer`, ""},
		{"doubled backslashes", `spool_dir = "C:\\ProgramData\\xfer"`, `C:\ProgramData\xfer`, ""},
		{"forward slashes", `spool_dir = "C:/ProgramData/xfer"`, `C:/ProgramData/xfer`, ""},
		{"invalid escape", `spool_dir = "C:\ProgramData\xfer"`, "", `line 1: invalid escape in string '\P'`},
		{"\\U", "bucket = \"b\"\nspool_dir = \"C:\\Users\\me\"", "", "line 2:"},
		// Valid TOML that is not the path: \x fe, \n.
		{"silently escaped", "bucket = \"b\"\n\nspool_dir = \"C:\\xfer\\new\"", "", `line 3: "C:\xfer\new" would be read with its escapes`},
		{"\\t in a list", `identities = ["C:\temp\id.txt"]`, "", "line 1:"},
		{"commented out", "# spool_dir = \"C:\\xfer\"\nspool_dir = 'C:\\xfer'", `C:\xfer`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(p, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := Load(p, false)
			if tc.want != "" {
				if err != nil || f.SpoolDir != tc.want {
					t.Fatalf("Load = %+v, %v; want spool_dir %q", f, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrBackslashEscape) || !strings.Contains(err.Error(), tc.line) {
				t.Fatalf("Load = %v, want ErrBackslashEscape at %q", err, tc.line)
			}
		})
	}
}

// Notepad and PowerShell save UTF-8 with a BOM, or UTF-16 (PowerShell 5's
// Out-File and ">"), with CRLF: all mean what was typed.
func TestWindowsEncodings(t *testing.T) {
	text := "bucket = \"exchange\"\r\nspool_dir = 'C:\\xfer\\spool'\r\nsender = \"Zoë\"\r\n"
	encode := func(order binary.AppendByteOrder, bom []byte) []byte {
		b := bom
		for _, u := range utf16.Encode([]rune(text)) {
			b = order.AppendUint16(b, u)
		}
		return b
	}
	p := filepath.Join(t.TempDir(), "config.toml")
	for name, raw := range map[string][]byte{
		"UTF-8":     []byte(text),
		"UTF-8 BOM": append([]byte{0xef, 0xbb, 0xbf}, text...),
		"UTF-16LE":  encode(binary.LittleEndian, []byte{0xff, 0xfe}),
		"UTF-16BE":  encode(binary.BigEndian, []byte{0xfe, 0xff}),
	} {
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := Load(p, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Bucket != "exchange" || f.SpoolDir != `C:\xfer\spool` || f.Sender != "Zoë" {
			t.Fatalf("%s: got %+v", name, f)
		}
	}
	os.WriteFile(p, []byte{0xff, 0xfe, 'b'}, 0o600)
	if _, err := Load(p, false); err == nil || !strings.Contains(err.Error(), "UTF-16") {
		t.Fatalf("truncated UTF-16: %v", err)
	}
}
