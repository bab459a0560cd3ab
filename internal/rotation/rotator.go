// Package rotation rotates an Aiven token held in an AWS Secrets Manager
// secret: the four rotation steps and the guard every step starts with,
// the token kinds (kinds.go), the rules about a secret's tokens that the
// steps and the fleet's sweep share (rule.go, grace.go, inspect.go), and
// the configuration. The contract is docs/rotation.md; the fleet's sweep
// and the Lambda handler are internal/fleet.
package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// The rotation steps Secrets Manager invokes.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// secretStore is what the rotator needs of Secrets Manager.
type secretStore interface {
	Describe(ctx context.Context, secretID string) (secretsmanager.Description, error)
	GetValue(ctx context.Context, secretID, versionID, stage string) (string, error)
	PutPending(ctx context.Context, secretID, clientRequestToken, value, rotationToken string) error
	MoveCurrent(ctx context.Context, secretID, toVersion, fromVersion string) error
}

var _ secretStore = (*secretsmanager.Client)(nil)

// Rotator handles Secrets Manager's rotation events.
type Rotator struct {
	cfg     Config
	store   secretStore
	aivenAt userAPIFor
	// managerAt opens an application user's tokens with a manager's
	// token (application.go).
	managerAt managerFor
	log       *slog.Logger
	metrics   *metrics.Emitter
	now       func() time.Time
	// noDeadlineTimeout bounds an invocation whose context has no deadline
	// (defaultNoDeadlineTimeout; tests shorten it).
	noDeadlineTimeout time.Duration
}

// NewFromEnv is the one place the rotator is wired: configuration from
// getenv, Secrets Manager from awsCfg (its BaseEndpoint, or
// AWS_ENDPOINT_URL_SECRETS_MANAGER read through getenv, which wins), the
// Aiven client, logs to logger and EMF metrics to metricsOut.
func NewFromEnv(getenv func(string) string, awsCfg aws.Config, logger *slog.Logger, metricsOut io.Writer) (*Rotator, error) {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	// go-client-codegen reads AIVEN_* from the process environment itself.
	if err := aiven.CheckEnv(os.Getenv); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	// EMF lines must pass Lambda's log-level filter, or metrics vanish.
	m, err := metrics.NewAtLevel(metricsOut, getenv("AWS_LAMBDA_LOG_LEVEL"))
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	r, err := newFromConfig(cfg, awsCfg, logger, metricsOut)
	if err == nil {
		r.metrics = m
	}
	return r, err
}

// newFromConfig is a rotator with an explicit configuration, Secrets Manager from
// awsCfg, logs to logger (nil discards them) and EMF metrics to metricsOut.
func newFromConfig(cfg Config, awsCfg aws.Config, logger *slog.Logger, metricsOut io.Writer) (*Rotator, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	store := secretsmanager.New(awsCfg, secretsmanager.Options{BaseEndpoint: cfg.SecretsManagerEndpoint})
	policy := cfg.policy()
	// One transport for every client the rotator opens (a sweep opens one
	// per secret): their connections are pooled once.
	transport := aiven.NewTransport()
	open := func(baseURL string, token secret.Token) (userAPI, error) {
		c, err := aiven.New(baseURL, token, aiven.Options{Policy: policy, Transport: transport})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	r := newRotator(cfg, store, open, logger, metrics.New(metricsOut))
	r.managerAt = func(baseURL string, managerToken secret.Token, u aiven.ApplicationUser) (tokenManager, error) {
		c, err := aiven.New(baseURL, managerToken, aiven.Options{Policy: policy, Transport: transport})
		if err != nil {
			return nil, err
		}
		return c.ApplicationTokens(u), nil
	}
	return r, nil
}

func newRotator(cfg Config, store secretStore, open userAPIFor, logger *slog.Logger, m *metrics.Emitter) *Rotator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Every line the rotator writes passes the scrubber (scrub.go).
	logger = slog.New(scrub.NewHandler(logger.Handler()))
	return &Rotator{cfg: cfg, store: store, aivenAt: open, log: logger, metrics: m, now: time.Now, noDeadlineTimeout: defaultNoDeadlineTimeout}
}

// Config is the rotator's configuration.
func (r *Rotator) Config() Config { return r.cfg }

// Log is the rotator's logger: every line passes the scrubber.
func (r *Rotator) Log() *slog.Logger { return r.log }

// SecretsManager is the Secrets Manager client the rotator built
// (NewFromEnv), for the fleet's actions to share: one client, one
// connection pool, built once on the cold-start path; nil for a rotator
// built on another store.
func (r *Rotator) SecretsManager() *secretsmanager.Client {
	c, _ := r.store.(*secretsmanager.Client)
	return c
}

