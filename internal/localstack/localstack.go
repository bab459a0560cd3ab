// Package localstack runs the Secrets Manager and Aiven emulators side by
// side and registers the rotator with Secrets Manager, so that RotateSecret
// runs a real rotation: the event crosses as JSON bytes, the rotator talks
// HTTP to both emulators through the real AWS SDK and Aiven client. The
// Secrets Manager listener also serves Lambda's Invoke API for the
// rotator, so `aws lambda invoke` reaches it as it would reach Lambda.
//
// It serves `make localstack`, `make demo` and the end-to-end tests.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/fleet"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// Fixed identities of the local stack (docs/local-stack.md).
const (
	Region      = "us-east-1"
	Account     = "000000000000"
	FunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:aiven-token-rotator"
	// StackName stands for the CloudFormation stack's name: a manager
	// secret of the local stack carries the tag
	// aiven-token-rotator:manager=local (MANAGER_TAG_VALUE).
	StackName = "local"
)

// Config says where the stack listens and how the rotator runs.
type Config struct {
	// SecretsManagerAddr and AivenAddr are listen addresses; "127.0.0.1:0"
	// picks a free port. Both must be loopback addresses.
	SecretsManagerAddr string
	AivenAddr          string
	// BackgroundRotation makes RotateSecret return at once, as AWS does.
	BackgroundRotation bool
	// RequestLog, when set, gets one line per emulator request.
	RequestLog *slog.Logger
	// RotatorLog receives the rotator's own JSON log lines and its metrics;
	// nil discards them.
	RotatorLog io.Writer
	// Bootstrap, when set, is the path of a built rotator binary: it runs
	// as a child process behind a Lambda Runtime API instead of in-process.
	Bootstrap string
	// Environments, above 1, lets Bootstrap serve that many invocations at
	// once, each in an execution environment (a process) of its own, as
	// Lambda scales a function out; by default one process serves one
	// invocation at a time.
	Environments int
	// Invoker, when set, replaces the rotator altogether (tests).
	Invoker smemulator.Invoker
	// NoRotator leaves the function unregistered.
	NoRotator bool
	// RotatorEnv overrides or adds variables of the rotator's environment.
	RotatorEnv map[string]string
	// InvokeTimeout is the deadline of an invocation through the stack's
	// Lambda API (default 60 s): a test of a sweep that runs out of time.
	InvokeTimeout time.Duration
	// WrapRotator, when set, wraps the invoker registered for the rotation
	// function (tests use it to run every step twice).
	WrapRotator func(smemulator.Invoker) smemulator.Invoker
	// SecretsManagerMiddleware, when set, wraps the Secrets Manager
	// emulator's handler (tests use it to see requests on the wire).
	SecretsManagerMiddleware func(http.Handler) http.Handler
	// Latency delays every call to either emulator (0 to
	// faults.MaxLatency; 0: none), as a round trip to AWS and Aiven would.
	// The control API's /_emulator/latency changes it later, per emulator.
	Latency time.Duration
	// AivenMiddleware, when set, wraps the Aiven emulator's handler.
	AivenMiddleware func(http.Handler) http.Handler
	// SecretsManagerOptions and AivenOptions go to the emulators as they are.
	SecretsManagerOptions []smemulator.Option
	AivenOptions          []aivenemulator.Option
	// SweepEvery, above zero, invokes the rotator with SweepPayload that
	// often, as the deployed stack's EventBridge Scheduler schedule does;
	// 0: no schedule. A failed sweep is logged to RequestLog, never fatal.
	SweepEvery time.Duration
	// SweepTicks, when set, drives the schedule instead of SweepEvery's
	// clock, one invocation a tick (tests).
	SweepTicks <-chan time.Time
	// AfterScheduledSweep, when set, is called after each scheduled
	// invocation with its outcome (tests).
	AfterScheduledSweep func(ScheduledRun)
}

// Stack is a running local stack.
type Stack struct {
	SecretsManager    *smemulator.Emulator
	Aiven             *aivenemulator.Emulator
	SecretsManagerURL string
	AivenURL          string
	// Rotator is the rotation function as registered: call Invoke to run
	// one step directly, as Lambda would. Nil with NoRotator.
	Rotator smemulator.Invoker

	envOverrides map[string]string
	lambda       *lambdaAPI
	sweeps       *schedule
	servers      []*http.Server
	closers      []func() error
}

