package crypt

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestParseRecipient(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	pq, _ := age.GenerateHybridIdentity()
	keys := sshKeys()
	for _, c := range []struct {
		in   string
		want string // type name, or "" for an error
	}{
		{x.Recipient().String(), "*age.X25519Recipient"},
		{"  " + x.Recipient().String() + "\n", "*age.X25519Recipient"},
		{pq.Recipient().String(), "*age.HybridRecipient"},
		{keys.ed25519Pub, "*agessh.Ed25519Recipient"},
		{keys.rsaPub, "*agessh.RSARecipient"},
		{"age1qqqq", ""},
		{"age1pq1qqqq", ""},
		{"ssh-ed25519 AAAA", ""},
		{"ssh-dss AAAAB3NzaC1kc3MAAACBAP", ""},
		{"", ""},
		{"hello", ""},
	} {
		r, err := ParseRecipient(c.in)
		got := ""
		if err == nil {
			got = fmt.Sprintf("%T", r)
		}
		if got != c.want {
			t.Errorf("ParseRecipient(%.30q) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestParseRecipientRefusesSecrets(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	key, _ := GenerateAESKey()
	text, _ := key.MarshalText()
	for _, secret := range []string{x.String(), string(text)} {
		_, err := ParseRecipient(secret)
		if err == nil {
			t.Fatal("a secret key was accepted as a recipient")
		}
		if strings.Contains(err.Error(), secret[20:40]) {
			t.Errorf("error echoes the secret: %v", err)
		}
	}
}

func TestParseRecipientsFile(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	keys := sshKeys()
	in := "# team\n\n" + x.Recipient().String() + "\r\n   \n# ssh\n" + keys.rsaPub + "\n" + keys.ed25519Pub
	recs, err := ParseRecipientsFile(strings.NewReader(in))
	if err != nil || len(recs) != 3 {
		t.Fatalf("ParseRecipientsFile = %d, %v", len(recs), err)
	}
	for _, bad := range []string{"", "# only comments\n\n", "age1abc\n", x.Recipient().String() + "\nnonsense\n"} {
		if _, err := ParseRecipientsFile(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseRecipientsFile(%q) succeeded", bad)
		}
	}
	_, err = ParseRecipientsFile(strings.NewReader(x.Recipient().String() + "\n\nbogus\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error does not name line 3: %v", err)
	}
}

func TestAESKeyText(t *testing.T) {
	k, err := GenerateAESKey()
	if err != nil {
		t.Fatal(err)
	}
	text, _ := k.MarshalText()
	if !strings.HasPrefix(string(text), "XFER-AES256-KEY-") || len(text) != 16+64 || string(text[16:]) != hex.EncodeToString(k[:]) {
		t.Fatalf("bad text form %q", text)
	}
	var k2 AESKey
	if err := k2.UnmarshalText(text); err != nil || k2 != *k {
		t.Fatalf("UnmarshalText: %v", err)
	}
	hexPart := string(text[16:])
	for _, bad := range []string{
		"XFER-AES256-KEY-" + strings.ToUpper(hexPart),
		"XFER-AES256-KEY-" + hexPart[:63],
		"XFER-AES256-KEY-" + hexPart + "0",
		"xfer-aes256-key-" + hexPart,
		hexPart,
		"XFER-AES256-KEY-" + hexPart[:62] + "zz",
	} {
		err := k2.UnmarshalText([]byte(bad))
		if err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), hexPart[:10]) || strings.Contains(strings.ToLower(err.Error()), hexPart[10:20]) {
			t.Errorf("error echoes key material: %v", err)
		}
	}

	// Formatting never shows the key or a passphrase.
	pass := "hunter2-passphrase"
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", Identities{Passphrase: []byte(pass)}, Identities{Passphrase: []byte(pass)}, Identities{Passphrase: []byte(pass)}),
		fmt.Sprintf("%v %+v %#v", EncryptOptions{Passphrase: []byte(pass)}, EncryptOptions{Passphrase: []byte(pass)}, EncryptOptions{Passphrase: []byte(pass)})} {
		if strings.Contains(s, pass) || strings.Contains(s, fmt.Sprint([]byte(pass)[:4])[1:8]) {
			t.Errorf("formatting shows the passphrase: %s", s)
		}
	}
	for _, s := range []string{fmt.Sprint(*k), fmt.Sprintf("%v %+v %#v %s %x", *k, *k, *k, *k, *k), fmt.Sprint(k), fmt.Sprintf("%v %#v", Identities{AES: []AESKey{*k}}, Identities{AES: []AESKey{*k}}),
		fmt.Sprintf("%+v %#v", EncryptOptions{AESKey: k}, EncryptOptions{AESKey: k})} {
		if strings.Contains(s, hexPart[:16]) || strings.Contains(s, hex.EncodeToString(k[:4])) {
			t.Errorf("formatting shows the key: %s", s)
		}
		if !strings.Contains(s, k.KeyID()) {
			t.Errorf("formatting does not show the key id: %s", s)
		}
	}
}

