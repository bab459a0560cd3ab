package rotation

// The fleet sweep (rotation.md, "The sweep"; docs/fleet.md): every secret
// this function rotates gets a health check, its due revocations, its
// orphans revoked, and a rotation started before its token expires. It
// never rotates inline, and never fails as a whole for one secret.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
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
	GraceUntil         string   `json:"previous_token_grace_until,omitempty"`
	Revoked            []string `json:"revoked,omitempty"`
	WouldRevoke        []string `json:"would_revoke,omitempty"`
	RotationStarted    string   `json:"rotation_started,omitempty"`
	WouldRotate        bool     `json:"would_rotate,omitempty"`
	RotationInProgress bool     `json:"rotation_in_progress,omitempty"`
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
	Error        string `json:"error,omitempty"`
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
// sweepPerPrincipal at a time behind one principal (sweepsched.go). It
// fails as a whole only when it cannot list the secrets; otherwise each
// secret's failure is that secret's entry. The secrets it had no time for
// are handed to a follow-up invocation of the function (followUp). With
// dryRun it reads as usual and changes nothing. Run twice, the second finds
// done what the first did.
func (r *Rotator) sweep(ctx context.Context, req sweepRequest) (*sweepReport, error) {
	start := r.now()
	dryRun := req.dryRun
	self, err := selfARN(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := r.fleet()
	if err != nil {
		return nil, err
	}
	// Only owned secrets are kept while the pages come: memory grows with
	// the fleet, not with the account.
	owned, err := fs.ListSecrets(ctx, r.cfg.Fleet.SweepTagKey, func(s secretsmanager.Listed) bool {
		return s.RotationEnabled && owns(s, self)
	})
	if err != nil {
		return nil, fmt.Errorf("list the secrets: %w", err)
	}
	owned = fromCursor(owned, req.resumeFrom)
	rep := &sweepReport{Action: ActionSweep, DryRun: dryRun, Secrets: len(owned), ResumedFrom: req.resumeFrom, Chain: req.chain}
	results := make([]sweptSecret, len(owned))

	// One read of each manager secret for the whole sweep.
	ctx = withManagerCache(ctx)
	queue := newPrincipalQueue(sweepPerPrincipal)
	var wg sync.WaitGroup
	for range min(r.cfg.Fleet.sweepConcurrency(), max(len(owned), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ok := queue.next()
				if !ok {
					return
				}
				var res sweptSecret
				if r.deadlineNear(ctx) {
					res = sweptSecret{Secret: j.entry.ARN, Name: j.entry.Name, Outcome: sweptNotReached}
				} else {
					res = r.sweepSecret(ctx, fs, j, dryRun)
				}
				results[j.i] = res
				r.logSwept(ctx, res, dryRun)
				queue.done(j.principal)
			}
		}()
	}
	// The values, MaxBatch at a time, feed the workers as they come.
	for from := 0; from < len(owned); from += secretsmanager.MaxBatch {
		batch := owned[from:min(from+secretsmanager.MaxBatch, len(owned))]
		var values map[string]secretsmanager.CurrentValue
		var failed map[string]string
		var batchErr error
		if !r.deadlineNear(ctx) {
			arns := make([]string, len(batch))
			for i, s := range batch {
				arns[i] = s.ARN
			}
			values, failed, batchErr = fs.CurrentValues(ctx, arns)
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
			if j.readErr == "" {
				j.parsed, j.parseErr = parseValue(j.value, "AWSCURRENT")
			}
			j.principal = principalOf(j)
			queue.push(j)
		}
	}
	queue.close()
	wg.Wait()

	rep.Results = results
	r.summarise(rep, start)
	if rep.NotReached > 0 && !dryRun {
		r.followUp(ctx, rep, req)
	}
	rep.capResults(maxReportedSecrets)
	if err := r.metrics.Sweep(rep.metrics(functionName(self))); err != nil {
		r.log.WarnContext(ctx, "metrics not written", "action", ActionSweep, "error", err.Error())
	}
	r.log.InfoContext(ctx, "sweep done", "action", ActionSweep, "dry_run", dryRun, "secrets", rep.Secrets, "healthy", rep.Healthy,
		"token_invalid", rep.TokenInvalid, "healed", rep.Healed, "rotations_started", rep.RotationsStarted, "tokens_revoked", rep.TokensRevoked,
		"errors", rep.Errors, "not_reached", rep.NotReached, "stuck", rep.Stuck, "grace_records_distrusted", rep.GraceDistrusted,
		"resumed_from", rep.ResumedFrom, "chain", rep.Chain, "follow_up_from", rep.FollowUpFrom, "duration_ms", rep.DurationMS)
	return rep, nil
}

