package s3store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/xfer-dev/xfer/transfer"
)

// BucketSetup is what InitBucket makes of a bucket.
type BucketSetup struct {
	// Create makes the bucket when it does not exist; without it a
	// missing bucket is an error (transfer.ErrNoSuchBucket).
	Create bool
	// Encryption is the default encryption at rest: SSES3 or SSEKMS (with
	// KMSKeyID, empty for the server's default key). Empty means SSES3.
	Encryption SSEMode
	KMSKeyID   string
	// AbortUploadsAfterDays and NoncurrentExpiryDays are the lifecycle
	// rules' ages in days; 0 leaves that rule out.
	AbortUploadsAfterDays int
	NoncurrentExpiryDays  int
	// ForceTLSPolicy sets the TLS-only bucket policy even though the
	// endpoint is plain http, which the policy then refuses.
	ForceTLSPolicy bool
	// Skip names settings (of Settings, but not SettingBucket) to leave
	// alone: reported as StatusSkipped, neither read nor written.
	Skip []string
	// DryRun reads the current settings and reports what would change,
	// writing nothing.
	DryRun bool
}

// The settings InitBucket reports on, in the order it makes them.
const (
	SettingBucket            = "bucket"
	SettingVersioning        = "versioning"
	SettingEncryption        = "encryption"
	SettingPublicAccessBlock = "public-access-block"
	SettingAbortUploads      = "lifecycle-abort-uploads"
	SettingNoncurrentExpiry  = "lifecycle-noncurrent-versions"
	SettingTLSPolicy         = "tls-only-policy"
)

// Settings are the settings InitBucket reports on, in its order.
var Settings = []string{SettingBucket, SettingVersioning, SettingEncryption, SettingPublicAccessBlock,
	SettingAbortUploads, SettingNoncurrentExpiry, SettingTLSPolicy}

// SettingStatus is the outcome of one setting.
type SettingStatus string

const (
	StatusApplied    SettingStatus = "applied"     // set, and read back as set
	StatusAlready    SettingStatus = "already"     // read as wanted before anything was written
	StatusCreated    SettingStatus = "created"     // the bucket, made by InitBucket
	StatusWouldApply SettingStatus = "would-apply" // DryRun: would be written
	StatusSkipped    SettingStatus = "skipped"     // left out on purpose; Detail says why
	StatusRefused    SettingStatus = "refused"     // the store answered the write with an error; Code is its code
	StatusUnverified SettingStatus = "unverified"  // the store took the write, but reading it back failed; Code is the read's
	StatusFailed     SettingStatus = "failed"      // anything else: no answer, access denied, read back otherwise
)

// OK reports whether the status leaves the setting as wanted, or
// deliberately alone.
func (st SettingStatus) OK() bool {
	switch st {
	case StatusApplied, StatusAlready, StatusCreated, StatusWouldApply, StatusSkipped:
		return true
	}
	return false
}

// SettingResult is what InitBucket did about one setting.
type SettingResult struct {
	Setting string
	Status  SettingStatus
	Want    string // the value InitBucket sets, in words
	Got     string // the value read back (before a write for StatusAlready); empty when none
	Code    string // the store's error code, for StatusRefused, StatusUnverified, StatusFailed
	Detail  string // why, for every status but StatusApplied and StatusAlready
}

// The IDs and Sid that mark what InitBucket owns in a bucket's lifecycle
// configuration and policy: it replaces these and keeps everything else.
const (
	ruleAbortUploads     = "xfer-abort-incomplete-uploads"
	ruleNoncurrentExpiry = "xfer-expire-noncurrent-versions"
	sidTLSOnly           = "XferDenyInsecureTransport"
)

