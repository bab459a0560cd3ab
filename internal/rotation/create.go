package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// maxCreateAttempts bounds token creations in one createSecret: the first,
// and one more after each ambiguous failure, reconciled by marker.
const maxCreateAttempts = 3

// createSecret creates the new token and stores it as the AWSPENDING
// version (docs/rotation.md, "createSecret"). Run again, it finds the
// pending value and stops; interrupted, its token is found by marker and
// revoked (by finishSecret, or by a createSecret run once it is older
// than orphanAge).
func (r *Rotator) createSecret(ctx context.Context, in stepInput) (res result, err error) {
	arn, ev := in.desc.ARN, in.ev
	current, grace, err := r.readCurrent(ctx, arn, &res)
	if err != nil {
		return res, err
	}
	marker, err := newMarker(arn, ev.ClientRequestToken)
	if err != nil {
		return res, err
	}
	api, me, err := tokensOf(ctx, in, current)
	if err != nil {
		return res, err
	}
	tokens, err := api.ListTokens(ctx)
	if err != nil {
		return res, explainAiven(err, currentToken, "list")
	}
	if stored, err := r.pendingStored(ctx, in, tokens, marker); stored || err != nil {
		res.outcome = "already_created"
		return res, err
	}
	prev, err := api.previous(ctx, current, tokens, where{step: ev.Step, secretARN: arn, version: ev.ClientRequestToken})
	if err != nil {
		return res, err
	}
	res.previousTokenPrefix, res.previousTokenUnknown = prev.prefix, prev.prefix == "" && !prev.dead
	res.notes = append(res.notes, prev.notes...)
	if err := r.clearLeftovers(ctx, in, api, &res, current, tokens, marker, prev.prefix); err != nil {
		return res, err
	}
	created, err := mint(ctx, api, &res, current, prev, marker)
	if err != nil {
		return res, err
	}
	r.warnSettings(ctx, in, &res, current, created, grace)
	// This step alone decides the prefix finishSecret revokes.
	next := current.Next(secret.Issued{
		Token: created.FullToken, TokenPrefix: created.Prefix, PreviousTokenPrefix: prev.prefix,
		User: me.Email, UserID: me.UserID,
		ExpiryTime: rfc3339(created.ExpiryTime), CreatedAt: rfc3339(&created.CreateTime),
	})
	value, err := r.withGraceRecord(next, prev.prefix, grace).Marshal()
	if err != nil {
		return res, compensate(ctx, api, created.Prefix, fmt.Errorf("build the pending version: %w", err))
	}
	return r.storePending(ctx, in, api, res, value, created.Prefix)
}

// readCurrent reads and checks the AWSCURRENT value createSecret
// replaces, and its grace.
func (r *Rotator) readCurrent(ctx context.Context, arn string, res *result) (*secret.Value, time.Duration, error) {
	current, err := r.readVersion(ctx, arn, "", secretsmanager.StageCurrent, "AWSCURRENT")
	if err != nil {
		return nil, 0, err
	}
	res.heldToken(current.Token)
	grace, err := r.graceFor(current)
	if err != nil {
		return nil, 0, fmt.Errorf("AWSCURRENT: %w", err)
	}
	if _, err := r.rotateBeforeFor(current); err != nil {
		return nil, 0, fmt.Errorf("AWSCURRENT: %w", err)
	}
	return current, grace, nil
}

// pendingStored says whether the event's version already holds a value:
// a createSecret before this one stored it. The listing answers first: a
// stored value's token was made with this version's marker, so unless
// Aiven lists such a token, no attempt got as far as storing one, and the
// version is not read (the happy path's call budget, docs/PERFORMANCE.md).
// A stored token revoked since by hand is not listed: then the new token's
// PutSecretValue is refused (the version exists), storePending finds the
// stored value, and revokes the new token.
func (r *Rotator) pendingStored(ctx context.Context, in stepInput, tokens []aiven.Token, marker secret.Marker) (bool, error) {
	if !slices.ContainsFunc(tokens, func(t aiven.Token) bool {
		m, ok := secret.ParseMarker(t.Description)
		return ok && m.SameVersion(marker)
	}) {
		return false, nil
	}
	_, err := r.store.GetValue(ctx, in.desc.ARN, in.ev.ClientRequestToken, secretsmanager.StagePending)
	switch {
	case err == nil:
		return true, nil
	case !hasNoValue(err):
		return false, fmt.Errorf("read the pending version: %w", err)
	}
	return false, nil
}