// deadlineNear says whether less than a secret's allowance is left.
func (r *Rotator) deadlineNear(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && d.Sub(r.now()) < sweepSecretAllowance
}

// sweepSecret is the sweep of one secret. Every revocation is by prefix,
// and only of the previous token once due, or of a token the shared rule
// (sweepRule) allows; a rotation is started, never run.
func (r *Rotator) sweepSecret(ctx context.Context, fs fleetStore, j sweepJob, dryRun bool) sweptSecret {
	res := sweptSecret{Secret: j.entry.ARN, Name: j.entry.Name, Outcome: sweptHealthy}
	var held []secret.Token
	fail := func(err error) sweptSecret {
		res.Outcome, res.Error = sweptError, redactString(scrub.String(err.Error()), held)
		return res
	}
	if j.readErr != "" {
		return fail(errors.New(j.readErr))
	}
	if j.parseErr != nil {
		return fail(j.parseErr)
	}
	v := j.parsed
	held = append(held, v.Token)
	res.TokenPrefix = shownPrefix(v.TokenPrefix) // a stored field: maybe a whole token
	grace, err := r.graceFor(v)
	if err != nil {
		return fail(err)
	}
	rotateBefore, err := r.rotateBeforeFor(v)
	if err != nil {
		return fail(err)
	}
	opened, err := r.openAiven(j.entry.ARN, v, func(t secret.Token) { held = append(held, t) })
	if err != nil {
		return fail(err)
	}
	var t tally
	api := countingAPI{tokenAPI: opened, t: &t}

	// Health: what the kind checks before the listing (an application
	// token proves itself with /v1/me: its listing is the manager's).
	switch h := api.health(ctx); {
	case h.err != nil:
		return fail(h.err)
	case h.dead != nil && h.healable != nil:
		return fail(fmt.Errorf("the current application token is dead (401), and no rotation is started to heal it: %w", h.healable))
	case h.dead != nil:
		return r.heal(ctx, fs, j, res, dryRun, redactString(h.dead.Error(), held))
	}
	tokens, err := api.ListTokens(ctx)
	if !api.listedBySelf() && err != nil {
		// Listed by the manager's token: a 401 here is the manager's, said
		// so by its own explanation, not the application token's.
		return fail(fmt.Errorf("list the application user's tokens: %w", err))
	}
	if aiven.IsUnauthorized(err) {
		res.Outcome = sweptTokenInvalid
		res.Error = redactString(explainAiven(err, currentToken, "list").Error(), held)
		return res
	}
	if err != nil {
		return fail(fmt.Errorf("list tokens: %w", explainAiven(err, currentToken, "list")))
	}
	// Ages by Aiven's clock, which decides expiry.
	now := r.now()
	if at, ok := api.ServerTime(); ok {
		now = at
	}
	var current *aiven.Token
	// The current token: the caller's own (a personal token's listing
	// marks it), else the listed token whose prefix begins it (an
	// application token, listed by its manager). Never the stored
	// token_prefix alone: a value put by hand may lack it or lie.
	for i := range tokens {
		if tokens[i].CurrentlyActive {
			current = &tokens[i]
			break
		}
		if current == nil && checkPrefix(tokens[i].Prefix) == nil && v.Token.HasPrefix(tokens[i].Prefix) {
			current = &tokens[i]
		}
	}
	keep := v.TokenPrefix
	if current != nil {
		keep, res.TokenPrefix = current.Prefix, current.Prefix
		if !current.CreateTime.IsZero() {
			res.TokenAgeS = seconds(now.Sub(current.CreateTime))
		}
		if current.ExpiryTime != nil {
			res.ExpiresInS = seconds(current.ExpiryTime.Sub(now))
		}
	}

	revoke := func(prefix string) error {
		if dryRun {
			res.WouldRevoke = append(res.WouldRevoke, prefix)
			return nil
		}
		revoked, err := api.RevokeToken(ctx, prefix)
		if err != nil {
			return fmt.Errorf("revoke %s: %w", prefix, explainAiven(err, currentToken, "revoke"))
		}
		if revoked {
			res.Revoked = append(res.Revoked, prefix)
		}
		return nil
	}

	// Due revocation: the previous token, once its grace has passed (or
	// at once when no grace is recorded: finishSecret's duty left undone).
	// Only the AWSCURRENT value's record counts: a pending value's
	// previous token is the current one.
	// The record is the one the rotation that made the current token
	// wrote, read by its version id: an edit of the value since then
	// neither ends nor extends the grace.
	src, err := r.graceRecordOf(ctx, j.entry.ARN, v, j.currentVersionID(), tokens)
	if err != nil {
		return fail(err)
	}
	if src.distrusted != "" {
		res.GraceRecordDistrusted = src.distrusted
		r.log.ErrorContext(ctx, "grace record not honoured: the previous token is neither revoked nor counted as graced by it",
			"action", ActionSweep, "secret", j.entry.ARN, "outcome", "grace_record_distrusted", "reason", src.distrusted)
	}
	gracePrefix := ""
	if src.record != nil && src.record.PreviousTokenPrefix != "" && src.record.PreviousTokenPrefix != keep && listedPrefix(tokens, src.record.PreviousTokenPrefix) {
		prev := src.record.PreviousTokenPrefix
		recordedAt, recorded, _ := src.record.RevokeAfter() // checked by graceRecordOf
		due := true
		if recorded {
			at := dueAt(recordedAt, j.entry.LastRotated, grace)
			if r.now().Before(at) {
				due, gracePrefix = false, prev
				// Rounded up: a sweep after the instant shown finds it due.
				if ceil := at.Truncate(time.Second); ceil.Before(at) {
					at = ceil.Add(time.Second)
				}
				res.GraceUntil = at.UTC().Format(time.RFC3339)
			}
		}
		if due {
			if err := revoke(prev); err != nil {
				return fail(err)
			}
			gracePrefix = prev // handled: not an orphan below
		}
	}

	// Orphans: the rule finishSecret uses, with nothing of its own.
	// A record that cannot be trusted hides which marked token is in its
	// grace: none is revoked as an orphan until the stack's grace has
	// passed since the current token was made.
	var spareUntil time.Time
	if src.distrusted != "" {
		spareUntil = r.spareUntil(current, now)
	}
	rule := sweepRule{
		spareUntil:  spareUntil,
		secretHash:  secret.SecretHash(j.entry.ARN),
		keepPrefix:  keep,
		gracePrefix: gracePrefix,
		pending:     pendingVersions(j.entry.Versions),
		now:         now,
		minStaleAge: staleAge,
	}
	for _, tok := range tokens {
		if rule.revocable(tok) {
			if err := revoke(tok.Prefix); err != nil {
				return fail(err)
			}
		}
	}

	// A rotation Secrets Manager gave up on: recovered as AWS documents,
	// at most once per threshold (the new rotation's version is new).
	if err := r.recoverStuck(ctx, fs, api, j, &res, tokens, keep, dryRun); err != nil {
		return fail(err)
	}

	// Expiry: start a rotation; Secrets Manager runs it.
	if res.StuckVersion == "" && res.ExpiresInS != nil && time.Duration(*res.ExpiresInS)*time.Second < rotationThreshold(current, rotateBefore) {
		if err := startRotation(ctx, fs, j, &res, dryRun); err != nil {
			return fail(fmt.Errorf("start a rotation before expiry: %w", err))
		}
	}
	return res
}

