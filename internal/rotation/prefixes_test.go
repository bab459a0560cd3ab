package rotation_test

// Regression tests of the review of 20:05 UTC (findings 1, 2, 5 and 9),
// against the emulators.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// aivenPaths records the escaped path of every request the rotator sends
// to Aiven from now on.
func (w *world) aivenPaths() func() []string {
	var mu sync.Mutex
	var paths []string
	w.aivenAnswer = func(r *http.Request) (int, string, bool) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.EscapedPath())
		mu.Unlock()
		return 0, "", false
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

// checkRevocationPaths fails the test when a DELETE was sent by anything
// but a 12-character prefix.
func checkRevocationPaths(t *testing.T, paths []string) {
	t.Helper()
	for _, p := range paths {
		method, path, _ := strings.Cut(p, " ")
		if method != http.MethodDelete {
			continue
		}
		last := path[strings.LastIndex(path, "/")+1:]
		if n := len(strings.ReplaceAll(strings.ReplaceAll(last, "%2F", "/"), "%2B", "+")); n != secret.PrefixLength {
			t.Errorf("I4: DELETE by a %d-character path segment (%.40s...)", n, path)
		}
	}
}

// stepMetric is the last EMF line of step.
func (w *world) stepMetric(step string) map[string]any {
	var last map[string]any
	for _, m := range w.metricLines() {
		if m["Step"] == step {
			last = m
		}
	}
	return last
}

// Finding 1: finishSecret for a version already AWSCURRENT that
// createSecret never wrote (a seeded value) does not act on its stored
// previous_token_prefix, nor on a token_prefix that is not its token's:
// the version's token carries no marker of this rotation.
func TestFinishHonoursPreviousTokenPrefixOnlyFromThisRotation(t *testing.T) {
	t.Run("an unmarked token of the user is not revoked, and that is reported", func(t *testing.T) {
		var ciPrefix string
		w := newWorld(t, worldConfig{secretFn: func(w *world) string {
			_, ciPrefix = w.createToken("CI pipeline, no marker")
			return fmt.Sprintf(`{"token":%q,"token_prefix":%q,"previous_token_prefix":%q}`, w.user.Token, w.user.TokenPrefix, ciPrefix)
		}})
		cur, _ := w.stack.SecretsManager.VersionByStage(w.arn, stageCurrent)
		if err := w.step(rotation.StepFinish, cur.VersionID); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.live()[ciPrefix]; !ok {
			t.Fatalf("finishSecret revoked %s, a token without this secret's marker, on the word of a stored field", ciPrefix)
		}
		if _, ok := w.live()[w.user.TokenPrefix]; !ok {
			t.Fatal("I1: the AWSCURRENT token was revoked")
		}
		warned := false
		for _, l := range w.logLines() {
			warned = warned || l["level"] == "WARN" && l["outcome"] == "previous_token_not_revoked" && l["stored_previous_token_prefix"] == ciPrefix
		}
		if !warned {
			t.Errorf("no warning that previous_token_prefix was not honoured:\n%s", w.logs.String())
		}
		if got := w.stepMetric(rotation.StepFinish)["PreviousTokenUnknown"]; got != 1.0 {
			t.Errorf("finishSecret metric PreviousTokenUnknown = %v, want 1", got)
		}
	})
	t.Run("a token_prefix that is not the token's is a format error", func(t *testing.T) {
		w := newWorld(t, worldConfig{secretFn: func(w *world) string {
			return fmt.Sprintf(`{"token":%q,"token_prefix":"zzzzzzzzzzzz","previous_token_prefix":%q}`, w.user.Token, w.user.TokenPrefix)
		}})
		cur, _ := w.stack.SecretsManager.VersionByStage(w.arn, stageCurrent)
		err := w.step(rotation.StepFinish, cur.VersionID)
		var fe *secret.FieldError
		if !errors.As(err, &fe) || fe.Field != "token_prefix" || lambdaErrorType(err) != "SecretFormatError" {
			t.Fatalf("finishSecret: %v (%T), want a SecretFormatError naming token_prefix", err, err)
		}
		if _, ok := w.live()[w.user.TokenPrefix]; !ok {
			t.Fatal("I1: finishSecret revoked the token AWSCURRENT holds")
		}
		if n := w.aivenCalls()["AccessTokenRevoke"]; n != 0 {
			t.Errorf("%d revocations", n)
		}
	})
	t.Run("a whole token as previous_token_prefix goes into no URL", func(t *testing.T) {
		var other, otherPrefix string
		w := newWorld(t, worldConfig{secretFn: func(w *world) string {
			other, otherPrefix = w.createToken("other")
			return fmt.Sprintf(`{"token":%q,"token_prefix":%q,"previous_token_prefix":%q}`, w.user.Token, w.user.TokenPrefix, other)
		}})
		paths := w.aivenPaths()
		cur, _ := w.stack.SecretsManager.VersionByStage(w.arn, stageCurrent)
		if err := w.step(rotation.StepFinish, cur.VersionID); err != nil {
			t.Fatal(err)
		}
		checkRevocationPaths(t, paths())
		if _, ok := w.live()[otherPrefix]; !ok {
			t.Error("the token the field held was revoked")
		}
		for name, out := range map[string]string{"log": w.logs.String(), "metrics": w.metrics.String()} {
			if strings.Contains(out, other[20:60]) {
				t.Errorf("I4: the %s holds the token", name)
			}
		}
	})
	t.Run("a rotation's own previous_token_prefix is still honoured", func(t *testing.T) {
		w := newWorld(t, worldConfig{})
		if err := w.rotate(v1); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.live()[w.user.TokenPrefix]; ok {
			t.Error("I2: the replaced token is still live")
		}
		if got := w.stepMetric(rotation.StepFinish)["PreviousTokenUnknown"]; got != 0.0 {
			t.Errorf("finishSecret metric PreviousTokenUnknown = %v, want 0", got)
		}
	})
}

