package rotation

import (
	"context"
	"fmt"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// finishSecret promotes the version to AWSCURRENT, then revokes the token
// it replaced and every other token carrying this secret's marker
// (rotation.md, "finishSecret"). Run again, it finds AWSCURRENT in place
// and still does the revocations, so a retry completes them: a token
// already revoked is not an error.
func (r *Rotator) finishSecret(ctx context.Context, ev rotationEvent, desc secretsmanager.Description, rep *stepReport) error {
	arn := desc.ARN
	// By version id alone: after a completed rotation the version no
	// longer carries AWSPENDING.
	raw, err := r.store.GetValue(ctx, arn, ev.ClientRequestToken, "")
	if err != nil {
		return fmt.Errorf("read version %s: %w", ev.ClientRequestToken, err)
	}
	v, err := parseValue(raw, "the new version")
	if err != nil {
		return err
	}
	rep.keep(v.Token)
	rep.tokenPrefix, rep.previousTokenPrefix = v.TokenPrefix, v.PreviousTokenPrefix
	if v.TokenPrefix == "" {
		return &secret.FieldError{Field: "token_prefix", Reason: "is required in a version createSecret wrote"}
	}

	rep.outcome = "already_current"
	if from := currentVersion(desc); from != ev.ClientRequestToken {
		if err := r.store.MoveCurrent(ctx, arn, ev.ClientRequestToken, from); err != nil {
			return fmt.Errorf("move AWSCURRENT to version %s: %w", ev.ClientRequestToken, err)
		}
		rep.outcome = "promoted"
	}

	api, err := r.openAiven(v)
	if err != nil {
		return fmt.Errorf("api_url: %w", err)
	}
	if prev := v.PreviousTokenPrefix; prev != "" && prev != v.TokenPrefix {
		if _, err := r.revoke(ctx, api, prev, rep); err != nil {
			return fmt.Errorf("revoke the previous token %s: %w", prev, explainAiven(err, newToken, "revoke"))
		}
	}
	return r.sweep(ctx, api, arn, v.TokenPrefix, rep)
}

// sweep revokes every token carrying this secret's marker except the new
// one: leftovers of earlier rotations. A token without this secret's
// marker is never touched.
func (r *Rotator) sweep(ctx context.Context, api tokenAPI, secretARN, keepPrefix string, rep *stepReport) error {
	tokens, err := api.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("list tokens for the sweep: %w", explainAiven(err, newToken, "list"))
	}
	mine := secret.SecretHash(secretARN)
	for _, t := range tokens {
		m, ok := secret.ParseMarker(t.Description)
		if !ok || m.Secret != mine || t.Prefix == keepPrefix || t.CurrentlyActive {
			continue
		}
		revoked, err := r.revoke(ctx, api, t.Prefix, rep)
		if err != nil {
			return fmt.Errorf("revoke stale token %s of this secret: %w", t.Prefix, explainAiven(err, newToken, "revoke"))
		}
		if revoked {
			rep.orphansRevoked++
		}
	}
	return nil
}
