package rotation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// testSecret proves the pending token works and belongs to the same
// principal (rotation.md, "testSecret"). When the pending version has no
// value, this is Secrets Manager's configuration test (RotateSecret with
// RotateImmediately=false), and the AWSCURRENT token is tested instead. It
// only reads: running it twice is harmless.
func (r *Rotator) testSecret(ctx context.Context, ev rotationEvent, desc secretsmanager.Description, rep *stepReport) error {
	raw, err := r.store.GetValue(ctx, desc.ARN, ev.ClientRequestToken, secretsmanager.StagePending)
	if errors.Is(err, secretsmanager.ErrNoValue) {
		return r.testCurrent(ctx, desc, rep)
	}
	if err != nil {
		return fmt.Errorf("read the pending version: %w", err)
	}
	pending, err := parseValue(raw, "the pending version")
	if err != nil {
		return err
	}
	rep.keep(pending.Token)
	rep.tokenPrefix, rep.previousTokenPrefix = pending.TokenPrefix, pending.PreviousTokenPrefix
	if pending.User == "" {
		return errors.New("the pending version has no user: it was not written by createSecret")
	}
	if err := r.checkExpiry(pending, "pending"); err != nil {
		return err
	}
	api, err := r.openAiven(pending)
	if err != nil {
		return fmt.Errorf("api_url: %w", err)
	}
	me, err := api.Me(ctx)
	if err != nil {
		return explainAiven(err, pendingToken, "me")
	}
	if err := samePrincipal(me, pending); err != nil {
		return fmt.Errorf("the pending token %w, who owns the current token", err)
	}
	rep.outcome = "tested"
	return nil
}

// testCurrent is the configuration test: the current token must work.
func (r *Rotator) testCurrent(ctx context.Context, desc secretsmanager.Description, rep *stepReport) error {
	raw, err := r.store.GetValue(ctx, desc.ARN, "", secretsmanager.StageCurrent)
	if err != nil {
		return fmt.Errorf("configuration test: read AWSCURRENT: %w", err)
	}
	current, err := parseValue(raw, "AWSCURRENT")
	if err != nil {
		return fmt.Errorf("configuration test: %w", err)
	}
	rep.keep(current.Token)
	rep.tokenPrefix = current.TokenPrefix
	if err := r.checkExpiry(current, "current"); err != nil {
		return fmt.Errorf("configuration test: %w", err)
	}
	api, err := r.openAiven(current)
	if err != nil {
		return fmt.Errorf("configuration test: api_url: %w", err)
	}
	me, err := api.Me(ctx)
	if err != nil {
		return fmt.Errorf("configuration test: %w", explainAiven(err, currentToken, "me"))
	}
	if current.User != "" || current.UserID != "" {
		if err := samePrincipal(me, current); err != nil {
			return fmt.Errorf("configuration test: the current token %w, as the secret says", err)
		}
	}
	rep.outcome = "configuration_test_passed"
	return nil
}

// samePrincipal compares the user Aiven answered with the one v records:
// by Aiven user id where v has one (an e-mail address can change, and be
// reused), else by e-mail. Its error reads "belongs to X, not to Y".
func samePrincipal(me aiven.User, v *secret.Value) error {
	if v.UserID != "" {
		if me.UserID != v.UserID {
			return fmt.Errorf("belongs to user id %q (%s), not to user id %q (%s)", me.UserID, me.Email, v.UserID, v.User)
		}
		return nil
	}
	if me.Email != v.User {
		return fmt.Errorf("belongs to %q, not to %q", me.Email, v.User)
	}
	return nil
}

func (r *Rotator) checkExpiry(v *secret.Value, which string) error {
	if v.ExpiryTime == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, v.ExpiryTime)
	if err != nil {
		return &secret.FieldError{Field: "expiry_time", Reason: "must be an RFC 3339 time"}
	}
	if !t.After(r.now()) {
		return fmt.Errorf("the %s token expired at %s", which, t.UTC().Format(time.RFC3339))
	}
	return nil
}