// startRotation starts a rotation of the job's secret (RotateSecret;
// Secrets Manager runs it) and records it in res: unless one is in
// progress already (res.RotationInProgress), and in a dry run only as
// res.WouldRotate. Run twice, the second finds the first in progress.
func startRotation(ctx context.Context, fs fleetStore, j sweepJob, res *sweptSecret, dryRun bool) error {
	switch {
	case pendingVersion(j.entry.Versions) != "":
		res.RotationInProgress = true
	case dryRun:
		res.WouldRotate = true
	default:
		// Another sweep (a follow-up, a scheduled one, one by hand) may have
		// rotated the secret since this one read it: its view is then stale,
		// and a second rotation would cut the new grace short.
		fresh, err := fs.DescribeRotation(ctx, j.entry.ARN)
		if err != nil {
			return err
		}
		if pendingVersion(fresh.Versions) != "" || currentVersion(fresh.Versions) != j.currentVersionID() {
			res.RotationInProgress = true
			return nil
		}
		version, err := fs.StartRotation(ctx, j.entry.ARN)
		switch {
		case errors.Is(err, secretsmanager.ErrRotationInProgress):
			res.RotationInProgress = true
		case err != nil:
			return err
		default:
			res.RotationStarted = version
		}
	}
	return nil
}

// heal answers an application token that Aiven refuses: unlike a personal
// token, it can be replaced, since its manager's token creates the next
// one, so the sweep starts a rotation (Secrets Manager runs it) and reports
// the secret healed. With a rotation already in progress, or in a dry run,
// it is reported token_invalid with what would happen. Run twice, the
// second finds the rotation in progress.
func (r *Rotator) heal(ctx context.Context, fs fleetStore, j sweepJob, res sweptSecret, dryRun bool, why string) sweptSecret {
	res.Outcome, res.Error = sweptTokenInvalid, why
	if err := startRotation(ctx, fs, j, &res, dryRun); err != nil {
		res.Error = why + "; starting a rotation to heal it failed too: " + scrub.String(err.Error())
	} else if res.RotationStarted != "" {
		res.Outcome = sweptHealed
	}
	return res
}