// Finding 2: when Aiven's listing does not show the current token, a
// stored token_prefix is used only when it is the token's first 12
// characters; one that merely begins it (a character, the whole token) is
// not used, the prefix is reported unknown, and no URL carries the token.
func TestStoredTokenPrefixMustBeTheTokensFirstTwelveCharacters(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix func(token string) string
	}{
		{"one character", func(tok string) string { return tok[:1] }},
		{"eleven characters", func(tok string) string { return tok[:11] }},
		{"thirteen characters", func(tok string) string { return tok[:13] }},
		{"the whole token", func(tok string) string { return tok }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{secretFn: func(w *world) string {
				return `{"token":"` + w.user.Token + `","token_prefix":"` + tc.prefix(w.user.Token) + `"}`
			}})
			w.hideFromList = func(p string) bool { return p == w.user.TokenPrefix }
			paths := w.aivenPaths()
			if err := w.rotate(v1); err != nil {
				t.Fatal(err)
			}
			checkRevocationPaths(t, paths())
			if got := field(w.value(stageCurrent), "previous_token_prefix"); got != "" {
				t.Errorf("previous_token_prefix %.20q written, want none", got)
			}
			if got := w.stepMetric(rotation.StepCreate)["PreviousTokenUnknown"]; got != 1.0 {
				t.Errorf("createSecret metric PreviousTokenUnknown = %v, want 1", got)
			}
			if !strings.Contains(w.logs.String(), `"outcome":"previous_token_unknown"`) {
				t.Error("the unknown prefix was not logged")
			}
		})
	}
	t.Run("the token's first twelve characters are used", func(t *testing.T) {
		w := newWorld(t, worldConfig{secretFn: func(w *world) string {
			return `{"token":"` + w.user.Token + `","token_prefix":"` + w.user.TokenPrefix + `"}`
		}})
		w.hideFromList = func(p string) bool { return p == w.user.TokenPrefix }
		if err := w.rotate(v1); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.live()[w.user.TokenPrefix]; ok {
			t.Error("I2: the replaced token is still live")
		}
	})
}

