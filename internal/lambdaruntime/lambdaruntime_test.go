package lambdaruntime_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

var _ smemulator.Invoker = (*lambdaruntime.Function)(nil)

var (
	buildOnce sync.Once
	echoBin   string
	buildErr  error
)

// echofn builds testdata/echofn once per test binary.
func echofn(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "echofn")
		if err != nil {
			buildErr = err
			return
		}
		echoBin = filepath.Join(dir, "bootstrap")
		out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", echoBin, "./testdata/echofn").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build echofn: %v", buildErr)
	}
	return echoBin
}

func start(t *testing.T, env ...string) *lambdaruntime.Function {
	t.Helper()
	f, err := lambdaruntime.Start(t.Context(), echofn(t), env, lambdaruntime.WithFunctionARN("arn:aws:lambda:us-east-1:000000000000:function:echo"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type reply struct {
	Echo       string `json:"echo"`
	DeadlineMS int64  `json:"deadline_ms"`
	RequestID  string `json:"request_id"`
	Function   string `json:"function_arn"`
}

func invoke(t *testing.T, f *lambdaruntime.Function, ctx context.Context, payload string) (reply, error) {
	t.Helper()
	body, err := f.Invoke(ctx, []byte(payload))
	if err != nil {
		return reply{}, err
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	return r, nil
}

func TestResponseDeadlineAndContext(t *testing.T) {
	f := start(t)
	deadline := time.Now().Add(7 * time.Second).Truncate(time.Millisecond)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-1", InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:other"})
	r, err := invoke(t, f, ctx, `{"echo":"hello"}`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Echo != "hello" || r.RequestID != "req-1" || r.Function != "arn:aws:lambda:us-east-1:000000000000:function:other" {
		t.Fatalf("reply %+v", r)
	}
	if r.DeadlineMS != deadline.UnixMilli() {
		t.Fatalf("the handler's deadline is %d, want %d", r.DeadlineMS, deadline.UnixMilli())
	}
}

func TestTwoInvocationsOnOneProcess(t *testing.T) {
	f := start(t)
	for i, word := range []string{"one", "two"} {
		r, err := invoke(t, f, t.Context(), `{"echo":"`+word+`"}`)
		if err != nil || r.Echo != word || r.RequestID == "" {
			t.Fatalf("invocation %d: %+v, %v", i+1, r, err)
		}
		if r.DeadlineMS == 0 {
			t.Fatal("no deadline reached the handler without one in the context")
		}
	}
}

func TestHandlerErrorCarriesItsMessage(t *testing.T) {
	f := start(t)
	_, err := invoke(t, f, t.Context(), `{"fail":"createSecret: the token was rejected"}`)
	var fe *lambdaruntime.FunctionError
	if !errors.As(err, &fe) || fe.Message != "createSecret: the token was rejected" || fe.Type == "" {
		t.Fatalf("error %#v", err)
	}
	// The process serves on after a handled error.
	if r, err := invoke(t, f, t.Context(), `{"echo":"still here"}`); err != nil || r.Echo != "still here" {
		t.Fatalf("after an error: %+v, %v", r, err)
	}
}

func TestInitErrorFailsStart(t *testing.T) {
	_, err := lambdaruntime.Start(t.Context(), echofn(t), []string{"ECHOFN_INIT_ERROR=ALLOWED_API_HOSTS: must name at least one host"})
	if err == nil || !strings.Contains(err.Error(), "ALLOWED_API_HOSTS: must name at least one host") || !strings.Contains(err.Error(), "Runtime.ConfigError") {
		t.Fatalf("err = %v", err)
	}
}

func TestCrashBeforeFirstEventFailsStart(t *testing.T) {
	_, err := lambdaruntime.Start(t.Context(), echofn(t), []string{"ECHOFN_CRASH=1"})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v", err)
	}
}

func TestCloseStopsTheProcess(t *testing.T) {
	f := start(t)
	if kib, err := f.PeakRSSKiB(); err != nil || kib <= 0 {
		t.Fatalf("peak RSS %d KiB, %v", kib, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.Invoke(t.Context(), []byte(`{"echo":"x"}`)); err == nil {
		t.Fatal("Invoke after Close succeeded")
	}
}

// signalWriter closes seen when a write holds want.
type signalWriter struct {
	want string
	once sync.Once
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func TestKillDuringAnInvocation(t *testing.T) {
	out := &signalWriter{want: "holding", seen: make(chan struct{})}
	f, err := lambdaruntime.Start(t.Context(), echofn(t), nil, lambdaruntime.WithOutput(out))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	errc := make(chan error, 1)
	go func() {
		_, err := f.Invoke(t.Context(), []byte(`{"hold":true}`))
		errc <- err
	}()
	<-out.seen // the handler runs: the invocation is in flight
	if err := f.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Exited():
	default:
		t.Fatal("Kill returned with the process still running")
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "during the invocation") || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the invocation in flight returned %v, want the death error naming the kill", err)
	}
	if _, err := f.Invoke(t.Context(), []byte(`{"echo":"x"}`)); err == nil {
		t.Fatal("a killed function served another event")
	}
	if err := f.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
}
