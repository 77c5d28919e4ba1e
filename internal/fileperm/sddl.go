package fileperm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file is the pure part of the Windows protection, written in SDDL
// (Security Descriptor Definition Language), the text form Windows itself
// converts descriptors to and from. It has no build tag so its tests run
// on every platform; fileperm_windows.go only converts between SDDL and
// the system's descriptors.

// Well-known SIDs.
const (
	sidEveryone       = "S-1-1-0"
	sidSystem         = "S-1-5-18"
	sidAdministrators = "S-1-5-32-544"
	sidCreatorOwner   = "S-1-3-0"
	sidCreatorGroup   = "S-1-3-1"
	sidOwnerRights    = "S-1-3-4"
)

// ownerOnlySDDL is the descriptor of a private file: a protected DACL
// ("P": nothing inherited from the folder) granting full file access
// ("FA") to the user whose SID is given and to SYSTEM ("SY"), and nothing
// to anyone else. The owner is left to Windows (the creating user). For a
// directory the entries are inherited ("OICI") by the files and
// directories created inside it.
func ownerOnlySDDL(userSID string, dir bool) string {
	inherit := ""
	if dir {
		inherit = "OICI"
	}
	return "D:P(A;" + inherit + ";FA;;;" + userSID + ")(A;" + inherit + ";FA;;;SY)"
}

// exposingRights are the access bits that let someone read a file's
// data, change it, or change who may: FILE_READ_DATA, FILE_WRITE_DATA,
// FILE_APPEND_DATA, WRITE_DAC, WRITE_OWNER and the generic rights that
// include them. Reading attributes or the DACL itself exposes nothing.
const exposingRights = 0x1 | 0x2 | 0x4 | 0x40000 | 0x80000 | 0x10000000 | 0x40000000 | 0x80000000

// An ace is one access control entry as SDDL writes it.
type ace struct {
	typ    string // "A" allow, "D" deny, ...
	flags  string // "ID", "OICI", "IO", ...
	rights uint32
	sid    string // a SID, with SDDL's aliases ("SY", "BU") resolved where well-known
}

// descriptor is what an SDDL string says about a file's access.
type descriptor struct {
	owner    string
	nullDACL bool // no DACL or "NO_ACCESS_CONTROL": everyone has full access
	dacl     []ace
}

// parseSDDL reads the owner and the DACL of an SDDL string such as
// ConvertSecurityDescriptorToStringSecurityDescriptor writes
// ("O:S-1-5-…G:…D:AI(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BU)"). A descriptor
// without a D: part has no DACL.
func parseSDDL(s string) (descriptor, error) {
	d := descriptor{nullDACL: true}
	for s != "" {
		if len(s) < 2 || s[1] != ':' || !strings.ContainsRune("OGDS", rune(s[0])) {
			return d, fmt.Errorf("malformed SDDL at %q", s)
		}
		tag := s[0]
		s = s[2:]
		end := sectionEnd(s)
		body := s[:end]
		s = s[end:]
		switch tag {
		case 'O':
			d.owner = resolveSID(body)
		case 'D':
			aces, null, err := parseACL(body)
			if err != nil {
				return d, err
			}
			d.dacl, d.nullDACL = aces, null
		}
	}
	return d, nil
}

// sectionEnd is where the next "O:", "G:", "D:" or "S:" starts, outside
// parentheses (conditional ACEs may hold colons).
func sectionEnd(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && i+1 < len(s) && s[i+1] == ':' && strings.ContainsRune("OGDS", rune(c)):
			return i
		}
	}
	return len(s)
}

// parseACL reads "P" "AI" "AR" flags and then "(…)(…)" entries.
func parseACL(s string) (aces []ace, null bool, err error) {
	flags, rest, _ := strings.Cut(s, "(")
	if strings.Contains(flags, "NO_ACCESS_CONTROL") {
		return nil, true, nil
	}
	if rest == "" {
		return nil, false, nil
	}
	rest = "(" + rest
	for rest != "" {
		if rest[0] != '(' {
			return nil, false, fmt.Errorf("malformed ACE list at %q", rest)
		}
		depth, end := 0, -1
		for i := 0; i < len(rest) && end < 0; i++ {
			switch rest[i] {
			case '(':
				depth++
			case ')':
				if depth--; depth == 0 {
					end = i
				}
			}
		}
		if end < 0 {
			return nil, false, fmt.Errorf("unterminated ACE in %q", rest)
		}
		fields := strings.SplitN(rest[1:end], ";", 7)
		rest = rest[end+1:]
		if len(fields) < 6 {
			return nil, false, fmt.Errorf("ACE with %d fields", len(fields))
		}
		rights, err := parseRights(fields[2])
		if err != nil {
			return nil, false, err
		}
		aces = append(aces, ace{typ: fields[0], flags: fields[1], rights: rights, sid: resolveSID(fields[5])})
	}
	return aces, false, nil
}

