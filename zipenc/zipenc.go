// Package zipenc writes and reads password-protected zip archives in the
// WinZip AES format (AE-2 with AES-256 on write; AE-1 and AE-2 with AES-128,
// -192 and -256 on read), the inner layer of an xfer sealed file. The tests
// check that 7-Zip, bsdtar and yeka/zip read what it writes, and that it
// reads what 7-Zip writes.
//
// What it promises:
//
//   - Streaming both ways with bounded memory. The Writer compresses on
//     Options.Concurrency cores: the input is cut into 1 MiB blocks, each
//     compressed with klauspost/compress/flate primed with the previous
//     block's last 32 KiB (but every fourth, which starts a segment), the
//     pieces joined into one standard deflate stream and then encrypted and
//     authenticated in order. The central directory records where the
//     segments begin (segments.go), so that a reader can inflate them on
//     several cores; other tools ignore the record and read one stream.
//     At most 2×Concurrency+3 blocks (about 2 MiB each with their output)
//     are in memory, whatever the entry size: about 15 MiB on two cores.
//     The Reader never holds an entry in memory: it reads it through the
//     io.ReaderAt, decrypting, inflating and writing in three goroutines
//     that pass a few 256 KiB buffers along. Its parallel inflate of a
//     segmented entry (up to four 4 MiB segments at once, proved equal to
//     the serial result or ErrIntegrity, whatever the table says) makes
//     opening about a third faster on two cores (see parallelInflate).
//     Segments are inflated by a decoder of xfer's own (inflate.go), which
//     works on whole buffers at about twice klauspost's speed and is held
//     to compress/flate's answers by a fuzz test; the serial path, for
//     zips made by other tools, uses klauspost/compress/flate.
//   - File.Extract writes nothing to its destination unless the entry's
//     HMAC-SHA1 verified over the whole ciphertext (it reads the entry
//     twice: first the HMAC, then the content), and never writes more than
//     the entry's declared size. File.ExtractOnce reads it once and checks
//     the HMAC at the end, for destinations that are discarded unless it
//     succeeds.
//   - A hardened Reader: malformed, truncated or hostile archives give an
//     error matching ErrIntegrity (or ErrUnsupported), never a panic, and no
//     buffer is ever sized from a length read out of the archive.
//   - Entry names are checked both ways: no absolute paths, drive letters,
//     ".." components, backslashes, control characters (C0, DEL, C1) or
//     bidirectional-text controls, which would reach a terminal as escape
//     sequences or disguise a name.
//
// What it never does: write or read ZipCrypto, split or multi-disk archives,
// or anything but stored and deflated entries; write a CRC that could leak
// information about the plaintext (AE-2 stores zero); trust a size, an
// offset or a name from the archive without checking it; touch the file
// system (callers pass an io.Writer or io.ReaderAt); close the destination
// or source it was given.
//
// The zip layer is a compatibility format: PBKDF2-HMAC-SHA1 with 1000
// iterations, HMAC-SHA1 truncated to 80 bits and clear-text names are weak by
// today's standards, which is why xfer wraps it in a modern outer layer.
package zipenc

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultLevel is the deflate level used when Options.Level is 0, chosen
// by measurement on address CSV from internal/testkit/addrgen (BenchmarkWriter):
//
//	level        output/input  vs stdlib flate 5  MB per CPU-second
//	stdlib 5     0.2424        1.000              ~52
//	ours 1       0.2939        1.212              ~215
//	ours 4       0.2779        1.146              (too large)
//	ours 5       0.2597        1.071              ~140
//	ours 6       0.2557        1.055              ~122
//
// Level 5 is the fastest level within the 10 % size budget; the Writer
// runs it on every core.
const DefaultLevel = 5

// Stored is the Options.Level that writes entries without compression
// (method 0, still encrypted and authenticated).
const Stored = -1

// Errors returned by the Reader, possibly wrapped with detail; test them
// with errors.Is.
var (
	// ErrPassword means the password verifier did not match: almost
	// certainly the wrong password.
	ErrPassword = errors.New("wrong zip password")

	// ErrIntegrity means the archive is damaged, truncated, tampered with
	// or malformed: an HMAC, CRC or size mismatch, a bad header.
	ErrIntegrity = errors.New("zip integrity check failed")

	// ErrUnsupported means a well-formed entry uses something this package
	// does not implement: no encryption, ZipCrypto, a compression method
	// other than stored and deflate (BZip2, LZMA, ...), an unknown AES
	// variant. It does not match ErrIntegrity: the archive is not damaged,
	// it was made by a tool or with settings xfer does not read, and the
	// message names what.
	ErrUnsupported = errors.New("unsupported zip entry")
)

func integrityf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrIntegrity, fmt.Sprintf(format, args...))
}

// unsupportedf is an ErrUnsupported error; it does not match ErrIntegrity.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// checkName reports whether name is safe to extract and to print:
// relative, slash separated, without "." or ".." components, backslashes,
// control characters or a drive letter. Its errors quote the name with
// every control character escaped.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > 0xffff:
		return errors.New("name longer than 65535 bytes")
	case strings.ContainsRune(name, '\\'):
		return fmt.Errorf("name %q contains a backslash", name)
	case name[0] == '/':
		return fmt.Errorf("name %q is absolute", name)
	case len(name) >= 2 && name[1] == ':':
		return fmt.Errorf("name %q starts with a drive letter", name)
	}
	for _, r := range name {
		if isControl(r) {
			return fmt.Errorf("name %q contains control character %U", name, r)
		}
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == ".." || part == "." {
			return fmt.Errorf("name %q contains a %q component", name, part)
		}
	}
	return nil
}

// isControl reports the characters no entry name may hold: Unicode's
// control characters (C0 including NUL, DEL, C1, which terminals act on)
// and the bidirectional-text controls and line separators, which make a
// name display as something else (a ".csv" that is a ".exe"). Bytes of a
// name that is not UTF-8 (a legacy code page) are not interpreted, except
// that the C0 range and DEL are the same in all of them.
func isControl(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f', // Arabic letter mark, LRM, RLM
		'\u2028' <= r && r <= '\u202e', // line and paragraph separators, embeddings, overrides
		'\u2066' <= r && r <= '\u2069': // isolates
		return true
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// MS-DOS date and time, the zip header's native (local, 2-second) clock.
func timeToDOS(t time.Time) (date, tim uint16) {
	if t.Year() < 1980 {
		return 1<<5 | 1, 0 // 1980-01-01 00:00:00
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, t.Location())
	}
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	tim = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return date, tim
}

func dosToTime(date, tim uint16) time.Time {
	return time.Date(
		int(date>>9)+1980, time.Month(date>>5&0xf), int(date&0x1f),
		int(tim>>11), int(tim>>5&0x3f), int(tim&0x1f)*2, 0,
		time.Local, // DOS times carry no zone; tools write local time
	)
}
