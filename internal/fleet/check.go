package fleet

// The sweep of one secret (docs/fleet.md, "The sweep"): its token's
// health, then each check in turn. A new check is one method here and
// one entry in checks; the rules it applies to the secret's tokens are
// rotation's (rotation.Inspection).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// secretSweep is the sweep of one secret under way.
type secretSweep struct {
	f      *Fleet
	j      sweepJob
	dryRun bool
	in     *rotation.Inspection
	grace  rotation.Grace
	res    sweptSecret
}

// checks run in order on a secret whose token Aiven accepts; the first
// error ends the secret's sweep, reported as its error.
var checks = []func(*secretSweep, context.Context) error{
	(*secretSweep).dueRevocation,
	(*secretSweep).orphans,
	(*secretSweep).stuckRotation,
	(*secretSweep).expiry,
	(*secretSweep).settings, // settings.go
}

// sweepSecret is the sweep of one secret. Every revocation is by prefix,
// of a token rotation's rules allow; a rotation is started, never run.
func (f *Fleet) sweepSecret(ctx context.Context, j sweepJob, dryRun bool) sweptSecret {
	s := &secretSweep{f: f, j: j, dryRun: dryRun, res: sweptSecret{Secret: j.entry.ARN, Name: j.entry.Name, Outcome: sweptHealthy}}
	if j.readErr != "" {
		return s.fail(errors.New(j.readErr))
	}
	if j.parseErr != nil {
		return s.fail(j.parseErr)
	}
	in, err := f.r.Inspect(ctx, j.entry.ARN, j.parsed)
	s.in, s.res.TokenPrefix = in, in.Prefix
	switch {
	case err != nil:
		return s.fail(err)
	case in.Dead != "":
		return s.dead(ctx)
	}
	s.age()
	for _, check := range checks {
		if err := check(s, ctx); err != nil {
			return s.fail(err)
		}
	}
	return s.res
}

// fail ends the secret's sweep with err, redacted.
func (s *secretSweep) fail(err error) sweptSecret {
	msg := scrub.String(err.Error())
	if s.in != nil {
		msg = s.in.Redact(msg)
	}
	s.res.Outcome, s.res.Error = sweptError, msg
	return s.res
}

// dead reports a token Aiven refuses. An application token can be
// replaced, since its manager's token creates the next one: the sweep
// starts a rotation (Secrets Manager runs it) and reports the secret
// healed. With a rotation already in progress, or in a dry run, or for a
// personal token, it is reported token_invalid. Run twice, the second
// finds the rotation in progress.
func (s *secretSweep) dead(ctx context.Context) sweptSecret {
	s.res.Outcome, s.res.Error = sweptTokenInvalid, s.in.Dead
	if !s.in.Heal {
		return s.res
	}
	if err := s.startRotation(ctx); err != nil {
		s.res.Error = s.in.Dead + "; starting a rotation to heal it failed too: " + scrub.String(err.Error())
	} else if s.res.RotationStarted != "" {
		s.res.Outcome = sweptHealed
	}
	return s.res
}

// age records the current token's age and time to expiry, by Aiven's
// clock, which decides expiry.
func (s *secretSweep) age() {
	cur := s.in.Current
	if cur == nil {
		return
	}
	if !cur.CreateTime.IsZero() {
		s.res.TokenAgeS = seconds(s.in.Now.Sub(cur.CreateTime))
	}
	if cur.ExpiryTime != nil {
		s.res.ExpiresInS = seconds(cur.ExpiryTime.Sub(s.in.Now))
	}
}

// revoke revokes a token by prefix, or in a dry run says it would.
func (s *secretSweep) revoke(ctx context.Context, prefix string) error {
	if s.dryRun {
		s.res.WouldRevoke = append(s.res.WouldRevoke, prefix)
		return nil
	}
	revoked, err := s.in.Revoke(ctx, prefix)
	if err != nil {
		return fmt.Errorf("revoke %s: %w", prefix, err)
	}
	if revoked {
		s.res.Revoked = append(s.res.Revoked, prefix)
	}
	return nil
}

