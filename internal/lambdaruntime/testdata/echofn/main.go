// Command echofn is a tiny Lambda function for the Runtime API tests: it
// echoes its event with what its context tells it, fails on request, and
// can fail its init or crash before its first event.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/runtimeapi"
)

type event struct {
	Echo string `json:"echo"`
	Fail string `json:"fail"`
	// Hold keeps the invocation in flight until its deadline.
	Hold bool `json:"hold"`
}

type reply struct {
	Echo       string `json:"echo"`
	DeadlineMS int64  `json:"deadline_ms"`
	RequestID  string `json:"request_id"`
	Function   string `json:"function_arn"`
}

func main() {
	if msg := os.Getenv("ECHOFN_INIT_ERROR"); msg != "" {
		_ = runtimeapi.ReportInitError(context.Background(), os.Getenv("AWS_LAMBDA_RUNTIME_API"), runtimeapi.ErrorTypeConfig, errors.New(msg))
		os.Exit(1)
	}
	if os.Getenv("ECHOFN_CRASH") != "" {
		os.Exit(3)
	}
	lambda.Start(func(ctx context.Context, ev event) (reply, error) {
		if ev.Hold {
			os.Stdout.WriteString("holding\n")
			<-ctx.Done()
			return reply{}, ctx.Err()
		}
		if ev.Fail != "" {
			return reply{}, errors.New(ev.Fail)
		}
		out := reply{Echo: ev.Echo}
		if d, ok := ctx.Deadline(); ok {
			out.DeadlineMS = d.UnixMilli()
		}
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			out.RequestID, out.Function = lc.AwsRequestID, lc.InvokedFunctionArn
		}
		return out, nil
	})
}
