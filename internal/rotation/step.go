package rotation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// result is what a step did, for its log line and metrics. A step returns
// it whether it succeeded or not: a failed step's result says how far it
// got.
type result struct {
	secretARN           string
	tokenPrefix         string
	previousTokenPrefix string
	outcome             string
	notes               []string
	// tokens are the values the step held: the second guard of I4 cuts
	// them out of its error (redact) should one ever quote them.
	tokens []secret.Token
	// previousTokenUnknown: createSecret found no prefix to revoke the
	// replaced token by (a metric, and an error-level log line), or
	// finishSecret did not honour a stored one (previousToRevoke).
	previousTokenUnknown bool
	// graceRecordDistrusted: createSecret did not honour the grace record
	// the current value carries (graceRecordOf says why, in a note).
	graceRecordDistrusted bool
	// expiresBeforeRotation: the token the step made (or tested) expires
	// before the next rotation (settings.go says so, in a note).
	expiresBeforeRotation bool
}

// heldToken records a token the step holds, for redaction only.
func (res *result) heldToken(t secret.Token) { res.tokens = append(res.tokens, t) }

func (res *result) note(format string, args ...any) {
	res.notes = append(res.notes, fmt.Sprintf(format, args...))
}

// holds records the version a step works on: its token for redaction,
// and its prefixes for the log line.
func (res *result) holds(v *secret.Value) {
	res.heldToken(v.Token)
	res.tokenPrefix, res.previousTokenPrefix = shownPrefix(v.TokenPrefix), shownPrefix(v.PreviousTokenPrefix)
}

// tally counts what one invocation revoked through its countingAPI.
type tally struct {
	revoked   int // every token revoked
	leftovers int // of which orphans and stale tokens (revokeLeftover)
	// held are tokens read inside a token API (an application token's
	// manager token), for redaction only.
	held []secret.Token
}

// countingAPI is a tokenAPI that counts the tokens it revoked into a
// tally the invocation owns: the revocation counts come from the calls
// themselves, not from bookkeeping in every helper.
type countingAPI struct {
	tokenAPI
	t *tally
}

// RevokeToken revokes by prefix and counts a revocation it made. A
// prefix that is not shaped as Aiven's (checkPrefix) is refused, sending
// nothing: it names no token (a 404 would pass for "already revoked"), or
// is the token itself, which must never go into a URL.
func (c countingAPI) RevokeToken(ctx context.Context, prefix string) (bool, error) {
	if err := checkPrefix(prefix); err != nil {
		return false, fmt.Errorf("refusing to revoke by a prefix that %w", err)
	}
	revoked, err := c.tokenAPI.RevokeToken(ctx, prefix)
	if revoked {
		c.t.revoked++
	}
	return revoked, err
}

// revokeLeftover revokes a token an earlier attempt or rotation left
// behind (an orphan, a stale token), counted as such too.
func (c countingAPI) revokeLeftover(ctx context.Context, prefix string) (bool, error) {
	revoked, err := c.RevokeToken(ctx, prefix)
	if revoked {
		c.t.leftovers++
	}
	return revoked, err
}

// stepInput is what a rotation step works on: the event, the secret's
// description from the guard, and the Aiven token API, opened per secret
// value through openAiven, which counts revocations.
type stepInput struct {
	ev   rotationEvent
	desc secretsmanager.Description
	// aiven opens the token API for a value's token (openAiven, counting).
	aiven func(v *secret.Value) (countingAPI, error)
}

// rotationStep is one of the four steps. runsWhenCurrent: the step still
// has work when the guard finds the version already AWSCURRENT
// (finishSecret's revocations); the others report "already_current".
// unguarded: the step touches nothing, and runs without the guard
// (setSecret).
type rotationStep struct {
	run             func(r *Rotator, ctx context.Context, in stepInput) (result, error)
	runsWhenCurrent bool
	unguarded       bool
}

