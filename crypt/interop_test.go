package crypt

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/internal/testkit/testutil"
)

// TestAgeCLIInterop seals with xfer and opens with the stock age CLI, and
// the other way round, for X25519 and SSH keys (the age 1.1 CLI predates
// post-quantum recipients, and reads passphrases only from a terminal).
func TestAgeCLIInterop(t *testing.T) {
	ageBin := testutil.RequireTool(t, "age")
	keygen := testutil.RequireTool(t, "age-keygen")
	dir := t.TempDir()

	keyFile := filepath.Join(dir, "key.txt")
	run(t, nil, keygen, "-o", keyFile)
	recipient := strings.TrimSpace(string(run(t, nil, keygen, "-y", keyFile)))

	keys := sshKeys()
	edKey := filepath.Join(dir, "id_ed25519")
	rsaKey := filepath.Join(dir, "id_rsa")
	for name, data := range map[string][]byte{edKey: keys.ed25519PEM, rsaKey: keys.rsaPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sshRecipients := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(sshRecipients, []byte("# xfer test\n"+keys.ed25519Pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name      string
		recipient string // for xfer
		identity  string // file, for both
		ageEncArg []string
	}{
		{"x25519", recipient, keyFile, []string{"-r", recipient}},
		{"ssh-ed25519", keys.ed25519Pub, edKey, []string{"-R", sshRecipients}},
		{"ssh-rsa", keys.rsaPub, rsaKey, []string{"-r", keys.rsaPub}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idData, err := os.ReadFile(c.identity)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := ParseIdentityFile(idData)
			if err != nil {
				t.Fatalf("ParseIdentityFile(%s): %v", c.name, err)
			}
			rec, err := ParseRecipient(c.recipient)
			if err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{0, 1, chunkSize, 3*chunkSize + 7} {
				pt := testPlaintext(size)

				// xfer → age -d
				sealed := seal(t, EncryptOptions{Recipients: []age.Recipient{rec}}, writerConfig{}, pt)
				got := run(t, sealed, ageBin, "-d", "-i", c.identity)
				if !bytes.Equal(got, pt) {
					t.Fatalf("size %d: age -d returned different plaintext", size)
				}

				// age -e → xfer, binary and armored
				for _, armor := range []bool{false, true} {
					args := append([]string{"-e"}, c.ageEncArg...)
					want := FormatAge
					if armor {
						args = append(args, "-a")
						want = FormatAgeArmored
					}
					file := run(t, pt, ageBin, args...)
					if got := openBoth(t, file, ids, want); !bytes.Equal(got, pt) {
						t.Fatalf("size %d armor %v: xfer returned different plaintext", size, armor)
					}
				}
			}
		})
	}
}

func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// TestAgeCLIPassphraseInterop does the same for age's scrypt passphrases.
// The age CLI reads passphrases only from a terminal, so it runs under
// script(1), which gives it a pseudo-terminal fed from our stdin.
func TestAgeCLIPassphraseInterop(t *testing.T) {
	ageBin := testutil.RequireTool(t, "age")
	scriptBin := testutil.RequireTool(t, "script")
	dir := t.TempDir()
	pass := "interop passphrase 123"
	pt := testPlaintext(chunkSize + 3)
	ptFile := filepath.Join(dir, "plain")
	if err := os.WriteFile(ptFile, pt, 0o600); err != nil {
		t.Fatal(err)
	}
	underTTY := func(input string, args ...string) {
		t.Helper()
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = "'" + a + "'"
		}
		run(t, []byte(input), scriptBin, "-qec", strings.Join(quoted, " "), "/dev/null")
	}

	// xfer → age -d (at a low work factor: age accepts up to 2^22).
	sealed := seal(t, EncryptOptions{Passphrase: []byte(pass)}, fastCfg, pt)
	sealedFile := filepath.Join(dir, "xfer.age")
	if err := os.WriteFile(sealedFile, sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(dir, "out")
	underTTY(pass+"\n", ageBin, "-d", "-o", outFile, sealedFile)
	if got, err := os.ReadFile(outFile); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("age -d of an xfer file: %v, equal %v", err, bytes.Equal(got, pt))
	}

	// age -p → xfer, at age's default work factor 2^18, which the cap accepts.
	ageFile := filepath.Join(dir, "cli.age")
	underTTY(pass+"\n"+pass+"\n", ageBin, "-p", "-o", ageFile, ptFile)
	file, err := os.ReadFile(ageFile)
	if err != nil {
		t.Fatal(err)
	}
	// NewReader only: every scrypt run at 2^18 costs a second (five under
	// -race), and NewReaderAt shares the header code.
	if got, err := openStream(file, Identities{Passphrase: []byte(pass)}, readerConfig{}); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("xfer on an age -p file: %v", err)
	}
}