// dueRevocation revokes the previous token once its grace has passed (or
// at once when no grace is recorded: finishSecret's duty left undone).
// The record that counts is the one the rotation that made the current
// token wrote (rotation.Inspection.GraceOf); one it does not honour is
// reported, never dropped.
func (s *secretSweep) dueRevocation(ctx context.Context) error {
	g, err := s.in.GraceOf(ctx, s.j.currentVersionID(), s.j.entry.LastRotated)
	if err != nil {
		return err
	}
	s.grace = g
	if g.Distrusted != "" {
		s.res.GraceRecordDistrusted = g.Distrusted
		s.f.log.ErrorContext(ctx, "grace record not honoured: the previous token is neither revoked nor counted as graced by it",
			"action", actionSweep, "secret", s.j.entry.ARN, "outcome", "grace_record_distrusted", "reason", g.Distrusted)
	}
	if g.Previous == "" {
		return nil
	}
	s.straggler(ctx, g)
	if !g.Due {
		s.res.GraceUntil, s.res.PreviousKept = g.Until.UTC().Format(time.RFC3339), g.Kept
		return nil
	}
	if wait, err := s.replicaWait(ctx, g); wait || err != nil {
		return err
	}
	if err := s.revoke(ctx, g.Previous); err != nil {
		return err
	}
	s.stragglerCut(ctx, g)
	return nil
}

// replicaWait says whether the due previous token must wait for the
// secret's replica regions: one that does not serve the current version
// yet still serves the previous token's (docs/fleet.md, "Replica
// regions"). The next sweep tries again; a replica Failed, or behind past
// the hard limit, is an error line and counts in SweepReplicaLag.
func (s *secretSweep) replicaWait(ctx context.Context, g rotation.Grace) (bool, error) {
	lag, err := s.in.ReplicaLag(ctx, s.j.currentVersionID())
	if err != nil || lag.Wait == "" {
		return false, err
	}
	s.res.ReplicaWait, s.res.ReplicaOverdue = lag.Wait, lag.Overdue
	attrs := []any{"action", actionSweep, "dry_run", s.dryRun, "secret", s.j.entry.ARN, "previous_token_prefix", g.Previous, "reason", lag.Wait}
	if lag.Overdue {
		s.f.log.ErrorContext(ctx, "previous token not revoked: a replica region failed or has not caught up within the hard limit; fix its replication (aws secretsmanager describe-secret shows ReplicationStatus)",
			append(attrs, "outcome", "replica_overdue", "failed_regions", lag.Failed)...)
	} else {
		s.f.log.WarnContext(ctx, "previous token kept until every replica region serves the current version; the next sweep tries again",
			append(attrs, "outcome", "replica_wait")...)
	}
	return true, nil
}

// straggler reports a use of the previous token since its replacement
// became current (docs/fleet.md, "Stragglers"): every sweep says so until
// the token goes, so that whoever runs the consumer hears of it before the
// cut, and the line at the revocation names it too. At the hard limit of
// a token kept while in use, the line is an error.
func (s *secretSweep) straggler(ctx context.Context, g rotation.Grace) {
	u := g.Straggler
	if u == nil {
		return
	}
	s.res.Straggler = &straggler{PreviousTokenPrefix: g.Previous, LastUsedTime: u.At.UTC().Format(time.RFC3339), LastIP: u.IP, LastUserAgent: u.UserAgent}
	if !g.Due {
		s.f.log.WarnContext(ctx, "previous token still in use since its replacement became current: a consumer has not refreshed the secret (or someone holds a leaked token); it is revoked at the time shown",
			append(s.stragglerAttrs(g), "outcome", "straggler", "previous_token_grace_until", g.Until.UTC().Format(time.RFC3339), "previous_token_kept", g.Kept)...)
	}
}

// stragglerCut says that a previous token still in use was revoked: only
// once it was (not in a dry run, not while it waits for a replica).
func (s *secretSweep) stragglerCut(ctx context.Context, g rotation.Grace) {
	if g.Straggler == nil || s.dryRun {
		return
	}
	attrs := append(s.stragglerAttrs(g), "outcome", "straggler_cut")
	if g.HardLimit {
		s.f.log.ErrorContext(ctx, "previous token revoked at its hard limit while still in use: the consumer that uses it fails now; give it the current value", attrs...)
		return
	}
	s.f.log.WarnContext(ctx, "previous token revoked at the end of its grace while still in use: the consumer that uses it fails now; give it the current value", attrs...)
}

