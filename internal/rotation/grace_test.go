package rotation_test

import (
	"strings"
	"testing"
	"time"
)

// With a grace, createSecret records when the replaced token may go,
// finishSecret keeps it, and the next createSecret revokes it before it
// makes a third token, due or not. The rotator's clock is fixed, so the
// record is exact.
func TestGraceRecordedKeptAndEndedByTheNextRotation(t *testing.T) {
	w := newWorld(t, worldConfig{env: map[string]string{"PREVIOUS_TOKEN_GRACE": "24h"}})
	now := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	w.r.SetClock(func() time.Time { return now })
	if err := w.rotate(v1); err != nil {
		t.Fatal(err)
	}
	current := w.value(stageCurrent)
	if got := field(current, "previous_token_revoke_after"); got != "2026-12-02T20:00:00Z" {
		t.Fatalf("previous_token_revoke_after %q, want createSecret's time plus 24h", got)
	}
	first := field(current, "token_prefix")
	if _, ok := w.live()[w.user.TokenPrefix]; !ok {
		t.Fatal("finishSecret revoked the previous token within its grace")
	}
	if n := len(w.live()); n != 2 {
		t.Fatalf("%d live tokens after a graced rotation, want 2", n)
	}
	// finishSecret run again keeps it too (its revocation duty is the grace's).
	if err := w.step("finishSecret", v1); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.live()[w.user.TokenPrefix]; !ok {
		t.Fatal("a repeated finishSecret revoked the previous token within its grace")
	}

	w.startRotation(v2)
	if err := w.step("createSecret", v2); err != nil {
		t.Fatal(err)
	}
	live := w.live()
	if _, ok := live[w.user.TokenPrefix]; ok {
		t.Fatal("createSecret made a third token with the graced one still live")
	}
	if _, ok := live[first]; !ok || len(live) != 2 {
		t.Fatalf("after createSecret: live %v, want the current token and the new one", keys(live))
	}
	if !strings.Contains(w.logs.String(), "the token kept for a grace period since the last rotation") {
		t.Error("createSecret did not say it ended the grace early")
	}
	for _, s := range []string{"setSecret", "testSecret", "finishSecret"} {
		if err := w.step(s, v2); err != nil {
			t.Fatal(err)
		}
	}
	if live := w.live(); len(live) != 2 {
		t.Fatalf("after the second rotation: live %v, want two", keys(live))
	}
}

// A grace of 0s writes no record, and finishSecret revokes at once.
func TestZeroGraceRevokesAtOnce(t *testing.T) {
	w := newWorld(t, worldConfig{env: map[string]string{"PREVIOUS_TOKEN_GRACE": "0s"}})
	if err := w.rotate(v1); err != nil {
		t.Fatal(err)
	}
	if got := field(w.value(stageCurrent), "previous_token_revoke_after"); got != "" {
		t.Fatalf("previous_token_revoke_after %q with no grace", got)
	}
	if _, ok := w.live()[w.user.TokenPrefix]; ok || len(w.live()) != 1 {
		t.Fatalf("live %v, want only the new token", keys(w.live()))
	}
}

// A bad grace or expiry field fails createSecret with an error naming the
// field, before any token is made.
func TestMalformedGraceFields(t *testing.T) {
	w := newWorld(t, worldConfig{secret: `{"token":"$TOKEN","rotate_before_expiry":"a week"}`})
	err := w.step("createSecret", v1)
	if err == nil || !strings.Contains(err.Error(), `"rotate_before_expiry"`) || strings.Contains(err.Error(), "a week") {
		t.Fatalf("createSecret: %v; want an error naming rotate_before_expiry, not its value", err)
	}
	if len(w.live()) != 1 {
		t.Fatal("createSecret made a token before refusing the value")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
