package fleet

// How a sweep covers a fleet larger than one invocation, and keeps one
// slow principal from slowing the rest (docs/fleet.md, "A fleet larger
// than one sweep").

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

const (
	// sweepPerPrincipal bounds the secrets a sweep works on at once behind
	// one principal (a manager's token for its application secrets): a 429
	// from Aiven then holds that many workers, never the whole pool. Aiven
	// does not document whether its rate limit is per token, user or
	// address; the principal is the token that makes the calls.
	sweepPerPrincipal = 2
	// maxSweepChain bounds the follow-ups of one sweep. Lambda's recursive
	// loop detection stops a chain of about 16 invocations of one function
	// for the sources it tracks; a chain of this sweep stays under it.
	maxSweepChain = 15
	// maxReportedSecrets bounds the per-secret entries of a sweep's result,
	// about 4 KB each at most (an error and three settings findings,
	// clipped): the answer stays under Lambda's 6 MB response limit
	// whatever the fleet's size.
	maxReportedSecrets = 1000
	// maxReportedError clips one entry's error.
	maxReportedError = 1000
)

// sweepRequest is what one sweep invocation is asked.
type sweepRequest struct {
	dryRun bool
	// resumeFrom: a follow-up starts at the first owned secret whose ARN
	// is at or after it, in ARN order.
	resumeFrom string
	// chain: how many sweeps of this round came before this one.
	chain int
}

// fromCursor sorts the owned secrets by ARN, a total order every
// invocation agrees on whatever order ListSecrets answers in, and drops
// those before resumeFrom.
func fromCursor(owned []secretsmanager.Listed, resumeFrom string) []secretsmanager.Listed {
	slices.SortFunc(owned, func(a, b secretsmanager.Listed) int { return strings.Compare(a.ARN, b.ARN) })
	if resumeFrom == "" {
		return owned
	}
	i, _ := slices.BinarySearchFunc(owned, resumeFrom, func(s secretsmanager.Listed, arn string) int { return strings.Compare(s.ARN, arn) })
	return owned[i:]
}

// followUp hands the secrets this sweep had no time for to a follow-up
// invocation of the function itself (asynchronous, by its unqualified ARN,
// the one the role may invoke), starting at the first one not reached. Chosen over a start offset
// that moves with the clock because only a cursor guarantees coverage
// whatever the schedule and the deadline: with room for k secrets in one
// invocation, N secrets take ceil(N/k) invocations, one round. A follow-up
// that cannot be queued is said in the result and the log; the next
// scheduled sweep starts from the first secret again, and SweepNotReached
// (with its alarm) keeps counting.
func (f *Fleet) followUp(ctx context.Context, rep *sweepReport, req sweepRequest) {
	from := ""
	for _, s := range rep.Results {
		if s.Outcome == sweptNotReached {
			from = s.Secret
			break
		}
	}
	fail := func(why string) {
		rep.FollowUpError = why
		f.log.ErrorContext(ctx, "sweep not continued: the secrets not reached wait for the next scheduled sweep",
			"action", actionSweep, "not_reached", rep.NotReached, "outcome", "follow_up_failed", "error", why)
	}
	self, err := selfARN(ctx)
	switch {
	case from == "":
		return
	case req.chain+1 > maxSweepChain:
		fail(fmt.Sprintf("this sweep is follow-up %d, the last of a round (at most %d): raise the function's timeout or SWEEP_CONCURRENCY", req.chain, maxSweepChain))
		return
	case f.invoker == nil:
		fail("this function has no Lambda client to invoke itself")
		return
	case err != nil:
		fail("no invocation context names this function")
		return
	}
	payload, _ := json.Marshal(map[string]any{"action": actionSweep, "resume_from": from, "chain": req.chain + 1})
	// Queued within the safety margin even when the deadline is what
	// stopped the sweep.
	qctx, cancel := f.r.CleanupContext(ctx)
	defer cancel()
	if err := f.invoker.InvokeAsync(qctx, self, payload); err != nil {
		fail(err.Error())
		return
	}
	rep.FollowUpFrom = from
	f.log.InfoContext(ctx, "sweep continued by a follow-up invocation", "action", actionSweep, "follow_up_from", from, "chain", req.chain+1, "not_reached", rep.NotReached)
}

// capResults keeps at most limit entries in rep.Results, those that need
// attention first (anything but a healthy secret with nothing done), in
// their sweep order, and counts the rest in ResultsOmitted. Errors are
// clipped. The figures are computed before, from every entry.
func (rep *sweepReport) capResults(limit int) {
	for i := range rep.Results {
		if e := rep.Results[i].Error; len(e) > maxReportedError {
			rep.Results[i].Error = e[:maxReportedError] + "..."
		}
	}
	if len(rep.Results) <= limit {
		return
	}
	keep := make([]bool, len(rep.Results))
	n := 0
	for pass := 0; pass < 2 && n < limit; pass++ {
		for i, s := range rep.Results {
			if n == limit {
				break
			}
			if !keep[i] && (pass == 1 || s.needsAttention()) {
				keep[i] = true
				n++
			}
		}
	}
	out := make([]sweptSecret, 0, limit)
	for i, s := range rep.Results {
		if keep[i] {
			out = append(out, s)
		}
	}
	rep.ResultsOmitted = len(rep.Results) - len(out)
	rep.Results = out
}

// needsAttention: the entry says more than "healthy, nothing done".
func (s sweptSecret) needsAttention() bool {
	return s.Outcome != sweptHealthy || len(s.Revoked) > 0 || len(s.WouldRevoke) > 0 || s.RotationStarted != "" ||
		s.WouldRotate || s.RotationInProgress || s.GraceRecordDistrusted != "" || s.StuckVersion != "" || s.GraceUntil != "" || s.Straggler != nil || s.ReplicaWait != "" ||
		s.sweptSettings.any()
}

// principalQueue hands jobs to the sweep's workers in order, except that
// a job whose principal already has perPrincipal jobs running waits, and
// the next job of another principal goes first. Safe for concurrent use.
type principalQueue struct {
	mu           sync.Mutex
	cond         *sync.Cond
	waiting      []sweepJob
	running      map[string]int
	perPrincipal int
	closed       bool
}

func newPrincipalQueue(perPrincipal int) *principalQueue {
	q := &principalQueue{running: map[string]int{}, perPrincipal: perPrincipal}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push adds a job at the end.
func (q *principalQueue) push(j sweepJob) {
	q.mu.Lock()
	q.waiting = append(q.waiting, j)
	q.mu.Unlock()
	q.cond.Broadcast()
}

// close says no job will be pushed any more.
func (q *principalQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// next is the first waiting job whose principal has room, counted as
// running until done; ok is false once the queue is closed and empty.
func (q *principalQueue) next() (j sweepJob, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		for i, w := range q.waiting {
			if q.running[w.principal] < q.perPrincipal {
				q.waiting = slices.Delete(q.waiting, i, i+1)
				q.running[w.principal]++
				return w, true
			}
		}
		if q.closed && len(q.waiting) == 0 {
			return sweepJob{}, false
		}
		q.cond.Wait()
	}
}

// done ends a job of principal.
func (q *principalQueue) done(principal string) {
	q.mu.Lock()
	q.running[principal]--
	q.mu.Unlock()
	q.cond.Broadcast()
}
