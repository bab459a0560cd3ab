package rotation

import (
	"context"
	"fmt"
)

// setSecret checks the pending version exists and parses (rotation.md,
// "setSecret"): Aiven creates and activates a token in one call, so there
// is nothing to set and no Aiven call. Running it twice is harmless.
func (r *Rotator) setSecret(ctx context.Context, in stepInput) (res result, err error) {
	pending, err := r.readPending(ctx, in)
	if hasNoValue(err) {
		return res, fmt.Errorf("the pending version %s has no value: createSecret has not stored it", in.ev.ClientRequestToken)
	}
	if err != nil {
		return res, err
	}
	res.holds(pending)
	res.outcome = "checked"
	return res, nil
}
