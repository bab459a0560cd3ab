// Command rotator is the Lambda function Secrets Manager invokes to rotate
// an Aiven token. It only wires: configuration from the environment, the
// AWS SDK and Aiven clients, and lambda.Start. The logic is in
// internal/fleet (the handler, the sweep, on-demand rotation) and
// internal/rotation (the four steps).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/fleet"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/runtimeapi"
)

func main() {
	logger := lambdacontext.NewLogger()
	if err := run(); err != nil {
		// Only init fails here: lambda.Start never returns.
		logger.Error("init failed", "outcome", "init_failed", "error", err.Error())
		_ = runtimeapi.ReportInitError(context.Background(), os.Getenv("AWS_LAMBDA_RUNTIME_API"), runtimeapi.ErrorTypeConfig, err)
		os.Exit(1)
	}
}

// run builds the rotator from the environment and serves Lambda's
// invocations; it returns only when the rotator cannot be built.
func run() error {
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		return err
	}
	f, err := fleet.NewFromEnv(os.Getenv, awsCfg, lambdacontext.NewLogger(), os.Stdout)
	if err != nil {
		return err
	}
	lambda.Start(f.Serve)
	return nil
}
