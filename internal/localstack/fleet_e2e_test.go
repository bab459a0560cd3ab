package localstack_test

// Issue 12 end to end: the grace period, the sweep, on-demand rotation and
// the action events, through both emulators with the real SDK and Aiven's
// client, the rotator invoked as Lambda invokes it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	aivenclient "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/user"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// sweepResult is the sweep's JSON result as a person reads it.
type sweepResult struct {
	Action           string       `json:"action"`
	DryRun           bool         `json:"dry_run"`
	Secrets          int          `json:"secrets"`
	Healthy          int          `json:"healthy"`
	TokenInvalid     int          `json:"token_invalid"`
	Healed           int          `json:"healed"`
	RotationsStarted int          `json:"rotations_started"`
	TokensRevoked    int          `json:"tokens_revoked"`
	Errors           int          `json:"errors"`
	NotReached       int          `json:"not_reached"`
	SoonestExpiryS   *int64       `json:"soonest_expiry_s"`
	OldestTokenAgeS  *int64       `json:"oldest_token_age_s"`
	GraceDistrusted  int          `json:"grace_records_distrusted"`
	Stuck            int          `json:"stuck"`
	Stragglers       int          `json:"stragglers"`
	ReplicaLag       int          `json:"replica_lag"`
	FollowUpFrom     string       `json:"follow_up_from"`
	Results          []sweptEntry `json:"results"`
}

type sweptEntry struct {
	Secret                string   `json:"secret"`
	Outcome               string   `json:"outcome"`
	TokenPrefix           string   `json:"token_prefix"`
	TokenAgeS             *int64   `json:"token_age_s"`
	ExpiresInS            *int64   `json:"expires_in_s"`
	GraceUntil            string   `json:"previous_token_grace_until"`
	Revoked               []string `json:"revoked"`
	WouldRevoke           []string `json:"would_revoke"`
	RotationStarted       string   `json:"rotation_started"`
	WouldRotate           bool     `json:"would_rotate"`
	RotationInProgress    bool     `json:"rotation_in_progress"`
	GraceRecordDistrusted string   `json:"grace_record_distrusted"`
	StuckVersion          string   `json:"stuck_version"`
	Recovered             bool     `json:"recovered"`
	Error                 string   `json:"error"`
	PreviousKept          bool     `json:"previous_token_kept"`
	ReplicaWait           string   `json:"replica_wait"`
	ReplicaOverdue        bool     `json:"replica_overdue"`
	Straggler             *struct {
		PreviousTokenPrefix string `json:"previous_token_prefix"`
		LastUsedTime        string `json:"last_used_time"`
		LastIP              string `json:"last_ip"`
		LastUserAgent       string `json:"last_user_agent"`
	} `json:"straggler"`
}

func withEnv(kv ...string) worldOption {
	return func(c *localstack.Config) {
		if c.RotatorEnv == nil {
			c.RotatorEnv = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			c.RotatorEnv[kv[i]] = kv[i+1]
		}
	}
}

// invokeAction runs the rotator with payload as Lambda does: the function's ARN
// in the context, a deadline.
func (w *world) invokeAction(payload string) ([]byte, error) {
	w.t.Helper()
	out, err := smemulator.Run(w.stack.Rotator, localstack.FunctionARN, []byte(payload), time.Minute)
	w.mu.Lock()
	w.invokeResults = append(w.invokeResults, string(out))
	if err != nil {
		w.invokeErrors = append(w.invokeErrors, err.Error())
	}
	w.mu.Unlock()
	return out, err
}

func (w *world) sweep(payload string) sweepResult {
	w.t.Helper()
	out, err := w.invokeAction(payload)
	if err != nil {
		w.t.Fatalf("sweep %s: %v", payload, err)
	}
	var res sweepResult
	if err := json.Unmarshal(out, &res); err != nil {
		w.t.Fatalf("sweep result %.400s: %v", out, err)
	}
	w.recordVersions()
	return res
}

