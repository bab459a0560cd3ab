package localstack_test

// Regression tests of the second hostile review (the sweep, the grace
// period and application tokens).

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

// An application secret whose AWSCURRENT value lacks token_prefix
// (a person re-put the value by hand, keeping the token): the sweep must
// not revoke the current application token as an orphan (I1).
func TestSweepKeepsTheCurrentApplicationTokenWithoutTokenPrefix(t *testing.T) {
	aw := newAppWorld(t, nil, func(_ *appWorld, c *localstack.Config) {
		// Aiven's clock 2h behind the Lambda's: the token made now is, by
		// the Lambda's clock (the one the sweep ages application tokens by),
		// older than the hour after which a marked token may be an orphan.
		c.AivenOptions = append(c.AivenOptions, aivenemulator.WithClock(time.Now().Add(-2*time.Hour)))
	})
	aw.mustSucceed(aw.rotateARN(aw.arn))
	_, v := aw.appCurrent()
	raw, _ := json.Marshal(map[string]any{
		"kind": "application", "token": v.Token.Reveal(), "organization_id": appOrg,
		"application_user_id": aw.app.UserID, "manager_secret_id": managerSecretName,
	})
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(aw.arn), SecretString: aws.String(string(raw))}); err != nil {
		t.Fatal(err)
	}
	aw.recordAll()
	res := aw.sweep(`{"action":"sweep"}`)
	t.Logf("%+v", res)
	if !aw.isLiveToken(v.Token.Reveal()) {
		t.Fatalf("I1: the sweep revoked the current application token: %+v", res)
	}
}

// R2-A2: same, with a token_prefix that does not begin the token.
func TestSweepKeepsTheCurrentApplicationTokenWithAWrongTokenPrefix(t *testing.T) {
	aw := newAppWorld(t, nil, func(_ *appWorld, c *localstack.Config) {
		// Aiven's clock 2h behind the Lambda's: the token made now is, by
		// the Lambda's clock (the one the sweep ages application tokens by),
		// older than the hour after which a marked token may be an orphan.
		c.AivenOptions = append(c.AivenOptions, aivenemulator.WithClock(time.Now().Add(-2*time.Hour)))
	})
	aw.mustSucceed(aw.rotateARN(aw.arn))
	_, v := aw.appCurrent()
	raw, _ := json.Marshal(map[string]any{
		"kind": "application", "token": v.Token.Reveal(), "token_prefix": "zzzzzzzzzzzz", "organization_id": appOrg,
		"application_user_id": aw.app.UserID, "manager_secret_id": managerSecretName,
	})
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(aw.arn), SecretString: aws.String(string(raw))}); err != nil {
		t.Fatal(err)
	}
	aw.recordAll()
	res := aw.sweep(`{"action":"sweep"}`)
	t.Logf("%+v", res)
	if !aw.isLiveToken(v.Token.Reveal()) {
		t.Fatalf("I1: the sweep revoked the current application token: %+v", res)
	}
}

// a token whose lifetime (max_age_seconds) is shorter than
// ROTATE_BEFORE_EXPIRY: every sweep starts a rotation, even of a token made
// seconds ago, and that rotation's createSecret revokes the previous token
// in the middle of its grace. The grace promised to caching consumers is
// then one sweep interval.
func TestSweepDoesNotRotateAFreshShortLivedTokenAndCutItsGrace(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1h"))
	w.seedValue(fmt.Sprintf(`{"token":%q,"max_age_seconds":604800}`, w.user.Token))
	w.mustSucceed(w.rotate())
	_, v1 := w.current()
	w.stack.Aiven.Advance(15 * time.Minute) // the next scheduled sweep, 15 minutes on
	res := w.sweep(`{"action":"sweep"}`)
	if res.RotationsStarted != 0 {
		if r := res.Results[0]; r.RotationStarted != "" {
			w.mustSucceed(r.RotationStarted)
		}
		t.Errorf("the sweep started a rotation of a %ds-old token (expires in %ds)", *res.Results[0].TokenAgeS, *res.Results[0].ExpiresInS)
	}
	if !w.isLiveToken(w.user.Token) {
		t.Errorf("the previous token died within its 1h grace, minutes after %s was promoted", v1.TokenPrefix)
	}
}