// rightCodes are SDDL's two-letter access rights.
var rightCodes = map[string]uint32{
	"GA": 0x10000000, "GR": 0x80000000, "GW": 0x40000000, "GX": 0x20000000,
	"RC": 0x20000, "SD": 0x10000, "WD": 0x40000, "WO": 0x80000,
	"RP": 0x10, "WP": 0x20, "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "LO": 0x80, "DT": 0x40, "CR": 0x100,
	"FA": 0x1f01ff, "FR": 0x120089, "FW": 0x120116, "FX": 0x1200a0,
	"KA": 0xf003f, "KR": 0x20019, "KW": 0x20006, "KX": 0x20019,
	"NR": 0x1, "NW": 0x2, "NX": 0x4,
}

func parseRights(s string) (uint32, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") || (s != "" && s[0] >= '0' && s[0] <= '9') {
		v, err := strconv.ParseUint(s, 0, 32)
		if err != nil {
			return 0, fmt.Errorf("access rights %q: %w", s, err)
		}
		return uint32(v), nil
	}
	if len(s)%2 != 0 {
		return 0, fmt.Errorf("access rights %q", s)
	}
	var v uint32
	for i := 0; i < len(s); i += 2 {
		r, ok := rightCodes[s[i:i+2]]
		if !ok {
			return 0, fmt.Errorf("unknown access right %q in %q", s[i:i+2], s)
		}
		v |= r
	}
	return v, nil
}

// sidAliases are SDDL's machine-independent SID abbreviations. Domain-
// relative ones (DA, DU, …) stay as written: they are nobody xfer trusts.
var sidAliases = map[string]string{
	"WD": sidEveryone, "SY": sidSystem, "BA": sidAdministrators,
	"CO": sidCreatorOwner, "CG": sidCreatorGroup, "OW": sidOwnerRights,
	"AN": "S-1-5-7", "AU": "S-1-5-11", "BG": "S-1-5-32-546", "BU": "S-1-5-32-545",
	"IU": "S-1-5-4", "NU": "S-1-5-2", "SU": "S-1-5-6", "PS": "S-1-5-10",
	"LS": "S-1-5-19", "NS": "S-1-5-20", "PU": "S-1-5-32-547", "BO": "S-1-5-32-551",
	"SO": "S-1-5-32-549", "AO": "S-1-5-32-548", "RD": "S-1-5-32-555",
	"WR": "S-1-5-33", "AC": "S-1-15-2-1",
}

func resolveSID(s string) string {
	if sid, ok := sidAliases[s]; ok {
		return sid
	}
	return s
}

// exposedTo lists the SIDs, other than the file's owner, the current
// user, SYSTEM and Administrators, that d lets read, change or
// re-permission the file, sorted. Inherit-only entries do not apply to the
// file itself. A deny entry for the same SID earlier in the list takes its
// rights away, as Windows' ordered check does; denies through group
// membership are not resolved, so the answer errs towards exposure. A
// missing or null DACL exposes the file to Everyone.
func exposedTo(d descriptor, user string) []string {
	if d.nullDACL {
		return []string{sidEveryone}
	}
	trusted := []string{d.owner, user, sidSystem, sidAdministrators, sidOwnerRights, sidCreatorOwner, sidCreatorGroup}
	denied := map[string]uint32{}
	var out []string
	for _, e := range d.dacl {
		if hasFlag(e.flags, "IO") {
			continue
		}
		switch e.typ {
		case "D", "OD", "XD":
			denied[e.sid] |= e.rights
		case "A", "OA", "XA", "ZA":
			if e.rights&^denied[e.sid]&exposingRights != 0 && !slices.Contains(trusted, e.sid) && !slices.Contains(out, e.sid) {
				out = append(out, e.sid)
			}
		}
	}
	slices.Sort(out)
	return out
}

// hasFlag reports whether SDDL ACE flags (two letters each) include f.
func hasFlag(flags, f string) bool {
	for i := 0; i+2 <= len(flags); i += 2 {
		if flags[i:i+2] == f {
			return true
		}
	}
	return false
}

// icaclsFix is the command, for cmd.exe and PowerShell alike, that makes
// path private to the user with SID user: drop the inherited entries,
// grant the user alone full control, and remove the entries of the SIDs
// found exposing it. icacls takes SIDs as *S-1-…, which no account name
// translation (or localisation) can get wrong.
func icaclsFix(path, user string, exposed []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `icacls "%s" /inheritance:r /grant:r "*%s:F"`, path, user)
	for _, sid := range exposed {
		if strings.HasPrefix(sid, "S-") {
			fmt.Fprintf(&b, ` /remove:g "*%s"`, sid)
		}
	}
	return b.String()
}
