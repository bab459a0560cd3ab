package localstack_test

// An outside review of issue 19 (stragglers, kept while in use, replica
// regions): each test here fails on the code as reviewed.

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// The function's own use of the previous token never counts as a
// straggler (issue 19, section 1). A sweep that runs while a rotation is
// pending (between createSecret and finishSecret, e.g. while Secrets
// Manager retries a failed testSecret) lists the tokens with the token
// that is still AWSCURRENT: that use is the function's, not a consumer's.
func TestReviewSweepsOwnUseDuringARotationIsNoStraggler(t *testing.T) {
	g := &gate{}
	w := newWorld(t, withGate(g), withEnv("PREVIOUS_TOKEN_GRACE", "1h"), func(c *localstack.Config) {
		c.SecretsManagerOptions = append(c.SecretsManagerOptions, smemulator.WithMaxAttempts(1))
	})
	w.mustSucceed(w.rotate()) // a JSON value, rotation configured
	_, before := w.current()

	g.setHold(func(step string) bool { return step == "setSecret" })
	out, _ := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(w.arn)})
	version := aws.ToString(out.VersionId)

	// Minutes later, by Aiven's clock, a scheduled sweep runs while the
	// rotation is still pending: its health listing uses the current token.
	w.stack.Aiven.Advance(5 * time.Minute)
	if mid := w.sweep(`{"action":"sweep"}`); mid.Results[0].Error != "" {
		t.Fatalf("the sweep during the rotation: %+v", mid.Results[0])
	}

	g.setHold(nil)
	for _, step := range []string{"setSecret", "testSecret", "finishSecret"} {
		if err := w.invoke(step, version, ""); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	if cur, _ := w.current(); cur != version {
		t.Fatalf("AWSCURRENT %s, want %s", cur, version)
	}
	after := w.sweep(`{"action":"sweep"}`)
	if s := after.Results[0].Straggler; s != nil || after.Stragglers != 0 {
		t.Errorf("the function's own sweep counted as a straggler of %s: %+v (stragglers %d)", before.TokenPrefix, s, after.Stragglers)
	}
	if lines := w.logLinesWith("previous token still in use"); len(lines) != 0 {
		t.Errorf("a straggler warning for the function's own use: %v", lines)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// Keeping a previous token while in use is opt-in (PREVIOUS_TOKEN_MAX_GRACE
// unset: never kept, docs/fleet.md "Stragglers"; FleetConfig: "0, or the
// grace itself: never kept"). A secret that shortens its grace
// (previous_token_grace 2s under the stack's 1h) must get its previous
// token revoked at the end of that grace, used or not: not kept, as if
// the opt-in were on, up to the stack's grace.
func TestReviewShorterValueGraceDoesNotTurnOnKeepWhileInUse(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1h")) // no PREVIOUS_TOKEN_MAX_GRACE: off
	w.seedValue(fmt.Sprintf(`{"token":%q,"previous_token_grace":"2s"}`, w.user.Token))
	w.mustSucceed(w.rotate())
	w.stack.Aiven.Advance(5 * time.Minute)
	w.useAs(w.user.Token, "leaked-token-user/1")
	time.Sleep(2100 * time.Millisecond) // past the value's grace
	cut := w.sweep(`{"action":"sweep"}`)
	if cut.Results[0].PreviousKept || cut.TokensRevoked != 1 || w.isLiveToken(w.user.Token) {
		t.Fatalf("opt-in off, the value's 2s grace passed, previous token in use: kept %v until %s, revoked %d",
			cut.Results[0].PreviousKept, cut.Results[0].GraceUntil, cut.TokensRevoked)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}
