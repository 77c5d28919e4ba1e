package cmd

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

const doctorZipPassword = "Corr3ct-Horse-Battery"

// doctorRun is one run of xfer doctor.
type doctorRun struct {
	code           int
	stdout, stderr string
}

func runDoctor(t *testing.T, env []string, args ...string) doctorRun {
	t.Helper()
	c := xferCmd(env, append([]string{"doctor"}, args...)...)
	var stdout, stderr strings.Builder
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	r := doctorRun{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	t.Logf("xfer doctor %s → exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// expect checks the exit code, that every pattern matches stdout (a
// pattern starting with "stderr:" matches stderr instead), and that no
// secret shows anywhere.
func (r doctorRun) expect(t *testing.T, code int, secrets []string, patterns ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d", r.code, code)
	}
	for _, p := range patterns {
		out := r.stdout
		if rest, ok := strings.CutPrefix(p, "stderr:"); ok {
			p, out = rest, r.stderr
		}
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("output does not match %q", p)
		}
	}
	for _, s := range secrets {
		if s != "" && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
			t.Errorf("a secret (%.4s…) appears in the output", s)
		}
	}
}

// doctorSetup is a working exchange on srv: environment, a recipient, an
// identity file, and the secrets that must never be printed.
type doctorSetup struct {
	dir       string
	env       []string
	recipient string
	identity  string // path of the identity file
	secrets   []string
}