// InitBucket makes the bucket fit for an exchange where the store allows
// it: versioning, default encryption, public access blocked, lifecycle
// rules for unfinished uploads and old versions, and a bucket policy
// refusing plain-http requests. Each setting is read first, written when
// it differs, and read back; the results say, setting by setting, what
// happened. A refusal of one setting does not stop the others.
//
// The lifecycle configuration and bucket policy are merged: rules and
// statements that are not xfer's are kept as they are. The TLS-only policy
// is skipped over a plain http endpoint (it would refuse every later
// request) unless ForceTLSPolicy.
//
// The error is for what stops the whole run: the bucket missing (without
// Create), denied, or unreachable, or ctx ending.
func (s *Store) InitBucket(ctx context.Context, setup BucketSetup) ([]SettingResult, error) {
	if setup.Encryption == SSENone {
		setup.Encryption = SSES3
	}
	if setup.Encryption != SSES3 && setup.Encryption != SSEKMS {
		return nil, fmt.Errorf("default bucket encryption must be %s or %s, not %s", SSES3, SSEKMS, setup.Encryption)
	}
	for _, name := range setup.Skip {
		if !slices.Contains(Settings[1:], name) {
			return nil, fmt.Errorf("no setting %q to skip", name)
		}
	}
	if setup.AbortUploadsAfterDays < 0 || setup.NoncurrentExpiryDays < 0 {
		return nil, errors.New("lifecycle days must not be negative")
	}
	var results []SettingResult
	exists, res, err := s.ensureBucket(ctx, setup)
	if err != nil {
		return nil, err
	}
	results = append(results, res)
	b := bucketInit{s: s, setup: setup, exists: exists}
	for _, step := range []func(context.Context) []SettingResult{
		one(b.versioning), one(b.encryption), one(b.publicAccessBlock), b.lifecycle, one(b.tlsPolicy),
	} {
		if err := ctx.Err(); err != nil {
			return results, s.wrap(ctx, "InitBucket", "", err)
		}
		results = append(results, step(ctx)...)
	}
	return results, nil
}

func one(f func(context.Context) SettingResult) func(context.Context) []SettingResult {
	return func(ctx context.Context) []SettingResult { return []SettingResult{f(ctx)} }
}

// ensureBucket reports whether the bucket exists, creating it when asked.
func (s *Store) ensureBucket(ctx context.Context, setup BucketSetup) (bool, SettingResult, error) {
	r := SettingResult{Setting: SettingBucket, Want: s.bucket}
	err := s.headBucket(ctx)
	switch {
	case err == nil:
		r.Status, r.Got = StatusAlready, "exists"
		return true, r, nil
	case !errors.Is(err, transfer.ErrNoSuchBucket):
		return false, r, err
	case !setup.Create:
		return false, r, err
	case setup.DryRun:
		r.Status, r.Detail = StatusWouldApply, "would create the bucket"
		return false, r, nil
	}
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	// S3 wants the region named for any region but us-east-1.
	if region := s.Region(); region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	if _, err := s.client.CreateBucket(ctx, in); err != nil && apiCode(err) != "BucketAlreadyOwnedByYou" {
		return false, r, s.wrap(ctx, "CreateBucket", "", err)
	}
	r.Status, r.Got = StatusCreated, "exists"
	return true, r, nil
}

// bucketInit runs the steps of one InitBucket.
type bucketInit struct {
	s      *Store
	setup  BucketSetup
	exists bool // false only in a dry run for a bucket not yet created
}

// setting is one setting for run: read returns the current value in words
// ("none" when nothing is set) and whether it is as wanted; write sets it.
type setting struct {
	name, want string
	read       func(context.Context) (got string, ok bool, err error)
	write      func(context.Context) error
	readOp     string
	writeOp    string
}

func (b *bucketInit) run(ctx context.Context, st setting) SettingResult {
	r := SettingResult{Setting: st.name, Want: st.want}
	if slices.Contains(b.setup.Skip, st.name) {
		r.Status, r.Detail = StatusSkipped, "left alone as asked"
		return r
	}
	var readErr error
	if b.exists {
		got, ok, err := st.read(ctx)
		if err == nil {
			r.Got = got
			if ok {
				r.Status = StatusAlready
				return r
			}
		}
		readErr = err
	}
	if b.setup.DryRun {
		r.Status, r.Detail = StatusWouldApply, "would set "+st.want
		if readErr != nil {
			r.Detail += " (the current value could not be read: " + b.failure(ctx, r, st.readOp, readErr).Detail + ")"
		}
		return r
	}
	if err := st.write(ctx); err != nil {
		return b.failure(ctx, r, st.writeOp, err)
	}
	got, ok, err := st.read(ctx)
	if err != nil {
		// Taken but not told back, whatever the reason: never "applied".
		res := b.failure(ctx, r, st.readOp, err)
		res.Status, res.Got = StatusUnverified, ""
		res.Detail = "the store took " + st.writeOp + ", but reading it back failed: " + res.Detail
		return res
	}
	r.Got = got
	if !ok {
		r.Status, r.Detail = StatusFailed, "the store took "+st.writeOp+" but reads back "+quoteEmpty(got)
		return r
	}
	r.Status = StatusApplied
	return r
}