// newMarker is the marker of this invocation's tokens: the secret, the
// version, and an attempt id of its own.
func newMarker(arn, version string) (secret.Marker, error) {
	marker, err := secret.NewMarker(arn, version)
	if err != nil {
		return marker, err
	}
	return marker.ForAttempt(newAttemptID())
}

// clearLeftovers revokes, before a new token is made, what earlier
// attempts and rotations left: this version's orphans, the tokens of
// rotations that can no longer finish, and the previous token kept for a
// grace period, so that the secret never holds more than two live
// tokens. keep is the current token's prefix.
func (r *Rotator) clearLeftovers(ctx context.Context, in stepInput, api countingAPI, res *result, current *secret.Value, tokens []aiven.Token, marker secret.Marker, keep string) error {
	// A replica region that does not serve the current version yet still
	// serves an older token, which this rotation would revoke before it
	// makes a new one (docs/fleet.md, "Replica regions"): it waits, before
	// any revocation, and Secrets Manager's retry goes on once every
	// replica has caught up. A secret without replicas costs no call.
	if lag := r.replicaLag(ctx, in.desc, secretsmanager.CurrentVersion(in.desc.Versions)); lag.Wait != "" {
		return WithKind(KindTransient, fmt.Errorf("%s: this rotation would revoke a token such a replica still serves before making a new one, so it waits; Secrets Manager's retry goes on once every replica serves the current version", lag.Wait))
	}
	spared, err := r.revokeOrphans(ctx, api, tokens, marker)
	if err != nil {
		return err
	}
	if spared > 0 {
		res.note("kept %d token(s) with this version's marker younger than %s: a concurrent createSecret may still store one; finishSecret revokes the others", spared, orphanAge)
	}
	abandoned, err := revokeAbandoned(ctx, api, tokens, in.desc, in.ev.ClientRequestToken, current, keep)
	if err != nil {
		return err
	}
	if abandoned > 0 {
		res.note("revoked %d token(s) of rotations that can no longer finish (their versions are neither pending nor current): a secret holds at most two live tokens", abandoned)
	}
	graced, err := r.revokeGraced(ctx, api, res, current, in.desc, keep, tokens)
	if err != nil {
		return err
	}
	if graced != "" {
		res.note("revoked %s, the token kept for a grace period since the last rotation: a secret holds at most two live tokens", graced)
	}
	return nil
}

// mint creates the new token with the replaced token's settings, narrowed
// by the value's (newTokenRequest), reconciled by marker after an
// ambiguous answer (createReconciled).
func mint(ctx context.Context, api countingAPI, res *result, current *secret.Value, prev previous, marker secret.Marker) (aiven.NewToken, error) {
	req, narrowed := newTokenRequest(current, prev.listed, api.binding(), marker)
	res.notes = append(res.notes, narrowed...)
	created, ambiguous, err := createReconciled(ctx, api, req, marker)
	for n := 1; n <= ambiguous; n++ {
		res.note("create attempt %d ended ambiguously; reconciled by this invocation's marker", n)
	}
	if err != nil {
		return created, err
	}
	res.heldToken(created.FullToken)
	res.tokenPrefix = created.Prefix
	return created, nil
}

