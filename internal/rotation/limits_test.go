package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
)

// pendingAs runs createSecret for v1, then stores what edit makes of its
// value as a new pending version v2 (PutSecretValue moves AWSPENDING to
// it), as a pending version written by someone else would be. It returns
// v1's value as createSecret wrote it.
func (w *world) pendingAs(edit func(v map[string]any)) map[string]any {
	w.t.Helper()
	if err := w.step(rotation.StepCreate, v1); err != nil {
		w.t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(w.value(stagePending)), &v); err != nil {
		w.t.Fatal(err)
	}
	orig := map[string]any{}
	for k, x := range v {
		orig[k] = x
	}
	edit(v)
	b, _ := json.Marshal(v)
	if _, err := w.sm.PutSecretValue(w.ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(w.arn), ClientRequestToken: aws.String(v2),
		SecretString: aws.String(string(b)), VersionStages: []string{stagePending},
	}); err != nil {
		w.t.Fatal(err)
	}
	return orig
}

func TestTestSecretRefusals(t *testing.T) {
	tests := []struct {
		name string
		edit func(w *world, v map[string]any)
		want string
	}{
		{name: "another principal", want: "belongs to", edit: func(w *world, v map[string]any) {
			v["user"] = "someone@else.example"
			delete(v, "user_id")
		}},
		{name: "another user id with the same e-mail", want: `belongs to user id "`, edit: func(w *world, v map[string]any) {
			v["user_id"] = "u2"
		}},
		{name: "expired", want: "expired at 2025-05-01T00:00:00Z", edit: func(w *world, v map[string]any) {
			v["expiry_time"] = "2025-05-01T00:00:00Z"
		}},
		{name: "pending token revoked", want: "rejected the pending token", edit: func(w *world, v map[string]any) {
			w.revoke(w.user.Token, v["token_prefix"].(string))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{})
			w.pendingAs(func(v map[string]any) { tt.edit(w, v) })
			err := w.step(rotation.StepTest, v2)
			wantErr(t, err, tt.want)
			if tt.name == "another user id with the same e-mail" && !strings.Contains(err.Error(), w.user.UserID) {
				t.Errorf("error %q does not name the user id Aiven gave", err)
			}
		})
	}
}

// Defect 9c of issue 7: testSecret compares principals by Aiven user id
// where the pending version records one, so an e-mail change between
// createSecret and testSecret is not a different principal.
func TestTestSecretComparesByUserID(t *testing.T) {
	w := newWorld(t, worldConfig{})
	orig := w.pendingAs(func(v map[string]any) { v["user"] = "renamed@example.com" })
	if orig["user_id"] != w.user.UserID {
		t.Fatalf("createSecret wrote user_id %v, want the one /v1/me gave (%s)", orig["user_id"], w.user.UserID)
	}
	if err := w.step(rotation.StepTest, v2); err != nil {
		t.Fatalf("testSecret: %v; want the same user id to pass", err)
	}
}

func TestDeadline(t *testing.T) {
	t.Run("too little time left touches nothing", func(t *testing.T) {
		w := newWorld(t, worldConfig{env: map[string]string{"ROTATION_SAFETY_MARGIN": "1h"}})
		ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
		defer cancel()
		err := w.r.Handle(ctx, event(w.arn, rotation.StepCreate, v1))
		wantErr(t, err, "safety margin")
		if total(w.smCalls()) != 0 || total(w.aivenCalls()) != 0 {
			t.Error("touched something")
		}
	})
	t.Run("calls get the deadline minus the margin", func(t *testing.T) {
		// An invocation of a minute with a margin of all but 300ms: the
		// list Aiven holds for longer must be cut at the step's own
		// deadline, while the invocation's context still runs.
		w := newWorld(t, worldConfig{env: map[string]string{"ROTATION_SAFETY_MARGIN": "59.7s"}})
		w.aivenFault(faults.Rule{Operation: "AccessTokenList", DelayMS: 30000})
		ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
		defer cancel()
		err := w.r.Handle(ctx, event(w.arn, rotation.StepCreate, v1))
		wantErr(t, err, "deadline")
		if ctx.Err() != nil {
			t.Fatal("the step ran to the invocation's deadline, not to the one before its margin")
		}
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "invocation deadline") {
			t.Errorf("err = %v, want the deadline named", err)
		}
		if w.smCalls()["PutSecretValue"] != 0 || len(w.rotatorTokens()) != 0 {
			t.Error("the cut step changed something")
		}
	})
}

// Defect 10 of issue 7: a create that stopped because the deadline passed
// says so, with the number of attempts it made. Aiven holds the create
// past the step's deadline.
func TestCreateStoppedByTheDeadlineSaysSo(t *testing.T) {
	w := newWorld(t, worldConfig{env: map[string]string{"ROTATION_SAFETY_MARGIN": "200ms"}})
	w.aivenFault(faults.Rule{Operation: "AccessTokenCreate", DelayMS: 30000})
	ctx, cancel := context.WithTimeout(w.ctx, 500*time.Millisecond)
	defer cancel()
	err := w.r.Handle(ctx, event(w.arn, rotation.StepCreate, v1))
	wantErr(t, err, "stopped after 1 ambiguous attempt(s) of 3 because the step's deadline passed")
	if strings.Contains(err.Error(), "gave up after 3") {
		t.Error("the error claims three attempts")
	}
}