func newDoctorSetup(t *testing.T, srv *s3test.Server) *doctorSetup {
	t.Helper()
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(dir, "identity.txt")
	if err := os.WriteFile(idPath, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(sendEnv(dir, srv.Endpoint, srv), "HOME="+dir, "AWS_EC2_METADATA_DISABLED=true", "XFER_CONFIG=", "AWS_PROFILE=")
	return &doctorSetup{
		dir: dir, env: env, recipient: id.Recipient().String(), identity: idPath,
		secrets: []string{srv.SecretKey, doctorZipPassword, id.String()},
	}
}

// with returns the setup's environment with more variables (later ones
// win).
func (s *doctorSetup) with(vars ...string) []string {
	return append(append([]string(nil), s.env...), vars...)
}

func (s *doctorSetup) write(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(s.dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDoctor runs xfer doctor against a real MinIO: a passing run, and each
// problem it must find and explain, with the exit code the problem has.
func TestDoctor(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})

	t.Run("AllGreen", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		r := runDoctor(t, s.env, "--role", "both", "-r", s.recipient, "-i", s.identity)
		r.expect(t, 0, s.secrets,
			`(?m)^ok   configuration: no config file at `,
			`(?m)^ok   configuration: bucket xfer-test, prefix \S+/, region us-east-1$`,
			`(?m)^ok   endpoint: http://127\.0\.0\.1:\d+/ answers`,
			`(?m)^SKIP tls: plain http$`,
			`(?m)^ok   credentials: found: in the environment \(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY\), access key ID …\w{4}$`,
			`(?m)^ok   credentials: accepted by the server`,
			`(?m)^ok   clock: `,
			`(?m)^ok   bucket: xfer-test exists$`,
			`(?m)^ok   bucket: objects under prefix \S+/ may be listed$`,
			`(?m)^INFO bucket: versioning: off \(`,
			`(?m)^INFO bucket: default encryption at rest: `,
			`(?m)^ok   encryption: sealing with age for 1 age recipient$`,
			`(?m)^ok   identity: .*identity\.txt: 1 age identity$`,
			`(?m)^ok   zip-password: from XFER_ZIP_PASSWORD; passes the policy`,
			`(?m)^all checks passed$`)
		if strings.Contains(r.stdout, "FAIL") || strings.Contains(r.stdout, "WARN") || r.stderr != "" {
			t.Error("a passing run reported a problem")
		}
	})

	t.Run("AllGreenJSON", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		vb := s.with("XFER_BUCKET=" + srv.VersionedBucket)
		r := runDoctor(t, vb, "--json", "-r", s.recipient)
		r.expect(t, 0, s.secrets)
		var checks []string
		var summary map[string]any
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("not NDJSON: %q", line)
			}
			switch ev["event"] {
			case "check":
				if ev["status"] == "fail" {
					t.Errorf("failed check: %v", ev)
				}
				checks = append(checks, ev["check"].(string)+":"+ev["status"].(string))
				if ev["check"] == "bucket" && strings.HasPrefix(ev["message"].(string), "versioning:") &&
					!strings.HasPrefix(ev["message"].(string), "versioning: enabled") {
					t.Errorf("versioned bucket reported as %q", ev["message"])
				}
			case "summary":
				summary = ev
			}
		}
		if summary == nil || summary["ok"] != true || summary["exit_code"] != 0.0 {
			t.Errorf("summary %v", summary)
		}
		want := "configuration:ok configuration:ok endpoint:ok tls:skip credentials:ok credentials:ok clock:ok bucket:ok bucket:ok bucket:info bucket:info encryption:info encryption:info encryption:ok identity:skip zip-password:ok"
		if got := strings.Join(checks, " "); got != want {
			t.Errorf("checks\n got %s\nwant %s", got, want)
		}
	})

	t.Run("WrongEndpoint", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		addr := closedPort(t)
		r := runDoctor(t, s.with("XFER_ENDPOINT=http://"+addr), "-r", s.recipient)
		r.expect(t, 1, s.secrets,
			`(?m)^FAIL endpoint: nothing answers at `+regexp.QuoteMeta(addr)+`: connect: connection refused$`,
			`(?m)^     hint: check the endpoint \(--endpoint, XFER_ENDPOINT`,
			`(?m)^SKIP tls: the endpoint does not answer$`,
			`(?m)^SKIP credentials: whether the server accepts them: the endpoint does not answer$`,
			`(?m)^SKIP bucket: the endpoint does not answer$`,
			// The local checks still run.
			`(?m)^ok   zip-password: `,
			`stderr:(?m)^xfer: error: doctor found problem with: endpoint$`,
			`stderr:(?m)^xfer: hint: `)
	})

	t.Run("PlainHTTPElsewhere", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		r := runDoctor(t, s.with("XFER_ENDPOINT=http://s3.example.com:9000"), "-r", s.recipient)
		r.expect(t, 2, s.secrets,
			`(?m)^FAIL endpoint: http://s3\.example\.com:9000 is plain http to another machine`,
			`(?m)^     hint: use https://, or .*--allow-http`)
	})

	t.Run("WrongSecretKey", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		wrong := "Wr0ngSecretKeyThatMustNotShow"
		r := runDoctor(t, s.with("AWS_SECRET_ACCESS_KEY="+wrong), "-r", s.recipient)
		r.expect(t, 3, append(s.secrets, wrong),
			`(?m)^ok   credentials: found: in the environment`,
			`(?m)^FAIL credentials: the secret access key is not the one of access key ID …\w{4}, found in the environment .*\(SignatureDoesNotMatch\)$`,
			`(?m)^     hint: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(or the profile AWS_PROFILE`,
			`(?m)^SKIP bucket: the credentials were not accepted$`,
			`stderr:doctor found problem with: credentials`)
	})

	t.Run("UnknownAccessKey", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		r := runDoctor(t, s.with("AWS_ACCESS_KEY_ID=nosuchuser1234"), "-r", s.recipient)
		r.expect(t, 3, s.secrets,
			`(?m)^FAIL credentials: the server does not know the access key ID …1234, found in the environment .*\(InvalidAccessKeyId\)$`,
			`(?m)^     hint: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`)
	})

	t.Run("MissingBucket", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		r := runDoctor(t, s.with("XFER_BUCKET=no-such-bucket-doctor"), "-r", s.recipient)
		r.expect(t, 2, s.secrets,
			`(?m)^ok   credentials: accepted by the server`,
			`(?m)^FAIL bucket: bucket "no-such-bucket-doctor" does not exist at http://127\.0\.0\.1:\d+$`,
			`(?m)^     hint: check --bucket \(XFER_BUCKET, bucket in the config\) and --endpoint`,
			`stderr:doctor found problem with: bucket`)
	})

	t.Run("BadRecipientInConfig", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		cfg := s.write(t, "config.toml", "recipients = [\""+s.recipient+"\", \"age1notarealkey\"]\n", 0o600)
		r := runDoctor(t, s.with("XFER_CONFIG="+cfg))
		r.expect(t, 2, s.secrets,
			`(?m)^ok   configuration: config file .*config\.toml parses$`,
			`(?m)^FAIL encryption: recipient 2 of 2 \(recipients in the config\) "age1notarealkey": invalid age recipient: `,
			`(?m)^     hint: give the recipient's public key exactly as they sent it`,
			`stderr:doctor found problem with: encryption`)
	})

	t.Run("SecretKeyAsRecipient", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		id, _ := age.GenerateX25519Identity()
		r := runDoctor(t, s.env, "-r", id.String())
		r.expect(t, 2, append(s.secrets, id.String()),
			`(?m)^FAIL encryption: recipient 1 of 1 \(-r\) \(a secret key, not shown\): this is a secret key, not a recipient`)
	})

	t.Run("BadRecipientsFile", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		rf := s.write(t, "recipients.txt", "# mailing house\n"+s.recipient+"\nssh-ed25519 AAAAnotbase64!!\n", 0o644)
		r := runDoctor(t, s.env, "-R", rf)
		r.expect(t, 2, s.secrets,
			`(?m)^FAIL encryption: recipients file .*recipients\.txt: line 3: invalid SSH recipient`)
	})

	t.Run("AES256", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		key := filepath.Join(s.dir, "aes.key")
		if out, err := xferCmd(s.env, "keygen", "--aes", "-o", key).CombinedOutput(); err != nil {
			t.Fatalf("keygen: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(key)
		r := runDoctor(t, s.env, "--cipher", "aes256", "--key-file", key, "-i", key)
		r.expect(t, 0, append(s.secrets, strings.TrimSpace(string(b[strings.Index(string(b), "XFER-AES256-KEY-"):]))),
			`(?m)^INFO encryption: checking what it takes to send and receive \(inferred`,
			`(?m)^ok   encryption: sealing with aes256 under key file .*aes\.key \(key id \S+\)$`,
			`(?m)^ok   identity: .*aes\.key: AES key id \S+$`)
		r = runDoctor(t, s.env, "--cipher", "aes256")
		r.expect(t, 2, s.secrets, `(?m)^FAIL encryption: no keys configured`)
		r = runDoctor(t, s.env, "--cipher", "aes256", "--role", "send")
		r.expect(t, 2, s.secrets, `(?m)^FAIL encryption: aes256 without a key: no key file and no passphrase$`)
	})

	t.Run("MissingZipPassword", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		r := runDoctor(t, s.with("XFER_ZIP_PASSWORD="), "-r", s.recipient)
		r.expect(t, 2, s.secrets,
			`(?m)^FAIL zip-password: no zip password: none configured and no terminal to ask on$`,
			`(?m)^     hint: set XFER_ZIP_PASSWORD, pass --zip-password-file FILE, or zip_password_file = "FILE" in the config`,
			`stderr:doctor found problem with: zip-password`)
	})

	t.Run("ZipPasswordPolicy", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		weak := "weakpassword"
		pw := s.write(t, "zip.pw", weak+"\n", 0o644)
		r := runDoctor(t, s.with("XFER_ZIP_PASSWORD="), "-r", s.recipient, "--zip-password-file", pw)
		r.expect(t, 6, append(s.secrets, weak),
			`(?m)^WARN zip-password: zip password file .*zip\.pw is readable by other users \(mode 0644\)$`,
			`(?m)^     hint: run: chmod 600 `,
			`(?m)^FAIL zip-password: the zip password from file .*zip\.pw \(--zip-password-file\) fails the policy: it needs an upper-case letter, a digit$`)
		// Receiving only: the policy is the sender's business.
		r = runDoctor(t, s.with("XFER_ZIP_PASSWORD="+weak), "-i", s.identity)
		r.expect(t, 0, append(s.secrets, weak),
			`(?m)^SKIP encryption|^INFO encryption: checking what it takes to receive \(inferred`,
			`(?m)^ok   zip-password: from XFER_ZIP_PASSWORD; check code [0-9a-z]{4}$`)
	})

	t.Run("Identity", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		if err := os.Chmod(s.identity, 0o644); err != nil {
			t.Fatal(err)
		}
		r := runDoctor(t, s.env, "-i", s.identity)
		r.expect(t, 0, s.secrets,
			`(?m)^INFO encryption: checking what it takes to receive \(inferred from the keys configured\)$`,
			`(?m)^WARN identity: identity file .*identity\.txt is readable by other users \(mode 0644\)$`,
			`(?m)^all required checks passed, with 1 warning$`)
		bad := s.write(t, "bad-identity.txt", "# key\nAGE-SECRET-KEY-1NOTAKEY\n", 0o600)
		r = runDoctor(t, s.env, "-i", bad, "-i", filepath.Join(s.dir, "missing.txt"))
		r.expect(t, 2, append(s.secrets, "AGE-SECRET-KEY-1NOTAKEY"),
			`(?m)^FAIL identity: identity file .*bad-identity\.txt: line 2: malformed age secret key$`,
			`(?m)^FAIL identity: identity file .*missing\.txt \(-i\) does not exist$`)
		r = runDoctor(t, s.env, "--role", "receive")
		r.expect(t, 2, s.secrets, `(?m)^FAIL identity: no identity to decrypt with`)
	})

	t.Run("NoKeys", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		r := runDoctor(t, s.env)
		r.expect(t, 2, s.secrets, `(?m)^FAIL encryption: no keys configured: nobody to encrypt to and nothing to decrypt with$`)
	})

	t.Run("BadConfigFile", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		cfg := s.write(t, "config.toml", "bucket = \"x\"\nbukket = \"typo\"\n", 0o600)
		r := runDoctor(t, s.with("XFER_CONFIG="+cfg), "-r", s.recipient)
		r.expect(t, 2, s.secrets,
			`(?m)^FAIL configuration: config .*config\.toml: unknown setting bukket$`,
			`(?m)^     hint: fix the file`,
			`(?m)^SKIP endpoint: the configuration did not load$`)
		cfg = s.write(t, "broken.toml", "bucket = \n", 0o600)
		r = runDoctor(t, s.with("XFER_CONFIG="+cfg), "-r", s.recipient)
		r.expect(t, 2, s.secrets, `(?m)^FAIL configuration: config .*broken\.toml: line 1: `)
	})

	t.Run("ClockSkew", func(t *testing.T) {
		s := newDoctorSetup(t, srv)
		r := runDoctor(t, s.with("XFER_ENDPOINT="+skewedProxy(t, srv, 7*time.Minute)), "-r", s.recipient)
		r.expect(t, 0, s.secrets, `(?m)^WARN clock: about 7 minutes behind the server's: S3 refuses requests signed more than 15 minutes off$`,
			`(?m)^     hint: set this machine's clock right`)
		r = runDoctor(t, s.with("XFER_ENDPOINT="+skewedProxy(t, srv, -40*time.Minute)), "-r", s.recipient)
		// The SDK then signs with the server's time, which the proxy only
		// pretends: MinIO, whose clock is right, refuses the bucket checks.
		r.expect(t, 3, s.secrets, `(?m)^FAIL clock: about 40 minutes ahead of the server's: more than the 15 minutes S3 allows`,
			`stderr:doctor found problems with: clock`)
	})
}

