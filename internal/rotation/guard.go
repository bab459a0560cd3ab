package rotation

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// guard runs before every step (docs/rotation.md, "Every step starts with the
// guard"). done means the event's version already carries AWSCURRENT: the
// step has nothing left to do (finishSecret still has its revocation duty).
func (r *Rotator) guard(ctx context.Context, ev rotationEvent) (secretsmanager.Description, bool, error) {
	desc, err := r.store.Describe(ctx, ev.SecretID)
	if err != nil {
		return desc, false, fmt.Errorf("describe secret: %w", err)
	}
	if !desc.RotationEnabled {
		return desc, false, WithKind(KindNotRotationEnabled, fmt.Errorf("secret %s is not enabled for rotation", desc.ARN))
	}
	if err := rotatedByThisFunction(ctx, desc); err != nil {
		return desc, false, WithKind(KindEventRejected, err)
	}
	stages, ok := desc.Versions[ev.ClientRequestToken]
	if !ok {
		return desc, false, WithKind(KindEventRejected, fmt.Errorf("version %s is not a version of secret %s", ev.ClientRequestToken, desc.ARN))
	}
	if slices.Contains(stages, secretsmanager.StageCurrent) {
		return desc, true, nil
	}
	if !slices.Contains(stages, secretsmanager.StagePending) {
		return desc, false, WithKind(KindEventRejected, fmt.Errorf("version %s of secret %s is not staged as AWSPENDING", ev.ClientRequestToken, desc.ARN))
	}
	return desc, false, nil
}

// rotatedByThisFunction refuses a secret whose rotation function is not
// the one invoked (lambdacontext's InvokedFunctionArn): IAM alone should
// not be what keeps this function from rotating another function's
// secret. ARNs compare unqualified, so an alias or version would match
// here; the stack grants its role and Secrets Manager the unqualified
// function only (docs/deploy.md), so secrets name that ARN.
// Without a Lambda context (tests, tools) there is nothing to compare
// with, and the check is skipped.
func rotatedByThisFunction(ctx context.Context, desc secretsmanager.Description) error {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.InvokedFunctionArn == "" {
		return nil
	}
	self := unqualifiedFunctionARN(lc.InvokedFunctionArn)
	if desc.RotationLambdaARN == "" {
		return fmt.Errorf("secret %s names no rotation function, and this function is %s: refusing to rotate it; nothing was done", desc.ARN, self)
	}
	if theirs := unqualifiedFunctionARN(desc.RotationLambdaARN); theirs != self {
		return fmt.Errorf("secret %s is rotated by function %s, not by this function %s: refusing to rotate it; nothing was done", desc.ARN, theirs, self)
	}
	return nil
}

// unqualifiedFunctionARN is a Lambda function ARN without its alias or
// version qualifier (arn:aws:lambda:region:account:function:name[:q]);
// anything else is returned as it is.
func unqualifiedFunctionARN(arn string) string {
	parts := strings.SplitN(arn, ":", 8)
	if len(parts) == 8 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" {
		return strings.Join(parts[:7], ":")
	}
	return arn
}
