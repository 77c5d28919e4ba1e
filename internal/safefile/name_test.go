package safefile

import "testing"

func TestPortableName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"acme.csv", "acme.csv"},
		{"Müller & Söhne 2026.csv", "Müller & Söhne 2026.csv"},
		{"a/b.csv", "a_b.csv"},
		{`..\..\evil.csv`, "unnamed"},
		{`in\..\evil.csv`, "in_.._evil.csv"},
		{"x.csv:hidden", "x.csv_hidden"},
		{"C:evil.csv", "C_evil.csv"},
		{"\x1b]0;pwned\a\x1b[31mRED.csv", "_]0;pwned__[31mRED.csv"},
		{"acme\u202evsc.exe", "acme_vsc.exe"},
		{"a\u2028b.csv", "a_b.csv"},
		{"a\xffb.csv", "a_b.csv"},
		{"a\u0085b.csv", "a_b.csv"},
		{`what?<>|*".csv`, "what______.csv"},
		{"report.csv. . ", "report.csv"},
		{"CON", "_CON"},
		{"nul.csv", "_nul.csv"},
		{"Com1.txt", "_Com1.txt"},
		{"lpt9", "_lpt9"},
		{"COM¹.csv", "_COM¹.csv"},
		{"conout$.csv", "_conout$.csv"},
		{"CONTRACTS.csv", "CONTRACTS.csv"},
		{"COM10.csv", "COM10.csv"},
		{"..", "unnamed"},
		{"...", "unnamed"},
		{".hidden", "unnamed"},
		{"", "unnamed"},
		{" . ", "unnamed"},
	} {
		if got := PortableName(c.in, "unnamed"); got != c.want {
			t.Errorf("PortableName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