func TestKeyFile(t *testing.T) {
	k, _ := GenerateAESKey()
	kf := string(k.KeyFile(testTime))
	text, _ := k.MarshalText()
	want := "# created: 2026-01-02T03:04:05Z\n# key id: " + k.KeyID() + "\n" + string(text) + "\n"
	if kf != want {
		t.Fatalf("KeyFile =\n%s\nwant\n%s", kf, want)
	}
	ids, err := ParseIdentityFile([]byte(kf))
	if err != nil || len(ids.AES) != 1 || ids.AES[0] != *k || len(ids.Age) != 0 {
		t.Fatalf("ParseIdentityFile(KeyFile) = %+v, %v", ids, err)
	}
	// CRLF line ends and raw 32-byte keys work too.
	if ids, err := ParseIdentityFile([]byte(strings.ReplaceAll(kf, "\n", "\r\n"))); err != nil || ids.AES[0] != *k {
		t.Errorf("CRLF key file: %v", err)
	}
	if ids, err := ParseIdentityFile(k[:]); err != nil || len(ids.AES) != 1 || ids.AES[0] != *k {
		t.Errorf("raw key file: %v", err)
	}
}

func TestParseIdentityFile(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	pq, _ := age.GenerateHybridIdentity()
	k, _ := GenerateAESKey()
	kt, _ := k.MarshalText()
	keys := sshKeys()

	mixed := "# created: now\n# public key: " + x.Recipient().String() + "\n" + x.String() + "\n\n" + pq.String() + "\n" + string(kt) + "\n"
	ids, err := ParseIdentityFile([]byte(mixed))
	if err != nil || len(ids.Age) != 2 || len(ids.AES) != 1 {
		t.Fatalf("mixed file: %d age, %d aes, %v", len(ids.Age), len(ids.AES), err)
	}
	for _, pemKey := range [][]byte{keys.ed25519PEM, keys.rsaPEM} {
		ids, err := ParseIdentityFile(pemKey)
		if err != nil || len(ids.Age) != 1 {
			t.Fatalf("SSH key: %v", err)
		}
	}

	secret := x.String()
	corrupt := secret[:30] + "q" + secret[31:] // breaks the bech32 checksum
	for name, c := range map[string]struct {
		data    string
		errPart string
	}{
		"empty":           {"", "no identities"},
		"comments only":   {"# nothing\n\n", "no identities"},
		"unknown":         {"hello world\n", "line 1: unknown identity type"},
		"corrupt age key": {"# c\n" + corrupt + "\n", "line 2: malformed age secret key"},
		"corrupt pq key":  {pq.String()[:40] + "\n", "line 1: malformed age post-quantum"},
		"bad aes key":     {string(kt[:70]) + "\n", "line 1: malformed AES key"},
		"public key":      {x.Recipient().String() + "\n", "public key"},
		"ssh public key":  {keys.ed25519Pub + "\n", "public key"},
		"encrypted":       {"age-encryption.org/v1\n-> scrypt abc 18\n", "encrypted"},
		"binary":          {"\xff\xfe\x00garbage that is not 32 bytes long at all", "neither text"},
		"ssh encrypted":   {encryptedSSHKey, "passphrase-protected"},
		"ssh malformed":   {"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "SSH private key"},
	} {
		_, err := ParseIdentityFile([]byte(c.data))
		t.Logf("%s: %v", name, err)
		if err == nil || !strings.Contains(err.Error(), c.errPart) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.errPart)
			continue
		}
		for _, s := range []string{secret[16:40], corrupt[16:40], string(kt[16:40])} {
			if strings.Contains(err.Error(), s) || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) {
				t.Errorf("%s: error echoes key material: %v", name, err)
			}
		}
	}
}

// encryptedSSHKey is a throwaway OpenSSH ed25519 key protected with the
// passphrase "test" (ssh-keygen -t ed25519 -N test).
const encryptedSSHKey = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCf4icBEy
he55y9uhDUITU5AAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIM9q5Us/4d9uMwpM
p0SzhQXzQg3kV5z1ABlIywVU77coAAAAoN7FfY1Bi4ZJq/rZwkn3tqCssur9VusEdPJAKg
tqxR2jhdCMksXeqhW6TB+BeigPbmrHCiBQMMk3bprSZUrePJOhIvrqcHqQo6ykswcxqIvO
09XwcZ+CbIYp9hbNI2tPSXk9VtU4Kg7btyuaH65Zh/gX2Vde2z+yTBwSiMlzoiSFre0b6K
asttG2V58dPXOl44lUVT8KCFGubASt7y0a6cU=
-----END OPENSSH PRIVATE KEY-----
`
