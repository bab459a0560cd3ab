package fleet

// The fleet sweep (docs/rotation.md, "The sweep"; docs/fleet.md): every secret
// this function rotates gets a health check, its due revocations, its
// orphans revoked, and a rotation started before its token expires. It
// never rotates inline, and never fails as a whole for one secret.

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// sweepSecretAllowance is the time a secret may need (a listing, a few
// revocations, a RotateSecret, with their retries): the sweep starts no
// secret with less than this left before its deadline, and reports it
// not reached instead.
const sweepSecretAllowance = 5 * time.Second

// Outcomes of one secret in a sweep.
const (
	sweptHealthy      = "healthy"
	sweptTokenInvalid = "token_invalid"
	// sweptHealed: an application token Aiven refuses, replaced by a
	// rotation the sweep started (its manager token creates the new one).
	sweptHealed     = "healed"
	sweptError      = "error"
	sweptNotReached = "not_reached"
)

// sweepReport is the sweep's JSON result: the fleet's figures, then one
// entry per secret.
type sweepReport struct {
	Action           string `json:"action"`
	DryRun           bool   `json:"dry_run"`
	Secrets          int    `json:"secrets"`
	Healthy          int    `json:"healthy"`
	TokenInvalid     int    `json:"token_invalid"`
	Healed           int    `json:"healed"`
	RotationsStarted int    `json:"rotations_started"`
	TokensRevoked    int    `json:"tokens_revoked"`
	Errors           int    `json:"errors"`
	NotReached       int    `json:"not_reached"`
	GraceDistrusted  int    `json:"grace_records_distrusted"`
	Stuck            int    `json:"stuck"`
	Stragglers       int    `json:"stragglers"`
	ReplicaLag       int    `json:"replica_lag"`
	settingsCounts
	// ResumedFrom and Chain: this sweep continues another that had no
	// time for its whole fleet (the chain-th follow-up), from that secret.
	ResumedFrom string `json:"resumed_from,omitempty"`
	Chain       int    `json:"chain,omitempty"`
	// FollowUpFrom: this sweep handed the secrets from that one on to a
	// follow-up invocation; FollowUpError says why it could not.
	FollowUpFrom  string `json:"follow_up_from,omitempty"`
	FollowUpError string `json:"follow_up_error,omitempty"`
	// ResultsOmitted counts the entries left out of Results to keep the
	// answer within Lambda's response limit (healthy ones first; every
	// figure above still counts them).
	ResultsOmitted  int           `json:"results_omitted,omitempty"`
	OldestTokenAgeS *int64        `json:"oldest_token_age_s,omitempty"`
	SoonestExpiryS  *int64        `json:"soonest_expiry_s,omitempty"`
	DurationMS      int64         `json:"duration_ms"`
	Results         []sweptSecret `json:"results"`
}

// sweptSecret is what the sweep found and did for one secret. In a dry
// run, the would_ fields say what it would have done.
type sweptSecret struct {
	Secret      string `json:"secret"`
	Name        string `json:"name,omitempty"`
	Outcome     string `json:"outcome"`
	TokenPrefix string `json:"token_prefix,omitempty"`
	TokenAgeS   *int64 `json:"token_age_s,omitempty"`
	ExpiresInS  *int64 `json:"expires_in_s,omitempty"`
	// GraceUntil: the previous token is kept until then (RFC 3339).
	GraceUntil string `json:"previous_token_grace_until,omitempty"`
	// PreviousKept: past its grace, the previous token is kept while in
	// use, until GraceUntil at the latest (PREVIOUS_TOKEN_MAX_GRACE).
	PreviousKept bool `json:"previous_token_kept,omitempty"`
	// ReplicaWait: the previous token is due but kept, since a replica
	// region does not serve the current version yet; ReplicaOverdue: one
	// Failed, or is behind past the hard limit.
	ReplicaWait    string `json:"replica_wait,omitempty"`
	ReplicaOverdue bool   `json:"replica_overdue,omitempty"`
	// Straggler is the last use of the previous token since its
	// replacement became current.
	Straggler          *straggler `json:"straggler,omitempty"`
	Revoked            []string   `json:"revoked,omitempty"`
	WouldRevoke        []string   `json:"would_revoke,omitempty"`
	RotationStarted    string     `json:"rotation_started,omitempty"`
	WouldRotate        bool       `json:"would_rotate,omitempty"`
	RotationInProgress bool       `json:"rotation_in_progress,omitempty"`
	// GraceRecordDistrusted says why the grace record the value carries
	// was not honoured (graceRecordOf).
	GraceRecordDistrusted string `json:"grace_record_distrusted,omitempty"`
	// StuckVersion is a pending version older than STUCK_ROTATION_AFTER,
	// created at StuckSince: a rotation Secrets Manager gave up on.
	// Recovered says the sweep recovered it (WouldRecover, in a dry run).
	StuckVersion string `json:"stuck_version,omitempty"`
	StuckSince   string `json:"stuck_since,omitempty"`
	Recovered    bool   `json:"recovered,omitempty"`
	WouldRecover bool   `json:"would_recover,omitempty"`
	sweptSettings
	Error string `json:"error,omitempty"`
}

