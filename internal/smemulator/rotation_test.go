package smemulator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

var rotationRules10Days = types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)")}

// blockingFunction is a rotation function that waits for release.
func blockingFunction(release <-chan struct{}) lambda.Handler {
	return lambda.NewHandler(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
}

var allSteps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

func TestRotationSynchronous(t *testing.T) {
	var mu sync.Mutex
	var steps []smemulator.StepResult
	var attempts []smemulator.RotationAttempt
	e := newEnv(t,
		smemulator.WithStepHook(func(s smemulator.StepResult) {
			mu.Lock()
			defer mu.Unlock()
			steps = append(steps, s)
		}),
		smemulator.WithAttemptHook(func(a smemulator.RotationAttempt) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, a)
		}))
	r := e.newRotator("", 0)
	arn := e.create("s", "v1")
	old := e.current(arn)
	begin := time.Now()
	out, err := e.sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(tokA),
		RotationLambdaARN: aws.String(fnARN), RotationRules: &rotationRules10Days})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "s" || aws.ToString(out.VersionId) != tokA {
		t.Fatalf("RotateSecret answered %+v", out)
	}
	// Synchronous: finished when RotateSecret answered.
	if v, _ := e.get(arn, "", ""); v != "new-"+tokA {
		t.Fatalf("AWSCURRENT is %q", v)
	}
	if st := e.stages(arn); !slices.Equal(st[tokA], []string{"AWSCURRENT"}) || !slices.Equal(st[old], []string{"AWSPREVIOUS"}) {
		t.Fatalf("labels after rotation (AWSPENDING must be gone): %v", st)
	}
	d := e.describe(arn)
	if !aws.ToBool(d.RotationEnabled) || aws.ToString(d.RotationLambdaARN) != fnARN || d.RotationRules == nil ||
		aws.ToString(d.RotationRules.ScheduleExpression) != "rate(10 days)" || d.LastRotatedDate == nil || d.LastRotatedDate.Before(begin.Truncate(time.Second)) ||
		d.NextRotationDate == nil || !d.NextRotationDate.Equal(d.LastRotatedDate.UTC().AddDate(0, 0, 11).Truncate(24*time.Hour)) {
		t.Fatalf("DescribeSecret after rotation: %+v", d)
	}

	// The events: the four steps in order, as JSON bytes through
	// aws-lambda-go, each with the ARN, the version, one rotation token.
	invs := r.invocations()
	if got := r.steps(); !slices.Equal(got, allSteps) {
		t.Fatalf("steps %v", got)
	}
	requestIDs := map[string]bool{}
	for _, inv := range invs {
		ev := inv.event
		if ev.SecretID != arn || ev.ClientRequestToken != tokA || ev.RotationToken != invs[0].event.RotationToken {
			t.Fatalf("event %+v", ev)
		}
		if !regexp.MustCompile(`^[a-zA-Z0-9-]{36,256}$`).MatchString(ev.RotationToken) {
			t.Fatalf("RotationToken %q does not fit PutSecretValue's pattern", ev.RotationToken)
		}
		if inv.functionARN != fnARN || inv.requestID == "" || requestIDs[inv.requestID] {
			t.Fatalf("lambdacontext: arn %q, request id %q (fresh each time)", inv.functionARN, inv.requestID)
		}
		requestIDs[inv.requestID] = true
		if !inv.hasDeadline || time.Until(inv.deadline) > time.Minute || time.Until(inv.deadline) < 50*time.Second {
			t.Fatalf("deadline %v, want about 60s ahead", inv.deadline)
		}
	}

	// Hooks: one per step, one per attempt, outside the lock (they may call in).
	mu.Lock()
	defer mu.Unlock()
	if len(steps) != 4 || steps[3].Step != "finishSecret" || steps[3].VersionID != tokA || steps[3].Error != "" {
		t.Fatalf("step hook: %+v", steps)
	}
	if len(attempts) != 1 || attempts[0].Outcome != smemulator.RotationSucceeded || !slices.Equal(attempts[0].Steps, allSteps) {
		t.Fatalf("attempt hook: %+v", attempts)
	}

	// The log, in Go and over the control API, without the rotation token.
	log := e.emu.Rotations()
	if len(log) != 1 || log[0].SecretARN != arn || log[0].VersionID != tokA || log[0].Attempt != 1 || log[0].Outcome != smemulator.RotationSucceeded || log[0].Ended.IsZero() {
		t.Fatalf("Rotations(): %+v", log)
	}
	status, body := e.control(http.MethodGet, "/_emulator/rotations", "")
	var served struct{ Rotations []smemulator.RotationAttempt }
	if status != 200 || json.Unmarshal(body, &served) != nil || len(served.Rotations) != 1 || served.Rotations[0].Outcome != smemulator.RotationSucceeded {
		t.Fatalf("GET /_emulator/rotations: %d %s", status, body)
	}
	if strings.Contains(string(body), invs[0].event.RotationToken) {
		t.Fatal("the rotation log holds the rotation token")
	}
	if !slices.Contains(e.emu.RotationTokensSent(), invs[0].event.RotationToken) {
		t.Fatal("RotationTokensSent does not list the token")
	}
}

