package cmd

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// TestSecretsNeverLeak runs every command, on its success and its failure
// paths, with and without --json, holding known secrets: the zip password,
// an age identity, an AES key file, a scrypt passphrase, the S3 secret key
// (a right and a wrong one) and an SSE-C key. None of them may appear, raw,
// hex or base64, in stdout, stderr, any file xfer writes (journals, spools,
// state, the audit log, receipts, outputs) or the object metadata; and every file xfer
// writes is 0600.
func TestSecretsNeverLeak(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	dir := t.TempDir()
	zipPW := "Zp9-" + randomHex(t, 12)
	passphrase := "Pp7-" + randomHex(t, 12)
	wrongAWS := "WrongSecret" + randomHex(t, 10)
	env := append(sendEnv(dir, srv.Endpoint, srv), "XFER_ZIP_PASSWORD="+zipPW, "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o700)
	csvPath := filepath.Join(in, "a.csv")
	genCSV(t, csvPath, 256<<10, 11)
	ssec := make([]byte, 32)
	rand.Read(ssec)
	ssecFile := filepath.Join(in, "ssec.key")
	pwFile := filepath.Join(in, "zip.pw")
	os.WriteFile(ssecFile, ssec, 0o600)
	os.WriteFile(pwFile, []byte(zipPW+"\n"), 0o600)
	idPath, aesPath := filepath.Join(in, "id.txt"), filepath.Join(in, "aes.key")
	rcpt := keygen(t, env, idPath)
	if out, err := xferCmd(env, "keygen", "--aes", "-o", aesPath).CombinedOutput(); err != nil {
		t.Fatalf("keygen --aes: %v\n%s", err, out)
	}
	secrets := map[string][]byte{
		"zip password": []byte(zipPW), "passphrase": []byte(passphrase),
		"S3 secret key": []byte(srv.SecretKey), "wrong S3 secret key": []byte(wrongAWS), "SSE-C key": ssec,
	}
	for name, path := range map[string]string{"age identity": idPath, "AES key": aesPath} {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "AGE-SECRET-KEY-") || strings.HasPrefix(line, "XFER-AES256-KEY-") {
				secrets[name] = []byte(line)
				if k, ok := strings.CutPrefix(line, "XFER-AES256-KEY-"); ok {
					raw, _ := hex.DecodeString(k)
					secrets["AES key bytes"] = raw
				}
			}
		}
	}
	if len(secrets) != 8 {
		t.Fatalf("found %d secrets, want 8", len(secrets))
	}

	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o700)
	o := func(name string) string { return filepath.Join(out, name) }
	var transcript bytes.Buffer
	run := func(extraEnv []string, args ...string) {
		t.Helper()
		for _, js := range []bool{false, true} {
			a := args
			if js { // and -v: its steps hold no secret either
				a = append([]string{args[0], "--json", "-v"}, args[1:]...)
			}
			c := xferCmd(append(env[:len(env):len(env)], extraEnv...), a...)
			c.Stdin = strings.NewReader("")
			b, err := c.CombinedOutput()
			transcript.WriteString("$ xfer " + strings.Join(a, " ") + "\n")
			transcript.Write(b)
			if exitCodeOf(err) == -1 {
				t.Fatalf("xfer %s: %v", strings.Join(a, " "), err)
			}
			// Outputs of the first run would make the second refuse
			// (an output is never replaced): remove them in between.
			for _, f := range []string{"a.age", "a.aes", "a.pp", "a.csv", "b.csv", "f.age", "optouts.hashed", "audit.csv"} {
				os.Remove(o(f))
			}
		}
	}
	// Local: the three outer layers, opened with the right and wrong secrets.
	run(nil, "encrypt", csvPath, "-R", filepath.Join(in, "nope.txt"), "-o", o("a.age"))
	os.WriteFile(filepath.Join(in, "r.txt"), []byte(rcpt+"\n"), 0o600)
	run(nil, "encrypt", csvPath, "-R", filepath.Join(in, "r.txt"), "-o", o("a.age"))
	run(nil, "encrypt", csvPath, "--cipher", "aes256", "--key-file", aesPath, "-o", o("a.aes"))
	run([]string{"XFER_PASSPHRASE=" + passphrase}, "encrypt", csvPath, "--cipher", "aes256", "-o", o("a.pp"))
	keep := func(args ...string) { // one run whose output stays for the next steps
		c := xferCmd(append(env[:len(env):len(env)], "XFER_PASSPHRASE="+passphrase), args...)
		b, err := c.CombinedOutput()
		transcript.Write(b)
		if err != nil {
			t.Fatalf("xfer %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	keep("encrypt", csvPath, "-R", filepath.Join(in, "r.txt"), "-o", filepath.Join(dir, "s.age"))
	keep("encrypt", csvPath, "--cipher", "aes256", "-o", filepath.Join(dir, "s.pp"))
	run(nil, "decrypt", filepath.Join(dir, "s.age"), "-i", idPath, "-o", o("a.csv"))
	run([]string{"XFER_ZIP_PASSWORD=Wrong-Passw0rd-" + zipPW[4:]}, "decrypt", filepath.Join(dir, "s.age"), "-i", idPath, "-o", o("a.csv"))
	run(nil, "decrypt", filepath.Join(dir, "s.age"), "-i", aesPath, "-o", o("a.csv"))
	run([]string{"XFER_PASSPHRASE=" + passphrase}, "decrypt", filepath.Join(dir, "s.pp"), "-o", o("a.csv"))
	run([]string{"XFER_PASSPHRASE=not-" + passphrase}, "decrypt", filepath.Join(dir, "s.pp"), "-o", o("a.csv"))
	run(nil, "decrypt", filepath.Join(dir, "s.age"), "-i", idPath, "--zip-password-file", pwFile, "-o", o("a.csv"))

	// The exchange: every command, with the right and a wrong S3 secret,
	// and with an SSE-C key (refused over plain http: an error path that
	// holds the key).
	run(nil, "send", csvPath, "-R", filepath.Join(in, "r.txt"), "--dry-run")
	run(nil, "send", csvPath, "--as", "k.csv", "--cipher", "aes256", "--key-file", aesPath, "--dry-run")
	run(nil, "send", csvPath, "-R", filepath.Join(in, "r.txt"), "--expires", "1s")
	run(nil, "send", csvPath, "--as", "c.csv", "-R", filepath.Join(in, "r.txt"), "--sse-c-key-file", ssecFile)
	run(nil, "send", csvPath, "--as", "k.csv", "--cipher", "aes256", "--key-file", aesPath)
	run([]string{"AWS_SECRET_ACCESS_KEY=" + wrongAWS}, "send", csvPath, "--as", "w.csv", "-R", filepath.Join(in, "r.txt"))
	run(nil, "list")
	run(nil, "list", "--incomplete")
	run(nil, "list", "--all-versions")
	run([]string{"AWS_SECRET_ACCESS_KEY=" + wrongAWS}, "list")
	run(nil, "fetch", "a.csv.zip.age", "-o", o("f.age"))
	run(nil, "pull", "--dry-run", "a.csv.zip.age", "-i", idPath, "-d", out)
	run(nil, "shred", "--dry-run", "a.csv.zip.age")
	run(nil, "pull", "a.csv.zip.age", "-i", idPath, "-d", out)
	run([]string{"XFER_ZIP_PASSWORD=Wrong-Passw0rd-" + zipPW[4:]}, "pull", "a.csv.zip.age", "-i", idPath, "-d", out)
	run(nil, "pull", "k.csv.zip.aes", "-i", aesPath, "-d", filepath.Join(out, "k"))
	run(nil, "pull", "c.csv.zip.age", "-i", idPath, "-d", filepath.Join(out, "c"), "--sse-c-key-file", ssecFile)
	run(nil, "pull", "--all", "-i", idPath, "-d", filepath.Join(out, "all"))
	run(nil, "doctor")
	run([]string{"AWS_SECRET_ACCESS_KEY=" + wrongAWS}, "doctor")
	run(nil, "sweep", "--dry-run")
	run(nil, "shred", "--yes", "k.csv.zip.aes")
	run(nil, "version")
	run(nil, "bucket", "init", "--dry-run")
	run(nil, "bucket", "policy", "--client", "acme", "--source-ip", "192.0.2.0/24")
	run([]string{"AWS_SECRET_ACCESS_KEY=" + wrongAWS}, "bucket", "init", "--dry-run")
	os.WriteFile(filepath.Join(in, "optouts.csv"), []byte("email\nann@example.org\n"), 0o600)
	run(nil, "suppress", "hash", filepath.Join(in, "optouts.csv"), "--key", "email", "-o", o("optouts.hashed"))
	run(nil, "audit", "verify")
	run(nil, "audit", "export", "--since", "2000-01-01", "-o", o("audit.csv"))

	check := func(where string, b []byte) {
		t.Helper()
		for name, s := range secrets {
			for _, form := range [][]byte{s, []byte(hex.EncodeToString(s)), []byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawURLEncoding.EncodeToString(s))} {
				if len(form) >= 8 && bytes.Contains(b, form) {
					t.Errorf("the %s appears in %s", name, where)
				}
			}
		}
	}
	check("the commands' output", transcript.Bytes())

	// Every file under the test directory, except the inputs the test
	// made, was written by xfer.
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path, in+string(filepath.Separator)) {
			return nil
		}
		b, _ := os.ReadFile(path)
		check(path, b)
		if fi, err := d.Info(); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
		}
		return nil
	})

	// The exchange holds only sealed objects, receipts and metadata.
	store := xferTestStore(t, srv)
	prefix := filepath.Base(dir) + "/"
	for _, name := range []string{"a.csv.zip.age", "c.csv.zip.age"} {
		info, err := store.Head(t.Context(), prefix+name)
		if err != nil {
			if name == "c.csv.zip.age" {
				continue // SSE-C objects need the key to HEAD
			}
			t.Fatal(err)
		}
		var meta bytes.Buffer
		for k, v := range info.Metadata {
			meta.WriteString(k + "=" + v + "\n")
		}
		check(name+"'s metadata", meta.Bytes())
	}
	if t.Failed() || os.Getenv("XFER_SHOW_TRANSCRIPT") != "" {
		t.Logf("transcript:\n%s", transcript.String())
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