// rotationThreshold is how close to its expiry a token is rotated:
// rotateBefore (ROTATE_BEFORE_EXPIRY), but never more than half the
// token's own lifetime. A token whose max_age_seconds is shorter than
// rotateBefore would otherwise be rotated by every sweep, minutes after it
// was made, cutting the previous token's grace to one sweep interval.
func rotationThreshold(t *aiven.Token, rotateBefore time.Duration) time.Duration {
	if t == nil || t.ExpiryTime == nil || t.CreateTime.IsZero() {
		return rotateBefore
	}
	if half := t.ExpiryTime.Sub(t.CreateTime) / 2; half > 0 && half < rotateBefore {
		return half
	}
	return rotateBefore
}

// listedPrefix says whether Aiven lists a token with this prefix.
func listedPrefix(tokens []aiven.Token, prefix string) bool {
	return slices.ContainsFunc(tokens, func(t aiven.Token) bool { return t.Prefix == prefix })
}

// currentVersionID is the version that holds the job's value: as read
// with it, else as listed.
func (j sweepJob) currentVersionID() string {
	if j.currentVersion != "" {
		return j.currentVersion
	}
	return currentVersion(j.entry.Versions)
}

func seconds(d time.Duration) *int64 {
	s := int64(d / time.Second)
	return &s
}

// logSwept writes the secret's one log line: the per-secret figures live
// here, for Logs Insights, not in metrics.
func (r *Rotator) logSwept(ctx context.Context, s sweptSecret, dryRun bool) {
	attrs := []any{"action", ActionSweep, "dry_run", dryRun, "secret", s.Secret, "outcome", s.Outcome, "token_prefix", s.TokenPrefix}
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
	switch {
	case s.Outcome == sweptTokenInvalid, s.Outcome == sweptError, s.StuckVersion != "":
		r.log.ErrorContext(ctx, "secret swept", append(attrs, "error", s.Error)...)
	case s.Outcome == sweptNotReached, s.Outcome == sweptHealed:
		r.log.WarnContext(ctx, "secret swept", append(attrs, "error", s.Error)...)
	default:
		r.log.InfoContext(ctx, "secret swept", attrs...)
	}
}

// summarise fills in the fleet's figures from the per-secret entries.
func (r *Rotator) summarise(rep *sweepReport, start time.Time) {
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
		if s.StuckVersion != "" {
			rep.Stuck++
		}
		if s.TokenAgeS != nil && (rep.OldestTokenAgeS == nil || *s.TokenAgeS > *rep.OldestTokenAgeS) {
			rep.OldestTokenAgeS = s.TokenAgeS
		}
		if s.ExpiresInS != nil && (rep.SoonestExpiryS == nil || *s.ExpiresInS < *rep.SoonestExpiryS) {
			rep.SoonestExpiryS = s.ExpiresInS
		}
	}
	rep.DurationMS = r.now().Sub(start).Milliseconds()
}

// metrics are the fleet's few figures, whatever its size.
func (rep *sweepReport) metrics(function string) metrics.Sweep {
	m := metrics.Sweep{
		FunctionName: function, DryRun: rep.DryRun,
		SecretsSeen: rep.Secrets, Healthy: rep.Healthy, TokenInvalid: rep.TokenInvalid, Healed: rep.Healed,
		RotationsStarted: rep.RotationsStarted, TokensRevoked: rep.TokensRevoked,
		Errors: rep.Errors, NotReached: rep.NotReached, GraceDistrusted: rep.GraceDistrusted, Stuck: rep.Stuck,
	}
	if rep.OldestTokenAgeS != nil {
		m.OldestTokenAge, m.HasOldest = time.Duration(*rep.OldestTokenAgeS)*time.Second, true
	}
	if rep.SoonestExpiryS != nil {
		m.SoonestExpiry, m.HasSoonest = time.Duration(*rep.SoonestExpiryS)*time.Second, true
	}
	return m
}

