package smemulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:rotator"

type env struct {
	t   *testing.T
	emu *smemulator.Emulator
	srv *httptest.Server
	sm  *secretsmanager.Client
}

func newEnv(t *testing.T, opts ...smemulator.Option) *env {
	emu := smemulator.New(opts...)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &env{t: t, emu: emu, srv: srv, sm: sdkClient(srv.URL, true)}
}

// sdkClient is the real SDK client, its endpoint set as
// AWS_ENDPOINT_URL_SECRETS_MANAGER sets it.
func sdkClient(url string, retries bool) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String(url),
	}, func(o *secretsmanager.Options) {
		if !retries {
			o.Retryer = aws.NopRetryer{}
		}
	})
}

func (e *env) create(name, value string) string {
	e.t.Helper()
	out, err := e.sm.CreateSecret(e.t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func (e *env) put(id, token, value string, stages ...string) error {
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(value)}
	if token != "" {
		in.ClientRequestToken = aws.String(token)
	}
	if stages != nil {
		in.VersionStages = stages
	}
	_, err := e.sm.PutSecretValue(e.t.Context(), in)
	return err
}

func (e *env) stages(id string) map[string][]string {
	e.t.Helper()
	out, err := e.sm.DescribeSecret(e.t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.VersionIdsToStages
}

func (e *env) get(id, version, stage string) (string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	out, err := e.sm.GetSecretValue(e.t.Context(), in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}

func isType[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

const (
	tokA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	tokB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	tokC = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
)

func TestSecretIDByNameFullARNAndPartialARN(t *testing.T) {
	e := newEnv(t)
	arn := e.create("team/db", "v1")
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:000000000000:secret:team/db-") || len(arn) != len("arn:aws:secretsmanager:us-east-1:000000000000:secret:team/db-")+6 {
		t.Fatalf("ARN %s", arn)
	}
	for _, id := range []string{"team/db", arn, strings.TrimSuffix(arn, arn[len(arn)-7:])} {
		if v, err := e.get(id, "", ""); err != nil || v != "v1" {
			t.Errorf("SecretId %s: %q, %v", id, v, err)
		}
	}
	if _, err := e.get("team/d", "", ""); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("a name prefix found a secret: %v", err)
	}
}

func TestStagingLabels(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	first := ""
	for id := range e.stages(arn) {
		first = id
	}
	// Without VersionStages a new version becomes AWSCURRENT; the old one
	// becomes AWSPREVIOUS.
	if err := e.put(arn, tokA, "v2"); err != nil {
		t.Fatal(err)
	}
	st := e.stages(arn)
	if !slices.Equal(st[tokA], []string{"AWSCURRENT"}) || !slices.Equal(st[first], []string{"AWSPREVIOUS"}) {
		t.Fatalf("after put: %v", st)
	}
	// With VersionStages=[AWSPENDING] it does not.
	if err := e.put(arn, tokB, "v3", "AWSPENDING"); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.get(arn, "", ""); v != "v2" {
		t.Fatalf("AWSCURRENT is %q after a pending put", v)
	}
	// Same token, same value: ignored. Same token, other value: refused.
	if err := e.put(arn, tokB, "v3", "AWSPENDING"); err != nil {
		t.Fatalf("a retried put: %v", err)
	}
	if err := e.put(arn, tokB, "other", "AWSPENDING"); !isType[*types.ResourceExistsException](err) {
		t.Fatalf("a changed put: %v", err)
	}
	if v, _ := e.get(arn, tokB, ""); v != "v3" {
		t.Fatalf("the refused put changed the version: %q", v)
	}
	// Moving AWSCURRENT needs RemoveFromVersionId naming its holder.
	_, err := e.sm.UpdateSecretVersionStage(t.Context(), &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tokB)})
	if !isType[*types.InvalidParameterException](err) || !strings.Contains(err.Error(), "RemoveFromVersionId") {
		t.Fatalf("move without RemoveFromVersionId: %v", err)
	}
	if _, err := e.sm.UpdateSecretVersionStage(t.Context(), &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(tokB), RemoveFromVersionId: aws.String(tokA)}); err != nil {
		t.Fatal(err)
	}
	st = e.stages(arn)
	if !slices.Equal(st[tokB], []string{"AWSCURRENT", "AWSPENDING"}) || !slices.Equal(st[tokA], []string{"AWSPREVIOUS"}) {
		t.Fatalf("after the move: %v", st)
	}
	if _, ok := st[first]; ok {
		t.Fatalf("an unlabelled version is listed in VersionIdsToStages: %v", st)
	}
	// AWSCURRENT cannot just be removed.
	_, err = e.sm.UpdateSecretVersionStage(t.Context(), &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: aws.String(tokB)})
	if !isType[*types.InvalidParameterException](err) {
		t.Fatalf("removing AWSCURRENT: %v", err)
	}
	// ListSecretVersionIds: labelled only, unless deprecated ones are asked for.
	list, err := e.sm.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn)})
	if err != nil || len(list.Versions) != 2 {
		t.Fatalf("ListSecretVersionIds: %d, %v", len(list.Versions), err)
	}
	all, err := e.sm.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true)})
	if err != nil || len(all.Versions) != 3 {
		t.Fatalf("with IncludeDeprecated: %d, %v", len(all.Versions), err)
	}
}

