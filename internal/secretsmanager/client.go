// Package secretsmanager makes the AWS Secrets Manager calls the rotator
// needs, over aws-sdk-go-v2. Every call it makes is idempotent and retried
// by the SDK's standard retryer, with a backoff that gives up as soon as
// the next attempt would start past the context's deadline. Every response
// body it reads is capped (see cappedHTTPClient) and every error text it
// returns is clipped.
package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/boundedhttp"
)

// Staging labels.
const (
	StageCurrent = "AWSCURRENT"
	StagePending = "AWSPENDING"
)

// Options are what the rotator chooses for a Client.
type Options struct {
	// BaseEndpoint overrides the endpoint (the local stack's emulator);
	// empty keeps aws.Config's.
	BaseEndpoint string
}

// settings are a Client's Options and the rest of its settings, which New
// leaves at their defaults and tests set through newClient. The zero
// value of each field takes the default.
type settings struct {
	Options
	// maxAttempts bounds the attempts of one call (default 4).
	maxAttempts int
	// backoff is the delay before attempt n+1 (default: the SDK's
	// exponential jitter, at most 2s); now reads the clock (default
	// time.Now).
	backoff func(attempt int) time.Duration
	now     func() time.Time
}

// Client calls Secrets Manager.
type Client struct {
	api  *sm.Client
	opts settings
}

// New is a client built from cfg; cfg.BaseEndpoint and Options.BaseEndpoint
// (which wins) point it at an emulator.
func New(cfg aws.Config, o Options) *Client {
	return newClient(cfg, settings{Options: o})
}

// newClient is New with every setting: the seam for tests.
func newClient(cfg aws.Config, o settings) *Client {
	if o.maxAttempts <= 0 {
		o.maxAttempts = 4
	}
	if o.backoff == nil {
		jitter := retry.NewExponentialJitterBackoff(2 * time.Second)
		o.backoff = func(attempt int) time.Duration {
			d, _ := jitter.BackoffDelay(attempt, nil)
			return d
		}
	}
	if o.now == nil {
		o.now = time.Now
	}
	api := sm.NewFromConfig(cfg, func(so *sm.Options) {
		if o.BaseEndpoint != "" {
			so.BaseEndpoint = aws.String(o.BaseEndpoint)
		}
		// The SDK has resolved its HTTP client by now (cfg's or its own
		// default): wrap whichever it is, and cap the response headers of
		// the SDK's own kind (Go's default allows 10 MiB).
		base := so.HTTPClient
		if bc, ok := base.(*awshttp.BuildableClient); ok {
			base = bc.WithTransportOptions(func(t *http.Transport) { t.MaxResponseHeaderBytes = boundedhttp.MaxHeaderBytes })
		}
		so.HTTPClient = cappedHTTPClient(base)
	})
	return &Client{api: api, opts: o}
}

// withDeadline gives a call a retryer whose backoff refuses to wait past
// the context's deadline, so that a step fails with its own error before
// Lambda stops it.
func (c *Client) withDeadline(ctx context.Context) func(*sm.Options) {
	deadline, hasDeadline := ctx.Deadline()
	return func(so *sm.Options) {
		so.Retryer = retry.NewStandard(func(s *retry.StandardOptions) {
			s.MaxAttempts = c.opts.maxAttempts
			s.RateLimiter = ratelimit.None
			s.Backoff = retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
				d := c.opts.backoff(attempt)
				if hasDeadline && !c.opts.now().Add(d).Before(deadline) {
					return 0, fmt.Errorf("giving up after %d attempt(s): waiting %s to retry would pass the invocation deadline: %w", attempt, d.Round(time.Millisecond), err)
				}
				return d, nil
			})
		})
	}
}

// Description is what DescribeSecret says about a secret.
type Description struct {
	ARN             string
	RotationEnabled bool
	// RotationLambdaARN is the secret's rotation function, "" when none.
	RotationLambdaARN string
	// Versions maps each labelled version id to its staging labels.
	Versions map[string][]string
	// Tags are the secret's tags, key to value.
	Tags map[string]string
	// PrimaryRegion is the region of the secret's primary, "" for a secret
	// never replicated; a replica's differs from the region in its ARN.
	PrimaryRegion string
	// Replicas is the primary's ReplicationStatus, one entry a region; nil
	// for a secret without replicas and for a replica.
	Replicas []Replica
	// LastRotated is when a rotation last completed, NextRotation the
	// latest the next one will happen ("on or before this date", which
	// already reflects the schedule, its window and edits by hand); each
	// zero when Secrets Manager gives none (rotation off, never rotated).
	LastRotated, NextRotation time.Time
}