// The same rotation in the background: RotateSecret answers at once with
// the same response, the log says RotationStarted, WaitIdle waits.
func TestRotationInTheBackground(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, smemulator.WithBackgroundRotation(true))
	inner := &rotator{sm: e.sm}
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		<-release
		return inner.handle(ctx, ev)
	}))
	arn := e.create("s", "v1")
	out, err := e.sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(tokA),
		RotationLambdaARN: aws.String(fnARN), RotationRules: &rotationRules10Days})
	if err != nil || aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "s" || aws.ToString(out.VersionId) != tokA {
		t.Fatalf("%+v %v", out, err)
	}
	if log := e.emu.Rotations(); len(log) != 1 || log[0].Outcome != smemulator.RotationStarted || log[0].VersionID != tokA {
		t.Fatalf("log while running: %+v", log)
	}
	short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := e.emu.WaitIdle(short); err == nil {
		t.Fatal("WaitIdle returned while a rotation was held")
	}
	close(release)
	if err := e.emu.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.get(arn, "", ""); v != "new-"+tokA {
		t.Fatalf("after the background rotation AWSCURRENT is %q", v)
	}
	if log := e.emu.Rotations(); log[0].Outcome != smemulator.RotationSucceeded {
		t.Fatalf("log after: %+v", log)
	}
	if err := e.emu.WaitIdle(t.Context()); err != nil {
		t.Fatal("WaitIdle with nothing running:", err)
	}
}

