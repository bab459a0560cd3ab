package rotation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// finishSecret promotes the version to AWSCURRENT, then revokes the token
// it replaced and every other token of this secret that sweepRule allows
// (docs/rotation.md, "finishSecret"). The Aiven host policy is checked, and the
// new token proven by the listing the sweep uses, before AWSCURRENT moves,
// so a refused api_url or a dead token leaves the rotation where it was.
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
	if err := checkTokenPrefix(v); err != nil {
		return res, err
	}
	revokeAfter, graced, err := v.RevokeAfter()
	if err != nil {
		return res, err
	}
	api, err := in.aiven(v)
	if err != nil {
		return res, err
	}
	from := secretsmanager.CurrentVersion(in.desc.Versions)
	// The listing the sweep needs, made before AWSCURRENT moves, proves
	// the new token still works (I1); it also shows the version's marker.
	tokens, err := r.proveNewToken(ctx, api, v, from != version)
	if err != nil {
		return res, err
	}

	res.outcome = "already_current"
	if from == version && !madeFor(tokens, v, arn, version) {
		// AWSCURRENT is a value put by hand (an edit of the rotation's
		// version, or a token pasted in): not this step's to finish. Its
		// previous token's grace is read where the sweep reads it.
		return res, r.finishEdited(ctx, in, api, &res, v, tokens)
	}
	if from != version {
		if err := r.store.MoveCurrent(ctx, arn, version, from); err != nil {
			return res, fmt.Errorf("move AWSCURRENT to version %s: %w", version, err)
		}
		res.outcome = "promoted"
	}

	// With a grace record, the previous token stays: the sweep revokes it
	// once due, or the next createSecret does.
	gracePrefix := ""
	if prev := r.previousToRevoke(ctx, in, v, tokens, &res); prev != "" {
		if graced {
			gracePrefix = prev
			res.note("previous token %s kept for its grace period, until %s at the earliest", prev, revokeAfter.UTC().Format(time.RFC3339))
		} else if lag := r.replicaLag(ctx, in.desc, version); lag.Wait != "" {
			// A replica region still serves the previous token's value:
			// the sweep revokes it once every replica serves this one.
			gracePrefix = prev
			res.note("previous token %s kept: %s; the sweep revokes it once every replica serves the new version", prev, lag.Wait)
			r.log.WarnContext(ctx, "previous token kept until every replica region serves the new version",
				"step", in.ev.Step, "secret", arn, "version", version, "previous_token_prefix", prev, "outcome", "replica_wait", "reason", lag.Wait)
		} else {
			if _, err := api.RevokeToken(ctx, prev); err != nil {
				return res, fmt.Errorf("revoke the previous token %s: %w", prev, explainAiven(err, newToken, "revoke"))
			}
			tokens = slices.DeleteFunc(tokens, func(t aiven.Token) bool { return t.Prefix == prev })
		}
	}
	rule := sweepRule{
		secretHash:  secret.SecretHash(arn),
		keepPrefix:  v.TokenPrefix,
		gracePrefix: gracePrefix,
		ownVersion:  version,
		pending:     secretsmanager.PendingVersions(in.desc.Versions),
		now:         r.now(),
		minStaleAge: staleAge,
	}
	return res, revokeStale(ctx, api, tokens, rule)
}

// proveNewToken lists the tokens with the finishing version's token API
// before AWSCURRENT moves to it. For a personal token the listing is made
// with the token itself: its answer proves it authenticates, and a 401
// fails the step, touching nothing. An application token is listed by its
// manager: the token must be among its user's tokens (a revoked one is
// not). pending: the version is not AWSCURRENT yet. It only reads.
func (r *Rotator) proveNewToken(ctx context.Context, api countingAPI, v *secret.Value, pending bool) ([]aiven.Token, error) {
	tokens, err := api.ListTokens(ctx)
	if !pending {
		if err != nil {
			return nil, fmt.Errorf("list tokens for the sweep: %w", explainAiven(err, newToken, "list"))
		}
		return tokens, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list tokens to prove the pending token before AWSCURRENT moves to it: %w", explainAiven(err, pendingToken, "list"))
	}
	if err := api.provePending(v, tokens, r.now()); err != nil {
		return nil, err
	}
	return tokens, nil
}

// listedAs is the listed token with prefix, or nil.
func listedAs(tokens []aiven.Token, prefix string) *aiven.Token {
	for i := range tokens {
		if tokens[i].Prefix == prefix {
			return &tokens[i]
		}
	}
	return nil
}

