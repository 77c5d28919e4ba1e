package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

func (a *app) newBucketCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "bucket",
		Short: "Set up the exchange bucket and the policies that confine each client",
		Long: `Commands for whoever runs the exchange bucket (usually the mailing house):
'init' makes a bucket fit for the job, 'policy' prints the access policy for
one client's key. See docs/bucket-setup.md.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(a.newBucketInitCommand(), a.newBucketPolicyCommand())
	return c
}

type bucketInitOptions struct {
	exchangeFlags
	create         bool
	dryRun         bool
	forceTLSPolicy bool
	abortAfter     string
	noncurrentFor  string
	skip           []string
}

func (a *app) newBucketInitCommand() *cobra.Command {
	var o bucketInitOptions
	c := &cobra.Command{
		Use:   "init [--create] [--dry-run]",
		Short: "Make the exchange bucket fit for address files, and report what the store took",
		Long: `Set up the exchange bucket, where the store supports it:

    bucket                         created with --create when it does not exist
    versioning                     Enabled: an overwrite or delete keeps the old version
    encryption                     default encryption at rest: AES256 (SSE-S3), or aws:kms
                                   with --sse aws:kms and --sse-kms-key-id (or sse and
                                   sse_kms_key_id in the config), in addition to xfer's own
    public-access-block            all four of S3's public access blocks on
    lifecycle-abort-uploads        abort unfinished multipart uploads after
                                   --abort-uploads-after (default 7d)
    lifecycle-noncurrent-versions  delete versions that are no longer current after
                                   --noncurrent-versions-after (default 30d)
    tls-only-policy                a bucket policy statement denying every request not
                                   made over TLS (aws:SecureTransport false)

Each setting is read first; when it differs it is written and then read back
through the API. One line per setting says what happened: created, applied
(written and read back as set), already (nothing to do), skipped (on purpose,
with the reason), refused (the store answered the write with an error: its S3
code is shown, e.g. NotImplemented), unverified (written, but the store would
not read it back) or failed. With --json one {"event":"setting","setting",
"status","want","got","code","detail"} object per setting, then
{"event":"bucket_init",...} with the counts and the summary (docs/events.md).

Lifecycle rules and policy statements that are not xfer's are kept: xfer
replaces only its own (rule IDs xfer-abort-incomplete-uploads and
xfer-expire-noncurrent-versions, statement XferDenyInsecureTransport). The
rules cover the whole bucket, whatever --prefix says. A lifetime of 0 leaves
that rule out.

Over a plain http:// endpoint the TLS-only policy would refuse every later
request, xfer's included, so it is skipped (and said so) unless
--force-tls-policy: use that when the store is reached over https by everyone
else.

--skip SETTING leaves a setting alone (reported as skipped): for a store known
not to support it, so that a scheduled check still ends with 0. --dry-run
reads the current settings and prints what would change, writing nothing.

Exit status: 0 when every setting is as wanted (or skipped on purpose); 1 when
any was refused, unverified or failed (the last line counts them); 2 for a
usage error or a missing bucket without --create; 3 when the credentials are
refused.

Environment: XFER_ENDPOINT, XFER_BUCKET, AWS_REGION, AWS_* credentials, XFER_CONFIG.`,
		Example: `  xfer bucket init --bucket exchange --create
  xfer bucket init --dry-run
  xfer bucket init --sse aws:kms --sse-kms-key-id alias/xfer --noncurrent-versions-after 14d
  xfer bucket init --json | jq -c 'select(.status=="refused")'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runBucketInit(c, o) },
	}
	o.exchangeFlags.add(c)
	f := c.Flags()
	f.BoolVar(&o.create, "create", false, "create the bucket when it does not exist")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be set, and set nothing")
	f.BoolVar(&o.forceTLSPolicy, "force-tls-policy", false, "set the TLS-only policy even over a plain http endpoint")
	f.StringVar(&o.abortAfter, "abort-uploads-after", "7d", "abort unfinished multipart uploads after this many days (0: no rule)")
	f.StringVar(&o.noncurrentFor, "noncurrent-versions-after", "30d", "delete noncurrent versions after this many days (0: no rule)")
	f.StringSliceVar(&o.skip, "skip", nil, "leave this setting alone, e.g. public-access-block on a store without it (repeatable)")
	return c
}

