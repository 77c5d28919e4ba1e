package s3test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// adminRequest sends one path-style S3 request signed with AWS Signature
// Version 4. The harness needs only bucket administration (create, turn on
// versioning), and signing those few requests here keeps the AWS SDK in
// transfer/s3store alone.
func (s *Server) adminRequest(ctx context.Context, method, path, query string, body []byte) error {
	resp, err := s.Do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s?%s: %s: %s", method, path, query, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Do sends a signed path-style request ("/bucket/key", query without "?")
// with the server's root credentials, for tests that look at what the
// store's API does not show, such as encryption headers. hdr holds extra
// header name and value pairs (not signed). The caller closes the body.
func (s *Server) Do(ctx context.Context, method, path, query string, body []byte, hdr ...string) (*http.Response, error) {
	u := s.Endpoint + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	signV4(req, body, s.AccessKey, s.SecretKey, s.Region, time.Now().UTC())
	return s.httpClient().Do(req)
}

func signV4(req *http.Request, body []byte, accessKey, secretKey, region string, now time.Time) {
	const service = "s3"
	amzDate := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	payload := sha256.Sum256(body)
	payloadHex := hex.EncodeToString(payload[:])
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHex)
	req.Header.Set("Host", req.URL.Host)

	names := []string{"host", "x-amz-content-sha256", "x-amz-date"}
	var canonHeaders strings.Builder
	for _, n := range names {
		v := req.URL.Host
		if n != "host" {
			v = req.Header.Get(n)
		}
		canonHeaders.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
	}
	signed := strings.Join(names, ";")

	// Canonical query: keys sorted, "versioning" becomes "versioning=".
	q := req.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var cq []string
	for _, k := range keys {
		for _, v := range q[k] {
			cq = append(cq, uriEncode(k)+"="+uriEncode(v))
		}
	}
	canonical := strings.Join([]string{
		req.Method,
		req.URL.EscapedPath(),
		strings.Join(cq, "&"),
		canonHeaders.String(),
		signed,
		payloadHex,
	}, "\n")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	ch := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	k := hmacSHA256([]byte("AWS4"+secretKey), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(k, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+accessKey+"/"+scope+
		", SignedHeaders="+signed+", Signature="+sig)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