// storePending stores value as the pending version. The SDK retries the
// Put (idempotent with this ClientRequestToken); the new token, prefix,
// is revoked only when Secrets Manager shows the Put did not land. When
// the deadline is what failed the Put, the check and the revocation run
// detached from it, within part of the safety margin: on the expired
// context they could not run at all.
func (r *Rotator) storePending(ctx context.Context, in stepInput, api countingAPI, res result, value, prefix string) (result, error) {
	arn, ev := in.desc.ARN, in.ev
	putErr := r.store.PutPending(ctx, arn, ev.ClientRequestToken, value, ev.RotationToken)
	if putErr == nil {
		res.outcome = "created"
		return res, nil
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = r.CleanupContext(ctx)
		defer cancel()
		res.note("the step's deadline passed during PutSecretValue: checked and cleaned up within the safety margin")
	}
	stored, getErr := r.store.GetValue(ctx, arn, ev.ClientRequestToken, secretsmanager.StagePending)
	switch {
	case getErr == nil && stored == value:
		res.outcome = "created"
		res.note("PutSecretValue reported a failure but the pending version holds the new token")
		return res, nil
	case getErr == nil:
		// Another invocation stored its own token first: ours is surplus.
		if _, err := api.RevokeToken(ctx, prefix); err != nil {
			return res, fmt.Errorf("another invocation stored the pending version; revoking this one's surplus token %s: %w", prefix, explainAiven(err, currentToken, "revoke"))
		}
		res.outcome = "already_created"
		return res, nil
	case hasNoValue(getErr):
		return res, compensate(ctx, api, prefix, fmt.Errorf("store pending version: %w", putErr))
	default:
		// Unknown: the token stays; a retry finds it by its marker.
		return res, fmt.Errorf("store pending version: %w; whether it was stored is unknown (%v), so token %s was kept: a retry of this rotation revokes it by its marker", putErr, getErr, prefix)
	}
}

// compensate revokes the token this attempt created, then fails with cause.
func compensate(ctx context.Context, api countingAPI, prefix string, cause error) error {
	if _, err := api.RevokeToken(ctx, prefix); err != nil {
		return fmt.Errorf("%w; revoking the new token %s also failed (a retry revokes it by its marker): %v", cause, prefix, explainAiven(err, currentToken, "revoke"))
	}
	return fmt.Errorf("%w; the new token %s was revoked", cause, prefix)
}

// orphanAge is how old a token carrying this version's marker must be
// before createSecret revokes it as an orphan. A younger one may belong to
// a concurrent createSecret for the same version that has not stored it
// yet: Lambda stops an invocation after at most 15 minutes (its maximum
// timeout; the function's own timeout is not visible inside it), and one
// minute more covers clock skew between Aiven and Lambda. A spared token is
// not lost: finishSecret revokes every other token of its version, whose
// value is stored by then, and a createSecret run later revokes it here.
const orphanAge = 16 * time.Minute

// revokeOrphans revokes the tokens an interrupted attempt at this very
// version left behind (their values are lost with the attempt), once they
// are older than orphanAge, and says how many younger ones it spared. Run
// twice, it finds them revoked.
func (r *Rotator) revokeOrphans(ctx context.Context, api countingAPI, tokens []aiven.Token, marker secret.Marker) (spared int, err error) {
	for _, t := range tokens {
		if t.CurrentlyActive {
			continue
		}
		if m, ok := secret.ParseMarker(t.Description); !ok || !m.SameVersion(marker) {
			continue
		}
		if youngerThan(t, orphanAge, r.now()) {
			spared++
			continue
		}
		if _, err := api.revokeLeftover(ctx, t.Prefix); err != nil {
			return spared, fmt.Errorf("revoke orphan token %s of an earlier attempt: %w", t.Prefix, explainAiven(err, currentToken, "revoke"))
		}
	}
	return spared, nil
}

// youngerThan says whether t was created less than d before now. A token
// whose creation time Aiven did not report counts as young: it is spared.
func youngerThan(t aiven.Token, d time.Duration, now time.Time) bool {
	return t.CreateTime.IsZero() || now.Sub(t.CreateTime) < d
}