// Start listens on both addresses and serves until Close. It fails, having
// started nothing, when an address is taken or not on loopback, or the
// latency is out of range.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Latency < 0 || cfg.Latency > faults.MaxLatency {
		return nil, fmt.Errorf("latency %v is outside 0 to %v", cfg.Latency, faults.MaxLatency)
	}
	if cfg.SweepEvery < 0 {
		return nil, fmt.Errorf("sweep period %v is negative; 0 turns the schedule off", cfg.SweepEvery)
	}
	smLn, err := listenLoopback(cfg.SecretsManagerAddr)
	if err != nil {
		return nil, fmt.Errorf("secrets manager emulator: %w", err)
	}
	aivenLn, err := listenLoopback(cfg.AivenAddr)
	if err != nil {
		smLn.Close()
		return nil, fmt.Errorf("aiven emulator: %w", err)
	}

	smOpts := []smemulator.Option{
		smemulator.WithRegion(Region),
		smemulator.WithAccount(Account),
		smemulator.WithBackgroundRotation(cfg.BackgroundRotation),
	}
	aivenOpts := []aivenemulator.Option{}
	var lambdaLog *slog.Logger
	if cfg.RequestLog != nil {
		smOpts = append(smOpts, smemulator.WithLogger(cfg.RequestLog.With("emulator", "secretsmanager")))
		aivenOpts = append(aivenOpts, aivenemulator.WithLogger(cfg.RequestLog.With("emulator", "aiven")))
		lambdaLog = cfg.RequestLog.With("emulator", "lambda")
	}
	s := &Stack{
		SecretsManager:    smemulator.New(append(smOpts, cfg.SecretsManagerOptions...)...),
		Aiven:             aivenemulator.New(append(aivenOpts, cfg.AivenOptions...)...),
		SecretsManagerURL: "http://" + smLn.Addr().String(),
		AivenURL:          "http://" + aivenLn.Addr().String(),
		envOverrides:      cfg.RotatorEnv,
		lambda:            newLambdaAPI(Region, Account, lambdaLog),
	}
	if cfg.InvokeTimeout > 0 {
		s.lambda.timeout = cfg.InvokeTimeout
	}
	_ = s.SecretsManager.Faults().SetLatency(cfg.Latency) // checked above
	_ = s.Aiven.Faults().SetLatency(cfg.Latency)
	var smHandler http.Handler = s.SecretsManager
	if cfg.SecretsManagerMiddleware != nil {
		smHandler = cfg.SecretsManagerMiddleware(smHandler)
	}
	var aivenHandler http.Handler = s.Aiven
	if cfg.AivenMiddleware != nil {
		aivenHandler = cfg.AivenMiddleware(aivenHandler)
	}
	s.serve(smLn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, invokePrefix) {
			s.lambda.ServeHTTP(w, r)
			return
		}
		smHandler.ServeHTTP(w, r)
	}))
	s.serve(aivenLn, aivenHandler)

	if cfg.NoRotator {
		return s, nil
	}
	fn, err := s.rotator(ctx, cfg)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("rotator: %w", err)
	}
	if cfg.WrapRotator != nil {
		fn = cfg.WrapRotator(fn)
	}
	s.Rotator = fn
	s.SecretsManager.RegisterFunction(FunctionARN, fn)
	s.lambda.register(FunctionARN, fn)
	s.startSchedule(cfg, fn)
	return s, nil
}

// startSchedule runs the sweep's schedule when the configuration asks.
func (s *Stack) startSchedule(cfg Config, fn smemulator.Invoker) {
	ticks, stopTicker := cfg.SweepTicks, func() {}
	if ticks == nil {
		if cfg.SweepEvery <= 0 {
			return
		}
		t := time.NewTicker(cfg.SweepEvery)
		ticks, stopTicker = t.C, t.Stop
	}
	var log *slog.Logger
	if cfg.RequestLog != nil {
		log = cfg.RequestLog.With("emulator", "scheduler")
	}
	s.sweeps = &schedule{fn: fn, ticks: ticks, timeout: s.lambda.timeout, log: log, after: cfg.AfterScheduledSweep}
	s.sweeps.start(stopTicker)
}

// WaitInvocations waits until no asynchronous (Event) invocation made
// through the Lambda Invoke API is running, or ctx ends.
func (s *Stack) WaitInvocations(ctx context.Context) error {
	return s.lambda.wait(ctx)
}

// rotator builds the rotation function: in process through aws-lambda-go's
// handler machinery, so each event crosses as JSON bytes, or the built
// binary behind a Lambda Runtime API.
func (s *Stack) rotator(ctx context.Context, cfg Config) (smemulator.Invoker, error) {
	if cfg.Invoker != nil {
		return cfg.Invoker, nil
	}
	logOut := cfg.RotatorLog
	if logOut == nil {
		logOut = io.Discard
	}
	if cfg.Bootstrap != "" {
		fn, err := lambdaruntime.Start(ctx, cfg.Bootstrap, s.RotatorEnv().List(),
			lambdaruntime.WithOutput(logOut), lambdaruntime.WithFunctionARN(FunctionARN))
		if err != nil {
			return nil, err
		}
		if cfg.Environments <= 1 {
			s.closers = append(s.closers, fn.Close)
			return fn, nil
		}
		envs := newEnvironments(fn, cfg.Environments, func() (*lambdaruntime.Function, error) {
			return lambdaruntime.Start(ctx, cfg.Bootstrap, s.RotatorEnv().List(),
				lambdaruntime.WithOutput(logOut), lambdaruntime.WithFunctionARN(FunctionARN))
		})
		s.closers = append(s.closers, envs.Close)
		return envs, nil
	}
	f, err := fleet.NewFromEnv(s.RotatorEnv().Get, s.AWSConfig(), slog.New(slog.NewJSONHandler(logOut, nil)), logOut)
	if err != nil {
		return nil, err
	}
	return inProcess{lambda.NewHandler(f.Serve)}, nil
}

