// Package config reads xfer's configuration file and parses the units the
// configuration and the command line share (sizes and durations).
//
// The file is TOML. Unknown keys are an error, not a silent no-op, so a typo
// never leaves a setting at its default. The file never holds secrets
// themselves, only the paths of files that do.
package config

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/BurntSushi/toml"
)

// File is the configuration file's content. A zero field means "not set";
// the command line decides the default.
type File struct {
	Endpoint string `toml:"endpoint"`
	Bucket   string `toml:"bucket"`
	Prefix   string `toml:"prefix"`
	Region   string `toml:"region"`
	// Profile names the AWS shared-config profile for credentials (as
	// AWS_PROFILE does); empty means the SDK's own choice.
	Profile   string `toml:"profile"`
	AllowHTTP bool   `toml:"allow_http"`
	// CAFile names a PEM file of extra certificates to trust: for a
	// server with a private CA.
	CAFile string `toml:"ca_file"`
	// SSE is the server-side encryption at rest of sent objects: AES256
	// or aws:kms (with SSEKMSKeyID), in addition to xfer's own.
	SSE         string `toml:"sse"`
	SSEKMSKeyID string `toml:"sse_kms_key_id"`
	// SSECKeyFile names a file holding a 32-byte SSE-C key.
	SSECKeyFile string `toml:"sse_c_key_file"`
	// Sender names this side in object metadata and the audit trail;
	// default user@host.
	Sender string `toml:"sender"`
	// AuditLog is the audit trail's file (as XFER_AUDIT_LOG); default
	// $XDG_STATE_HOME/xfer/audit.jsonl.
	AuditLog string `toml:"audit_log"`
	// AuditMirror also writes each audit line to the exchange, under
	// <prefix>.xfer/audit/, so both parties hold the same record.
	AuditMirror bool `toml:"audit_mirror"`

	Cipher          string   `toml:"cipher"`
	Recipients      []string `toml:"recipients"`
	RecipientsFile  string   `toml:"recipients_file"`
	KeyFile         string   `toml:"key_file"`
	Identities      []string `toml:"identities"`
	PassphraseFile  string   `toml:"passphrase_file"`
	ZipPasswordFile string   `toml:"zip_password_file"`
	// ZipPasswordMinLength raises the zip password policy's minimum length;
	// it can never lower it below the built-in minimum.
	ZipPasswordMinLength int `toml:"zip_password_min_length"`
	CompressionLevel     int `toml:"compression_level"`

	// Address-data controls (package screen): the [schema] and [suppress]
	// tables, validated in screen.go.
	Schema   Schema   `toml:"schema"`
	Suppress Suppress `toml:"suppress"`
	// CSV is the [csv] table: the dialect of the files sent.
	CSV CSV `toml:"csv"`

	PartSize    string `toml:"part_size"`
	Concurrency int    `toml:"concurrency"`
	// Jobs is how many files send and pull work on at once.
	Jobs     int    `toml:"jobs"`
	Expires  string `toml:"expires"`
	SpoolDir string `toml:"spool_dir"`
	// StallTimeout is how long a connection to the exchange may move no
	// byte before the request on it is retried ("2m", "30s").
	StallTimeout string `toml:"stall_timeout"`
	// PullGroup makes 'pull --all' share the files with the other
	// pullers of this pulling group through claims in the exchange;
	// PullLease is how long a claim holds unless renewed ("10m").
	PullGroup string `toml:"pull_group"`
	PullLease string `toml:"pull_lease"`
	// BWLimit caps the bytes per second of send, fetch and pull
	// ("20MiB/s"; see ParseRate).
	BWLimit string `toml:"bwlimit"`

	// MaxSize and MaxRatio bound the CSV that pull and decrypt write
	// (size, and size over stored size); see exchange.CheckOutput.
	MaxSize  string  `toml:"max_size"`
	MaxRatio float64 `toml:"max_ratio"`
	// MaxRetention is the expiry sweep gives a file without a readable
	// xfer expiry, counted from its upload; MinAge is the age below which
	// sweep shreds nothing, whatever the metadata says.
	MaxRetention string `toml:"max_retention"`
	MinAge       string `toml:"min_age"`
}

// DefaultPath is $XDG_CONFIG_HOME/xfer/config.toml, or the platform's
// equivalent.
func DefaultPath() string {
	return filepath.Join(Dir(), "config.toml")
}

