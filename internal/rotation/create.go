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

// maxCreateAttempts bounds token creations in one createSecret: the first,
// and one more after each ambiguous failure, reconciled by marker.
const maxCreateAttempts = 3

// createSecret creates the new token and stores it as the AWSPENDING
// version (rotation.md, "createSecret"). Run again, it finds the pending
// value and stops; interrupted, its token is found by marker and revoked.
func (r *Rotator) createSecret(ctx context.Context, ev rotationEvent, desc secretsmanager.Description, rep *stepReport) error {
	arn := desc.ARN
	raw, err := r.store.GetValue(ctx, arn, "", secretsmanager.StageCurrent)
	if err != nil {
		return fmt.Errorf("read AWSCURRENT: %w", err)
	}
	current, err := parseValue(raw, "AWSCURRENT")
	if err != nil {
		return err
	}
	rep.keep(current.Token)

	_, err = r.store.GetValue(ctx, arn, ev.ClientRequestToken, secretsmanager.StagePending)
	switch {
	case err == nil:
		rep.outcome = "already_created"
		return nil
	case !errors.Is(err, secretsmanager.ErrNoValue):
		return fmt.Errorf("read the pending version: %w", err)
	}

	marker, err := secret.NewMarker(arn, ev.ClientRequestToken)
	if err != nil {
		return err
	}
	api, err := r.openAiven(current)
	if err != nil {
		return fmt.Errorf("api_url: %w", err)
	}
	me, err := api.Me(ctx)
	if err != nil {
		return explainAiven(err, currentToken, "me")
	}
	tokens, err := api.ListTokens(ctx)
	if err != nil {
		return explainAiven(err, currentToken, "list")
	}

	var currentListed *aiven.Token
	for i := range tokens {
		if tokens[i].CurrentlyActive {
			currentListed = &tokens[i]
		}
	}
	rep.previousTokenPrefix = current.TokenPrefix
	if rep.previousTokenPrefix == "" && currentListed != nil {
		rep.previousTokenPrefix = currentListed.Prefix
	}
	if rep.previousTokenPrefix == "" {
		rep.note("Aiven did not mark the current token currently_active: its prefix is unknown, so finishSecret cannot revoke it")
	}

	if err := r.revokeOrphans(ctx, api, tokens, marker, rep); err != nil {
		return err
	}

	req := newTokenRequest(current, currentListed, marker)
	created, err := r.createReconciled(ctx, api, req, marker, rep)
	if err != nil {
		return err
	}
	rep.keep(created.FullToken)
	rep.tokenPrefix = created.Prefix

	next := current.Next(created.FullToken, created.Prefix, me.Email, rfc3339(created.ExpiryTime), rfc3339(&created.CreateTime))
	next.PreviousTokenPrefix = rep.previousTokenPrefix
	value, err := next.Marshal()
	if err != nil {
		return r.compensate(ctx, api, created.Prefix, rep, fmt.Errorf("build the pending version: %w", err))
	}

	putErr := r.store.PutPending(ctx, arn, ev.ClientRequestToken, value, ev.RotationToken)
	if putErr == nil {
		rep.outcome = "created"
		return nil
	}
	// The SDK has retried the Put (idempotent with this ClientRequestToken).
	// Revoke only when Secrets Manager shows it did not land.
	stored, getErr := r.store.GetValue(ctx, arn, ev.ClientRequestToken, secretsmanager.StagePending)
	switch {
	case getErr == nil && stored == value:
		rep.outcome = "created"
		rep.note("PutSecretValue reported a failure but the pending version holds the new token")
		return nil
	case getErr == nil:
		// Another invocation stored its own token first: ours is surplus.
		if _, err := r.revoke(ctx, api, created.Prefix, rep); err != nil {
			return fmt.Errorf("another invocation stored the pending version; revoking this one's surplus token %s: %w", created.Prefix, explainAiven(err, currentToken, "revoke"))
		}
		rep.outcome = "already_created"
		return nil
	case errors.Is(getErr, secretsmanager.ErrNoValue):
		return r.compensate(ctx, api, created.Prefix, rep, fmt.Errorf("store pending version: %w", putErr))
	default:
		// Unknown: the token stays; a retry finds it by its marker.
		return fmt.Errorf("store pending version: %w; whether it was stored is unknown (%v), so token %s was kept: a retry of this rotation revokes it by its marker", putErr, getErr, created.Prefix)
	}
}

// compensate revokes the token this attempt created, then fails with cause.
func (r *Rotator) compensate(ctx context.Context, api tokenAPI, prefix string, rep *stepReport, cause error) error {
	if _, err := r.revoke(ctx, api, prefix, rep); err != nil {
		return fmt.Errorf("%w; revoking the new token %s also failed (a retry revokes it by its marker): %v", cause, prefix, explainAiven(err, currentToken, "revoke"))
	}
	rep.outcome = "compensated"
	return fmt.Errorf("%w; the new token %s was revoked", cause, prefix)
}