// createReconciled creates the token, at most maxCreateAttempts times,
// never blindly: after an ambiguous failure it lists the tokens and revokes
// the ones carrying this invocation's own marker (its attempt id is unique
// to the invocation, so a concurrent createSecret's token is never among
// them) before it creates again. When the listing or that revocation fails
// it stops: a token it may have made carries this version's marker and is
// revoked by finishSecret, or by a later createSecret once older than
// orphanAge. It stops early, and says so, when the step's deadline passes.
// ambiguous counts the attempts that ended ambiguously.
func createReconciled(ctx context.Context, api countingAPI, req aiven.CreateRequest, marker secret.Marker) (_ aiven.NewToken, ambiguous int, _ error) {
	var lastErr error
	attempts := 0
	for attempts < maxCreateAttempts {
		attempts++
		created, err := api.CreateToken(ctx, req)
		if err == nil {
			return created, ambiguous, nil
		}
		if !aiven.IsAmbiguous(err) {
			return aiven.NewToken{}, ambiguous, fmt.Errorf("create token: %w", explainAiven(err, currentToken, "create"))
		}
		lastErr = err
		ambiguous++
		if ctx.Err() != nil {
			return aiven.NewToken{}, ambiguous, fmt.Errorf("create token: stopped after %d ambiguous attempt(s) of %d because the step's deadline passed (a token they may have made carries this version's marker; a retry's finishSecret revokes it): %w", attempts, maxCreateAttempts, lastErr)
		}
		tokens, lerr := api.ListTokens(ctx)
		if lerr != nil {
			return aiven.NewToken{}, ambiguous, fmt.Errorf("create token: %w; listing the tokens to reconcile also failed (a token it may have made carries this version's marker; a retry's finishSecret revokes it): %v", err, explainAiven(lerr, currentToken, "list"))
		}
		if err := revokeOwn(ctx, api, tokens, marker); err != nil {
			return aiven.NewToken{}, ambiguous, fmt.Errorf("create token: %w", err)
		}
	}
	return aiven.NewToken{}, ambiguous, fmt.Errorf("create token: gave up after %d ambiguous attempts: %w", attempts, lastErr)
}

// revokeOwn revokes the tokens that carry exactly marker, attempt id
// included: tokens this invocation made whose values an ambiguous answer
// lost. Run twice, it finds them revoked.
func revokeOwn(ctx context.Context, api countingAPI, tokens []aiven.Token, marker secret.Marker) error {
	for _, t := range tokens {
		if m, ok := secret.ParseMarker(t.Description); !ok || m != marker || t.CurrentlyActive {
			continue
		}
		if _, err := api.revokeLeftover(ctx, t.Prefix); err != nil {
			return fmt.Errorf("revoke token %s that an ambiguous create of this invocation made: %w", t.Prefix, explainAiven(err, currentToken, "revoke"))
		}
	}
	return nil
}

// newAttemptID is 8 random hex digits naming one createSecret invocation.
func newAttemptID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// CleanupContext is ctx detached from its cancellation, with half the
// safety margin past ctx's own deadline: time to check and revoke after
// the step's deadline passed, still before the invocation's.
func (r *Rotator) CleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	budget := r.cfg.SafetyMargin / 2
	end := time.Now().Add(budget)
	if d, ok := ctx.Deadline(); ok {
		end = d.Add(budget)
	}
	return context.WithDeadline(context.WithoutCancel(ctx), end)
}

// previous is createSecret's decision on the token it replaces.
type previous struct {
	// prefix is what finishSecret revokes the current token by; "" when
	// unknown.
	prefix string
	// listed is the current token's entry in Aiven's listing (its settings
	// carry over), or nil.
	listed *aiven.Token
	// dead: the current token no longer authenticates; with no prefix
	// there is nothing left to revoke (an application token healed).
	dead  bool
	notes []string
}

// tokensOf opens the token API createSecret works with, and the principal
// the new token is for (its kind's principal).
func tokensOf(ctx context.Context, in stepInput, current *secret.Value) (countingAPI, aiven.User, error) {
	api, err := in.aiven(current)
	if err != nil {
		return api, aiven.User{}, err
	}
	me, err := api.principal(ctx, current)
	return api, me, err
}

