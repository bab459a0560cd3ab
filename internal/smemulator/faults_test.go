package smemulator_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

func TestFaultStatusAfterAndTimes(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	sm := sdkClient(e.srv.URL, false)
	e.fault(`{"operation":"GetSecretValue","after":1,"times":2,"status":500}`)
	var got []string
	for range 4 {
		_, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		got = append(got, code(err))
		if err != nil && !isType[*types.InternalServiceError](err) {
			t.Fatalf("a 500 fault is not the SDK's InternalServiceError: %v", err)
		}
	}
	if !slices.Equal(got, []string{"", "InternalServiceError", "InternalServiceError", ""}) {
		t.Fatalf("after 1, times 2: %v", got)
	}
	// A fault on PutSecretValue comes before the operation: nothing changes.
	e.fault(`{"operation":"PutSecretValue","status":500}`)
	var err error
	e.unchanged("a failed put", func() { err = sdkPut(t, sm, arn, "v2") })
	if !isType[*types.InternalServiceError](err) {
		t.Fatalf("put: %v", err)
	}
	// The SDK, retrying as usual, gets through the next time.
	e.fault(`{"operation":"PutSecretValue","status":503}`)
	if err := e.put(arn, tokA, "v2"); err != nil {
		t.Fatalf("a retried put: %v", err)
	}
	if v, _ := e.get(arn, "", ""); v != "v2" {
		t.Fatalf("after the retried put: %q", v)
	}
}

func sdkPut(t *testing.T, sm *secretsmanager.Client, arn, value string) error {
	_, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(value)})
	return err
}

func TestFaultRenderingAndRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.create("s", "v1")
	for _, c := range []struct {
		rule, typ, retryAfter string
		status                int
	}{
		{`{"operation":"GetSecretValue","status":429,"retry_after_seconds":4}`, "ThrottlingException", "4", 429},
		{`{"operation":"GetSecretValue","status":400,"retry_after_seconds":2}`, "ThrottlingException", "2", 400},
		{`{"operation":"GetSecretValue","status":400}`, "InvalidRequestException", "", 400},
		{`{"operation":"GetSecretValue","status":403}`, "AccessDeniedException", "", 403},
		{`{"operation":"GetSecretValue","status":503}`, "InternalServiceError", "", 503},
	} {
		e.fault(c.rule)
		a := e.raw("GetSecretValue", `{"SecretId":"s"}`)
		if a.status != c.status || a.typ != c.typ || a.header.Get("X-Amzn-ErrorType") != c.typ || a.header.Get("Retry-After") != c.retryAfter {
			t.Errorf("%s: %d %s, Retry-After %q", c.rule, a.status, a.body, a.header.Get("Retry-After"))
		}
	}
	// Through the SDK: a throttle is the SDK's throttling error.
	e.fault(`{"operation":"GetSecretValue","status":429,"retry_after_seconds":1}`)
	_, err := sdkClient(e.srv.URL, false).GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if code(err) != "ThrottlingException" || message(err) != "Rate exceeded" {
		t.Fatalf("throttle: %v", err)
	}
}

func TestFaultDelayAndDrop(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	sm := sdkClient(e.srv.URL, false)
	e.fault(`{"operation":"GetSecretValue","delay_ms":80}`)
	begin := time.Now()
	if v, err := e.get(arn, "", ""); err != nil || v != "v1" || time.Since(begin) < 80*time.Millisecond {
		t.Fatalf("delay: %q %v after %s", v, err, time.Since(begin))
	}
	e.fault(`{"operation":"GetSecretValue","delay_ms":80,"status":500}`)
	begin = time.Now()
	if _, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}); code(err) != "InternalServiceError" || time.Since(begin) < 80*time.Millisecond {
		t.Fatalf("delay then 500: %v after %s", err, time.Since(begin))
	}
	e.fault(`{"operation":"PutSecretValue","drop":true}`)
	var err error
	e.unchanged("a dropped put", func() { err = sdkPut(t, sm, arn, "v2") })
	if err == nil || code(err) != "" {
		t.Fatalf("drop: %v, want a connection error", err)
	}
	if pending := e.emu.Faults().Pending(); len(pending) != 0 {
		t.Fatalf("faults not consumed: %+v", pending)
	}
	if status, _ := e.control(http.MethodDelete, "/_emulator/faults", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE faults: %d", status)
	}
}