// failure fills in r for a failed request: refused when the store
// answered with an error code of its own (other than access denied or a
// server error), failed otherwise.
func (b *bucketInit) failure(ctx context.Context, r SettingResult, op string, err error) SettingResult {
	var se *transfer.StoreError
	if !errors.As(err, &se) {
		status := httpStatus(err)
		err = b.s.wrap(ctx, op, "", err)
		errors.As(err, &se)
		if se.Code == "" && status == http.StatusNotImplemented {
			se.Code = "NotImplemented"
		}
	}
	r.Code, r.Detail = se.Code, errorText(se)
	if r.Code != "" && !errors.Is(se, transfer.ErrAccessDenied) && !se.Temporary && ctx.Err() == nil {
		r.Status = StatusRefused
	} else {
		r.Status = StatusFailed
	}
	return r
}

func (b *bucketInit) versioning(ctx context.Context) SettingResult {
	s := b.s
	return b.run(ctx, setting{
		name: SettingVersioning, want: string(types.BucketVersioningStatusEnabled),
		readOp: "GetBucketVersioning", writeOp: "PutBucketVersioning",
		read: func(ctx context.Context) (string, bool, error) {
			v, err := s.Versioning(ctx)
			return v, v == string(types.BucketVersioningStatusEnabled), err
		},
		write: func(ctx context.Context) error {
			_, err := s.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  &s.bucket,
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
			})
			return err
		},
	})
}

func (b *bucketInit) encryption(ctx context.Context) SettingResult {
	s := b.s
	want := string(b.setup.Encryption)
	if b.setup.Encryption == SSEKMS && b.setup.KMSKeyID != "" {
		want += " key " + b.setup.KMSKeyID
	}
	return b.run(ctx, setting{
		name: SettingEncryption, want: want,
		readOp: "GetBucketEncryption", writeOp: "PutBucketEncryption",
		read: func(ctx context.Context) (string, bool, error) {
			e, err := s.DefaultEncryption(ctx)
			if err != nil {
				return "", false, err
			}
			if e.Algorithm == "" {
				return "none", false, nil
			}
			got := e.Algorithm
			if e.KMSKeyID != "" {
				got += " key " + e.KMSKeyID
			}
			return got, e.Algorithm == string(b.setup.Encryption) && sameKMSKey(e.KMSKeyID, b.setup.KMSKeyID), nil
		},
		write: func(ctx context.Context) error {
			def := &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryption(b.setup.Encryption)}
			if b.setup.Encryption == SSEKMS && b.setup.KMSKeyID != "" {
				def.KMSMasterKeyID = aws.String(b.setup.KMSKeyID)
			}
			_, err := s.client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
				Bucket: &s.bucket,
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
					Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: def}},
				},
			})
			return err
		},
	})
}

// sameKMSKey compares a key as read back with the one asked for: S3 may
// answer with the key's ARN for a key given by ID. No key asked for
// takes whatever key the server chose.
func sameKMSKey(got, want string) bool {
	if want == "" || got == want {
		return true
	}
	return strings.HasSuffix(got, "/"+want) || strings.HasSuffix(got, ":"+want)
}

func (b *bucketInit) publicAccessBlock(ctx context.Context) SettingResult {
	s := b.s
	return b.run(ctx, setting{
		name: SettingPublicAccessBlock, want: "all four blocks on",
		readOp: "GetPublicAccessBlock", writeOp: "PutPublicAccessBlock",
		read: func(ctx context.Context) (string, bool, error) {
			out, err := s.client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &s.bucket})
			if apiCode(err) == "NoSuchPublicAccessBlockConfiguration" {
				return "none", false, nil
			}
			if err != nil {
				return "", false, err
			}
			c := out.PublicAccessBlockConfiguration
			if c == nil {
				return "none", false, nil
			}
			flags := []struct {
				name string
				on   *bool
			}{
				{"BlockPublicAcls", c.BlockPublicAcls}, {"IgnorePublicAcls", c.IgnorePublicAcls},
				{"BlockPublicPolicy", c.BlockPublicPolicy}, {"RestrictPublicBuckets", c.RestrictPublicBuckets},
			}
			var off []string
			for _, f := range flags {
				if !aws.ToBool(f.on) {
					off = append(off, f.name)
				}
			}
			if len(off) == 0 {
				return "all four blocks on", true, nil
			}
			return "off: " + strings.Join(off, ", "), false, nil
		},
		write: func(ctx context.Context) error {
			_, err := s.client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
				Bucket: &s.bucket,
				PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
					BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
					BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
				},
			})
			return err
		},
	})
}

