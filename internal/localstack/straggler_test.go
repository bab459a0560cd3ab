package localstack_test

// Issue 19: revocation that knows who still uses the previous token
// (docs/fleet.md, "Stragglers").

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// useAs calls Aiven's /v1/me with token, as a consumer that has not
// refreshed the secret would, with its own user agent.
func (w *world) useAs(token, userAgent string) {
	w.t.Helper()
	req, err := http.NewRequestWithContext(w.ctx, http.MethodGet, w.stack.AivenURL+"/v1/me", nil)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "aivenv1 "+token)
	req.Header.Set("User-Agent", userAgent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("a use of the token answered %d", resp.StatusCode)
	}
}

// A use of the previous token after its replacement became current is
// named by every sweep before the cut (a warning line with the last use's
// time, address and user agent, the result's straggler, SweepStragglers),
// and the revocation at the end of the grace names it too. The
// function's own use of the previous token (its createSecret) never
// counts, with Aiven's clock an hour ahead of the function's. A user
// agent is the caller's text: a token in it never reaches a line.
func TestStragglerNamedBeforeTheCut(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "3s"))
	w.stack.Aiven.Advance(time.Hour) // Aiven's clock ahead of the function's
	version := w.rotate()
	w.mustSucceed(version)
	_, current := w.current()

	quiet := w.sweep(`{"action":"sweep"}`)
	if quiet.Stragglers != 0 || quiet.Results[0].Straggler != nil {
		t.Fatalf("the function's own use of the previous token counted as a straggler: %+v", quiet.Results[0])
	}

	// Five minutes on, by Aiven's clock, a consumer still uses the old value.
	w.afterPromotion(5 * time.Minute)
	planted := "AVNU_" + strings.Repeat("Zq7x", 20)
	w.useAs(w.user.Token, "billing-batch/2.1 (+"+planted+")")
	named := w.sweep(`{"action":"sweep"}`)
	s := named.Results[0].Straggler
	if named.Stragglers != 1 || s == nil || s.PreviousTokenPrefix != w.user.TokenPrefix || s.LastIP == "" ||
		!strings.HasPrefix(s.LastUserAgent, "billing-batch/2.1") || strings.Contains(s.LastUserAgent, planted) {
		t.Fatalf("a sweep after the old value's use: stragglers %d, entry %+v", named.Stragglers, named.Results[0])
	}
	if !w.isLiveToken(w.user.Token) {
		t.Fatal("the straggler's token was revoked within its grace")
	}
	warn := w.logLinesWith("previous token still in use")
	if len(warn) == 0 || warn[0]["level"] != "WARN" || warn[0]["previous_token_prefix"] != w.user.TokenPrefix ||
		warn[0]["last_ip"] == "" || !strings.HasPrefix(asString(warn[0]["last_user_agent"]), "billing-batch/2.1") {
		t.Fatalf("no warning naming the straggler: %v", warn)
	}
	if !strings.Contains(w.logs.String(), `"SweepStragglers":1`) {
		t.Error("no sweep metric line with SweepStragglers 1")
	}

	until, err := time.Parse(time.RFC3339, named.Results[0].GraceUntil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(until) + 100*time.Millisecond) // the grace is wall-clock time
	cut := w.sweep(`{"action":"sweep"}`)
	if cut.TokensRevoked != 1 || w.isLiveToken(w.user.Token) || !w.isLiveToken(current.Token.Reveal()) {
		t.Fatalf("the sweep after the grace: %+v", cut)
	}
	if lines := w.logLinesWith("revoked at the end of its grace while still in use"); len(lines) != 1 || lines[0]["previous_token_prefix"] != w.user.TokenPrefix {
		t.Fatalf("the revocation's line does not name the straggler: %v", lines)
	}
	if strings.Contains(w.logs.String(), planted) {
		t.Fatal("the token planted in the user agent reached a log line")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// With PREVIOUS_TOKEN_MAX_GRACE, a previous token still in use is kept
// past its grace, until it stops being used (then revoked) or until the
// hard limit (then revoked all the same, with an error-level line naming
// its last user agent and address). A secret's value may shorten the
// stack's limit, never lengthen it.
func TestPreviousTokenKeptWhileInUse(t *testing.T) {
	t.Run("until it stops", func(t *testing.T) {
		w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "2s", "PREVIOUS_TOKEN_MAX_GRACE", "1h", "PREVIOUS_TOKEN_IDLE", "10m"))
		w.mustSucceed(w.rotate())
		w.afterPromotion(5 * time.Minute)
		w.useAs(w.user.Token, "cron-job/1")
		time.Sleep(2100 * time.Millisecond) // past the grace
		kept := w.sweep(`{"action":"sweep"}`)
		if kept.TokensRevoked != 0 || !kept.Results[0].PreviousKept || !w.isLiveToken(w.user.Token) {
			t.Fatalf("a straggler past its grace, in use: %+v", kept.Results[0])
		}
		// Idle for longer than PREVIOUS_TOKEN_IDLE: revoked.
		w.afterPromotion(11 * time.Minute)
		gone := w.sweep(`{"action":"sweep"}`)
		if gone.TokensRevoked != 1 || w.isLiveToken(w.user.Token) {
			t.Fatalf("a straggler idle past PREVIOUS_TOKEN_IDLE: %+v", gone.Results[0])
		}
		w.checkProblems()
		w.assertNoSecretsLeaked()
	})
	t.Run("until the hard limit, which a value may shorten", func(t *testing.T) {
		w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1s", "PREVIOUS_TOKEN_MAX_GRACE", "1h"))
		w.seedValue(`{"token":"` + w.user.Token + `","` + secret.FieldPreviousTokenMaxGrace + `":"3s"}`)
		w.mustSucceed(w.rotate())
		w.afterPromotion(5 * time.Minute)
		w.useAs(w.user.Token, "legacy-exporter/0.9")
		time.Sleep(1100 * time.Millisecond)
		kept := w.sweep(`{"action":"sweep"}`)
		if !kept.Results[0].PreviousKept || !w.isLiveToken(w.user.Token) {
			t.Fatalf("a straggler in use, within the value's hard limit: %+v", kept.Results[0])
		}
		until, err := time.Parse(time.RFC3339, kept.Results[0].GraceUntil)
		if err != nil || time.Until(until) > 3*time.Second {
			t.Fatalf("kept until %q: the value's 3s limit, not the stack's hour", kept.Results[0].GraceUntil)
		}
		time.Sleep(time.Until(until) + 100*time.Millisecond)
		w.useAs(w.user.Token, "legacy-exporter/0.9") // still in use at the limit
		cut := w.sweep(`{"action":"sweep"}`)
		if cut.TokensRevoked != 1 || w.isLiveToken(w.user.Token) {
			t.Fatalf("a straggler at its hard limit: %+v", cut.Results[0])
		}
		lines := w.logLinesWith("revoked at its hard limit while still in use")
		if len(lines) != 1 || lines[0]["level"] != "ERROR" || lines[0]["last_user_agent"] != "legacy-exporter/0.9" || lines[0]["last_ip"] == "" {
			t.Fatalf("no error line naming the straggler at the hard limit: %v", lines)
		}
		w.checkProblems()
		w.assertNoSecretsLeaked()
	})
	t.Run("the next rotation revokes a kept straggler", func(t *testing.T) {
		w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1h", "PREVIOUS_TOKEN_MAX_GRACE", "2h"))
		w.mustSucceed(w.rotate())
		w.afterPromotion(5 * time.Minute)
		w.useAs(w.user.Token, "still-here/1")
		w.mustSucceed(w.rotate()) // I2 checked after every step: never three live tokens
		if w.isLiveToken(w.user.Token) {
			t.Fatal("the next rotation left the straggler live beside two others")
		}
		lines := w.logLinesWith("revoked by the next rotation while still in use")
		if len(lines) != 1 || lines[0]["level"] != "ERROR" || lines[0]["last_user_agent"] != "still-here/1" {
			t.Fatalf("no error line naming the straggler the next rotation cut: %v", lines)
		}
		w.checkProblems()
		w.assertNoSecretsLeaked()
	})
}

// afterPromotion stands d after the rotation's promotion: Aiven's clock
// moves d on, and Secrets Manager's LastRotatedDate d back (the function's
// own clock cannot move), so that the promotion is d ago by both.
func (w *world) afterPromotion(d time.Duration) {
	w.t.Helper()
	if err := w.stack.SecretsManager.AgeRotation(w.arn, d); err != nil {
		w.t.Fatal(err)
	}
	w.stack.Aiven.Advance(d)
}

func asString(v any) string { s, _ := v.(string); return s }

// logLinesWith are the function's log lines whose message holds prefix.
func (w *world) logLinesWith(prefix string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(w.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && strings.Contains(asString(line["msg"]), prefix) {
			out = append(out, line)
		}
	}
	return out
}
