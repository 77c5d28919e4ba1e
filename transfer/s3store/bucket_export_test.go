package s3store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// PutTestBucketExtras adds a lifecycle rule and a policy statement that
// are not xfer's to the bucket, next to what InitBucket set.
func PutTestBucketExtras(ctx context.Context, s *Store) error {
	rules, err := s.lifecycleRules(ctx)
	if err != nil {
		return err
	}
	rules = append(rules, types.LifecycleRule{
		ID: aws.String("someone-elses"), Status: types.ExpirationStatusEnabled,
		Filter:     &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
		Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)},
	})
	if _, err := s.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket: &s.bucket, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
	}); err != nil {
		return err
	}
	doc, err := s.bucketPolicy(ctx)
	if err != nil {
		return err
	}
	st := append(statements(doc), map[string]any{
		"Sid": "SomeoneElses", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
		"Resource": "arn:aws:s3:::" + s.bucket,
	})
	doc["Statement"] = st
	b, _ := json.Marshal(doc)
	_, err = s.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &s.bucket, Policy: aws.String(string(b))})
	return err
}

// CheckTestBucketExtras says what of PutTestBucketExtras is gone.
func CheckTestBucketExtras(ctx context.Context, s *Store) error {
	rules, err := s.lifecycleRules(ctx)
	if err != nil {
		return err
	}
	found := false
	for _, r := range rules {
		found = found || aws.ToString(r.ID) == "someone-elses"
	}
	if !found {
		return fmt.Errorf("the other lifecycle rule is gone: %d rules left", len(rules))
	}
	doc, err := s.bucketPolicy(ctx)
	if err != nil {
		return err
	}
	for _, st := range statements(doc) {
		if st["Sid"] == "SomeoneElses" {
			return nil
		}
	}
	return fmt.Errorf("the other policy statement is gone: %v", doc)
}

// PutTestPolicy sets the bucket's policy as given.
func PutTestPolicy(ctx context.Context, s *Store, p *Policy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = s.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &s.bucket, Policy: aws.String(string(b))})
	return err
}

// SetDeleteBatch makes DeleteVersions send at most n items a request.
func SetDeleteBatch(s *Store, n int) { s.deleteBatch = n }