// Defect 9b of issue 7: finishSecret checks the Aiven host policy before
// it moves AWSCURRENT: a secret whose api_url is no longer allowed stays as
// it was.
func TestFinishChecksTheHostPolicyBeforePromoting(t *testing.T) {
	w := newWorld(t, worldConfig{secret: `{"token":"$TOKEN","api_url":"$AIVEN"}`})
	for _, s := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest} {
		if err := w.step(s, v1); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	before := w.value(stageCurrent)
	// A deploy mid-rotation narrowed the allowed hosts.
	w.r = w.rotator(map[string]string{"ALLOWED_API_HOSTS": "api.aiven.io", "AIVEN_WEB_URL": "https://api.aiven.io"})
	w.resetCalls()
	wantErr(t, w.step(rotation.StepFinish, v1), "127.0.0.1")
	if w.value(stageCurrent) != before || w.smCalls()["UpdateSecretVersionStage"] != 0 {
		t.Error("AWSCURRENT moved although the new token cannot be used at its api_url")
	}
	if total(w.aivenCalls()) != 0 {
		t.Error("a token reached a host no longer allowed")
	}
}

func TestNoSecretInLogsOrErrors(t *testing.T) {
	w := newWorld(t, worldConfig{secret: `{"token":"$TOKEN","note":"kept"}`})
	if err := w.rotate(v1); err != nil {
		t.Fatal(err)
	}
	w.startRotation(v2)
	if err := w.rotate(v2); err != nil {
		t.Fatal(err)
	}
	// Failures too: a put that fails, tokens rejected.
	var errs []string
	w.startRotation(v3)
	w.smFault(faults.Rule{Operation: "PutSecretValue", Status: 400})
	if err := w.step(rotation.StepCreate, v3); err != nil {
		errs = append(errs, err.Error())
	}
	cur := w.value(stageCurrent)
	for p := range w.live() {
		if p != field(cur, "token_prefix") {
			w.revoke(field(cur, "token"), p)
		}
	}
	w.revoke(field(cur, "token"), field(cur, "token_prefix"))
	for _, s := range []string{rotation.StepCreate, rotation.StepTest, rotation.StepFinish} {
		if err := w.step(s, v3); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) < 3 {
		t.Fatalf("expected failures, got %v", errs)
	}
	values := append(w.tokens.all(), rotationToken)
	if len(values) < 4 {
		t.Fatalf("only %d token values seen", len(values))
	}
	all := w.logs.String() + "\n" + w.metrics.String() + "\n" + strings.Join(errs, "\n")
	for _, v := range values {
		if strings.Contains(all, v) || strings.Contains(all, v[15:35]) || strings.Contains(all, v[len(v)-20:]) {
			t.Errorf("a secret value reached the logs, metrics or errors")
		}
	}
	if !strings.Contains(w.logs.String(), `"step":"finishSecret"`) {
		t.Error("no log lines captured")
	}
}

// Defect 9a of issue 7: when the current token's prefix cannot be known,
// the rotation goes on but says so loudly: an error-level log line and a
// metric. A stored token_prefix that does not begin the token is not used
// instead. Aiven's list always shows the calling token; here the wire
// loses it, the one way its prefix can go missing.
func TestPreviousTokenUnknownIsLoud(t *testing.T) {
	var bystander string
	w := newWorld(t, worldConfig{secretFn: func(w *world) string {
		_, bystander = w.createToken("ci pipeline")
		return `{"token":"` + w.user.Token + `","token_prefix":"` + bystander + `"}`
	}})
	w.hideFromList = func(p string) bool { return p == w.user.TokenPrefix }
	if err := w.rotate(v1); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.live()[bystander]; !ok {
		t.Error("the token the stored token_prefix named was revoked")
	}
	var errorLines, warnLines int
	for _, l := range w.logLines() {
		switch {
		case l["level"] == "ERROR" && l["outcome"] == "previous_token_unknown":
			errorLines++
		case l["level"] == "WARN" && l["stored_token_prefix"] == bystander:
			warnLines++
		}
	}
	if errorLines != 1 || warnLines != 1 {
		t.Errorf("%d error-level lines about the unknown prefix (want 1), %d warnings about the stored token_prefix (want 1)", errorLines, warnLines)
	}
	byStep := map[string]map[string]any{}
	for _, m := range w.metricLines() {
		step, _ := m["Step"].(string)
		byStep[step] = m
	}
	if got := byStep[rotation.StepCreate]["PreviousTokenUnknown"]; got != 1.0 {
		t.Errorf("createSecret metric PreviousTokenUnknown = %v, want 1", got)
	}
	if got := byStep[rotation.StepFinish]["PreviousTokenUnknown"]; got != 0.0 {
		t.Errorf("finishSecret metric PreviousTokenUnknown = %v, want 0", got)
	}
}

// An Aiven error whose own JSON message quotes a token (one no step knows
// of, so redact cannot cut it) leaks it neither into the log nor into the
// step's error. (That the rotator's scrubber, behind the client's own
// guard, also cuts one is TestRotatorLogsAreScrubbed, on the fake.)
func TestAivenErrorQuotingATokenLeaksNothing(t *testing.T) {
	w := newWorld(t, worldConfig{})
	stranger, _ := w.createToken("someone else's")
	w.aivenAnswer = func(r *http.Request) (int, string, bool) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/access_token" {
			return 0, "", false
		}
		return http.StatusBadRequest, `{"message":"invalid token ` + stranger + `","errors":[{"message":"invalid token","status":400}]}`, true
	}
	err := w.step(rotation.StepCreate, v1)
	if err == nil {
		t.Fatal("createSecret succeeded")
	}
	for name, out := range map[string]string{"log": w.logs.String(), "error": err.Error()} {
		for i := 0; i+16 <= len(stranger); i++ {
			if strings.Contains(out, stranger[i:i+16]) {
				t.Fatalf("the %s holds %q of a token:\n%s", name, stranger[i:i+16], out)
			}
		}
	}
	if !strings.Contains(w.logs.String(), `"step":"createSecret"`) {
		t.Fatalf("the step's failure was not logged:\n%s", w.logs.String())
	}
}
