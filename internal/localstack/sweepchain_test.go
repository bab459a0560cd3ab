package localstack_test

// Issue 17, defect 5: a fleet one sweep cannot finish. The sweep hands the
// secrets it had no time for to a follow-up invocation of itself, and one
// principal held up by Aiven's rate limit slows only its own secrets.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	aivenclient "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
)

// sweepLines reads the rotator's JSON log: each secret's outcomes, and the
// "sweep done" lines in the order written.
type sweepLog struct {
	outcomes map[string][]string // secret ARN → outcomes, one a sweep
	done     []map[string]any
}

func readSweepLog(t *testing.T, logs string) sweepLog {
	t.Helper()
	out := sweepLog{outcomes: map[string][]string{}}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch line["msg"] {
		case "secret swept":
			arn, _ := line["secret"].(string)
			outcome, _ := line["outcome"].(string)
			out.outcomes[arn] = append(out.outcomes[arn], outcome)
		case "sweep done":
			out.done = append(out.done, line)
		}
	}
	return out
}

// seedOwned makes n personal-token secrets this function rotates, named
// prefix-000..., each rotated once.
func seedOwned(t *testing.T, stack *localstack.Stack, prefix string, n int) []string {
	t.Helper()
	sm := stack.SecretsManagerClient()
	arns := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user, err := stack.Aiven.CreateUser(fmt.Sprintf("%s-%03d@example.com", strings.ReplaceAll(prefix, "/", "-"), i))
			if err != nil {
				errs <- err
				return
			}
			created, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
				Name: aws.String(fmt.Sprintf("%s-%03d", prefix, i)), SecretString: aws.String(user.Token)})
			if err != nil {
				errs <- err
				return
			}
			arns[i] = aws.ToString(created.ARN)
			_, err = sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{
				SecretId: created.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN),
				RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(14 days)")}})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := stack.SecretsManager.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	return arns
}