// a person pastes a token as secret_id by mistake: it must reach no
// log line or error (the leak scan at cleanup checks the logs too).
func TestRotateActionWithATokenAsSecretIDLeaksNothing(t *testing.T) {
	w := newWorld(t)
	_, err := w.invokeAction(fmt.Sprintf(`{"action":"rotate","secret_id":%q}`, w.user.Token))
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), w.user.Token) {
		t.Errorf("I4: the error quotes the token: %.300s", err)
	}
	if strings.Contains(w.logs.String(), w.user.Token) {
		t.Errorf("I4: a log line quotes the token")
	}
}

// the sweep lists the secrets (AWSCURRENT = V1), a rotation then
// completes (AWSCURRENT = V2, the V1 token B kept for its 1h grace), and
// only then the sweep's BatchGetSecretValue reads V2. The sweep checks V2's
// marker against the stale listing's V1, distrusts the record, and revokes
// B as an orphan minutes into its grace.
func TestSweepRacingAFinishedRotationKeepsTheGracedToken(t *testing.T) {
	var w *world
	var second string
	finishRotation := func() {
		out, err := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(w.arn)})
		if err == nil {
			second = aws.ToString(out.VersionId)
		}
	}
	w = newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1h"), onceBefore("BatchGetSecretValue", finishRotation))
	w.mustSucceed(w.rotate()) // seed -> B
	_, vB := w.current()
	w.stack.Aiven.Advance(2 * time.Hour) // B was made two hours ago
	res := w.sweep(`{"action":"sweep"}`)
	if second == "" {
		t.Fatal("the interleaved rotation did not start")
	}
	w.mustSucceed(second)
	_, vC := w.current()
	if vC.PreviousTokenPrefix != vB.TokenPrefix {
		t.Fatalf("previous_token_prefix %q, want %q", vC.PreviousTokenPrefix, vB.TokenPrefix)
	}
	if !w.isLiveToken(vB.Token.Reveal()) {
		t.Fatalf("the sweep revoked %s, promoted away from moments ago and within its 1h grace: %+v", vB.TokenPrefix, res.Results)
	}
}

// the sweep ages and expires an application token by the Lambda's
// clock, not Aiven's as it does for personal tokens: moving Aiven's clock
// 25 days on (the README's expiry demo) rotates a personal token, never an
// application token.
func TestSweepRotatesAnApplicationTokenBeforeExpiryByAivensClock(t *testing.T) {
	aw := newAppWorld(t, nil)
	aw.mustSucceed(aw.rotateARN(aw.arn))
	aw.stack.Aiven.Advance(25 * 24 * time.Hour)
	res := aw.sweep(`{"action":"sweep"}`)
	if res.RotationsStarted != 1 {
		t.Fatalf("5 days left by Aiven's clock, under 168h: want a rotation started: expires_in_s=%v %+v", *res.Results[0].ExpiresInS, res)
	}
}

// An application secret whose value holds a string that merely
// begins with the prefix of another, unmarked token of the application
// user (another pipeline's): the rotation takes that token for the
// current one and revokes it. A stored value alone revokes a token no
// personal-token path would (there, currently_active proves it).
func TestApplicationRotationLeavesAnotherPipelinesTokenAlone(t *testing.T) {
	var other string
	aw := newAppWorld(t, func(aw *appWorld) map[string]any {
		made, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenCreate(aw.ctx, appOrg, aw.app.UserID,
			&applicationuser.ApplicationUserAccessTokenCreateIn{Description: "deploy pipeline"})
		if err != nil {
			t.Fatal(err)
		}
		other = made.FullToken
		aw.tokens[made.TokenPrefix] = made.FullToken
		return map[string]any{
			"kind": "application", "token": made.TokenPrefix + strings.Repeat("Q", len(made.FullToken)-len(made.TokenPrefix)),
			"organization_id": appOrg, "application_user_id": aw.app.UserID, "manager_secret_id": managerSecretName,
		}
	})
	aw.healing.Store(true)
	aw.rotateARN(aw.arn)
	if !aw.isLiveToken(other) {
		t.Fatal("the rotation revoked the deploy pipeline's token, which this secret never held")
	}
}
