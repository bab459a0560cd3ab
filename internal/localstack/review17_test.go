package localstack_test

// Outside review of issue 17 (trust boundaries). Each test here failed on
// the code it was written against; see the review report for the details.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// Door (c), someone who may invoke the function with any event, after an
// edit by hand during a grace (door b, which the docs invite): a
// finishSecret event naming the edit's version (AWSCURRENT, so the guard
// lets finishSecret run its revocation duty) revokes the token kept for
// its 24 h grace at once. The sweep and createSecret read the grace record
// from the version that made the current token (graceRecordOf);
// finishSecret reads it from the event's version only, distrusts it
// (the token's marker names the rotation's version, not the edit's), and
// then its stale-token rule, with no gracePrefix, takes the graced token
// (marked, over an hour old) for an orphan.
func TestReviewFinishSecretOnAnEditedCurrentVersionCutsTheGrace(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h"))
	// Tokens made from now on look two hours old by the rotator's clock
	// once Aiven's clock is put back: over the one-hour stale age.
	w.stack.Aiven.Advance(-2 * time.Hour)
	w.mustSucceed(w.rotate())
	_, first := w.current()
	w.mustSucceed(w.rotate()) // first's token is now the graced, marked one
	w.stack.Aiven.Advance(2 * time.Hour)
	if !w.isLiveToken(first.Token.Reveal()) {
		t.Fatal("setup: the graced token is not live after the second rotation")
	}
	w.editValue(func(v map[string]any) { v["description"] = "edited by hand" })
	edit, _ := w.current()

	out, err := w.invokeAction(fmt.Sprintf(`{"Step":"finishSecret","SecretId":%q,"ClientRequestToken":%q}`, w.arn, edit))
	t.Logf("finishSecret on the edit's version: %s, %v", out, err)
	if !w.isLiveToken(first.Token.Reveal()) {
		t.Fatalf("I1/grace: a finishSecret event naming the edited AWSCURRENT version %s revoked the token %s kept for its 24h grace",
			edit, first.TokenPrefix)
	}
}

// Door (a), the writer of one application secret's value: the tokens the
// manager's owner issued for the application user are restricted (an IP
// allowlist, scopes). The writer puts "ip_allowlist": [] and "scopes": []
// in the value, and the next rotation (the schedule's, the sweep's, or one
// the writer causes by breaking the token, which the sweep heals) has the
// manager mint an unrestricted token of the application user, which the
// writer then reads. The value decided what the manager's token does: more
// than "that secret's own token".
func TestReviewApplicationSecretWriterCannotLiftTheTokensRestrictions(t *testing.T) {
	allow := []string{"127.0.0.1/32"}
	scopes := []string{"user:read"}
	aw := newAppWorld(t, func(aw *appWorld) map[string]any {
		made, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenCreate(aw.ctx, appOrg, aw.app.UserID,
			&applicationuser.ApplicationUserAccessTokenCreateIn{Description: "ci, locked down", IPAllowlist: &allow, Scopes: &scopes})
		if err != nil {
			t.Fatal(err)
		}
		if err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenDelete(aw.ctx, appOrg, aw.app.UserID, aw.liveOf(aw.app.Email)[0].TokenPrefix); err != nil {
			t.Fatal(err)
		}
		aw.tokens[made.TokenPrefix] = made.FullToken
		return map[string]any{"kind": "application", "token": made.FullToken, "organization_id": appOrg,
			"application_user_id": aw.app.UserID, "manager_secret_id": managerSecretName}
	})
	aw.mustSucceed(aw.rotateARN(aw.arn))
	listed, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokensList(aw.ctx, appOrg, aw.app.UserID)
	if err != nil || len(listed) != 1 || !slices.Equal(listed[0].IPAllowlist, allow) {
		t.Fatalf("setup: a rotation did not carry the restrictions over: %+v, %v", listed, err)
	}

	// The writer of the application secret lifts them.
	v := aw.rawCurrent()
	v["ip_allowlist"], v["scopes"] = []string{}, []string{}
	raw, _ := json.Marshal(v)
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(aw.arn), SecretString: aws.String(string(raw))}); err != nil {
		t.Fatal(err)
	}
	aw.recordAll()
	aw.mustSucceed(aw.rotateARN(aw.arn))

	listed, err = aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokensList(aw.ctx, appOrg, aw.app.UserID)
	if err != nil || len(listed) != 1 {
		t.Fatalf("listed %d, %v", len(listed), err)
	}
	if got := listed[0]; !slices.Equal(got.IPAllowlist, allow) || !slices.Equal(got.Scopes, scopes) {
		t.Fatalf("the writer of the application secret had the manager mint a token without the restrictions the manager's owner set: ip_allowlist %v (was %v), scopes %v (was %v)",
			got.IPAllowlist, allow, got.Scopes, scopes)
	}
}

