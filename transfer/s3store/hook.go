package s3store

import (
	"context"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/middleware"
)

// addAttemptHook reports every HTTP attempt: it sits in the finalize step
// after the retryer, so it runs once per try rather than once per call.
func addAttemptHook(fn func(op string, err error)) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("xferAttemptHook",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				fn(awsmiddleware.GetOperationName(ctx), err)
				return out, md, err
			}), "Retry", middleware.After)
	}
}

// signWithPayloadHash hands the signer a body's SHA-256 (hex) computed
// before the call, so that over plain http the SDK does not read and hash
// each part a second time to sign it: the part's checksum, which xfer
// computes anyway and sends as x-amz-checksum-sha256, is the same digest.
// It sits before the middleware that would compute the hash, which skips
// its work when one is already set.
func signWithPayloadHash(hexSum string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("xferPayloadHash",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				return next.HandleFinalize(v4.SetPayloadHash(ctx, hexSum), in)
			}), "ComputePayloadHash", middleware.Before)
	}
}