var rotationSteps = map[string]rotationStep{
	StepCreate: {run: (*Rotator).createSecret},
	StepSet:    {run: (*Rotator).setSecret, unguarded: true},
	StepTest:   {run: (*Rotator).testSecret},
	StepFinish: {run: (*Rotator).finishSecret, runsWhenCurrent: true},
}

// rotate is the handler of a Secrets Manager rotation event: the guard,
// then the event's step.
func (r *Rotator) rotate(ctx context.Context, ev rotationEvent, t *tally) (result, error) {
	res := result{secretARN: ev.SecretID}
	step := rotationSteps[ev.Step]
	if step.unguarded {
		res, err := step.run(r, ctx, stepInput{ev: ev})
		res.secretARN = ev.SecretID
		return res, err
	}
	desc, done, err := r.guard(ctx, ev)
	if err != nil {
		if desc.ARN != "" {
			res.secretARN = desc.ARN // the secret's own, not the event's word
		}
		return res, err
	}
	if done && !step.runsWhenCurrent {
		res.secretARN, res.outcome = desc.ARN, "already_current"
		return res, nil
	}
	hold := func(tok secret.Token) { t.held = append(t.held, tok) }
	in := stepInput{ev: ev, desc: desc, aiven: func(v *secret.Value) (countingAPI, error) {
		api, err := r.openAiven(desc.ARN, v, hold)
		return countingAPI{tokenAPI: api, t: t}, err
	}}
	res, err = step.run(r, ctx, in)
	res.secretARN = desc.ARN
	return res, err
}

// invocation names one invocation for its log line and metrics.
type invocation struct {
	name          string // the step, or the event's action
	secretID      string
	version       string
	rotationToken string // never logged; cut out of the error
}

// observe runs one invocation's handler under the invocation's bounded
// deadline, then writes its one log line and its metrics, and returns its
// error classified, redacted and typed. Every rotation step runs through
// it once (Handle); the fleet's actions (internal/fleet) do not, and
// write their own log line and metrics.
func (r *Rotator) observe(ctx context.Context, inv invocation, handle func(context.Context, *tally) (result, error)) error {
	start := r.now()
	var t tally
	res := result{secretARN: inv.secretID}

	ctx, cancel, err := r.Bound(ctx)
	if err == nil {
		defer cancel()
		res, err = handle(ctx, &t)
	} else {
		err = WithKind(KindConfig, err)
	}
	secrets := append([]secret.Token{secret.NewToken(inv.rotationToken)}, res.tokens...)
	secrets = append(secrets, t.held...)
	if err != nil {
		// Classified before redaction, which may lose the chain.
		kind := Classify(err)
		err = Typed(kind, redact(fmt.Errorf("%s: %w", inv.name, err), secrets))
		res.outcome = "failed"
	}
	elapsed := r.now().Sub(start)

	attrs := []any{
		"step", inv.name,
		"secret", res.secretARN,
		"version", inv.version,
		"token_prefix", res.tokenPrefix,
		"previous_token_prefix", res.previousTokenPrefix,
		"duration_ms", elapsed.Milliseconds(),
		"outcome", res.outcome,
	}
	if t.revoked > 0 || t.leftovers > 0 {
		attrs = append(attrs, "tokens_revoked", t.revoked, "orphans_revoked", t.leftovers)
	}
	if len(res.notes) > 0 {
		attrs = append(attrs, "notes", redactString(strings.Join(res.notes, "; "), secrets))
	}
	if err != nil {
		r.log.ErrorContext(ctx, "step failed", append(attrs, "error_type", kindOfError(err), "error", err.Error())...)
	} else {
		r.log.InfoContext(ctx, "step done", attrs...)
	}
	// The log line passes the scrubber; the metric line does not, and may
	// hold the event's SecretId (the guard failed before DescribeSecret
	// named the secret): scrubbed and clipped as the logger would.
	if merr := r.metrics.Step(metrics.Step{
		Name: inv.name, SecretARN: clip(scrub.String(res.secretARN), maxSecretIDShown), Succeeded: err == nil, Duration: elapsed,
		TokensRevoked: t.revoked, OrphansRevoked: t.leftovers,
		PreviousTokenUnknown:  res.previousTokenUnknown,
		GraceRecordDistrusted: res.graceRecordDistrusted,
		ExpiresBeforeRotation: res.expiresBeforeRotation,
	}); merr != nil {
		r.log.WarnContext(ctx, "metrics not written", "step", inv.name, "error", merr.Error())
	}
	return err
}

