package cmd

import (
	"cmp"
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// exchangeFlags are the flags naming the exchange bucket, shared by every
// command that talks to it.
type exchangeFlags struct {
	endpoint    string
	bucket      string
	prefix      string
	region      string
	profile     string
	caFile      string
	allowHTTP   bool
	sse         string
	sseKMSKeyID string
	ssecKeyFile string
}

func (e *exchangeFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&e.endpoint, "endpoint", "", "S3 endpoint URL (env XFER_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL; default AWS); also --endpoint-url")
	// --endpoint-url is the aws-cli and s5cmd spelling: an alias, so that
	// a command copied from their documentation works.
	normalize := f.GetNormalizeFunc()
	f.SetNormalizeFunc(func(fs *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "endpoint-url" {
			name = "endpoint"
		}
		return normalize(fs, name)
	})
	f.StringVar(&e.bucket, "bucket", "", "exchange bucket (env XFER_BUCKET)")
	f.StringVar(&e.prefix, "prefix", "", "key prefix inside the bucket, e.g. clients/acme/ (env XFER_PREFIX)")
	f.StringVar(&e.region, "region", "", "S3 region (env AWS_REGION)")
	f.StringVar(&e.profile, "profile", "", "AWS shared-config profile for the credentials (env AWS_PROFILE)")
	f.StringVar(&e.caFile, "ca-file", "", "PEM file of extra CA certificates to trust (env XFER_CA_FILE)")
	f.BoolVar(&e.allowHTTP, "allow-http", false, "allow plain http:// to a host that is not loopback")
	f.StringVar(&e.sseKMSKeyID, "sse-kms-key-id", "", "KMS key for --sse aws:kms")
	f.StringVar(&e.sse, "sse", "", "server-side encryption at rest: AES256 or aws:kms (in addition to xfer's own)")
	f.StringVar(&e.ssecKeyFile, "sse-c-key-file", "", "file holding a 32-byte SSE-C key (customer-provided encryption at rest)")
}

// openExchange resolves the exchange settings and opens the store. The
// exchange it returns has no spool or state directory: see
// openExchangeSpool.
func (a *app) openExchange(c *cobra.Command, e *exchangeFlags) (*exchange.Exchange, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	opts := s3store.Options{
		Endpoint:  a.endpoint(c, cfg),
		Bucket:    a.setting(c, "bucket", "XFER_BUCKET", cfg.Bucket, ""),
		Region:    a.setting(c, "region", "AWS_REGION", cfg.Region, ""),
		Profile:   a.setting(c, "profile", "AWS_PROFILE", cfg.Profile, ""),
		AllowHTTP: e.allowHTTP || cfg.AllowHTTP,
		PathStyle: true,
		SSE:       s3store.SSEMode(a.setting(c, "sse", "", cfg.SSE, "")),
		KMSKeyID:  a.setting(c, "sse-kms-key-id", "", cfg.SSEKMSKeyID, ""),
	}
	if a.debug {
		opts.Trace = func(line string) { a.debugf("s3: %s", line) }
	}
	if opts.Bucket == "" {
		return nil, withHint(usagef("no exchange bucket"), "give --bucket, set XFER_BUCKET, or bucket = \"…\" in %s", a.configPathShown())
	}
	if opts.Endpoint == "" {
		opts.PathStyle = false // AWS itself: virtual-hosted style
	}
	switch opts.SSE {
	case s3store.SSENone, s3store.SSES3, s3store.SSEKMS:
	default:
		return nil, usagef("--sse %q: use AES256 or aws:kms", opts.SSE)
	}
	if path := a.setting(c, "ca-file", "XFER_CA_FILE", cfg.CAFile, ""); path != "" {
		if opts.CAPEM, err = os.ReadFile(path); err != nil {
			return nil, usagef("CA file: %w", err)
		}
	}
	if path := a.setting(c, "sse-c-key-file", "", cfg.SSECKeyFile, ""); path != "" {
		if opts.SSE != s3store.SSENone {
			return nil, usagef("--sse and --sse-c-key-file exclude each other")
		}
		if strings.HasPrefix(strings.ToLower(opts.Endpoint), "http://") {
			// S3 refuses customer keys over plain http (MinIO with a bare
			// "Bad Request"): say why before sending the key anywhere.
			return nil, withHint(usagef("--sse-c-key-file needs an https endpoint: the key travels with every request"),
				"use https (with --ca-file for a private CA), or drop --sse-c-key-file")
		}
		key, err := os.ReadFile(path)
		if err != nil {
			return nil, usagef("SSE-C key file: %w", err)
		}
		if len(key) != 32 {
			return nil, usagef("SSE-C key file %s must hold exactly 32 bytes", path)
		}
		a.warnExposed("SSE-C key file", path)
		opts.SSE, opts.CustomerKey = s3store.SSEC, key
	}
	if v := a.setting(c, "", "XFER_STALL_TIMEOUT", cfg.StallTimeout, ""); v != "" {
		d, err := config.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, usagef("stall timeout %q: give a duration such as 2m or 30s", v)
		}
		opts.StallTimeout = d
	}
	prefix := a.setting(c, "prefix", "XFER_PREFIX", cfg.Prefix, "")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	open := a.env.OpenStore
	if open == nil {
		open = func(ctx context.Context, o s3store.Options) (transfer.Store, error) { return s3store.New(ctx, o) }
	}
	store, err := open(c.Context(), opts)
	if err != nil {
		return nil, withHint(usageError{err}, "'xfer doctor' checks the whole configuration")
	}
	x := &exchange.Exchange{Store: store, Prefix: prefix, Ident: exchange.Ident(opts.Endpoint, opts.Bucket),
		Sender: a.sender(), Tool: "xfer " + Version()}
	if d, ok := a.listCacheDir(); ok {
		x.CacheDir = d
	}
	return x, nil
}

