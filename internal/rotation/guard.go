package rotation

import (
	"context"
	"fmt"
	"slices"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// guard runs before every step (rotation.md, "Every step starts with the
// guard"). done means the event's version already carries AWSCURRENT: the
// step has nothing left to do (finishSecret still has its revocation duty).
func (r *Rotator) guard(ctx context.Context, ev rotationEvent) (secretsmanager.Description, bool, error) {
	desc, err := r.store.Describe(ctx, ev.SecretID)
	if err != nil {
		return desc, false, fmt.Errorf("describe secret: %w", err)
	}
	if !desc.RotationEnabled {
		return desc, false, tagKind(kindNotRotationEnabled, fmt.Errorf("secret %s is not enabled for rotation", desc.ARN))
	}
	stages, ok := desc.Versions[ev.ClientRequestToken]
	if !ok {
		return desc, false, tagKind(kindEventRejected, fmt.Errorf("version %s is not a version of secret %s", ev.ClientRequestToken, desc.ARN))
	}
	if slices.Contains(stages, secretsmanager.StageCurrent) {
		return desc, true, nil
	}
	if !slices.Contains(stages, secretsmanager.StagePending) {
		return desc, false, tagKind(kindEventRejected, fmt.Errorf("version %s of secret %s is not staged as AWSPENDING", ev.ClientRequestToken, desc.ARN))
	}
	return desc, false, nil
}

// pendingVersions are the versions that carry AWSPENDING: a rotation in
// progress, whose token a sweep must spare.
func pendingVersions(desc secretsmanager.Description) map[string]bool {
	out := map[string]bool{}
	for id, stages := range desc.Versions {
		if slices.Contains(stages, secretsmanager.StagePending) {
			out[id] = true
		}
	}
	return out
}