// maxSecretIDShown bounds a secret id in a metric line: a secret ARN is at
// most 2048 characters (Secrets Manager's SecretId limit).
const maxSecretIDShown = 2048

// Bound gives the invocation's work a deadline SafetyMargin before the
// invocation's own, so that a step returns its own error in time.
func (r *Rotator) Bound(ctx context.Context) (context.Context, context.CancelFunc, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		c, cancel := context.WithTimeout(ctx, r.noDeadlineTimeout)
		return c, cancel, nil
	}
	ours := deadline.Add(-r.cfg.SafetyMargin)
	if !ours.After(r.now()) {
		return nil, nil, fmt.Errorf("only %s left before the invocation deadline, less than the %s safety margin (ROTATION_SAFETY_MARGIN); raise the function's timeout", deadline.Sub(r.now()).Round(time.Millisecond), r.cfg.SafetyMargin)
	}
	c, cancel := context.WithDeadline(ctx, ours)
	return c, cancel, nil
}

// readVersion reads one version of the secret (by version id, stage, or
// both) and parses it, refusing kinds this rotator cannot rotate. what
// names the version in errors ("AWSCURRENT", "the pending version"). A
// missing value is secretsmanager.ErrNoValue, wrapped. It only reads.
func (r *Rotator) readVersion(ctx context.Context, arn, versionID, stage, what string) (*secret.Value, error) {
	raw, err := r.store.GetValue(ctx, arn, versionID, stage)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	v, err := ParseValue(raw, what)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// readPending reads the event's version by its AWSPENDING label.
func (r *Rotator) readPending(ctx context.Context, in stepInput) (*secret.Value, error) {
	return r.readVersion(ctx, in.desc.ARN, in.ev.ClientRequestToken, secretsmanager.StagePending, "the pending version")
}

// whoAmI opens the token API for v's token and asks Aiven whose it is
// (GET /v1/me); who says whose token it is, for the error. It only reads.
func whoAmI(ctx context.Context, in stepInput, v *secret.Value, who whose) (countingAPI, aiven.User, error) {
	api, err := in.aiven(v)
	if err != nil {
		return api, aiven.User{}, err
	}
	me, err := api.Me(ctx)
	if err != nil {
		return api, aiven.User{}, explainAiven(err, who, "me")
	}
	return api, me, nil
}

// hasNoValue says whether a read failed because the version has no value.
func hasNoValue(err error) bool { return errors.Is(err, secretsmanager.ErrNoValue) }

// openAiven opens the token API that manages a value's token, of the
// secret secretARN: the kind of the secret picks it (personal tokens
// manage themselves through the Aiven user API; application tokens are
// managed through their manager secret's token, application.go, which
// hands hold the manager token it reads). The Aiven host policy is
// checked here, before any request, and again by the client and its
// transport.
func (r *Rotator) openAiven(secretARN string, v *secret.Value, hold func(secret.Token)) (tokenAPI, error) {
	base := r.cfg.DefaultAPIURL
	if v.APIURL != "" {
		base = v.APIURL
	}
	u, err := r.cfg.policy().CheckBaseURL(base)
	if err != nil {
		return nil, fmt.Errorf("api_url: %w", err)
	}
	return kindOf(v).open(r, u.String(), secretARN, v, hold)
}