// endpoint resolves the S3 endpoint: --endpoint (or --endpoint-url), then
// XFER_ENDPOINT, then the AWS SDK's own variables AWS_ENDPOINT_URL_S3 and
// AWS_ENDPOINT_URL, then the config file. Whichever names it, the endpoint
// is then treated alike: path-style addressing, and plain http only to
// loopback unless allowed. (Left to the SDK, the AWS variables would get
// virtual-hosted addressing and skip the plain-http rule.)
func (a *app) endpoint(c *cobra.Command, cfg *config.File) string {
	below := cfg.Endpoint
	if v := cmp.Or(a.env.Getenv("AWS_ENDPOINT_URL_S3"), a.env.Getenv("AWS_ENDPOINT_URL")); v != "" {
		below = v
	}
	return a.setting(c, "endpoint", "XFER_ENDPOINT", below, "")
}

// openExchangeSpool is openExchange with the spool and state directories,
// for the commands that send, fetch or forget files.
func (a *app) openExchangeSpool(c *cobra.Command, e *exchangeFlags) (*exchange.Exchange, error) {
	return a.openExchangeState(c, e, false)
}

// openExchangeState is openExchangeSpool; for a dry run (dryRun) it names
// the local directories without creating them, so that a dry run on a
// fresh machine leaves nothing behind.
func (a *app) openExchangeState(c *cobra.Command, e *exchangeFlags, dryRun bool) (*exchange.Exchange, error) {
	x, err := a.openExchange(c, e)
	if err != nil {
		return nil, err
	}
	if dryRun {
		x.SpoolDir, err = a.spoolDirPath()
	} else {
		x.SpoolDir, err = a.spoolDir()
	}
	if err != nil {
		return nil, err
	}
	x.StateDir = a.stateDir(x.SpoolDir)
	return x, nil
}

func (a *app) configPathShown() string {
	if a.configPath != "" {
		return a.configPath
	}
	return "the config file"
}

// spoolDir is where sealed files wait for upload, with their journals.
// It is created when missing.
func (a *app) spoolDir() (string, error) {
	dir, err := a.spoolDirPath()
	if err != nil {
		return "", err
	}
	if err := fileperm.MkdirAll(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// spoolDirPath names the spool directory, which may not exist.
func (a *app) spoolDirPath() (string, error) {
	cfg, err := a.config()
	if err != nil {
		return "", err
	}
	if cfg.SpoolDir != "" {
		return cfg.SpoolDir, nil
	}
	d, ok := a.userCacheDir()
	if !ok {
		return "", usagef("no cache directory for the spool: set spool_dir in the config")
	}
	return filepath.Join(d, "spool"), nil
}

// userCacheDir is xfer's directory in the user's cache directory (which
// XDG_CACHE_HOME names everywhere when set). It may not exist yet.
func (a *app) userCacheDir() (string, bool) {
	if d := a.env.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "xfer"), true
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "xfer"), true
	}
	return "", false
}

// stateDir is the cache directory the pull state lives in: the configured
// spool_dir, else the xfer cache directory that holds the spool.
func (a *app) stateDir(spoolDir string) string {
	if cfg, err := a.config(); err == nil && cfg.SpoolDir != "" {
		return spoolDir
	}
	return filepath.Dir(spoolDir)
}

// listCacheDir is where the list caches live: beside pulled.jsonl.
func (a *app) listCacheDir() (string, bool) {
	if cfg, err := a.config(); err == nil && cfg.SpoolDir != "" {
		return filepath.Join(cfg.SpoolDir, "list"), true
	}
	d, ok := a.userCacheDir()
	return filepath.Join(d, "list"), ok
}

// sender names this side in object metadata: the configured name, else
// user@host. It is never anything from inside a file.
func (a *app) sender() string {
	if cfg, err := a.config(); err == nil && cfg.Sender != "" {
		return cfg.Sender
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