// inProcess is the function run in process by aws-lambda-go's handler
// machinery, its errors as the Runtime API path reports them
// (lambdaruntime.FunctionError): the handler returns aws-lambda-go's
// InvokeResponse_Error, whose own Error() is Go syntax, not the message.
type inProcess struct{ h lambda.Handler }

func (p inProcess) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := p.h.Invoke(ctx, payload)
	var ive messages.InvokeResponse_Error
	if errors.As(err, &ive) {
		return out, &lambdaruntime.FunctionError{Message: ive.Message, Type: ive.Type}
	}
	return out, err
}

func (s *Stack) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
}

// Close stops both listeners, waiting briefly for requests and
// asynchronous invocations in flight. Closing twice is harmless.
func (s *Stack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var errs []error
	if err := s.sweeps.close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("scheduled sweep still running: %w", err))
	}
	if err := s.lambda.wait(ctx); err != nil {
		errs = append(errs, fmt.Errorf("asynchronous invocations still running: %w", err))
	}
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	s.closers = nil
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, srv.Close())
		}
	}
	return errors.Join(errs...)
}

// Env is a set of environment variables.
type Env map[string]string

// Get returns the variable's value, or "" when unset: the shape of os.Getenv.
func (e Env) Get(name string) string { return e[name] }

// List returns the variables as NAME=value lines, for a child process.
func (e Env) List() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// RotatorEnv is the environment the rotator runs with inside the stack
// (docs/local-stack.md): the Aiven emulator as API, loopback allowed over
// plain HTTP, the Secrets Manager emulator through the SDK's own override.
func (s *Stack) RotatorEnv() Env {
	env := Env{
		"AIVEN_WEB_URL":                    s.AivenURL,
		"ALLOWED_API_HOSTS":                "127.0.0.1",
		"AIVEN_ALLOW_INSECURE_LOOPBACK":    "true",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": s.SecretsManagerURL,
		"AWS_REGION":                       Region,
		"AWS_ACCESS_KEY_ID":                "local",
		"AWS_SECRET_ACCESS_KEY":            "local",
		"MANAGER_TAG_VALUE":                StackName,
		// The sweep's follow-up invocations reach the stack's Lambda API.
		"AWS_ENDPOINT_URL_LAMBDA": s.SecretsManagerURL,
	}
	for k, v := range s.envOverrides {
		env[k] = v
	}
	return env
}

// PassedSettings are the rotator's configuration variables (the ones a
// deployment sets on the Lambda function) that `make localstack` takes from
// its own environment and hands to the function's, as Lambda's would: so
// PREVIOUS_TOKEN_GRACE=5s make localstack runs a five-second grace. The
// variables that point the rotator at the emulators (AIVEN_WEB_URL,
// AWS_ENDPOINT_URL_SECRETS_MANAGER, AIVEN_ALLOW_INSECURE_LOOPBACK) are the
// stack's own and never passed; ALLOWED_API_HOSTS is, and must then still
// allow 127.0.0.1. Passing a variable the rotator does not read is
// harmless.
var PassedSettings = []string{
	"PREVIOUS_TOKEN_GRACE",
	"PREVIOUS_TOKEN_MAX_GRACE",
	"PREVIOUS_TOKEN_IDLE",
	"ROTATE_BEFORE_EXPIRY",
	"ROTATION_SAFETY_MARGIN",
	"SWEEP_CONCURRENCY",
	"SWEEP_TAG_KEY",
	"ALLOWED_API_HOSTS",
	"AWS_LAMBDA_LOG_LEVEL",
	"AWS_LAMBDA_LOG_FORMAT",
}

// SettingsFrom picks PassedSettings out of an environment (lookup has the
// shape of os.LookupEnv), for Config.RotatorEnv. A variable set to the
// empty string is passed as set, as Lambda passes it.
func SettingsFrom(lookup func(string) (string, bool)) map[string]string {
	out := map[string]string{}
	for _, name := range PassedSettings {
		if v, ok := lookup(name); ok {
			out[name] = v
		}
	}
	return out
}

// AWSConfig is an AWS SDK configuration that reaches the Secrets Manager
// emulator with any credentials, as the local stack accepts them all.
func (s *Stack) AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(s.SecretsManagerURL),
	}
}

// SecretsManagerClient is the real SDK client pointed at the emulator.
func (s *Stack) SecretsManagerClient() *secretsmanager.Client {
	return secretsmanager.NewFromConfig(s.AWSConfig())
}

func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("listen address %q is not on loopback; the emulators accept any credentials, so they never listen elsewhere", addr)
	}
	return net.Listen("tcp", addr)
}