// Metrics is the rotator's EMF metric writer.
func (r *Rotator) Metrics() *metrics.Emitter { return r.metrics }

// Now is the rotator's clock.
func (r *Rotator) Now() time.Time { return r.now() }

// rotationEvent is a decoded Secrets Manager rotation event.
type rotationEvent = events.SecretsManagerSecretRotationEvent

// Handle runs a rotation step: the Lambda handler (internal/fleet's
// Serve) passes it every event that is not one of the fleet's actions. It
// recognises the Secrets Manager rotation event by its shape and runs its
// step once, through observe (one log line, metrics, the error redacted
// and typed). Anything else fails, touching nothing, with
// an error naming the shape it did not recognise. Every step is safe to
// run again: Secrets Manager retries whole rotations.
func (r *Rotator) Handle(ctx context.Context, event json.RawMessage) error {
	ev, err := decodeEvent(event)
	if err != nil {
		err = Typed(KindEventRejected, err)
		r.log.ErrorContext(ctx, "event rejected", "outcome", "rejected", "error_type", kindOfError(err), "error", err.Error())
		return err
	}
	if _, ok := rotationSteps[ev.Step]; !ok {
		err := Typed(KindEventRejected, fmt.Errorf("unknown rotation step %q: expected %s, %s, %s or %s; nothing was done", clip(ev.Step, 40), StepCreate, StepSet, StepTest, StepFinish))
		r.log.ErrorContext(ctx, "event rejected", "secret", ev.SecretID, "version", ev.ClientRequestToken, "outcome", "rejected", "error_type", kindOfError(err), "error", err.Error())
		return err
	}
	inv := invocation{name: ev.Step, secretID: ev.SecretID, version: ev.ClientRequestToken, rotationToken: ev.RotationToken}
	return r.observe(ctx, inv, func(ctx context.Context, t *tally) (result, error) { return r.rotate(ctx, ev, t) })
}

// decodeEvent recognises the Secrets Manager rotation event and names the
// shape of anything else. Values are never quoted: a stray token could be
// in them.
func decodeEvent(raw json.RawMessage) (rotationEvent, error) {
	var ev rotationEvent
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return ev, errors.New("unrecognised event: empty payload; expected a Secrets Manager rotation event {Step, SecretId, ClientRequestToken}")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil || fields == nil {
		if !json.Valid(trimmed) {
			return ev, errors.New("unrecognised event: the payload is not JSON; expected a Secrets Manager rotation event {Step, SecretId, ClientRequestToken}")
		}
		return ev, fmt.Errorf("unrecognised event: a JSON %s, not an object; expected a Secrets Manager rotation event {Step, SecretId, ClientRequestToken}", jsonKind(trimmed[0]))
	}
	if _, ok := fields["Step"]; !ok {
		if _, ok := fields["detail-type"]; ok {
			return ev, errors.New("unrecognised event: an EventBridge event, which this rotator does not handle; expected a Secrets Manager rotation event {Step, SecretId, ClientRequestToken}")
		}
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, clip(k, 40))
		}
		slices.Sort(names)
		if len(names) > 10 {
			names = append(names[:10], "...")
		}
		return ev, fmt.Errorf("unrecognised event: an object with fields [%s] and no Step; expected a Secrets Manager rotation event {Step, SecretId, ClientRequestToken}", strings.Join(names, ", "))
	}
	for _, name := range []string{"Step", "SecretId", "ClientRequestToken", "RotationToken"} {
		v, ok := fields[name]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return ev, fmt.Errorf("rotation event: field %s must be a string", name)
		}
	}
	if err := json.Unmarshal(trimmed, &ev); err != nil {
		return ev, errors.New("rotation event: cannot decode it")
	}
	if ev.SecretID == "" {
		return ev, errors.New("rotation event: SecretId is missing")
	}
	if ev.ClientRequestToken == "" {
		return ev, errors.New("rotation event: ClientRequestToken is missing")
	}
	return ev, nil
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// redact is the last line of defence of rule I4: should an error ever
// quote a token or the RotationToken, the value is cut out (the error's
// chain is lost with it, which only matters in that case).
func redact(err error, secrets []secret.Token) error {
	msg := err.Error()
	if clean := redactString(msg, secrets); clean != msg {
		return errors.New(clean)
	}
	return err
}

func redactString(s string, secrets []secret.Token) string {
	for _, t := range secrets {
		if v := t.Reveal(); len(v) >= 8 {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}
