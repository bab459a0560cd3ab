package rotation

// Regression tests for the rotation-logic defects of issue 7 that the
// fakes show best; the concurrency ones run through the emulators, in
// internal/localstack.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// metricLines decodes every EMF line, by step.
func (w *world) metricLines(t *testing.T) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(w.metricsOut.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("metric line is not JSON: %s", l)
		}
		step, _ := m["Step"].(string)
		out[step] = append(out[step], m)
	}
	return out
}

// Defect 9c: testSecret compares principals by Aiven user id where the
// pending version records one, so an e-mail change between createSecret
// and testSecret is not a different principal.
func TestTestSecretComparesByUserID(t *testing.T) {
	w := newWorld(t)
	w.seedSecret(w.seedToken("laptop", true))
	w.startRotation("v1")
	r := w.rotator()
	if err := r.Handle(context.Background(), event(StepCreate, "v1")); err != nil {
		t.Fatal(err)
	}
	pending, err := secret.Parse(*w.versions["v1"].value)
	if err != nil {
		t.Fatal(err)
	}
	if pending.UserID != "u1" {
		t.Fatalf("createSecret wrote user_id %q, want the one /v1/me gave (u1)", pending.UserID)
	}
	// The user changed their e-mail address at Aiven meanwhile.
	for _, tok := range w.live() {
		tok.user = "renamed@example.com"
	}
	if err := r.Handle(context.Background(), event(StepTest, "v1")); err != nil {
		t.Fatalf("testSecret: %v; want the same user id to pass", err)
	}
}

// Defect 9a: when the current token's prefix cannot be known, the rotation
// goes on but says so loudly: an error-level log line and a metric. A
// stored token_prefix that does not begin the token is not used instead.
func TestPreviousTokenUnknownIsLoud(t *testing.T) {
	w := newWorld(t)
	seed := w.seedToken("laptop", true)
	bystander := w.prefixOf(w.seedToken("ci pipeline", true))
	w.seedSecret(`{"token":"` + seed + `","token_prefix":"` + bystander + `"}`)
	w.startRotation("v1")
	def := w.aivenFor
	hidden := w.prefixOf(seed)
	w.aivenFor = func(token string) *fakeTokens {
		f := def(token)
		inner := f.list
		f.list = func(ctx context.Context) ([]aiven.Token, error) {
			all, err := inner(ctx)
			var out []aiven.Token
			for _, t := range all {
				if t.Prefix != hidden {
					out = append(out, t)
				}
			}
			return out, err
		}
		return f
	}
	if err := w.rotate(w.rotator(), "v1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.live()[bystander]; !ok {
		t.Error("the token the stored token_prefix named was revoked")
	}
	var errorLines, warnLines int
	for _, l := range w.logLines(t) {
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
	m := w.metricLines(t)
	if got := m[StepCreate][0]["PreviousTokenUnknown"]; got != 1.0 {
		t.Errorf("createSecret metric PreviousTokenUnknown = %v, want 1", got)
	}
	if got := m[StepFinish][0]["PreviousTokenUnknown"]; got != 0.0 {
		t.Errorf("finishSecret metric PreviousTokenUnknown = %v, want 0", got)
	}
}

// Defect 9b: finishSecret checks the Aiven host policy before it moves
// AWSCURRENT: a secret whose api_url is no longer allowed stays as it was.
func TestFinishChecksTheHostPolicyBeforePromoting(t *testing.T) {
	w := newWorld(t)
	w.cfg.AllowedHosts = []string{"api.aiven.io", "eu.api.aiven.io"}
	w.seedSecret(`{"token":"` + w.seedToken("laptop", true) + `","api_url":"https://eu.api.aiven.io"}`)
	w.startRotation("v1")
	r := w.rotator()
	for _, step := range []string{StepCreate, StepSet, StepTest} {
		if err := r.Handle(context.Background(), event(step, "v1")); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	before := w.value(secretsmanager.StageCurrent)
	w.cfg.AllowedHosts = []string{"api.aiven.io"} // narrowed by a deploy mid-rotation
	err := w.rotator().Handle(context.Background(), event(StepFinish, "v1"))
	if err == nil || !strings.Contains(err.Error(), "eu.api.aiven.io") {
		t.Fatalf("err = %v, want the refused host named", err)
	}
	if w.value(secretsmanager.StageCurrent) != before || w.smCalls["UpdateSecretVersionStage"] != 0 {
		t.Error("AWSCURRENT moved although the new token cannot be used at its api_url")
	}
}

// Defect 10: a create that stopped because the deadline passed says so,
// with the number of attempts it made.
func TestCreateStoppedByTheDeadlineSaysSo(t *testing.T) {
	w := newWorld(t)
	w.seedSecret(w.seedToken("laptop", true))
	w.startRotation("v1")
	def := w.aivenFor
	w.aivenFor = func(token string) *fakeTokens {
		f := def(token)
		f.create = func(ctx context.Context, r aiven.CreateRequest) (aiven.NewToken, error) {
			<-ctx.Done() // the answer never comes before the deadline
			return aiven.NewToken{}, &aiven.AmbiguousError{Err: ctx.Err()}
		}
		return f
	}
	r := w.rotator()
	r.now = time.Now
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.SafetyMargin+100*time.Millisecond)
	defer cancel()
	err := r.Handle(ctx, event(StepCreate, "v1"))
	if err == nil || !strings.Contains(err.Error(), "stopped after 1 ambiguous attempt(s) of 3 because the step's deadline passed") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "gave up after 3") {
		t.Error("the error claims three attempts")
	}
}

