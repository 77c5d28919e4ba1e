package s3store

import (
	"context"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
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
