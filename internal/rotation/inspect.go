package rotation

// What the fleet's sweep (internal/fleet) asks of one secret's tokens.
// The sweep decides what to look at and when; the rules it applies (which
// listed token is the current one, which grace record counts, which token
// may be revoked) stay here, beside the steps that apply the same rules.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// Inspection is one secret's tokens as the sweep finds them, opened for
// its current value (Inspect).
type Inspection struct {
	// Listing is Aiven's listing of the tokens of the secret's principal,
	// made with the current token (or, for an application token, with its
	// manager's).
	Listing []aiven.Token
	// Current is the current token as listed: the caller's own (a personal
	// token's listing marks it), else the listed token whose prefix
	// begins it. Never the stored token_prefix alone: a value put by hand
	// may lack it or lie. nil when neither is listed.
	Current *aiven.Token
	// Keep is the current token's prefix: as listed, else as stored.
	Keep string
	// Prefix is the current token's prefix to show: as listed, else the
	// stored one, clipped (a stored field, which may be a whole token).
	Prefix string
	// Now is Aiven's clock, which decides expiry, else the function's.
	Now time.Time
	// Dead says why Aiven refuses the current token (401); "" when it
	// does not. Heal: a rotation would replace it (an application token,
	// whose manager makes the next one).
	Dead string
	Heal bool

	// skew is Aiven's clock minus the function's, as Inspect found it.
	skew         time.Duration
	r            *Rotator
	arn          string
	v            *secret.Value
	api          countingAPI
	held         []secret.Token
	rotateBefore time.Duration
}

// Inspect opens the secret arn's tokens for its current value v, checks
// the token's health as its kind does, and lists the tokens. It returns
// an Inspection even with an error, for Redact. A dead token is not an
// error: Dead says so, and nothing is listed. It only reads.
func (r *Rotator) Inspect(ctx context.Context, arn string, v *secret.Value) (*Inspection, error) {
	in := &Inspection{r: r, arn: arn, v: v, held: []secret.Token{v.Token}, Keep: v.TokenPrefix, Prefix: shownPrefix(v.TokenPrefix), Now: r.now()}
	if _, err := r.graceFor(v); err != nil {
		return in, err
	}
	rotateBefore, err := r.rotateBeforeFor(v)
	if err != nil {
		return in, err
	}
	in.rotateBefore = rotateBefore
	opened, err := r.openAiven(arn, v, func(t secret.Token) { in.held = append(in.held, t) })
	if err != nil {
		return in, err
	}
	in.api = countingAPI{tokenAPI: opened, t: &tally{}}

	// Health: what the kind checks before the listing (an application
	// token proves itself with /v1/me: its listing is the manager's).
	switch h := in.api.health(ctx); {
	case h.err != nil:
		return in, h.err
	case h.dead != nil && h.healable != nil:
		return in, fmt.Errorf("the current application token is dead (401), and no rotation is started to heal it: %w", h.healable)
	case h.dead != nil:
		in.Dead, in.Heal = in.Redact(h.dead.Error()), true
		return in, nil
	}
	tokens, err := in.api.ListTokens(ctx)
	switch {
	case !in.api.listedBySelf() && err != nil:
		// Listed by the manager's token: a 401 here is the manager's, said
		// so by its own explanation, not the application token's.
		return in, fmt.Errorf("list the application user's tokens: %w", err)
	case aiven.IsUnauthorized(err):
		in.Dead = in.Redact(explainAiven(err, currentToken, "list").Error())
		return in, nil
	case err != nil:
		return in, fmt.Errorf("list tokens: %w", explainAiven(err, currentToken, "list"))
	}
	in.Listing = tokens
	if at, ok := in.api.ServerTime(); ok {
		in.Now, in.skew = at, at.Sub(r.now())
	}
	for i := range tokens {
		if tokens[i].CurrentlyActive {
			in.Current = &tokens[i]
			break
		}
		if in.Current == nil && checkPrefix(tokens[i].Prefix) == nil && v.Token.HasPrefix(tokens[i].Prefix) {
			in.Current = &tokens[i]
		}
	}
	if in.Current != nil {
		in.Keep, in.Prefix = in.Current.Prefix, in.Current.Prefix
	}
	return in, nil
}

// Redact is s scrubbed of token shapes and of every token the inspection
// read, for a report or a log line.
func (in *Inspection) Redact(s string) string { return redactString(scrub.String(s), in.held) }