// Defect 5: the one rule every sweep applies to a secret's tokens.
func TestSweepRule(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	marked := func(version string) string {
		m, _ := secret.NewMarker(testARN, version)
		return secret.Describe("bot", m)
	}
	other, _ := secret.NewMarker("arn:aws:secretsmanager:us-east-1:000000000000:secret:other-XyZ123", "v1")
	rule := sweepRule{
		secretHash:  secret.SecretHash(testARN),
		keepPrefix:  "KEEP00000000",
		ownVersion:  "v3",
		pending:     map[string]bool{"v3": true, "v4": true},
		now:         now,
		minStaleAge: staleAge,
	}
	old, young := now.Add(-staleAge-time.Second), now.Add(-staleAge+time.Second)
	tests := []struct {
		name string
		tok  aiven.Token
		want bool
	}{
		{"no marker, old", aiven.Token{Prefix: "P1", Description: "hand made", CreateTime: old}, false},
		{"another secret's marker, old", aiven.Token{Prefix: "P2", Description: secret.Describe("", other), CreateTime: old}, false},
		{"the token kept", aiven.Token{Prefix: "KEEP00000000", Description: marked("v3"), CreateTime: old}, false},
		{"the caller's token", aiven.Token{Prefix: "P3", Description: marked("v1"), CreateTime: old, CurrentlyActive: true}, false},
		{"own version's orphan, young", aiven.Token{Prefix: "P4", Description: marked("v3"), CreateTime: now}, true},
		{"a pending version's token, old", aiven.Token{Prefix: "P5", Description: marked("v4"), CreateTime: old}, false},
		{"an earlier version's token, young", aiven.Token{Prefix: "P6", Description: marked("v1"), CreateTime: young}, false},
		{"an earlier version's token, creation time unknown", aiven.Token{Prefix: "P7", Description: marked("v1")}, false},
		{"an earlier version's token, old", aiven.Token{Prefix: "P8", Description: marked("v1"), CreateTime: old}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rule.revocable(tt.tok); got != tt.want {
				t.Errorf("revocable = %v, want %v", got, tt.want)
			}
		})
	}
	fleet := rule
	fleet.ownVersion, fleet.keepPrefix = "", "KEEP00000000"
	if fleet.revocable(aiven.Token{Prefix: "P9", Description: marked("v3"), CreateTime: old}) {
		t.Error("without a version of its own, the rule revoked a pending version's token")
	}
}
