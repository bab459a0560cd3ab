package localstack_test

// Lambda's Invoke API on the Secrets Manager port, driven by the AWS SDK's
// own Lambda client and by the AWS CLI.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

// echo is a function that answers {"echo": <event>, "arn": <invoked ARN>},
// fails with an error for {"fail": true} and panics for {"panic": true}.
type echo struct {
	mu    sync.Mutex
	calls [][]byte
}

func (e *echo) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e.mu.Lock()
	e.calls = append(e.calls, payload)
	e.mu.Unlock()
	var ev map[string]any
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	if ev["fail"] == true {
		return nil, errors.New("the event asked to fail")
	}
	if ev["panic"] == true {
		panic("the event asked to panic")
	}
	lc, _ := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	return json.Marshal(map[string]any{"echo": ev, "arn": lc.InvokedFunctionArn, "deadline": hasDeadline})
}

func (e *echo) invocations() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]byte(nil), e.calls...)
}

func lambdaClient(stack *localstack.Stack) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       localstack.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(stack.SecretsManagerURL),
		Retryer:      aws.NopRetryer{},
	})
}

func startStack(t *testing.T, cfg localstack.Config) *localstack.Stack {
	t.Helper()
	cfg.SecretsManagerAddr, cfg.AivenAddr = "127.0.0.1:0", "127.0.0.1:0"
	stack, err := localstack.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	return stack
}

