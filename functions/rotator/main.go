// Command rotator is the Lambda function Secrets Manager invokes to rotate
// an Aiven token. It only wires: configuration from the environment, the
// AWS SDK and Aiven clients, and lambda.Start. The logic is in
// internal/rotation.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
)

func main() {
	logger := lambdacontext.NewLogger()
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err == nil {
		var r *rotation.Rotator
		r, err = rotation.NewFromEnv(os.Getenv, awsCfg, logger, os.Stdout)
		if err == nil {
			lambda.Start(r.Handle)
			return
		}
	}
	logger.Error("init failed", "outcome", "init_failed", "error", err.Error())
	if api := os.Getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
		_ = lambdaruntime.ReportInitError(api, err)
	}
	os.Exit(1)
}