func TestFailedStepRetriesTheWholeRotationWithTheSameToken(t *testing.T) {
	var attempts []smemulator.RotationAttempt
	e := newEnv(t, smemulator.WithMaxAttempts(3), smemulator.WithAttemptHook(func(a smemulator.RotationAttempt) { attempts = append(attempts, a) }))
	r := e.newRotator("testSecret", 2) // fails twice, then passes
	arn := e.create("s", "v1")
	version, err := e.rotate(arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := e.emu.Rotations()
	if got := outcomes(log); !slices.Equal(got, []string{"AttemptFailed", "AttemptFailed", "RotationSucceeded"}) {
		t.Fatalf("outcomes %v", got)
	}
	for i, a := range log {
		if a.VersionID != version || a.Attempt != i+1 {
			t.Fatalf("attempt %d: %+v", i, a)
		}
	}
	if log[0].FailedStep != "testSecret" || log[0].Error != "testSecret failed on purpose" || !slices.Equal(log[0].Steps, allSteps[:3]) {
		t.Fatalf("a failed attempt: %+v", log[0])
	}
	if len(attempts) != 3 {
		t.Fatalf("attempt hook called %d times", len(attempts))
	}
	// Every attempt ran the whole sequence from createSecret, same tokens.
	var seq []string
	for _, inv := range r.invocations() {
		seq = append(seq, inv.event.Step)
		if inv.event.ClientRequestToken != version || inv.event.RotationToken != r.invocations()[0].event.RotationToken {
			t.Fatalf("a retry changed the tokens: %+v", inv.event)
		}
	}
	want := append(append(append([]string{}, allSteps[:3]...), allSteps[:3]...), allSteps...)
	if !slices.Equal(seq, want) {
		t.Fatalf("invocations %v, want %v", seq, want)
	}
	if v, _ := e.get(arn, "", ""); v != "new-"+version {
		t.Fatalf("AWSCURRENT %q", v)
	}
}

func TestRotationGivesUpLeavingAWSPENDING(t *testing.T) {
	e := newEnv(t, smemulator.WithMaxAttempts(2))
	e.newRotator("finishSecret", 100)
	arn := e.create("s", "v1")
	version, err := e.rotate(arn, nil)
	if err != nil {
		t.Fatal("RotateSecret answers even when the rotation fails:", err)
	}
	log := e.emu.Rotations()
	if got := outcomes(log); !slices.Equal(got, []string{"AttemptFailed", "RotationFailed"}) {
		t.Fatalf("outcomes %v", got)
	}
	last := log[len(log)-1]
	if last.FailedStep != "finishSecret" || last.Error != "finishSecret failed on purpose" || !slices.Equal(last.Steps, allSteps) {
		t.Fatalf("the last attempt, given up: %+v", last)
	}
	if st := e.stages(arn); !slices.Equal(st[version], []string{"AWSPENDING"}) {
		t.Fatalf("AWSPENDING not left in place: %v", st)
	}
	if v, _ := e.get(arn, "", ""); v != "v1" {
		t.Fatalf("AWSCURRENT moved: %q", v)
	}
	if d := e.describe(arn); d.LastRotatedDate != nil {
		t.Fatal("LastRotatedDate set by a failed rotation")
	}
	// The stuck rotation: the next RotateSecret is refused, changing nothing.
	e.unchanged("a second rotation", func() { _, err = e.rotate(arn, nil) })
	if !isType[*types.InvalidRequestException](err) || message(err) != "A previous rotation isn't complete. That rotation will be reattempted." {
		t.Fatalf("a second rotation: %v", err)
	}
	// Removing AWSPENDING by hand unsticks it.
	if err := e.updateStage(arn, "AWSPENDING", "", version); err != nil {
		t.Fatal(err)
	}
	e.newRotator("", 0)
	if _, err := e.rotate(arn, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRotateImmediatelyFalseRunsOnlyTestSecret(t *testing.T) {
	e := newEnv(t)
	r := e.newRotator("", 0)
	arn := e.create("s", "v1")
	before := e.stages(arn)
	version, err := e.rotate(arn, aws.Bool(false))
	if err != nil {
		t.Fatal(err)
	}
	invs := r.invocations()
	if got := r.steps(); !slices.Equal(got, []string{"testSecret"}) || invs[0].event.ClientRequestToken != version {
		t.Fatalf("steps %v", got)
	}
	if r.pendingReadable[0] {
		t.Fatal("testSecret found a value in the fresh AWSPENDING version")
	}
	after := e.stages(arn)
	if len(after) != len(before) || slices.ContainsFunc(e.emu.Versions(arn), func(v smemulator.Version) bool { return v.VersionID == version }) {
		t.Fatalf("the placeholder was not removed: %v", after)
	}
	if v, _ := e.get(arn, "", ""); v != "v1" {
		t.Fatal("a configuration test changed the value")
	}
	d := e.describe(arn)
	if !aws.ToBool(d.RotationEnabled) || d.LastRotatedDate != nil || d.NextRotationDate == nil {
		t.Fatalf("after the configuration test: %+v", d)
	}
	if log := e.emu.Rotations(); len(log) != 1 || log[0].Outcome != smemulator.TestRotationSucceeded || !slices.Equal(log[0].Steps, []string{"testSecret"}) {
		t.Fatalf("log %+v", log)
	}
}

// A failing configuration test is TestRotationFailed (not RotationFailed:
// no rotation ran), once, and its placeholder still goes.
func TestRotateImmediatelyFalseFailingIsTestRotationFailed(t *testing.T) {
	e := newEnv(t, smemulator.WithMaxAttempts(3))
	r := e.newRotator("testSecret", 100)
	arn := e.create("s", "v1")
	before := e.stages(arn)
	version, err := e.rotate(arn, aws.Bool(false))
	if err != nil {
		t.Fatal(err)
	}
	log := e.emu.Rotations()
	if got := outcomes(log); !slices.Equal(got, []string{smemulator.TestRotationFailed}) || len(r.invocations()) != 1 {
		t.Fatalf("outcomes %v after %d invocations, want one TestRotationFailed", got, len(r.invocations()))
	}
	if log[0].VersionID != version || log[0].FailedStep != "testSecret" || log[0].Error != "testSecret failed on purpose" {
		t.Fatalf("log %+v", log)
	}
	if after := e.stages(arn); len(after) != len(before) {
		t.Fatalf("the placeholder was not removed: %v", after)
	}
}

// While a configuration test runs, the log says TestRotationStarted.
func TestRotateImmediatelyFalseInTheBackgroundIsTestRotationStarted(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, smemulator.WithBackgroundRotation(true))
	inner := &rotator{sm: e.sm}
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		<-release
		return inner.handle(ctx, ev)
	}))
	arn := e.create("s", "v1")
	if _, err := e.rotate(arn, aws.Bool(false)); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(e.emu.Rotations()); !slices.Equal(got, []string{smemulator.TestRotationStarted}) {
		t.Fatalf("log while the test runs: %v", got)
	}
	close(release)
	if err := e.emu.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(e.emu.Rotations()); !slices.Equal(got, []string{smemulator.TestRotationSucceeded}) {
		t.Fatalf("log after: %v", got)
	}
}

