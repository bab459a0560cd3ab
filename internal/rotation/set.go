package rotation

import (
	"context"
	"errors"
	"fmt"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// setSecret checks the pending version exists and parses (rotation.md,
// "setSecret"): Aiven creates and activates a token in one call, so there
// is nothing to set and no Aiven call. Running it twice is harmless.
func (r *Rotator) setSecret(ctx context.Context, ev rotationEvent, desc secretsmanager.Description, rep *stepReport) error {
	raw, err := r.store.GetValue(ctx, desc.ARN, ev.ClientRequestToken, secretsmanager.StagePending)
	if errors.Is(err, secretsmanager.ErrNoValue) {
		return fmt.Errorf("the pending version %s has no value: createSecret has not stored it", ev.ClientRequestToken)
	}
	if err != nil {
		return fmt.Errorf("read the pending version: %w", err)
	}
	pending, err := parseValue(raw, "the pending version")
	if err != nil {
		return err
	}
	rep.keep(pending.Token)
	rep.tokenPrefix, rep.previousTokenPrefix = pending.TokenPrefix, pending.PreviousTokenPrefix
	rep.outcome = "checked"
	return nil
}