// A sweep whose deadline leaves room for a few secrets only: every secret
// is visited within ceil(N/k)+1 invocations of one round (k the fewest a
// sweep of the round visited), each follow-up started by the one before,
// and no secret is visited twice.
func TestASweepThatRunsOutOfTimeHandsTheRestToAFollowUp(t *testing.T) {
	logs := &syncBuffer{}
	stack := startStack(t, localstack.Config{
		RotatorLog:    logs,
		InvokeTimeout: 5600 * time.Millisecond, // the sweep's 5 s allowance leaves about half a second
		RotatorEnv: map[string]string{"PREVIOUS_TOKEN_GRACE": "0s", "SWEEP_CONCURRENCY": "1",
			"ROTATION_SAFETY_MARGIN": "100ms"},
	})
	const n = 24
	arns := seedOwned(t, stack, "aiven/chain", n)
	for _, p := range []interface{ SetLatency(time.Duration) error }{stack.SecretsManager.Faults(), stack.Aiven.Faults()} {
		if err := p.SetLatency(40 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	logs.Reset()
	out, err := lambdaClient(stack).Invoke(t.Context(), &lambda.InvokeInput{
		FunctionName: aws.String(localstack.FunctionARN), Payload: []byte(`{"action":"sweep"}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("sweep: %v %s", err, out.Payload)
	}
	var first struct {
		NotReached   int    `json:"not_reached"`
		FollowUpFrom string `json:"follow_up_from"`
	}
	if err := json.Unmarshal(out.Payload, &first); err != nil {
		t.Fatal(err)
	}
	if first.NotReached == 0 || first.FollowUpFrom == "" {
		t.Fatalf("the first sweep reached every secret (%s): the test's deadline is too loose", out.Payload)
	}
	if err := stack.WaitInvocations(t.Context()); err != nil {
		t.Fatal(err)
	}

	got := readSweepLog(t, logs.String())
	for _, arn := range arns {
		visits := 0
		for _, o := range got.outcomes[arn] {
			if o != "not_reached" {
				visits++
			}
		}
		if visits != 1 {
			t.Errorf("%s visited %d times in the round (%v), want once", arn, visits, got.outcomes[arn])
		}
	}
	minK := n
	for i, d := range got.done {
		secrets, _ := d["secrets"].(float64)
		notReached, _ := d["not_reached"].(float64)
		chain, _ := d["chain"].(float64)
		if int(chain) != i {
			t.Errorf("sweep %d of the round says chain %v", i, d["chain"])
		}
		if k := int(secrets - notReached); k < minK && notReached > 0 {
			minK = k
		}
	}
	if minK < 1 {
		t.Fatalf("a sweep of the round visited no secret: %v", got.done)
	}
	if bound := (n+minK-1)/minK + 1; len(got.done) > bound {
		t.Fatalf("%d sweeps for %d secrets at %d a sweep, want at most %d", len(got.done), n, minK, bound)
	}
	t.Logf("%d secrets in %d sweeps (at least %d a sweep)", n, len(got.done), minK)
}

// 200 application secrets share one manager whose token Aiven rate-limits
// (the emulator's per-token limit, "Rate limit N exceeded - try again in
// Xs"): the personal secrets listed after them are all visited, since a
// principal holds at most two of the sweep's workers, and the manager's
// secret is read once for the whole sweep.
func TestOneRateLimitedManagerSlowsOnlyItsOwnSecrets(t *testing.T) {
	logs := &syncBuffer{}
	stack := startStack(t, localstack.Config{
		RotatorLog:    logs,
		InvokeTimeout: 14 * time.Second,
		RotatorEnv:    map[string]string{"PREVIOUS_TOKEN_GRACE": "0s", "ROTATION_SAFETY_MARGIN": "100ms"},
	})
	const org, apps, people = "org1", 200, 16
	admin, err := stack.Aiven.CreateMember("admin@example.com", org, []string{aivenemulator.RoleOrganizationAdmin})
	if err != nil {
		t.Fatal(err)
	}
	sm := stack.SecretsManagerClient()
	type app struct{ user, token string }
	made := make([]app, apps)
	var bindings []any
	for i := range apps {
		u, err := stack.Aiven.CreateApplicationUser(org, fmt.Sprintf("ci-%03d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := aivenClient(t, stack, admin.Token).ApplicationUserAccessTokenCreate(t.Context(), org, u.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		made[i] = app{u.UserID, tok.FullToken}
		bindings = append(bindings, map[string]any{"organization_id": org, "application_user_id": u.UserID, "secrets": []string{fmt.Sprintf("aiven/app-%03d", i)}})
	}
	managerValue, _ := json.Marshal(map[string]any{"token": admin.Token, "application_tokens": bindings})
	if _, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("aiven/manager"), SecretString: aws.String(string(managerValue)),
		Tags: []smtypes.Tag{{Key: aws.String(rotation.ManagerTagKey), Value: aws.String(localstack.StackName)}}}); err != nil {
		t.Fatal(err)
	}
	for i, a := range made {
		v, _ := json.Marshal(map[string]any{"kind": "application", "token": a.token, "organization_id": org, "application_user_id": a.user, "manager_secret_id": "aiven/manager"})
		created, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("aiven/app-%03d", i)), SecretString: aws.String(string(v))})
		if err != nil {
			t.Fatal(err)
		}
		// Owned without a rotation: the configuration test only.
		if _, err := sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: created.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN),
			RotateImmediately: aws.Bool(false), RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(14 days)")}}); err != nil {
			t.Fatal(err)
		}
	}
	personal := seedOwned(t, stack, "aiven/zz-person", people)

	// The manager's token: 10 calls in any 2 seconds.
	if err := stack.Aiven.SetRateLimit(aivenemulator.RateLimit{Requests: 10, Window: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	stack.SecretsManager.Faults().ResetCalls()
	logs.Reset()
	out, err := lambdaClient(stack).Invoke(t.Context(), &lambda.InvokeInput{
		FunctionName: aws.String(localstack.FunctionARN), Payload: []byte(`{"action":"sweep","dry_run":true}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("sweep: %v %s", err, out.Payload)
	}
	got := readSweepLog(t, logs.String())
	for _, arn := range personal {
		if o := got.outcomes[arn]; len(o) != 1 || o[0] != "healthy" {
			t.Errorf("personal secret %s: %v, want healthy: the rate-limited manager held up the whole sweep", arn, o)
		}
	}
	limited := 0
	for _, n := range stack.Aiven.RateLimitStatus().Limited {
		limited += n
	}
	if limited == 0 {
		t.Error("Aiven never answered 429: the test does not exercise the rate limit")
	}
	calls := stack.SecretsManager.Faults().Calls()
	if calls["DescribeSecret"] != 1 || calls["GetSecretValue"] != 1 {
		t.Errorf("the manager secret was read %d (DescribeSecret) and %d (GetSecretValue) times, want once for the whole sweep", calls["DescribeSecret"], calls["GetSecretValue"])
	}
	t.Logf("manager 429s: %d; calls: %v", limited, calls)
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func aivenClient(t *testing.T, stack *localstack.Stack, token string) aivenclient.Client {
	t.Helper()
	c, err := aivenclient.NewClient(aivenclient.TokenOpt(token), aivenclient.HostOpt(stack.AivenURL), aivenclient.RetryMaxOpt(0), aivenclient.DebugOpt(false))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