func TestGetSecretValueSelection(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	if err := e.put(arn, tokA, "v2", "AWSPENDING"); err != nil {
		t.Fatal(err)
	}
	if v, err := e.get(arn, tokA, "AWSPENDING"); err != nil || v != "v2" {
		t.Fatalf("id and stage agreeing: %q %v", v, err)
	}
	if _, err := e.get(arn, tokA, "AWSCURRENT"); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("id and stage disagreeing: %v", err)
	}
	if _, err := e.get(arn, tokC, ""); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("unknown version: %v", err)
	}
}

// trivialRotator is a rotation function that does the minimum through the
// SDK, recording what it saw.
type trivialRotator struct {
	sm       *secretsmanager.Client
	failStep string
	fails    atomic.Int32
	events   []events.SecretsManagerSecretRotationEvent
	ctxOK    []bool
}

func (r *trivialRotator) handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	r.events = append(r.events, ev)
	lc, hasLC := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	r.ctxOK = append(r.ctxOK, hasLC && lc.AwsRequestID != "" && lc.InvokedFunctionArn == fnARN && hasDeadline)
	if ev.Step == r.failStep && r.fails.Add(-1) >= 0 {
		return fmt.Errorf("%s failed on purpose", ev.Step)
	}
	switch ev.Step {
	case "createSecret":
		_, err := r.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(ev.SecretID),
			ClientRequestToken: aws.String(ev.ClientRequestToken), SecretString: aws.String("new-" + ev.ClientRequestToken),
			VersionStages: []string{"AWSPENDING"}, RotationToken: aws.String(ev.RotationToken)})
		return err
	case "finishSecret":
		d, err := r.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
		if err != nil {
			return err
		}
		for id, st := range d.VersionIdsToStages {
			if slices.Contains(st, "AWSCURRENT") && id != ev.ClientRequestToken {
				_, err = r.sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(ev.SecretID),
					VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(id)})
			}
		}
		return err
	}
	return nil
}

func (e *env) rotator(failStep string, failures int32) *trivialRotator {
	r := &trivialRotator{sm: e.sm, failStep: failStep}
	r.fails.Store(failures)
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(r.handle))
	return r
}

func (e *env) rotate(arn string, immediately bool) (string, error) {
	out, err := e.sm.RotateSecret(e.t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn),
		RotationLambdaARN: aws.String(fnARN), RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)")},
		RotateImmediately: aws.Bool(immediately)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.VersionId), nil
}

