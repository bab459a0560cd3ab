package rotation

import (
	"context"
	"fmt"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// The grace period for the previous token (rotation.md, "Grace period for
// the previous token"; docs/fleet.md). createSecret records it in the new
// version (previous_token_revoke_after); finishSecret keeps the replaced
// token when its version carries the record; the sweep revokes it once
// due; and the next createSecret revokes it, due or not, before it makes a
// new token, so that no more than two tokens of a secret are ever live.

// graceFor is the secret's grace: its previous_token_grace, else the
// function's PREVIOUS_TOKEN_GRACE. A bad field is a *secret.FieldError.
func (r *Rotator) graceFor(v *secret.Value) (time.Duration, error) {
	d, set, err := v.Duration(secret.FieldPreviousTokenGrace, 0, MaxPreviousTokenGrace)
	if err != nil || set {
		return d, err
	}
	return r.cfg.Fleet.PreviousTokenGrace, nil
}

// rotateBeforeFor is the secret's rotate_before_expiry, else the
// function's ROTATE_BEFORE_EXPIRY.
func (r *Rotator) rotateBeforeFor(v *secret.Value) (time.Duration, error) {
	d, set, err := v.Duration(secret.FieldRotateBeforeExpiry, time.Second, 0)
	if err != nil || set {
		return d, err
	}
	return r.cfg.Fleet.rotateBeforeExpiry(), nil
}

// withGraceRecord is next with its revocation record: the instant from
// which the token it replaces (previousPrefix) may be revoked, or none when
// the grace is zero or there is no such token. Next never carries an old
// record over; this decides it afresh for every version.
func (r *Rotator) withGraceRecord(next *secret.Value, previousPrefix string, grace time.Duration) *secret.Value {
	if grace <= 0 || previousPrefix == "" {
		return next.WithRevokeAfter(time.Time{})
	}
	return next.WithRevokeAfter(r.now().Add(grace))
}

// revokeGraced revokes the token the current version kept for a grace
// period (its previous_token_prefix), if Aiven still lists it: createSecret
// runs it before it makes a new token, so that the secret never holds more
// than two live tokens. keep is the current token's prefix, never revoked
// here. Run twice, it finds the token gone.
// currentVersionID is the version that holds current, whose marker its
// token must carry for the record to be honoured (previousUntrusted).
func revokeGraced(ctx context.Context, api countingAPI, current *secret.Value, secretARN, currentVersionID, keep string, tokens []aiven.Token) (revoked string, err error) {
	old := current.PreviousTokenPrefix
	if old == "" || old == keep || old == current.TokenPrefix || previousUntrusted(current, secretARN, currentVersionID, tokens) != "" {
		return "", nil
	}
	for _, t := range tokens {
		if t.Prefix != old || t.CurrentlyActive {
			continue
		}
		if _, err := api.RevokeToken(ctx, old); err != nil {
			return "", fmt.Errorf("revoke the token %s kept for a grace period, before making a third: %w", old, explainAiven(err, currentToken, "revoke"))
		}
		return old, nil
	}
	return "", nil
}

// dueAt is when the previous token of a current version with a grace
// record may be revoked: the record's instant, and never sooner than the
// grace after the rotation completed (lastRotated, from Secrets Manager),
// since a retried rotation may promote long after createSecret wrote it.
func dueAt(recorded time.Time, lastRotated time.Time, grace time.Duration) time.Time {
	if floor := lastRotated.Add(grace); !lastRotated.IsZero() && floor.After(recorded) {
		return floor
	}
	return recorded
}