// lifecycle sets the two rules one request each, so that a store that
// refuses one kind of rule still gets the other, and each is reported.
func (b *bucketInit) lifecycle(ctx context.Context) []SettingResult {
	type ruleSpec struct {
		setting, id, want string
		days              int
		rule              types.LifecycleRule
		matches           func(types.LifecycleRule) bool
	}
	specs := []ruleSpec{{
		setting: SettingAbortUploads, id: ruleAbortUploads, days: b.setup.AbortUploadsAfterDays,
		want: fmt.Sprintf("abort unfinished uploads after %d days", b.setup.AbortUploadsAfterDays),
		rule: types.LifecycleRule{
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(int32(b.setup.AbortUploadsAfterDays))},
		},
		matches: func(r types.LifecycleRule) bool {
			a := r.AbortIncompleteMultipartUpload
			return a != nil && int(aws.ToInt32(a.DaysAfterInitiation)) == b.setup.AbortUploadsAfterDays
		},
	}, {
		setting: SettingNoncurrentExpiry, id: ruleNoncurrentExpiry, days: b.setup.NoncurrentExpiryDays,
		want: fmt.Sprintf("expire noncurrent versions after %d days", b.setup.NoncurrentExpiryDays),
		rule: types.LifecycleRule{
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(int32(b.setup.NoncurrentExpiryDays))},
		},
		matches: func(r types.LifecycleRule) bool {
			e := r.NoncurrentVersionExpiration
			return e != nil && int(aws.ToInt32(e.NoncurrentDays)) == b.setup.NoncurrentExpiryDays
		},
	}}
	s := b.s
	results := make([]SettingResult, 0, len(specs))
	for _, sp := range specs {
		if sp.days == 0 {
			results = append(results, SettingResult{Setting: sp.setting, Status: StatusSkipped, Want: "none", Detail: "turned off (0 days)"})
			continue
		}
		rule := sp.rule
		rule.ID = aws.String(sp.id)
		rule.Status = types.ExpirationStatusEnabled
		rule.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
		results = append(results, b.run(ctx, setting{
			name: sp.setting, want: sp.want,
			readOp: "GetBucketLifecycleConfiguration", writeOp: "PutBucketLifecycleConfiguration",
			read: func(ctx context.Context) (string, bool, error) {
				rules, err := s.lifecycleRules(ctx)
				if err != nil {
					return "", false, err
				}
				for _, r := range rules {
					if aws.ToString(r.ID) == sp.id {
						got := describeRule(r)
						return got, r.Status == types.ExpirationStatusEnabled && sp.matches(r), nil
					}
				}
				return "none", false, nil
			},
			write: func(ctx context.Context) error {
				rules, err := s.lifecycleRules(ctx)
				if err != nil && !isNotImplemented(err) {
					return s.wrap(ctx, "GetBucketLifecycleConfiguration", "", err)
				}
				// Keep every rule but this one's earlier version.
				merged := []types.LifecycleRule{rule}
				for _, r := range rules {
					if aws.ToString(r.ID) != sp.id {
						merged = append(merged, r)
					}
				}
				_, err = s.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
					Bucket:                 &s.bucket,
					LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: merged},
				})
				return err
			},
		}))
	}
	return results
}

// lifecycleRules returns the bucket's lifecycle rules; none when it has no
// configuration.
func (s *Store) lifecycleRules(ctx context.Context) ([]types.LifecycleRule, error) {
	out, err := s.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &s.bucket})
	if apiCode(err) == "NoSuchLifecycleConfiguration" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out.Rules, nil
}

func describeRule(r types.LifecycleRule) string {
	var parts []string
	if a := r.AbortIncompleteMultipartUpload; a != nil {
		parts = append(parts, fmt.Sprintf("abort unfinished uploads after %d days", aws.ToInt32(a.DaysAfterInitiation)))
	}
	if e := r.NoncurrentVersionExpiration; e != nil {
		parts = append(parts, fmt.Sprintf("expire noncurrent versions after %d days", aws.ToInt32(e.NoncurrentDays)))
	}
	if len(parts) == 0 {
		parts = append(parts, "another action")
	}
	d := strings.Join(parts, ", ")
	if r.Status != types.ExpirationStatusEnabled {
		d += " (" + strings.ToLower(string(r.Status)) + ")"
	}
	return d
}