// previousToken decides the prefix finishSecret will revoke for the
// current token, from the listing made with that token: the one Aiven
// marks currently_active (the caller), else the one listed token whose
// prefix begins the current token, else the stored token_prefix when it
// is the current token's first secret.PrefixLength characters; a prefix
// not shaped as Aiven's (checkPrefix) is never chosen. A stored
// token_prefix alone is never trusted:
// one that disagrees is noted and logged as a warning, and the token wins.
// An unknown prefix is an error-level log line (and, by the caller, a
// metric): the rotation goes on, and the replaced token must be revoked by
// hand.
func (r *Rotator) previousToken(ctx context.Context, current *secret.Value, tokens []aiven.Token, at where) previous {
	var p previous
	for i := range tokens {
		if tokens[i].CurrentlyActive {
			p.listed = &tokens[i]
			break
		}
	}
	if p.listed == nil {
		var begins []*aiven.Token
		for i := range tokens {
			if checkPrefix(tokens[i].Prefix) == nil && current.Token.HasPrefix(tokens[i].Prefix) {
				begins = append(begins, &tokens[i])
			}
		}
		if len(begins) == 1 {
			p.listed = begins[0]
		}
	}
	note := func(format string, args ...any) { p.notes = append(p.notes, fmt.Sprintf(format, args...)) }
	stored := current.TokenPrefix
	switch {
	case p.listed != nil && checkPrefix(p.listed.Prefix) == nil:
		p.prefix = p.listed.Prefix
	case p.listed != nil:
		note("Aiven lists the current token under a prefix that %v, so it is not used", checkPrefix(p.listed.Prefix))
	case storedPrefix(current) != "":
		p.prefix = stored
		note("Aiven's listing does not show the current token: it is revoked by the stored token_prefix, the token's first %d characters", secret.PrefixLength)
	}
	logAttrs := []any{"step", at.step, "secret", at.secretARN, "version", at.version}
	if stored != "" && stored != p.prefix {
		shown := shownPrefix(stored)
		if p.prefix == "" {
			note("the secret's token_prefix %q is not the current token's first %d characters, so it is not used", shown, secret.PrefixLength)
		} else {
			note("the secret's token_prefix %q is not the current token's prefix %q: the token wins, and finishSecret revokes %q", shown, p.prefix, p.prefix)
		}
		r.log.WarnContext(ctx, "token_prefix disagrees with the current token", append(logAttrs,
			"stored_token_prefix", shown, "previous_token_prefix", p.prefix)...)
	}
	if p.prefix == "" {
		note("the current token's prefix is unknown (Aiven's listing does not show it): finishSecret cannot revoke it; revoke it by hand")
		r.log.ErrorContext(ctx, "previous token prefix unknown: the replaced token will stay live until revoked by hand", append(logAttrs, "outcome", "previous_token_unknown")...)
	}
	return p
}

// Aiven's bounds on max_age_seconds.
const (
	minMaxAge = 600
	maxMaxAge = 315360000
)

// newTokenRequest takes each setting from what Aiven lists for the
// current token, and lets the secret's value narrow it, never widen it: the
// value is written by people the function must not trust, so a rotation
// never mints a token with a longer life, more scopes or more addresses
// than the token it replaces. Where Aiven lists no current token (a healed
// application token), the manager's binding is the ceiling (its
// max_age_seconds, scopes and ip_allowlist), and without one the value's
// settings apply. A setting the value may not have is kept at the ceiling,
// and said in the returned notes.
func newTokenRequest(v *secret.Value, listed *aiven.Token, bound *secret.Binding, marker secret.Marker) (aiven.CreateRequest, []string) {
	var req aiven.CreateRequest
	var notes []string
	c := ceilingOf(listed, bound)
	description := ""
	if listed != nil {
		description = listed.Description
	}
	req.MaxAgeSeconds, req.ExtendWhenUsed = c.maxAge, c.extend
	if c.ips != nil {
		req.IPAllowlist = append([]string(nil), (*c.ips)...)
	}
	if c.scopes != nil {
		req.Scopes = append([]string(nil), (*c.scopes)...)
	}
	if v.Description != nil {
		description = *v.Description
	}
	if v.MaxAgeSeconds != nil {
		age := *v.MaxAgeSeconds
		if c.maxAge != nil && age > *c.maxAge {
			notes = append(notes, fmt.Sprintf("max_age_seconds %.0f is longer than the replaced token's %.0f: kept at %.0f (a value may shorten a token's life, never lengthen it)", age, *c.maxAge, *c.maxAge))
		} else {
			req.MaxAgeSeconds = &age
		}
	}
	if v.ExtendWhenUsed != nil {
		ext := *v.ExtendWhenUsed
		if ext && c.extend != nil && !*c.extend {
			notes = append(notes, "extend_when_used true, but the replaced token does not extend: kept false")
		} else {
			req.ExtendWhenUsed = &ext
		}
	}
	narrow := func(name string, want *[]string, ceiling *[]string, dst *[]string) {
		if want == nil {
			return
		}
		if ceiling != nil && !subsetOf(*want, *ceiling) {
			notes = append(notes, fmt.Sprintf("%s would allow more than the replaced token's %d entries: kept as they were (a value may narrow it, never widen it)", name, len(*ceiling)))
			return
		}
		*dst = append([]string{}, (*want)...)
	}
	narrow("ip_allowlist", v.IPAllowlist, c.ips, &req.IPAllowlist)
	narrow("scopes", v.Scopes, c.scopes, &req.Scopes)
	req.Description = secret.Describe(description, marker)
	return req, notes
}

