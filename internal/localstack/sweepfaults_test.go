package localstack_test

// The sweep's fault matrix, continued: the calls the sweep gained after
// TestFaultInEverySweepCall was written. The stuck-rotation recovery's
// ListSecretVersionIds, UpdateSecretVersionStage (RemoveFromVersionId),
// DescribeSecret (its second look) and RotateSecret; the grace record's
// GetSecretValue by version id, after an edit by hand; and the Lambda
// Invoke that hands the rest of a sweep to a follow-up.

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// TestFaultInEverySweepCallOfARecoveryOrFollowUp fails each of these calls
// once (500, or a dropped connection) or persistently (four 500s in a row,
// past the client's retries; the Invoke is not retried, so any fault there
// is persistent for the sweep that meets it). A failure is that secret's
// error (or the sweep's follow_up_error, with an error-level line), never
// a failed sweep, a lost or leaked token, more than two live tokens or a
// current token that does not work; a later clean sweep finishes the work:
// the stuck rotation recovered and replaced by a rotation that succeeds,
// the graced token kept until due and revoked then, the secrets the
// follow-up would have swept swept.
func TestFaultInEverySweepCallOfARecoveryOrFollowUp(t *testing.T) {
	type target struct{ setup, op string }
	targets := []target{
		{"stuck", "ListSecretVersionIds"},
		{"stuck", "UpdateSecretVersionStage"},
		{"stuck", "DescribeSecret"},
		{"stuck", "RotateSecret"},
		{"grace", "GetSecretValue"},
		{"follow-up", "Invoke"},
		{"replica", "DescribeSecret"},
	}
	for _, tg := range targets {
		for _, kind := range []string{"status", "drop", "persistent"} {
			t.Run(tg.setup+"/"+tg.op+"/"+kind, func(t *testing.T) {
				t.Parallel() // independent stacks; the time goes in backoff sleeps
				rule := faults.Rule{Operation: tg.op, Times: 1, Status: 500}
				switch kind {
				case "drop":
					rule = faults.Rule{Operation: tg.op, Times: 1, Drop: true}
				case "persistent":
					rule.Times = 4
				}
				persistent := kind == "persistent"
				switch tg.setup {
				case "stuck":
					faultInStuckRecovery(t, rule, persistent)
				case "grace":
					faultInGraceRecord(t, rule, persistent)
				case "follow-up":
					faultInFollowUp(t, rule, persistent)
				case "replica":
					faultInReplicaCheck(t, rule, persistent)
				}
			})
		}
	}
}

// checkLiveTokens checks what must hold after every sweep: the current
// token works, and the secret's user holds at most two live tokens.
func (w *world) checkLiveTokens(when string) {
	w.t.Helper()
	if _, value := w.current(); !w.isLiveToken(value.Token.Reveal()) {
		w.t.Errorf("I1: %s, the AWSCURRENT token %s does not work", when, value.TokenPrefix)
	}
	if live := w.liveTokens(); len(live) > 2 {
		w.t.Errorf("I2: %s, %d live tokens: %v", when, len(live), prefixes(live))
	}
}

// faultySweep runs a sweep with rule in plan (its call counts reset
// first) and checks the fault was met and the sweep did not fail.
func (w *world) faultySweep(plan *faults.Plan, rule faults.Rule) sweepResult {
	w.t.Helper()
	plan.ResetCalls()
	if err := plan.Add(rule); err != nil {
		w.t.Fatal(err)
	}
	out, err := w.invokeAction(`{"action":"sweep"}`)
	if pending := plan.Pending(); len(pending) != 0 {
		w.t.Fatalf("the fault was never met: %+v (calls %v)", pending, plan.Calls())
	}
	if err != nil {
		w.t.Fatalf("the sweep failed as a whole on a %s fault: %v", rule.Operation, err)
	}
	var res sweepResult
	if err := json.Unmarshal(out, &res); err != nil {
		w.t.Fatalf("sweep result %.400s: %v", out, err)
	}
	w.recordVersions()
	return res
}

// versionToken is the token stored in version of the world's secret.
func (w *world) versionToken(version string) *secret.Value {
	w.t.Helper()
	for _, v := range w.stack.SecretsManager.Versions(w.arn) {
		if v.VersionID == version {
			parsed, err := secret.Parse(v.SecretString)
			if err != nil {
				w.t.Fatalf("version %s: %v", version, err)
			}
			return parsed
		}
	}
	w.t.Fatalf("no version %s", version)
	return nil
}