func TestLambdaInvokeThroughTheSDK(t *testing.T) {
	fn := &echo{}
	stack := startStack(t, localstack.Config{Invoker: fn})
	lc := lambdaClient(stack)
	invoke := func(in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		t.Helper()
		return lc.Invoke(t.Context(), in)
	}

	// Every way Lambda accepts to name the function reaches it.
	for _, name := range []string{
		"aiven-token-rotator",
		"aiven-token-rotator:$LATEST",
		localstack.FunctionARN,
		localstack.FunctionARN + ":$LATEST",
		localstack.Account + ":function:aiven-token-rotator",
	} {
		out, err := invoke(&lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"action":"sweep"}`)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got struct {
			Echo     map[string]any `json:"echo"`
			ARN      string         `json:"arn"`
			Deadline bool           `json:"deadline"`
		}
		if err := json.Unmarshal(out.Payload, &got); err != nil {
			t.Fatalf("%s: payload %s: %v", name, out.Payload, err)
		}
		if out.StatusCode != http.StatusOK || out.FunctionError != nil || got.Echo["action"] != "sweep" ||
			got.ARN != localstack.FunctionARN || !got.Deadline || aws.ToString(out.ExecutedVersion) != "$LATEST" {
			t.Fatalf("%s: status %d, function error %v, payload %s, version %s", name, out.StatusCode, aws.ToString(out.FunctionError), out.Payload, aws.ToString(out.ExecutedVersion))
		}
	}
	if out, err := invoke(&lambda.InvokeInput{FunctionName: aws.String("aiven-token-rotator"), Qualifier: aws.String("$LATEST"), Payload: []byte(`{}`)}); err != nil || out.StatusCode != http.StatusOK {
		t.Fatalf("Qualifier $LATEST: %v", err)
	}

	// A function error: 200, X-Amz-Function-Error, Lambda's error payload.
	for payload, want := range map[string]string{
		`{"fail":true}`:  `{"errorMessage":"the event asked to fail","errorType":"errorString"}`,
		`{"panic":true}`: `{"errorMessage":"the event asked to panic","errorType":"string"}`,
	} {
		out, err := invoke(&lambda.InvokeInput{FunctionName: aws.String("aiven-token-rotator"), Payload: []byte(payload)})
		if err != nil {
			t.Fatal(err)
		}
		if out.StatusCode != http.StatusOK || aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != want {
			t.Fatalf("%s: status %d, function error %q, payload %s; want 200 Unhandled %s", payload, out.StatusCode, aws.ToString(out.FunctionError), out.Payload, want)
		}
	}

	// Refusals, each the SDK's own error type; the function never runs.
	before := len(fn.invocations())
	var notFound *lambdatypes.ResourceNotFoundException
	for _, name := range []string{"other-function", "aiven-token-rotator:7", "arn:aws:lambda:eu-west-1:000000000000:function:aiven-token-rotator", "arn:aws:lambda:us-east-1:111111111111:function:aiven-token-rotator"} {
		_, err := invoke(&lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)})
		if !errors.As(err, &notFound) || !strings.Contains(aws.ToString(notFound.Message), "Function not found: ") {
			t.Fatalf("%s: %v, want ResourceNotFoundException", name, err)
		}
	}
	var badContent *lambdatypes.InvalidRequestContentException
	if _, err := invoke(&lambda.InvokeInput{FunctionName: aws.String("aiven-token-rotator"), Payload: []byte(`{not json`)}); !errors.As(err, &badContent) {
		t.Fatalf("a payload that is not JSON: %v", err)
	}
	var badQualifier *lambdatypes.InvalidParameterValueException
	if _, err := invoke(&lambda.InvokeInput{FunctionName: aws.String("aiven-token-rotator:$LATEST"), Qualifier: aws.String("prod"), Payload: []byte(`{}`)}); !errors.As(err, &badQualifier) {
		t.Fatalf("two qualifiers that differ: %v", err)
	}

	// DryRun checks and runs nothing.
	out, err := invoke(&lambda.InvokeInput{FunctionName: aws.String("aiven-token-rotator"), InvocationType: lambdatypes.InvocationTypeDryRun})
	if err != nil || out.StatusCode != http.StatusNoContent {
		t.Fatalf("DryRun: %v, status %v", err, out)
	}
	if got := len(fn.invocations()); got != before {
		t.Fatalf("refused calls and a DryRun ran the function %d times", got-before)
	}

	// Event: 202 at once, the function runs in the background.
	out, err = invoke(&lambda.InvokeInput{FunctionName: aws.String("aiven-token-rotator"), InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`{"async":1}`)})
	if err != nil || out.StatusCode != http.StatusAccepted || len(out.Payload) != 0 {
		t.Fatalf("Event: %v, %+v", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := stack.WaitInvocations(ctx); err != nil {
		t.Fatal(err)
	}
	calls := fn.invocations()
	if len(calls) != before+1 || string(calls[len(calls)-1]) != `{"async":1}` {
		t.Fatalf("after the Event: %d calls, last %s", len(calls)-before, calls[len(calls)-1])
	}

	// No payload: the function receives {}, as Lambda hands it.
	if _, err := invoke(&lambda.InvokeInput{FunctionName: aws.String("aiven-token-rotator")}); err != nil {
		t.Fatal(err)
	}
	if last := fn.invocations(); string(last[len(last)-1]) != `{}` {
		t.Fatalf("no payload arrived as %q", last[len(last)-1])
	}
}

// The registered rotator itself answers through Invoke: a rotation event for
// a secret that does not exist is its error, reported as Lambda reports a
// function error, without the event's RotationToken.
func TestLambdaInvokeReachesTheRotator(t *testing.T) {
	stack := startStack(t, localstack.Config{})
	const rotationToken = "rt-0123456789abcdef0123456789abcdef0123456789"
	event := `{"Step":"createSecret","SecretId":"arn:aws:secretsmanager:us-east-1:000000000000:secret:missing-AbCdEf",` +
		`"ClientRequestToken":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","RotationToken":"` + rotationToken + `"}`
	out, err := lambdaClient(stack).Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("aiven-token-rotator"), Payload: []byte(event)})
	if err != nil {
		t.Fatal(err)
	}
	var fe struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if err := json.Unmarshal(out.Payload, &fe); err != nil {
		t.Fatalf("payload %s: %v", out.Payload, err)
	}
	if out.StatusCode != http.StatusOK || aws.ToString(out.FunctionError) != "Unhandled" || fe.Message == "" || fe.Type == "" {
		t.Fatalf("status %d, function error %q, payload %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}
	if strings.Contains(string(out.Payload), rotationToken) {
		t.Fatalf("the function error quotes the RotationToken: %s", out.Payload)
	}
}

// Latency holds every call to either emulator before it is answered; the
// control API takes it away again, per emulator.
func TestLatencyHoldsEveryCallOfBothEmulators(t *testing.T) {
	stack := startStack(t, localstack.Config{NoRotator: true, Latency: time.Minute})
	sm := stack.SecretsManagerClient()
	describe := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		_, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("missing")}, func(o *secretsmanager.Options) { o.Retryer = aws.NopRetryer{} })
		return err
	}
	aivenMe := func(timeout time.Duration) (int, error) {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, stack.AivenURL+"/v1/me", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if err := describe(300 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Secrets Manager under a minute's latency: %v, want the client's deadline", err)
	}
	if _, err := aivenMe(300 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Aiven under a minute's latency: %v, want the client's deadline", err)
	}
	for _, base := range []string{stack.SecretsManagerURL, stack.AivenURL} {
		req, _ := http.NewRequest(http.MethodDelete, base+"/_emulator/latency", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE %s/_emulator/latency: %d", base, resp.StatusCode)
		}
	}
	var notFound interface{ ErrorCode() string }
	if err := describe(30 * time.Second); !errors.As(err, &notFound) || notFound.ErrorCode() != "ResourceNotFoundException" {
		t.Fatalf("Secrets Manager without latency: %v", err)
	}
	if status, err := aivenMe(30 * time.Second); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("Aiven without latency: %d %v, want its 401 for a call without a token", status, err)
	}
	if _, err := localstack.Start(t.Context(), localstack.Config{SecretsManagerAddr: "127.0.0.1:0", AivenAddr: "127.0.0.1:0", Latency: -time.Second}); err == nil || !strings.Contains(err.Error(), "latency") {
		t.Fatalf("a negative latency: %v", err)
	}
}

