package localstack_test

// Issue 20 §3 and §4 end to end: settings checked before they bite (a
// token that expires before its next rotation, a grace as long as the
// interval) and an organization's authentication policy named, through
// both emulators with the real SDK and Aiven's client, the rotator invoked
// as Lambda invokes it, in process and as the built binary.

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// rotateWith starts a rotation with rules (nil keeps the secret's), now
// or as the configuration test, and returns the new version's id.
func (w *world) rotateWith(rules *smtypes.RotationRulesType, immediately bool) string {
	w.t.Helper()
	out, err := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String(w.arn), RotationLambdaARN: aws.String(localstack.FunctionARN),
		RotationRules: rules, RotateImmediately: aws.Bool(immediately),
	})
	if err != nil {
		w.t.Fatalf("RotateSecret: %v", err)
	}
	return aws.ToString(out.VersionId)
}

// settingsSweep is the sweep's result with the settings checks' figures.
type settingsSweep struct {
	sweepResult
	ExpiresBeforeRotation int             `json:"expires_before_rotation"`
	GraceCutShort         int             `json:"grace_cut_short"`
	AtRisk                int             `json:"at_risk"`
	Results               []settingsEntry `json:"results"`
}

type settingsEntry struct {
	sweptEntry
	ExpiresBeforeRotation string `json:"expires_before_rotation"`
	GraceCutShort         string `json:"grace_cut_short"`
	AtRisk                string `json:"at_risk"`
}

// sweepSettings runs a sweep and reads its result with the settings
// checks' fields.
func (w *world) sweepSettings() settingsSweep {
	w.t.Helper()
	out, err := w.invokeAction(`{"action":"sweep"}`)
	if err != nil {
		w.t.Fatalf("sweep: %v", err)
	}
	var res settingsSweep
	if err := json.Unmarshal(out, &res); err != nil || len(res.Results) != 1 {
		w.t.Fatalf("sweep result %.600s: %v", out, err)
	}
	w.recordVersions()
	return res
}

func rate(expr string) *smtypes.RotationRulesType {
	return &smtypes.RotationRulesType{ScheduleExpression: aws.String(expr)}
}

// logLinesWhere are the rotator's JSON lines (log lines and EMF metric
// lines alike) for which keep says yes.
func (w *world) logLinesWhere(keep func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(w.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && keep(line) {
			out = append(out, line)
		}
	}
	return out
}

func (w *world) linesWithMsg(msg string) []map[string]any {
	return w.logLinesWhere(func(l map[string]any) bool { return l["msg"] == msg })
}

// stepMetrics are the EMF lines of step.
func (w *world) stepMetrics(step string) []map[string]any {
	return w.logLinesWhere(func(l map[string]any) bool { _, emf := l["_aws"]; return emf && l["Step"] == step })
}

// sweepMetric is metric's value in the last sweep's EMF line. A built
// function's output crosses a pipe after it answers, so the line is
// waited for (a few seconds at most), not expected at once.
func (w *world) sweepMetric(metric string) any {
	var lines []map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lines = w.logLinesWhere(func(l map[string]any) bool {
			_, emf := l["_aws"]
			_, sweep := l["SweepSecretsSeen"]
			return emf && sweep
		})
		if len(lines) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(lines) == 0 {
		w.t.Fatal("no sweep metric line")
	}
	return lines[len(lines)-1][metric]
}

func wantAll(t *testing.T, what, s string, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(s, f) {
			t.Errorf("%s %q does not say %q", what, s, f)
		}
	}
}

// describedDuring records what DescribeSecret shows while the rotator
// runs testSecret, as the function itself would read it.
type describedDuring struct {
	inner smemulator.Invoker
	sm    *secretsmanager.Client
	arn   string
	mu    sync.Mutex
	seen  []*secretsmanager.DescribeSecretOutput
}

