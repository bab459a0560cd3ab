package localstack

// The sweep's schedule, as EventBridge Scheduler runs it for a deployed
// stack (template.yaml, SweepSchedule): the rotator is invoked with
// {"action":"sweep"} on a fixed period, and a failure is logged, never
// fatal, so that the next period tries again.

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// SweepPayload is what the schedule sends, the template's Target.Input.
const SweepPayload = `{"action":"sweep"}`

// ScheduledRun is the outcome of one scheduled invocation.
type ScheduledRun struct {
	Result []byte // the function's JSON result; nil when it failed
	Err    error
}

// schedule invokes fn with SweepPayload at every tick, one invocation at a
// time: a tick that comes while one runs is dropped, as a time.Ticker
// drops them.
type schedule struct {
	fn      smemulator.Invoker
	ticks   <-chan time.Time
	timeout time.Duration
	log     *slog.Logger // nil: no log
	after   func(ScheduledRun)

	stop chan struct{}
	done sync.WaitGroup
}

func (s *schedule) start(stopTicker func()) {
	s.stop = make(chan struct{})
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		defer stopTicker()
		for {
			select {
			case <-s.stop:
				return
			case <-s.ticks:
				s.run()
			}
		}
	}()
}

func (s *schedule) run() {
	out, err := smemulator.Run(s.fn, FunctionARN, []byte(SweepPayload), s.timeout)
	if s.log != nil {
		attrs := []slog.Attr{slog.String("operation", "Invoke"), slog.String("function", FunctionARN), slog.String("payload", SweepPayload)}
		if err != nil {
			// The rotator's error texts name what is wrong and never a
			// secret (I4, docs/RELIABILITY.md); Lambda logs them too.
			fe := functionError(err)
			attrs = append(attrs, slog.String("outcome", "error"), slog.String("function_error", fe.Type), slog.String("error", clip(fe.Message, 300)))
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "scheduled sweep failed; the next one runs on schedule", attrs...)
		} else {
			attrs = append(attrs, slog.String("outcome", "ok"), slog.Int("result_bytes", len(out)))
			s.log.LogAttrs(context.Background(), slog.LevelInfo, "scheduled sweep done", attrs...)
		}
	}
	if s.after != nil {
		s.after(ScheduledRun{Result: out, Err: err})
	}
}

// close stops the schedule and waits, until ctx ends, for an invocation
// in flight. Closing twice is harmless.
func (s *schedule) close(ctx context.Context) error {
	if s == nil || s.stop == nil {
		return nil
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	finished := make(chan struct{})
	go func() { s.done.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