// TestAWSCLILambdaInvoke runs `aws lambda invoke` against the local stack,
// as the README tells a person to.
func TestAWSCLILambdaInvoke(t *testing.T) {
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("skipped: no AWS CLI (`aws`) on PATH; install awscli to run this test")
	}
	version, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("aws --version: %v %s", err, version)
	}
	stack := startStack(t, localstack.Config{Invoker: &echo{}})
	dir := t.TempDir()
	invoke := func(payload string) (map[string]any, string) {
		t.Helper()
		args := []string{"--output", "json", "--endpoint-url", stack.SecretsManagerURL, "lambda", "invoke",
			"--function-name", "aiven-token-rotator", "--payload", payload}
		if regexp.MustCompile(`aws-cli/2\.`).Match(version) {
			args = append(args, "--cli-binary-format", "raw-in-base64-out") // v2 reads a blob as base64 otherwise
		}
		outFile := filepath.Join(dir, "out.json")
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append(args, outFile)...)
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
			"AWS_DEFAULT_REGION=" + localstack.Region, "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		}
		if p := os.Getenv("PYENV_ROOT"); p != "" {
			cmd.Env = append(cmd.Env, "PYENV_ROOT="+p)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, stderr.String())
		}
		var m map[string]any
		if err := json.Unmarshal(stdout, &m); err != nil {
			t.Fatalf("stdout %s: %v", stdout, err)
		}
		body, err := os.ReadFile(outFile)
		if err != nil {
			t.Fatal(err)
		}
		return m, string(body)
	}
	t.Logf("%s", strings.TrimSpace(string(version)))

	m, body := invoke(`{"action":"rotate","secret_id":"aiven/api-token"}`)
	if m["StatusCode"] != float64(200) || m["FunctionError"] != nil || !strings.Contains(body, `"secret_id":"aiven/api-token"`) {
		t.Fatalf("answer %v, out.json %s", m, body)
	}
	m, body = invoke(`{"fail":true}`)
	if m["StatusCode"] != float64(200) || m["FunctionError"] != "Unhandled" || body != `{"errorMessage":"the event asked to fail","errorType":"errorString"}` {
		t.Fatalf("function error: answer %v, out.json %s", m, body)
	}
}
