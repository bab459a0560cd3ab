package rotation

// The one revocation rule: which of a secret's listed tokens may be
// revoked as a leftover of earlier rotations. finishSecret applies it
// after a promotion, and the fleet's sweep through Inspection.Orphans.

import (
	"context"
	"fmt"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// staleAge is how old a token of this secret, other than one of the
// finishing version's own, must be before a sweep revokes it (docs/rotation.md:
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
	ownVersion string
	// spareUntil: before it, no token but ownVersion's is revocable (a
	// grace record the sweep could not trust may name any of them).
	spareUntil  time.Time
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
	case s.pending[m.Version], s.now.Before(s.spareUntil):
		return false
	}
	return !youngerThan(t, s.minStaleAge, s.now)
}

// revokeStale revokes the listed tokens the rule allows: leftovers of
// earlier rotations. Run twice, the second run finds them gone. The fleet
// sweep is to call it with its own listing and rule.
func revokeStale(ctx context.Context, api countingAPI, tokens []aiven.Token, rule sweepRule) error {
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
