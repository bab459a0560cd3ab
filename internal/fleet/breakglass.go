package fleet

// Break-glass rotation (docs/fleet.md, "Break-glass rotation"): after a
// suspected leak, {"action":"rotate","secret_id":…,"revoke_previous":"now"}
// rotates the secret and revokes the token it replaced as soon as the new
// one is current, and "revoke_prefixes" revokes named tokens of the same
// principal. RotateSecret carries no parameter to the steps, so the request
// itself sees it through: it starts the rotation (its version id says it
// is a break-glass one), revokes the named tokens, waits for the new
// version to become AWSCURRENT (DescribeSecret, with backoff, within its
// own deadline) and revokes the previous token. Which tokens may go is
// rotation's to say (rotation.Inspection.RevokePreviousNow, RevokeNamed).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// maxRevokePrefixes caps revoke_prefixes: a leak names a few tokens; a
// longer list is more likely a paste of every token than a plan.
const maxRevokePrefixes = 20

// breakGlassRepeatWindow is how long after a break-glass rotation
// completed a repeated request finishes it (revokes its previous token)
// rather than rotating again: long enough for a request repeated after a
// deadline, short enough that a later suspicion of the new token rotates.
const breakGlassRepeatWindow = time.Hour

// The wait for the new version to become AWSCURRENT: DescribeSecret every
// promotionPollFirst, doubling up to promotionPollMax, until the deadline
// less breakGlassAllowance, kept for what follows the wait (reading the
// current value, a listing and a revocation, with their retries).
const (
	promotionPollFirst  = 250 * time.Millisecond
	promotionPollMax    = 5 * time.Second
	breakGlassAllowance = 10 * time.Second
)

// How a break-glass request came by the rotation whose previous token it
// revokes.
const (
	breakGlassStarted = "started" // it started one
	breakGlassAdopted = "adopted" // one was in progress: it waits for that one
	// breakGlassFinishing: a break-glass rotation completed within
	// breakGlassRepeatWindow; this request finishes its revocation.
	breakGlassFinishing = "finishing"
)

// Outcomes of the previous token (previousTokenReport).
const (
	previousRevoked     = "revoked"
	previousNone        = "none"         // Aiven no longer lists it, or none was recorded
	previousNotHonoured = "not_honoured" // the record naming it is not trusted
	previousWaiting     = "waiting"      // revocationMustWait said so
	previousNotCurrent  = "not_current"  // the new version is not AWSCURRENT (yet)
	previousFailed      = "failed"
)

// breakGlassRequest is a rotate event's revoke_previous and
// revoke_prefixes.
type breakGlassRequest struct {
	revokePrevious bool
	// prefixes as sent, each once, in their order.
	prefixes []string
}