// tokenCeiling is the most a new token may be granted; a nil field has no
// ceiling.
type tokenCeiling struct {
	maxAge *float64
	extend *bool
	ips    *[]string // an empty list is no restriction: no ceiling
	scopes *[]string
}

// ceilingOf is the replaced token's restrictions as Aiven lists them,
// else the binding's.
func ceilingOf(listed *aiven.Token, bound *secret.Binding) tokenCeiling {
	var c tokenCeiling
	if listed != nil {
		if listed.MaxAgeSeconds >= minMaxAge && listed.MaxAgeSeconds <= maxMaxAge {
			age, ext := listed.MaxAgeSeconds, listed.ExtendWhenUsed
			c.maxAge, c.extend = &age, &ext
		}
		if len(listed.IPAllowlist) > 0 {
			ips := slices.Clone(listed.IPAllowlist)
			c.ips = &ips
		}
		if len(listed.Scopes) > 0 {
			scopes := slices.Clone(listed.Scopes)
			c.scopes = &scopes
		}
		return c
	}
	if bound != nil {
		c.maxAge = bound.MaxAgeSeconds
		if c.maxAge != nil {
			ext := bound.ExtendWhenUsed != nil && *bound.ExtendWhenUsed
			c.extend = &ext
		}
		if len(bound.IPAllowlist) > 0 {
			ips := slices.Clone(bound.IPAllowlist)
			c.ips = &ips
		}
		if len(bound.Scopes) > 0 {
			scopes := slices.Clone(bound.Scopes)
			c.scopes = &scopes
		}
	}
	return c
}

// subsetOf says whether want is a non-empty list of entries of ceiling
// (compared exactly): an empty list would lift the restriction.
func subsetOf(want, ceiling []string) bool {
	if len(want) == 0 {
		return false
	}
	for _, w := range want {
		if !slices.Contains(ceiling, w) {
			return false
		}
	}
	return true
}

func rfc3339(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// revokeAbandoned revokes, whatever their age, the tokens of this secret
// that a rotation of another version made when that version now carries
// neither AWSPENDING nor AWSCURRENT (desc is this step's own reading): a
// rotation abandoned by an edit, or one that failed and lost its label,
// can never be finished, and this rotation is about to make the only other
// live token. Never the current token (keep, or the one its value holds),
// never this version's (revokeOrphans decides those). Run twice, it finds
// them gone.
func revokeAbandoned(ctx context.Context, api countingAPI, tokens []aiven.Token, desc secretsmanager.Description, version string, current *secret.Value, keep string) (revoked int, err error) {
	hash := secret.SecretHash(desc.ARN)
	for _, t := range tokens {
		m, ok := secret.ParseMarker(t.Description)
		if !ok || m.Secret != hash || m.Version == version || t.CurrentlyActive || t.Prefix == "" || t.Prefix == keep || current.Token.HasPrefix(t.Prefix) {
			continue
		}
		stages := desc.Versions[m.Version]
		if slices.Contains(stages, secretsmanager.StagePending) || slices.Contains(stages, secretsmanager.StageCurrent) {
			continue
		}
		if _, err := api.revokeLeftover(ctx, t.Prefix); err != nil {
			return revoked, fmt.Errorf("revoke token %s of a rotation that can no longer finish: %w", t.Prefix, explainAiven(err, currentToken, "revoke"))
		}
		revoked++
	}
	return revoked, nil
}
