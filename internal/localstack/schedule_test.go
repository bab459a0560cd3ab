package localstack_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

// The schedule invokes the function as EventBridge Scheduler does, with the
// template's payload, the function's ARN and a deadline; a failed sweep is
// logged and the next tick invokes again.
func TestScheduleInvokesTheSweep(t *testing.T) {
	fn := &echo{}
	ticks := make(chan time.Time)
	runs := make(chan localstack.ScheduledRun)
	var log syncBuffer
	startStack(t, localstack.Config{
		Invoker:             failingSweep{fn},
		SweepTicks:          ticks,
		AfterScheduledSweep: func(r localstack.ScheduledRun) { runs <- r },
		RequestLog:          slog.New(slog.NewJSONHandler(&log, nil)),
	})

	for i := range 2 {
		ticks <- time.Now()
		r := <-runs
		if r.Err == nil || !strings.Contains(r.Err.Error(), "unrecognised event") {
			t.Fatalf("run %d: %v, want the function's own error", i, r.Err)
		}
	}
	calls := fn.invocations()
	if len(calls) != 2 {
		t.Fatalf("%d invocations, want one a tick (a failure is not fatal)", len(calls))
	}
	var ev map[string]any
	if err := json.Unmarshal(calls[0], &ev); err != nil || len(ev) != 1 || ev["action"] != "sweep" {
		t.Errorf("payload %s, want %s", calls[0], localstack.SweepPayload)
	}
	lines := strings.Count(log.String(), `"msg":"scheduled sweep failed; the next one runs on schedule"`)
	if lines != 2 || !strings.Contains(log.String(), `"emulator":"scheduler"`) || !strings.Contains(log.String(), "unrecognised event: sweep not understood yet") {
		t.Errorf("request log has %d failure lines, want 2 naming the error:\n%s", lines, log.String())
	}
}

// A sweep that succeeds hands its result back, and the log says so.
func TestScheduleReportsASweepsResult(t *testing.T) {
	fn := &echo{}
	ticks := make(chan time.Time)
	runs := make(chan localstack.ScheduledRun)
	var log syncBuffer
	startStack(t, localstack.Config{
		Invoker: fn, SweepTicks: ticks,
		AfterScheduledSweep: func(r localstack.ScheduledRun) { runs <- r },
		RequestLog:          slog.New(slog.NewJSONHandler(&log, nil)),
	})
	ticks <- time.Now()
	r := <-runs
	var out struct {
		Echo     map[string]any
		ARN      string `json:"arn"`
		Deadline bool
	}
	if err := json.Unmarshal(r.Result, &out); r.Err != nil || err != nil {
		t.Fatalf("result %s, %v / %v", r.Result, r.Err, err)
	}
	if out.Echo["action"] != "sweep" || out.ARN != localstack.FunctionARN || !out.Deadline {
		t.Errorf("the function saw %+v, want the sweep payload, ARN %s and a deadline", out, localstack.FunctionARN)
	}
	if !strings.Contains(log.String(), `"msg":"scheduled sweep done"`) {
		t.Errorf("request log:\n%s", log.String())
	}
}

// No period and no ticks: no schedule. A negative period is refused.
func TestScheduleOff(t *testing.T) {
	fn := &echo{}
	stack := startStack(t, localstack.Config{Invoker: fn})
	if err := stack.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(fn.invocations()); n != 0 {
		t.Errorf("%d invocations without a schedule", n)
	}
	_, err := localstack.Start(t.Context(), localstack.Config{SecretsManagerAddr: "127.0.0.1:0", AivenAddr: "127.0.0.1:0", Invoker: fn, SweepEvery: -time.Minute})
	if err == nil || !strings.Contains(err.Error(), "sweep period") {
		t.Errorf("SweepEvery -1m: %v, want an error naming the sweep period", err)
	}
}

// failingSweep records the call, then fails as today's rotator does on an
// action it does not understand.
type failingSweep struct{ inner *echo }

func (f failingSweep) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	_, _ = f.inner.Invoke(ctx, payload)
	return nil, errors.New("unrecognised event: sweep not understood yet")
}
