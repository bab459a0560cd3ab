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
// principal (docs/rotation.md, "testSecret"). When the pending version has no
// value, this is Secrets Manager's configuration test (RotateSecret with
// RotateImmediately=false), and the AWSCURRENT token is tested instead. It
// only reads: running it twice is harmless.
func (r *Rotator) testSecret(ctx context.Context, in stepInput) (res result, err error) {
	pending, err := r.readPending(ctx, in)
	if hasNoValue(err) {
		return r.testCurrent(ctx, in)
	}
	if err != nil {
		return res, err
	}
	res.holds(pending)
	if pending.User == "" && pending.UserID == "" {
		return res, errors.New("the pending version has no user: it was not written by createSecret")
	}
	if err := r.checkExpiry(pending, "pending"); err != nil {
		return res, err
	}
	api, me, err := whoAmI(ctx, in, pending, pendingToken)
	if err != nil {
		return res, err
	}
	if err := samePrincipal(me, pending); err != nil {
		return res, fmt.Errorf("the pending token %w, who owns the current token", err)
	}
	// A call only when the value names its organization (orgpolicy.go).
	if err := checkOrgAccess(ctx, api, pending, in.desc.ARN, "the pending token"); err != nil {
		return res, err
	}
	res.outcome = "tested"
	return res, nil
}

// testCurrent is the configuration test: the current token must work.
func (r *Rotator) testCurrent(ctx context.Context, in stepInput) (res result, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("configuration test: %w", err)
		}
	}()
	current, err := r.readVersion(ctx, in.desc.ARN, "", secretsmanager.StageCurrent, "AWSCURRENT")
	if err != nil {
		return res, err
	}
	res.heldToken(current.Token)
	res.tokenPrefix = current.TokenPrefix
	if err := r.checkExpiry(current, "current"); err != nil {
		return res, err
	}
	api, err := in.aiven(current)
	if err != nil {
		return res, err
	}
	listed, err := api.testCurrent(ctx, current)
	if err != nil {
		return res, err
	}
	if err := checkOrgAccess(ctx, api, current, in.desc.ARN, "the current token"); err != nil {
		return res, err
	}
	if err := r.checkCurrentSettings(ctx, in, api, listed, current, &res); err != nil {
		return res, err
	}
	res.outcome = "configuration_test_passed"
	return res, nil
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
