package s3store_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/transfer/s3store"
)

// stmt finds a statement by Sid in a policy as JSON reads it back.
func stmt(t *testing.T, doc map[string]any, sid string) map[string]any {
	t.Helper()
	for _, s := range doc["Statement"].([]any) {
		if m := s.(map[string]any); m["Sid"] == sid {
			return m
		}
	}
	t.Fatalf("no statement %s", sid)
	return nil
}

func roundTrip(t *testing.T, p *s3store.Policy) map[string]any {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, b)
	}
	return doc
}

func TestClientPolicy(t *testing.T) {
	p, err := s3store.ClientPolicy(s3store.ClientPolicyOptions{
		Bucket: "exchange", Prefix: "clients", Client: "acme",
		SourceCIDRs: []string{"203.0.113.0/24", "2001:db8::1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := roundTrip(t, p)
	if doc["Version"] != "2012-10-17" {
		t.Errorf("Version %v", doc["Version"])
	}
	for _, s := range doc["Statement"].([]any) {
		if _, ok := s.(map[string]any)["Principal"]; ok {
			t.Errorf("an identity policy with a Principal: %v", s)
		}
	}

	list := stmt(t, doc, "XferListOwnPrefix")
	if got := list["Condition"].(map[string]any)["StringLike"].(map[string]any)["s3:prefix"]; !slices.Equal(toStrings(got), []string{"clients/acme/*"}) {
		t.Errorf("list condition %v", got)
	}
	if got := toStrings(list["Resource"]); !slices.Equal(got, []string{"arn:aws:s3:::exchange"}) {
		t.Errorf("list resource %v", got)
	}
	// No condition: s3:prefix is no condition key of this action (MinIO
	// refuses the policy with one).
	uploads := stmt(t, doc, "XferListUploads")
	if !slices.Contains(toStrings(uploads["Action"]), "s3:ListBucketMultipartUploads") || uploads["Condition"] != nil {
		t.Errorf("uploads statement %v", uploads)
	}
	objs := stmt(t, doc, "XferObjectsUnderOwnPrefix")
	if got := toStrings(objs["Resource"]); !slices.Equal(got, []string{"arn:aws:s3:::exchange/clients/acme/*"}) {
		t.Errorf("object resource %v", got)
	}
	for _, a := range []string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"} {
		if !slices.Contains(toStrings(objs["Action"]), a) {
			t.Errorf("no %s", a)
		}
	}
	tls := stmt(t, doc, "XferClientDenyInsecureTransport")
	if tls["Effect"] != "Deny" || tls["Condition"].(map[string]any)["Bool"].(map[string]any)["aws:SecureTransport"] != "false" {
		t.Errorf("TLS statement %v", tls)
	}
	ip := stmt(t, doc, "XferDenyOtherNetworks")
	if got := toStrings(ip["Condition"].(map[string]any)["NotIpAddress"].(map[string]any)["aws:SourceIp"]); !slices.Equal(got, []string{"203.0.113.0/24", "2001:db8::1/128"}) {
		t.Errorf("source IPs %v", got)
	}

	// No --source-ip: no network statement.
	p, err = s3store.ClientPolicy(s3store.ClientPolicyOptions{Bucket: "exchange", Client: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	if strings.Contains(string(b), "SourceIp") || !strings.Contains(string(b), `"arn:aws:s3:::exchange/acme/*"`) {
		t.Errorf("without a prefix or source: %s", b)
	}
}

func TestClientBucketPolicy(t *testing.T) {
	arn := "arn:aws-cn:iam::123456789012:user/acme"
	p, err := s3store.ClientPolicy(s3store.ClientPolicyOptions{Bucket: "exchange", Client: "acme", Principal: arn, Partition: "aws-cn"})
	if err != nil {
		t.Fatal(err)
	}
	doc := roundTrip(t, p)
	for _, s := range doc["Statement"].([]any) {
		m := s.(map[string]any)
		if pr, _ := m["Principal"].(map[string]any); pr["AWS"] != arn {
			t.Errorf("%v: principal %v", m["Sid"], m["Principal"])
		}
		for _, r := range toStrings(m["Resource"]) {
			if !strings.HasPrefix(r, "arn:aws-cn:s3:::exchange") {
				t.Errorf("resource %s", r)
			}
		}
	}
}

func TestClientPolicyRefuses(t *testing.T) {
	for _, o := range []s3store.ClientPolicyOptions{
		{Bucket: "b", Client: ""},
		{Bucket: "b", Client: "a/b"},
		{Bucket: "b", Client: "*"},
		{Bucket: "b", Client: "ac*me"},
		{Bucket: "b", Client: ".."},
		{Bucket: "b", Client: "a..b"},
		{Bucket: "b", Client: ".hidden"},
		{Bucket: "b", Client: "${aws:username}"},
		{Bucket: "b", Client: "acme", SourceCIDRs: []string{"10.0.0.0/33"}},
		{Bucket: "b", Client: "acme", SourceCIDRs: []string{"10.0.0.1/8"}},
		{Bucket: "b", Client: "acme", SourceCIDRs: []string{"example.com"}},
		{Bucket: "b", Client: "acme", SourceCIDRs: []string{""}},
		{Bucket: "b", Client: "acme", Prefix: "clients/*"},
		{Bucket: "b", Client: "acme", Principal: "*"},
		{Bucket: "b", Client: "acme", Partition: "a\"ws"},
		{Bucket: "", Client: "acme"},
	} {
		if _, err := s3store.ClientPolicy(o); !errors.Is(err, s3store.ErrPolicyInput) {
			t.Errorf("%+v: %v, want ErrPolicyInput", o, err)
		}
	}
}

func TestParseSourceCIDR(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":    "203.0.113.7/32",
		"203.0.113.0/24": "203.0.113.0/24",
		"2001:db8::/32":  "2001:db8::/32",
		"0.0.0.0/0":      "0.0.0.0/0",
	} {
		if got, err := s3store.ParseSourceCIDR(in); err != nil || got != want {
			t.Errorf("ParseSourceCIDR(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := s3store.ParseSourceCIDR("203.0.113.7/24"); err == nil || !strings.Contains(err.Error(), "203.0.113.0/24") {
		t.Errorf("host bits set: %v", err)
	}
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}
