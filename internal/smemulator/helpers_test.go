package smemulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:rotator"

// Version ids and client request tokens: UUIDs, as the SDK makes them.
const (
	tokA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	tokB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	tokC = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
	tokD = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"
)

type env struct {
	t   *testing.T
	emu *smemulator.Emulator
	srv *httptest.Server
	sm  *secretsmanager.Client
}

func newEnv(t *testing.T, opts ...smemulator.Option) *env {
	t.Helper()
	emu := smemulator.New(opts...)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &env{t: t, emu: emu, srv: srv, sm: sdkClient(srv.URL, true)}
}

// sdkClient is the real SDK client, its endpoint set as
// AWS_ENDPOINT_URL_SECRETS_MANAGER sets it (BaseEndpoint), with static
// credentials in us-east-1.
func sdkClient(url string, retries bool) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
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

func (e *env) mustPut(id, token, value string, stages ...string) {
	e.t.Helper()
	if err := e.put(id, token, value, stages...); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) describe(id string) *secretsmanager.DescribeSecretOutput {
	e.t.Helper()
	out, err := e.sm.DescribeSecret(e.t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) stages(id string) map[string][]string {
	e.t.Helper()
	return e.describe(id).VersionIdsToStages
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

func (e *env) updateStage(id, stage, moveTo, removeFrom string) error {
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(id), VersionStage: aws.String(stage)}
	if moveTo != "" {
		in.MoveToVersionId = aws.String(moveTo)
	}
	if removeFrom != "" {
		in.RemoveFromVersionId = aws.String(removeFrom)
	}
	_, err := e.sm.UpdateSecretVersionStage(e.t.Context(), in)
	return err
}

// current is the id of the AWSCURRENT version.
func (e *env) current(id string) string {
	e.t.Helper()
	v, ok := e.emu.VersionByStage(id, "AWSCURRENT")
	if !ok {
		e.t.Fatalf("%s has no AWSCURRENT version", id)
	}
	return v.VersionID
}

// snapshot is every secret's state as the emulator holds it (versions,
// values, labels, metadata) plus the rotation log, to prove that a refused
// call changed nothing. It counts as no call and changes nothing itself.
func (e *env) snapshot() string {
	e.t.Helper()
	out, err := e.sm.ListSecrets(e.t.Context(), &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range out.SecretList {
		meta, _ := json.Marshal(s)
		b.WriteString(string(meta) + "\n")
		for _, v := range e.emu.Versions(aws.ToString(s.ARN)) {
			vb, _ := json.Marshal(v)
			b.WriteString("  " + string(vb) + "\n")
		}
	}
	log, _ := json.Marshal(e.emu.Rotations())
	b.Write(log)
	return b.String()
}

// unchanged runs f and fails if the state moved.
func (e *env) unchanged(what string, f func()) {
	e.t.Helper()
	before := e.snapshot()
	f()
	if after := e.snapshot(); after != before {
		e.t.Fatalf("%s changed the state:\nbefore %s\nafter  %s", what, before, after)
	}
}

func isType[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// code is the error code of any API error, typed or not (the SDK has no
// type for ValidationException or AccessDeniedException).
func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func message(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorMessage()
	}
	return ""
}

// sigv4 is an Authorization header of the right shape; the emulator
// checks the shape, not the signature.
const sigv4 = "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef"

type rawAnswer struct {
	status int
	typ    string
	msg    string
	header http.Header
	body   string
}

// raw sends an awsJson1.1 call by hand, for inputs the SDK would refuse
// to send; headers override or drop ("" value) the defaults.
func (e *env) raw(op, body string, headers ...string) rawAnswer {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", sigv4)
	req.Header.Set("X-Amz-Date", "20260101T000000Z")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &out)
	return rawAnswer{status: resp.StatusCode, typ: out.Type, msg: out.Message, header: resp.Header, body: string(b)}
}

func (e *env) control(method, path, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) fault(rule string) {
	e.t.Helper()
	if status, body := e.control(http.MethodPost, "/_emulator/faults", rule); status != http.StatusOK {
		e.t.Fatalf("fault %s: %d %s", rule, status, body)
	}
}

// invocation is what a rotation function saw of one invocation.
type invocation struct {
	event       events.SecretsManagerSecretRotationEvent
	requestID   string
	functionARN string
	deadline    time.Time
	hasDeadline bool
}

// rotator is a small rotation function that does a trivial rotation
// through the real SDK, as a rotation Lambda does: createSecret stores a
// value as AWSPENDING, finishSecret moves AWSCURRENT. failStep fails that
// step the next failures times.
type rotator struct {
	sm       *secretsmanager.Client
	failStep string

	mu       sync.Mutex
	failures int
	seen     []invocation
	// pendingReadable records, per testSecret call, whether AWSPENDING
	// had a value then.
	pendingReadable []bool
}

func (e *env) newRotator(failStep string, failures int) *rotator {
	r := &rotator{sm: e.sm, failStep: failStep, failures: failures}
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(r.handle))
	return r
}

func (r *rotator) handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	inv := invocation{event: ev}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		inv.requestID, inv.functionARN = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	inv.deadline, inv.hasDeadline = ctx.Deadline()
	r.mu.Lock()
	r.seen = append(r.seen, inv)
	fail := ev.Step == r.failStep && r.failures > 0
	if fail {
		r.failures--
	}
	r.mu.Unlock()
	if fail {
		return errors.New(ev.Step + " failed on purpose")
	}
	switch ev.Step {
	case "createSecret":
		_, err := r.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(ev.SecretID),
			ClientRequestToken: aws.String(ev.ClientRequestToken), SecretString: aws.String("new-" + ev.ClientRequestToken),
			VersionStages: []string{"AWSPENDING"}, RotationToken: aws.String(ev.RotationToken)})
		return err
	case "testSecret":
		_, err := r.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID),
			VersionId: aws.String(ev.ClientRequestToken), VersionStage: aws.String("AWSPENDING")})
		r.mu.Lock()
		r.pendingReadable = append(r.pendingReadable, err == nil)
		r.mu.Unlock()
		return nil
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

func (r *rotator) invocations() []invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

func (r *rotator) steps() []string {
	var out []string
	for _, inv := range r.invocations() {
		out = append(out, inv.event.Step)
	}
	return out
}

func (e *env) rotate(arn string, immediately *bool) (string, error) {
	out, err := e.sm.RotateSecret(e.t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn),
		RotationLambdaARN: aws.String(fnARN), RotationRules: &rotationRules10Days, RotateImmediately: immediately})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.VersionId), nil
}

func outcomes(log []smemulator.RotationAttempt) []string {
	var out []string
	for _, a := range log {
		out = append(out, a.Outcome)
	}
	return out
}