// Dir is xfer's configuration directory, where keygen puts keys by default.
func Dir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "xfer")
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return ".xfer"
	}
	return filepath.Join(d, "xfer")
}

// Load reads the file at path. A missing file is no error when optional is
// true (the default path); a missing file that was named explicitly is.
func Load(path string, optional bool) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return &File{}, nil
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	src, err := decodeText(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var f File
	md, err := toml.Decode(src, &f)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			if isEscapeError(perr.Message) {
				return nil, fmt.Errorf("config %s: line %d: %s: %w", path, perr.Position.Line, perr.Message, ErrBackslashEscape)
			}
			return nil, fmt.Errorf("config %s: line %d: %s", path, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if line, quoted := escapedDrivePath(src); line > 0 {
		return nil, fmt.Errorf("config %s: line %d: %s would be read with its escapes, not as the path it looks like: %w", path, line, quoted, ErrBackslashEscape)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("config %s: unknown setting %s", path, strings.Join(keys, ", "))
	}
	if err := f.checkScreen(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &f, nil
}

// decodeText reads a file as a Windows editor may have saved it: UTF-16
// with a byte order mark (PowerShell 5's Out-File and ">") is turned into
// UTF-8; UTF-8, with or without a BOM, is left to the TOML parser, which
// accepts both, and CRLF line ends.
func decodeText(raw []byte) (string, error) {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(raw, []byte{0xff, 0xfe}):
		order = binary.LittleEndian
	case bytes.HasPrefix(raw, []byte{0xfe, 0xff}):
		order = binary.BigEndian
	default:
		return string(raw), nil
	}
	raw = raw[2:]
	if len(raw)%2 != 0 {
		return "", errors.New("UTF-16 file with an odd number of bytes")
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = order.Uint16(raw[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// ErrBackslashEscape marks a file in which a backslash in a double-quoted
// string started an escape, nearly always a Windows path written
// "C:\ProgramData\xfer" with single backslashes. TOML reads '\P' as an error,
// but "C:\xfer\new" as "C:" + U+00FE + "r" + a newline + "ew", so Load
// refuses a double-quoted drive path whose backslash is not doubled.
// The way out is a single-quoted (literal) string: 'C:\ProgramData\xfer'.
var ErrBackslashEscape = errors.New("in double quotes a backslash starts an escape")

// isEscapeError reports whether a TOML parse error is about an escape
// sequence ("invalid escape in string '\P'", "expected eight hexadecimal
// digits after '\U'").
func isEscapeError(msg string) bool {
	return strings.Contains(msg, "escape") || strings.Contains(msg, `after '\`)
}

// drivePathEscape is the start of a double-quoted string holding a drive
// path whose first backslash is single, so it starts an escape.
var drivePathEscape = regexp.MustCompile(`"[A-Za-z]:\\[^\\]`)

// escapedDrivePath finds the first line, outside comment lines, with a
// double-quoted drive path whose backslash starts an escape, and returns
// its number and the string's first characters.
func escapedDrivePath(src string) (line int, quoted string) {
	for i, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if loc := drivePathEscape.FindStringIndex(l); loc != nil {
			quoted = l[loc[0]:]
			if end := strings.IndexByte(quoted[1:], '"'); end >= 0 {
				quoted = quoted[:end+2]
			}
			return i + 1, quoted
		}
	}
	return 0, ""
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseSize parses "5MiB", "64MB", "1GiB" or a plain number of bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || (mult > 1 && n > (1<<62)/mult) {
		return 0, fmt.Errorf("bad size %q (use bytes or a unit: 5MiB, 64MB, 1GiB)", s)
	}
	return n * mult, nil
}

// ParseRate parses a transfer rate in bytes per second: a size per second
// ("20MiB/s", "500KB/s"), or a bare size read as per second. 0 means no
// limit.
func ParseRate(s string) (int64, error) {
	n, err := ParseSize(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	if err != nil {
		return 0, fmt.Errorf("bad rate %q (use 20MiB/s, 500KB/s or bytes per second; 0 for no limit)", s)
	}
	return n, nil
}

// ParseDuration parses Go durations ("90m", "12h") and whole days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(t, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("bad duration %q (use 90m, 12h or 30d)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q (use 90m, 12h or 30d)", s)
	}
	return d, nil
}