func TestRotateSecretWithoutARegisteredFunction(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	var err error
	e.unchanged("a rotation nobody can run", func() { _, err = e.rotate(arn, nil) })
	if code(err) != "AccessDeniedException" || !strings.HasPrefix(message(err), "Secrets Manager cannot invoke the specified Lambda function.") ||
		!strings.Contains(message(err), "no function is registered for "+fnARN) {
		t.Fatalf("no function: %v", err)
	}
	if d := e.describe(arn); d.RotationEnabled != nil || d.RotationLambdaARN != nil {
		t.Fatalf("a refused rotation stored its configuration: %+v", d)
	}
	// Without any function ARN, stored or given.
	e.unchanged("a rotation without a function", func() {
		_, err = e.sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn)})
	})
	if !isType[*types.InvalidRequestException](err) {
		t.Fatalf("no ARN: %v", err)
	}
}

func TestRotateSecretUsesTheStoredConfiguration(t *testing.T) {
	e := newEnv(t)
	r := e.newRotator("", 0)
	arn := e.create("s", "v1")
	if _, err := e.rotate(arn, nil); err != nil {
		t.Fatal(err)
	}
	out, err := e.sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e.get(arn, "", ""); v != "new-"+aws.ToString(out.VersionId) || len(r.invocations()) != 8 {
		t.Fatalf("second rotation: %q after %d invocations", v, len(r.invocations()))
	}
	if d := e.describe(arn); aws.ToString(d.RotationRules.ScheduleExpression) != "rate(10 days)" || aws.ToInt64(d.RotationRules.AutomaticallyAfterDays) != 10 {
		t.Fatalf("rules %+v", d.RotationRules)
	}
}

// A function that outlives its deadline is abandoned with Lambda's words;
// the emulator does not wait for it.
func TestFunctionTimeout(t *testing.T) {
	e := newEnv(t, smemulator.WithFunctionTimeout(50*time.Millisecond), smemulator.WithMaxAttempts(1))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	deadlines := make(chan time.Time, 1)
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		d, _ := ctx.Deadline()
		deadlines <- d
		<-release // ignores its context, as a stuck function does
		return nil
	}))
	arn := e.create("s", "v1")
	begin := time.Now()
	version, err := e.rotate(arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > 5*time.Second {
		t.Fatal("the emulator waited for a function past its deadline")
	}
	log := e.emu.Rotations()
	if len(log) != 1 || log[0].Outcome != smemulator.RotationFailed || log[0].FailedStep != "createSecret" || log[0].Error != "Task timed out after 0.05 seconds" {
		t.Fatalf("log %+v", log)
	}
	if deadline := <-deadlines; deadline.IsZero() || deadline.Sub(begin) > time.Second {
		t.Fatalf("deadline %v", deadline)
	}
	if st := e.stages(arn); !slices.Equal(st[version], []string{"AWSPENDING"}) {
		t.Fatalf("labels %v", st)
	}
}

func TestPanickingFunctionFailsTheStep(t *testing.T) {
	e := newEnv(t, smemulator.WithMaxAttempts(1))
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		panic("boom")
	}))
	arn := e.create("s", "v1")
	if _, err := e.rotate(arn, nil); err != nil {
		t.Fatal(err)
	}
	if log := e.emu.Rotations(); log[0].Outcome != smemulator.RotationFailed || log[0].Error != "boom" {
		t.Fatalf("log %+v", log)
	}
}

// CancelRotateSecret turns rotation off and stops retries, leaving the
// labels as they are, as AWS documents.
func TestCancelRotateSecret(t *testing.T) {
	failed := make(chan struct{}, 10)
	cancelled := make(chan struct{})
	e := newEnv(t, smemulator.WithBackgroundRotation(true), smemulator.WithMaxAttempts(3),
		smemulator.WithAttemptHook(func(a smemulator.RotationAttempt) {
			failed <- struct{}{}
			<-cancelled // the next attempt may start only after the cancel
		}))
	r := e.newRotator("testSecret", 100)
	arn := e.create("s", "v1")
	version, err := e.rotate(arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-failed
	out, err := e.sm.CancelRotateSecret(t.Context(), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(arn)})
	close(cancelled)
	if err != nil || aws.ToString(out.VersionId) != version || aws.ToString(out.ARN) != arn {
		t.Fatalf("CancelRotateSecret: %+v %v", out, err)
	}
	if err := e.emu.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The failed attempt was the last: the log marks the rotation failed.
	if got := outcomes(e.emu.Rotations()); !slices.Equal(got, []string{"RotationFailed"}) || len(r.invocations()) != 3 {
		t.Fatalf("after the cancel: outcomes %v, %d invocations", got, len(r.invocations()))
	}
	d := e.describe(arn)
	if d.RotationEnabled == nil || *d.RotationEnabled || aws.ToString(d.RotationLambdaARN) != fnARN || d.NextRotationDate != nil || d.LastRotatedDate != nil {
		t.Fatalf("DescribeSecret after cancel: %+v", d)
	}
	if st := e.stages(arn); !slices.Equal(st[version], []string{"AWSPENDING"}) {
		t.Fatalf("CancelRotateSecret touched the labels: %v", st)
	}
}
