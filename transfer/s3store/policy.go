package s3store

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
)

// Policy is an IAM or S3 bucket policy document.
type Policy struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement of a Policy. Principal is set only in
// bucket policies.
type PolicyStatement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

const policyVersion = "2012-10-17"

// TLSOnlyStatement denies every request to the bucket and its objects that
// does not come over TLS, whoever makes it.
func TLSOnlyStatement(bucket, partition string) PolicyStatement {
	return PolicyStatement{
		Sid:       sidTLSOnly,
		Effect:    "Deny",
		Principal: "*",
		Action:    []string{"s3:*"},
		Resource:  []string{bucketARN(partition, bucket), bucketARN(partition, bucket) + "/*"},
		Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}},
	}
}

func bucketARN(partition, bucket string) string {
	return "arn:" + partition + ":s3:::" + bucket
}

// ClientPolicyOptions describe one client's confinement.
type ClientPolicyOptions struct {
	Bucket string
	// Prefix is the exchange prefix ("clients/", or empty); the client's
	// own prefix is Prefix + Client + "/".
	Prefix string
	Client string
	// SourceCIDRs, when any, are the only networks the key may be used
	// from (aws:SourceIp). A bare address counts as one host.
	SourceCIDRs []string
	// Partition is the ARN partition: "aws" (the default), "aws-cn",
	// "aws-us-gov".
	Partition string
	// Principal, when set, makes a bucket policy granting that principal
	// (an IAM user or role ARN); otherwise the policy is an identity
	// policy to attach to the client's user or role.
	Principal string
}

// ErrPolicyInput is wrapped by ClientPolicy's errors: a client name,
// network, bucket, prefix or principal that cannot go into a policy.
var ErrPolicyInput = errors.New("invalid policy input")

// clientName allows what is safe both as a key prefix and inside an ARN
// and a condition value: no '/', no wildcards ('*', '?'), no policy
// variables ('${'), no "..".
var clientName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

var partitionName = regexp.MustCompile(`^aws(-[a-z]+)*$`)

// CheckClientName reports why name cannot name a client's prefix.
func CheckClientName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the client name is empty", ErrPolicyInput)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%w: client name %q contains \"..\"", ErrPolicyInput, name)
	case !clientName.MatchString(name):
		return fmt.Errorf("%w: client name %q: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit (no '/', '*' or '?')", ErrPolicyInput, name)
	}
	return nil
}

// ParseSourceCIDR checks an IPv4 or IPv6 network ("203.0.113.0/24") or a
// single address, and returns it in the form policies use. A network
// with host bits set ("203.0.113.7/24") is refused: it is most likely a
// typing mistake, and the refusal says which network it would mean.
func ParseSourceCIDR(s string) (string, error) {
	if ip := net.ParseIP(s); ip != nil {
		if ip.To4() != nil {
			return ip.String() + "/32", nil
		}
		return ip.String() + "/128", nil
	}
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return "", fmt.Errorf("%w: source %q is not an IP address or CIDR network (like 203.0.113.0/24)", ErrPolicyInput, s)
	}
	if !ip.Equal(n.IP) {
		return "", fmt.Errorf("%w: source %q has host bits set: did you mean %s?", ErrPolicyInput, s, n)
	}
	return n.String(), nil
}

// ClientPolicy returns the policy that confines one client's key to its
// own prefix of the exchange bucket: list only under it, read, write and
// delete objects and their versions under it, run and clean up multipart
// uploads under it; nothing over plain http; and, with SourceCIDRs,
// nothing from other networks.
//
// Listing unfinished uploads (s3:ListBucketMultipartUploads, which send's
// resume and shred need) cannot be limited to the prefix: neither AWS nor
// MinIO has the s3:prefix condition key for it (MinIO refuses such a
// policy: "unsupported condition keys", and StringLikeIfExists: "invalid
// condition name"). So the client may list the names, never the content,
// of other clients' unfinished uploads.
func ClientPolicy(o ClientPolicyOptions) (*Policy, error) {
	if err := CheckClientName(o.Client); err != nil {
		return nil, err
	}
	if o.Bucket == "" || strings.ContainsAny(o.Bucket, "/*?$ ") {
		return nil, fmt.Errorf("%w: bucket %q", ErrPolicyInput, o.Bucket)
	}
	if strings.ContainsAny(o.Prefix, "*?$") || strings.HasPrefix(o.Prefix, "/") || strings.Contains(o.Prefix, "..") {
		return nil, fmt.Errorf("%w: prefix %q: no '*', '?', '$', \"..\" or leading '/'", ErrPolicyInput, o.Prefix)
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	partition := o.Partition
	if partition == "" {
		partition = "aws"
	}
	if !partitionName.MatchString(partition) {
		return nil, fmt.Errorf("%w: partition %q", ErrPolicyInput, partition)
	}
	var principal any
	if o.Principal != "" {
		if !strings.HasPrefix(o.Principal, "arn:") || strings.ContainsAny(o.Principal, " *?\"") {
			return nil, fmt.Errorf("%w: principal %q: give an IAM user or role ARN (arn:aws:iam::123456789012:user/NAME)", ErrPolicyInput, o.Principal)
		}
		principal = map[string]any{"AWS": o.Principal}
	}
	var cidrs []string
	for _, s := range o.SourceCIDRs {
		c, err := ParseSourceCIDR(s)
		if err != nil {
			return nil, err
		}
		cidrs = append(cidrs, c)
	}

	bucket := bucketARN(partition, o.Bucket)
	own := o.Prefix + o.Client + "/"
	stmts := []PolicyStatement{{
		Sid:       "XferListOwnPrefix",
		Effect:    "Allow",
		Action:    []string{"s3:ListBucket", "s3:ListBucketVersions"},
		Resource:  []string{bucket},
		Condition: map[string]map[string]any{"StringLike": {"s3:prefix": []string{own + "*"}}},
	}, {
		Sid:      "XferListUploads",
		Effect:   "Allow",
		Action:   []string{"s3:ListBucketMultipartUploads"},
		Resource: []string{bucket},
	}, {
		Sid:    "XferObjectsUnderOwnPrefix",
		Effect: "Allow",
		Action: []string{
			"s3:GetObject", "s3:GetObjectVersion",
			"s3:PutObject",
			"s3:DeleteObject", "s3:DeleteObjectVersion",
			"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
		},
		Resource: []string{bucket + "/" + own + "*"},
	}}
	tls := TLSOnlyStatement(o.Bucket, partition)
	tls.Sid = "XferClientDenyInsecureTransport" // not bucket init's Sid, so both fit in one bucket policy
	stmts = append(stmts, tls)
	if len(cidrs) > 0 {
		stmts = append(stmts, PolicyStatement{
			Sid:       "XferDenyOtherNetworks",
			Effect:    "Deny",
			Action:    []string{"s3:*"},
			Resource:  []string{bucket, bucket + "/*"},
			Condition: map[string]map[string]any{"NotIpAddress": {"aws:SourceIp": cidrs}},
		})
	}
	for i := range stmts {
		// An identity policy has no Principal; a bucket policy names the
		// client's in every statement, so the Denies bind that client
		// only and not, say, the mailing house.
		stmts[i].Principal = principal
	}
	return &Policy{Version: policyVersion, Statement: stmts}, nil
}
