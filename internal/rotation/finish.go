package rotation

import (
	"context"
	"fmt"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// finishSecret promotes the version to AWSCURRENT, then revokes the token
// it replaced and every other token of this secret that sweepRule allows
// (rotation.md, "finishSecret"). The Aiven host policy is checked before
// AWSCURRENT moves, so a refused api_url leaves the rotation where it was.
// Run again, it finds AWSCURRENT in place and still does the revocations,
// so a retry completes them: a token already revoked is not an error.
func (r *Rotator) finishSecret(ctx context.Context, in stepInput) (res result, err error) {
	arn, version := in.desc.ARN, in.ev.ClientRequestToken
	// By version id alone: after a completed rotation the version no
	// longer carries AWSPENDING.
	v, err := r.readVersion(ctx, arn, version, "", "the new version "+version)
	if err != nil {
		return res, err
	}
	res.holds(v)
	if v.TokenPrefix == "" {
		return res, &secret.FieldError{Field: "token_prefix", Reason: "is required in a version createSecret wrote"}
	}
	api, err := in.aiven(v)
	if err != nil {
		return res, err
	}

	res.outcome = "already_current"
	if from := currentVersion(in.desc); from != version {
		if err := r.store.MoveCurrent(ctx, arn, version, from); err != nil {
			return res, fmt.Errorf("move AWSCURRENT to version %s: %w", version, err)
		}
		res.outcome = "promoted"
	}

	// With a grace record, the previous token stays: the sweep revokes it
	// once due, or the next createSecret does.
	revokeAfter, graced, err := v.RevokeAfter()
	if err != nil {
		return res, err
	}
	gracePrefix := ""
	if prev := v.PreviousTokenPrefix; prev != "" && prev != v.TokenPrefix {
		if graced {
			gracePrefix = prev
			res.note("previous token %s kept for its grace period, until %s at the earliest", prev, revokeAfter.UTC().Format(time.RFC3339))
		} else if _, err := api.RevokeToken(ctx, prev); err != nil {
			return res, fmt.Errorf("revoke the previous token %s: %w", prev, explainAiven(err, newToken, "revoke"))
		}
	}
	rule := sweepRule{
		secretHash:  secret.SecretHash(arn),
		keepPrefix:  v.TokenPrefix,
		gracePrefix: gracePrefix,
		ownVersion:  version,
		pending:     pendingVersions(in.desc),
		now:         r.now(),
		minStaleAge: staleAge,
	}
	return res, revokeStaleTokens(ctx, api, rule)
}

// staleAge is how old a token of this secret, other than one of the
// finishing version's own, must be before a sweep revokes it (rotation.md:
// "created more than an hour ago"): a younger one may be a rotation's in
// progress whose version does not carry AWSPENDING yet, or has just lost it.
const staleAge = time.Hour

// sweepRule decides which listed tokens a sweep may revoke: finishSecret's
// here, and the one rule the scheduled fleet sweep must use as well. A
// token is revocable only when it carries this secret's marker and is
// none of: the caller's own token (currently_active), keepPrefix,
// gracePrefix, a token
// whose marker names a version that carries AWSPENDING (a rotation in
// progress), or a token younger than minStaleAge, except that any other
// token of ownVersion is revocable whatever its age: that version's value
// is stored, so a token of it that is not keepPrefix is lost.
type sweepRule struct {
	secretHash string // secret.SecretHash of the secret's ARN
	keepPrefix string // the token the secret holds now; "" for none
	// gracePrefix is the previous token while its grace period runs; ""
	// for none.
	gracePrefix string
	// ownVersion is the version whose value holds keepPrefix ("" in the
	// fleet sweep, which has no version of its own).
	ownVersion  string
	pending     map[string]bool // versions carrying AWSPENDING
	now         time.Time
	minStaleAge time.Duration
}

// revocable applies the rule to one listed token.
func (s sweepRule) revocable(t aiven.Token) bool {
	m, ok := secret.ParseMarker(t.Description)
	switch {
	case !ok || m.Secret != s.secretHash:
		return false // never touch a token without this secret's marker
	case t.CurrentlyActive || t.Prefix == "" || t.Prefix == s.keepPrefix || t.Prefix == s.gracePrefix:
		return false
	case s.ownVersion != "" && m.Version == s.ownVersion:
		return true
	case s.pending[m.Version]:
		return false
	}
	return !youngerThan(t, s.minStaleAge, s.now)
}

// revokeStaleTokens lists the tokens and revokes those the rule allows:
// leftovers of earlier rotations. Run twice, the second run finds them
// gone. The fleet sweep is to call it with its own rule.
func revokeStaleTokens(ctx context.Context, api countingAPI, rule sweepRule) error {
	tokens, err := api.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("list tokens for the sweep: %w", explainAiven(err, newToken, "list"))
	}
	for _, t := range tokens {
		if !rule.revocable(t) {
			continue
		}
		if _, err := api.revokeLeftover(ctx, t.Prefix); err != nil {
			return fmt.Errorf("revoke stale token %s of this secret: %w", t.Prefix, explainAiven(err, newToken, "revoke"))
		}
	}
	return nil
}