// tlsPolicy adds a statement denying any request not made over TLS to the
// bucket policy, keeping the policy's other statements.
func (b *bucketInit) tlsPolicy(ctx context.Context) SettingResult {
	s := b.s
	want := "deny requests without TLS (aws:SecureTransport=false)"
	if u, err := url.Parse(s.opts.Endpoint); err == nil && u.Scheme == "http" && !b.setup.ForceTLSPolicy {
		return SettingResult{Setting: SettingTLSPolicy, Status: StatusSkipped, Want: want,
			Detail: "the endpoint is plain http, so this policy would refuse every request xfer makes to it; force it only when the store is also reached over https"}
	}
	stmt := TLSOnlyStatement(s.bucket, "aws")
	return b.run(ctx, setting{
		name: SettingTLSPolicy, want: want,
		readOp: "GetBucketPolicy", writeOp: "PutBucketPolicy",
		read: func(ctx context.Context) (string, bool, error) {
			doc, err := s.bucketPolicy(ctx)
			if err != nil {
				return "", false, err
			}
			if doc == nil {
				return "none", false, nil
			}
			for _, st := range statements(doc) {
				if st["Sid"] == sidTLSOnly {
					if isTLSDeny(st) {
						return want, true, nil
					}
					return "an " + sidTLSOnly + " statement that differs", false, nil
				}
			}
			return "no TLS-only statement", false, nil
		},
		write: func(ctx context.Context) error {
			doc, err := s.bucketPolicy(ctx)
			if err != nil && !isNotImplemented(err) {
				return s.wrap(ctx, "GetBucketPolicy", "", err)
			}
			if doc == nil {
				doc = map[string]any{"Version": "2012-10-17"}
			}
			merged := []any{stmt}
			for _, st := range statements(doc) {
				if st["Sid"] != sidTLSOnly {
					merged = append(merged, st)
				}
			}
			doc["Statement"] = merged
			body, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			_, err = s.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &s.bucket, Policy: aws.String(string(body))})
			return err
		},
	})
}

// bucketPolicy returns the bucket policy parsed; nil when there is none.
func (s *Store) bucketPolicy(ctx context.Context) (map[string]any, error) {
	out, err := s.client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &s.bucket})
	if apiCode(err) == "NoSuchBucketPolicy" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(aws.ToString(out.Policy))
	if text == "" || text == "{}" {
		return nil, nil
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return nil, fmt.Errorf("the bucket policy is not valid JSON: %w", err)
	}
	return doc, nil
}

// statements returns a policy's statements, which may be one object or a
// list of them.
func statements(doc map[string]any) []map[string]any {
	switch st := doc["Statement"].(type) {
	case map[string]any:
		return []map[string]any{st}
	case []any:
		var out []map[string]any
		for _, v := range st {
			if m, ok := v.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// isTLSDeny reports whether a statement read back denies requests with
// aws:SecureTransport false; stores rewrite values into lists and
// principals into {"AWS": ["*"]}, so this looks at the substance only.
func isTLSDeny(st map[string]any) bool {
	if st["Effect"] != "Deny" {
		return false
	}
	cond, _ := st["Condition"].(map[string]any)
	for op, v := range cond {
		if !strings.EqualFold(op, "Bool") {
			continue
		}
		keys, _ := v.(map[string]any)
		for k, val := range keys {
			if !strings.EqualFold(k, "aws:SecureTransport") {
				continue
			}
			switch x := val.(type) {
			case string:
				return strings.EqualFold(x, "false")
			case bool:
				return !x
			case []any:
				return len(x) == 1 && strings.EqualFold(fmt.Sprint(x[0]), "false")
			}
		}
	}
	return false
}

// apiCode is the S3 error code of err; empty when it has none.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotImplemented(err error) bool {
	c := apiCode(err)
	return httpStatus(err) == http.StatusNotImplemented || c == "NotImplemented" || strings.Contains(c, "NotSupported")
}

// errorText is err's message without the "op bucket name: " start that
// the setting's line says already.
func errorText(err error) string {
	var se *transfer.StoreError
	if errors.As(err, &se) {
		var parts []string
		if se.Kind != nil {
			parts = append(parts, se.Kind.Error())
		}
		if se.Err != nil {
			parts = append(parts, se.Err.Error())
		}
		return se.Op + ": " + strings.Join(parts, ": ")
	}
	return err.Error()
}

func quoteEmpty(s string) string {
	if s == "" {
		return "nothing"
	}
	return strconv.Quote(s)
}