// skewedProxy forwards to srv and moves the Date header of every answer by
// skew: a server whose clock is off.
func skewedProxy(t *testing.T, srv *s3test.Server, skew time.Duration) string {
	return rewritingProxy(t, srv, func(resp *http.Response) error {
		resp.Header.Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		return nil
	})
}

// TestDoctorTLS checks the certificate check against MinIO over TLS with a
// private CA: untrusted without the CA file, verified with it.
func TestDoctorTLS(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{TLS: true})
	s := newDoctorSetup(t, srv)
	caFile := s.write(t, "ca.pem", string(srv.CAPEM), 0o600)
	r := runDoctor(t, s.env, "-r", s.recipient)
	r.expect(t, 2, s.secrets,
		`(?m)^ok   endpoint: 127\.0\.0\.1:\d+ accepts connections$`,
		`(?m)^FAIL tls: the certificate of 127\.0\.0\.1:\d+ is not trusted: `,
		`(?m)^     hint: the server's TLS certificate is not trusted: give its CA certificate with --ca-file \(or XFER_CA_FILE\)$`,
		`(?m)^SKIP bucket: no trusted connection to the server$`)
	r = runDoctor(t, s.with("XFER_CA_FILE="+caFile), "-r", s.recipient)
	r.expect(t, 0, s.secrets,
		`(?m)^ok   tls: certificate of 127\.0\.0\.1:\d+ verified through the CA file \(TLS 1\.[23]; `,
		`(?m)^ok   bucket: xfer-test exists$`)
	// Plain http to a TLS port.
	r = runDoctor(t, s.with("XFER_ENDPOINT="+strings.Replace(srv.Endpoint, "https:", "http:", 1)), "-r", s.recipient)
	r.expect(t, 2, s.secrets,
		`(?m)^FAIL tls: the server at 127\.0\.0\.1:\d+ speaks only https, the endpoint says http$`,
		`(?m)^     hint: write https:// in the endpoint`)
}

