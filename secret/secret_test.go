package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/testutil"
)

// utf16Bytes encodes s as UTF-16 with a byte order mark, line ends as
// given.
func utf16Bytes(s string, bigEndian bool) []byte {
	enc := "utf16le-nocrlf"
	if bigEndian {
		enc = "utf16be-nocrlf"
	}
	b, err := testutil.WindowsText(s, enc)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodeText(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"plain", []byte("Kq7mx-Rm4tz\n"), "Kq7mx-Rm4tz\n"},
		{"no line end", []byte("Kq7mx-Rm4tz"), "Kq7mx-Rm4tz"},
		{"utf-8 bom, crlf (Notepad, PowerShell 7 Set-Content)", []byte("\xef\xbb\xbfKq7mx-Rm4tz\r\n"), "Kq7mx-Rm4tz\n"},
		{"utf-16le bom, crlf (PowerShell 5 >)", utf16Bytes("Kq7mx-Rm4tz\r\n", false), "Kq7mx-Rm4tz\n"},
		{"utf-16be bom", utf16Bytes("Kq7mx-Rm4tz", true), "Kq7mx-Rm4tz"},
		{"utf-16le umlauts and a surrogate pair", utf16Bytes("Grüße-𝄞-Straße1\r\n", false), "Grüße-𝄞-Straße1\n"},
		{"several lines", []byte("# c\r\nage1x\r\n\r\nage1y"), "# c\nage1x\n\nage1y"},
		{"lone cr stays", []byte("a\rb"), "a\rb"},
		{"empty", nil, ""},
		{"bom only", []byte("\xef\xbb\xbf"), ""},
		{"utf-16 bom only", []byte{0xFF, 0xFE}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeText(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("DecodeText = %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range [][]byte{
		{0xFF, 0xFE, 'a'},                // odd length
		{0xFF, 0xFE, 0x3D, 0xD8},         // high surrogate at the end
		{0xFF, 0xFE, 0x3D, 0xD8, 'a', 0}, // high surrogate, then a letter
	} {
		if _, err := DecodeText(bad); !errors.Is(err, ErrEncoding) {
			t.Errorf("DecodeText(% x) = %v, want ErrEncoding", bad, err)
		}
	}
}

func TestParse(t *testing.T) {
	const pw = "Kq7mx-Rm4tz-Hp2wd"
	for _, tt := range []struct {
		name string
		in   []byte
		want string // "" means an error matching ErrPolicy
		why  string
	}{
		{"one line, lf", []byte(pw + "\n"), pw, ""},
		{"no line end (Notepad)", []byte(pw), pw, ""},
		{"bom + crlf", []byte("\xef\xbb\xbf" + pw + "\r\n"), pw, ""},
		{"utf-16le + bom + crlf", utf16Bytes(pw+"\r\n", false), pw, ""},
		{"utf-16be + bom", utf16Bytes(pw, true), pw, ""},
		{"umlauts kept", []byte("Grüße-Straße-1\n"), "Grüße-Straße-1", ""},
		{"inner spaces kept", []byte("correct Horse 7 battery\n"), "correct Horse 7 battery", ""},
		{"two line ends", []byte(pw + "\n\n"), "", "more than one line"},
		{"second line", []byte(pw + "\nsomething\n"), "", "more than one line"},
		{"trailing space", []byte(pw + " \n"), "", "begins or ends with a space"},
		{"leading space", []byte(" " + pw), "", "begins or ends with a space"},
		{"trailing nbsp", []byte(pw + "\u00a0"), "", "begins or ends with a space"},
		{"tab", []byte("Kq7mx\tRm4tz"), "", "a tab"},
		{"lone cr", []byte("Kq7mx\rRm4tz"), "", "carriage return"},
		{"nul", []byte("Kq7mx\x00Rm4tz"), "", "control character"},
		{"escape", []byte("Kq7mx\x1b[31mRm4tz"), "", "control character"},
		{"bom twice", []byte("\xef\xbb\xbf\xef\xbb\xbf" + pw), "", "invisible"},
		{"zero-width space", []byte("Kq7mx\u200bRm4tz"), "", "invisible"},
		{"windows-1252", []byte("Gr\xfc\xdfe-Stra\xdfe-1"), "", "not UTF-8"},
		{"odd utf-16", []byte{0xFF, 0xFE, 'a'}, "", "odd number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("zip password", tt.in)
			if tt.want != "" {
				if err != nil || string(got) != tt.want {
					t.Fatalf("Parse = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Parse = %q, %v; want ErrPolicy saying %q", got, err, tt.why)
			}
			if !strings.HasPrefix(err.Error(), "zip password rejected: ") {
				t.Errorf("error %q does not name the secret", err)
			}
			if strings.Contains(err.Error(), "Kq7mx") || strings.Contains(err.Error(), "Rm4tz") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestCheckZipPassword(t *testing.T) {
	for _, pw := range []string{"Corr3ct-Horse-Battery", "Kq7mx-Rm4tz-Hp2wd-Xa9ke", "Zp9-0123456789abcdef01234567", "Xfer-Test-Pw1", "Grüße-aus-Köln-1987-xQ"} {
		if err := CheckZipPassword([]byte(pw), 0); err != nil {
			t.Errorf("%q: %v", pw, err)
		}
	}
	for pw, want := range map[string][]string{
		"Password12":      {"too easy to guess", "a common password", "policy wants at least 100 million"},
		"Sommer2026":      {"too easy to guess", "a season, a month, a city or another word common here", "a date or year"},
		"Passwort2024":    {"too easy to guess", "another word common here"},
		"Asdfghjkl12":     {"too easy to guess", "a sequence"},
		"Hallo12345":      {"too easy to guess"},
		"short":           {"at least 10 characters (it has 5)", "an upper-case letter", "a digit"},
		"alllowercase123": {"an upper-case letter"},
		"ALLUPPER123456":  {"a lower-case letter"},
		"Kq7mx Rm4tz ":    {"begins or ends with a space"},
		"Kq7mx\tRm4tzHp2": {"a tab"},
	} {
		err := CheckZipPassword([]byte(pw), 0)
		if !errors.Is(err, ErrPolicy) {
			t.Errorf("%q: %v, want ErrPolicy", pw, err)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %q does not say %q", pw, err, w)
			}
		}
		if strings.Contains(err.Error(), strings.TrimSpace(pw)) || strings.Contains(strings.ToLower(err.Error()), "sommer") {
			t.Errorf("%q: the message %q shows the password", pw, err)
		}
	}
	if err := CheckZipPassword([]byte("Kq7mx-Rm4tz-Hp2"), 16); err == nil || !strings.Contains(err.Error(), "at least 16 characters") {
		t.Errorf("a raised minimum: %v", err)
	}
	if err := CheckZipPassword([]byte("Kq7mx-Rm4tz"), 4); err != nil {
		t.Errorf("a lower configured minimum is ignored: %v", err)
	}
	// A very long password is judged quickly (the estimator sees a prefix).
	long := strings.Repeat("ab1Z", 1000)
	if err := CheckZipPassword([]byte(long), 0); !errors.Is(err, ErrPolicy) {
		t.Errorf("a long repetition: %v, want ErrPolicy", err)
	}
}

func TestGenerateZipPassword(t *testing.T) {
	shape := regexp.MustCompile(`^[A-HJ-NP-Z][a-km-np-z2-9]{4}(-[A-HJ-NP-Z][a-km-np-z2-9]{4}){3,}$`)
	seen := map[string]bool{}
	for range 50 {
		pw, err := GenerateZipPassword(0)
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(pw) || len(pw) != 23 {
			t.Fatalf("%q has the wrong shape", pw)
		}
		if err := CheckZipPassword([]byte(pw), 0); err != nil {
			t.Fatalf("%q fails the policy: %v", pw, err)
		}
		if seen[pw] {
			t.Fatalf("%q drawn twice", pw)
		}
		seen[pw] = true
	}
	if b := GeneratedBits(0); b < 80 || b > 100 {
		t.Errorf("GeneratedBits(0) = %.1f, want 80..100", b)
	}
	pw, err := GenerateZipPassword(30)
	if err != nil || len(pw) < 30 || !shape.MatchString(pw) {
		t.Errorf("GenerateZipPassword(30) = %q, %v", pw, err)
	}
}

func TestCheckCodes(t *testing.T) {
	// Fixed values: a code must never change between releases, or two
	// sides with different versions would disagree.
	const rcpt = "age1ek0jtzveclytp53uhxx24m4yf40y54qaajfxw4jq05wpw3tytv4qfsgsl3"
	got := RecipientCheckCode(rcpt)
	if !regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`).MatchString(got) {
		t.Fatalf("RecipientCheckCode = %q", got)
	}
	if want := recipientCodeVector; got != want {
		t.Errorf("RecipientCheckCode = %q, want %q", got, want)
	}
	if RecipientCheckCode("  "+strings.ToUpper(rcpt)+"\n") != got {
		t.Error("the code depends on case or surrounding space")
	}
	if RecipientCheckCode(rcpt[:len(rcpt)-1]+"4") == got {
		t.Error("another recipient has the same code")
	}
	ssh := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB/VUMF3/inE"
	if RecipientCheckCode(ssh+" alice@host") != RecipientCheckCode(ssh) {
		t.Error("an SSH key's comment changes its code")
	}

	code := ZipPasswordCheckCode([]byte("Kq7mx-Rm4tz-Hp2wd-Xa9ke"))
	if len(code) != PasswordCodeChars || strings.Trim(code, codeAlphabet) != "" {
		t.Fatalf("ZipPasswordCheckCode = %q", code)
	}
	if want := passwordCodeVector; code != want {
		t.Errorf("ZipPasswordCheckCode = %q, want %q", code, want)
	}
	if ZipPasswordCheckCode([]byte("Kq7mx-Rm4tz-Hp2wd-Xa9kf")) == code {
		t.Error("a one-letter change keeps the code (possible, 1 in 2^20; pick another pair)")
	}
}

// The expected check codes, computed once by this implementation and
// frozen.
const (
	recipientCodeVector = "m6pf-hxx1-q1yc"
	passwordCodeVector  = "py32"
)

func TestEncode(t *testing.T) {
	if got := encode([]byte{0xff, 0xff, 0xff}, 4); got != "zzzz" {
		t.Errorf("encode ff = %q", got)
	}
	if got := encode([]byte{0x08, 0x42, 0x10, 0x84, 0x21}, 8); got != "11111111" {
		t.Errorf("encode = %q, want 11111111", got)
	}
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write("zip.pw", utf16Bytes("Kq7mx-Rm4tz-Hp2wd\r\n", false), 0o600)
	if got, err := ReadSecretFile("zip password", p); err != nil || string(got) != "Kq7mx-Rm4tz-Hp2wd" {
		t.Errorf("ReadSecretFile = %q, %v", got, err)
	}
	for _, empty := range [][]byte{nil, []byte("\n"), []byte("\xef\xbb\xbf\r\n"), utf16Bytes("", false)} {
		if _, err := ReadSecretFile("zip password", write("empty", empty, 0o600)); !errors.Is(err, ErrEmpty) || errors.Is(err, ErrPolicy) {
			t.Errorf("empty file % x: %v, want ErrEmpty", empty, err)
		}
	}
	if _, err := ReadSecretFile("zip password", filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := write("big", bytes.Repeat([]byte("a"), maxSecretFileSize+1), 0o600)
	if _, err := ReadSecretFile("zip password", big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("large file: %v", err)
	}
	// 32 bytes are a raw key, even when they begin like a byte order mark.
	raw := append([]byte{0xFF, 0xFE, 0xEF, 0xBB, 0xBF}, bytes.Repeat([]byte{'\r', '\n'}, 14)[:27]...)
	if got, err := ReadKeyFile(write("raw.key", raw, 0o600)); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("raw key changed: % x, %v", got, err)
	}
	if got, err := ReadKeyFile(write("r.txt", []byte("\xef\xbb\xbf# mailing house\r\nage1abc\r\n"), 0o644)); err != nil || string(got) != "# mailing house\nage1abc\n" {
		t.Errorf("ReadKeyFile = %q, %v", got, err)
	}

	if runtime.GOOS == "windows" {
		return
	}
	open := write("open", []byte("x"), 0o644)
	os.Chmod(open, 0o644) // whatever the umask
	if got, fix := Exposed(open); got != "mode 0644" || fix != "chmod 600 "+open {
		t.Errorf("Exposed(0644) = %q, %q", got, fix)
	}
	if got, _ := Exposed(p); got != "" {
		t.Errorf("Exposed(0600) = %q", got)
	}
	if got, _ := Exposed(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("Exposed(missing) = %q", got)
	}
}

// FuzzParse checks the secret file decoder: it never panics, what it
// returns passes CheckShape, and a valid secret written as any editor
// would (BOM, UTF-16, CRLF) reads back as itself.
func FuzzParse(f *testing.F) {
	for _, s := range [][]byte{[]byte("Kq7mx-Rm4tz\n"), []byte("\xef\xbb\xbfa\r\n"), utf16Bytes("Grüße\r\n", false), utf16Bytes("x", true), {0xFF, 0xFE, 0x3D, 0xD8}, []byte("a\rb\n")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Parse("passphrase", in)
		if err != nil {
			if !errors.Is(err, ErrPolicy) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("error %v does not match ErrPolicy", err)
			}
			return
		}
		if err := CheckShape("passphrase", got); err != nil {
			t.Fatalf("Parse returned %q, which fails CheckShape: %v", got, err)
		}
		s := string(got)
		for _, enc := range [][]byte{
			[]byte(s), []byte(s + "\n"), []byte("\xef\xbb\xbf" + s + "\r\n"),
			utf16Bytes(s+"\r\n", false), utf16Bytes(s, true),
		} {
			back, err := Parse("passphrase", enc)
			if err != nil || !bytes.Equal(back, got) {
				t.Fatalf("%q written as % x reads back as %q, %v", s, enc, back, err)
			}
		}
	})
}

// BenchmarkZipPasswordCheckCode measures what one guess against a check
// code costs (docs/threat-model.md, "Check codes").
func BenchmarkZipPasswordCheckCode(b *testing.B) {
	for b.Loop() {
		ZipPasswordCheckCode([]byte("Kq7mx-Rm4tz-Hp2wd-Xa9ke"))
	}
}

// BenchmarkCheckZipPassword measures the policy with its strength
// estimate on a generated password.
func BenchmarkCheckZipPassword(b *testing.B) {
	for b.Loop() {
		CheckZipPassword([]byte("Kq7mx-Rm4tz-Hp2wd-Xa9ke"), 0)
	}
}