// revokeOrphans revokes the tokens an interrupted attempt at this very
// version left behind: their values are lost with the attempt.
func (r *Rotator) revokeOrphans(ctx context.Context, api tokenAPI, tokens []aiven.Token, marker secret.Marker, rep *stepReport) error {
	for _, t := range tokens {
		if t.CurrentlyActive {
			continue
		}
		if m, ok := secret.ParseMarker(t.Description); !ok || m != marker {
			continue
		}
		revoked, err := r.revoke(ctx, api, t.Prefix, rep)
		if err != nil {
			return fmt.Errorf("revoke orphan token %s of an earlier attempt: %w", t.Prefix, explainAiven(err, currentToken, "revoke"))
		}
		if revoked {
			rep.orphansRevoked++
		}
	}
	return nil
}

// createReconciled creates the token. After an ambiguous failure it lists
// the tokens: one carrying this version's marker was created but its value
// is lost, so it is revoked; then it creates once more, a bounded number of
// times.
func (r *Rotator) createReconciled(ctx context.Context, api tokenAPI, req aiven.CreateRequest, marker secret.Marker, rep *stepReport) (aiven.NewToken, error) {
	var lastErr error
	for attempt := 1; attempt <= maxCreateAttempts; attempt++ {
		created, err := api.CreateToken(ctx, req)
		if err == nil {
			return created, nil
		}
		if !aiven.IsAmbiguous(err) {
			return aiven.NewToken{}, fmt.Errorf("create token: %w", explainAiven(err, currentToken, "create"))
		}
		lastErr = err
		rep.note("create attempt %d ended ambiguously; reconciled by marker", attempt)
		if ctx.Err() != nil {
			break
		}
		tokens, lerr := api.ListTokens(ctx)
		if lerr != nil {
			return aiven.NewToken{}, fmt.Errorf("create token: %w; listing tokens to reconcile also failed (a retry revokes any token by its marker): %v", err, explainAiven(lerr, currentToken, "list"))
		}
		if err := r.revokeOrphans(ctx, api, tokens, marker, rep); err != nil {
			return aiven.NewToken{}, fmt.Errorf("create token: %w", err)
		}
	}
	return aiven.NewToken{}, fmt.Errorf("create token: gave up after %d ambiguous attempts: %w", maxCreateAttempts, lastErr)
}

// revoke revokes by prefix and counts it.
func (r *Rotator) revoke(ctx context.Context, api tokenAPI, prefix string, rep *stepReport) (bool, error) {
	revoked, err := api.RevokeToken(ctx, prefix)
	if revoked {
		rep.tokensRevoked++
	}
	return revoked, err
}

// Aiven's bounds on max_age_seconds.
const (
	minMaxAge = 600
	maxMaxAge = 315360000
)

// newTokenRequest takes each setting from the secret when set there, else
// from what Aiven reports for the current token.
func newTokenRequest(v *secret.Value, listed *aiven.Token, marker secret.Marker) aiven.CreateRequest {
	var req aiven.CreateRequest
	description := ""
	if listed != nil {
		description = listed.Description
		if listed.MaxAgeSeconds >= minMaxAge && listed.MaxAgeSeconds <= maxMaxAge {
			age := listed.MaxAgeSeconds
			req.MaxAgeSeconds = &age
			ext := listed.ExtendWhenUsed
			req.ExtendWhenUsed = &ext
		}
		if len(listed.IPAllowlist) > 0 {
			req.IPAllowlist = append([]string(nil), listed.IPAllowlist...)
		}
		if len(listed.Scopes) > 0 {
			req.Scopes = append([]string(nil), listed.Scopes...)
		}
	}
	if v.Description != nil {
		description = *v.Description
	}
	if v.MaxAgeSeconds != nil {
		age := *v.MaxAgeSeconds
		req.MaxAgeSeconds = &age
	}
	if v.ExtendWhenUsed != nil {
		ext := *v.ExtendWhenUsed
		req.ExtendWhenUsed = &ext
	}
	if v.IPAllowlist != nil {
		req.IPAllowlist = append([]string{}, *v.IPAllowlist...)
	}
	if v.Scopes != nil {
		req.Scopes = append([]string{}, *v.Scopes...)
	}
	req.Description = secret.Describe(description, marker)
	return req
}

// openAiven opens the Aiven API with the value's token, at its api_url or
// the default. The policy is checked here, before any request, and again
// by the client and its transport.
func (r *Rotator) openAiven(v *secret.Value) (tokenAPI, error) {
	base := r.cfg.DefaultAPIURL
	if v.APIURL != "" {
		base = v.APIURL
	}
	u, err := r.cfg.policy().CheckBaseURL(base)
	if err != nil {
		return nil, err
	}
	return r.aivenAt(u.String(), v.Token)
}

func rfc3339(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