// Door (a): the writer of an application secret chooses api_url, and the
// function sends the manager's token there: the manager secret's owner
// never chose that host. Any host in ALLOWED_API_HOSTS will do (the local
// stack allows 127.0.0.1 on every port; in AWS, a list with a second host
// such as a proxy or a staging API). Here the writer's host is a
// transparent proxy to Aiven that keeps the Authorization headers it sees:
// the sweep, healthy, hands it the organization admin's token.
func TestReviewApplicationSecretWriterCannotChooseWhereTheManagerTokenGoes(t *testing.T) {
	aw := newAppWorld(t, nil)
	aw.mustSucceed(aw.rotateARN(aw.arn))

	target, _ := url.Parse(aw.stack.AivenURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var seen []string
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		proxy.ServeHTTP(rw, r)
	}))
	defer evil.Close()

	v := aw.rawCurrent()
	v["api_url"] = evil.URL
	raw, _ := json.Marshal(v)
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(aw.arn), SecretString: aws.String(string(raw))}); err != nil {
		t.Fatal(err)
	}
	aw.recordAll()

	res := aw.sweep(`{"action":"sweep"}`)
	t.Logf("sweep: healthy %d, errors %d", res.Healthy, res.Errors)
	mu.Lock()
	defer mu.Unlock()
	for _, h := range seen {
		if strings.Contains(h, aw.admin.Token) {
			t.Fatalf("the manager secret's token (an organization admin's) was sent to %s, the api_url the application secret's writer chose (%d requests seen there)", evil.URL, len(seen))
		}
	}
}

// rawCurrent is the application secret's AWSCURRENT value as JSON fields.
func (aw *appWorld) rawCurrent() map[string]any {
	aw.t.Helper()
	cur, ok := aw.stack.SecretsManager.VersionByStage(aw.arn, "AWSCURRENT")
	if !ok {
		aw.t.Fatal("no AWSCURRENT")
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(cur.SecretString), &v); err != nil {
		aw.t.Fatal(err)
	}
	return v
}

// A crash/retry interleaving: a rotation whose testSecret failed at every
// attempt leaves its version X pending with its token made. More than
// STUCK_ROTATION_AFTER later, a retry of that rotation's finishSecret (a
// reattempt, or door (c)) promotes X while a sweep runs: after the sweep
// read the values and the listing (X pending, the old token current), before
// it lists the tokens and recovers "the stuck rotation". The recovery
// revokes every token whose marker names X except the old current one, so
// it revokes X's token, by now the AWSCURRENT one: the secret holds a dead
// token (I1), and the rotation the recovery starts cannot heal a personal
// token. recoverStuck does not re-check that X is still not AWSCURRENT
// (nor that the token it revokes is not the one stored there).
func TestReviewStuckRecoveryNeverRevokesATokenThatBecameCurrent(t *testing.T) {
	var armed, fired atomicFlag
	var w *world
	w = newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h"), func(c *localstack.Config) {
		inner := c.AivenMiddleware
		c.AivenMiddleware = func(next http.Handler) http.Handler {
			h := next
			if inner != nil {
				h = inner(next)
			}
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && r.URL.Path == "/v1/access_token" && armed.take() {
					// The sweep is about to list this secret's tokens: the
					// stuck rotation's finishSecret is retried right now.
					version := w.pendingForReview()
					out, err := smemulator.Run(w.stack.Rotator, localstack.FunctionARN,
						[]byte(fmt.Sprintf(`{"Step":"finishSecret","SecretId":%q,"ClientRequestToken":%q}`, w.arn, version)), time.Minute)
					w.t.Logf("finishSecret retried during the sweep: %s %v", out, err)
					fired.set()
				}
				h.ServeHTTP(rw, r)
			})
		}
	})
	w.mustSucceed(w.rotate())
	plan := w.stack.Aiven.Faults()
	// createSecret's /v1/me passes; every later one (testSecret's) fails.
	if err := plan.Add(faults.Rule{Operation: "UserInfo", After: 1, Times: 100000, Status: 503}); err != nil {
		t.Fatal(err)
	}
	stuck := w.rotate()
	if a := w.lastAttempt(stuck); a.Outcome != "RotationFailed" {
		t.Fatalf("setup: the rotation with a failing testSecret: %s, want RotationFailed", a.Outcome)
	}
	plan.Clear()
	if _, err := w.stack.SecretsManager.AgeVersion(w.arn, stuck, "", 25*time.Hour); err != nil {
		t.Fatal(err)
	}
	w.recordVersions()

	armed.set()
	res := w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if !fired.get() {
		t.Fatal("setup: the hook did not run")
	}
	version, cur := w.current()
	t.Logf("sweep: %+v; AWSCURRENT now %s (stuck version %s)", res, version, stuck)
	if !w.isLiveToken(cur.Token.Reveal()) {
		t.Fatalf("I1: the sweep's stuck-rotation recovery revoked %v, and the AWSCURRENT token %s (version %s) no longer authenticates",
			res.Revoked, cur.TokenPrefix, version)
	}
}

// pendingForReview is the version carrying AWSPENDING (not AWSCURRENT),
// read from the emulator's state without a call.
func (w *world) pendingForReview() string {
	cur, _ := w.stack.SecretsManager.VersionByStage(w.arn, "AWSCURRENT")
	p, ok := w.stack.SecretsManager.VersionByStage(w.arn, "AWSPENDING")
	if !ok || p.VersionID == cur.VersionID {
		return ""
	}
	return p.VersionID
}

type atomicFlag struct {
	mu sync.Mutex
	v  bool
}

func (f *atomicFlag) set() { f.mu.Lock(); f.v = true; f.mu.Unlock() }
func (f *atomicFlag) get() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.v
}

// take clears the flag and says whether it was set.
func (f *atomicFlag) take() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.v
	f.v = false
	return v
}