func TestFaultsClearedAndCallsCountedAndReset(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	e.fault(`[{"operation":"GetSecretValue","status":500,"times":5},{"operation":"DescribeSecret","delay_ms":10}]`)
	if status, body := e.control(http.MethodGet, "/_emulator/faults", ""); status != 200 || !strings.Contains(string(body), "DescribeSecret") {
		t.Fatalf("GET faults: %d %s", status, body)
	}
	e.control(http.MethodDelete, "/_emulator/faults", "")
	if v, err := e.get(arn, "", ""); err != nil || v != "v1" {
		t.Fatalf("after DELETE faults: %v", err)
	}
	e.get(arn, "", "")
	e.describe(arn)
	status, body := e.control(http.MethodGet, "/_emulator/calls", "")
	var calls map[string]int
	if status != 200 || json.Unmarshal(body, &calls) != nil {
		t.Fatalf("GET calls: %d %s", status, body)
	}
	if calls["CreateSecret"] != 1 || calls["GetSecretValue"] != 2 || calls["DescribeSecret"] != 1 {
		t.Fatalf("calls %v", calls)
	}
	if status, _ := e.control(http.MethodDelete, "/_emulator/calls", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE calls: %d", status)
	}
	if _, body := e.control(http.MethodGet, "/_emulator/calls", ""); strings.TrimSpace(string(body)) != "{}" {
		t.Fatalf("after reset: %s", body)
	}
	if status, body := e.control(http.MethodPost, "/_emulator/faults", `{"operation":"GetSecretValue"}`); status != 400 || !strings.Contains(string(body), "status, delay_ms or drop") {
		t.Fatalf("a fault that does nothing: %d %s", status, body)
	}
	if status, _ := e.control(http.MethodDelete, "/_emulator/rotations", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE rotations: %d", status)
	}
	if status, _ := e.control(http.MethodGet, "/_emulator/nothing", ""); status != http.StatusNotFound {
		t.Fatalf("an unknown control path: %d", status)
	}
}

func TestControlAPIAnswersLoopbackOnly(t *testing.T) {
	emu := smemulator.New()
	for _, path := range []string{"/_emulator/faults", "/_emulator/calls", "/_emulator/rotations"} {
		for addr, want := range map[string]int{"198.51.100.7:4000": 403, "10.0.0.1:1": 403, "[2001:db8::1]:5": 403, "127.0.0.1:4000": 200, "[::1]:4000": 200} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.RemoteAddr = addr
			rec := httptest.NewRecorder()
			emu.ServeHTTP(rec, req)
			if rec.Code != want {
				t.Errorf("%s from %s: %d, want %d", path, addr, rec.Code, want)
			}
		}
	}
	// A refused caller changes nothing.
	req := httptest.NewRequest(http.MethodPost, "/_emulator/faults", strings.NewReader(`{"operation":"GetSecretValue","status":500}`))
	req.RemoteAddr = "198.51.100.7:4000"
	emu.ServeHTTP(httptest.NewRecorder(), req)
	if len(emu.Faults().Pending()) != 0 {
		t.Fatal("a non-loopback caller added a fault")
	}
}

// One log line per request: operation, status, latency; never a secret
// value, a rotation token or a request body.
func TestRequestLog(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))
	e := newEnv(t, smemulator.WithLogger(logger))
	r := e.newRotator("", 0)
	arn := e.create("s", "SUPERSECRETVALUE")
	e.get(arn, "", "")
	e.put(arn, "short", "ANOTHERSECRET") // refused
	if _, err := e.rotate(arn, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	calls := 0
	for _, n := range e.emu.Faults().Calls() {
		calls += n
	}
	if len(lines) != calls {
		t.Fatalf("%d lines for %d calls", len(lines), calls)
	}
	for _, l := range lines {
		var line struct {
			Operation string   `json:"operation"`
			Status    int      `json:"status"`
			Latency   *float64 `json:"latency_ms"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil || line.Operation == "" || line.Status == 0 || line.Latency == nil {
			t.Fatalf("line %s", l)
		}
	}
	if !strings.Contains(buf.String(), `"error":"ValidationException"`) {
		t.Fatal("the refused put's line does not name its error")
	}
	for _, secret := range []string{"SUPERSECRETVALUE", "ANOTHERSECRET", "new-", r.invocations()[0].event.RotationToken} {
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("the log holds %q", secret)
		}
	}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
