package localstack_test

// Regression tests of the third review (issue 17): whoever may write one
// secret's value gains nothing beyond that secret's own token.

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aiven/go-client-codegen/handler/user"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// tokensOfUser counts every token Aiven ever made for the user (live,
// revoked or expired): a token made and revoked at once still counts.
func (aw *appWorld) tokensOfUser(email string) int {
	n := 0
	for _, tok := range aw.stack.Aiven.Tokens() {
		if tok.User == email {
			n++
		}
	}
	return n
}

// Defect 1: the writer of application secret A puts a dead token in it and
// names application user B, an organization admin whom the manager binds to
// another secret. Neither a rotation of A nor the sweep (which would heal
// A's dead token) may create a token of B.
func TestWritingASecretCannotMintAnotherApplicationUsersToken(t *testing.T) {
	const otherSecret = "aiven/deployer-token"
	aw := newAppWorld(t, nil)
	admin, err := aw.stack.Aiven.CreateApplicationUser(appOrg, "deployer", []string{aivenemulator.RoleOrganizationAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenCreate(aw.ctx, appOrg, admin.UserID,
		&applicationuser.ApplicationUserAccessTokenCreateIn{Description: "deployer"}); err != nil {
		t.Fatal(err)
	}
	// The manager's owner binds ci to A, and the admin user to another secret.
	raw, _ := json.Marshal(map[string]any{"token": aw.admin.Token, "application_tokens": []any{
		map[string]any{"organization_id": appOrg, "application_user_id": aw.app.UserID, "secrets": []string{appSecretName}},
		map[string]any{"organization_id": appOrg, "application_user_id": admin.UserID, "secrets": []string{otherSecret}},
	}})
	aw.putManager(string(raw))
	aw.mustSucceed(aw.rotateARN(aw.arn)) // A is rotated by this function from now on

	// The writer of A: a dead token, B's id, and user fields that claim B.
	hostile := map[string]any{"kind": "application", "token": strings.Repeat("Zm9vYmFy", 20), "organization_id": appOrg,
		"application_user_id": admin.UserID, "user_id": admin.UserID, "user": admin.Email, "manager_secret_id": managerSecretName}
	value, _ := json.Marshal(hostile)
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(aw.arn), SecretString: aws.String(string(value))}); err != nil {
		t.Fatal(err)
	}
	aw.healing.Store(true) // A's current token is dead on purpose
	aw.recordAll()
	before := aw.tokensOfUser(admin.Email)

	res := aw.sweep(`{"action":"sweep"}`)
	if res.Healed != 0 || res.RotationsStarted != 0 {
		t.Errorf("the sweep healed A for user B: %+v", res)
	}
	found := false
	for _, r := range res.Results {
		if r.Secret == aw.arn {
			found = true
			if r.Outcome != "error" || !strings.Contains(r.Error, "does not bind application user "+admin.UserID) || r.RotationStarted != "" {
				t.Errorf("sweep of A: outcome %q, error %q, rotation %q; want an error naming the missing binding and no rotation", r.Outcome, r.Error, r.RotationStarted)
			}
		}
	}
	if !found {
		t.Fatalf("the sweep did not visit A: %+v", res)
	}

	version := aw.rotateARN(aw.arn)
	a := aw.lastAttempt(version)
	if a.Outcome != "RotationFailed" || !strings.Contains(a.Error, "does not bind application user "+admin.UserID) {
		t.Errorf("rotation of A for user B: %s %q, want RotationFailed naming the missing binding", a.Outcome, a.Error)
	}
	if after := aw.tokensOfUser(admin.Email); after != before {
		t.Fatalf("Aiven made %d token(s) of application user B for the writer of secret A", after-before)
	}
	aw.assertNoSecretsLeaked()
}

// editValue edits the secret's AWSCURRENT value by hand the way most
// people do, with UpdateSecret: change applied to the value's JSON.
func (w *world) editValue(change func(v map[string]any)) {
	w.t.Helper()
	got, err := w.sm.GetSecretValue(w.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(w.arn)})
	if err != nil {
		w.t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(got.SecretString)), &v); err != nil {
		w.t.Fatal(err)
	}
	change(v)
	raw, _ := json.Marshal(v)
	if _, err := w.sm.UpdateSecret(w.ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String(w.arn), SecretString: aws.String(string(raw))}); err != nil {
		w.t.Fatal(err)
	}
	w.recordVersions()
}

func (r sweepResult) of(t *testing.T, arn string) sweptEntry {
	t.Helper()
	for _, e := range r.Results {
		if e.Secret == arn {
			return e
		}
	}
	t.Fatalf("the sweep did not report %s: %+v", arn, r)
	return sweptEntry{}
}

