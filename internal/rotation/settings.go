package rotation

// Settings checked before they bite (issue 20 §3; docs/fleet.md,
// "Settings checked before they bite"). Secrets Manager's managed rotation
// refuses, at set-up, a schedule longer than a partner token's lifetime;
// this function compares when the next rotation will happen
// (NextRotationDate, "the latest date that rotation will occur", which
// already reflects the rules, the window and edits by hand: nothing here
// parses a rate() or cron()) with when the token expires (Aiven's
// expiry_time for it), and the grace with the interval between rotations.
// A token that expires before its next rotation fails the configuration
// test (rotate-secret --no-rotate-immediately); in createSecret and the
// sweep it is a warning with a metric, never a failure: failing a rotation
// for it would cause the very expiry it warns about. A grace as long as
// the interval is a warning.

import (
	"context"
	"fmt"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// schedule is a secret's rotation schedule as Secrets Manager reports it
// (DescribeSecret, ListSecrets); a zero date is one it did not give.
type schedule struct {
	last, next time.Time // LastRotatedDate, NextRotationDate
}

func scheduleOf(desc secretsmanager.Description) schedule {
	return schedule{last: desc.LastRotated, next: desc.NextRotation}
}

// interval is the time Secrets Manager leaves from the last rotation to
// the latest the next one comes: the schedule's period, plus at most a
// rotation window.
func (s schedule) interval() (time.Duration, bool) {
	if s.last.IsZero() || !s.next.After(s.last) {
		return 0, false
	}
	return s.next.Sub(s.last), true
}

// nextAfter is the latest the rotation after one made at made comes, as
// far as a DescribeSecret read during that rotation tells. Secrets Manager
// sets LastRotatedDate only when a rotation completes, so during the
// scheduled rotation NextRotationDate is that rotation's own, and the next
// one is an interval later. After a rotation started early (on demand) a
// rate() schedule counts from it (an interval later) while a cron()
// window stays where it was (NextRotationDate); nothing here parses the
// expression, so the later of the two is taken. For a cron() schedule a
// warning may then come one rotation early: it still means the token
// lives less than one interval, the setting to fix either way.
func (s schedule) nextAfter(made time.Time) (time.Time, bool) {
	if s.next.IsZero() {
		return time.Time{}, false
	}
	next := s.next
	if iv, ok := s.interval(); ok && made.Add(iv).After(next) {
		next = made.Add(iv)
	}
	return next, true
}

// expiresFirst says that a token (which, with its prefix) expires before
// the next rotation: the secret, the two dates, and the fix. lifetime is
// the token's whole life, when known; extends, that it extends when used.
func expiresFirst(secretARN, which string, expiry, next time.Time, lifetime time.Duration, extends bool, rotateBefore time.Duration) string {
	msg := fmt.Sprintf("secret %s: %s expires at %s, before the next rotation, due by %s (Secrets Manager's NextRotationDate)",
		secretARN, which, expiry.UTC().Format(time.RFC3339), next.UTC().Format(time.RFC3339))
	if extends {
		msg += "; it extends when used (extend_when_used): every use, the sweep's own health check included, moves its expiry to max_age_seconds after that use, so it expires first only if nothing uses it for that long"
	}
	life := ""
	if lifetime > 0 {
		life = " of " + humanDuration(lifetime)
	}
	return fmt.Sprintf("%s. Fix: rotate more often (a RotationRules schedule whose interval, plus a day for its rotation window, is shorter than the token's life%s), or give its tokens a longer life (max_age_seconds; without it a personal token lives 30 days); meanwhile the sweep, if it runs, rotates it %s before it expires (ROTATE_BEFORE_EXPIRY)",
		msg, life, humanDuration(rotateBefore))
}

// graceCutShort says that the grace is not shorter than the interval
// between rotations: the next rotation revokes the previous token before
// its grace ends.
func graceCutShort(secretARN string, grace time.Duration, s schedule) string {
	iv, _ := s.interval()
	return fmt.Sprintf("secret %s: the previous token's grace, %s (PREVIOUS_TOKEN_GRACE, or the secret's previous_token_grace), is not shorter than the interval between rotations, %s (LastRotatedDate %s to NextRotationDate %s, the close of the next rotation window, which may open up to %s before it): the next rotation may revoke the previous token before its grace ends. Fix: a grace shorter than the interval less its window, or rotations further apart",
		secretARN, humanDuration(grace), humanDuration(iv), s.last.UTC().Format(time.RFC3339), s.next.UTC().Format(time.RFC3339), humanDuration(windowOf(iv)))
}

// graceTooLong says whether grace is as long as the time to the earliest
// the next rotation may come: NextRotationDate is when its window closes
// ("the latest date that rotation will occur"), and Secrets Manager
// rotates at any time within the window, which "must not extend into the
// next rotation window or the next UTC day" (RotationRulesType,
// Duration): at most a day, and (inferred) taken here as at most half the
// interval, so that rate(7 days) with a 168h grace and rate(4 hours)
// with a 4h grace both warn.
func (s schedule) graceTooLong(grace time.Duration) bool {
	iv, ok := s.interval()
	return ok && grace > 0 && grace >= iv-windowOf(iv)
}

// windowOf is the longest rotation window an interval iv leaves room for.
func windowOf(iv time.Duration) time.Duration { return min(24*time.Hour, iv/2) }

// warnSettings is createSecret's check of the new token against the
// schedule, with only what the step has: Aiven's answer to the creation
// (its expiry, when it has one) and the guard's DescribeSecret. It warns
// (a note, a warning line, the ExpiresBeforeRotation metric) and never
// fails the step.
func (r *Rotator) warnSettings(ctx context.Context, in stepInput, res *result, current *secret.Value, created aiven.NewToken, grace time.Duration) {
	s := scheduleOf(in.desc)
	attrs := []any{"step", in.ev.Step, "secret", in.desc.ARN, "version", in.ev.ClientRequestToken, "token_prefix", created.Prefix}
	if created.ExpiryTime != nil {
		made := created.CreateTime
		if made.IsZero() {
			made = r.now()
		}
		if next, ok := s.nextAfter(made); ok && created.ExpiryTime.Before(next) {
			rotateBefore, _ := r.rotateBeforeFor(current) // checked by readCurrent
			msg := expiresFirst(in.desc.ARN, "the new token "+created.Prefix, *created.ExpiryTime, next, created.ExpiryTime.Sub(made), created.ExtendWhenUsed, rotateBefore)
			res.expiresBeforeRotation = true
			res.notes = append(res.notes, msg)
			r.log.WarnContext(ctx, "settings: the new token expires before the next rotation", append(attrs,
				"outcome", "expires_before_rotation", "token_expiry", rfc3339(created.ExpiryTime), "next_rotation", rfc3339(&next), "warning", msg)...)
		}
	}
	if s.graceTooLong(grace) {
		msg := graceCutShort(in.desc.ARN, grace, s)
		res.notes = append(res.notes, msg)
		r.log.WarnContext(ctx, "settings: the grace is as long as the interval between rotations", append(attrs, "outcome", "grace_cut_short", "warning", msg)...)
	}
}

// checkCurrentSettings is the configuration test's check of the schedule
// against the current token. During the test nothing is rotated, so
// DescribeSecret's NextRotationDate is the first scheduled rotation: a
// token that expires before it (by Aiven's listing of it, else the
// value's expiry_time) fails the test, naming both dates and the fix; one
// that extends when used, which the sweep's use keeps alive, and a grace
// as long as the interval are warnings. listed is the listing the kind's
// test made, if any; else it lists the tokens once, a call only the
// configuration test makes. It only reads.
func (r *Rotator) checkCurrentSettings(ctx context.Context, in stepInput, api countingAPI, listed []aiven.Token, current *secret.Value, res *result) error {
	s := scheduleOf(in.desc)
	attrs := []any{"step", in.ev.Step, "secret", in.desc.ARN, "version", in.ev.ClientRequestToken}
	grace, err := r.graceFor(current)
	if err != nil {
		return fmt.Errorf("AWSCURRENT: %w", err)
	}
	rotateBefore, err := r.rotateBeforeFor(current)
	if err != nil {
		return fmt.Errorf("AWSCURRENT: %w", err)
	}
	if s.graceTooLong(grace) {
		msg := graceCutShort(in.desc.ARN, grace, s)
		res.notes = append(res.notes, msg)
		r.log.WarnContext(ctx, "settings: the grace is as long as the interval between rotations", append(attrs, "outcome", "grace_cut_short", "warning", msg)...)
	}
	if s.next.IsZero() {
		return nil
	}
	tokens := listed
	if tokens == nil {
		if tokens, err = api.ListTokens(ctx); err != nil {
			return explainAiven(err, currentToken, "list")
		}
	}
	expiry, lifetime, extends, prefix := currentExpiry(tokens, current)
	if expiry.IsZero() || !expiry.Before(s.next) {
		return nil
	}
	msg := expiresFirst(in.desc.ARN, "the current token "+prefix, expiry, s.next, lifetime, extends, rotateBefore)
	if !extends {
		return WithKind(KindConfig, fmt.Errorf("%s", msg))
	}
	res.expiresBeforeRotation = true
	res.notes = append(res.notes, msg)
	r.log.WarnContext(ctx, "settings: the current token expires before the next rotation", append(attrs,
		"outcome", "expires_before_rotation", "token_prefix", prefix, "token_expiry", expiry.UTC().Format(time.RFC3339), "next_rotation", s.next.UTC().Format(time.RFC3339), "warning", msg)...)
	return nil
}

// currentExpiry is the current token's expiry as Aiven lists it (the
// caller's own, currently_active, else the one listed token whose prefix
// begins it), with its lifetime and whether it extends when used; else
// the value's expiry_time. Zero when neither says.
func currentExpiry(tokens []aiven.Token, v *secret.Value) (expiry time.Time, lifetime time.Duration, extends bool, prefix string) {
	var listed *aiven.Token
	var begins []*aiven.Token
	for i := range tokens {
		if tokens[i].CurrentlyActive {
			listed = &tokens[i]
			break
		}
		if checkPrefix(tokens[i].Prefix) == nil && v.Token.HasPrefix(tokens[i].Prefix) {
			begins = append(begins, &tokens[i])
		}
	}
	if listed == nil && len(begins) == 1 {
		listed = begins[0]
	}
	if listed != nil {
		if listed.ExpiryTime == nil {
			return time.Time{}, 0, false, listed.Prefix
		}
		if !listed.CreateTime.IsZero() {
			lifetime = listed.ExpiryTime.Sub(listed.CreateTime)
		}
		return *listed.ExpiryTime, lifetime, listed.ExtendWhenUsed, listed.Prefix
	}
	t, err := time.Parse(time.RFC3339, v.ExpiryTime)
	if err != nil {
		return time.Time{}, 0, false, shownPrefix(v.TokenPrefix)
	}
	return t, 0, false, shownPrefix(v.TokenPrefix)
}

// SettingsFindings are the sweep's warnings about one secret's settings,
// each naming the secret, the two values compared and the fix; "" when
// there is none.
type SettingsFindings struct {
	ExpiresBeforeRotation string
	GraceCutShort         string
}

// Settings checks the current token against the schedule ListSecrets
// reported for the secret (lastRotated, nextRotation): a token that
// expires before the next rotation (which the sweep still rotates before
// it expires), a grace as long as the interval. It makes no call.
func (in *Inspection) Settings(lastRotated, nextRotation time.Time) SettingsFindings {
	var f SettingsFindings
	s := schedule{last: lastRotated, next: nextRotation}
	if grace, err := in.r.graceFor(in.v); err == nil && s.graceTooLong(grace) {
		f.GraceCutShort = in.Redact(graceCutShort(in.arn, grace, s))
	}
	cur := in.Current
	if cur == nil || cur.ExpiryTime == nil || s.next.IsZero() || !cur.ExpiryTime.Before(s.next) {
		return f
	}
	var lifetime time.Duration
	if !cur.CreateTime.IsZero() {
		lifetime = cur.ExpiryTime.Sub(cur.CreateTime)
	}
	f.ExpiresBeforeRotation = in.Redact(expiresFirst(in.arn, "the current token "+cur.Prefix, *cur.ExpiryTime, s.next, lifetime, cur.ExtendWhenUsed, in.RotateBefore()))
	return f
}

// humanDuration shows a duration in days and hours from a day up, else
// as Go does.
func humanDuration(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Second).String()
	}
	days, hours := int(d/(24*time.Hour)), int((d%(24*time.Hour)).Round(time.Hour)/time.Hour)
	if hours == 24 {
		days, hours = days+1, 0
	}
	if hours == 0 {
		if days == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", days)
	}
	return fmt.Sprintf("%d days %dh", days, hours)
}
