package rotation_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
)

// The review of 20:05 UTC, suspected: a rotation event for a secret whose rotation function is not
// this one is refused, touching nothing; an alias or version of this
// function still matches; without a Lambda context the check is skipped.
func TestGuardRefusesAnotherFunctionsSecret(t *testing.T) {
	as := func(ctx context.Context, arn string) context.Context {
		return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "r1", InvokedFunctionArn: arn})
	}
	other := "arn:aws:lambda:us-east-1:000000000000:function:someone-elses-rotator"
	t.Run("another function", func(t *testing.T) {
		w := newWorld(t, worldConfig{})
		err := w.r.Handle(as(w.ctx, other), event(w.arn, rotation.StepCreate, v1))
		if err == nil || lambdaErrorType(err) != "EventRejected" || !strings.Contains(err.Error(), localstack.FunctionARN) || !strings.Contains(err.Error(), other) {
			t.Fatalf("createSecret: %v, want EventRejected naming both functions", err)
		}
		if n := total(w.aivenCalls()); n != 0 {
			t.Errorf("%d Aiven calls", n)
		}
		if calls := w.smCalls(); total(calls) != 1 || calls["DescribeSecret"] != 1 {
			t.Errorf("Secrets Manager calls %v, want DescribeSecret only", calls)
		}
	})
	for _, self := range []string{localstack.FunctionARN, localstack.FunctionARN + ":live", localstack.FunctionARN + ":$LATEST", ""} {
		t.Run("this function "+self, func(t *testing.T) {
			w := newWorld(t, worldConfig{})
			ctx := w.ctx
			if self != "" {
				ctx = as(ctx, self)
			}
			if err := w.r.Handle(ctx, event(w.arn, rotation.StepCreate, v1)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