// Defect 3, an unmarked previous token (the one a person stored to onboard
// the secret): an edit of the value during its grace (update-secret, a new
// description) neither ends nor extends the grace; the sweep revokes it once
// due, and the next rotation leaves two live tokens, not three.
func TestAnEditDuringTheGraceKeepsTheGraceOfAnUnmarkedToken(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "2s"))
	w.mustSucceed(w.rotate())
	_, rotated := w.current()
	w.editValue(func(v map[string]any) { v["description"] = "edited by hand" })

	early := w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if early.GraceUntil == "" || len(early.Revoked) != 0 || early.GraceRecordDistrusted != "" || !w.isLiveToken(w.user.Token) {
		t.Fatalf("a sweep within the grace, after an edit: %+v; the onboarding token live: %v", early, w.isLiveToken(w.user.Token))
	}
	until, err := time.Parse(time.RFC3339, early.GraceUntil)
	if err != nil {
		t.Fatal(err)
	}
	if recorded, _, _ := rotated.RevokeAfter(); until.Before(recorded) || until.After(w.graceDue(recorded, 2*time.Second).Add(time.Second)) {
		t.Fatalf("grace until %s after the edit, want the rotation's record %s: an edit neither ends nor extends it", until, recorded)
	}
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	due := w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if !slices.Equal(due.Revoked, []string{w.user.TokenPrefix}) || w.isLiveToken(w.user.Token) {
		t.Fatalf("a sweep after the grace, after an edit: %+v; want the onboarding token %s revoked", due, w.user.TokenPrefix)
	}
	w.mustSucceed(w.rotate())
	if live := w.liveTokens(); len(live) > 2 {
		t.Fatalf("I2: %d live tokens after the next rotation: %v", len(live), prefixes(live))
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// Defect 3, a marked previous token over an hour old: an edit during its
// grace must not turn it into an orphan the sweep revokes at once; the next
// rotation's createSecret still ends its grace (two live tokens at most).
func TestAnEditDuringTheGraceKeepsAMarkedTokenFromTheOrphanRule(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h"))
	w.mustSucceed(w.rotate())
	_, first := w.current()
	w.mustSucceed(w.rotate()) // first's token is now the graced, marked one
	w.editValue(func(v map[string]any) { v["scopes"] = []string{"user:read", "projects"} })
	w.stack.Aiven.Advance(2 * time.Hour) // by Aiven's clock, every token is over an hour old

	res := w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if !w.isLiveToken(first.Token.Reveal()) || len(res.Revoked) != 0 || res.GraceUntil == "" {
		t.Fatalf("I1: the sweep cut a 24h grace short after an edit: %+v (graced token %s live: %v)", res, first.TokenPrefix, w.isLiveToken(first.Token.Reveal()))
	}
	w.mustSucceed(w.rotate())
	if w.isLiveToken(first.Token.Reveal()) {
		t.Error("the next rotation kept the graced token: a third live token")
	}
	if live := w.liveTokens(); len(live) > 2 {
		t.Fatalf("I2: %d live tokens: %v", len(live), prefixes(live))
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// Defect 3, an edit that replaces the token itself (with a token made by
// hand) but keeps the old record: the record stands behind no token of
// this function, so it is not honoured, and that is reported (an
// error-level line, the SweepGraceDistrusted metric, the result), never
// dropped; no marked token is revoked as an orphan within the stack's grace.
func TestAnEditThatReplacesTheTokenIsReportedNotHonoured(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h"))
	w.mustSucceed(w.rotate())
	_, rotated := w.current()
	made, err := w.aivenAs(rotated.Token.Reveal()).AccessTokenCreate(w.ctx, &user.AccessTokenCreateIn{Description: "pasted by hand"})
	if err != nil {
		t.Fatal(err)
	}
	w.tokens[made.TokenPrefix] = made.FullToken
	w.malformedCurrent = true // a hand-made current token: the world's own invariants do not hold for it
	w.editValue(func(v map[string]any) { v["token"], v["token_prefix"] = made.FullToken, made.TokenPrefix })
	w.stack.Aiven.Advance(2 * time.Hour)

	out := w.sweep(`{"action":"sweep"}`)
	res := out.of(t, w.arn)
	if res.GraceRecordDistrusted == "" || out.GraceDistrusted != 1 {
		t.Fatalf("the sweep did not report the record it would not honour: %+v", out)
	}
	if len(res.Revoked) != 0 || !w.isLiveToken(rotated.Token.Reveal()) || !w.isLiveToken(w.user.Token) {
		t.Fatalf("the sweep revoked on a record it did not trust, or a marked token within the grace: %+v", res)
	}
	if !strings.Contains(w.logs.String(), `"outcome":"grace_record_distrusted"`) || !strings.Contains(w.logs.String(), `"SweepGraceDistrusted":1`) {
		t.Error("no error-level line or metric says the grace record was not honoured")
	}
	w.assertNoSecretsLeaked()
}

// Defect 6: a rotation Secrets Manager gave up on (testSecret failed at
// every attempt: Aiven's /v1/me down; AWSPENDING left on its version) is found by the sweep
// once its version is older than STUCK_ROTATION_AFTER, reported stuck
// (result, error-level line, SweepStuck metric), and recovered as AWS
// documents: its token revoked, AWSPENDING removed, a rotation started;
// at most once per threshold, so a secret that always fails does not get a
// new token at every sweep.
func TestTheSweepRecoversAStuckRotationOncePerThreshold(t *testing.T) {
	w := newWorld(t)
	w.mustSucceed(w.rotate())
	plan := w.stack.Aiven.Faults()
	// createSecret's /v1/me passes; every later one (testSecret's) fails.
	if err := plan.Add(faults.Rule{Operation: "UserInfo", After: 1, Times: 100000, Status: 503}); err != nil {
		t.Fatal(err)
	}
	stuck := w.rotate()
	if a := w.lastAttempt(stuck); a.Outcome != "RotationFailed" {
		t.Fatalf("the rotation with a failing finishSecret: %s, want RotationFailed", a.Outcome)
	}
	pendingToken := func(version string) string {
		var value string
		for _, v := range w.stack.SecretsManager.Versions(w.arn) {
			if v.VersionID == version {
				value = v.SecretString
			}
		}
		parsed, err := secret.Parse(value)
		if err != nil {
			t.Fatal(err)
		}
		return parsed.Token.Reveal()
	}
	made := pendingToken(stuck)

	if res := w.sweep(`{"action":"sweep"}`).of(t, w.arn); res.StuckVersion != "" || !w.isLiveToken(made) {
		t.Fatalf("a young pending version was taken for stuck: %+v", res)
	}
	if _, err := w.stack.SecretsManager.AgeVersion(w.arn, stuck, "", 25*time.Hour); err != nil {
		t.Fatal(err)
	}
	dry := w.sweep(`{"action":"sweep","dry_run":true}`)
	if d := dry.of(t, w.arn); d.StuckVersion != stuck || d.Recovered || !d.WouldRotate || len(d.WouldRevoke) != 1 || !w.isLiveToken(made) {
		t.Fatalf("dry run of a stuck rotation: %+v", d)
	}

	out := w.sweep(`{"action":"sweep"}`)
	res := out.of(t, w.arn)
	if res.StuckVersion != stuck || !res.Recovered || out.Stuck != 1 || len(res.Revoked) != 1 || w.isLiveToken(made) {
		t.Fatalf("the sweep did not recover the stuck rotation (or its token lives): %+v", out)
	}
	if !strings.Contains(w.logs.String(), `"SweepStuck":1`) || !strings.Contains(w.logs.String(), `"stuck_version":"`+stuck+`"`) {
		t.Error("no metric or log line says a rotation was stuck")
	}
	// Still failing: the new rotation is stuck too, but young: the next
	// sweeps leave it alone, and no token is made for it again.
	again := w.currentPending(t)
	if again == "" || again == stuck {
		t.Fatalf("after recovery the pending version is %q, want a new rotation's", again)
	}
	before := len(w.stack.Aiven.Tokens())
	for range 2 {
		if r := w.sweep(`{"action":"sweep"}`).of(t, w.arn); r.StuckVersion != "" || r.RotationStarted != "" {
			t.Fatalf("a secret that always fails was recovered again within the threshold: %+v", r)
		}
	}
	if after := len(w.stack.Aiven.Tokens()); after != before {
		t.Fatalf("%d tokens made by sweeps within the threshold", after-before)
	}

	// The fault gone and the threshold passed: recovered, and the rotation
	// it starts succeeds.
	plan.Clear()
	if _, err := w.stack.SecretsManager.AgeVersion(w.arn, again, "", 25*time.Hour); err != nil {
		t.Fatal(err)
	}
	res = w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if !res.Recovered || res.RotationStarted == "" {
		t.Fatalf("second recovery: %+v", res)
	}
	w.mustSucceed(res.RotationStarted)
	if live := w.liveTokens(); len(live) > 2 {
		t.Fatalf("I2: %d live tokens after recovery: %v", len(live), prefixes(live))
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// currentPending is the version carrying AWSPENDING but not AWSCURRENT.
func (w *world) currentPending(t *testing.T) string {
	t.Helper()
	d, err := w.sm.DescribeSecret(w.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(w.arn)})
	if err != nil {
		t.Fatal(err)
	}
	for id, stages := range d.VersionIdsToStages {
		if slices.Contains(stages, "AWSPENDING") && !slices.Contains(stages, "AWSCURRENT") {
			return id
		}
	}
	return ""
}

// graceDue is when the previous token of the secret's last rotation falls
// due as docs/fleet.md says: its record, and never sooner than grace after
// the rotation completed (LastRotatedDate). An edit moves neither.
func (w *world) graceDue(recorded time.Time, grace time.Duration) time.Time {
	w.t.Helper()
	d, err := w.sm.DescribeSecret(w.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(w.arn)})
	if err != nil {
		w.t.Fatal(err)
	}
	if floor := aws.ToTime(d.LastRotatedDate).Add(grace); floor.After(recorded) {
		return floor
	}
	return recorded
}
