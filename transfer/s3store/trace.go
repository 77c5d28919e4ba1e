package s3store

import (
	"context"
	"fmt"
	"net/url"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// addTrace writes a line for every HTTP attempt (so a retry shows as a
// second attempt of the same operation): the operation, method, path and
// query, body size, then the status, request id and time taken, or the
// error. It never writes a header or a body, so the Authorization header,
// session tokens and SSE-C keys cannot reach it, and query parameters that
// carry credentials or signatures (presigned URLs) are redacted.
func addTrace(trace func(line string)) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		// Before the retryer: one counter for the operation's attempts.
		err := stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("xferTraceCall",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				return next.HandleFinalize(context.WithValue(ctx, attemptKey{}, new(int)), in)
			}), "Retry", middleware.Before)
		if err != nil {
			return err
		}
		// Last: once the endpoint is resolved and the request signed.
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("xferTrace",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				op := awsmiddleware.GetOperationName(ctx)
				attempt := ""
				if n, ok := ctx.Value(attemptKey{}).(*int); ok {
					if *n++; *n > 1 {
						attempt = fmt.Sprintf(" (attempt %d)", *n)
					}
				}
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					size := ""
					if n, ok, _ := req.StreamLength(); ok && n > 0 {
						size = fmt.Sprintf(" %d bytes", n)
					}
					trace(fmt.Sprintf("→ %s %s %s%s%s", op, req.Method, redactURL(req.URL), size, attempt))
				}
				start := time.Now()
				out, md, err := next.HandleFinalize(ctx, in)
				took := time.Since(start).Round(time.Millisecond)
				status := ""
				if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil {
					status = resp.Status
					if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok && id != "" {
						status += ", request id " + id
					}
				}
				switch {
				case err != nil && status != "":
					trace(fmt.Sprintf("← %s %s in %v: %v", op, status, took, err))
				case err != nil:
					trace(fmt.Sprintf("← %s failed after %v: %v", op, took, err))
				default:
					trace(fmt.Sprintf("← %s %s in %v", op, status, took))
				}
				return out, md, err
			}), middleware.After)
	}
}

type attemptKey struct{}

// secretQuery are query parameters that carry credentials or signatures.
var secretQuery = []string{"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "Signature", "AWSAccessKeyId"}

// redactURL is the URL's path and query with secret parameters blanked.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	s := u.EscapedPath()
	if u.RawQuery != "" {
		q := u.Query()
		for _, k := range secretQuery {
			if q.Has(k) {
				q.Set(k, "REDACTED")
			}
		}
		s += "?" + q.Encode()
	}
	return u.Host + s
}