// TestDoctorTerminalAndQuiet runs doctor in process with stdin and stdout
// taken for terminals: the marks, a missing zip password only warned about
// (send would ask for it), and --quiet keeping only problems and warnings.
// No server is needed: nothing answers at the endpoint.
func TestDoctorTerminalAndQuiet(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDDOCTORTEST1")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "doctor-test-secret-never-shown")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("XDG_CONFIG_HOME", dir)
	id, _ := age.GenerateX25519Identity()
	vars := map[string]string{"XFER_ENDPOINT": "http://" + closedPort(t), "XFER_BUCKET": "b"}
	run := func(args ...string) (int, string) {
		stdin, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		stdout, err := os.CreateTemp(dir, "stdout")
		if err != nil {
			t.Fatal(err)
		}
		defer stdout.Close()
		var stderr strings.Builder
		code := Run(t.Context(), append([]string{"doctor"}, args...), &Env{
			Stdin: stdin, Stdout: stdout, Stderr: &stderr,
			Getenv:     func(k string) string { return vars[k] },
			IsTerminal: func(*os.File) bool { return true },
		})
		out, err := os.ReadFile(stdout.Name())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("xfer doctor %v → exit %d\n%s%s", args, code, out, stderr.String())
		if strings.Contains(string(out)+stderr.String(), "doctor-test-secret-never-shown") {
			t.Error("the secret key appears in the output")
		}
		return code, string(out)
	}

	code, out := run("-r", id.Recipient().String())
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, p := range []string{
		`(?m)^✓ configuration: no config file at `,
		`(?m)^✗ endpoint: nothing answers at 127\.0\.0\.1:\d+: connect: connection refused$`,
		`(?m)^  hint: check the endpoint `,
		`(?m)^- tls: the endpoint does not answer$`,
		`(?m)^i encryption: checking what it takes to send`,
		`(?m)^! zip-password: no zip password configured: send and pull will ask for it on this terminal, but a scheduled run has none to ask on$`,
	} {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("output does not match %q", p)
		}
	}

	code, out = run("-q", "-r", id.Recipient().String())
	if code != 1 {
		t.Errorf("quiet: exit code %d, want 1", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "✗ ") && !strings.HasPrefix(line, "! ") && !strings.HasPrefix(line, "  hint: ") {
			t.Errorf("--quiet printed %q", line)
		}
	}
}
