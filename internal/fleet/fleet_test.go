package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

func TestDecodeAction(t *testing.T) {
	for _, tc := range []struct {
		event      string
		recognised bool
		want       action
		wantErr    string
	}{
		{`{"action":"sweep"}`, true, action{name: actionSweep}, ""},
		{`{"action":"sweep","dry_run":true}`, true, action{name: actionSweep, dryRun: true}, ""},
		{`{"action":"sweep","dry_run":false}`, true, action{name: actionSweep}, ""},
		{`{"action":"rotate","secret_id":"aiven/a"}`, true, action{name: actionRotate, secretID: "aiven/a"}, ""},
		// A follow-up sweep's cursor: both fields or neither.
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf","chain":2}`, true,
			action{name: actionSweep, resumeFrom: "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf", chain: 2}, ""},
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf"}`, true, action{}, "resume_from and chain go together"},
		{`{"action":"sweep","resume_from":"aiven/a","chain":1}`, true, action{}, "resume_from must be a secret's ARN"},
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:AVNU_secretvalue","chain":1}`, true, action{}, "resume_from must be a secret's ARN"},
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf","chain":16}`, true, action{}, "chain must be a whole number from 1 to 15"},
		{`{"action":"sweep","resume_from":"arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf","chain":0}`, true, action{}, "chain must be a whole number"},
		{`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, true, action{name: actionSweep, scheduled: true}, ""},
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
			action{name: actionRotate, secretID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/api-token-AbCdEf"}, ""},
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
		return queued(t, v, "arn:aws:secretsmanager:us-east-1:1:secret:app-AbCdEf")
	}
	byName := job("aiven/manager").principal
	byARN := job("arn:aws:secretsmanager:us-east-1:111122223333:secret:aiven/manager-Xy12Zw").principal
	if byName != byARN || byName != "manager:aiven/manager" {
		t.Fatalf("principals %q and %q, want one", byName, byARN)
	}
	personal := queued(t, `{"token":"abcdefgh"}`, "arn:s").principal
	if personal != "secret:arn:s" {
		t.Fatalf("a personal secret's principal %q", personal)
	}
}

// queued is the job the sweep's feeder queues for a secret arn whose
// current value is value.
func queued(t *testing.T, value, arn string) sweepJob {
	t.Helper()
	f := &Fleet{store: &oneValue{arn: arn, value: value}}
	q := newPrincipalQueue(1)
	f.feed(context.Background(), []secretsmanager.Listed{{ARN: arn}}, q)
	q.close()
	j, ok := q.next()
	if !ok || j.parseErr != nil {
		t.Fatalf("no job queued for %s (%v)", arn, j.parseErr)
	}
	return j
}

// oneValue is a store holding one secret's current value.
type oneValue struct {
	store
	arn, value string
}

func (o *oneValue) CurrentValues(_ context.Context, arns []string) (map[string]secretsmanager.CurrentValue, map[string]string, error) {
	return map[string]secretsmanager.CurrentValue{o.arn: {SecretString: o.value, VersionID: "v1"}}, nil, nil
}
