package rotation

import "context"

// setSecret has nothing to set (docs/rotation.md, "setSecret"): Aiven
// creates and activates a token in one call, createSecret's. It makes no
// call, to Aiven or to Secrets Manager, and runs without the guard: a
// read of the pending version would prove nothing that testSecret, next,
// does not prove again, and a step that touches nothing needs no guard.
// Running it twice is harmless.
func (r *Rotator) setSecret(context.Context, stepInput) (result, error) {
	return result{outcome: "nothing_to_set"}, nil
}