func TestRotationSucceeds(t *testing.T) {
	var steps []smemulator.StepResult
	var attempts []smemulator.RotationAttempt
	e := newEnv(t, smemulator.WithStepHook(func(s smemulator.StepResult) { steps = append(steps, s) }),
		smemulator.WithAttemptHook(func(a smemulator.RotationAttempt) { attempts = append(attempts, a) }))
	r := e.rotator("", 0)
	arn := e.create("s", "v1")
	version, err := e.rotate(arn, true)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e.get(arn, "", ""); v != "new-"+version {
		t.Fatalf("AWSCURRENT is %q", v)
	}
	st := e.stages(arn)
	if !slices.Equal(st[version], []string{"AWSCURRENT"}) {
		t.Fatalf("AWSPENDING left on the new current version: %v", st)
	}
	d, _ := e.sm.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if !aws.ToBool(d.RotationEnabled) || aws.ToString(d.RotationLambdaARN) != fnARN || d.LastRotatedDate == nil || d.NextRotationDate == nil ||
		d.NextRotationDate.Sub(*d.LastRotatedDate).Round(time.Hour) != 240*time.Hour {
		t.Fatalf("DescribeSecret after rotation: %+v", d)
	}
	var gotSteps []string
	for i, ev := range r.events {
		gotSteps = append(gotSteps, ev.Step)
		if ev.SecretID != arn || ev.ClientRequestToken != version || ev.RotationToken == "" || !r.ctxOK[i] {
			t.Fatalf("event %d: %+v, context ok %v", i, ev, r.ctxOK[i])
		}
	}
	if !slices.Equal(gotSteps, []string{"createSecret", "setSecret", "testSecret", "finishSecret"}) || len(steps) != 4 {
		t.Fatalf("steps %v, hooks %d", gotSteps, len(steps))
	}
	if len(attempts) != 1 || attempts[0].Outcome != smemulator.RotationSucceeded {
		t.Fatalf("attempts %+v", attempts)
	}
	if !slices.Contains(e.emu.RotationTokensSent(), r.events[0].RotationToken) {
		t.Fatal("RotationTokensSent does not list the event's token")
	}
	// The same log over the control API.
	resp, err := http.Get(e.srv.URL + "/_emulator/rotations")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var log struct{ Rotations []smemulator.RotationAttempt }
	if json.NewDecoder(resp.Body).Decode(&log) != nil || len(log.Rotations) != 1 || log.Rotations[0].VersionID != version {
		t.Fatalf("GET /_emulator/rotations: %+v", log)
	}
}

func TestFailedStepRetriesThenAbandons(t *testing.T) {
	e := newEnv(t, smemulator.WithMaxAttempts(3))
	r := e.rotator("testSecret", 2) // fails twice, then passes
	arn := e.create("s", "v1")
	version, err := e.rotate(arn, true)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, a := range e.emu.Rotations() {
		outcomes = append(outcomes, a.Outcome)
		if a.VersionID != version {
			t.Fatal("a retry used another token")
		}
	}
	if !slices.Equal(outcomes, []string{"RotationFailed", "RotationFailed", "RotationSucceeded"}) {
		t.Fatalf("outcomes %v", outcomes)
	}
	_ = r

	// Failing every time: abandoned, AWSPENDING left, the next rotation refused.
	e2 := newEnv(t, smemulator.WithMaxAttempts(2))
	e2.rotator("finishSecret", 100)
	arn2 := e2.create("s", "v1")
	v2, err := e2.rotate(arn2, true)
	if err != nil {
		t.Fatal(err)
	}
	log := e2.emu.Rotations()
	if last := log[len(log)-1]; len(log) != 2 || last.Outcome != smemulator.RotationAbandoned || last.FailedStep != "finishSecret" || !strings.Contains(last.Error, "failed on purpose") {
		t.Fatalf("log %+v", log)
	}
	if st := e2.stages(arn2); !slices.Equal(st[v2], []string{"AWSPENDING"}) {
		t.Fatalf("AWSPENDING not left in place: %v", st)
	}
	_, err = e2.rotate(arn2, true)
	if !isType[*types.InvalidRequestException](err) || !strings.Contains(err.Error(), "A previous rotation isn't complete. That rotation will be reattempted.") {
		t.Fatalf("a second rotation: %v", err)
	}
}

func TestRotateImmediatelyFalseRunsOnlyTestSecret(t *testing.T) {
	e := newEnv(t)
	r := e.rotator("", 0)
	arn := e.create("s", "v1")
	version, err := e.rotate(arn, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.events) != 1 || r.events[0].Step != "testSecret" || r.events[0].ClientRequestToken != version {
		t.Fatalf("events %+v", r.events)
	}
	if st := e.stages(arn); len(st) != 1 {
		t.Fatalf("the placeholder was not removed: %v", st)
	}
	if v, _ := e.get(arn, "", ""); v != "v1" {
		t.Fatal("a configuration test changed the value")
	}
}