// straggler is a previous token's last use since its replacement became
// current, by Aiven's clock; the IP and user agent are the caller's text,
// clipped and scrubbed.
type straggler struct {
	PreviousTokenPrefix string `json:"previous_token_prefix"`
	LastUsedTime        string `json:"last_used_time"`
	LastIP              string `json:"last_ip,omitempty"`
	LastUserAgent       string `json:"last_user_agent,omitempty"`
}

// sweepJob is one secret with its current value, or why it has none.
type sweepJob struct {
	i     int
	entry secretsmanager.Listed
	value string
	// currentVersion holds value, read with it: the listing's stages may
	// be older (a rotation may have finished in between).
	currentVersion string
	readErr        string
	// parsed is value, parsed once by the feeder (or why it does not
	// parse); principal is who makes the job's Aiven calls (principalOf):
	// the sweep runs at most sweepPerPrincipal jobs of one at a time.
	parsed    *secret.Value
	parseErr  error
	principal string
}

// sweep visits every secret this function rotates, in ARN order from
// req.resumeFrom, SWEEP_CONCURRENCY at a time and at most
// sweepPerPrincipal at a time behind one principal (sched.go). It fails
// as a whole only when it cannot list the secrets; otherwise each
// secret's failure is that secret's entry. The secrets it had no time for
// are handed to a follow-up invocation of the function (followUp). With
// dryRun it reads as usual and changes nothing. Run twice, the second
// finds done what the first did.
func (f *Fleet) sweep(ctx context.Context, req sweepRequest) (*sweepReport, error) {
	start := f.r.Now()
	self, err := selfARN(ctx)
	if err != nil {
		return nil, err
	}
	// Only owned secrets are kept while the pages come: memory grows with
	// the fleet, not with the account.
	owned, err := f.store.ListSecrets(ctx, f.cfg.SweepTagKey, func(s secretsmanager.Listed) bool {
		return s.RotationEnabled && owns(s, self)
	})
	if err != nil {
		return nil, fmt.Errorf("list the secrets: %w", err)
	}
	owned = fromCursor(owned, req.resumeFrom)
	rep := &sweepReport{Action: actionSweep, DryRun: req.dryRun, Secrets: len(owned), ResumedFrom: req.resumeFrom, Chain: req.chain}
	rep.Results = f.visit(rotation.WithManagerCache(ctx), owned, req.dryRun)
	f.summarise(rep, start)
	if rep.NotReached > 0 && !req.dryRun {
		f.followUp(ctx, rep, req)
	}
	rep.capResults(maxReportedSecrets)
	if err := f.r.Metrics().Sweep(rep.metrics(functionName(self))); err != nil {
		f.log.WarnContext(ctx, "metrics not written", "action", actionSweep, "error", err.Error())
	}
	f.log.InfoContext(ctx, "sweep done", "action", actionSweep, "dry_run", req.dryRun, "secrets", rep.Secrets, "healthy", rep.Healthy,
		"token_invalid", rep.TokenInvalid, "healed", rep.Healed, "rotations_started", rep.RotationsStarted, "tokens_revoked", rep.TokensRevoked,
		"errors", rep.Errors, "not_reached", rep.NotReached, "stuck", rep.Stuck, "stragglers", rep.Stragglers, "replica_lag", rep.ReplicaLag, "grace_records_distrusted", rep.GraceDistrusted,
		"expires_before_rotation", rep.ExpiresBeforeRotation, "grace_cut_short", rep.GraceCutShort, "at_risk", rep.AtRisk,
		"resumed_from", rep.ResumedFrom, "chain", rep.Chain, "follow_up_from", rep.FollowUpFrom, "duration_ms", rep.DurationMS)
	return rep, nil
}

