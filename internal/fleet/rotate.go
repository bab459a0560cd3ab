package fleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// rotateReport is the result of {"action":"rotate"}.
type rotateReport struct {
	Action    string `json:"action"`
	SecretID  string `json:"secret_id"`
	Name      string `json:"name,omitempty"`
	VersionID string `json:"version_id,omitempty"`
	Started   bool   `json:"started"`
	Message   string `json:"message"`
	// BreakGlass: what a request with revoke_previous or revoke_prefixes
	// revoked, and why anything it named is still live (breakglass.go).
	BreakGlass *breakGlassReport `json:"break_glass,omitempty"`
}

// rotateOnDemand starts a rotation of a secret this function owns
// (docs/rotation.md, "On-demand rotation"): DescribeSecret, then RotateSecret
// with nothing changed. A secret it does not own is an error, and nothing
// is called after the DescribeSecret. Called twice, it starts a second
// rotation, or reports the first still in progress (Secrets Manager then
// reattempts that one). With bg (revoke_previous, revoke_prefixes) it is a
// break-glass request (breakGlass), once the secret proves to be its own.
func (f *Fleet) rotateOnDemand(ctx context.Context, secretID string, bg *breakGlassRequest) (*rotateReport, error) {
	self, err := selfARN(ctx)
	if err != nil {
		return nil, err
	}
	d, err := f.store.DescribeRotation(ctx, secretID)
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			switch apiErr.ErrorCode() {
			case "ResourceNotFoundException":
				return nil, rotation.WithKind(rotation.KindEventRejected, fmt.Errorf("secret %s does not exist (or is scheduled for deletion); nothing was done", clip(secretID, 2048)))
			case "AccessDeniedException":
				return nil, rotation.WithKind(rotation.KindEventRejected, fmt.Errorf("secret %s: access denied: this function may only read secrets whose rotation function is this one; nothing was done: %w", clip(secretID, 2048), err))
			}
		}
		return nil, fmt.Errorf("describe secret %s: %w", clip(secretID, 2048), err)
	}
	if !owns(d, self) {
		owner := d.RotationLambdaARN
		if owner == "" {
			owner = "none"
		}
		return nil, rotation.WithKind(rotation.KindEventRejected, fmt.Errorf("secret %s is not rotated by this function (%s; its rotation function: %s); nothing was done. Onboard it with aws secretsmanager rotate-secret --rotation-lambda-arn first", d.ARN, self, owner))
	}
	if !d.RotationEnabled {
		return nil, rotation.WithKind(rotation.KindNotRotationEnabled, fmt.Errorf("secret %s is not enabled for rotation; nothing was done", d.ARN))
	}
	if bg != nil {
		return f.breakGlass(ctx, d, bg, self)
	}
	rep := &rotateReport{Action: actionRotate, SecretID: d.ARN, Name: d.Name}
	version, err := f.store.StartRotation(ctx, d.ARN)
	switch {
	case errors.Is(err, secretsmanager.ErrRotationInProgress):
		rep.VersionID = secretsmanager.PendingVersion(d.Versions)
		rep.Message = "a rotation of this secret is already in progress; Secrets Manager reattempts it"
		f.log.InfoContext(ctx, "rotation in progress", "action", actionRotate, "secret", d.ARN, "version", rep.VersionID, "outcome", "in_progress")
		return rep, nil
	case err != nil:
		return nil, fmt.Errorf("start a rotation of %s: %w", d.ARN, err)
	}
	rep.VersionID, rep.Started = version, true
	rep.Message = "rotation started; Secrets Manager runs its four steps in the background"
	f.log.InfoContext(ctx, "rotation started", "action", actionRotate, "secret", d.ARN, "version", version, "outcome", "started")
	return rep, nil
}
