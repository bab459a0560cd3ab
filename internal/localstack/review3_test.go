package localstack_test

// Outside review 3 of issue 17 (trust boundaries, the sweep's new code,
// the emulator's RotationAbandoned). Each test here failed on the code it
// was written against; see the review report for the details.

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// Door (a), the writer of one application secret's value, against the
// binding's ceiling. The manager's owner caps the application user's
// tokens at one day (max_age_seconds in the binding). The writer breaks
// the token (any garbage), so that Aiven lists no current token and the
// binding is the ceiling, and adds "extend_when_used": true (the same with
// a token that died by itself: revoked by a person, or expired). The heal
// mints a token whose expiry moves forward at every use: a token that never
// expires while it is used, past the one-day life the owner set. The
// binding caps max_age_seconds but has no say on extend_when_used, and
// ceilingOf leaves the extension uncapped when it takes the binding.
func TestReviewHealCannotLiftTheBindingsMaxAgeWithExtendWhenUsed(t *testing.T) {
	aw := newAppWorld(t, nil)
	raw, _ := json.Marshal(map[string]any{"token": aw.admin.Token, "application_tokens": []any{
		map[string]any{"organization_id": appOrg, "application_user_id": aw.app.UserID, "secrets": []string{appSecretName}, "max_age_seconds": 86400},
	}})
	aw.putManager(string(raw))
	aw.mustSucceed(aw.rotateARN(aw.arn))

	// The current token dies (revoked, or expired): Aiven lists no current
	// token, and the binding is the ceiling. The writer adds one field.
	_, before := aw.appCurrent()
	if err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenDelete(aw.ctx, appOrg, aw.app.UserID, before.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	v := aw.rawCurrent()
	v["extend_when_used"] = true
	value, _ := json.Marshal(v)
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(aw.arn), SecretString: aws.String(string(value))}); err != nil {
		t.Fatal(err)
	}
	aw.healing.Store(true)
	aw.recordAll()
	aw.mustSucceed(aw.rotateARN(aw.arn))

	_, cur := aw.appCurrent()
	listed, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokensList(aw.ctx, appOrg, aw.app.UserID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range listed {
		if tok.TokenPrefix != cur.TokenPrefix {
			continue
		}
		t.Logf("healed token: max_age_seconds %v, extend_when_used %v", aws.ToInt(tok.MaxAgeSeconds), aws.ToBool(tok.ExtendWhenUsed))
		if tok.ExtendWhenUsed != nil && *tok.ExtendWhenUsed {
			t.Fatalf("the writer of the application secret had the manager mint a token that extends its expiry at every use (extend_when_used true), past the binding's max_age_seconds 86400: the binding's ceiling on the token's life is lifted")
		}
		return
	}
	t.Fatalf("the healed token %s is not listed", cur.TokenPrefix)
}

// Two sweeps at once (a follow-up overlapping the scheduled one, or a
// sweep invoked by hand during the scheduled one) over a secret whose token
// expires soon. Sweep A starts the rotation before expiry; Secrets Manager
// runs it, and the replaced token T1 is kept for its 24 h grace. Sweep B
// read the secrets (ListSecrets, BatchGetSecretValue) before A's rotation:
// its view shows T1 current and no rotation pending, and T1, still live,
// still expires soon by its own listing. B starts a second rotation
// (startRotation trusts the listing's stages; nothing is read again before
// RotateSecret), whose createSecret revokes the graced T1 before making a
// third token: a 24 h grace cut to seconds (I1 for clients still on T1),
// and two rotations for one expiry.
func TestReviewTwoOverlappingSweepsNeitherRotateTwiceNorCutTheGrace(t *testing.T) {
	var armed, fired atomicFlag
	var w *world
	var inner sweepResult
	w = newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h"), func(c *localstack.Config) {
		wrapped := c.AivenMiddleware
		c.AivenMiddleware = func(next http.Handler) http.Handler {
			h := next
			if wrapped != nil {
				h = wrapped(next)
			}
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && r.URL.Path == "/v1/access_token" && armed.take() {
					// Sweep B is about to list this secret's tokens: sweep A
					// runs now, from start to end.
					out, err := smemulator.Run(w.stack.Rotator, localstack.FunctionARN, []byte(`{"action":"sweep"}`), time.Minute)
					if err != nil {
						w.t.Errorf("sweep A: %v", err)
					}
					_ = json.Unmarshal(out, &inner)
					fired.set()
				}
				h.ServeHTTP(rw, r)
			})
		}
	})
	w.mustSucceed(w.rotate())
	_, first := w.current()
	// 25 days on by Aiven's clock: five days left, under the default 168h.
	w.stack.Aiven.Advance(25 * 24 * time.Hour)

	armed.set()
	outer := w.sweep(`{"action":"sweep"}`)
	if !fired.get() {
		t.Fatal("setup: the hook did not run")
	}
	t.Logf("sweep A: rotations_started %d, results %+v", inner.RotationsStarted, inner.Results)
	t.Logf("sweep B: rotations_started %d, results %+v", outer.RotationsStarted, outer.Results)
	if inner.RotationsStarted != 1 {
		t.Fatalf("setup: sweep A started %d rotations, want 1", inner.RotationsStarted)
	}
	_, cur := w.current()
	if cur.TokenPrefix == first.TokenPrefix {
		t.Fatal("setup: no rotation happened")
	}
	if !w.isLiveToken(first.Token.Reveal()) {
		t.Fatalf("I1/grace: the token %s replaced by sweep A's rotation, kept for its 24h grace, was revoked seconds later by the rotation sweep B started on its stale view (sweeps started %d + %d rotations for one expiry)",
			first.TokenPrefix, inner.RotationsStarted, outer.RotationsStarted)
	}
	if n := inner.RotationsStarted + outer.RotationsStarted; n != 1 {
		t.Fatalf("two overlapping sweeps started %d rotations for one expiring token", n)
	}
}