// A rotation Secrets Manager gave up on (testSecret's /v1/me failed at
// every attempt), its version and its token 25 hours old: the sweep's
// recovery meets the fault. The label stays, or the recovery completes,
// or the secret's error says which step failed; a clean sweep then
// recovers what is left, and the rotation that replaces the stuck one
// succeeds.
func faultInStuckRecovery(t *testing.T, rule faults.Rule, persistent bool) {
	w := newWorld(t)
	w.mustSucceed(w.rotate())
	before, _ := w.current()
	aivenFaults := w.stack.Aiven.Faults()
	// createSecret's /v1/me passes; every later one (testSecret's) fails.
	if err := aivenFaults.Add(faults.Rule{Operation: "UserInfo", After: 1, Times: 100000, Status: 503}); err != nil {
		t.Fatal(err)
	}
	stuck := w.rotate()
	if a := w.lastAttempt(stuck); a.Outcome != "RotationFailed" {
		t.Fatalf("the rotation with a failing testSecret: %s, want RotationFailed", a.Outcome)
	}
	aivenFaults.Clear()
	stuckToken := w.versionToken(stuck)
	if _, err := w.stack.SecretsManager.AgeVersion(w.arn, stuck, "", 25*time.Hour); err != nil {
		t.Fatal(err)
	}
	w.stack.Aiven.Advance(25 * time.Hour) // its token is as old as its version

	res := w.faultySweep(w.stack.SecretsManager.Faults(), rule)
	r := res.of(t, w.arn)
	if persistent {
		if r.Outcome != "error" || res.Errors != 1 || !strings.Contains(r.Error, stuck) || !strings.Contains(r.Error, rule.Operation) || r.RotationStarted != "" || r.Recovered {
			t.Fatalf("a persistent %s fault: %+v; want the secret's error naming the stuck version and the call, no rotation", rule.Operation, r)
		}
		if rule.Operation != "RotateSecret" && slices.Contains(r.Revoked, stuckToken.TokenPrefix) {
			t.Errorf("the stuck token was revoked although the recovery failed before its second look: %+v", r)
		}
	} else {
		if r.Outcome == "error" || r.StuckVersion != stuck || !r.Recovered || r.RotationStarted == "" || !slices.Equal(r.Revoked, []string{stuckToken.TokenPrefix}) {
			t.Fatalf("a %s fault met once: %+v; want the stuck rotation recovered, its token revoked, a rotation started", rule.Operation, r)
		}
		w.mustSucceed(r.RotationStarted)
	}
	w.checkLiveTokens("after the faulty sweep")

	// A clean sweep finishes what the faulty one left.
	second := w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if second.Outcome == "error" {
		t.Fatalf("the clean sweep after a %s fault: %+v", rule.Operation, second)
	}
	if second.RotationStarted != "" {
		w.mustSucceed(second.RotationStarted)
	}
	w.checkLiveTokens("after the clean sweep")
	last := w.sweep(`{"action":"sweep"}`)
	lr := last.of(t, w.arn)
	if lr.Outcome != "healthy" || last.TokensRevoked != 0 || last.RotationsStarted != 0 || last.Stuck != 0 || lr.StuckVersion != "" {
		t.Fatalf("after two sweeps, want nothing left to do: %+v", last)
	}
	if w.isLiveToken(stuckToken.Token.Reveal()) {
		t.Errorf("the stuck rotation's token %s outlived two sweeps", stuckToken.TokenPrefix)
	}
	if pending := w.currentPending(t); pending != "" {
		t.Errorf("version %s still carries AWSPENDING after two sweeps", pending)
	}
	if after, value := w.current(); after == before || after == stuck || !w.isLiveToken(value.Token.Reveal()) {
		var labels []string
		for _, v := range w.stack.SecretsManager.Versions(w.arn) {
			if v.VersionID == stuck {
				labels = v.Stages
			}
		}
		t.Errorf("stuck rotation not recovered: AWSCURRENT is %s (the version before the stuck rotation: %s; stuck: %s, labels now %v); "+
			"want the version of a rotation the recovery started, live: no sweep restarted the rotation Secrets Manager gave up on.\n"+
			"faulty sweep: outcome %q, revoked %v, rotation started %q, error %q\nclean sweep: outcome %q, stuck %q, revoked %v, rotation started %q",
			after, before, stuck, labels, r.Outcome, r.Revoked, r.RotationStarted, r.Error, second.Outcome, second.StuckVersion, second.Revoked, second.RotationStarted)
	}
	if live := w.liveTokens(); len(live) != 1 {
		t.Errorf("live tokens %v, want the current one (grace 0s)", prefixes(live))
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// Two rotations with a grace, then an edit by hand: the token's grace
// record is read from the rotation's version by id, and that read meets
// the fault. The graced token, marked and two hours old by Aiven's clock,
// is neither revoked early (as an orphan, or on a record misread) nor
// kept past its grace.
func faultInGraceRecord(t *testing.T, rule faults.Rule, persistent bool) {
	// Long enough for the faulty sweep's retries and a clean sweep within
	// it; the rotator's clock (not Aiven's) decides when it is due.
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "20s"))
	w.mustSucceed(w.rotate())
	_, first := w.current()
	w.mustSucceed(w.rotate()) // first's token is now the graced, marked one
	rotated, second := w.current()
	recorded, ok, err := second.RevokeAfter()
	if !ok || err != nil {
		t.Fatalf("the second rotation recorded no grace: %v", err)
	}
	w.editValue(func(v map[string]any) { v["description"] = "edited by hand" })
	if edited, _ := w.current(); edited == rotated {
		t.Fatal("the edit made no new version: the grace record would not be read by version id")
	}
	w.stack.Aiven.Advance(2 * time.Hour) // by Aiven's clock, every token is over an hour old
	graced := first.Token.Reveal()

	res := w.faultySweep(w.stack.SecretsManager.Faults(), rule)
	r := res.of(t, w.arn)
	if persistent {
		if r.Outcome != "error" || res.Errors != 1 || !strings.Contains(r.Error, rotated) || !strings.Contains(r.Error, "grace record") {
			t.Fatalf("a persistent %s fault: %+v; want the secret's error naming the version read", rule.Operation, r)
		}
	} else if r.Outcome == "error" || r.GraceUntil == "" || r.GraceRecordDistrusted != "" {
		t.Fatalf("a %s fault met once: %+v; want the grace record read and honoured", rule.Operation, r)
	}
	if len(r.Revoked) != 0 || !w.isLiveToken(graced) {
		t.Fatalf("the faulty sweep revoked within the grace: %+v (graced token %s live: %v)", r, first.TokenPrefix, w.isLiveToken(graced))
	}
	w.checkLiveTokens("after the faulty sweep")

	// A clean sweep within the grace keeps the token, and says until when.
	early := w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if !time.Now().Before(recorded) {
		t.Fatalf("the grace (until %s) passed before the clean sweep: the test cannot tell an early revocation", recorded)
	}
	if early.Outcome != "healthy" || early.GraceUntil == "" || len(early.Revoked) != 0 || early.GraceRecordDistrusted != "" || !w.isLiveToken(graced) {
		t.Fatalf("a clean sweep within the grace: %+v (graced token live: %v)", early, w.isLiveToken(graced))
	}
	until, err := time.Parse(time.RFC3339, early.GraceUntil)
	if err != nil {
		t.Fatal(err)
	}
	// The documented due time: the record, and never sooner than the
	// grace after the rotation completed (docs/fleet.md, "When it falls
	// due"); under load the rotation completes seconds after the record.
	if latest := w.graceDue(recorded, 20*time.Second); until.Before(recorded.Truncate(time.Second)) || until.After(latest.Add(time.Second)) {
		t.Fatalf("grace until %s, want the rotation's record %s (at most %s)", until, recorded, latest)
	}
	w.checkLiveTokens("after the clean sweep within the grace")

	time.Sleep(time.Until(until) + 100*time.Millisecond)
	due := w.sweep(`{"action":"sweep"}`).of(t, w.arn)
	if !slices.Equal(due.Revoked, []string{first.TokenPrefix}) || w.isLiveToken(graced) {
		t.Fatalf("a sweep after the grace: %+v; want the graced token %s revoked", due, first.TokenPrefix)
	}
	last := w.sweep(`{"action":"sweep"}`)
	if lr := last.of(t, w.arn); lr.Outcome != "healthy" || last.TokensRevoked != 0 || last.RotationsStarted != 0 || lr.GraceUntil != "" {
		t.Fatalf("after the due revocation, want nothing left to do: %+v", last)
	}
	if _, value := w.current(); value.TokenPrefix != second.TokenPrefix || !w.isLiveToken(value.Token.Reveal()) {
		t.Errorf("AWSCURRENT holds %s, want the second rotation's %s, live", value.TokenPrefix, second.TokenPrefix)
	}
	if live := w.liveTokens(); len(live) != 1 {
		t.Errorf("live tokens %v, want the current one", prefixes(live))
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// lambdaFaultProxy stands between the rotator and the local stack's Lambda
// API (which is served on the Secrets Manager port, before the emulator's
// own fault plan): each Invoke is observed by plan and fails as it says,
// or is passed on to the stack.
type lambdaFaultProxy struct {
	plan   faults.Plan
	target atomic.Pointer[url.URL]
	url    string
}

func newLambdaFaultProxy(t *testing.T) *lambdaFaultProxy {
	t.Helper()
	p := &lambdaFaultProxy{}
	forward := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(p.target.Load()) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, hit := p.plan.Observe("Invoke"); hit {
			f.Wait(r)
			if f.Drop {
				if !faults.DropConnection(w) {
					panic(http.ErrAbortHandler)
				}
				return
			}
			if f.Status != 0 {
				w.Header().Set("X-Amzn-ErrorType", "ServiceException")
				faults.WriteJSON(w, f.Status, map[string]string{"Type": "Service", "message": "injected fault"})
				return
			}
		}
		if p.target.Load() == nil {
			http.Error(w, "no stack yet", http.StatusServiceUnavailable)
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// invokeActionWithin is invokeAction with the invocation's timeout chosen.
func (w *world) invokeActionWithin(payload string, timeout time.Duration) ([]byte, error) {
	w.t.Helper()
	out, err := smemulator.Run(w.stack.Rotator, localstack.FunctionARN, []byte(payload), timeout)
	w.mu.Lock()
	w.invokeResults = append(w.invokeResults, string(out))
	if err != nil {
		w.invokeErrors = append(w.invokeErrors, err.Error())
	}
	w.mu.Unlock()
	return out, err
}

// errorLines are the rotator's error-level log lines with message msg.
func (w *world) errorLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(w.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["level"] == "ERROR" && line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

// A sweep with too little time for its one secret (a stale orphan to
// revoke, a token near expiry to rotate) hands it to a follow-up, and the
// Invoke that queues the follow-up meets the fault. The sweep still
// answers, with follow_up_error and an error-level line (or, were the
// Invoke retried, the follow-up runs); a clean sweep does the work.
func faultInFollowUp(t *testing.T, rule faults.Rule, persistent bool) {
	proxy := newLambdaFaultProxy(t)
	w := newWorld(t, withEnv("AWS_ENDPOINT_URL_LAMBDA", proxy.url, "ROTATION_SAFETY_MARGIN", "1s"))
	target, err := url.Parse(w.stack.SecretsManagerURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy.target.Store(target)
	w.mustSucceed(w.rotate())
	orphan := w.plantOrphan("00000000-0000-4000-8000-0000000000bb")
	w.stack.Aiven.Advance(25 * 24 * time.Hour) // the orphan is stale, the token near expiry
	before, _ := w.current()

	if err := proxy.plan.Add(rule); err != nil {
		t.Fatal(err)
	}
	// Two seconds left after the safety margin: less than a secret's
	// allowance, so the secret is not reached.
	out, err := w.invokeActionWithin(`{"action":"sweep"}`, 3*time.Second)
	if err != nil {
		t.Fatalf("the sweep failed as a whole on an Invoke fault: %v", err)
	}
	var res struct {
		sweepResult
		FollowUpError string `json:"follow_up_error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("sweep result %.400s: %v", out, err)
	}
	w.recordVersions()
	if res.Secrets != 1 || res.NotReached != 1 || res.Results[0].Outcome != "not_reached" {
		t.Fatalf("result %s; want the secret not reached", out)
	}
	if calls := proxy.plan.Calls()["Invoke"]; calls < 1 {
		t.Fatalf("the sweep made no Invoke call (result %s)", out)
	}
	if err := w.stack.WaitInvocations(w.ctx); err != nil {
		t.Fatal(err)
	}
	failed := w.errorLines("sweep not continued: the secrets not reached wait for the next scheduled sweep")
	switch {
	case res.FollowUpError != "" && res.FollowUpFrom == "":
		t.Logf("follow_up_error: %s", res.FollowUpError)
		if len(failed) != 1 || failed[0]["outcome"] != "follow_up_failed" || failed[0]["error"] != res.FollowUpError {
			t.Errorf("follow_up_error %q, but error-level lines %v; want one saying so", res.FollowUpError, failed)
		}
		if !strings.Contains(res.FollowUpError, "lambda Invoke") {
			t.Errorf("follow_up_error %q does not name the call", res.FollowUpError)
		}
		// Nobody swept the secret.
		if current, _ := w.current(); current != before || !w.isLive(orphan) {
			t.Errorf("the secret was swept although no follow-up was queued: AWSCURRENT %s (was %s), orphan live %v", current, before, w.isLive(orphan))
		}
	case res.FollowUpError == "" && res.FollowUpFrom == w.arn && !persistent:
		t.Logf("the Invoke was retried past a %s fault met once; the follow-up ran", rule.Operation)
		if len(failed) != 0 {
			t.Errorf("the follow-up was queued, yet an error-level line says not: %v", failed)
		}
		if w.isLive(orphan) {
			t.Error("the follow-up was queued but did not sweep the secret: the orphan is live")
		}
	default:
		t.Fatalf("result %s; want follow_up_error set (or, for a fault met once, the follow-up queued), not both or neither", out)
	}
	proxy.plan.Clear()
	w.checkLiveTokens("after the faulty sweep")
	if rotation := pendingOrCurrentRotation(w, before); rotation != "" {
		w.mustSucceed(rotation)
	}

	// A clean sweep, in time, finishes the work.
	second := w.sweep(`{"action":"sweep"}`)
	if rotation := second.of(t, w.arn).RotationStarted; rotation != "" {
		w.mustSucceed(rotation)
	}
	w.checkLiveTokens("after the clean sweep")
	last := w.sweep(`{"action":"sweep"}`)
	r := last.of(t, w.arn)
	if r.Outcome != "healthy" || last.TokensRevoked != 0 || last.RotationsStarted != 0 || last.NotReached != 0 || r.ExpiresInS == nil || *r.ExpiresInS < 29*86400 {
		t.Fatalf("after two sweeps, want nothing left to do: %+v", last)
	}
	if w.isLive(orphan) {
		t.Error("the orphan outlived two sweeps")
	}
	if after, value := w.current(); after == before || !w.isLiveToken(value.Token.Reveal()) {
		t.Errorf("AWSCURRENT %s (was %s): want a new, live token", after, before)
	}
	if live := w.liveTokens(); len(live) != 1 {
		t.Errorf("live tokens %v, want the current one (grace 0s)", prefixes(live))
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// faultInReplicaCheck fails the DescribeSecret of a replicated secret's
// due revocation (the sweep asks which version each replica serves): met
// once, the SDK's retry absorbs it and the caught-up replica lets the
// previous token go; persistent, the secret's entry is an error and the
// token stays live until a clean sweep, never revoked unchecked.
func faultInReplicaCheck(t *testing.T, rule faults.Rule, persistent bool) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "0s"))
	w.replicate()
	if _, err := w.stack.SecretsManager.HoldReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(w.rotate()) // finishSecret keeps the previous token
	if _, err := w.stack.SecretsManager.ReleaseReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	previous := w.user.Token

	res := w.faultySweep(w.stack.SecretsManager.Faults(), rule)
	r := res.of(t, w.arn)
	if persistent {
		if r.Outcome != "error" || !strings.Contains(r.Error, "replica") || !w.isLiveToken(previous) {
			t.Fatalf("a persistent %s fault: %+v; want the secret's error, the previous token live", rule.Operation, r)
		}
		w.checkLiveTokens("after the faulty sweep")
		if clean := w.sweep(`{"action":"sweep"}`).of(t, w.arn); len(clean.Revoked) != 1 || w.isLiveToken(previous) {
			t.Fatalf("the clean sweep after the fault: %+v", clean)
		}
	} else if r.Outcome == "error" || len(r.Revoked) != 1 || w.isLiveToken(previous) {
		t.Fatalf("a %s fault met once: %+v; want the replica checked and the previous token revoked", rule.Operation, r)
	}
	w.checkLiveTokens("after the sweeps")
	w.checkProblems()
}
