// Command localstack runs the Secrets Manager emulator, the Aiven emulator
// and the rotator in the foreground until interrupted: `make localstack`.
// The Secrets Manager address also serves Lambda's Invoke API, so
// `aws lambda invoke --endpoint-url http://127.0.0.1:4566 --function-name
// aiven-token-rotator ...` runs the rotator.
//
// Environment:
//
//	LOCALSTACK_SECRETSMANAGER_ADDR  listen address, default 127.0.0.1:4566
//	LOCALSTACK_AIVEN_ADDR           listen address, default 127.0.0.1:4567
//	LOCALSTACK_BOOTSTRAP            path to a built bootstrap binary: run the
//	                                rotator through the Lambda Runtime API
//	                                instead of in-process
//	LOCALSTACK_LATENCY              delay for every emulator call, a Go
//	                                duration such as 20ms (flag -latency)
//	LOCALSTACK_SWEEP_EVERY          how often the rotator is invoked with
//	                                {"action":"sweep"}, as EventBridge
//	                                Scheduler does in AWS: a Go duration,
//	                                default 1m; off (or 0) for none (flag
//	                                -sweep-every)
//	PREVIOUS_TOKEN_GRACE, ROTATE_BEFORE_EXPIRY, ROTATION_SAFETY_MARGIN,
//	SWEEP_CONCURRENCY, SWEEP_TAG_KEY, ALLOWED_API_HOSTS,
//	AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT
//	                                passed to the rotator's environment, as
//	                                a deployment sets them on the function
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

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
	cfg, err := config(os.Args[1:], os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	cfg.RequestLog, cfg.RotatorLog = logger, os.Stdout
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
		"lambda_invoke", stack.SecretsManagerURL,
		"aiven", stack.AivenURL,
		"rotation_function", localstack.FunctionARN,
		"rotator", how,
		"latency", cfg.Latency.String(),
		"sweep_every", sweepLine(cfg.SweepEvery),
		"rotator_settings", settingsLine(cfg.RotatorEnv))
	fmt.Fprintf(os.Stderr, "\n  export AWS_ENDPOINT_URL_SECRETS_MANAGER=%s AWS_DEFAULT_REGION=%s AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n  curl -s -XPOST %s/_emulator/users -d '{\"email\":\"me@example.com\"}'\n  aws lambda invoke --endpoint-url %s --function-name aiven-token-rotator --payload '{\"action\":\"sweep\"}' out.json\n    (AWS CLI v2: add --cli-binary-format raw-in-base64-out)\n\nCtrl-C stops.\n\n",
		stack.SecretsManagerURL, localstack.Region, stack.AivenURL, stack.SecretsManagerURL)

	<-ctx.Done()
	logger.Info("stopping")
	return nil
}

// config reads the command line and the environment (lookup has the shape
// of os.LookupEnv) into the stack's configuration; a bad value is an error
// naming its flag or variable.
func config(args []string, lookup func(string) (string, bool), usage io.Writer) (localstack.Config, error) {
	env := func(name, fallback string) string {
		if v, ok := lookup(name); ok && v != "" {
			return v
		}
		return fallback
	}
	fs := flag.NewFlagSet("localstack", flag.ContinueOnError)
	fs.SetOutput(usage)
	latency := fs.String("latency", env("LOCALSTACK_LATENCY", "0s"), "delay for every call to either emulator, a Go duration (env LOCALSTACK_LATENCY)")
	sweepEvery := fs.String("sweep-every", env("LOCALSTACK_SWEEP_EVERY", "1m"), `how often to invoke the rotator with {"action":"sweep"}, a Go duration, or off (env LOCALSTACK_SWEEP_EVERY)`)
	if err := fs.Parse(args); err != nil {
		return localstack.Config{}, err
	}
	if fs.NArg() > 0 {
		return localstack.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	d, err := time.ParseDuration(*latency)
	if err != nil {
		return localstack.Config{}, fmt.Errorf("-latency / LOCALSTACK_LATENCY %q: %w", *latency, err)
	}
	var every time.Duration
	if *sweepEvery != "off" {
		every, err = time.ParseDuration(*sweepEvery)
		if err != nil || every < 0 {
			return localstack.Config{}, fmt.Errorf("-sweep-every / LOCALSTACK_SWEEP_EVERY %q: want a Go duration such as 1m, or off", *sweepEvery)
		}
	}
	return localstack.Config{
		SweepEvery:         every,
		SecretsManagerAddr: env("LOCALSTACK_SECRETSMANAGER_ADDR", "127.0.0.1:4566"),
		AivenAddr:          env("LOCALSTACK_AIVEN_ADDR", "127.0.0.1:4567"),
		BackgroundRotation: true,
		Bootstrap:          env("LOCALSTACK_BOOTSTRAP", ""),
		Latency:            d,
		RotatorEnv:         localstack.SettingsFrom(lookup),
	}, nil
}

// sweepLine says how often the sweep runs.
func sweepLine(every time.Duration) string {
	if every <= 0 {
		return "off"
	}
	return every.String()
}

// settingsLine shows the passed settings as NAME=value, sorted. None of
// them is a secret.
func settingsLine(env map[string]string) string {
	var parts []string
	for k, v := range env {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