func (w *world) aivenAs(token string) aivenclient.Client {
	w.t.Helper()
	c, err := aivenclient.NewClient(aivenclient.TokenOpt(token), aivenclient.HostOpt(w.stack.AivenURL), aivenclient.RetryMaxOpt(0), aivenclient.DebugOpt(false))
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// plantOrphan makes a token carrying this secret's marker for a version
// that is not (or no longer) pending, as an interrupted rotation leaves.
func (w *world) plantOrphan(version string) string {
	w.t.Helper()
	m, err := secret.NewMarker(w.arn, version)
	if err != nil {
		w.t.Fatal(err)
	}
	_, value := w.current()
	out, err := w.aivenAs(value.Token.Reveal()).AccessTokenCreate(w.ctx, &user.AccessTokenCreateIn{Description: secret.Describe("interrupted", m)})
	if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.tokens[out.TokenPrefix] = out.FullToken
	w.mu.Unlock()
	return out.TokenPrefix
}

func (w *world) isLiveToken(token string) bool { return w.stack.Aiven.Authenticates(token) }

// The previous token outlives the rotation by its grace, the sweep revokes
// it once due and not before, and a second sweep finds nothing to do.
func TestGracePeriodEndsAtTheFirstSweepAfterItIsDue(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1s"))
	version := w.rotate()
	w.mustSucceed(version)
	_, value := w.current()
	recorded, graced, err := value.RevokeAfter()
	if err != nil || !graced {
		t.Fatalf("AWSCURRENT records no grace: %v", err)
	}
	if !w.isLiveToken(w.user.Token) || !w.isLiveToken(value.Token.Reveal()) {
		t.Fatal("after the rotation, want both the previous and the current token live")
	}

	early := w.sweep(`{"action":"sweep"}`)
	if early.Secrets != 1 || early.Healthy != 1 || early.TokensRevoked != 0 || early.Results[0].GraceUntil == "" {
		t.Fatalf("a sweep within the grace: %+v", early)
	}
	if !w.isLiveToken(w.user.Token) {
		t.Fatal("the sweep revoked the previous token within its grace")
	}
	until, err := time.Parse(time.RFC3339, early.Results[0].GraceUntil)
	if err != nil || until.Before(recorded) {
		t.Fatalf("grace until %q, recorded %v: never before the record", early.Results[0].GraceUntil, recorded)
	}

	// Waiting for the grace to pass is the point here: the due time is
	// wall-clock time, a second away.
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	due := w.sweep(`{"action":"sweep"}`)
	if due.TokensRevoked != 1 || !slices.Equal(due.Results[0].Revoked, []string{w.user.TokenPrefix}) {
		t.Fatalf("a sweep after the grace: %+v", due)
	}
	if w.isLiveToken(w.user.Token) || !w.isLiveToken(value.Token.Reveal()) {
		t.Fatal("after the due sweep, want the previous token revoked and the current one live")
	}
	if again := w.sweep(`{"action":"sweep"}`); again.TokensRevoked != 0 || again.Healthy != 1 {
		t.Fatalf("a sweep with nothing to do: %+v", again)
	}
	if live := w.liveTokens(); len(live) != 1 {
		t.Fatalf("live tokens %v, want the current one", prefixes(live))
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// Two rotations within one grace: the second revokes the token the first
// kept, so that no more than two are ever live (checked after every step).
func TestNextRotationEndsTheGraceOfThePreviousToken(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1h"))
	first := w.rotate()
	w.mustSucceed(first)
	_, v1 := w.current()
	second := w.rotate()
	w.mustSucceed(second)
	_, v2 := w.current()
	switch {
	case w.isLiveToken(w.user.Token):
		t.Error("the seed token, kept for the first rotation's grace, outlived the second rotation")
	case !w.isLiveToken(v1.Token.Reveal()):
		t.Error("the first rotation's token, now in its grace, was revoked")
	case !w.isLiveToken(v2.Token.Reveal()):
		t.Error("the current token does not authenticate")
	}
	if v2.PreviousTokenPrefix != v1.TokenPrefix {
		t.Errorf("previous_token_prefix %q, want %q", v2.PreviousTokenPrefix, v1.TokenPrefix)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// A secret's previous_token_grace may shorten the function's, never
// lengthen it (the stack's setting is the ceiling: the value's writer is
// not trusted), and a bad one fails createSecret with an error naming the
// field, touching nothing.
func TestPerSecretGraceField(t *testing.T) {
	t.Run("shorter wins", func(t *testing.T) {
		w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "2h"))
		w.seedValue(fmt.Sprintf(`{"token":%q,"previous_token_grace":"0s"}`, w.user.Token))
		w.mustSucceed(w.rotate())
		if w.isLiveToken(w.user.Token) {
			t.Fatal("previous_token_grace 0s under a stack grace of 2h: the previous token was kept")
		}
		cur, _ := w.stack.SecretsManager.VersionByStage(w.arn, "AWSCURRENT")
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(cur.SecretString), &fields); err != nil {
			t.Fatalf("AWSCURRENT is not a JSON object: %v", err)
		}
		if raw, ok := fields["previous_token_grace"]; !ok || string(raw) != `"0s"` {
			t.Errorf("previous_token_grace not carried over: %s", raw)
		}
		w.assertNoSecretsLeaked()
	})
	t.Run("longer is capped", func(t *testing.T) {
		w := newWorld(t) // the function's grace: 0s
		w.seedValue(fmt.Sprintf(`{"token":%q,"previous_token_grace":"168h"}`, w.user.Token))
		w.mustSucceed(w.rotate())
		if w.isLiveToken(w.user.Token) {
			t.Fatal("previous_token_grace 168h under a stack grace of 0s: the value's writer kept the previous token alive")
		}
		_, v := w.current()
		if _, recorded, _ := v.RevokeAfter(); recorded {
			t.Error("a grace record was written although the stack allows none")
		}
		w.assertNoSecretsLeaked()
	})
	t.Run("bad", func(t *testing.T) {
		w := newWorld(t)
		w.seedValue(fmt.Sprintf(`{"token":%q,"previous_token_grace":"3 days"}`, w.user.Token))
		version := w.rotate()
		a := w.lastAttempt(version)
		if a.Outcome == "RotationSucceeded" || !strings.Contains(a.Error, `"previous_token_grace"`) || strings.Contains(a.Error, "3 days") {
			t.Fatalf("rotation: %s %q; want a failure naming previous_token_grace, not its value", a.Outcome, a.Error)
		}
		if n := len(w.stack.Aiven.Tokens()); n != 1 {
			t.Errorf("%d tokens at Aiven, want the seed only: nothing created", n)
		}
		w.checkProblems()
	})
}

// The sweep starts a rotation when the current token expires within
// ROTATE_BEFORE_EXPIRY, by Aiven's clock, and Secrets Manager runs it.
func TestSweepRotatesBeforeExpiry(t *testing.T) {
	w := newWorld(t)
	w.mustSucceed(w.rotate())
	if res := w.sweep(`{"action":"sweep"}`); res.RotationsStarted != 0 || res.Results[0].ExpiresInS == nil || *res.Results[0].ExpiresInS < 29*86400 {
		t.Fatalf("a fresh 30-day token: %+v", res)
	}
	oldVersion, _ := w.current()
	w.stack.Aiven.Advance(25 * 24 * time.Hour) // 5 days left, under the default 168h

	res := w.sweep(`{"action":"sweep"}`)
	r := res.Results[0]
	if res.RotationsStarted != 1 || r.RotationStarted == "" || *r.ExpiresInS > 6*86400 {
		t.Fatalf("near expiry: %+v", res)
	}
	w.mustSucceed(r.RotationStarted)
	newVersion, value := w.current()
	if newVersion == oldVersion || newVersion != r.RotationStarted || !w.isLiveToken(value.Token.Reveal()) {
		t.Fatalf("AWSCURRENT %s (was %s, rotation %s)", newVersion, oldVersion, r.RotationStarted)
	}
	if again := w.sweep(`{"action":"sweep"}`); again.RotationsStarted != 0 || *again.Results[0].ExpiresInS < 29*86400 {
		t.Fatalf("after the rotation: %+v", again)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// A dry run reads what a sweep reads and says what it would do; it changes
// nothing. The sweep then does exactly that.
func TestSweepDryRunChangesNothing(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1h", "ROTATE_BEFORE_EXPIRY", "720h"))
	w.mustSucceed(w.rotate())
	orphan := w.plantOrphan("00000000-0000-4000-8000-0000000000aa")
	// 16 days on by Aiven's clock: the orphan is stale, and the 30-day token
	// is past half its life, the most ROTATE_BEFORE_EXPIRY may ask for (so
	// it is due a rotation); the grace (by the Lambda's clock) is not over.
	w.stack.Aiven.Advance(16 * 24 * time.Hour)
	before, tokensBefore := w.stack.SecretsManager.Versions(w.arn), w.stack.Aiven.Tokens()
	w.stack.SecretsManager.Faults().ResetCalls()
	w.stack.Aiven.Faults().ResetCalls()

	dry := w.sweep(`{"action":"sweep","dry_run":true}`)
	r := dry.Results[0]
	if !dry.DryRun || !slices.Equal(r.WouldRevoke, []string{orphan}) || !r.WouldRotate || len(r.Revoked) != 0 || r.RotationStarted != "" || r.GraceUntil == "" {
		t.Fatalf("dry run: %+v", dry)
	}
	if calls := w.stack.SecretsManager.Faults().Calls(); calls["RotateSecret"]+calls["PutSecretValue"]+calls["UpdateSecretVersionStage"] != 0 {
		t.Errorf("a dry run wrote to Secrets Manager: %v", calls)
	}
	if calls := w.stack.Aiven.Faults().Calls(); len(calls) != 1 || calls["AccessTokenList"] != 1 {
		t.Errorf("a dry run called Aiven beyond one listing: %v", calls)
	}
	if after := w.stack.SecretsManager.Versions(w.arn); !slices.EqualFunc(before, after, func(a, b smemulator.Version) bool {
		return a.VersionID == b.VersionID && a.SecretString == b.SecretString && slices.Equal(a.Stages, b.Stages)
	}) {
		t.Error("a dry run changed the secret's versions")
	}
	if after := w.stack.Aiven.Tokens(); !slices.EqualFunc(tokensBefore, after, func(a, b aivenemulator.TokenRecord) bool { return a.TokenPrefix == b.TokenPrefix && a.State == b.State }) {
		t.Error("a dry run changed Aiven's tokens")
	}

	real := w.sweep(`{"action":"sweep"}`)
	r2 := real.Results[0]
	if !slices.Equal(r2.Revoked, []string{orphan}) || r2.RotationStarted == "" {
		t.Fatalf("the sweep after the dry run: %+v", real)
	}
	w.mustSucceed(r2.RotationStarted)
	if w.isLive(orphan) {
		t.Error("the orphan is still live")
	}
	w.assertNoSecretsLeaked()
}

// The sweep reports each secret's failure and goes on with the rest; it
// visits only secrets whose rotation function is this one, enabled.
func TestSweepGoesOnPastEachSecretsFailure(t *testing.T) {
	w := newWorld(t, withEnv("SWEEP_CONCURRENCY", "2"))
	w.mustSucceed(w.rotate()) // aiven/e2e: healthy
	other := "arn:aws:lambda:us-east-1:000000000000:function:another-rotator"
	w.stack.SecretsManager.RegisterFunction(other, passesEverything{})
	// Each secret gets its rotation function with RotateImmediately=false:
	// Secrets Manager's configuration test (testSecret) runs, and rotation
	// is configured whatever it finds.
	add := func(name, value string, rotator string) string {
		t.Helper()
		out, err := w.sm.CreateSecret(w.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		if err != nil {
			t.Fatal(err)
		}
		if rotator != "" {
			_, _ = w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(rotator), RotateImmediately: aws.Bool(false)})
		}
		return aws.ToString(out.ARN)
	}
	revokedUser, err := w.stack.Aiven.CreateUser("gone@example.com")
	if err != nil {
		t.Fatal(err)
	}
	w.tokens[revokedUser.TokenPrefix] = revokedUser.Token
	if err := w.aivenAs(revokedUser.Token).AccessTokenRevoke(w.ctx, revokedUser.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	malformed := add("aiven/malformed", `{"tokn":"x"}`, localstack.FunctionARN)
	invalid := add("aiven/revoked", revokedUser.Token, localstack.FunctionARN)
	add("aiven/theirs", w.user.Token, other)
	add("aiven/unrotated", w.user.Token, "")

	res := w.sweep(`{"action":"sweep"}`)
	outcomes := map[string]string{}
	for _, r := range res.Results {
		outcomes[r.Secret] = r.Outcome
		if r.Outcome == "error" && !strings.Contains(r.Error, `"token"`) {
			t.Errorf("%s: error %q, want it to name the token field", r.Secret, r.Error)
		}
	}
	want := map[string]string{w.arn: "healthy", malformed: "error", invalid: "token_invalid"}
	if len(outcomes) != len(want) {
		t.Fatalf("swept %v, want exactly %v", outcomes, want)
	}
	for arn, o := range want {
		if outcomes[arn] != o {
			t.Errorf("%s: outcome %q, want %q", arn, outcomes[arn], o)
		}
	}
	if res.Secrets != 3 || res.Healthy != 1 || res.Errors != 1 || res.TokenInvalid != 1 {
		t.Errorf("figures %+v", res)
	}
	// The fleet's metrics, one EMF line: the alarm's SweepTokenInvalid.
	if !strings.Contains(w.logs.String(), `"SweepTokenInvalid":1`) || !strings.Contains(w.logs.String(), `"FunctionName":"aiven-token-rotator"`) {
		t.Error("no sweep EMF line with SweepTokenInvalid 1 and the FunctionName dimension")
	}
	w.assertNoSecretsLeaked()
}

// passesEverything is another function's rotator that succeeds at once.
type passesEverything struct{}

func (passesEverything) Invoke(context.Context, []byte) ([]byte, error) { return nil, nil }

// {"action":"rotate"} starts a rotation of a secret this function owns
// and answers its version id; it refuses any other secret, touching
// nothing.
func TestRotateAction(t *testing.T) {
	w := newWorld(t)
	w.mustSucceed(w.rotate())
	before, _ := w.current()
	out, err := w.invokeAction(fmt.Sprintf(`{"action":"rotate","secret_id":%q}`, "aiven/e2e"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Action    string `json:"action"`
		SecretID  string `json:"secret_id"`
		VersionID string `json:"version_id"`
		Started   bool   `json:"started"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.Action != "rotate" || res.SecretID != w.arn || res.VersionID == "" || !res.Started {
		t.Fatalf("result %s", out)
	}
	w.mustSucceed(res.VersionID)
	if after, _ := w.current(); after != res.VersionID || after == before {
		t.Fatalf("AWSCURRENT %s, want the new version %s", after, res.VersionID)
	}

	theirs, err := w.sm.CreateSecret(w.ctx, &secretsmanager.CreateSecretInput{Name: aws.String("aiven/theirs"), SecretString: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	w.stack.SecretsManager.Faults().ResetCalls()
	_, err = w.invokeAction(fmt.Sprintf(`{"action":"rotate","secret_id":%q}`, aws.ToString(theirs.ARN)))
	var fe messages.InvokeResponse_Error
	if !errors.As(err, &fe) && !strings.Contains(fmt.Sprint(err), "not rotated by this function") {
		t.Fatalf("rotate a secret not owned: %v", err)
	}
	if !strings.Contains(err.Error(), "not rotated by this function") || !strings.Contains(err.Error(), "nothing was done") {
		t.Errorf("error %q, want it to say the secret is not this function's", err)
	}
	if calls := w.stack.SecretsManager.Faults().Calls(); calls["RotateSecret"] != 0 || len(calls) != 1 {
		t.Errorf("calls for a secret not owned: %v, want one DescribeSecret", calls)
	}
	w.checkProblems()
}

// Bad action events fail with an error naming what is wrong, and call
// nothing at all.
func TestBadActionEventsTouchNothing(t *testing.T) {
	w := newWorld(t)
	w.stack.SecretsManager.Faults().ResetCalls()
	w.stack.Aiven.Faults().ResetCalls()
	for _, tc := range []struct{ event, want string }{
		{`{"action":"sweep","dry_rn":true}`, "unknown field(s) [dry_rn]"},
		{`{"action":"sweep","dry_run":"yes"}`, "dry_run must be a boolean"},
		{`{"action":"rotate"}`, "secret_id is missing"},
		{`{"action":"rotate","secret_id":42}`, "secret_id must be a string"},
		{`{"action":"rotate","secret_id":"aiven/e2e","token":"AVNU_not-to-be-quoted"}`, "unknown field(s) [token]"},
		{`{"action":"delete"}`, `unknown action "delete"`},
		{`{"action":7}`, "field action must be a string"},
		{`{"detail-type":"Object Created","source":"aws.s3","detail":{}}`, "an EventBridge event"},
	} {
		_, err := w.invokeAction(tc.event)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.event, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "AVNU_not") {
			t.Errorf("%s: the error quotes a value: %v", tc.event, err)
		}
	}
	if sm, av := w.stack.SecretsManager.Faults().Calls(), w.stack.Aiven.Faults().Calls(); len(sm)+len(av) != 0 {
		t.Errorf("bad events made calls: %v %v", sm, av)
	}
}

// With too little time left, the sweep starts no secret and says which it
// did not reach.
func TestSweepNearTheDeadlineReportsSecretsNotReached(t *testing.T) {
	w := newWorld(t, withEnv("ROTATION_SAFETY_MARGIN", "1s"))
	w.mustSucceed(w.rotate())
	w.stack.Aiven.Faults().ResetCalls()
	out, err := smemulator.Run(w.stack.Rotator, localstack.FunctionARN, []byte(`{"action":"sweep"}`), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var res sweepResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.Secrets != 1 || res.NotReached != 1 || res.Results[0].Outcome != "not_reached" || res.FollowUpFrom != w.arn {
		t.Fatalf("result %s; want the secret not reached and handed to a follow-up", out)
	}
	// The follow-up visits it: one listing in all, none by the sweep that
	// did not reach it.
	if err := w.stack.WaitInvocations(w.ctx); err != nil {
		t.Fatal(err)
	}
	if calls := w.stack.Aiven.Faults().Calls(); len(calls) != 1 || calls["AccessTokenList"] != 1 {
		t.Errorf("Aiven calls %v, want the follow-up's one listing", calls)
	}
}

// The sample events of events/ run against the local stack as they are.
func TestSampleActionEventsRunAgainstTheLocalStack(t *testing.T) {
	// The samples name arn:...:secret:aiven/api-token-AbCdEf.
	w := newWorldNamed(t, "aiven/api-token", func(c *localstack.Config) {
		c.SecretsManagerOptions = append(c.SecretsManagerOptions, smemulator.WithARNSuffix(func(string) string { return "AbCdEf" }))
	})
	w.mustSucceed(w.rotate())
	for _, name := range []string{"sweep", "sweep-dry-run", "scheduled-event"} {
		raw := readEvent(t, name)
		res := w.sweep(string(raw))
		if res.Action != "sweep" || res.Secrets != 1 || res.Healthy != 1 || res.DryRun != (name == "sweep-dry-run") {
			t.Errorf("%s.json: %+v", name, res)
		}
	}
	out, err := w.invokeAction(string(readEvent(t, "rotate")))
	if err != nil || !strings.Contains(string(out), `"started":true`) {
		t.Fatalf("rotate.json: %s %v", out, err)
	}
	// Its prefix names no token of the user: refused, and the rotation runs.
	out, err = w.invokeAction(string(readEvent(t, "rotate-break-glass")))
	if err != nil || !strings.Contains(string(out), `"rotation":"started"`) || !strings.Contains(string(out), `"outcome":"refused"`) {
		t.Fatalf("rotate-break-glass.json: %s %v", out, err)
	}
	w.checkProblems()
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(moduleRoot(t), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// SWEEP_TAG_KEY narrows the listing to secrets carrying the tag key.
func TestSweepTagKeyNarrowsTheListing(t *testing.T) {
	w := newWorld(t, withEnv("SWEEP_TAG_KEY", "aiven-token-rotator"))
	w.mustSucceed(w.rotate()) // aiven/e2e, untagged
	user2, err := w.stack.Aiven.CreateUser("tagged@example.com")
	if err != nil {
		t.Fatal(err)
	}
	w.tokens[user2.TokenPrefix] = user2.Token
	tagged, err := w.sm.CreateSecret(w.ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("aiven/tagged"), SecretString: aws.String(user2.Token),
		Tags: []smtypes.Tag{{Key: aws.String("aiven-token-rotator"), Value: aws.String("rotated")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{SecretId: tagged.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN)}); err != nil {
		t.Fatal(err)
	}
	res := w.sweep(`{"action":"sweep"}`)
	if res.Secrets != 1 || res.Results[0].Secret != aws.ToString(tagged.ARN) {
		t.Fatalf("swept %+v, want only the tagged secret", res)
	}
}

// The sweep visits an application token too: /v1/me with the token, the
// listing with its manager's; a revoked one is token_invalid. The manager
// secret, not rotated by this function, is not swept.
func TestSweepOfAnApplicationToken(t *testing.T) {
	aw := newAppWorld(t, nil)
	aw.mustSucceed(aw.rotateARN(aw.arn))
	res := aw.sweep(`{"action":"sweep"}`)
	if res.Secrets != 1 || res.Results[0].Secret != aw.arn || res.Results[0].Outcome != "healthy" || res.Results[0].ExpiresInS == nil {
		t.Fatalf("sweep %+v, want the application secret healthy, with its expiry", res)
	}
	_, v := aw.appCurrent()
	aw.healing.Store(true) // the current token is revoked on purpose
	if err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenDelete(aw.ctx, appOrg, aw.app.UserID, v.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	// A dry run says what it would do and changes nothing.
	if res := aw.sweep(`{"action":"sweep","dry_run":true}`); res.TokenInvalid != 1 || res.Results[0].Outcome != "token_invalid" || !res.Results[0].WouldRotate {
		t.Fatalf("a dry run after revoking the application token: %+v", res)
	}
	if _, after := aw.appCurrent(); !after.Token.Equal(v.Token) {
		t.Fatal("the dry run changed the secret")
	}
	// Issue 10: the manager's token can make a new application token, so
	// the sweep starts a rotation by itself and reports the secret healed.
	res = aw.sweep(`{"action":"sweep"}`)
	if res.Healed != 1 || res.TokenInvalid != 0 || res.RotationsStarted != 1 || res.Results[0].Outcome != "healed" || res.Results[0].RotationStarted == "" {
		t.Fatalf("after revoking the application token: %+v", res)
	}
	aw.mustSucceed(res.Results[0].RotationStarted)
	_, healed := aw.appCurrent()
	if healed.Token.Equal(v.Token) || !aw.isLiveToken(healed.Token.Reveal()) {
		t.Fatal("after healing, AWSCURRENT does not hold a new, working application token")
	}
	if res := aw.sweep(`{"action":"sweep"}`); res.Healthy != 1 || res.Healed != 0 {
		t.Fatalf("a sweep after healing: %+v", res)
	}
}

// The sweep's due revocation follows finishSecret's rule: a stored
// previous_token_prefix is honoured only in a value that createSecret of a
// rotation wrote (its token carries that version's marker). A hand-written
// value naming another token of the user, unmarked, gets it left alone.
func TestSweepHonoursAPreviousTokenPrefixOnlyFromARotation(t *testing.T) {
	w := newWorld(t)
	client, err := aivenclient.NewClient(aivenclient.TokenOpt(w.user.Token), aivenclient.HostOpt(w.stack.AivenURL), aivenclient.RetryMaxOpt(0), aivenclient.DebugOpt(false))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := client.AccessTokenCreate(w.ctx, &user.AccessTokenCreateIn{Description: "ci pipeline"})
	if err != nil {
		t.Fatal(err)
	}
	w.tokens[ci.TokenPrefix] = ci.FullToken
	v, _ := json.Marshal(map[string]string{"token": w.user.Token, "token_prefix": w.user.TokenPrefix, "previous_token_prefix": ci.TokenPrefix})
	w.seedValue(string(v))
	// Rotation on, without rotating: the configuration test only.
	if _, err := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String(w.arn), RotationLambdaARN: aws.String(localstack.FunctionARN), RotateImmediately: aws.Bool(false),
	}); err != nil {
		t.Fatal(err)
	}

	rep := w.sweep(`{"action":"sweep"}`)
	if rep.TokensRevoked != 0 || !w.isLiveToken(ci.FullToken) {
		t.Fatalf("the sweep revoked %d token(s), the unmarked ci token among them: %+v", rep.TokensRevoked, rep)
	}
	if !w.isLiveToken(w.user.Token) {
		t.Fatal("I1: the sweep revoked the current token")
	}
}

// One secret's failure, among many and first in the sweep's order, never
// stops or cancels the others: the workers return no error (a shared
// context, as errgroup.WithContext gives, would end the rest at the first
// failure). Its Aiven listing fails on every attempt; the six others, two
// workers at a time, are all swept healthy.
func TestOneFailingSecretNeverStopsTheOthers(t *testing.T) {
	w := newWorld(t, withEnv("SWEEP_CONCURRENCY", "2"))
	failing, err := w.stack.Aiven.CreateUser("failing@example.com")
	if err != nil {
		t.Fatal(err)
	}
	w.tokens[failing.TokenPrefix] = failing.Token
	onboard := func(name, token string) string {
		t.Helper()
		out, err := w.sm.CreateSecret(w.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(token)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN), RotateImmediately: aws.Bool(false)}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	// ARN order puts "aiven/0-..." first.
	bad := onboard("aiven/0-failing", `{"token":"`+failing.Token+`","api_url":"https://aiven.evil.example"}`)
	for i := range 5 {
		u, err := w.stack.Aiven.CreateUser(fmt.Sprintf("healthy%d@example.com", i))
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[u.TokenPrefix] = u.Token
		onboard(fmt.Sprintf("aiven/healthy-%d", i), u.Token)
	}
	res := w.sweep(`{"action":"sweep"}`)
	if res.Secrets != 6 || res.Errors != 1 || res.Healthy != 5 || res.NotReached != 0 {
		t.Fatalf("figures: secrets %d, healthy %d, errors %d, not reached %d; want 6, 5, 1, 0", res.Secrets, res.Healthy, res.Errors, res.NotReached)
	}
	for _, r := range res.Results {
		if r.Secret == bad && (r.Outcome != "error" || !strings.Contains(r.Error, "api_url")) {
			t.Errorf("the failing secret: outcome %q, error %q; want an error naming api_url", r.Outcome, r.Error)
		}
	}
	w.assertNoSecretsLeaked()
}
