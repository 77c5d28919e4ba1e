package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/secret"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

type doctorOptions struct {
	keyFlags
	exchangeFlags
	identities []string
	role       string
	timeout    time.Duration
	group      string
}

func (a *app) newDoctorCommand() *cobra.Command {
	var o doctorOptions
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check configuration, credentials, bucket and keys, and say what to fix",
		Long: `Check, in this order, what send and pull rely on, and print one line per
finding; under each problem a hint: line says how to fix it.

    configuration  the config file parses (--config, XFER_CONFIG or the default
                   path; a missing default file is fine) and the settings resolve
    endpoint       the URL is valid, plain http goes only to this machine unless
                   --allow-http (allow_http), and a server answers there
    tls            over https, the server's certificate verifies (with --ca-file
                   or ca_file when given)
    credentials    the standard AWS chain finds credentials (their source is
                   shown, never the secret) and the server accepts them
    clock          the server's clock (its Date header) agrees with this one:
                   S3 refuses requests signed more than 15 minutes off
    bucket         the bucket exists and the prefix may be listed; versioning
                   and default encryption are shown where the server tells them
    encryption     the cipher, and for sending the recipients, recipients files,
                   key file or passphrase; each recipient's check code
    identity       for receiving, the identity files (they parse; mode 0600)
                   and the check code of each one's recipient
    zip-password   present (file or XFER_ZIP_PASSWORD), its check code, and,
                   for sending, passing the password policy (including the
                   strength estimate)
    pullers        only with a pulling group (--group, pull_group, XFER_PULL_GROUP):
                   the server honours the conditional writes (If-None-Match,
                   If-Match) the group's claims rest on

Check codes are short codes two people compare by phone: the sender's doctor
shows the code of each recipient it seals to, the receiver's the code of its
identity's recipient ('xfer keygen' printed it too), and both show the zip
password's 4-character code. Equal codes mean the same key and the same
password, without reading either out (docs/threat-model.md says what a code
reveals). send has no dry run: doctor with the same settings is the check.

Which checks are required depends on what this machine does (--role). Sending
needs somebody to encrypt to and a zip password that passes the policy;
receiving needs an identity (or a passphrase) and the zip password. Without
--role the side is inferred from the keys configured: recipients or a key file
mean send; identity files (given, configured, or the ones 'xfer keygen' writes
by default) mean receive; so a side that only sends needs no identity. Network
checks after one that failed are skipped. Versioning and default encryption
are information, never problems. A missing zip password is a warning when stdin
is a terminal (send and pull would ask for it) and a problem otherwise (cron).

Doctor only reads: it writes nothing to the bucket (its requests are one
unauthenticated GET of the endpoint's root, ListBuckets and ListObjectsV2 of at
most one entry, HeadBucket, GetBucketVersioning and GetBucketEncryption), and
it never prints a password, passphrase, secret key or private key. The one
exception is the pullers check, made only with a pulling group: it writes a
small probe object under <prefix>.xfer/probe/, tries both conditions on it and
removes it.

Output: on a terminal ✓ ✗ ! - i marks; otherwise ok, FAIL, WARN, SKIP and INFO;
with --json one {"event":"check","check","status","message","hint","exit_code"}
object per finding, then the summary. --quiet prints only problems and
warnings.

Exit status: 0 when every required check passed (warnings allowed), else the
code of the worst problem: 1 nothing answers at the endpoint; 2 configuration
(a bad file, setting, recipient or key file, an untrusted certificate, a
missing bucket or zip password); 3 credentials missing or refused, access
denied, or the clock more than 15 minutes off; 6 a zip password that fails the
policy. A server that ignores conditional writes fails the pullers check with 2.

Environment: XFER_CONFIG, XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX, XFER_CA_FILE,
AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_PROFILE (and the rest of the AWS credential chain), AWS_CA_BUNDLE,
XFER_CIPHER, XFER_KEY_FILE, XFER_PASSPHRASE, XFER_ZIP_PASSWORD, XFER_PULL_GROUP.`,
		Example: `  xfer doctor
  xfer doctor --group mailhouse
  xfer doctor --role send -R mailhouse.pub --zip-password-file ~/.config/xfer/zip.pw
  xfer doctor --role receive -i ~/.config/xfer/identity.txt
  xfer doctor --json | jq -c 'select(.status=="fail")'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runDoctor(c, o) },
	}
	o.addSealFlags(c)
	o.exchangeFlags.add(c)
	f := c.Flags()
	f.StringArrayVarP(&o.identities, "identity", "i", nil, "age identity or AES-256 key file to check (repeatable)")
	f.StringVar(&o.role, "role", "", "what this machine must be ready for: send, receive or both (default: inferred from the keys configured)")
	f.DurationVar(&o.timeout, "timeout", 15*time.Second, "how long each network check may take")
	f.StringVar(&o.group, "group", "", "pulling group whose claims to check the server for (env XFER_PULL_GROUP)")
	return c
}

// checkStatus is a finding's verdict.
type checkStatus string

const (
	checkOK   checkStatus = "ok"
	checkInfo checkStatus = "info"
	checkWarn checkStatus = "warn"
	checkFail checkStatus = "fail"
	checkSkip checkStatus = "skip"
)

// doctor prints findings as they come and remembers the problems.
type doctor struct {
	a        *app
	ctx      context.Context
	tty      bool
	problems []string // the checks that failed, in order
	worst    error    // the problem with the highest exit code
	warnings int
}

var (
	ttyMarks   = map[checkStatus]string{checkOK: "✓", checkInfo: "i", checkWarn: "!", checkFail: "✗", checkSkip: "-"}
	plainMarks = map[checkStatus]string{checkOK: "ok  ", checkInfo: "INFO", checkWarn: "WARN", checkFail: "FAIL", checkSkip: "SKIP"}
)

func (d *doctor) report(check string, st checkStatus, msg, hint string, err error) {
	msg = strings.TrimSuffix(msg, ".")
	switch st {
	case checkWarn:
		d.warnings++
	case checkFail:
		if !slices.Contains(d.problems, check) {
			d.problems = append(d.problems, check)
		}
		if d.worst == nil || exitCode(d.ctx, err) > exitCode(d.ctx, d.worst) {
			d.worst = err
		}
	}
	a := d.a
	switch {
	case a.json:
		ev := map[string]any{"event": "check", "check": check, "status": string(st), "message": msg}
		if hint != "" {
			ev["hint"] = hint
		}
		if st == checkFail {
			ev["exit_code"] = exitCode(d.ctx, err)
		}
		a.emit(ev)
	case a.quiet && st != checkFail && st != checkWarn:
	default:
		marks, indent := plainMarks, "     "
		if d.tty {
			marks, indent = ttyMarks, "  "
		}
		fmt.Fprintf(a.env.Stdout, "%s %s: %s\n", marks[st], check, escapeLine(msg))
		if hint != "" {
			fmt.Fprintf(a.env.Stdout, "%shint: %s\n", indent, escapeLine(hint))
		}
	}
}

func (d *doctor) ok(check, format string, args ...any) {
	d.report(check, checkOK, fmt.Sprintf(format, args...), "", nil)
}

func (d *doctor) info(check, format string, args ...any) {
	d.report(check, checkInfo, fmt.Sprintf(format, args...), "", nil)
}

func (d *doctor) skip(check, format string, args ...any) {
	d.report(check, checkSkip, fmt.Sprintf(format, args...), "", nil)
}

func (d *doctor) warn(check, hint, format string, args ...any) {
	d.report(check, checkWarn, fmt.Sprintf(format, args...), hint, nil)
}

// fail reports a problem. err gives the exit code (through exitCode), msg
// what is wrong (err's message when empty), hint the fix (hintFor(err)
// when empty).
func (d *doctor) fail(check string, err error, msg, hint string) {
	if msg == "" {
		msg = err.Error()
	}
	if hint == "" {
		hint = hintFor(err)
	}
	d.report(check, checkFail, msg, hint, err)
}

// doctorFailed is doctor's outcome when a required check failed; its exit
// code is the worst problem's.
type doctorFailed struct {
	problems []string
	worst    error
}

func (e doctorFailed) Error() string {
	s := ""
	if len(e.problems) > 1 {
		s = "s"
	}
	return fmt.Sprintf("doctor found problem%s with: %s", s, strings.Join(e.problems, ", "))
}

func (e doctorFailed) Unwrap() error { return e.worst }

func (d *doctor) done() error {
	if d.worst == nil {
		if !d.a.json && !d.a.quiet {
			switch d.warnings {
			case 0:
				fmt.Fprintln(d.a.env.Stdout, "all checks passed")
			case 1:
				fmt.Fprintln(d.a.env.Stdout, "all required checks passed, with 1 warning")
			default:
				fmt.Fprintf(d.a.env.Stdout, "all required checks passed, with %d warnings\n", d.warnings)
			}
		}
		return nil
	}
	return withHint(doctorFailed{d.problems, d.worst}, "fix what the hints above say, then run 'xfer doctor' again")
}

// authProblem gives err the exit code of an authentication failure.
func authProblem(err error) error { return fmt.Errorf("%w: %w", transfer.ErrAccessDenied, err) }

func (a *app) runDoctor(c *cobra.Command, o doctorOptions) error {
	switch o.role {
	case "", "send", "receive", "both":
	default:
		return usagef("--role %q: use send, receive or both", o.role)
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	d := &doctor{a: a, ctx: c.Context(), tty: a.isTerminal(a.env.Stdout)}
	cfg, ok := d.checkConfigFile()
	if !ok {
		for _, check := range []string{"endpoint", "tls", "credentials", "clock", "bucket", "encryption", "identity", "zip-password"} {
			d.skip(check, "the configuration did not load")
		}
		return d.done()
	}
	store, prefix := d.checkSettings(c, &o, cfg)
	reached := false
	if store != nil {
		reached = d.checkNetwork(c.Context(), store, prefix, o.timeout)
	}
	d.checkKeys(c, &o, cfg)
	d.checkPullers(c, &o, cfg, store, prefix, reached)
	return d.done()
}

// checkPullers checks, for a pulling group, that the server honours the
// conditional writes claims rest on, as 'pull --all --group' does.
func (d *doctor) checkPullers(c *cobra.Command, o *doctorOptions, cfg *config.File, store *s3store.Store, prefix string, reached bool) {
	group := d.a.setting(c, "group", "XFER_PULL_GROUP", cfg.PullGroup, "")
	switch {
	case group == "":
		return // pull --all pulls alone: nothing to check
	case exchange.CheckGroup(group) != nil:
		d.fail("pullers", usagef("%w", exchange.CheckGroup(group)), "", "")
		return
	case store == nil || !reached:
		d.skip("pullers", "the bucket could not be reached")
		return
	}
	ctx, cancel := context.WithTimeout(d.ctx, o.timeout)
	defer cancel()
	x := &exchange.Exchange{Store: store, Prefix: prefix}
	cs, err := x.ProbeConditional(ctx)
	switch {
	case err != nil:
		d.fail("pullers", err, "", "the pullers of a group write claims and receipts under <prefix>.xfer/: the credentials need to write there")
	case !cs.OK():
		d.fail("pullers", usagef("the server ignores %s", missingConditions(cs)),
			fmt.Sprintf("pulling group %s: the server does not honour conditional writes (%s): pull --all --group refuses it", group, missingConditions(cs)),
			"pull from one machine without a group, or use a server that supports If-None-Match and If-Match (AWS S3, MinIO)")
	default:
		d.ok("pullers", "pulling group %s: the server honours If-None-Match and If-Match, so claims hold", group)
	}
}

// configPath is the file a.config reads and whether it may be missing.
func (a *app) configFilePath() (string, bool) {
	if a.configPath != "" {
		return a.configPath, false
	}
	if p := a.env.Getenv("XFER_CONFIG"); p != "" {
		return p, false
	}
	return config.DefaultPath(), true
}

func (d *doctor) checkConfigFile() (*config.File, bool) {
	path, optional := d.a.configFilePath()
	cfg, err := d.a.config()
	if err != nil {
		d.fail("configuration", err, "", "fix the file (TOML; the settings are listed in docs/), or name another with --config or XFER_CONFIG")
		return nil, false
	}
	if _, err := os.Stat(path); optional && errors.Is(err, os.ErrNotExist) {
		d.ok("configuration", "no config file at %s: settings come from flags and the environment", path)
	} else {
		d.ok("configuration", "config file %s parses", path)
	}
	return cfg, true
}

// checkSettings resolves the exchange as every command does and checks the
// endpoint's URL. It returns the store when the network checks can go on.
func (d *doctor) checkSettings(c *cobra.Command, o *doctorOptions, cfg *config.File) (*s3store.Store, string) {
	a := d.a
	endpoint := a.endpoint(c, cfg)
	allowHTTP := o.allowHTTP || cfg.AllowHTTP
	var u *url.URL
	if endpoint != "" {
		var err error
		u, err = url.Parse(endpoint)
		if err == nil && u.Host == "" {
			err = errors.New("no host")
		}
		if err == nil {
			err = s3store.CheckEndpoint(endpoint, allowHTTP)
		}
		switch {
		case err != nil && u != nil && u.Scheme == "http" && u.Host != "":
			d.fail("endpoint", usageError{err},
				fmt.Sprintf("%s is plain http to another machine: credentials and files would cross the network unencrypted", endpoint),
				"use https://, or if the network between is trusted, allow it with --allow-http (allow_http = true in the config)")
		case err != nil:
			d.fail("endpoint", usageError{err}, fmt.Sprintf("%q is not a usable endpoint URL", endpoint),
				"give the S3 server's base URL, e.g. https://s3.example.com:9000 (--endpoint, XFER_ENDPOINT or endpoint in the config)")
		}
		if err != nil {
			for _, check := range []string{"tls", "credentials", "clock", "bucket"} {
				d.skip(check, "no usable endpoint")
			}
			return nil, ""
		}
	}
	x, err := a.openExchange(c, &o.exchangeFlags)
	if err != nil {
		d.fail("configuration", err, "", "")
		for _, check := range []string{"endpoint", "tls", "credentials", "clock", "bucket"} {
			d.skip(check, "the exchange settings did not resolve")
		}
		return nil, ""
	}
	store, ok := x.Store.(*s3store.Store)
	if !ok {
		d.skip("endpoint", "not an S3 exchange")
		return nil, ""
	}
	prefix := x.Prefix
	if prefix == "" {
		prefix = "(none)"
	}
	d.ok("configuration", "bucket %s, prefix %s, region %s", store.Bucket(), prefix, store.Region())
	if u != nil && u.Scheme == "http" && !s3store.IsLoopback(u.Hostname()) {
		d.warn("endpoint", "use https:// unless the network between is trusted",
			"%s is plain http to another machine, allowed by allow_http: credentials and files cross the network unencrypted", endpoint)
	}
	return store, x.Prefix
}

const credentialsHint = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile AWS_PROFILE names in ~/.aws/credentials): they must be a pair the server issued"

const clockHint = "set this machine's clock right and keep it so: enable NTP (timedatectl set-ntp true; on Windows w32tm /resync)"

// checkNetwork runs the checks that talk to the server, each within
// timeout, skipping those that cannot succeed after a failure.
func (d *doctor) checkNetwork(ctx context.Context, store *s3store.Store, prefix string, timeout time.Duration) bool {
	probe, why := d.checkEndpoint(ctx, store, timeout)
	if why != "" {
		d.checkCredentials(ctx, store, timeout, why)
		d.skip("clock", "%s", why)
		d.skip("bucket", "%s", why)
		return false
	}
	accepted := d.checkCredentials(ctx, store, timeout, "")
	d.checkClock(probe)
	if !accepted {
		d.skip("bucket", "the credentials were not accepted")
		return false
	}
	return d.checkBucket(ctx, store, prefix, timeout)
}

// checkEndpoint probes the endpoint and its TLS. When the server cannot be
// talked to, it says why, for the checks it skips.
func (d *doctor) checkEndpoint(ctx context.Context, store *s3store.Store, timeout time.Duration) (*s3store.EndpointProbe, string) {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	probe, err := store.ProbeEndpoint(pctx)
	cancel()
	where := ""
	if store.Endpoint() == "" {
		where = " (AWS, the default endpoint)"
	}
	var perr *s3store.ProbeError
	if errors.As(err, &perr) {
		switch perr.Stage {
		case s3store.StageConnect:
			msg := fmt.Sprintf("nothing answers at %s%s: %v", perr.Addr, where, perr.Err)
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) {
				msg = fmt.Sprintf("nothing answers at %s%s: the host is not found (%v)", perr.Addr, where, perr.Err)
			}
			d.fail("endpoint", err, msg, "check the endpoint (--endpoint, XFER_ENDPOINT or endpoint in the config): host and port of a running S3 server; a firewall or proxy may be in the way")
			d.skip("tls", "the endpoint does not answer")
			return nil, "the endpoint does not answer"
		case s3store.StageTLS:
			d.ok("endpoint", "%s%s accepts connections", perr.Addr, where)
			var recErr tls.RecordHeaderError
			switch {
			case errors.Is(err, s3store.ErrHTTPSOnly):
				d.fail("tls", usageError{err}, fmt.Sprintf("the server at %s speaks only https, the endpoint says http", perr.Addr),
					"write https:// in the endpoint (--endpoint, XFER_ENDPOINT or endpoint in the config)")
			case errors.As(err, &recErr):
				d.fail("tls", usageError{err}, fmt.Sprintf("the server at %s does not speak TLS: %v", perr.Addr, perr.Err),
					"the endpoint serves plain http: write http:// (refused to another machine unless --allow-http)")
			case errors.As(err, new(*tls.CertificateVerificationError)):
				hint := hintFor(err)
				if store.CustomCA() {
					hint = "the CA file given (--ca-file, XFER_CA_FILE or ca_file) did not sign the server's certificate: give the CA certificate that did"
				}
				d.fail("tls", usageError{err}, fmt.Sprintf("the certificate of %s is not trusted: %v", perr.Addr, perr.Err), hint)
			default:
				d.fail("tls", usageError{err}, fmt.Sprintf("TLS with %s failed: %v", perr.Addr, perr.Err), "check that the endpoint's port serves the S3 API over https")
			}
			return nil, "no trusted connection to the server"
		default:
			d.fail("endpoint", err, fmt.Sprintf("%s%s accepts connections but gives no HTTP answer: %v", perr.Addr, where, perr.Err),
				"check the endpoint's port: it must be the S3 API's (MinIO: the server port, not the console's)")
			d.skip("tls", "the endpoint does not answer")
			return nil, "the endpoint does not answer"
		}
	}
	if err != nil {
		d.fail("endpoint", err, "", "")
		d.skip("tls", "the endpoint could not be probed")
		return nil, "the endpoint could not be probed"
	}
	d.ok("endpoint", "%s%s answers (in %s)", probe.URL, where, probe.RoundTrip.Round(time.Millisecond))
	if t := probe.TLS; t != nil {
		trust := "the system's CAs"
		if t.CustomCA {
			trust = "the CA file"
		}
		d.ok("tls", "certificate of %s verified through %s (%s; issued by %s; valid until %s)",
			probe.Addr, trust, t.Version, t.Issuer, t.NotAfter.UTC().Format("2006-01-02"))
		if left := time.Until(t.NotAfter); left < 14*24*time.Hour {
			in := fmt.Sprintf("%d hours", int(left.Round(time.Hour).Hours()))
			if left >= 48*time.Hour {
				in = fmt.Sprintf("%d days", int(left.Round(24*time.Hour).Hours()/24))
			}
			d.warn("tls", "ask the server's operator to renew the certificate", "the server's certificate expires in %s", in)
		}
	} else {
		d.skip("tls", "plain http")
	}
	return probe, ""
}

// checkCredentials finds the credentials and, unless offline says why the
// server cannot be asked, whether the server accepts them.
func (d *doctor) checkCredentials(ctx context.Context, store *s3store.Store, timeout time.Duration, offline string) bool {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	info, err := store.Credentials(cctx)
	cancel()
	if err != nil {
		d.fail("credentials", authProblem(err),
			fmt.Sprintf("no credentials found in the AWS chain (environment, AWS_PROFILE and ~/.aws, SSO, web identity, instance role): %v", err),
			"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile in ~/.aws/credentials")
		return false
	}
	d.ok("credentials", "found: %s", describeCredentials(info))
	if offline != "" {
		d.skip("credentials", "whether the server accepts them: %s", offline)
		return false
	}
	cctx, cancel = context.WithTimeout(ctx, timeout)
	err = store.CheckCredentials(cctx)
	cancel()
	var se *transfer.StoreError
	code := ""
	if errors.As(err, &se) {
		code = se.Code
	}
	switch {
	case err == nil:
		d.ok("credentials", "accepted by the server")
		return true
	case code == "AccessDenied":
		d.ok("credentials", "accepted by the server (they may not list buckets, which xfer does not need)")
		return true
	case code == "InvalidAccessKeyId":
		d.fail("credentials", err, fmt.Sprintf("the server does not know the access key ID …%s, found in %s (InvalidAccessKeyId)", info.KeyIDSuffix, sourceName(info.Source)), credentialsHint)
	case code == "SignatureDoesNotMatch":
		d.fail("credentials", err, fmt.Sprintf("the secret access key is not the one of access key ID …%s, found in %s (SignatureDoesNotMatch)", info.KeyIDSuffix, sourceName(info.Source)), credentialsHint)
	case code == "ExpiredToken" || code == "TokenRefreshRequired":
		d.fail("credentials", err, fmt.Sprintf("the session token has expired (%s)", code), "get new temporary credentials (aws sso login, or renew AWS_SESSION_TOKEN)")
	case code == "InvalidToken":
		d.fail("credentials", err, "the server does not accept the session token (InvalidToken)", "check AWS_SESSION_TOKEN: it belongs with the access key it was issued with; unset it for long-term keys")
	case code == "RequestTimeTooSkewed":
		d.fail("credentials", authProblem(err), "the server refused the request because this machine's clock is off (RequestTimeTooSkewed)", clockHint)
	case errors.Is(err, transfer.ErrAccessDenied):
		d.fail("credentials", err, "", credentialsHint)
	default:
		d.fail("credentials", err, "", "")
	}
	return false
}

// describeCredentials names credentials without their secret.
func describeCredentials(info s3store.CredentialInfo) string {
	s := "in " + sourceName(info.Source)
	if info.KeyIDSuffix != "" {
		s += ", access key ID …" + info.KeyIDSuffix
	}
	if info.Session {
		s += ", temporary"
		if !info.Expires.IsZero() {
			s += " until " + info.Expires.Local().Format(time.RFC3339)
		}
	}
	return s
}

// sourceName turns the SDK's provider name into words.
func sourceName(source string) string {
	switch {
	case source == "EnvConfigCredentials":
		return "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
	case strings.HasPrefix(source, "SharedConfigCredentials"):
		if _, file, ok := strings.Cut(source, ": "); ok {
			return "the shared credentials file " + file
		}
		return "the shared credentials file"
	case source == "StaticCredentials":
		return "xfer's own settings"
	case source == "":
		return "an unnamed source"
	}
	return "the SDK's " + source
}

// count writes n and the noun, in the plural unless n is 1.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (d *doctor) checkClock(probe *s3store.EndpointProbe) {
	if probe.ServerTime.IsZero() {
		d.skip("clock", "the server sent no Date header")
		return
	}
	// The Date header has whole seconds: compare it with whole seconds.
	skew := probe.ServerTime.Sub(probe.LocalTime.Truncate(time.Second))
	off := skew.Abs()
	how := "behind"
	if skew < 0 {
		how = "ahead of"
	}
	amount := fmt.Sprintf("%ds", int(off.Round(time.Second).Seconds()))
	if off >= time.Minute {
		amount = fmt.Sprintf("about %d minutes", int(off.Round(time.Minute).Minutes()))
	}
	switch {
	case off <= 2*time.Second:
		d.ok("clock", "agrees with the server's")
	case off < 5*time.Minute:
		d.ok("clock", "%s %s the server's (fine: S3 allows 15 minutes)", amount, how)
	case off < 15*time.Minute:
		d.warn("clock", clockHint, "%s %s the server's: S3 refuses requests signed more than 15 minutes off", amount, how)
	default:
		d.fail("clock", authProblem(errors.New("clock skew")),
			fmt.Sprintf("%s %s the server's: more than the 15 minutes S3 allows, so requests are refused (RequestTimeTooSkewed)", amount, how), clockHint)
	}
}

func (d *doctor) checkBucket(ctx context.Context, store *s3store.Store, prefix string, timeout time.Duration) bool {
	bucket := store.Bucket()
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := store.HeadBucket(bctx)
	switch {
	case errors.Is(err, transfer.ErrNoSuchBucket):
		where := store.Endpoint()
		if where == "" {
			where = "AWS, region " + store.Region()
		}
		d.fail("bucket", err, fmt.Sprintf("bucket %q does not exist at %s", bucket, where),
			"check --bucket (XFER_BUCKET, bucket in the config) and --endpoint; if the name is right, create the bucket or ask whoever runs the exchange")
		return false
	case errors.Is(err, transfer.ErrAccessDenied):
		d.fail("bucket", err, fmt.Sprintf("the credentials may not use bucket %q (or it belongs to another account): access denied", bucket), "")
		return false
	case err != nil:
		d.fail("bucket", err, "", "")
		return false
	}
	d.ok("bucket", "%s exists", bucket)
	shown := prefix
	if shown == "" {
		shown = "(the whole bucket)"
	}
	if err := store.CheckList(bctx, prefix); err != nil {
		msg := ""
		if errors.Is(err, transfer.ErrAccessDenied) {
			msg = fmt.Sprintf("the credentials may not list objects under prefix %s: access denied", shown)
		}
		d.fail("bucket", err, msg, "")
	} else {
		d.ok("bucket", "objects under prefix %s may be listed", shown)
	}

	// Information only.
	status, err := store.Versioning(bctx)
	switch {
	case err != nil:
		d.info("bucket", "versioning: %s", unknownBecause(err))
	case status == "Enabled":
		d.info("bucket", "versioning: enabled (shred removes every version of a file; a delete made otherwise leaves the earlier versions stored)")
	case status == "Suspended":
		d.info("bucket", "versioning: suspended (versions kept while it was on stay until shredded)")
	default:
		d.info("bucket", "versioning: off (a deleted or replaced object is gone at once: shred has no older versions to remove, and nothing can be recovered)")
	}
	enc, err := store.DefaultEncryption(bctx)
	switch {
	case err != nil:
		d.info("bucket", "default encryption at rest: %s", unknownBecause(err))
	case enc.Algorithm == "":
		d.info("bucket", "default encryption at rest: none (files are sealed by xfer either way; --sse adds encryption at rest)")
	case enc.KMSKeyID != "":
		d.info("bucket", "default encryption at rest: %s, key %s", enc.Algorithm, enc.KMSKeyID)
	default:
		d.info("bucket", "default encryption at rest: %s", enc.Algorithm)
	}
	return true
}
func unknownBecause(err error) string {
	switch {
	case errors.Is(err, s3store.ErrNotImplemented):
		return "not reported by this server"
	case errors.Is(err, transfer.ErrAccessDenied):
		return "not readable with these credentials (xfer does not need it)"
	}
	return "unknown (" + err.Error() + ")"
}

// secretSource is where a secret would come from, found without reading
// it and without prompting.
type secretSource struct {
	name string // for messages: "XFER_ZIP_PASSWORD" or "file F (…)"
	env  string // the variable holding the secret itself, or
	path string // the file holding it
}

func (a *app) findSecret(c *cobra.Command, s secretSpec) (secretSource, bool) {
	if f := c.Flags().Lookup(s.fileFlag); f != nil && f.Changed {
		return secretSource{name: "file " + f.Value.String() + " (--" + s.fileFlag + ")", path: f.Value.String()}, true
	}
	if a.env.Getenv(s.env) != "" {
		return secretSource{name: s.env, env: s.env}, true
	}
	if s.cfgFile != "" {
		return secretSource{name: "file " + s.cfgFile + " (config)", path: s.cfgFile}, true
	}
	return secretSource{}, false
}

// read returns the secret as the commands read it: the variable, or the
// file as any editor saved it (secret.ReadSecretFile).
func (s secretSource) read(a *app, what string) ([]byte, error) {
	if s.env != "" {
		return envSecret(what, s.env, a.env.Getenv(s.env))
	}
	return loadSecretFile(what, s.path)
}

// checkMode warns about a secret file other users may read, as every
// command does (warnExposed): its mode on Unix, its DACL on Windows.
func (d *doctor) checkMode(check, what, path string) {
	if how, fix := secret.Exposed(path); how != "" {
		d.warn(check, "run: "+fix, "%s %s is readable by other users (%s)", what, path, how)
	}
}

// checkKeys checks the encryption settings, the identities and the zip
// password for the side or sides this machine plays.
func (d *doctor) checkKeys(c *cobra.Command, o *doctorOptions, cfg *config.File) {
	a := d.a
	cipher := a.setting(c, "cipher", "XFER_CIPHER", cfg.Cipher, string(crypt.CipherAge))
	recips, rfiles, from := o.recipients, o.recipientsFiles, "-r"
	if len(recips) == 0 && len(rfiles) == 0 {
		recips, from = cfg.Recipients, "recipients in the config"
		if cfg.RecipientsFile != "" {
			rfiles = []string{cfg.RecipientsFile}
		}
	}
	keyFile := a.setting(c, "key-file", "XFER_KEY_FILE", cfg.KeyFile, "")
	pass, havePass := a.findSecret(c, a.passphraseSpec(cfg))
	idFiles, idFrom := o.identities, "-i"
	if len(idFiles) == 0 {
		idFiles, idFrom = cfg.Identities, "identities in the config"
	}
	if len(idFiles) == 0 {
		idFrom = "default"
		for _, name := range []string{defaultIdentityFile, defaultAESKeyFile} {
			p := filepath.Join(config.Dir(), name)
			if _, err := os.Stat(p); err == nil {
				idFiles = append(idFiles, p)
			}
		}
	}

	send, receive := o.role == "send" || o.role == "both", o.role == "receive" || o.role == "both"
	if o.role == "" {
		send = len(recips)+len(rfiles) > 0 || (crypt.Cipher(cipher) == crypt.CipherAES256 && keyFile != "")
		receive = len(idFiles) > 0
		if !send && !receive {
			if !havePass {
				d.fail("encryption", usagef("no keys"), "no keys configured: nobody to encrypt to and nothing to decrypt with",
					"to send, give the recipient's public key (-r age1…, -R FILE, or recipients/recipients_file in the config); to receive, make an identity with 'xfer keygen' and give its public key to the sender")
				d.checkZipPassword(c, cfg, true)
				return
			}
			send, receive = true, true // a passphrase serves both
		}
	}
	var sides []string
	if send {
		sides = append(sides, "send")
	}
	if receive {
		sides = append(sides, "receive")
	}
	how := "inferred from the keys configured"
	if o.role != "" {
		how = "--role " + o.role
	}
	d.info("encryption", "checking what it takes to %s (%s)", strings.Join(sides, " and "), how)
	if pass.name != "" {
		if _, err := pass.read(a, "passphrase"); err != nil {
			d.fail("encryption", err, "", "")
		} else if pass.env == "" {
			d.checkMode("encryption", "passphrase file", pass.path)
		}
	}
	if send {
		d.checkSealKeys(c, o, cipher, recips, rfiles, from, keyFile, pass, havePass)
	}
	if receive {
		d.checkIdentities(idFiles, idFrom, pass, havePass)
	} else {
		d.skip("identity", "this side only sends")
	}
	d.checkZipPassword(c, cfg, send)
}

func (d *doctor) checkSealKeys(c *cobra.Command, o *doctorOptions, cipher string, recips, rfiles []string, from, keyFile string, pass secretSource, havePass bool) {
	switch crypt.Cipher(cipher) {
	case crypt.CipherAge:
		kinds := map[string]int{}
		bad := 0
		for i, r := range recips {
			rec, err := crypt.ParseRecipient(r)
			if err != nil {
				bad++
				d.fail("encryption", usageError{err},
					fmt.Sprintf("recipient %d of %d (%s) %s: %s", i+1, len(recips), from, showRecipient(r), err),
					"give the recipient's public key exactly as they sent it: age1… (age-keygen -y or 'xfer keygen' prints it), ssh-ed25519 … or ssh-rsa …")
				continue
			}
			kinds[recipientKind(rec)]++
			d.recipientCode(r, from)
		}
		for _, path := range rfiles {
			rs, texts, err := readRecipientsFile(path)
			if err != nil {
				bad++
				d.fail("encryption", err, err.Error(),
					"a recipients file holds one public key per line (age1…, ssh-ed25519 …, ssh-rsa …); # starts a comment")
				continue
			}
			d.ok("encryption", "recipients file %s: %s", path, count(len(rs), "recipient", "recipients"))
			for _, rec := range rs {
				kinds[recipientKind(rec)]++
			}
			for _, t := range texts {
				d.recipientCode(t, "recipients file "+path)
			}
		}
		n := len(recips) + len(rfiles)
		switch {
		case bad > 0:
		case n > 0:
			var parts []string
			for _, k := range []string{"age", "post-quantum age", "SSH"} {
				if n := kinds[k]; n > 0 {
					parts = append(parts, count(n, k+" recipient", k+" recipients"))
				}
			}
			d.ok("encryption", "sealing with age for %s", strings.Join(parts, ", "))
		case havePass:
			d.ok("encryption", "sealing with age for a passphrase (from %s)", pass.name)
		default:
			d.fail("encryption", usagef("nobody to encrypt to"), "nobody to encrypt to: no recipient and no passphrase",
				"give -r age1… (see 'xfer keygen'), -R FILE, recipients or recipients_file in the config, or a passphrase (--passphrase-file or XFER_PASSPHRASE)")
		}
	case crypt.CipherAES256:
		if len(o.recipients)+len(o.recipientsFiles) > 0 {
			d.fail("encryption", usagef("recipients with aes256"), "--recipient and --recipients-file are for --cipher age; aes256 takes --key-file or a passphrase", "")
		}
		switch {
		case keyFile != "":
			key, err := loadAESKeyFile(keyFile)
			if err != nil {
				d.fail("encryption", err, "", "make one with 'xfer keygen --aes -o FILE' and give the same file to the other side")
				return
			}
			d.ok("encryption", "sealing with aes256 under key file %s (key id %s)", keyFile, key.KeyID())
			d.checkMode("encryption", "key file", keyFile)
		case havePass:
			d.ok("encryption", "sealing with aes256 for a passphrase (from %s)", pass.name)
		default:
			d.fail("encryption", usagef("nobody to encrypt to"), "aes256 without a key: no key file and no passphrase",
				"give --key-file FILE (see 'xfer keygen --aes'), key_file in the config, or a passphrase (--passphrase-file or XFER_PASSPHRASE)")
		}
	default:
		d.fail("encryption", usagef("unknown cipher %q", cipher), fmt.Sprintf("unknown cipher %q", cipher),
			"use age or aes256 (--cipher, XFER_CIPHER or cipher in the config)")
	}
}

// recipientCode shows a recipient's check code, for the two sides to
// compare by phone.
func (d *doctor) recipientCode(r, from string) {
	d.info("encryption", "recipient %s (%s): check code %s", showRecipient(r), from, secret.RecipientCheckCode(r))
}

// recipientKind names the kind of an age recipient for messages.
func recipientKind(r age.Recipient) string {
	switch r.(type) {
	case *age.X25519Recipient:
		return "age"
	case *age.HybridRecipient:
		return "post-quantum age"
	}
	return "SSH"
}

func (d *doctor) checkIdentities(files []string, from string, pass secretSource, havePass bool) {
	for _, path := range files {
		b, err := secret.ReadKeyFile(path)
		if err != nil {
			msg := fmt.Sprintf("identity file %s (%s): %v", path, from, err)
			if errors.Is(err, os.ErrNotExist) {
				msg = fmt.Sprintf("identity file %s (%s) does not exist", path, from)
			}
			d.fail("identity", usageError{err}, msg, "check the path (-i or identities in the config); 'xfer keygen -o FILE' makes a new identity")
			continue
		}
		ids, err := crypt.ParseIdentityFile(b)
		if err != nil {
			// crypt's errors name the line, never its content.
			d.fail("identity", usageError{err}, fmt.Sprintf("identity file %s: %s", path, err),
				"an identity file holds AGE-SECRET-KEY-1… lines ('xfer keygen' or age-keygen), an XFER-AES256-KEY-… line ('xfer keygen --aes'), or an unencrypted SSH private key")
			continue
		}
		var parts []string
		if n := len(ids.Age); n > 0 {
			parts = append(parts, count(n, "age identity", "age identities"))
		}
		for _, k := range ids.AES {
			parts = append(parts, "AES key id "+k.KeyID())
		}
		d.ok("identity", "%s: %s", path, strings.Join(parts, ", "))
		for _, r := range identityRecipients(ids) {
			d.info("identity", "%s: its recipient %s has check code %s", path, showRecipient(r), secret.RecipientCheckCode(r))
		}
		d.checkMode("identity", "identity file", path)
	}
	switch {
	case len(files) > 0:
	case havePass:
		d.ok("identity", "decrypting with a passphrase (from %s)", pass.name)
	default:
		d.fail("identity", usagef("no identity"), "no identity to decrypt with: none given, none configured, none at the default paths",
			fmt.Sprintf("give -i FILE or identities in the config, or make one with 'xfer keygen' (written to %s); or a passphrase (--passphrase-file or XFER_PASSPHRASE)",
				filepath.Join(config.Dir(), defaultIdentityFile)))
	}
}

// identityRecipients returns the recipients (public keys) of the age
// identities that have one xfer can print.
func identityRecipients(ids crypt.Identities) []string {
	var rs []string
	for _, id := range ids.Age {
		switch id := id.(type) {
		case *age.X25519Identity:
			rs = append(rs, id.Recipient().String())
		case *age.HybridIdentity:
			rs = append(rs, id.Recipient().String())
		}
	}
	return rs
}

func (d *doctor) checkZipPassword(c *cobra.Command, cfg *config.File, sealing bool) {
	a := d.a
	spec := a.zipPasswordSpec(cfg, false)
	src, ok := a.findSecret(c, spec)
	if !ok {
		hint := "set XFER_ZIP_PASSWORD, pass --zip-password-file FILE, or zip_password_file = \"FILE\" in the config (a file with mode 0600); both sides use the same password"
		if a.isTerminal(a.env.Stdin) {
			d.warn("zip-password", hint, "no zip password configured: send and pull will ask for it on this terminal, but a scheduled run has none to ask on")
			return
		}
		d.fail("zip-password", errNoSecret(spec), "no zip password: none configured and no terminal to ask on", hint)
		return
	}
	pw, err := src.read(a, "zip password")
	if err != nil {
		d.fail("zip-password", err, "", "")
		return
	}
	if src.env == "" {
		d.checkMode("zip-password", "zip password file", src.path)
	}
	code := secret.ZipPasswordCheckCode(pw)
	if !sealing {
		d.ok("zip-password", "from %s; check code %s", src.name, code)
		return
	}
	if cfg.ZipPasswordMinLength != 0 && cfg.ZipPasswordMinLength < seal.MinPasswordLength {
		d.fail("zip-password", usagef("zip_password_min_length %d is below the minimum of %d", cfg.ZipPasswordMinLength, seal.MinPasswordLength), "",
			"remove zip_password_min_length from the config or raise it")
		return
	}
	minLen := max(cfg.ZipPasswordMinLength, seal.MinPasswordLength)
	if err := secret.CheckZipPassword(pw, cfg.ZipPasswordMinLength); err != nil {
		// The policy's message says what is missing, never the password.
		why := err.Error()
		if pe := new(secret.PolicyError); errors.As(err, &pe) {
			why = pe.Why
		}
		d.fail("zip-password", err, fmt.Sprintf("the zip password from %s fails the policy: %s", src.name, why), zipPasswordHint)
		return
	}
	d.ok("zip-password", "from %s; passes the policy (at least %d characters, upper and lower case, digits, hard to guess); check code %s", src.name, minLen, code)
}