func TestBackgroundRotation(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, smemulator.WithBackgroundRotation(true))
	inner := &trivialRotator{sm: e.sm}
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		<-release
		return inner.handle(ctx, ev)
	}))
	arn := e.create("s", "v1")
	version, err := e.rotate(arn, true)
	if err != nil {
		t.Fatal(err)
	}
	// RotateSecret has returned while the function is still held.
	if log := e.emu.Rotations(); len(log) != 1 || log[0].Outcome != smemulator.RotationStarted {
		t.Fatalf("log while running: %+v", log)
	}
	close(release)
	if err := e.emu.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.get(arn, "", ""); v != "new-"+version {
		t.Fatalf("after the background rotation AWSCURRENT is %q", v)
	}
}

func TestFunctionDeadlineAndMissingFunction(t *testing.T) {
	e := newEnv(t, smemulator.WithFunctionTimeout(50*time.Millisecond), smemulator.WithMaxAttempts(1))
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	arn := e.create("s", "v1")
	if _, err := e.rotate(arn, true); err != nil {
		t.Fatal(err)
	}
	if log := e.emu.Rotations(); !strings.Contains(log[0].Error, "Task timed out after 0.05 seconds") {
		t.Fatalf("log %+v", log)
	}

	e2 := newEnv(t)
	arn2 := e2.create("s", "v1")
	_, err := e2.rotate(arn2, true)
	if code(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "no function is registered under "+fnARN) {
		t.Fatalf("no function: %v", err)
	}
	if st := e2.stages(arn2); len(st) != 1 {
		t.Fatalf("a refused rotation left a version: %v", st)
	}
}

func TestTagsListAndDeletion(t *testing.T) {
	e := newEnv(t)
	arn := e.create("team/a", "x")
	e.create("team/b", "y")
	e.create("other", "z")
	if _, err := e.sm.TagResource(t.Context(), &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}}}); err != nil {
		t.Fatal(err)
	}
	names := func(filters ...types.Filter) []string {
		out, err := e.sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{Filters: filters})
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, s := range out.SecretList {
			n = append(n, aws.ToString(s.Name))
		}
		slices.Sort(n)
		return n
	}
	if got := names(types.Filter{Key: types.FilterNameStringTypeName, Values: []string{"team/"}}); !slices.Equal(got, []string{"team/a", "team/b"}) {
		t.Fatalf("name filter: %v", got)
	}
	if got := names(types.Filter{Key: types.FilterNameStringTypeTagKey, Values: []string{"owner"}}); !slices.Equal(got, []string{"team/a"}) {
		t.Fatalf("tag filter: %v", got)
	}
	if _, err := e.sm.UntagResource(t.Context(), &secretsmanager.UntagResourceInput{SecretId: aws.String(arn), TagKeys: []string{"owner"}}); err != nil {
		t.Fatal(err)
	}
	if got := names(types.Filter{Key: types.FilterNameStringTypeTagKey, Values: []string{"owner"}}); len(got) != 0 {
		t.Fatalf("after untag: %v", got)
	}

	if _, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(arn, "", ""); !isType[*types.InvalidRequestException](err) {
		t.Fatalf("reading a deleted secret: %v", err)
	}
	if _, err := e.sm.RestoreSecret(t.Context(), &secretsmanager.RestoreSecretInput{SecretId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if v, err := e.get(arn, "", ""); err != nil || v != "x" {
		t.Fatalf("after restore: %q %v", v, err)
	}
	if _, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(arn, "", ""); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("after a forced delete: %v", err)
	}
}

// raw sends an awsJson1.1 call with a SigV4-shaped header, for inputs the
// SDK would refuse to send.
func (e *env) raw(op, body string, auth bool) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if auth {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=abc")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Type string `json:"__type"`
	}
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out.Type + " " + string(b)
}