// Describe reads the secret's metadata (DescribeSecret). It only reads:
// calling it twice is harmless.
func (c *Client) Describe(ctx context.Context, secretID string) (Description, error) {
	out, err := c.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &secretID}, c.withDeadline(ctx))
	if err != nil {
		return Description{}, clipped(err)
	}
	return describedAs(out), nil
}

func describedAs(out *sm.DescribeSecretOutput) Description {
	d := Description{
		ARN:               aws.ToString(out.ARN),
		RotationEnabled:   aws.ToBool(out.RotationEnabled),
		RotationLambdaARN: aws.ToString(out.RotationLambdaARN),
		Versions:          out.VersionIdsToStages,
		PrimaryRegion:     aws.ToString(out.PrimaryRegion),
		Replicas:          replicasOf(out.ReplicationStatus),
		LastRotated:       aws.ToTime(out.LastRotatedDate),
		NextRotation:      aws.ToTime(out.NextRotationDate),
	}
	if len(out.Tags) > 0 {
		d.Tags = make(map[string]string, len(out.Tags))
		for _, t := range out.Tags {
			d.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return d
}

// ErrNoValue says the version or label has no value: the placeholder
// version RotateSecret creates, or no such version.
var ErrNoValue = errors.New("no secret value")

// GetValue reads a SecretString (GetSecretValue). versionID or stage may be
// empty. It only reads: calling it twice is harmless. It answers an error
// matching ErrNoValue when, and only when, Secrets Manager answers
// ResourceNotFoundException.
func (c *Client) GetValue(ctx context.Context, secretID, versionID, stage string) (string, error) {
	in := &sm.GetSecretValueInput{SecretId: &secretID}
	if versionID != "" {
		in.VersionId = &versionID
	}
	if stage != "" {
		in.VersionStage = &stage
	}
	out, err := c.api.GetSecretValue(ctx, in, c.withDeadline(ctx))
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return "", clipped(fmt.Errorf("%w: %w", ErrNoValue, err))
		}
		return "", clipped(err)
	}
	if out.SecretString == nil {
		return "", errors.New("the version holds SecretBinary; the rotator needs SecretString")
	}
	return *out.SecretString, nil
}

// PutPending stores value as the version clientRequestToken, labelled
// AWSPENDING only (PutSecretValue with VersionStages=[AWSPENDING]), passing
// rotationToken when set. Calling it twice with the same value is
// harmless: Secrets Manager ignores a repeated ClientRequestToken with the
// same value (and refuses it with another value), which is also why the
// SDK may retry it.
func (c *Client) PutPending(ctx context.Context, secretID, clientRequestToken, value, rotationToken string) error {
	in := &sm.PutSecretValueInput{
		SecretId:           &secretID,
		ClientRequestToken: &clientRequestToken,
		SecretString:       &value,
		VersionStages:      []string{StagePending},
	}
	if rotationToken != "" {
		in.RotationToken = &rotationToken
	}
	_, err := c.api.PutSecretValue(ctx, in, c.withDeadline(ctx))
	return clipped(err)
}

// MoveCurrent moves AWSCURRENT to toVersion from fromVersion
// (UpdateSecretVersionStage); Secrets Manager moves AWSPREVIOUS along.
// Calling it twice is harmless: the second call finds the label where the
// first left it.
func (c *Client) MoveCurrent(ctx context.Context, secretID, toVersion, fromVersion string) error {
	in := &sm.UpdateSecretVersionStageInput{
		SecretId:        &secretID,
		VersionStage:    aws.String(StageCurrent),
		MoveToVersionId: &toVersion,
	}
	if fromVersion != "" {
		in.RemoveFromVersionId = &fromVersion
	}
	_, err := c.api.UpdateSecretVersionStage(ctx, in, c.withDeadline(ctx))
	return clipped(err)
}