// Revoke revokes a token of the listing by its prefix; its error says
// what to do about it. A token already gone is not an error (revoked is
// false).
func (in *Inspection) Revoke(ctx context.Context, prefix string) (revoked bool, err error) {
	revoked, err = in.api.RevokeToken(ctx, prefix)
	if err != nil {
		return false, explainAiven(err, currentToken, "revoke")
	}
	return revoked, nil
}

// Grace is what the grace record that counts for the current value says
// of the previous token (GraceOf).
type Grace struct {
	// Distrusted says why the record the value carries is not honoured
	// (graceRecordOf); "" when it is, or there is none.
	Distrusted string
	// Previous is the previous token the record names, when Aiven still
	// lists it and it is not the current one; "" otherwise.
	Previous string
	// Due: Previous may be revoked now (its grace has passed, or none was
	// recorded: finishSecret's duty left undone). Until, when not due, is
	// when it will be, rounded up to the second.
	Due   bool
	Until time.Time
	// Straggler is the last use of Previous since its replacement became
	// current, other than the function's own: a consumer still holds the
	// old value, or someone holds a leaked token. nil when none is seen.
	Straggler *Use
	// Kept: Previous is past its grace but still in use, and kept up to
	// the hard limit (PREVIOUS_TOKEN_MAX_GRACE), until Until. HardLimit:
	// it is due although still in use, the hard limit having passed.
	Kept, HardLimit bool
}

// Use is Aiven's record of a token's last use. UserAgent and IP are text
// the caller chose: clipped and scrubbed of token shapes.
type Use struct {
	At        time.Time
	IP        string
	UserAgent string
}

// stragglerMargin is how long after the promotion a use of the previous
// token still counts as one from before it. Every use of the function's
// own comes before the promotion; Aiven does not document how promptly
// last_used_time moves, and the promotion's time is Secrets Manager's
// converted by the skew the function sees (a second's resolution): two
// minutes absorb both.
const stragglerMargin = 2 * time.Minute

// straggler is t's last use when it came after since (Aiven's clock: when
// the token that replaced t became current) and the margin; nil
// otherwise, or when either time is unknown.
func straggler(t *aiven.Token, since time.Time) *Use {
	if t == nil || t.LastUsed == nil || since.IsZero() || !t.LastUsed.After(since.Add(stragglerMargin)) {
		return nil
	}
	return &Use{At: *t.LastUsed, IP: scrub.String(clip(t.LastIP, 64)), UserAgent: scrub.String(clip(t.LastUserAgent, 256))}
}

// replacedAt is when the current token was made, by Aiven's clock; zero
// when Aiven does not list it.
func (in *Inspection) replacedAt() time.Time {
	if in.Current == nil {
		return time.Time{}
	}
	return in.Current.CreateTime
}

// promotedAt is when current (the current token as listed; nil: unknown)
// became current, by Aiven's clock: Secrets Manager's LastRotatedDate
// (when the rotation completed) moved by skew, Aiven's clock less the
// function's, and never before the token was made. Any use of the previous
// token before it, the function's own included (createSecret's listing, a
// retried createSecret, a sweep while the rotation was pending) and a
// consumer's, is not a straggler. The sweep (GraceOf) and the next
// rotation (revokeGraced) both ask it.
func promotedAt(current *aiven.Token, lastRotated time.Time, skew time.Duration) time.Time {
	var at time.Time
	if current != nil {
		at = current.CreateTime
	}
	if !lastRotated.IsZero() && lastRotated.Add(skew).After(at) {
		at = lastRotated.Add(skew)
	}
	return at
}

// skewOf is Aiven's clock less the function's (now), as c's answers gave
// it; zero when they did not.
func skewOf(c serverClock, now time.Time) time.Duration {
	if at, ok := c.ServerTime(); ok {
		return at.Sub(now)
	}
	return 0
}