func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	for _, tc := range []struct {
		name, op, body, want string
		auth                 bool
	}{
		{"malformed JSON", "PutSecretValue", `{"SecretId":`, "SerializationException", true},
		{"missing SecretId", "PutSecretValue", `{"SecretString":"x"}`, "InvalidParameterException", true},
		{"SecretId of the wrong type", "PutSecretValue", `{"SecretId":5,"SecretString":"x"}`, "SerializationException", true},
		{"secret over 64 KiB", "PutSecretValue", `{"SecretId":"s","SecretString":"` + strings.Repeat("x", 65537) + `"}`, "SecretString", true},
		{"both values", "PutSecretValue", `{"SecretId":"s","SecretString":"x","SecretBinary":"eA=="}`, "InvalidParameterException", true},
		{"no value", "PutSecretValue", `{"SecretId":"s"}`, "InvalidRequestException", true},
		{"short ClientRequestToken", "PutSecretValue", `{"SecretId":"s","SecretString":"x","ClientRequestToken":"short"}`, "ClientRequestToken", true},
		{"description over 2048", "CreateSecret", `{"Name":"n","Description":"` + strings.Repeat("d", 2049) + `"}`, "Description", true},
		{"unknown operation", "StealSecret", `{}`, "UnknownOperationException", true},
		{"no Authorization header", "GetSecretValue", `{"SecretId":"s"}`, "MissingAuthenticationTokenException", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.stages(arn)
			status, body := e.raw(tc.op, tc.body, tc.auth)
			if status != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %.300s; want 400 with %q", status, body, tc.want)
			}
			if strings.Contains(body, strings.Repeat("x", 100)) {
				t.Fatal("the error echoed the secret value")
			}
			if after := e.stages(arn); len(after) != len(before) {
				t.Fatalf("state changed: %v → %v", before, after)
			}
			if v, _ := e.get(arn, "", ""); v != "v1" {
				t.Fatal("the value changed")
			}
		})
	}
	// A non-SigV4 Authorization header.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(`{"SecretId":"s"}`))
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	req.Header.Set("Authorization", "Bearer abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "IncompleteSignatureException" {
		t.Fatalf("non-SigV4: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
}

func (e *env) fault(rule string) {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL+"/_emulator/faults", "application/json", strings.NewReader(rule))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("fault %s: %d", rule, resp.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	sm := sdkClient(e.srv.URL, false)
	get := func() error {
		_, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		return err
	}
	e.fault(`{"operation":"GetSecretValue","after":1,"times":2,"status":500}`)
	var got []string
	for range 4 {
		got = append(got, code(get()))
	}
	if !slices.Equal(got, []string{"", "InternalServiceError", "InternalServiceError", ""}) {
		t.Fatalf("after/times: %v", got)
	}
	e.fault(`{"operation":"GetSecretValue","status":429,"retry_after_seconds":4}`)
	if err := get(); code(err) != "ThrottlingException" {
		t.Fatalf("429: %v", err)
	}
	e.fault(`{"operation":"GetSecretValue","status":400,"retry_after_seconds":4}`)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(`{"SecretId":"s"}`))
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=a, SignedHeaders=b, Signature=c")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Retry-After") != "4" {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	e.fault(`{"operation":"GetSecretValue","delay_ms":50}`)
	begin := time.Now()
	if err := get(); err != nil || time.Since(begin) < 50*time.Millisecond {
		t.Fatalf("delay: %v after %s", err, time.Since(begin))
	}
	e.fault(`{"operation":"PutSecretValue","drop":true}`)
	_, err = sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v2")})
	if err == nil || code(err) != "" {
		t.Fatalf("drop: %v, want a connection error", err)
	}
	if v, _ := e.get(arn, "", ""); v != "v1" {
		t.Fatal("a dropped put changed the value")
	}

	resp, err = http.Get(e.srv.URL + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	var calls map[string]int
	_ = json.NewDecoder(resp.Body).Decode(&calls)
	resp.Body.Close()
	if calls["GetSecretValue"] < 8 || calls["PutSecretValue"] != 1 {
		t.Fatalf("calls %v", calls)
	}
	dreq, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/_emulator/calls", nil)
	if resp, err := http.DefaultClient.Do(dreq); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE calls: %v", err)
	}
	if len(e.emu.Faults().Calls()) != 0 {
		t.Fatal("calls not reset")
	}

	outside := httptest.NewRequest(http.MethodGet, "/_emulator/rotations", nil)
	outside.RemoteAddr = "198.51.100.7:4000"
	rec := httptest.NewRecorder()
	e.emu.ServeHTTP(rec, outside)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("a non-loopback caller got %d", rec.Code)
	}
}