// The emulator's RotationAbandoned (a version made by hand while a
// rotation is pending removes AWSPENDING and ends the rotation) leaves the
// abandoned rotation's token T_X live: createSecret made it, and nothing
// revokes it until it is an hour old (the orphan rule's stale age). A
// rotation within that hour (the schedule's, or the operator's, who just
// edited the value because the rotation was failing) ends with three live
// tokens: the graced previous one, the new current one, and T_X (I2,
// "Never more than two", docs/fleet.md).
func TestReviewAnAbandonedRotationsTokenIsNotAThirdLiveToken(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h"))
	w.mustSucceed(w.rotate())
	plan := w.stack.Aiven.Faults()
	// createSecret's /v1/me passes; every later one (testSecret's) fails.
	if err := plan.Add(faults.Rule{Operation: "UserInfo", After: 1, Times: 100000, Status: 503}); err != nil {
		t.Fatal(err)
	}
	failed := w.rotate()
	if a := w.lastAttempt(failed); a.Outcome != "RotationFailed" {
		t.Fatalf("setup: the rotation with a failing testSecret: %s, want RotationFailed", a.Outcome)
	}
	plan.Clear()
	w.checkProblems()

	// The operator edits the value by hand (the docs invite it): Secrets
	// Manager abandons the failed rotation.
	w.editValue(func(v map[string]any) { v["description"] = "edited by hand" })
	if p := w.pendingForReview(); p != "" {
		t.Fatalf("setup: AWSPENDING still on %s after the edit", p)
	}
	w.mustSucceed(w.rotate())
	live := w.liveTokens()
	if len(live) > 2 {
		t.Fatalf("I2: after the rotation that followed an abandoned one, the user holds %d live tokens: %v (the abandoned rotation's token is one)", len(live), prefixes(live))
	}
}

// An edit by hand while createSecret runs (after the guard, before its
// PutSecretValue): Secrets Manager abandons the rotation and removes
// AWSPENDING "to allow future rotations to succeed" (RotationAbandoned),
// then createSecret's PutSecretValue (VersionStages AWSPENDING) puts the
// label back on the abandoned version. No rotation is running any more, and
// none can start (RotateSecret refuses while AWSPENDING sits on a version
// other than AWSCURRENT) until the sweep calls it stuck, 24 h later:
// meanwhile the token may expire, and the rotation on demand fails.
func TestReviewAnEditDuringCreateSecretBlocksRotationForOneSweepAtMost(t *testing.T) {
	var armed, fired atomicFlag
	var w *world
	w = newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h"), func(c *localstack.Config) {
		wrapped := c.AivenMiddleware
		c.AivenMiddleware = func(next http.Handler) http.Handler {
			h := next
			if wrapped != nil {
				h = wrapped(next)
			}
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == "/v1/access_token" && armed.take() {
					w.editValue(func(v map[string]any) { v["description"] = "edited by hand" })
					fired.set()
				}
				h.ServeHTTP(rw, r)
			})
		}
	})
	w.mustSucceed(w.rotate())
	armed.set()
	abandoned := w.rotate()
	if !fired.get() {
		t.Fatal("setup: the hook did not run")
	}
	t.Logf("rotation %s: %+v", abandoned, w.lastAttempt(abandoned))
	p := w.pendingForReview()
	if p == "" {
		t.Log("AWSPENDING did not come back: nothing is blocked")
		return
	}
	// The label is back on the abandoned version: the next sweep, not one
	// 24 h later, must recover it (a pending version older than the
	// current one was abandoned) and let rotations run again.
	res := w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if res.StuckVersion != p || !res.Recovered || res.RotationStarted == "" {
		_, err := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(w.arn)})
		t.Fatalf("after Secrets Manager abandoned rotation %s, its createSecret put AWSPENDING back on %s, and the next sweep did not recover it (%+v): no rotation is running and none can start (RotateSecret: %v) until STUCK_ROTATION_AFTER",
			abandoned, p, res, err)
	}
	w.mustSucceed(res.RotationStarted)
	if live := w.liveTokens(); len(live) > 2 {
		t.Fatalf("I2: %d live tokens after the recovery: %v", len(live), prefixes(live))
	}
}