// Finding 9: a new token revoked between testSecret and finishSecret is
// not promoted: the listing finishSecret makes before the move gets 401,
// and the step fails with the pending token's message, touching nothing.
func TestFinishDoesNotPromoteADeadToken(t *testing.T) {
	w := newWorld(t, worldConfig{})
	for _, s := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest} {
		if err := w.step(s, v1); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := w.stack.SecretsManager.VersionByStage(w.arn, stageCurrent)
	w.revoke(w.user.Token, field(w.value(stagePending), "token_prefix"))
	w.resetCalls()
	err := w.step(rotation.StepFinish, v1)
	if err == nil || lambdaErrorType(err) != "AivenUnauthorized" || !strings.Contains(err.Error(), "rejected the pending token (401)") {
		t.Fatalf("finishSecret: %v, want AivenUnauthorized about the pending token", err)
	}
	if after, _ := w.stack.SecretsManager.VersionByStage(w.arn, stageCurrent); after.VersionID != before.VersionID {
		t.Fatalf("I1: AWSCURRENT moved to %s, whose token Aiven no longer accepts", after.VersionID)
	}
	if n := w.smCalls()["UpdateSecretVersionStage"]; n != 0 {
		t.Errorf("%d UpdateSecretVersionStage calls", n)
	}
	if _, ok := w.live()[w.user.TokenPrefix]; !ok {
		t.Error("the current token was revoked")
	}
}

// Finding 5: the EMF line never carries an unscrubbed event field: the
// secret's ARN from DescribeSecret when the guard got that far, else the
// event's SecretId scrubbed as log lines are.
func TestMetricLineCarriesNoEventField(t *testing.T) {
	t.Run("a token as SecretId", func(t *testing.T) {
		w := newWorld(t, worldConfig{})
		b, _ := json.Marshal(map[string]string{"Step": rotation.StepCreate, "SecretId": w.user.Token, "ClientRequestToken": v1})
		if err := w.r.Handle(w.ctx, b); err == nil {
			t.Fatal("step succeeded")
		}
		m := w.stepMetric(rotation.StepCreate)
		if m == nil {
			t.Fatal("no metric line")
		}
		if strings.Contains(w.metrics.String(), w.user.Token[20:40]) {
			t.Fatalf("I4: the EMF metric line holds the token:\n%.300s", w.metrics.String())
		}
	})
	t.Run("the secret's own ARN when DescribeSecret answered", func(t *testing.T) {
		w := newWorld(t, worldConfig{noRotation: true})
		b, _ := json.Marshal(map[string]string{"Step": rotation.StepCreate, "SecretId": "prod/aiven", "ClientRequestToken": v1})
		if err := w.r.Handle(w.ctx, b); err == nil {
			t.Fatal("step succeeded")
		}
		if got := w.stepMetric(rotation.StepCreate)["SecretArn"]; got != w.arn {
			t.Errorf("SecretArn %v, want %s", got, w.arn)
		}
	})
}

// The same rule for the next rotation: createSecret revokes the token the
// current version kept for a grace period (its previous_token_prefix)
// before it makes a third, but only when createSecret of that rotation
// wrote the record. A seeded value naming an unmarked token of the user
// gets it left alone.
func TestCreateHonoursAGraceRecordOnlyFromARotation(t *testing.T) {
	var ciPrefix string
	w := newWorld(t, worldConfig{secretFn: func(w *world) string {
		_, ciPrefix = w.createToken("CI pipeline, no marker")
		return fmt.Sprintf(`{"token":%q,"token_prefix":%q,"previous_token_prefix":%q,"previous_token_revoke_after":"2000-01-01T00:00:00Z"}`, w.user.Token, w.user.TokenPrefix, ciPrefix)
	}})
	w.startRotation(v1)
	if err := w.step(rotation.StepCreate, v1); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.live()[ciPrefix]; !ok {
		t.Fatalf("createSecret revoked %s, a token without this secret's marker, as a graced token on the word of a stored field", ciPrefix)
	}
}