// previousToRevoke is the prefix finishSecret revokes for the token v
// replaced: v's previous_token_prefix, honoured only when createSecret of
// this rotation wrote it, that is when v's own token is listed at Aiven
// with this secret's and this version's marker, and only when it is
// prefix-shaped and not v's own token's prefix. Otherwise it returns "",
// and says so (a note, a warning and the PreviousTokenUnknown metric): a
// stored field alone never revokes a token.
func (r *Rotator) previousToRevoke(ctx context.Context, in stepInput, v *secret.Value, tokens []aiven.Token, res *result) string {
	prev := v.PreviousTokenPrefix
	if prev == "" {
		return "" // createSecret found none, and said so then
	}
	why := previousUntrusted(v, in.desc.ARN, in.ev.ClientRequestToken, tokens)
	if why == "" {
		return prev
	}
	shown := shownPrefix(prev)
	res.previousTokenUnknown = true
	res.note("previous_token_prefix %q is not revoked because %s; revoke the token it names by hand if it must go", shown, why)
	r.log.WarnContext(ctx, "previous_token_prefix not honoured: the replaced token is not revoked",
		"step", in.ev.Step, "secret", in.desc.ARN, "version", in.ev.ClientRequestToken,
		"stored_previous_token_prefix", shown, "outcome", "previous_token_not_revoked")
	return ""
}

// previousUntrusted says why v's previous_token_prefix must not be
// revoked, or "" when it may: it must be prefix-shaped, not v's own
// token's, and v must have been written by createSecret of the rotation
// that made version versionID, that is v's own token (whose stored prefix
// must begin it) is listed at Aiven with this secret's and that version's
// marker. finishSecret, the next createSecret (a graced token) and the
// sweep (a due token) all ask it: a stored field alone never revokes a
// token.
func previousUntrusted(v *secret.Value, secretARN, versionID string, tokens []aiven.Token) string {
	prev := v.PreviousTokenPrefix
	if err := checkPrefix(prev); err != nil {
		return "it " + err.Error()
	}
	if v.Token.HasPrefix(prev) || prev == v.TokenPrefix {
		return "it is the prefix of the version's own token"
	}
	if checkPrefix(v.TokenPrefix) != nil || !v.Token.HasPrefix(v.TokenPrefix) {
		return "the version's token_prefix is not its token's first characters"
	}
	own := listedAs(tokens, v.TokenPrefix)
	if own == nil {
		return "the version's token " + v.TokenPrefix + " is not in Aiven's listing, so its marker cannot be checked"
	}
	if m, ok := secret.ParseMarker(own.Description); !ok || m.Secret != secret.SecretHash(secretARN) || m.Version != versionID {
		return "the version's token " + v.TokenPrefix + " does not carry this version's marker: the version was not written by createSecret for this rotation"
	}
	return ""
}

// madeFor says whether v's token is listed with this secret's marker for
// version: createSecret of that rotation made it.
func madeFor(tokens []aiven.Token, v *secret.Value, secretARN, version string) bool {
	own := listedCurrent(tokens, v.Token)
	if own == nil {
		return false
	}
	m, ok := secret.ParseMarker(own.Description)
	return ok && m.Secret == secret.SecretHash(secretARN) && m.Version == version
}

// finishEdited is finishSecret's revocation duty when the version it is
// asked to finish is AWSCURRENT but was put by hand: it revokes no previous
// token (the rotation that made the current token did, or its grace is the
// sweep's to end), keeps the token the trusted grace record names
// (graceRecordOf), and spares every marked token within the stack's grace
// when the record cannot be trusted; only leftovers the rule allows go.
func (r *Rotator) finishEdited(ctx context.Context, in stepInput, api countingAPI, res *result, v *secret.Value, tokens []aiven.Token) error {
	arn, version := in.desc.ARN, in.ev.ClientRequestToken
	src, err := r.graceRecordOf(ctx, arn, v, version, tokens)
	if err != nil {
		return err
	}
	res.note("version %s is AWSCURRENT but was not written by createSecret (a value put by hand): no previous token is revoked here", version)
	rule := sweepRule{
		secretHash:  secret.SecretHash(arn),
		keepPrefix:  v.TokenPrefix,
		pending:     map[string]bool{},
		now:         r.now(),
		minStaleAge: staleAge,
	}
	own := listedCurrent(tokens, v.Token)
	if own != nil {
		rule.keepPrefix = own.Prefix
	}
	if own == nil || src.distrusted != "" {
		rule.spareUntil = r.spareUntil(own, rule.now)
	}
	if src.distrusted != "" {
		// Its stored previous_token_prefix is not revoked: said as
		// finishSecret always says it (a warning, PreviousTokenUnknown).
		_ = r.previousToRevoke(ctx, in, v, tokens, res)
		res.graceRecordDistrusted = true
		res.note("the grace record of the current value is not honoured: %s", src.distrusted)
		r.log.ErrorContext(ctx, "grace record not honoured: the previous token is not revoked", "secret", arn, "version", version,
			"outcome", "grace_record_distrusted", "reason", src.distrusted)
	}
	if src.record != nil {
		rule.gracePrefix = src.record.PreviousTokenPrefix
	}
	return revokeStale(ctx, api, tokens, rule)
}
