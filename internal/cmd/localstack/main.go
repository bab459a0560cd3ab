// Command localstack runs the Secrets Manager emulator, the Aiven emulator
// and the rotator in the foreground until interrupted: `make localstack`.
//
// Environment:
//
//	LOCALSTACK_SECRETSMANAGER_ADDR  listen address, default 127.0.0.1:4566
//	LOCALSTACK_AIVEN_ADDR           listen address, default 127.0.0.1:4567
//	LOCALSTACK_BOOTSTRAP            path to a built bootstrap binary: run the
//	                                rotator through the Lambda Runtime API
//	                                instead of in-process
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := localstack.Config{
		SecretsManagerAddr: envOr("LOCALSTACK_SECRETSMANAGER_ADDR", "127.0.0.1:4566"),
		AivenAddr:          envOr("LOCALSTACK_AIVEN_ADDR", "127.0.0.1:4567"),
		BackgroundRotation: true,
		RequestLog:         logger,
		RotatorLog:         os.Stdout,
		Bootstrap:          os.Getenv("LOCALSTACK_BOOTSTRAP"),
	}
	stack, err := localstack.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer stack.Close()

	how := "in-process (aws-lambda-go handler, JSON events)"
	if cfg.Bootstrap != "" {
		how = "built binary " + cfg.Bootstrap + " (Lambda Runtime API)"
	}
	logger.Info("local stack ready",
		"secretsmanager", stack.SecretsManagerURL,
		"aiven", stack.AivenURL,
		"rotation_function", localstack.FunctionARN,
		"rotator", how)
	fmt.Fprintf(os.Stderr, "\n  export AWS_ENDPOINT_URL_SECRETS_MANAGER=%s AWS_DEFAULT_REGION=%s AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n  curl -s -XPOST %s/_emulator/users -d '{\"email\":\"me@example.com\"}'\n\nCtrl-C stops.\n\n",
		stack.SecretsManagerURL, localstack.Region, stack.AivenURL)

	<-ctx.Done()
	logger.Info("stopping")
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
