package fileperm

import (
	"slices"
	"strings"
	"testing"
)

const testUser = "S-1-5-21-1004336348-1177238915-682003330-1001"

// The descriptor xfer creates files with grants the user and SYSTEM full
// access, inherits nothing, and passes xfer's own check.
func TestOwnerOnlySDDL(t *testing.T) {
	for _, tc := range []struct {
		dir   bool
		sddl  string
		flags string
	}{
		{false, "D:P(A;;FA;;;" + testUser + ")(A;;FA;;;SY)", ""},
		{true, "D:P(A;OICI;FA;;;" + testUser + ")(A;OICI;FA;;;SY)", "OICI"},
	} {
		s := ownerOnlySDDL(testUser, tc.dir)
		if s != tc.sddl {
			t.Fatalf("ownerOnlySDDL(dir %v) = %q, want %q", tc.dir, s, tc.sddl)
		}
		d, err := parseSDDL("O:" + testUser + s)
		if err != nil {
			t.Fatal(err)
		}
		want := []ace{{"A", tc.flags, 0x1f01ff, testUser}, {"A", tc.flags, 0x1f01ff, sidSystem}}
		if d.nullDACL || !slices.Equal(d.dacl, want) {
			t.Fatalf("parsed %+v, want the DACL %+v", d, want)
		}
		if got := exposedTo(d, testUser); len(got) != 0 {
			t.Fatalf("owner-only descriptor exposed to %v", got)
		}
		// Created by an elevated administrator, the owner is
		// Administrators: still private.
		d, _ = parseSDDL("O:BA" + s)
		if got := exposedTo(d, testUser); len(got) != 0 {
			t.Fatalf("owner-only descriptor owned by BA exposed to %v", got)
		}
		// What a file created inside the directory inherits ("ID").
		if tc.dir {
			d, _ = parseSDDL("O:" + testUser + "D:AI(A;ID;FA;;;" + testUser + ")(A;ID;FA;;;SY)")
			if got := exposedTo(d, testUser); len(got) != 0 {
				t.Fatalf("a file inheriting the directory's entries is exposed to %v", got)
			}
		}
	}
}

func TestExposedTo(t *testing.T) {
	other := "S-1-5-21-1004336348-1177238915-682003330-1002"
	for _, tc := range []struct {
		name, sddl string
		want       []string
	}{
		// A file created by os.OpenFile in C:\ProgramData\xfer inherits
		// read and execute for BUILTIN\Users: the case of issue 15.
		{"ProgramData inherited", "O:" + testUser + "G:" + testUser + "D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1200a9;;;BU)(A;ID;FA;;;" + testUser + ")",
			[]string{"S-1-5-32-545"}},
		{"user profile inherited", "O:" + testUser + "D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;" + testUser + ")", nil},
		{"everyone reads", "O:" + testUser + "D:(A;;FA;;;" + testUser + ")(A;;FR;;;WD)", []string{sidEveryone}},
		{"another user writes only", "O:" + testUser + "D:(A;;FA;;;" + testUser + ")(A;;FW;;;" + other + ")", []string{other}},
		{"authenticated users may rewrite the DACL", "D:(A;;FA;;;" + testUser + ")(A;;WD;;;AU)", []string{"S-1-5-11"}},
		{"generic read, hex rights", "D:(A;;0x80000000;;;BU)(A;;GRGW;;;IU)", []string{"S-1-5-32-545", "S-1-5-4"}},
		{"attributes and ACL reading expose nothing", "D:(A;;FA;;;" + testUser + ")(A;;0x20080;;;WD)", nil},
		{"inherit-only entries apply to children", "D:P(A;;FA;;;" + testUser + ")(A;OICIIO;FA;;;BU)", nil},
		{"denied first", "D:(D;;FA;;;BU)(A;;FR;;;BU)", nil},
		{"denied after the allow is too late", "D:(A;;FR;;;BU)(D;;FA;;;BU)", []string{"S-1-5-32-545"}},
		{"a domain alias is nobody trusted", "D:(A;;FR;;;DU)", []string{"DU"}},
		{"each SID once", "D:(A;;FR;;;BU)(A;ID;FA;;;BU)", []string{"S-1-5-32-545"}},
		{"null DACL", "O:" + testUser + "D:NO_ACCESS_CONTROL", []string{sidEveryone}},
		{"no DACL at all", "O:" + testUser + "G:SY", []string{sidEveryone}},
		{"empty DACL: nobody", "O:" + testUser + "D:P", nil},
		{"conditional ACE with colons", `D:(XA;;FR;;;WD;(@User.Dept == "a:b"))(A;;FA;;;SY)`, []string{sidEveryone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := parseSDDL(tc.sddl)
			if err != nil {
				t.Fatal(err)
			}
			if got := exposedTo(d, testUser); !slices.Equal(got, tc.want) {
				t.Fatalf("exposedTo(%s) = %v, want %v", tc.sddl, got, tc.want)
			}
		})
	}
}

func TestParseSDDLErrors(t *testing.T) {
	for _, s := range []string{
		"X:foo",
		"D:(A;;FA;;;SY",
		"D:(A;;FA;;)",
		"D:(A;;ZZ;;;SY)",
		"D:(A;;FAF;;;SY)",
		"D:(A;;0xfffffffff;;;SY)",
		"D:(A;;FA;;;SY)junk",
	} {
		if d, err := parseSDDL(s); err == nil {
			t.Errorf("parseSDDL(%q) = %+v, want an error", s, d)
		}
	}
}

func TestParseRights(t *testing.T) {
	for s, want := range map[string]uint32{
		"FA": 0x1f01ff, "FR": 0x120089, "FRFW": 0x12019f, "0x1200a9": 0x1200a9,
		"GA": 0x10000000, "RCWDWO": 0xe0000, "1179817": 0x1200a9,
	} {
		if got, err := parseRights(s); err != nil || got != want {
			t.Errorf("parseRights(%q) = %#x, %v, want %#x", s, got, err, want)
		}
	}
}

func TestIcaclsFix(t *testing.T) {
	got := icaclsFix(`C:\ProgramData\xfer\zip.pw`, testUser, []string{"S-1-5-32-545", "DU"})
	want := `icacls "C:\ProgramData\xfer\zip.pw" /inheritance:r /grant:r "*` + testUser + `:F" /remove:g "*S-1-5-32-545"`
	if got != want {
		t.Fatalf("icaclsFix =\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(got, "DU") {
		t.Fatal("an unresolved alias reached the command line")
	}
}

// FuzzParseSDDL feeds arbitrary text to the SDDL reader: it never panics,
// and what it reads judges without panicking, never trusting a SID that
// is not in the trusted set.
func FuzzParseSDDL(f *testing.F) {
	for _, s := range []string{
		ownerOnlySDDL(testUser, false),
		ownerOnlySDDL(testUser, true),
		"O:" + testUser + "G:" + testUser + "D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1200a9;;;BU)",
		"D:NO_ACCESS_CONTROL",
		`D:(XA;;FR;;;WD;(@User.Dept == "a:b"))`,
		"O:BAD:(D;;FA;;;BU)(A;;GRGW;;;BU)S:(AU;SA;FA;;;WD)",
		"D:((((",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSDDL(s)
		if err != nil {
			return
		}
		for _, sid := range exposedTo(d, testUser) {
			if sid == testUser || sid == sidSystem || sid == sidAdministrators || (sid == d.owner && !d.nullDACL) {
				t.Fatalf("%q: trusted SID %s reported as exposure", s, sid)
			}
		}
	})
}