func (s *secretSweep) stragglerAttrs(g rotation.Grace) []any {
	u := g.Straggler
	return []any{"action", actionSweep, "dry_run", s.dryRun, "secret", s.j.entry.ARN, "previous_token_prefix", g.Previous,
		"last_used_time", u.At.UTC().Format(time.RFC3339), "last_ip", u.IP, "last_user_agent", u.UserAgent}
}

// orphans revokes the leftovers of earlier rotations that the one rule
// finishSecret uses allows (rotation.Inspection.Orphans).
func (s *secretSweep) orphans(ctx context.Context) error {
	for _, prefix := range s.in.Orphans(s.grace, secretsmanager.PendingVersions(s.j.entry.Versions)) {
		if err := s.revoke(ctx, prefix); err != nil {
			return err
		}
	}
	return nil
}

// expiry starts a rotation when the current token expires sooner than
// the secret's rotate-before threshold; Secrets Manager runs it.
func (s *secretSweep) expiry(ctx context.Context) error {
	if s.res.StuckVersion != "" || s.res.ExpiresInS == nil || time.Duration(*s.res.ExpiresInS)*time.Second >= s.in.RotateBefore() {
		return nil
	}
	if err := s.startRotation(ctx); err != nil {
		return fmt.Errorf("start a rotation before expiry: %w", err)
	}
	return nil
}

// startRotation starts a rotation of the secret (RotateSecret; Secrets
// Manager runs it) and records it: unless one is in progress already
// (RotationInProgress), and in a dry run only as WouldRotate. Run twice,
// the second finds the first in progress.
func (s *secretSweep) startRotation(ctx context.Context) error {
	switch {
	case secretsmanager.PendingVersion(s.j.entry.Versions) != "":
		s.res.RotationInProgress = true
		return nil
	case s.dryRun:
		s.res.WouldRotate = true
		return nil
	}
	// Another sweep (a follow-up, a scheduled one, one by hand) may have
	// rotated the secret since this one read it: its view is then stale,
	// and a second rotation would cut the new grace short.
	fresh, err := s.f.store.DescribeRotation(ctx, s.j.entry.ARN)
	if err != nil {
		return err
	}
	if secretsmanager.PendingVersion(fresh.Versions) != "" || secretsmanager.CurrentVersion(fresh.Versions) != s.j.currentVersionID() {
		s.res.RotationInProgress = true
		return nil
	}
	version, err := s.f.store.StartRotation(ctx, s.j.entry.ARN)
	switch {
	case errors.Is(err, secretsmanager.ErrRotationInProgress):
		s.res.RotationInProgress = true
	case err != nil:
		return err
	default:
		s.res.RotationStarted = version
	}
	return nil
}

// stuckRotation recovers a rotation Secrets Manager gave up on: a version
// labelled AWSPENDING (not AWSCURRENT) created more than
// STUCK_ROTATION_AFTER ago, or before the current version (abandoned by an
// edit, then relabelled by a createSecret under way) (ListSecretVersionIds
// dates them; RotateSecret makes a version without a value). As AWS
// documents for a rotation that cannot finish (CancelRotateSecret, AWS
// Secrets Manager API Reference: "remove the staging label AWSPENDING from
// the partially created version ... call ListSecretVersionIds. Then use
// UpdateSecretVersionStage"), it revokes the tokens that version's
// rotation made, removes AWSPENDING from it, and starts a rotation. The new
// rotation's version is new, so a secret that always fails is recovered at
// most once per threshold, not at every sweep. In a dry run it only says
// so. Run twice, the second finds the label gone and a rotation in
// progress. A retry of that rotation's finishSecret already past its guard
// when the label goes could still promote it after the second look; 24
// hours after the version was made, that is a window this recovery accepts.
func (s *secretSweep) stuckRotation(ctx context.Context) error {
	stale, created, err := s.stuckVersion(ctx)
	if stale == "" || err != nil {
		return err
	}
	s.res.StuckVersion, s.res.StuckSince = stale, created.UTC().Format(time.RFC3339)
	made := s.in.MadeBy(stale)
	if s.dryRun {
		s.res.WouldRecover, s.res.WouldRotate = true, true
		s.res.WouldRevoke = append(s.res.WouldRevoke, made...)
		return nil
	}
	return s.recover(ctx, stale, made)
}

