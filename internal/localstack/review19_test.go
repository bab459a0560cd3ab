package localstack_test

// An outside review of issue 19 (stragglers, kept while in use, replica
// regions): each test here fails on the code as reviewed.

import (
	"encoding/json"
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
	w.afterPromotion(5 * time.Minute)
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

// The hard limit of a previous token kept while in use is the stack's
// PREVIOUS_TOKEN_MAX_GRACE after its grace began (the promotion); a
// value's writer may only shorten it. An edit of the value after the
// rotation that shortens previous_token_grace moves the start the keeping
// is reckoned from (the record's instant minus the edited grace) later,
// and with it the hard limit past the stack's.
func TestReviewEditedGraceCannotPushTheHardLimitPastTheStacks(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "4s", "PREVIOUS_TOKEN_MAX_GRACE", "8s"))
	w.seedValue(fmt.Sprintf(`{"token":%q}`, w.user.Token))
	began := time.Now()
	w.mustSucceed(w.rotate())
	_, after := w.current()

	// An edit by hand: the same token, a shorter grace.
	cur, _ := w.stack.SecretsManager.VersionByStage(w.arn, "AWSCURRENT")
	var fields map[string]any
	if err := json.Unmarshal([]byte(cur.SecretString), &fields); err != nil {
		t.Fatal(err)
	}
	fields["previous_token_grace"] = "1s"
	edited, _ := json.Marshal(fields)
	w.seedValue(string(edited))

	w.afterPromotion(5 * time.Minute)
	time.Sleep(time.Until(began.Add(4200 * time.Millisecond))) // past the recorded grace
	w.useAs(w.user.Token, "leaked-token-user/1")
	kept := w.sweep(`{"action":"sweep"}`)
	if !kept.Results[0].PreviousKept {
		t.Fatalf("a straggler in use past its grace, under PREVIOUS_TOKEN_MAX_GRACE: not kept: %+v", kept.Results[0])
	}
	until, err := time.Parse(time.RFC3339, kept.Results[0].GraceUntil)
	if err != nil {
		t.Fatal(err)
	}
	if ceiling := began.Add(8*time.Second + time.Second); until.After(ceiling) {
		t.Errorf("kept until %s: %s past the stack's hard limit (8s after the rotation), by an edit of the value",
			until.Format(time.RFC3339), until.Sub(ceiling).Round(time.Second))
	}
	if !w.isLiveToken(after.Token.Reveal()) {
		t.Fatal("the current token no longer works")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// A line that says the previous token was revoked is written only when it
// was. A due straggler whose revocation waits for a replica region (or a
// dry run, which revokes nothing) must not be logged as
// "revoked ... while still in use" with outcome straggler_cut.
func TestReviewStragglerCutLineOnlyWhenRevoked(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "2s"))
	w.replicate()
	if _, err := w.stack.SecretsManager.HoldReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(w.rotate())
	w.afterPromotion(5 * time.Minute)
	w.useAs(w.user.Token, "batch/1")
	time.Sleep(2100 * time.Millisecond) // past the grace

	dry := w.sweep(`{"action":"sweep","dry_run":true}`)
	held := w.sweep(`{"action":"sweep"}`)
	if held.TokensRevoked != 0 || held.Results[0].ReplicaWait == "" || !w.isLiveToken(w.user.Token) {
		t.Fatalf("the replica is behind, the previous token must wait: %+v", held.Results[0])
	}
	_ = dry
	for _, l := range w.logLinesWith("while still in use") {
		if l["outcome"] == "straggler_cut" {
			t.Errorf("a straggler_cut line (%q, dry_run %v) although the token was not revoked and is live", l["msg"], l["dry_run"])
		}
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// The next rotation does not revoke the token kept for a grace while a
// replica region still serves the version before the current one
// (docs/fleet.md, "Replica regions"). TestNextRotationWaitsForAReplicaBehind
// covers it only when that token is the seed (no marker); from the third
// rotation on the graced token carries its rotation's marker, and its
// version (now AWSPREVIOUS) is neither pending nor current: createSecret's
// revokeAbandoned cuts it before revokeGraced asks the replicas.
func TestReviewThirdRotationWaitsForAReplicaBehind(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1h"))
	w.replicate()
	w.mustSucceed(w.rotate()) // V1; the replica catches up to it
	_, v1 := w.current()
	if _, err := w.stack.SecretsManager.HoldReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(w.rotate()) // V2; the replica still serves V1, whose token is graced
	_, v2 := w.current()
	if !w.isLiveToken(v1.Token.Reveal()) {
		t.Fatal("V1's token, graced and served by the replica, is gone after the second rotation")
	}

	version := w.rotate() // the replica still serves V1
	for _, a := range attemptsOf(w, version) {
		t.Logf("attempt %d: %s %s %s", a.Attempt, a.Outcome, a.FailedStep, a.Error)
	}
	t.Logf("v1 live %v", w.isLiveToken(v1.Token.Reveal()))
	if a := w.lastAttempt(version); a.Outcome == "RotationSucceeded" {
		t.Fatalf("the third rotation succeeded with the replica behind: %+v", a)
	}
	if !w.isLiveToken(v1.Token.Reveal()) {
		t.Errorf("the third rotation revoked %s, the token the replica region %s still serves as AWSCURRENT", v1.TokenPrefix, replicaRegion)
	}
	if !w.isLiveToken(v2.Token.Reveal()) {
		t.Fatal("the current token no longer works")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}
