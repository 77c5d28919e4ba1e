package safefile

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// PortableName maps a file name that came from elsewhere (a zip entry, an
// object name) to a base name that is safe to create in a directory on
// every system xfer runs on, and the same on each: it never leaves the
// directory and never means a device or a stream.
//
// Path separators (/ and \), the characters Windows refuses (< > : " | ? *;
// a colon would name an NTFS alternate data stream), control and format
// characters (C0, DEL, C1, bidi overrides, zero-width characters), line
// separators and invalid UTF-8 become "_"; dots and spaces at the end,
// which Windows drops, are removed; a name Windows reserves for a device
// (CON, PRN, AUX, NUL, COM1-9, LPT1-9, CONIN$, CONOUT$, with or without an
// extension) gets a leading "_". A name that is empty, starts with a dot
// or is nothing but dots after that becomes fallback.
func PortableName(name, fallback string) string {
	var b strings.Builder
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		i += n
		switch {
		case r == utf8.RuneError && n == 1, strings.ContainsRune(`/\<>:"|?*`, r),
			unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.TrimRight(b.String(), ". ")
	if s == "" || s[0] == '.' {
		return fallback
	}
	if isReservedName(s) {
		s = "_" + s
	}
	return s
}

// isReservedName reports a name Windows takes for a device, whatever its
// extension and case ("nul.csv", "Com1.txt"); the digits include the
// superscripts ¹²³ that Windows also reserves.
func isReservedName(s string) bool {
	stem, _, _ := strings.Cut(s, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) > 3 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) {
		switch stem[3:] {
		case "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return true
		}
	}
	return false
}
