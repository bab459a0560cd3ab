package rotation

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

func TestFleetConfigFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := FleetConfig{PreviousTokenGrace: 24 * time.Hour, RotateBeforeExpiry: 168 * time.Hour, SweepConcurrency: 8, StuckRotationAfter: 24 * time.Hour}
	if c.Fleet != want {
		t.Fatalf("defaults %+v, want %+v (rotation.md)", c.Fleet, want)
	}
	c, err = ConfigFromEnv(env(map[string]string{"PREVIOUS_TOKEN_GRACE": "0s", "ROTATE_BEFORE_EXPIRY": "72h", "SWEEP_CONCURRENCY": "16", "SWEEP_TAG_KEY": " aiven-token-rotator ", "STUCK_ROTATION_AFTER": "6h"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (FleetConfig{RotateBeforeExpiry: 72 * time.Hour, SweepConcurrency: 16, SweepTagKey: "aiven-token-rotator", StuckRotationAfter: 6 * time.Hour}); c.Fleet != want {
		t.Fatalf("set %+v, want %+v", c.Fleet, want)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"PREVIOUS_TOKEN_GRACE", "1d", "PREVIOUS_TOKEN_GRACE"},
		{"PREVIOUS_TOKEN_GRACE", "169h", "PREVIOUS_TOKEN_GRACE: must be from 0s to 168h0m0s"},
		{"PREVIOUS_TOKEN_GRACE", "-1s", "PREVIOUS_TOKEN_GRACE"},
		{"ROTATE_BEFORE_EXPIRY", "0s", "ROTATE_BEFORE_EXPIRY: must be above zero"},
		{"ROTATE_BEFORE_EXPIRY", "soon", "ROTATE_BEFORE_EXPIRY"},
		{"SWEEP_CONCURRENCY", "0", "SWEEP_CONCURRENCY"},
		{"SWEEP_CONCURRENCY", "65", "SWEEP_CONCURRENCY"},
		{"SWEEP_CONCURRENCY", "eight", "SWEEP_CONCURRENCY"},
		{"STUCK_ROTATION_AFTER", "30m", "STUCK_ROTATION_AFTER: must be at least 1h0m0s"},
		{"STUCK_ROTATION_AFTER", "a day", "STUCK_ROTATION_AFTER"},
		{"SWEEP_TAG_KEY", "aiven-token-rotator:manager", "SWEEP_TAG_KEY: must not be"},
	} {
		_, err := ConfigFromEnv(env(map[string]string{tc.name: tc.value}))
		if err == nil || !strings.Contains(err.Error(), strings.Fields(tc.want)[0]) {
			t.Errorf("%s=%s: %v, want an error naming %s", tc.name, tc.value, err, tc.name)
		}
	}
}

// The previous token is due at the record, and never sooner than the
// grace after the rotation completed: a retried rotation may promote long
// after createSecret wrote the record.
func TestDueAtIsNeverSoonerThanTheGraceAfterPromotion(t *testing.T) {
	created := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	grace := 24 * time.Hour
	recorded := created.Add(grace)
	for _, tc := range []struct {
		name        string
		lastRotated time.Time
		want        time.Time
	}{
		{"promoted seconds later", created.Add(3 * time.Second), created.Add(3*time.Second + grace)},
		{"promoted by a retry hours later", created.Add(5 * time.Hour), created.Add(5*time.Hour + grace)},
		{"never rotated (a value written by hand)", time.Time{}, recorded},
		{"an older completion", created.Add(-time.Hour), recorded},
	} {
		if got := dueAt(recorded, tc.lastRotated, grace); !got.Equal(tc.want) {
			t.Errorf("%s: due %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDecodeAction(t *testing.T) {
	for _, tc := range []struct {
		event      string
		recognised bool
		want       action
		wantErr    string
	}{
		{`{"action":"sweep"}`, true, action{name: ActionSweep}, ""},
		{`{"action":"sweep","dry_run":true}`, true, action{name: ActionSweep, dryRun: true}, ""},
		{`{"action":"sweep","dry_run":false}`, true, action{name: ActionSweep}, ""},
		{`{"action":"rotate","secret_id":"aiven/a"}`, true, action{name: ActionRotate, secretID: "aiven/a"}, ""},
		// A follow-up sweep's cursor: both fields or neither.
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf","chain":2}`, true,
			action{name: ActionSweep, resumeFrom: "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf", chain: 2}, ""},
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf"}`, true, action{}, "resume_from and chain go together"},
		{`{"action":"sweep","resume_from":"aiven/a","chain":1}`, true, action{}, "resume_from must be a secret's ARN"},
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:AVNU_secretvalue","chain":1}`, true, action{}, "resume_from must be a secret's ARN"},
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf","chain":16}`, true, action{}, "chain must be a whole number from 1 to 15"},
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf","chain":0}`, true, action{}, "chain must be a whole number"},
		{`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, true, action{name: ActionSweep, scheduled: true}, ""},
		// Not ours: Handle names them.
		{`{"Step":"createSecret","SecretId":"s","ClientRequestToken":"v"}`, false, action{}, ""},
		{`{"detail-type":"Object Created","source":"aws.s3"}`, false, action{}, ""},
		{`{"detail-type":"Scheduled Event","source":"not.aws.events"}`, false, action{}, ""},
		{`[]`, false, action{}, ""},
		{`null`, false, action{}, ""},
		{`{"foo":1}`, false, action{}, ""},
		// Ours, but wrong: named, never quoted (but the action's name).
		{`{"action":"sweep","dry_run":"true"}`, true, action{}, "dry_run must be a boolean"},
		{`{"action":"sweep","dry_run":null}`, true, action{}, "dry_run must be a boolean"},
		{`{"action":"sweep","secret_id":"AVNU_secretvalue"}`, true, action{}, "unknown field(s) [secret_id]"},
		{`{"action":"rotate","secret_id":""}`, true, action{}, "secret_id is empty"},
		{`{"action":"rotate","secret_id":["a"]}`, true, action{}, "secret_id must be a string"},
		{`{"action":"rotate","dry_run":true,"secret_id":"a"}`, true, action{}, "unknown field(s) [dry_run]"},
		{`{"action":"rotate"}`, true, action{}, "secret_id is missing"},
		// A token pasted as secret_id is never sent as a SecretId.
		{`{"action":"rotate","secret_id":"AVNU_secretvalue"}`, true, action{}, "secret_id looks like an Aiven token"},
		{`{"action":"rotate","secret_id":"arn:aws:secretsmanager:us-east-1:1:secret:AVNU_secretvalue"}`, true, action{}, "secret_id looks like an Aiven token"},
		{`{"action":"rotate","secret_id":"arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/api-token-AbCdEf"}`, true,
			action{name: ActionRotate, secretID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/api-token-AbCdEf"}, ""},
		{`{"action":"Sweep"}`, true, action{}, `unknown action "Sweep"`},
		{`{"action":null}`, true, action{}, "unknown action"},
		{`{"action":{"x":1}}`, true, action{}, "field action must be a string"},
		// json keeps the last of two equal keys: refused, not guessed.
		{`{"action":"sweep","dry_run":true,"dry_run":false}`, true, action{}, `field "dry_run" appears more than once`},
		{`{"action":"rotate","secret_id":"mine","secret_id":"theirs"}`, true, action{}, `field "secret_id" appears more than once`},
		{`{"action":"sweep","action":"sweep"}`, true, action{}, `field "action" appears more than once`},
	} {
		got, recognised, err := decodeAction(json.RawMessage(tc.event))
		switch {
		case recognised != tc.recognised:
			t.Errorf("%s: recognised %v, want %v", tc.event, recognised, tc.recognised)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %+v %v, want %+v", tc.event, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want an error containing %q", tc.event, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "AVNU_secretvalue"):
			t.Errorf("%s: the error quotes a value: %v", tc.event, err)
		}
	}
}

func TestUnqualifiedFunctionARN(t *testing.T) {
	base := "arn:aws:lambda:us-east-1:123456789012:function:rotator"
	for _, arn := range []string{base, base + ":live", base + ":$LATEST", base + ":7"} {
		if got := unqualified(arn); got != base {
			t.Errorf("unqualified(%s) = %s", arn, got)
		}
	}
	if functionName(base+":live") != "rotator" {
		t.Errorf("functionName = %s", functionName(base+":live"))
	}
}

// The result keeps the entries that need attention first, in order, and
// counts what it leaves out; errors are clipped.
func TestCapResults(t *testing.T) {
	rep := &sweepReport{}
	for i := range 10 {
		e := sweptSecret{Secret: fmt.Sprintf("s%d", i), Outcome: sweptHealthy}
		switch i {
		case 3:
			e.Outcome, e.Error = sweptError, strings.Repeat("x", 5000)
		case 7:
			e.Revoked = []string{"AAAAAAAAAAAA"}
		case 8:
			e.Outcome = sweptNotReached
		}
		rep.Results = append(rep.Results, e)
	}
	rep.capResults(4)
	var got []string
	for _, e := range rep.Results {
		got = append(got, e.Secret)
	}
	if want := []string{"s0", "s3", "s7", "s8"}; !slices.Equal(got, want) || rep.ResultsOmitted != 6 {
		t.Fatalf("kept %v (omitted %d), want %v (omitted 6)", got, rep.ResultsOmitted, want)
	}
	if n := len(rep.Results[1].Error); n > maxReportedError+3 {
		t.Errorf("an error of %d bytes kept", n)
	}
}

// A principal with its share of jobs running waits; the next job of
// another principal goes first; the queue drains and closes.
func TestPrincipalQueue(t *testing.T) {
	q := newPrincipalQueue(1)
	for i, p := range []string{"m", "m", "a", "m", "b"} {
		q.push(sweepJob{i: i, principal: p})
	}
	q.close()
	var order []int
	first, _ := q.next()  // m
	second, _ := q.next() // a: m is busy
	third, _ := q.next()  // b
	order = append(order, first.i, second.i, third.i)
	q.done("m")
	fourth, _ := q.next() // the second m
	q.done("a")
	q.done("b")
	q.done("m")
	fifth, _ := q.next()
	order = append(order, fourth.i, fifth.i)
	if _, ok := q.next(); ok {
		t.Fatal("the queue gave a job after its last")
	}
	if want := []int{0, 2, 4, 1, 3}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}

// One manager named by its ARN in one application secret and by its name
// in another is one principal for the sweep's per-principal cap.
func TestPrincipalOfNamesOneManagerOnce(t *testing.T) {
	job := func(managerID string) sweepJob {
		v := fmt.Sprintf(`{"kind":"application","token":"abcdefgh","organization_id":"org1","application_user_id":"u1","manager_secret_id":%q}`, managerID)
		j := sweepJob{value: v, entry: secretsmanager.Listed{ARN: "arn:aws:secretsmanager:us-east-1:1:secret:app-AbCdEf"}}
		j.parsed, j.parseErr = parseValue(v, "AWSCURRENT")
		return j
	}
	byName := principalOf(job("aiven/manager"))
	byARN := principalOf(job("arn:aws:secretsmanager:us-east-1:111122223333:secret:aiven/manager-Xy12Zw"))
	if byName != byARN || byName != "manager:aiven/manager" {
		t.Fatalf("principals %q and %q, want one", byName, byARN)
	}
	pj := sweepJob{value: `{"token":"abcdefgh"}`, entry: secretsmanager.Listed{ARN: "arn:s"}}
	pj.parsed, pj.parseErr = parseValue(pj.value, "AWSCURRENT")
	personal := principalOf(pj)
	if personal != "secret:arn:s" {
		t.Fatalf("a personal secret's principal %q", personal)
	}
}