// wholeDays parses a lifetime flag: whole days, "30d" or "720h"; 0 is none.
func wholeDays(flag, s string) (int, error) {
	d, err := config.ParseDuration(s)
	if err != nil || d < 0 || d%(24*time.Hour) != 0 || d > 100*365*24*time.Hour {
		return 0, usagef("--%s %q: give whole days, like 7d", flag, s)
	}
	return int(d / (24 * time.Hour)), nil
}

func (a *app) runBucketInit(c *cobra.Command, o bucketInitOptions) error {
	setup := s3store.BucketSetup{Create: o.create, DryRun: o.dryRun, ForceTLSPolicy: o.forceTLSPolicy, Skip: o.skip}
	for _, name := range o.skip {
		if !slices.Contains(s3store.Settings[1:], name) {
			return usagef("--skip %q: use one of %s", name, strings.Join(s3store.Settings[1:], ", "))
		}
	}
	var err error
	if setup.AbortUploadsAfterDays, err = wholeDays("abort-uploads-after", o.abortAfter); err != nil {
		return err
	}
	if setup.NoncurrentExpiryDays, err = wholeDays("noncurrent-versions-after", o.noncurrentFor); err != nil {
		return err
	}
	x, err := a.openExchange(c, &o.exchangeFlags)
	if err != nil {
		return err
	}
	store, ok := x.Store.(*s3store.Store)
	if !ok {
		return errors.New("bucket init needs an S3 store")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	// The bucket default follows the configured encryption of sent
	// objects; SSE-C has no bucket default, so it gets SSE-S3.
	if s3store.SSEMode(a.setting(c, "sse", "", cfg.SSE, "")) == s3store.SSEKMS {
		setup.Encryption, setup.KMSKeyID = s3store.SSEKMS, a.setting(c, "sse-kms-key-id", "", cfg.SSEKMSKeyID, "")
	}
	results, err := store.InitBucket(c.Context(), setup)
	if err != nil {
		if errors.Is(err, transfer.ErrNoSuchBucket) && !o.create {
			return withHint(err, "add --create to make it, or check --bucket and --endpoint")
		}
		return err
	}
	counts := map[s3store.SettingStatus]int{}
	var notOK []string
	for _, r := range results {
		counts[r.Status]++
		if !r.Status.OK() {
			notOK = append(notOK, r.Setting)
		}
		a.result(map[string]any{
			"event": "setting", "setting": r.Setting, "status": eventWord(string(r.Status)),
			"want": r.Want, "got": r.Got, "code": r.Code, "detail": r.Detail,
		}, "%-30s %-11s %s", r.Setting, r.Status, settingText(r))
	}
	asWanted := len(results) - len(notOK) - counts[s3store.StatusWouldApply]
	summary := fmt.Sprintf("bucket %s: %d of %d settings as wanted", store.Bucket(), asWanted, len(results))
	var parts []string
	for _, st := range []s3store.SettingStatus{s3store.StatusWouldApply, s3store.StatusSkipped, s3store.StatusRefused, s3store.StatusUnverified, s3store.StatusFailed} {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(parts) > 0 {
		summary += " (" + strings.Join(parts, ", ") + ")"
	}
	if o.dryRun {
		summary += "; dry run, nothing written"
	}
	event := map[string]any{"event": "bucket_init", "bucket": store.Bucket(), "dry_run": o.dryRun, "settings": len(results), "as_wanted": asWanted}
	for _, st := range settingStatuses {
		event[eventWord(string(st))] = counts[st]
	}
	a.result(event, "%s", summary)
	if o.dryRun {
		// A dry run is a drift check: what would change is not as wanted.
		for _, r := range results {
			if r.Status == s3store.StatusWouldApply {
				notOK = append(notOK, r.Setting)
			}
		}
	}
	if len(notOK) > 0 {
		return withHint(fmt.Errorf("%d settings not as wanted: %s", len(notOK), strings.Join(notOK, ", ")),
			"a setting the store refuses is one it does not support or does not allow these credentials; see docs/bucket-setup.md for what each store supports")
	}
	return nil
}

// settingStatuses are the statuses bucket_init counts, each always.
var settingStatuses = []s3store.SettingStatus{
	s3store.StatusApplied, s3store.StatusAlready, s3store.StatusCreated, s3store.StatusWouldApply,
	s3store.StatusSkipped, s3store.StatusRefused, s3store.StatusUnverified, s3store.StatusFailed,
}

// settingText is the human column of one setting's line.
func settingText(r s3store.SettingResult) string {
	switch r.Status {
	case s3store.StatusApplied, s3store.StatusCreated:
		return r.Want
	case s3store.StatusAlready:
		return r.Got
	case s3store.StatusRefused, s3store.StatusUnverified, s3store.StatusFailed:
		if r.Code != "" && !strings.Contains(r.Detail, r.Code) {
			return r.Code + ": " + r.Detail
		}
	}
	return r.Detail
}

type bucketPolicyOptions struct {
	bucket, prefix string
	client         string
	sourceIPs      []string
	bucketPolicy   bool
	principal      string
	partition      string
}

func (a *app) newBucketPolicyCommand() *cobra.Command {
	var o bucketPolicyOptions
	c := &cobra.Command{
		Use:   "policy --client NAME [--source-ip CIDR]…",
		Short: "Print the policy that confines one client's key to its own prefix",
		Long: `Print, as JSON on stdout, the IAM policy to attach to one client's user or
role, which confines its key to <prefix><client>/ of the exchange bucket:

  - list the bucket only under that prefix (s3:ListBucket and
    s3:ListBucketVersions with an s3:prefix condition);
  - list unfinished multipart uploads (s3:ListBucketMultipartUploads, which
    send and shred need; S3 has no prefix condition for it, so the key can
    see the names, never the content, of other clients' unfinished uploads);
  - get, put and delete objects and their versions, abort uploads and list
    their parts, under that prefix only;
  - nothing over plain http (a Deny on aws:SecureTransport false);
  - with --source-ip (repeatable; a CIDR network or one address), nothing
    from any other network (a Deny on aws:SourceIp).

With --bucket-policy --principal ARN the same statements come as a bucket
policy granting that principal, to merge into the bucket's policy instead.
Nothing is sent anywhere: attaching the policy is the operator's step.

The client name is 1 to 63 letters, digits, '.', '_' or '-', without "..";
a bad name, network or ARN is a usage error (exit 2).

Environment: XFER_BUCKET, XFER_PREFIX, XFER_CONFIG.`,
		Example: `  xfer bucket policy --client acme --bucket exchange --prefix clients/
  xfer bucket policy --client acme --source-ip 203.0.113.0/24 > acme-policy.json
  aws iam put-user-policy --user-name acme --policy-name xfer --policy-document file://acme-policy.json
  xfer bucket policy --client acme --bucket-policy --principal arn:aws:iam::123456789012:user/acme`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runBucketPolicy(c, o) },
	}
	f := c.Flags()
	f.StringVar(&o.bucket, "bucket", "", "exchange bucket (env XFER_BUCKET)")
	f.StringVar(&o.prefix, "prefix", "", "key prefix of the exchange, under which each client has NAME/ (env XFER_PREFIX)")
	f.StringVar(&o.client, "client", "", "the client's name: its prefix is <prefix><client>/ (required)")
	f.StringArrayVar(&o.sourceIPs, "source-ip", nil, "allow the key only from this CIDR network or address (repeatable)")
	f.BoolVar(&o.bucketPolicy, "bucket-policy", false, "print a bucket policy for --principal instead of an IAM policy")
	f.StringVar(&o.principal, "principal", "", "the client's IAM user or role ARN, for --bucket-policy")
	f.StringVar(&o.partition, "partition", "aws", "ARN partition: aws, aws-cn, aws-us-gov")
	return c
}

func (a *app) runBucketPolicy(c *cobra.Command, o bucketPolicyOptions) error {
	if o.client == "" {
		return usagef("--client NAME is required")
	}
	if o.bucketPolicy != (o.principal != "") {
		return usagef("--bucket-policy and --principal ARN go together")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	bucket := a.setting(c, "bucket", "XFER_BUCKET", cfg.Bucket, "")
	if bucket == "" {
		return withHint(usagef("no exchange bucket"), "give --bucket, set XFER_BUCKET, or bucket = \"…\" in %s", a.configPathShown())
	}
	p, err := s3store.ClientPolicy(s3store.ClientPolicyOptions{
		Bucket:      bucket,
		Prefix:      a.setting(c, "prefix", "XFER_PREFIX", cfg.Prefix, ""),
		Client:      o.client,
		SourceCIDRs: o.sourceIPs,
		Partition:   o.partition,
		Principal:   o.principal,
	})
	if err != nil {
		return usageError{err}
	}
	if a.json {
		a.emit(map[string]any{"event": "policy", "client": o.client, "bucket_policy": o.bucketPolicy, "policy": p})
		return nil
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.env.Stdout.Write(append(b, '\n'))
	return err
}
