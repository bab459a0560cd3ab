package localstack_test

// Process kills: the built bootstrap, behind the Runtime API, is killed
// with SIGKILL while each outside call of a rotation is in flight. The
// emulator holds that one call (a delay fault) and says when it has
// arrived, so the kill lands inside the call every time. Secrets Manager
// then retries the rotation with the same token, and a fresh process
// serves it, as Lambda starts a fresh execution environment after a crash.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// heldMS holds the targeted call far longer than the kill takes; the
// kill closes the connection, which ends the hold at once.
const heldMS = 30_000

// respawner is the rotation function as Lambda runs it: one process at a
// time, and after that process has died, a fresh one (a fresh init) for
// the next invocation.
type respawner struct {
	t     *testing.T
	start func() (*lambdaruntime.Function, error)

	mu     sync.Mutex
	cur    *lambdaruntime.Function
	starts int
}

func (r *respawner) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	r.mu.Lock()
	select {
	case <-r.cur.Exited():
		fresh, err := r.start()
		if err != nil {
			r.mu.Unlock()
			return nil, fmt.Errorf("restart the function: %w", err)
		}
		r.t.Cleanup(func() { fresh.Close() })
		r.cur = fresh
		r.starts++
	default:
	}
	fn := r.cur
	r.mu.Unlock()
	return fn.Invoke(ctx, payload)
}

// kill SIGKILLs the process that is running now.
func (r *respawner) kill() error {
	r.mu.Lock()
	fn := r.cur
	r.mu.Unlock()
	return fn.Kill()
}

func (r *respawner) processes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starts
}

// killWorld is a world whose rotator is the built binary under a
// respawner.
func killWorld(t *testing.T, bin string) (*world, *respawner) {
	t.Helper()
	r := &respawner{t: t, starts: 1}
	w := newWorld(t, func(c *localstack.Config) {
		c.Bootstrap = bin
		c.WrapRotator = func(first smemulator.Invoker) smemulator.Invoker {
			r.cur = first.(*lambdaruntime.Function)
			return r
		}
	})
	r.start = func() (*lambdaruntime.Function, error) {
		return lambdaruntime.Start(context.Background(), bin, w.stack.RotatorEnv().List(),
			lambdaruntime.WithOutput(w.logs), lambdaruntime.WithFunctionARN(localstack.FunctionARN))
	}
	return w, r
}

// outsideCall is the nth call (from 0) of one operation at one emulator.
type outsideCall struct {
	emulator, op string
	nth          int
}

func (c outsideCall) String() string { return fmt.Sprintf("%s/%s#%d", c.emulator, c.op, c.nth+1) }

