package localstack_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// revokeBeforeFinish revokes the pending application token once, just
// before the first finishSecret of the application secret reaches the
// function: the token died between testSecret and finishSecret.
type revokeBeforeFinish struct {
	inner smemulator.Invoker
	aw    *appWorld
	done  atomic.Bool
}

func (r *revokeBeforeFinish) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev struct{ Step, SecretId string }
	_ = json.Unmarshal(payload, &ev)
	if ev.Step == "finishSecret" && ev.SecretId == r.aw.arn && r.done.CompareAndSwap(false, true) {
		pending, _ := r.aw.stack.SecretsManager.VersionByStage(r.aw.arn, "AWSPENDING")
		v, err := secret.Parse(pending.SecretString)
		if err != nil {
			r.aw.problem("the pending version does not parse: %v", err)
		} else if err := r.aw.aivenAs(r.aw.admin.Token).ApplicationUserAccessTokenDelete(ctx, appOrg, r.aw.app.UserID, v.TokenPrefix); err != nil {
			r.aw.problem("revoke the pending token: %v", err)
		}
	}
	return r.inner.Invoke(ctx, payload)
}

// Finding 9 of the review of 20:05 UTC, for an application token, which
// the manager lists: a pending token revoked between testSecret and
// finishSecret is not promoted (the step hook checks I1 after every step);
// finishSecret fails before AWSCURRENT moves, and the rotation gives up
// with AWSCURRENT, and the live tokens, as they were.
func TestApplicationFinishDoesNotPromoteADeadToken(t *testing.T) {
	aw := newAppWorld(t, nil, func(aw *appWorld, c *localstack.Config) {
		c.WrapRotator = func(i smemulator.Invoker) smemulator.Invoker { return &revokeBeforeFinish{inner: i, aw: aw} }
	})
	beforeVersion, _ := aw.appCurrent()
	version := aw.rotateARN(aw.arn)
	a := aw.lastAttempt(version)
	if a.Outcome != "RotationFailed" {
		t.Fatalf("last attempt %s (%s), want RotationFailed", a.Outcome, a.Error)
	}
	if after, _ := aw.appCurrent(); after != beforeVersion {
		t.Fatalf("I1: AWSCURRENT moved to %s, whose token was revoked", after)
	}
	if live := aw.liveOf(aw.app.Email); len(live) != 1 || !strings.HasPrefix(aw.first, live[0].TokenPrefix) {
		t.Errorf("live application tokens %v, want the first one only", prefixes(live))
	}
	found := false
	for _, at := range aw.stack.SecretsManager.Rotations() {
		found = found || strings.Contains(at.Error, "is not a live token of the application user at Aiven")
	}
	if !found {
		t.Errorf("no attempt failed because the pending token is gone; last: %s", a.Error)
	}
	aw.checkProblems()
	aw.assertNoSecretsLeaked()
}