// stuckVersion is the secret's pending version and when it was made, when
// its rotation is stuck; "" when there is none.
func (s *secretSweep) stuckVersion(ctx context.Context) (string, time.Time, error) {
	arn := s.j.entry.ARN
	stale := secretsmanager.PendingVersion(s.j.entry.Versions)
	if stale == "" {
		return "", time.Time{}, nil
	}
	dates, err := s.f.store.VersionDates(ctx, arn)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("date the pending version %s: %w", stale, err)
	}
	created, ok := dates[stale]
	if !ok {
		return "", time.Time{}, nil
	}
	// A pending version older than the current one was abandoned: a
	// rotation's version is always made after the version it replaces, and
	// only an edit by hand makes a newer AWSCURRENT while it is pending.
	// Secrets Manager then removed AWSPENDING, and a createSecret still
	// under way put it back: nothing will finish it, and nothing else can
	// start until it goes, so it is recovered at once.
	cur, hasCur := dates[secretsmanager.CurrentVersion(s.j.entry.Versions)]
	abandoned := hasCur && created.Before(cur)
	if !abandoned && s.f.r.Now().Sub(created) < s.f.cfg.StuckAfter() {
		return "", time.Time{}, nil
	}
	return stale, created, nil
}

// recover takes AWSPENDING off the stuck version, revokes the tokens its
// rotation made (made) and starts a rotation. The label goes first: from
// then on no retry of that rotation gets past finishSecret's guard. Then
// the version is looked at again: a retry may have promoted it since the
// listing, and then its token is the current one, and nothing is revoked
// or started. Should the second look, a revocation or the start fail, the
// label is put back, so that the next sweep finds the rotation stuck
// again rather than forgotten.
func (s *secretSweep) recover(ctx context.Context, stale string, made []string) error {
	arn := s.j.entry.ARN
	if err := s.f.store.RemovePending(ctx, arn, stale); err != nil {
		return fmt.Errorf("recover the stuck rotation of version %s: remove AWSPENDING from it: %w", stale, err)
	}
	undo := func(step string, cause error) error {
		if err := s.f.store.RestorePending(ctx, arn, stale); err != nil {
			return fmt.Errorf("recover the stuck rotation of version %s: AWSPENDING removed; %s: %w; putting AWSPENDING back failed too (%v): rotate the secret by hand", stale, step, cause, err)
		}
		return fmt.Errorf("recover the stuck rotation of version %s: %s: %w; AWSPENDING put back, the next sweep tries again", stale, step, cause)
	}
	now, err := s.f.store.DescribeRotation(ctx, arn)
	if err != nil {
		return undo("describe the secret again", err)
	}
	if slices.Contains(now.Versions[stale], secretsmanager.StageCurrent) {
		s.f.log.WarnContext(ctx, "stuck rotation finished meanwhile: its version is AWSCURRENT; nothing revoked, no rotation started",
			"action", actionSweep, "secret", arn, "stuck_version", stale)
		return nil
	}
	for _, prefix := range made {
		revoked, err := s.in.Revoke(ctx, prefix)
		if err != nil {
			return undo("revoke its token "+prefix, err)
		}
		if revoked {
			s.res.Revoked = append(s.res.Revoked, prefix)
		}
	}
	version, err := s.f.store.StartRotation(ctx, arn)
	if err != nil && !errors.Is(err, secretsmanager.ErrRotationInProgress) {
		return undo("start a rotation", err)
	}
	s.res.Recovered, s.res.RotationStarted = true, version
	s.res.RotationInProgress = version == ""
	return nil
}
