package cmd

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
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
	f.StringVar(&e.endpoint, "endpoint", "", "S3 endpoint URL (env XFER_ENDPOINT; default AWS)")
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

// exchange is an opened exchange bucket with its key prefix.
type exchange struct {
	store  transfer.Store
	prefix string
	ident  string // endpoint and bucket, for spool names
}

// key turns a name as list prints it into the object key.
func (x *exchange) key(name string) string { return x.prefix + name }

func (a *app) openExchange(c *cobra.Command, e *exchangeFlags) (*exchange, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	opts := s3store.Options{
		Endpoint:  a.setting(c, "endpoint", "XFER_ENDPOINT", cfg.Endpoint, ""),
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
	store, err := s3store.New(c.Context(), opts)
	if err != nil {
		return nil, usageError{err}
	}
	return &exchange{store: store, prefix: prefix, ident: exchangeIdent(opts.Endpoint, opts.Bucket)}, nil
}

// exchangeIdent names an exchange for the local state kept about it
// (spools, journals, what was pulled): the endpoint as written in
// different but equal ways (a trailing slash, upper-case host, the
// scheme's default port) names the same exchange, so a re-run with the
// endpoint spelt otherwise still resumes and still knows what it pulled.
func exchangeIdent(endpoint, bucket string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		u.Scheme = strings.ToLower(u.Scheme)
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
			port = ""
		}
		if port != "" {
			u.Host = net.JoinHostPort(host, port)
		} else if strings.Contains(host, ":") {
			u.Host = "[" + host + "]" // IPv6
		} else {
			u.Host = host
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath, u.RawQuery, u.Fragment = "", "", ""
		endpoint = u.String()
	}
	return endpoint + "|" + bucket
}

func (a *app) configPathShown() string {
	if a.configPath != "" {
		return a.configPath
	}
	return "the config file"
}

// spoolDir is where sealed files wait for upload, with their journals.
func (a *app) spoolDir() (string, error) {
	cfg, err := a.config()
	if err != nil {
		return "", err
	}
	dir := cfg.SpoolDir
	if dir == "" {
		d, ok := a.userCacheDir()
		if !ok {
			return "", usagef("no cache directory for the spool: set spool_dir in the config")
		}
		dir = filepath.Join(d, "spool")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
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

// spoolPath names the spool of one object: the same object always gets the
// same spool, so a re-run finds what an interrupted run left.
func (x *exchange) spoolPath(dir, key string) string {
	h := sha256.Sum256([]byte(x.ident + "|" + key))
	return filepath.Join(dir, hex.EncodeToString(h[:12])+".spool")
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