func (d *describedDuring) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev struct{ Step string }
	if json.Unmarshal(payload, &ev) == nil && ev.Step == "testSecret" && d.sm != nil {
		if out, err := d.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(d.arn)}); err == nil {
			d.mu.Lock()
			d.seen = append(d.seen, out)
			d.mu.Unlock()
		}
	}
	return d.inner.Invoke(ctx, payload)
}

// The configuration test (rotate-secret --no-rotate-immediately) fails
// when the current token expires before the first scheduled rotation,
// naming the secret, the token's expiry, the rotation's date as
// DescribeSecret shows it during the test, and the fix; with a schedule
// the token outlives it passes. Nothing is rotated either way.
func TestConfigurationTestRefusesATokenThatExpiresBeforeTheNextRotation(t *testing.T) {
	spy := &describedDuring{}
	w := newWorld(t, func(c *localstack.Config) {
		c.WrapRotator = func(inner smemulator.Invoker) smemulator.Invoker { spy.inner = inner; return spy }
	})
	spy.sm, spy.arn = w.sm, w.arn
	before, _ := w.current()

	// The console token lives 30 days; a 60-day schedule outlives it.
	version := w.rotateWith(rate("rate(60 days)"), false)
	a := w.lastAttempt(version)
	if a.Outcome != "TestRotationFailed" {
		t.Fatalf("configuration test %s (%s), want it to fail", a.Outcome, a.Error)
	}
	// What DescribeSecret showed the function at that moment: rotation on,
	// never rotated, the empty AWSPENDING version, and the first
	// scheduled rotation as NextRotationDate.
	if len(spy.seen) != 1 {
		t.Fatalf("%d DescribeSecret readings during testSecret", len(spy.seen))
	}
	d := spy.seen[0]
	if !aws.ToBool(d.RotationEnabled) || d.LastRotatedDate != nil || d.NextRotationDate == nil || d.VersionIdsToStages[version][0] != "AWSPENDING" {
		t.Fatalf("DescribeSecret during the configuration test: enabled %v, last %v, next %v, stages %v", aws.ToBool(d.RotationEnabled), d.LastRotatedDate, d.NextRotationDate, d.VersionIdsToStages)
	}
	expiry := w.stack.Aiven.Tokens()[0].ExpiryTime
	wantAll(t, "error", a.Error, "configuration test", w.arn, "the current token "+w.user.TokenPrefix,
		"expires at "+expiry.UTC().Format(time.RFC3339),
		"before the next rotation, due by "+d.NextRotationDate.UTC().Format(time.RFC3339),
		"Fix: rotate more often", "max_age_seconds")
	if after, _ := w.current(); after != before || len(w.liveTokens()) != 1 {
		t.Fatal("the configuration test changed the secret or its tokens")
	}

	version = w.rotateWith(rate("rate(14 days)"), false)
	if a := w.lastAttempt(version); a.Outcome != "TestRotationSucceeded" {
		t.Fatalf("a 14-day schedule for a 30-day token: %s (%s)", a.Outcome, a.Error)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// createSecret never fails a rotation for a token that will expire before
// the rotation after it: it warns, with the ExpiresBeforeRotation metric,
// from what the step has (Aiven's answer to the creation, the guard's
// DescribeSecret). During a rotation, DescribeSecret's NextRotationDate is
// the schedule's date for this rotation, not the next one: here the
// schedule is changed to 30 days on day 14, and the next rotation comes 30
// days after this one, past the new 25-day token's expiry, although the
// date DescribeSecret shows (30 days after the first rotation) is not.
func TestCreateSecretWarnsOfATokenThatExpiresBeforeTheNextRotation(t *testing.T) {
	w := newWorld(t)
	w.seedValue(`{"token":"` + w.user.Token + `","max_age_seconds":2160000}`)
	w.mustSucceed(w.rotateWith(rate("rate(14 days)"), true))
	if lines := w.linesWithMsg("settings: the new token expires before the next rotation"); len(lines) != 0 {
		t.Fatalf("a 25-day token on a 14-day schedule: %v", lines)
	}

	w.stack.SecretsManager.Advance(14 * 24 * time.Hour)
	w.stack.Aiven.Advance(14 * 24 * time.Hour)
	version := w.rotateWith(rate("rate(30 days)"), true)
	w.mustSucceed(version)
	_, value := w.current()
	lines := w.linesWithMsg("settings: the new token expires before the next rotation")
	if len(lines) != 1 {
		t.Fatalf("%d warning lines, want 1", len(lines))
	}
	l := lines[0]
	next, err := time.Parse(time.RFC3339, l["next_rotation"].(string))
	if err != nil || l["level"] != "WARN" || l["step"] != rotation.StepCreate || l["secret"] != w.arn || l["token_expiry"] != value.ExpiryTime || l["token_prefix"] != value.TokenPrefix {
		t.Fatalf("warning line %v", l)
	}
	expiry, _ := time.Parse(time.RFC3339, value.ExpiryTime)
	if got := next.Sub(expiry); got < 5*24*time.Hour || got > 7*24*time.Hour {
		t.Errorf("next rotation %v, token expiry %v: want the rotation about 30 days after this one", next, expiry)
	}
	wantAll(t, "warning", l["warning"].(string), w.arn, "the new token "+value.TokenPrefix, "expires at "+value.ExpiryTime, "due by "+l["next_rotation"].(string), "Fix:")
	var created map[string]any
	for _, m := range w.stepMetrics(rotation.StepCreate) {
		created = m
	}
	if created["ExpiresBeforeRotation"] != 1.0 || created["StepSucceeded"] != 1.0 {
		t.Errorf("createSecret's metric line: %v", created)
	}

	// The sweep says the same of the current token, with its metric, and
	// rotates nothing for it: it rotates before expiry (25 days away).
	res := w.sweepSettings()
	r := res.Results[0]
	if r.Outcome != "healthy" || r.RotationStarted != "" || res.ExpiresBeforeRotation != 1 || w.sweepMetric("SweepExpiresBeforeRotation") != 1.0 {
		t.Fatalf("sweep: %+v", res)
	}
	wantAll(t, "sweep finding", r.ExpiresBeforeRotation, w.arn, "the current token "+value.TokenPrefix, "expires at "+value.ExpiryTime, "before the next rotation", "Fix:")
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// A grace as long as the interval between rotations (the next rotation
// would cut it short) is a warning in the sweep and in createSecret; a
// token shorter-lived than the schedule is the sweep's
// expires_before_rotation, at warning level, with its metric.
func TestSweepReportsSettingsThatWillBite(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "168h"))
	w.seedValue(`{"token":"` + w.user.Token + `","max_age_seconds":345600}`) // 4 days
	w.mustSucceed(w.rotateWith(rate("rate(5 days)"), true))

	res := w.sweepSettings()
	r := res.Results[0]
	if r.Outcome != "healthy" || r.RotationStarted != "" || res.ExpiresBeforeRotation != 1 || res.GraceCutShort != 1 || res.AtRisk != 0 {
		t.Fatalf("sweep: %+v", res)
	}
	wantAll(t, "grace finding", r.GraceCutShort, w.arn, "grace, 7 days", "not shorter than the interval between rotations", "LastRotatedDate", "NextRotationDate", "Fix:")
	wantAll(t, "expiry finding", r.ExpiresBeforeRotation, "before the next rotation", "life of 4 days")
	swept := w.logLinesWhere(func(l map[string]any) bool { return l["msg"] == "secret swept" && l["grace_cut_short"] != nil })
	if len(swept) != 1 || swept[0]["level"] != "WARN" || swept[0]["expires_before_rotation"] != r.ExpiresBeforeRotation {
		t.Fatalf("the secret's log line: %v", swept)
	}

	// The next rotation, on the same schedule: createSecret warns of both.
	w.mustSucceed(w.rotateWith(nil, true))
	if n := len(w.linesWithMsg("settings: the grace is as long as the interval between rotations")); n != 1 {
		t.Errorf("%d grace warnings from createSecret, want 1", n)
	}
	if n := len(w.linesWithMsg("settings: the new token expires before the next rotation")); n != 2 {
		t.Errorf("%d expiry warnings from createSecret, want one per rotation", n)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// orgWorld is a world whose secret holds the personal token of a member
// of organization org1, and names it (organization_id).
func orgWorld(t *testing.T, spec aivenemulator.UserSpec, opts ...worldOption) *world {
	t.Helper()
	w := newWorld(t, opts...)
	spec.OrganizationID = "org1"
	member, err := w.stack.Aiven.CreateUserWith(spec)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.user = member
	w.tokens[member.TokenPrefix] = member.Token
	w.mu.Unlock()
	w.seedValue(`{"token":"` + member.Token + `","organization_id":"org1"}`)
	return w
}

func keepPersonalTokensOut(t *testing.T, w *world) {
	t.Helper()
	off := false
	if _, err := w.stack.Aiven.SetOrganization("org1", "", aivenemulator.AuthConfigPatch{PersonalTokensEnabled: &off}); err != nil {
		t.Fatal(err)
	}
}

// A personal token that the organization it names keeps out still passes
// /v1/me, so a rotation would succeed while every consumer gets 403. With
// organization_id in the value, testSecret proves the pending token on
// the organization (one call, only then), the configuration test the
// current token, and the sweep reports the secret at_risk, with a metric.
// A member's token may not read the organization's authentication
// configuration, so each says that a policy is the likely cause, and the
// fix.
func TestAPersonalTokenTheOrganizationKeepsOut(t *testing.T) {
	w := orgWorld(t, aivenemulator.UserSpec{Email: "member@example.com"})
	w.stack.Aiven.Faults().ResetCalls()
	w.mustSucceed(w.rotate())
	if calls := w.stack.Aiven.Faults().Calls(); calls["OrganizationGet"] != 1 || calls["OrganizationAuthenticationConfigGet"] != 0 {
		t.Fatalf("Aiven calls of a rotation whose secret names its organization: %v", calls)
	}
	if res := w.sweepSettings(); res.AtRisk != 0 || res.Results[0].AtRisk != "" {
		t.Fatalf("sweep before the policy: %+v", res)
	}

	keepPersonalTokensOut(t, w)
	res := w.sweepSettings()
	r := res.Results[0]
	if r.Outcome != "healthy" || res.AtRisk != 1 || w.sweepMetric("SweepAtRisk") != 1.0 {
		t.Fatalf("sweep: %+v", res)
	}
	wantAll(t, "at_risk", r.AtRisk, w.arn, "the current token, a personal token, may not reach organization org1", "403",
		"Likely cause: org1's authentication policy keeps personal tokens out", "personal_tokens_enabled", "application user", rotation.OrgPolicyDocs)
	if lines := w.logLinesWhere(func(l map[string]any) bool { return l["msg"] == "secret swept" && l["at_risk"] == r.AtRisk }); len(lines) != 1 || lines[0]["level"] != "ERROR" {
		t.Fatalf("the secret's log line: %v", lines)
	}

	// The configuration test, on the current token.
	version := w.rotateWith(rate("rate(14 days)"), false)
	if a := w.lastAttempt(version); a.Outcome != "TestRotationFailed" {
		t.Fatalf("configuration test %s", a.Outcome)
	} else {
		wantAll(t, "error", a.Error, "configuration test", "the current token, a personal token, may not reach organization org1", "Likely cause", rotation.OrgPolicyDocs)
	}

	// A rotation: testSecret refuses the pending token, AWSCURRENT stays.
	before, _ := w.current()
	version = w.rotate()
	a := w.lastAttempt(version)
	if a.Outcome != "RotationFailed" || a.FailedStep != "testSecret" {
		t.Fatalf("rotation %s at %s (%s), want testSecret to fail", a.Outcome, a.FailedStep, a.Error)
	}
	wantAll(t, "error", a.Error, "the pending token, a personal token, may not reach organization org1", "though /v1/me accepts it", rotation.OrgPolicyDocs)
	if after, _ := w.current(); after != before {
		t.Fatal("AWSCURRENT moved to a token the organization keeps out")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// Where the token may read the organization's authentication
// configuration, the error names the setting. The emulator refuses the
// configuration to a token the policy keeps out (Aiven documents neither
// way), so an organization admin whose token conforms to the policy is
// refused OrganizationGet by a fault here: the configuration it then
// reads names the setting in force.
func TestThePolicyIsNamedWhenTheTokenMayReadIt(t *testing.T) {
	w := orgWorld(t, aivenemulator.UserSpec{Email: "admin@example.com", Permissions: []string{"role:organization:admin"}})
	on := true
	if _, err := w.stack.Aiven.SetOrganization("org1", "", aivenemulator.AuthConfigPatch{PersonalTokensRequireAllowedAuthMethod: &on}); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(w.rotate())
	if err := w.stack.Aiven.Faults().Add(faults.Rule{Operation: "OrganizationGet", Status: 403}); err != nil {
		t.Fatal(err)
	}
	res := w.sweepSettings()
	r := res.Results[0]
	if res.AtRisk != 1 {
		t.Fatalf("sweep: %+v", res)
	}
	wantAll(t, "at_risk", r.AtRisk, "organization org1", "org1's authentication policy keeps personal tokens out",
		"personal_tokens_require_allowed_auth_method is true", "https://aiven.io/docs/platform/howto/set-authentication-policies", rotation.OrgPolicyDocs)
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// organization_id is the secret writer's word: a malformed one is refused
// before it reaches a URL path, and one Aiven does not know is named.
func TestAnOrganizationIDThatNamesNoOrganization(t *testing.T) {
	for _, tc := range []struct{ name, org, want string }{
		{"malformed", "../org1", `field "organization_id"`},
		{"unknown", "org404", "organization org404 (organization_id), which Aiven does not know (404)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.seedValue(`{"token":"` + w.user.Token + `","organization_id":"` + tc.org + `"}`)
			version := w.rotateWith(rate("rate(14 days)"), false)
			if a := w.lastAttempt(version); a.Outcome != "TestRotationFailed" || !strings.Contains(a.Error, tc.want) {
				t.Fatalf("configuration test %s (%s), want %q", a.Outcome, a.Error, tc.want)
			}
		})
	}
}

// The built binary says the same: the configuration test's error for a
// schedule the token does not outlive, and the sweep's at_risk.
func TestBuiltBinaryNamesSettingsThatWillBite(t *testing.T) {
	bin := buildRotator(t)
	w := orgWorld(t, aivenemulator.UserSpec{Email: "member@example.com"}, func(c *localstack.Config) { c.Bootstrap = bin })
	version := w.rotateWith(rate("rate(60 days)"), false)
	if a := w.lastAttempt(version); a.Outcome != "TestRotationFailed" {
		t.Fatalf("configuration test %s", a.Outcome)
	} else {
		wantAll(t, "error", a.Error, "the current token "+w.user.TokenPrefix, "before the next rotation, due by", "Fix:")
	}
	w.mustSucceed(w.rotateWith(rate("rate(14 days)"), true))
	keepPersonalTokensOut(t, w)
	res := w.sweepSettings()
	if res.AtRisk != 1 || !strings.Contains(res.Results[0].AtRisk, "may not reach organization org1") || w.sweepMetric("SweepAtRisk") != 1.0 {
		t.Fatalf("sweep through the binary: %+v", res)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}