// recoverStuck recovers a rotation Secrets Manager gave up on: a version
// labelled AWSPENDING (not AWSCURRENT) created more than
// STUCK_ROTATION_AFTER ago, or before the current version (abandoned by an
// edit, then relabelled by a createSecret under way) (ListSecretVersionIds
// dates them; RotateSecret makes a version without a value). As AWS documents for a rotation that cannot
// finish (CancelRotateSecret, AWS Secrets Manager API Reference: "remove
// the staging label AWSPENDING from the partially created version ...
// call ListSecretVersionIds. Then use UpdateSecretVersionStage"), it
// revokes the tokens that version's rotation made (this secret's marker
// naming it; never keep, the current token), removes AWSPENDING from it,
// and starts a rotation. The new rotation's version is new, so a secret
// that always fails is recovered at most once per threshold, not at every
// sweep. In a dry run it only says so. Run twice, the second finds the
// label gone and a rotation in progress. A retry of that rotation's
// finishSecret already past its guard when the label goes could still
// promote it after the second look; 24 hours after the version was made,
// that is a window this recovery accepts.
func (r *Rotator) recoverStuck(ctx context.Context, fs fleetStore, api countingAPI, j sweepJob, res *sweptSecret, tokens []aiven.Token, keep string, dryRun bool) error {
	stale := pendingVersion(j.entry.Versions)
	if stale == "" {
		return nil
	}
	dates, err := fs.VersionDates(ctx, j.entry.ARN)
	if err != nil {
		return fmt.Errorf("date the pending version %s: %w", stale, err)
	}
	created, ok := dates[stale]
	if !ok {
		return nil
	}
	// A pending version older than the current one was abandoned: a
	// rotation's version is always made after the version it replaces, and
	// only an edit by hand makes a newer AWSCURRENT while it is pending.
	// Secrets Manager then removed AWSPENDING, and a createSecret still
	// under way put it back: nothing will finish it, and nothing else can
	// start until it goes, so it is recovered at once.
	cur, hasCur := dates[currentVersion(j.entry.Versions)]
	abandoned := hasCur && created.Before(cur)
	if !abandoned && r.now().Sub(created) < r.cfg.Fleet.stuckRotationAfter() {
		return nil
	}
	res.StuckVersion, res.StuckSince = stale, created.UTC().Format(time.RFC3339)
	hash := secret.SecretHash(j.entry.ARN)
	var made []string
	for _, t := range tokens {
		if m, ok := secret.ParseMarker(t.Description); ok && m.Secret == hash && m.Version == stale && !t.CurrentlyActive && t.Prefix != keep && checkPrefix(t.Prefix) == nil {
			made = append(made, t.Prefix)
		}
	}
	if dryRun {
		res.WouldRecover, res.WouldRotate = true, true
		res.WouldRevoke = append(res.WouldRevoke, made...)
		return nil
	}
	// The label goes first: from then on no retry of that rotation gets
	// past finishSecret's guard. Then the version is looked at again: a
	// retry may have promoted it since the listing, and then its token is
	// the current one, and nothing is revoked or started. Should the second
	// look, a revocation or the start fail, the label is put back, so that
	// the next sweep finds the rotation stuck again rather than forgotten.
	if err := fs.RemovePending(ctx, j.entry.ARN, stale); err != nil {
		return fmt.Errorf("recover the stuck rotation of version %s: remove AWSPENDING from it: %w", stale, err)
	}
	undo := func(step string, cause error) error {
		if err := fs.RestorePending(ctx, j.entry.ARN, stale); err != nil {
			return fmt.Errorf("recover the stuck rotation of version %s: AWSPENDING removed; %s: %w; putting AWSPENDING back failed too (%v): rotate the secret by hand", stale, step, cause, err)
		}
		return fmt.Errorf("recover the stuck rotation of version %s: %s: %w; AWSPENDING put back, the next sweep tries again", stale, step, cause)
	}
	now, err := fs.DescribeRotation(ctx, j.entry.ARN)
	if err != nil {
		return undo("describe the secret again", err)
	}
	if slices.Contains(now.Versions[stale], secretsmanager.StageCurrent) {
		r.log.WarnContext(ctx, "stuck rotation finished meanwhile: its version is AWSCURRENT; nothing revoked, no rotation started",
			"action", ActionSweep, "secret", j.entry.ARN, "stuck_version", stale)
		return nil
	}
	for _, prefix := range made {
		revoked, err := api.RevokeToken(ctx, prefix)
		if err != nil {
			return undo("revoke its token "+prefix, explainAiven(err, currentToken, "revoke"))
		}
		if revoked {
			res.Revoked = append(res.Revoked, prefix)
		}
	}
	version, err := fs.StartRotation(ctx, j.entry.ARN)
	if err != nil && !errors.Is(err, secretsmanager.ErrRotationInProgress) {
		return undo("start a rotation", err)
	}
	res.Recovered, res.RotationStarted = true, version
	res.RotationInProgress = version == ""
	return nil
}
