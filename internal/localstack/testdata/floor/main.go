// Command floor is the least a Lambda function on the rotator's mandated
// packages can be: it imports aws-lambda-go's lambda, aws-sdk-go-v2's
// config and secretsmanager and go-client-codegen, and does nothing else.
// BenchmarkColdStart reports the rotator's cold start over this one's: what
// the rotator's own packages and its init cost beyond what it must load.
package main

import (
	"context"

	_ "github.com/aiven/go-client-codegen"
	"github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func main() {
	lambda.Start(func(context.Context) error { return nil })
}