// visit sweeps the owned secrets: the feeder reads their values and
// queues them, the workers take them by principal (principalQueue). A
// worker never returns an error: one secret's failure is its entry, and
// never stops the others (an errgroup with a shared context would).
func (f *Fleet) visit(ctx context.Context, owned []secretsmanager.Listed, dryRun bool) []sweptSecret {
	results := make([]sweptSecret, len(owned))
	queue := newPrincipalQueue(sweepPerPrincipal)
	var workers errgroup.Group
	for range min(f.cfg.Concurrency(), max(len(owned), 1)) {
		workers.Go(func() error {
			for j, ok := queue.next(); ok; j, ok = queue.next() {
				res := sweptSecret{Secret: j.entry.ARN, Name: j.entry.Name, Outcome: sweptNotReached}
				if !f.deadlineNear(ctx) {
					res = f.sweepSecret(ctx, j, dryRun)
				}
				results[j.i] = res
				f.logSwept(ctx, res, dryRun)
				queue.done(j.principal)
			}
			return nil
		})
	}
	f.feed(ctx, owned, queue)
	queue.close()
	_ = workers.Wait() // the workers return no error
	return results
}

// feed reads the owned secrets' current values, MaxBatch at a time, and
// queues each as a job as its batch comes.
func (f *Fleet) feed(ctx context.Context, owned []secretsmanager.Listed, queue *principalQueue) {
	for from := 0; from < len(owned); from += secretsmanager.MaxBatch {
		batch := owned[from:min(from+secretsmanager.MaxBatch, len(owned))]
		var values map[string]secretsmanager.CurrentValue
		var failed map[string]string
		var batchErr error
		if !f.deadlineNear(ctx) {
			arns := make([]string, len(batch))
			for i, s := range batch {
				arns[i] = s.ARN
			}
			values, failed, batchErr = f.store.CurrentValues(ctx, arns)
		}
		for i, s := range batch {
			j := sweepJob{i: from + i, entry: s}
			switch {
			case batchErr != nil:
				j.readErr = "read the current value: " + batchErr.Error()
			case values == nil:
				// The deadline is near: the workers report it not reached.
			case failed[s.ARN] != "":
				j.readErr = "read the current value: " + failed[s.ARN]
			default:
				j.value, j.currentVersion = values[s.ARN].SecretString, values[s.ARN].VersionID
			}
			j.principal = "secret:" + s.ARN
			if j.readErr == "" {
				j.parsed, j.parseErr = rotation.ParseValue(j.value, "AWSCURRENT")
				if j.parsed != nil {
					j.principal = rotation.PrincipalOf(j.parsed, s.ARN)
				}
			}
			queue.push(j)
		}
	}
}

// deadlineNear says whether less than a secret's allowance is left.
func (f *Fleet) deadlineNear(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && d.Sub(f.r.Now()) < sweepSecretAllowance
}

// currentVersionID is the version that holds the job's value: as read
// with it, else as listed.
func (j sweepJob) currentVersionID() string {
	if j.currentVersion != "" {
		return j.currentVersion
	}
	return secretsmanager.CurrentVersion(j.entry.Versions)
}

func seconds(d time.Duration) *int64 {
	s := int64(d / time.Second)
	return &s
}