// outsideCalls lists every call of a rotation, in a stable order.
func outsideCalls(sm, av map[string]int) []outsideCall {
	var out []outsideCall
	for emulator, calls := range map[string]map[string]int{"secretsmanager": sm, "aiven": av} {
		for op, n := range calls {
			for k := range n {
				out = append(out, outsideCall{emulator, op, k})
			}
		}
	}
	slices.SortFunc(out, func(a, b outsideCall) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// TestKillDuringEveryOutsideCall kills the built binary in each outside
// call of a rotation, twice: once where the held call then lands (the
// process dies not knowing that its call took effect, the hardest case),
// once where it then fails (the call was lost with the process). Each
// time the rotation must end well on Secrets Manager's retry, served by a
// fresh process, with I1-I3 checked after every step and attempt (the
// world's hooks), the end state exact (I2, I5: the steps run again after a
// kill converge), and the leak scan clean (I4).
func TestKillDuringEveryOutsideCall(t *testing.T) {
	bin := buildRotator(t)
	bootstrap := func(c *localstack.Config) { c.Bootstrap = bin }
	calls := outsideCalls(happyPathCalls(t, bootstrap))
	if len(calls) < 14 {
		t.Fatalf("a rotation makes %d outside calls; the matrix expects the 14 of TestHappyPathCallBudget", len(calls))
	}
	t.Logf("kill matrix: %d outside calls × 2 = %d kills", len(calls), 2*len(calls))
	for _, call := range calls {
		for _, landing := range []string{"lands", "lost"} {
			t.Run(call.String()+"/"+landing, func(t *testing.T) {
				t.Parallel() // independent stacks and processes
				killInCall(t, bin, call, landing == "lands", nil)
			})
		}
	}
}

func killInCall(t *testing.T, bin string, call outsideCall, lands bool, prepare func(*world)) {
	w, fn := killWorld(t, bin)
	if prepare != nil {
		prepare(w)
	}
	plan, tap := w.stack.SecretsManager.Faults(), w.wire
	if call.emulator == "aiven" {
		plan, tap = w.stack.Aiven.Faults(), w.aivenWire
	}
	w.stack.SecretsManager.Faults().ResetCalls()
	w.stack.Aiven.Faults().ResetCalls()
	rule := faults.Rule{Operation: call.op, After: call.nth, Times: 1, DelayMS: heldMS}
	if !lands {
		rule.Status = 503
	}
	if err := plan.Add(rule); err != nil {
		t.Fatal(err)
	}
	arrived := plan.Arrived(call.op, call.nth+1)
	killed := make(chan error, 1)
	var held []*tappedCall // the calls in flight at that emulator when the kill came
	go func() {
		select {
		case <-arrived:
			for _, c := range tap.callsInFlight() {
				if !strings.HasSuffix(c.target, ".RotateSecret") { // the test's own, synchronous
					held = append(held, c)
				}
			}
			killed <- fn.kill()
		case <-w.ctx.Done():
			killed <- w.ctx.Err()
		}
	}()

	version := w.rotate()
	if err := <-killed; err != nil {
		t.Fatalf("kill: %v", err)
	}
	// The rotator calls one thing at a time: the one call in flight is the
	// held one, and the emulator answered it only after the kill, to a
	// dead client: the call took effect, or failed, as planned.
	if len(held) != 1 {
		t.Fatalf("%d calls in flight at the kill, want the held one", len(held))
	}
	<-held[0].done
	// Landing: the operation ran and gave its own answer (a healthy
	// createSecret's GetSecretValue of AWSPENDING answers 400).
	if ran := held[0].status != 0 && held[0].status != 503; ran != lands {
		t.Fatalf("the held call ended with status %d, want it to %s", held[0].status, map[bool]string{true: "land", false: "fail (503)"}[lands])
	}
	t.Logf("killed in %s (then answered %d); attempt 1: %s", call, held[0].status, attempts1(w, version))
	w.mustSucceed(version) // and I1-I3 after every step and attempt
	attempts := attemptsOf(w, version)
	if len(attempts) < 2 || attempts[0].Outcome == smemulator.RotationSucceeded || !strings.Contains(attempts[0].Error, "killed") {
		t.Fatalf("attempts %+v: want the first to fail with the kill and a retry to succeed", attempts)
	}
	if n := fn.processes(); n != 2 {
		t.Fatalf("%d processes ran, want 2: the killed one and one fresh start", n)
	}
	if pending := plan.Pending(); len(pending) != 0 {
		t.Fatalf("the held call never came: %+v", pending)
	}

	// The end state is exactly a clean rotation's.
	gotVersion, value := w.current()
	if gotVersion != version || value.PreviousTokenPrefix != w.user.TokenPrefix {
		t.Fatalf("AWSCURRENT %s (want %s), previous %q (want %q)", gotVersion, version, value.PreviousTokenPrefix, w.user.TokenPrefix)
	}
	if live := w.liveTokens(); len(live) != 1 || live[0].TokenPrefix != value.TokenPrefix {
		t.Fatalf("I2: live tokens %v, want only the current %s", prefixes(live), value.TokenPrefix)
	}
	if w.stack.Aiven.Authenticates(w.user.Token) {
		t.Fatal("the replaced token still authenticates")
	}
	if pending, ok := w.stack.SecretsManager.VersionByStage(w.arn, "AWSPENDING"); ok {
		t.Fatalf("AWSPENDING left on %s", pending.VersionID)
	}
	if n := len(w.stack.SecretsManager.Versions(w.arn)); n != 2 {
		t.Fatalf("%d versions, want 2 (the seed and the rotation's)", n)
	}
	w.assertNoSecretsLeaked()
}

func attempts1(w *world, version string) string {
	if a := attemptsOf(w, version); len(a) > 0 {
		return fmt.Sprintf("%s in %s: %s", a[0].Outcome, a[0].FailedStep, a[0].Error)
	}
	return "none"
}

// TestKillDuringTheReplicaChecks extends the kill matrix to the calls a
// replicated secret's rotation adds (issue 19): the DescribeSecret of its
// replica, by the replica's ARN, that createSecret makes before any
// revocation and finishSecret before it revokes the previous token. Killed
// in either, the call landing or lost, the retry ends the rotation exactly
// as a clean one, the replica having caught up.
func TestKillDuringTheReplicaChecks(t *testing.T) {
	bin := buildRotator(t)
	base, _ := killWorld(t, bin)
	base.replicate()
	base.stack.SecretsManager.Faults().ResetCalls()
	base.mustSucceed(base.rotate())
	describes := base.stack.SecretsManager.Faults().Calls()["DescribeSecret"]
	// The guards of createSecret, testSecret and finishSecret, and the
	// two replica reads: createSecret's second call of the operation,
	// finishSecret's last.
	if describes != 5 {
		t.Fatalf("a replicated secret's rotation makes %d DescribeSecret calls, want 5 (3 guards, 2 replica reads)", describes)
	}
	for _, nth := range []int{1, 4} {
		for _, landing := range []string{"lands", "lost"} {
			call := outsideCall{"secretsmanager", "DescribeSecret", nth}
			t.Run(call.String()+"/"+landing, func(t *testing.T) {
				t.Parallel()
				killInCall(t, bin, call, landing == "lands", (*world).replicate)
			})
		}
	}
}
