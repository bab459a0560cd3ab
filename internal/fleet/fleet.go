// Package fleet is the function's front door and its fleet-wide actions
// (docs/fleet.md): Serve, the Lambda handler, runs the sweep of every
// secret the function rotates and on-demand rotation, and hands each
// Secrets Manager rotation event to internal/rotation, which runs the
// four steps. The rules about a secret's tokens stay in rotation; this
// package decides what to look at, when, and how many at once.
package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaservice"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// store is what the fleet's actions need of Secrets Manager.
type store interface {
	ListSecrets(ctx context.Context, tagKey string, keep func(secretsmanager.Listed) bool) ([]secretsmanager.Listed, error)
	CurrentValues(ctx context.Context, arns []string) (values map[string]secretsmanager.CurrentValue, failed map[string]string, err error)
	GetValue(ctx context.Context, secretID, versionID, stage string) (string, error)
	DescribeRotation(ctx context.Context, secretID string) (secretsmanager.Listed, error)
	StartRotation(ctx context.Context, secretID string) (string, error)
	StartRotationAs(ctx context.Context, secretID, versionID string) (string, error)
	VersionDates(ctx context.Context, secretID string) (map[string]time.Time, error)
	RemovePending(ctx context.Context, secretID, versionID string) error
	RestorePending(ctx context.Context, secretID, versionID string) error
}

var _ store = (*secretsmanager.Client)(nil)

// invoker queues an asynchronous invocation of a function
// (lambdaservice.Client).
type invoker interface {
	InvokeAsync(ctx context.Context, functionARN string, payload []byte) error
}

var _ invoker = (*lambdaservice.Client)(nil)

// Fleet serves the function's invocations.
type Fleet struct {
	r     *rotation.Rotator
	store store
	// invoker queues a follow-up invocation of this function (a sweep it
	// had no time to finish); nil: none is queued.
	invoker invoker
	cfg     rotation.FleetConfig
	log     *slog.Logger
}

// NewFromEnv is the one place the function is wired: the rotator from the
// environment (rotation.NewFromEnv), whose Secrets Manager client the
// fleet's actions share, and the Lambda client from awsCfg.
func NewFromEnv(getenv func(string) string, awsCfg aws.Config, logger *slog.Logger, metricsOut io.Writer) (*Fleet, error) {
	r, err := rotation.NewFromEnv(getenv, awsCfg, logger, metricsOut)
	if err != nil {
		return nil, err
	}
	cfg := r.Config()
	f := newFleet(r, r.SecretsManager())
	if inv, err := lambdaservice.New(awsCfg, cfg.LambdaEndpoint); err == nil {
		f.invoker = inv
	} // without a region there is no follow-up: the sweep says so when it needs one
	return f, nil
}

func newFleet(r *rotation.Rotator, s store) *Fleet {
	return &Fleet{r: r, store: s, cfg: r.Config().Fleet, log: r.Log()}
}

// Serve is the Lambda handler. It recognises the event by its shape: an
// action, or EventBridge's Scheduled Event, runs here and returns a JSON
// object meant for the person or tool that invoked it; a bad action event
// fails with an error naming what is wrong, touching nothing. Anything
// else goes to the rotator (a rotation step, whose result is nothing, or
// an error naming the shape). Each action is safe to repeat: a sweep does
// again what is still due, and a rotate starts another rotation, or finds
// the first still in progress. Its error carries its kind as the errorType
// Lambda reports (rotation.LambdaError), converted here, once.
func (f *Fleet) Serve(ctx context.Context, event json.RawMessage) (any, error) {
	out, err := f.serve(ctx, event)
	return out, rotation.LambdaError(err)
}

func (f *Fleet) serve(ctx context.Context, event json.RawMessage) (any, error) {
	act, recognised, err := decodeAction(event)
	if !recognised {
		return nil, f.r.Handle(ctx, event)
	}
	if err != nil {
		return nil, f.failed(ctx, "event rejected", rotation.Typed(rotation.KindEventRejected, err), "outcome", "rejected")
	}
	ctx, cancel, err := f.r.Bound(ctx)
	if err != nil {
		return nil, f.failed(ctx, "action failed", rotation.Typed(rotation.KindConfig, fmt.Errorf("%s: %w", act.name, err)), "action", act.name, "outcome", "failed")
	}
	defer cancel()
	var out any
	switch act.name {
	case actionSweep:
		out, err = f.sweep(ctx, sweepRequest{dryRun: act.dryRun, resumeFrom: act.resumeFrom, chain: act.chain})
	default:
		out, err = f.rotateOnDemand(ctx, act.secretID, act.breakGlass)
	}
	if err != nil {
		return nil, f.failed(ctx, "action failed", rotation.Typed(rotation.Classify(err), fmt.Errorf("%s: %w", act.name, err)), "action", act.name, "secret", act.secretID, "outcome", "failed")
	}
	// The result obeys the rule log lines obey (I4), whatever field a
	// value written by someone else reached.
	clean, err := scrub.Result(out)
	if err != nil {
		return nil, f.failed(ctx, "action failed", rotation.Typed(rotation.KindRotation, fmt.Errorf("%s: write the result: %w", act.name, err)), "action", act.name, "outcome", "failed")
	}
	return clean, nil
}

// failed writes an action's one error line, attrs then the error's kind
// and message, and returns the error.
func (f *Fleet) failed(ctx context.Context, msg string, err *rotation.Error, attrs ...any) error {
	f.log.ErrorContext(ctx, msg, append(attrs, "error_type", err.Kind, "error", err.Error())...)
	return err
}