// decodeBreakGlass reads a rotate event's revoke_previous ("now") and
// revoke_prefixes (1 to maxRevokePrefixes strings); nil when it has
// neither. Its errors name the field, never a value: a token may be in it.
func decodeBreakGlass(fields map[string]json.RawMessage) (*breakGlassRequest, error) {
	rawPrevious, hasPrevious := fields["revoke_previous"]
	rawPrefixes, hasPrefixes := fields["revoke_prefixes"]
	if !hasPrevious && !hasPrefixes {
		return nil, nil
	}
	req := &breakGlassRequest{}
	if hasPrevious {
		var when string
		if json.Unmarshal(rawPrevious, &when) != nil || when != "now" {
			return nil, errors.New(`rotate event: field revoke_previous must be "now" (revoke the replaced token as soon as the new one is current); leave it out to keep the grace period; nothing was done`)
		}
		req.revokePrevious = true
	}
	if !hasPrefixes {
		return req, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(rawPrefixes, &list); err != nil || isNull(rawPrefixes) {
		return nil, errors.New("rotate event: field revoke_prefixes must be a list of strings, each a token's prefix (its first 12 characters); nothing was done")
	}
	switch {
	case len(list) == 0:
		return nil, errors.New("rotate event: field revoke_prefixes is empty: name at least one token prefix, or leave the field out; nothing was done")
	case len(list) > maxRevokePrefixes:
		return nil, fmt.Errorf("rotate event: field revoke_prefixes names %d tokens, more than the %d one request may revoke; nothing was done", len(list), maxRevokePrefixes)
	}
	for i, raw := range list {
		var prefix string
		if json.Unmarshal(raw, &prefix) != nil || isNull(raw) {
			return nil, fmt.Errorf("rotate event: revoke_prefixes[%d] must be a string (a token's prefix); nothing was done", i)
		}
		if !slices.Contains(req.prefixes, prefix) {
			req.prefixes = append(req.prefixes, prefix)
		}
	}
	return req, nil
}

// isNull says whether raw is JSON's null, which decodes into anything
// without an error.
func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// breakGlassReport is what a break-glass request did, in the rotate
// action's result: exactly which tokens it revoked, and why anything it
// was asked to revoke is still live.
type breakGlassReport struct {
	// Revoked are the prefixes of the tokens this request revoked, all of
	// them, and only them.
	Revoked  []string                   `json:"revoked"`
	Rotation string                     `json:"rotation"`
	Previous *previousTokenReport       `json:"previous_token,omitempty"`
	Prefixes []rotation.NamedRevocation `json:"revoke_prefixes,omitempty"`
	// DeadlineReached: the invocation's deadline came before the new
	// version was AWSCURRENT; the rotation goes on without this request.
	DeadlineReached bool `json:"deadline_reached,omitempty"`
}

// previousTokenReport is what became of the previous token, and who used
// it last: Straggler when after its replacement was made.
type previousTokenReport struct {
	Prefix    string            `json:"prefix,omitempty"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	LastUse   *rotation.LastUse `json:"last_use,omitempty"`
	Straggler bool              `json:"straggler,omitempty"`
}

// breakGlass runs a break-glass request for d, a secret this function
// (self) owns with rotation enabled: it starts a rotation (or adopts the
// one in progress, or finishes a break-glass rotation that completed
// within breakGlassRepeatWindow), revokes the named prefixes the rules
// allow, and with revoke_previous waits for the new version to become
// AWSCURRENT and revokes the token it replaced. Once a rotation is started
// it returns a report, never an error: what it changed must reach the
// caller. Loud: an error-level line and the BreakGlassRevocations metric.
// Run twice, the second finishes what the first could not (within the
// window), and revokes nothing the first revoked.
func (f *Fleet) breakGlass(ctx context.Context, d secretsmanager.Listed, req *breakGlassRequest, self string) (*rotateReport, error) {
	rep := &rotateReport{Action: actionRotate, SecretID: d.ARN, Name: d.Name}
	bg := &breakGlassReport{Revoked: []string{}}
	rep.BreakGlass = bg

	version, err := f.breakGlassRotation(ctx, d, req, rep)
	if err != nil {
		return nil, err
	}
	if len(req.prefixes) > 0 {
		// First: the leaked tokens need no promotion to go, and the rules
		// keep whatever the rotation under way holds or makes.
		bg.Prefixes = f.revokeNamed(ctx, d, self, req.prefixes)
		for _, n := range bg.Prefixes {
			if n.Outcome == rotation.NamedRevoked {
				bg.Revoked = append(bg.Revoked, n.Prefix)
			}
		}
	}
	if req.revokePrevious {
		bg.Previous = f.revokePreviousOf(ctx, d.ARN, version, bg)
		if bg.Previous.Outcome == previousRevoked {
			bg.Revoked = append(bg.Revoked, bg.Previous.Prefix)
			for i, n := range bg.Prefixes {
				if n.Prefix == bg.Previous.Prefix && n.Outcome == rotation.NamedRefused {
					bg.Prefixes[i] = rotation.NamedRevocation{Prefix: n.Prefix, Outcome: rotation.NamedRevoked,
						Reason: "this secret's previous token, revoked by revoke_previous once the new token was current"}
				}
			}
		}
	}
	rep.Message = breakGlassMessage(rep)
	f.reportBreakGlass(ctx, rep, self)
	return rep, nil
}

// breakGlassRotation finds or starts the rotation whose previous token the
// request revokes, and records it in rep: the one in progress (adopted);
// with revoke_previous, the break-glass rotation completed within
// breakGlassRepeatWindow (finishing); else a new one, whose version id
// says a break-glass request started it. Its error means nothing was
// started (a rotation that started all the same shows as pending with
// that id, and is adopted).
func (f *Fleet) breakGlassRotation(ctx context.Context, d secretsmanager.Listed, req *breakGlassRequest, rep *rotateReport) (string, error) {
	bg := rep.BreakGlass
	if pending := secretsmanager.PendingVersion(d.Versions); pending != "" {
		rep.VersionID, bg.Rotation = pending, breakGlassAdopted
		return pending, nil
	}
	current := secretsmanager.CurrentVersion(d.Versions)
	if req.revokePrevious && !d.LastRotated.IsZero() && f.r.Now().Sub(d.LastRotated) < breakGlassRepeatWindow {
		// Only the version that made the current token, unedited since:
		// otherwise a new rotation is the safe answer.
		if made := f.currentMadeBy(ctx, d.ARN); made == current && rotation.IsBreakGlassVersion(made) {
			rep.VersionID, bg.Rotation = current, breakGlassFinishing
			return current, nil
		}
	}
	version, err := rotation.NewBreakGlassVersion()
	if err != nil {
		return "", err
	}
	started, err := f.store.StartRotationAs(ctx, d.ARN, version)
	if err != nil {
		// A rotation that started meanwhile (another request, the sweep), or
		// this one, started by an attempt whose answer was lost.
		again, derr := f.store.DescribeRotation(ctx, d.ARN)
		pending := secretsmanager.PendingVersion(again.Versions)
		if derr != nil || pending == "" || (!errors.Is(err, secretsmanager.ErrRotationInProgress) && pending != version) {
			return "", fmt.Errorf("start a rotation of %s: %w", d.ARN, err)
		}
		rep.VersionID, bg.Rotation, rep.Started = pending, breakGlassAdopted, pending == version
		return pending, nil
	}
	rep.VersionID, rep.Started, bg.Rotation = started, true, breakGlassStarted
	return started, nil
}

// currentMadeBy is the version whose rotation made the secret's current
// token, by its marker at Aiven; "" when it cannot be told. It only reads.
func (f *Fleet) currentMadeBy(ctx context.Context, arn string) string {
	in, err := f.inspectCurrent(ctx, arn)
	if err != nil || in.Dead != "" {
		return ""
	}
	return in.CurrentMadeBy()
}

// inspectCurrent reads the secret's AWSCURRENT value and opens its tokens
// (rotation.Inspect): its listing and the API that revokes by it. It only
// reads.
func (f *Fleet) inspectCurrent(ctx context.Context, arn string) (*rotation.Inspection, error) {
	values, failed, err := f.store.CurrentValues(ctx, []string{arn})
	switch {
	case err != nil:
		return nil, fmt.Errorf("read the current value: %w", err)
	case failed[arn] != "":
		return nil, fmt.Errorf("read the current value: %s", failed[arn])
	}
	return f.inspectValue(ctx, arn, values[arn].SecretString, "AWSCURRENT")
}

// inspectVersion reads version of the secret by its id and opens its
// tokens (rotation.Inspect). It only reads.
func (f *Fleet) inspectVersion(ctx context.Context, arn, version string) (*rotation.Inspection, error) {
	raw, err := f.store.GetValue(ctx, arn, version, "")
	if err != nil {
		return nil, fmt.Errorf("read version %s: %w", version, err)
	}
	return f.inspectValue(ctx, arn, raw, "version "+version)
}

// inspectValue parses raw, the value of the secret arn that what names,
// and opens its tokens (rotation.Inspect); its error is redacted.
func (f *Fleet) inspectValue(ctx context.Context, arn, raw, what string) (*rotation.Inspection, error) {
	v, err := rotation.ParseValue(raw, what)
	if err != nil {
		return nil, err
	}
	in, err := f.r.Inspect(ctx, arn, v)
	if err != nil {
		return nil, errors.New(in.Redact(err.Error()))
	}
	return in, nil
}

// revokeNamed revokes the named prefixes that are live tokens of d's
// principal and that no secret this function owns holds, keeps for its
// grace or may be rotating to (rotation.Protect). Every prefix gets its
// entry: revoked, or refused or failed with the reason.
func (f *Fleet) revokeNamed(ctx context.Context, d secretsmanager.Listed, self string, prefixes []string) []rotation.NamedRevocation {
	refuseAll := func(why string) []rotation.NamedRevocation { return rotation.RefuseNamed(prefixes, why) }
	in, err := f.inspectCurrent(ctx, d.ARN)
	switch {
	case err != nil:
		return refuseAll("this secret's tokens could not be listed, so no token of its principal can be told: " + scrubbed(err))
	case in.Dead != "":
		return refuseAll("Aiven refuses this secret's current token, so its principal's tokens cannot be listed: " + in.Dead)
	}
	owned, err := f.ownedValues(ctx, d, self)
	if err != nil {
		return refuseAll("the secrets this function owns could not be read, so it cannot be ruled out that one holds the token: " + scrubbed(err))
	}
	protect := f.r.Protect(owned)
	f.r.ProtectManagers(ctx, protect, owned)
	return in.RevokeNamed(ctx, prefixes, protect)
}

// ownedValues are the secrets this function (self) owns, enabled or not
// (a consumer reads a secret whatever its rotation), each with its
// AWSCURRENT value or why it could not be read; d is among them even when
// ListSecrets, which may lag by minutes, does not show it yet. It only
// reads.
func (f *Fleet) ownedValues(ctx context.Context, d secretsmanager.Listed, self string) ([]rotation.OwnedSecret, error) {
	listed, err := f.store.ListSecrets(ctx, "", func(s secretsmanager.Listed) bool { return owns(s, self) })
	if err != nil {
		return nil, fmt.Errorf("list the secrets: %w", err)
	}
	if !slices.ContainsFunc(listed, func(s secretsmanager.Listed) bool { return s.ARN == d.ARN }) {
		listed = append(listed, d)
	}
	owned := make([]rotation.OwnedSecret, 0, len(listed))
	for from := 0; from < len(listed); from += secretsmanager.MaxBatch {
		batch := listed[from:min(from+secretsmanager.MaxBatch, len(listed))]
		arns := make([]string, len(batch))
		for i, s := range batch {
			arns[i] = s.ARN
		}
		values, failed, err := f.store.CurrentValues(ctx, arns)
		if err != nil {
			return nil, fmt.Errorf("read the current values: %w", err)
		}
		for _, s := range batch {
			owned = append(owned, rotation.OwnedSecret{
				ARN: s.ARN, Value: values[s.ARN].SecretString, ReadErr: failed[s.ARN],
				LastRotated: s.LastRotated, Pending: secretsmanager.PendingVersions(s.Versions),
			})
		}
	}
	return owned, nil
}

// revokePreviousOf waits for version to become the secret's AWSCURRENT,
// then revokes the token it replaced (rotation.Inspection.RevokePreviousNow)
// when the current token was made by that version's rotation. bg records
// a deadline that came first.
func (f *Fleet) revokePreviousOf(ctx context.Context, arn, version string, bg *breakGlassReport) *previousTokenReport {
	out := &previousTokenReport{Outcome: previousNotCurrent}
	switch state, err := f.waitCurrent(ctx, arn, version); {
	case err != nil:
		out.Outcome, out.Reason = previousFailed, "waiting for version "+version+" to become AWSCURRENT: "+scrubbed(err)
		return out
	case state == waitDeadline:
		bg.DeadlineReached = true
		out.Reason = "the invocation's deadline came before version " + version + " became AWSCURRENT; the rotation goes on: invoke again with the same request within an hour of its completion to revoke the previous token, or it follows its grace"
		return out
	case state == waitEnded:
		out.Reason = "the rotation of version " + version + " ended without making it AWSCURRENT (cancelled, or abandoned by an edit); nothing was revoked: invoke again to rotate"
		return out
	}
	// By its version id: AWSCURRENT's value is the version's, which
	// DescribeSecret just showed current, and a version never changes.
	in, err := f.inspectVersion(ctx, arn, version)
	switch {
	case err != nil:
		out.Outcome, out.Reason = previousFailed, scrubbed(err)
		return out
	case in.Dead != "":
		out.Outcome, out.Reason = previousFailed, "Aiven refuses the current token: "+in.Dead
		return out
	}
	if made := in.CurrentMadeBy(); made != version {
		out.Outcome = previousNotHonoured
		out.Reason = "AWSCURRENT's token was not made by the rotation of version " + version + " (its marker names " + orNone(made) + "): an edit or another rotation came in between; nothing was revoked: invoke again"
		return out
	}
	pr, err := in.RevokePreviousNow(ctx, version)
	out.Prefix, out.LastUse, out.Straggler = pr.Prefix, pr.LastUse, pr.Straggler
	switch {
	case err != nil:
		out.Outcome, out.Reason = previousFailed, in.Redact(err.Error())
	case pr.Revoked:
		out.Outcome = previousRevoked
	case pr.Distrusted != "":
		out.Outcome, out.Reason = previousNotHonoured, pr.Distrusted+"; revoke the token it names by hand if it must go"
	case pr.Waiting != "":
		out.Outcome, out.Reason = previousWaiting, pr.Waiting+"; invoke again once it is over, or the previous token follows its grace"
	default:
		out.Outcome, out.Reason = previousNone, "Aiven lists no previous token of the current version: it is already revoked (finishSecret revokes it at once without a grace), or none was recorded"
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none of this secret's"
	}
	return s
}

// What waitCurrent found.
type waitState int

const (
	waitCurrentNow waitState = iota // the version is AWSCURRENT
	waitDeadline                    // still pending when the wait had to stop
	waitEnded                       // neither pending nor current any more
)

// waitCurrent waits, polling DescribeSecret with backoff, for version to
// carry AWSCURRENT, and stops while breakGlassAllowance of the deadline is
// left. Secrets Manager's RotateSecret only starts the rotation ("starts
// the asynchronous process of rotating the secret", AWS Secrets Manager API
// Reference, RotateSecret), and DescribeSecret is the call it names for
// the latest state of one secret (ListSecrets); "all Secrets Manager
// operations are eventually consistent", so a version not shown yet is
// waited for, and only one seen pending that lost the label has ended. It
// only reads.
func (f *Fleet) waitCurrent(ctx context.Context, arn, version string) (waitState, error) {
	deadline, hasDeadline := ctx.Deadline()
	seenPending := false
	for delay := promotionPollFirst; ; delay = min(2*delay, promotionPollMax) {
		d, err := f.store.DescribeRotation(ctx, arn)
		if err != nil {
			return 0, err
		}
		labels := d.Versions[version]
		switch {
		case slices.Contains(labels, secretsmanager.StageCurrent):
			return waitCurrentNow, nil
		case slices.Contains(labels, secretsmanager.StagePending):
			seenPending = true
		case seenPending:
			return waitEnded, nil
		}
		if hasDeadline {
			left := deadline.Sub(f.r.Now()) - breakGlassAllowance
			if left <= 0 {
				return waitDeadline, nil
			}
			delay = min(delay, left)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return waitDeadline, nil
		case <-t.C:
		}
	}
}

// breakGlassMessage sums the report up for a person.
func breakGlassMessage(rep *rotateReport) string {
	bg := rep.BreakGlass
	var msg string
	switch bg.Rotation {
	case breakGlassStarted:
		msg = "break-glass: rotation started"
	case breakGlassAdopted:
		msg = "break-glass: a rotation of this secret was in progress; this request followed it"
	case breakGlassFinishing:
		msg = "break-glass: the break-glass rotation of version " + rep.VersionID + " had completed; no new rotation was started (invoke with revoke_previous again after an hour, or without it, to rotate once more)"
	}
	msg += fmt.Sprintf("; %d token(s) revoked", len(bg.Revoked))
	if bg.DeadlineReached {
		msg += "; the deadline came before the new version was current: the previous token is still live; invoke again with the same request to revoke it"
	}
	return msg
}

// reportBreakGlass makes the request loud: one error-level line naming
// what was revoked and what was not, and the BreakGlassRevocations metric.
func (f *Fleet) reportBreakGlass(ctx context.Context, rep *rotateReport, self string) {
	bg := rep.BreakGlass
	refused := 0
	for _, n := range bg.Prefixes {
		if n.Outcome != rotation.NamedRevoked {
			refused++
		}
	}
	attrs := []any{"action", actionRotate, "secret", rep.SecretID, "version", rep.VersionID, "rotation", bg.Rotation,
		"revoked", bg.Revoked, "prefixes_not_revoked", refused, "deadline_reached", bg.DeadlineReached, "outcome", "break_glass"}
	if p := bg.Previous; p != nil {
		attrs = append(attrs, "previous_token_prefix", p.Prefix, "previous_token_outcome", p.Outcome)
		if p.LastUse != nil {
			attrs = append(attrs, "previous_token_straggler", p.Straggler, "last_used_time", p.LastUse.At.Format(time.RFC3339), "last_ip", p.LastUse.IP, "last_user_agent", p.LastUse.UserAgent)
		}
	}
	f.log.ErrorContext(ctx, "break-glass revocation", attrs...)
	if err := f.r.Metrics().BreakGlass(metrics.BreakGlass{FunctionName: functionName(self), SecretARN: rep.SecretID, Revocations: len(bg.Revoked)}); err != nil {
		f.log.WarnContext(ctx, "metrics not written", "action", actionRotate, "error", err.Error())
	}
}

// scrubbed is err's text with token shapes cut, for a report.
func scrubbed(err error) string { return scrub.String(err.Error()) }