// TestAWSCLI drives the emulator with the AWS CLI v2, unchanged.
func TestAWSCLI(t *testing.T) {
	aws_, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed (Debian package awscli; .ci/run installs it)")
	}
	emu := smemulator.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: emu}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()
	cli := func(args ...string) (map[string]any, string, error) {
		cmd := exec.Command(aws_, append([]string{"--endpoint-url", url, "--output", "json", "secretsmanager"}, args...)...)
		cmd.Env = []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + url, "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "HOME=" + t.TempDir()}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var m map[string]any
		if len(out) > 0 {
			_ = json.Unmarshal(out, &m)
		}
		return m, stderr.String(), err
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		m, stderr, err := cli(args...)
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, stderr)
		}
		return m
	}

	created := must("create-secret", "--name", "cli/secret", "--secret-string", "v1")
	arn := created["ARN"].(string)
	must("put-secret-value", "--secret-id", arn, "--client-request-token", tokA, "--secret-string", "v2", "--version-stages", "AWSPENDING")
	must("put-secret-value", "--secret-id", arn, "--client-request-token", tokA, "--secret-string", "v2", "--version-stages", "AWSPENDING")
	if _, stderr, err := cli("put-secret-value", "--secret-id", arn, "--client-request-token", tokA, "--secret-string", "other"); err == nil || !strings.Contains(stderr, "ResourceExistsException") {
		t.Fatalf("a changed put: %v %s", err, stderr)
	}
	if v := must("get-secret-value", "--secret-id", "cli/secret", "--version-stage", "AWSPENDING"); v["SecretString"] != "v2" {
		t.Fatalf("by stage: %v", v)
	}
	if v := must("get-secret-value", "--secret-id", arn, "--version-id", tokA); v["SecretString"] != "v2" {
		t.Fatalf("by id: %v", v)
	}
	d := must("describe-secret", "--secret-id", arn)
	stages := d["VersionIdsToStages"].(map[string]any)
	current := ""
	for id, st := range stages {
		if slices.Contains(st.([]any), any("AWSCURRENT")) {
			current = id
		}
	}
	if _, stderr, err := cli("update-secret-version-stage", "--secret-id", arn, "--version-stage", "AWSCURRENT", "--move-to-version-id", tokA); err == nil || !strings.Contains(stderr, "InvalidParameterException") {
		t.Fatalf("move without remove: %v %s", err, stderr)
	}
	must("update-secret-version-stage", "--secret-id", arn, "--version-stage", "AWSCURRENT", "--move-to-version-id", tokA, "--remove-from-version-id", current)
	list := must("list-secret-version-ids", "--secret-id", arn)
	if n := len(list["Versions"].([]any)); n != 2 {
		t.Fatalf("list-secret-version-ids: %d versions", n)
	}

	// rotate-secret, with an in-test rotation function.
	r := &trivialRotator{sm: sdkClient(url, true)}
	emu.RegisterFunction(fnARN, lambda.NewHandler(r.handle))
	if _, stderr, err := cli("update-secret-version-stage", "--secret-id", arn, "--version-stage", "AWSPENDING", "--remove-from-version-id", tokA); err != nil {
		t.Fatalf("clear AWSPENDING: %v %s", err, stderr)
	}
	rot := must("rotate-secret", "--secret-id", arn, "--rotation-lambda-arn", fnARN, "--rotation-rules", `{"ScheduleExpression":"rate(30 days)"}`)
	version := rot["VersionId"].(string)
	if v := must("get-secret-value", "--secret-id", arn); v["SecretString"] != "new-"+version {
		t.Fatalf("after rotate-secret: %v", v)
	}
}

func BenchmarkGetSecretValue(b *testing.B) {
	emu := smemulator.New()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	sm := sdkClient(srv.URL, false)
	if _, err := sm.CreateSecret(b.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("b"), SecretString: aws.String(strings.Repeat("t", 600))}); err != nil {
		b.Fatal(err)
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("b")}
	for b.Loop() {
		if _, err := sm.GetSecretValue(b.Context(), in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutSecretValue(b *testing.B) {
	emu := smemulator.New()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	sm := sdkClient(srv.URL, false)
	if _, err := sm.CreateSecret(b.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("b"), SecretString: aws.String("v")}); err != nil {
		b.Fatal(err)
	}
	value := aws.String(strings.Repeat("t", 600))
	for b.Loop() {
		if _, err := sm.PutSecretValue(b.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("b"), SecretString: value, VersionStages: []string{"AWSPENDING"}}); err != nil {
			b.Fatal(err)
		}
	}
}