// logSwept writes the secret's one log line: the per-secret figures live
// here, for Logs Insights, not in metrics.
func (f *Fleet) logSwept(ctx context.Context, s sweptSecret, dryRun bool) {
	attrs := []any{"action", actionSweep, "dry_run", dryRun, "secret", s.Secret, "outcome", s.Outcome, "token_prefix", s.TokenPrefix}
	if s.TokenAgeS != nil {
		attrs = append(attrs, "token_age_s", *s.TokenAgeS)
	}
	if s.ExpiresInS != nil {
		attrs = append(attrs, "expires_in_s", *s.ExpiresInS)
	}
	if s.GraceUntil != "" {
		attrs = append(attrs, "previous_token_grace_until", s.GraceUntil)
	}
	if s.GraceRecordDistrusted != "" {
		attrs = append(attrs, "grace_record_distrusted", s.GraceRecordDistrusted)
	}
	if s.Straggler != nil {
		attrs = append(attrs, "straggler_previous_token_prefix", s.Straggler.PreviousTokenPrefix, "straggler_last_used_time", s.Straggler.LastUsedTime,
			"straggler_last_ip", s.Straggler.LastIP, "straggler_last_user_agent", s.Straggler.LastUserAgent)
	}
	if s.PreviousKept {
		attrs = append(attrs, "previous_token_kept", true)
	}
	if s.ReplicaWait != "" {
		attrs = append(attrs, "replica_wait", s.ReplicaWait, "replica_overdue", s.ReplicaOverdue)
	}
	if s.StuckVersion != "" {
		attrs = append(attrs, "stuck_version", s.StuckVersion, "stuck_since", s.StuckSince, "recovered", s.Recovered)
	}
	if len(s.Revoked) > 0 {
		attrs = append(attrs, "revoked", s.Revoked)
	}
	if len(s.WouldRevoke) > 0 {
		attrs = append(attrs, "would_revoke", s.WouldRevoke)
	}
	if s.RotationStarted != "" {
		attrs = append(attrs, "rotation_version", s.RotationStarted)
	}
	if s.WouldRotate {
		attrs = append(attrs, "would_rotate", true)
	}
	if s.RotationInProgress {
		attrs = append(attrs, "rotation_in_progress", true)
	}
	attrs = append(attrs, s.sweptSettings.logAttrs()...)
	switch {
	case s.Outcome == sweptTokenInvalid, s.Outcome == sweptError, s.StuckVersion != "", s.AtRisk != "":
		f.log.ErrorContext(ctx, "secret swept", append(attrs, "error", s.Error)...)
	case s.Outcome == sweptNotReached, s.Outcome == sweptHealed, s.sweptSettings.any():
		f.log.WarnContext(ctx, "secret swept", append(attrs, "error", s.Error)...)
	default:
		f.log.InfoContext(ctx, "secret swept", attrs...)
	}
}

// summarise fills in the fleet's figures from the per-secret entries.
func (f *Fleet) summarise(rep *sweepReport, start time.Time) {
	for _, s := range rep.Results {
		switch s.Outcome {
		case sweptHealthy:
			rep.Healthy++
		case sweptTokenInvalid:
			rep.TokenInvalid++
		case sweptHealed:
			rep.Healed++ // not TokenInvalid: its alarm is for what no rotation can fix
		case sweptError:
			rep.Errors++
		case sweptNotReached:
			rep.NotReached++
		}
		if s.RotationStarted != "" {
			rep.RotationsStarted++
		}
		rep.TokensRevoked += len(s.Revoked)
		if s.GraceRecordDistrusted != "" {
			rep.GraceDistrusted++
		}
		if s.Straggler != nil {
			rep.Stragglers++
		}
		if s.ReplicaOverdue {
			rep.ReplicaLag++
		}
		if s.StuckVersion != "" {
			rep.Stuck++
		}
		rep.settingsCounts.add(s.sweptSettings)
		if s.TokenAgeS != nil && (rep.OldestTokenAgeS == nil || *s.TokenAgeS > *rep.OldestTokenAgeS) {
			rep.OldestTokenAgeS = s.TokenAgeS
		}
		if s.ExpiresInS != nil && (rep.SoonestExpiryS == nil || *s.ExpiresInS < *rep.SoonestExpiryS) {
			rep.SoonestExpiryS = s.ExpiresInS
		}
	}
	rep.DurationMS = f.r.Now().Sub(start).Milliseconds()
}

// metrics are the fleet's few figures, whatever its size.
func (rep *sweepReport) metrics(function string) metrics.Sweep {
	m := metrics.Sweep{
		FunctionName: function, DryRun: rep.DryRun,
		SecretsSeen: rep.Secrets, Healthy: rep.Healthy, TokenInvalid: rep.TokenInvalid, Healed: rep.Healed,
		RotationsStarted: rep.RotationsStarted, TokensRevoked: rep.TokensRevoked,
		Errors: rep.Errors, NotReached: rep.NotReached, GraceDistrusted: rep.GraceDistrusted, Stuck: rep.Stuck, Stragglers: rep.Stragglers, ReplicaLag: rep.ReplicaLag,
		ExpiresBeforeRotation: rep.ExpiresBeforeRotation, AtRisk: rep.AtRisk,
	}
	if rep.OldestTokenAgeS != nil {
		m.OldestTokenAge, m.HasOldest = time.Duration(*rep.OldestTokenAgeS)*time.Second, true
	}
	if rep.SoonestExpiryS != nil {
		m.SoonestExpiry, m.HasSoonest = time.Duration(*rep.SoonestExpiryS)*time.Second, true
	}
	return m
}
