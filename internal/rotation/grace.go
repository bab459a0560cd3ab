package rotation

import (
	"context"
	"fmt"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// The grace period for the previous token (docs/rotation.md, "Grace period for
// the previous token"; docs/fleet.md). createSecret records it in the new
// version (previous_token_revoke_after); finishSecret keeps the replaced
// token when its version carries the record; the sweep revokes it once
// due; and the next createSecret revokes it, due or not, before it makes a
// new token, so that no more than two tokens of a secret are ever live.

// graceFor is the secret's grace: its previous_token_grace when shorter
// than the function's PREVIOUS_TOKEN_GRACE, else the function's. The
// value's writer is not trusted (docs/fleet.md, "Who may write what"): a
// setting may shorten the stack's, never lengthen it, so that nobody who
// can write one secret can keep a leaked token alive longer than the stack
// allows. A bad field is a *secret.FieldError.
func (r *Rotator) graceFor(v *secret.Value) (time.Duration, error) {
	d, set, err := v.Duration(secret.FieldPreviousTokenGrace, 0, MaxPreviousTokenGrace)
	if err != nil {
		return 0, err
	}
	if stack := r.cfg.Fleet.PreviousTokenGrace; !set || d > stack {
		return stack, nil
	}
	return d, nil
}

// keepFor is the secret's hard limit for a previous token still in use
// and the idle time that counts as in use: its previous_token_max_grace
// and previous_token_idle when shorter than the stack's, else the stack's
// (the value's writer must not keep a leaked token alive). The limit is
// never below the secret's grace; on says whether keeping applies at all.
func (r *Rotator) keepFor(v *secret.Value, grace time.Duration) (limit, idle time.Duration, on bool, err error) {
	// Only the stack turns keeping on: a PREVIOUS_TOKEN_MAX_GRACE above
	// its PREVIOUS_TOKEN_GRACE. A value's shorter grace never does.
	stack := r.cfg.Fleet
	on = stack.PreviousTokenMaxGrace > stack.PreviousTokenGrace
	limit, idle = stack.maxGrace(), stack.idle()
	if d, set, err := v.Duration(secret.FieldPreviousTokenMaxGrace, 0, MaxPreviousTokenGrace); err != nil {
		return 0, 0, false, err
	} else if set && d < limit {
		limit = d
	}
	if d, set, err := v.Duration(secret.FieldPreviousTokenIdle, 0, 0); err != nil {
		return 0, 0, false, err
	} else if set && d < idle {
		idle = d
	}
	return max(limit, grace), idle, on && limit > grace, nil
}

// rotateBeforeFor is the secret's rotate_before_expiry when shorter than
// the function's ROTATE_BEFORE_EXPIRY, else the function's: as for the
// grace, the stack's setting is the ceiling.
func (r *Rotator) rotateBeforeFor(v *secret.Value) (time.Duration, error) {
	d, set, err := v.Duration(secret.FieldRotateBeforeExpiry, time.Second, 0)
	if err != nil {
		return 0, err
	}
	if stack := r.cfg.Fleet.rotateBeforeExpiry(); !set || d > stack {
		return stack, nil
	}
	return d, nil
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
// period (the previous_token_prefix of the record graceRecordOf trusts),
// if Aiven still lists it: createSecret runs it before it makes a new
// token, so that the secret never holds more than two live tokens. keep is
// the current token's prefix, never revoked here. A record it does not
// honour is reported in res (a note, an error-level line, a metric). Run
// twice, it finds the token gone.
func (r *Rotator) revokeGraced(ctx context.Context, api countingAPI, res *result, current *secret.Value, desc secretsmanager.Description, keep string, tokens []aiven.Token) (revoked string, err error) {
	secretARN, currentVersionID := desc.ARN, secretsmanager.CurrentVersion(desc.Versions)
	src, err := r.graceRecordOf(ctx, secretARN, current, currentVersionID, tokens)
	if err != nil {
		return "", err
	}
	if src.distrusted != "" {
		res.graceRecordDistrusted = true
		res.note("the grace record of the current value is not honoured, so the token it names (if any) is not revoked before the new one is made: %s; revoke it by hand if it must go", src.distrusted)
		r.log.ErrorContext(ctx, "grace record not honoured: the previous token is not revoked before a new one is made",
			"secret", secretARN, "outcome", "grace_record_distrusted", "reason", src.distrusted)
	}
	if src.record == nil {
		return "", nil
	}
	old := src.record.PreviousTokenPrefix
	if old == "" || old == keep || old == current.TokenPrefix {
		return "", nil
	}
	for _, t := range tokens {
		if t.Prefix != old || t.CurrentlyActive {
			continue
		}
		if _, err := api.RevokeToken(ctx, old); err != nil {
			return "", fmt.Errorf("revoke the token %s kept for a grace period, before making a third: %w", old, explainAiven(err, currentToken, "revoke"))
		}
		r.stragglerCut(ctx, res, secretARN, &t, promotedAt(listedCurrent(tokens, current.Token), desc.LastRotated, skewOf(api, r.now())))
		return old, nil
	}
	return "", nil
}

// stragglerCut says, at error level, that the next rotation revoked a
// previous token still in use (used since promoted, when the token that
// replaced it became current): a secret never holds three live tokens, and Aiven caps
// the tokens a user may hold, so the next rotation does not wait for it
// (docs/fleet.md, "Stragglers").
func (r *Rotator) stragglerCut(ctx context.Context, res *result, secretARN string, t *aiven.Token, promoted time.Time) {
	u := straggler(t, promoted)
	if u == nil {
		return
	}
	res.note("revoked the previous token %s while still in use (last used %s from %s): the consumer that uses it fails now", t.Prefix, u.At.UTC().Format(time.RFC3339), u.IP)
	r.log.ErrorContext(ctx, "previous token revoked by the next rotation while still in use: the consumer that uses it fails now; give it the current value",
		"secret", secretARN, "previous_token_prefix", t.Prefix, "last_used_time", u.At.UTC().Format(time.RFC3339), "last_ip", u.IP, "last_user_agent", u.UserAgent,
		"outcome", "straggler_cut")
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

// graceSource is where the grace record that counts for a current value
// was found (graceRecordOf).
type graceSource struct {
	// record is the value whose previous_token_prefix and
	// previous_token_revoke_after count: the current value itself, or the
	// version that made its token; nil when none counts.
	record *secret.Value
	// version holds record.
	version string
	// distrusted says why the grace record the current value carries does
	// not count; "" when it counts or the value carries none. The caller
	// reports it (an error-level line and a metric), never drops it.
	distrusted string
}

// graceRecordOf finds the grace record that counts for cur, the value of
// the AWSCURRENT version curVersion of the secret arn: the one createSecret
// wrote into the version that made cur's token, named by the token's
// marker. An edit of the value by hand (put-secret-value, update-secret)
// is a new version carrying the same token: its own copy of the record is
// never read, so an edit neither ends nor extends a grace; the rotation's
// version is read by its id, labelled or not. An edit that replaces the
// token itself leaves no version of this function behind the new token:
// then no record counts. tokens is Aiven's listing, made with the current
// token (or its manager). It only reads: calling it twice is harmless.
func (r *Rotator) graceRecordOf(ctx context.Context, arn string, cur *secret.Value, curVersion string, tokens []aiven.Token) (graceSource, error) {
	_, recorded, badRecord := cur.RevokeAfter()
	claims := cur.PreviousTokenPrefix != "" || recorded || badRecord != nil
	distrust := func(why string) (graceSource, error) {
		if !claims {
			return graceSource{}, nil
		}
		return graceSource{distrusted: why}, nil
	}
	own := listedCurrent(tokens, cur.Token)
	if own == nil {
		return distrust("the current token is not in Aiven's listing, so the version that made it cannot be found")
	}
	m, ok := secret.ParseMarker(own.Description)
	if !ok || m.Secret != secret.SecretHash(arn) {
		return distrust("the current token " + own.Prefix + " was not made by this function for this secret (a token put by hand): no rotation's record stands behind it")
	}
	source, version := cur, curVersion
	if m.Version != curVersion {
		raw, err := r.store.GetValue(ctx, arn, m.Version, "")
		switch {
		case hasNoValue(err):
			return distrust("version " + m.Version + ", which made the current token and holds its grace record, is gone (Secrets Manager deletes versions without staging labels)")
		case err != nil:
			return graceSource{}, fmt.Errorf("read version %s, which made the current token, for its grace record: %w", m.Version, err)
		}
		made, err := secret.Parse(raw)
		if err != nil {
			return distrust("version " + m.Version + ", which made the current token, does not parse: " + err.Error())
		}
		if made.Token.Reveal() != cur.Token.Reveal() {
			return distrust("version " + m.Version + ", named by the current token's marker, holds another token")
		}
		source, version = made, m.Version
		claims = claims || made.PreviousTokenPrefix != ""
	}
	if source.PreviousTokenPrefix == "" {
		if _, set, _ := source.RevokeAfter(); !set {
			return graceSource{record: source, version: version}, nil
		}
	}
	if why := previousUntrusted(source, arn, version, tokens); why != "" {
		return distrust("the record of version " + version + " is not honoured: " + why)
	}
	if _, _, err := source.RevokeAfter(); err != nil {
		return distrust("the record of version " + version + " is not honoured: " + err.Error())
	}
	return graceSource{record: source, version: version}, nil
}

// listedCurrent is the listed entry of token: the caller's own (a personal
// token's listing marks it), else the one listed token whose prefix begins
// it (an application token, listed by its manager); nil when neither.
func listedCurrent(tokens []aiven.Token, token secret.Token) *aiven.Token {
	var begins *aiven.Token
	n := 0
	for i := range tokens {
		if tokens[i].CurrentlyActive {
			return &tokens[i]
		}
		if checkPrefix(tokens[i].Prefix) == nil && token.HasPrefix(tokens[i].Prefix) {
			begins, n = &tokens[i], n+1
		}
	}
	if n != 1 {
		return nil
	}
	return begins
}

// spareUntil is when the orphan rule may revoke marked tokens again after
// a grace record it could not trust (graceRecordOf): such a record hides
// which of them is in its grace, so none goes until the stack's grace has
// passed since current (the current token as listed) was made; with no
// creation time known, none goes in this pass.
func (r *Rotator) spareUntil(current *aiven.Token, now time.Time) time.Time {
	if current == nil || current.CreateTime.IsZero() {
		return now.Add(time.Nanosecond)
	}
	return current.CreateTime.Add(r.cfg.Fleet.PreviousTokenGrace)
}