// GraceOf reads the grace record that counts for the current value, held
// by version currentVersion, which Secrets Manager last rotated at
// lastRotated: the record the rotation that made the current token wrote,
// read by its version id, so that an edit of the value since then neither
// ends nor extends the grace. It only reads.
func (in *Inspection) GraceOf(ctx context.Context, currentVersion string, lastRotated time.Time) (Grace, error) {
	src, err := in.r.graceRecordOf(ctx, in.arn, in.v, currentVersion, in.Listing)
	if err != nil {
		return Grace{}, err
	}
	g := Grace{Distrusted: src.distrusted}
	if src.record == nil {
		return g, nil
	}
	prev := src.record.PreviousTokenPrefix
	if prev == "" || prev == in.Keep || !slices.ContainsFunc(in.Listing, func(t aiven.Token) bool { return t.Prefix == prev }) {
		return g, nil
	}
	g.Previous, g.Due = prev, true
	prevTok := listedAs(in.Listing, prev)
	g.Straggler = straggler(prevTok, promotedAt(in.Current, lastRotated, in.skew))
	recordedAt, recorded, _ := src.record.RevokeAfter() // checked by graceRecordOf
	if !recorded {
		return g, nil
	}
	grace, _ := in.r.graceFor(in.v) // checked by Inspect
	at := dueAt(recordedAt, lastRotated, grace)
	now := in.r.now()
	if now.Before(at) {
		g.Due, g.Until = false, roundUp(at)
		return g, nil
	}
	// The hard limit counts from the rotation, bounded by what the value
	// cannot move: the record's instant less the stack's grace is never
	// after createSecret wrote it (the grace it recorded was at most the
	// stack's), whatever the value says now.
	return in.keepInUse(g, prevTok, recordedAt.Add(-in.r.cfg.Fleet.PreviousTokenGrace), grace)
}

// keepInUse decides a previous token past its grace (due from start plus
// the grace): kept while in use (a straggler within the idle time), up to
// the hard limit after start, and never past the token's own expiry; at
// the hard limit it is due all the same (HardLimit).
func (in *Inspection) keepInUse(g Grace, prevTok *aiven.Token, start time.Time, grace time.Duration) (Grace, error) {
	limit, idle, on, err := in.r.keepFor(in.v, grace)
	if err != nil {
		return g, err
	}
	if !on || g.Straggler == nil || in.Now.Sub(g.Straggler.At) >= idle {
		return g, nil
	}
	hard := start.Add(limit)
	if prevTok != nil && prevTok.ExpiryTime != nil && prevTok.ExpiryTime.Add(-in.skew).Before(hard) {
		hard = prevTok.ExpiryTime.Add(-in.skew)
	}
	if !in.r.now().Before(hard) {
		g.HardLimit = true
		return g, nil
	}
	g.Due, g.Kept, g.Until = false, true, roundUp(hard)
	return g, nil
}

// roundUp is t rounded up to the second: a sweep after the instant shown
// finds it passed.
func roundUp(t time.Time) time.Time {
	if ceil := t.Truncate(time.Second); ceil.Before(t) {
		return ceil.Add(time.Second)
	}
	return t
}

// Orphans are the listed tokens the one revocation rule (sweepRule) lets
// the sweep revoke: this secret's leftovers, never the current token, the
// previous one of g, or a token of a rotation in progress (a version in
// pending). After a distrusted grace record, none goes until the stack's
// grace has passed since the current token was made.
func (in *Inspection) Orphans(g Grace, pending map[string]bool) []string {
	rule := sweepRule{
		secretHash:  secret.SecretHash(in.arn),
		keepPrefix:  in.Keep,
		gracePrefix: g.Previous,
		pending:     pending,
		now:         in.Now,
		minStaleAge: staleAge,
	}
	if g.Distrusted != "" {
		rule.spareUntil = in.r.spareUntil(in.Current, in.Now)
	}
	var out []string
	for _, t := range in.Listing {
		if rule.revocable(t) {
			out = append(out, t.Prefix)
		}
	}
	return out
}

// MadeBy are the listed tokens the rotation of version made (this
// secret's marker naming it), never the current token: a stuck rotation's
// tokens, which nothing will store.
func (in *Inspection) MadeBy(version string) []string {
	hash := secret.SecretHash(in.arn)
	var made []string
	for _, t := range in.Listing {
		if m, ok := secret.ParseMarker(t.Description); ok && m.Secret == hash && m.Version == version && !t.CurrentlyActive && t.Prefix != in.Keep && checkPrefix(t.Prefix) == nil {
			made = append(made, t.Prefix)
		}
	}
	return made
}

// RotateBefore is how close to its expiry the current token is rotated:
// the secret's rotate_before_expiry (capped by the stack's), but never
// more than half the token's own lifetime. A token whose max_age_seconds
// is shorter would otherwise be rotated by every sweep, minutes after it
// was made, cutting the previous token's grace to one sweep interval.
func (in *Inspection) RotateBefore() time.Duration {
	t := in.Current
	if t == nil || t.ExpiryTime == nil || t.CreateTime.IsZero() {
		return in.rotateBefore
	}
	if half := t.ExpiryTime.Sub(t.CreateTime) / 2; half > 0 && half < in.rotateBefore {
		return half
	}
	return in.rotateBefore
}
