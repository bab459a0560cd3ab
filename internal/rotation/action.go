package rotation

// The function's own events, beside Secrets Manager's rotation steps
// (rotation.md, "Events the function accepts"; docs/fleet.md):
//
//	{"action":"sweep"}                     the fleet sweep (EventBridge Scheduler)
//	{"action":"sweep","dry_run":true}      what the sweep would do, changing nothing
//	EventBridge's "Scheduled Event"        the sweep, from an EventBridge rule
//	{"action":"rotate","secret_id":"..."}  on-demand rotation of a secret this function owns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// The actions.
const (
	ActionSweep  = "sweep"
	ActionRotate = "rotate"
)

// fleetStore is what the fleet's doors need of Secrets Manager, beside
// the rotation steps' secretStore.
type fleetStore interface {
	ListSecrets(ctx context.Context, tagKey string, keep func(secretsmanager.Listed) bool) ([]secretsmanager.Listed, error)
	CurrentValues(ctx context.Context, arns []string) (values map[string]secretsmanager.CurrentValue, failed map[string]string, err error)
	DescribeRotation(ctx context.Context, secretID string) (secretsmanager.Listed, error)
	StartRotation(ctx context.Context, secretID string) (string, error)
	VersionDates(ctx context.Context, secretID string) (map[string]time.Time, error)
	RemovePending(ctx context.Context, secretID, versionID string) error
	RestorePending(ctx context.Context, secretID, versionID string) error
}

var _ fleetStore = (*secretsmanager.Client)(nil)

// action is a decoded action event.
type action struct {
	name     string // ActionSweep or ActionRotate
	dryRun   bool
	secretID string
	// scheduled: an EventBridge rule's Scheduled Event asked for the sweep.
	scheduled bool
	// resumeFrom and chain: a follow-up sweep's cursor (sweepsched.go).
	resumeFrom string
	chain      int
}

// Serve is the Lambda handler. It recognises the event by its shape: an
// action, or EventBridge's Scheduled Event, runs here and returns a JSON
// object meant for the person or tool that invoked it; a bad action event
// fails with an error naming what is wrong, touching nothing. Anything
// else goes to Handle (a rotation step, whose result is nothing, or an
// error naming the shape). Each action is safe to repeat: a sweep does
// again what is still due, and a rotate starts another rotation, or finds
// the first still in progress.
func (r *Rotator) Serve(ctx context.Context, event json.RawMessage) (any, error) {
	out, err := r.serve(ctx, event)
	return out, LambdaError(err)
}

func (r *Rotator) serve(ctx context.Context, event json.RawMessage) (any, error) {
	act, recognised, err := decodeAction(event)
	if !recognised {
		return nil, r.Handle(ctx, event)
	}
	if err != nil {
		err = typed(KindEventRejected, err)
		r.log.ErrorContext(ctx, "event rejected", "outcome", "rejected", "error_type", kindOfError(err), "error", err.Error())
		return nil, err
	}
	ctx, cancel, err := r.bound(ctx)
	if err != nil {
		err = typed(KindConfig, fmt.Errorf("%s: %w", act.name, err))
		r.log.ErrorContext(ctx, "action failed", "action", act.name, "outcome", "failed", "error_type", kindOfError(err), "error", err.Error())
		return nil, err
	}
	defer cancel()
	var out any
	switch act.name {
	case ActionSweep:
		var rep *sweepReport
		rep, err = r.sweep(ctx, sweepRequest{dryRun: act.dryRun, resumeFrom: act.resumeFrom, chain: act.chain})
		out = rep
	default:
		var rep *rotateReport
		rep, err = r.rotateOnDemand(ctx, act.secretID)
		out = rep
	}
	if err != nil {
		err = typed(classify(err), fmt.Errorf("%s: %w", act.name, err))
		r.log.ErrorContext(ctx, "action failed", "action", act.name, "secret", act.secretID, "outcome", "failed", "error_type", kindOfError(err), "error", err.Error())
		return nil, err
	}
	// The result obeys the rule log lines obey (I4), whatever field a
	// value written by someone else reached.
	clean, err := scrub.Result(out)
	if err != nil {
		err = typed(KindRotation, fmt.Errorf("%s: write the result: %w", act.name, err))
		r.log.ErrorContext(ctx, "action failed", "action", act.name, "outcome", "failed", "error_type", kindOfError(err), "error", err.Error())
		return nil, err
	}
	return clean, nil
}

// decodeAction recognises an action event or EventBridge's Scheduled
// Event. recognised is false for anything else (a rotation event, another
// EventBridge event, not an object), which Handle names. For an action
// with unknown fields, a field of the wrong type, a missing secret_id or
// an unknown action, err names the field or the action; values other than
// the action's name are never quoted.
func decodeAction(raw json.RawMessage) (act action, recognised bool, err error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(raw), &fields) != nil || fields == nil {
		return act, false, nil
	}
	if _, ok := fields["Step"]; ok {
		return act, false, nil
	}
	if dt, ok := fields["detail-type"]; ok {
		var detailType, source string
		_ = json.Unmarshal(dt, &detailType)
		_ = json.Unmarshal(fields["source"], &source)
		if detailType == "Scheduled Event" && source == "aws.events" {
			return action{name: ActionSweep, scheduled: true}, true, nil
		}
		return act, false, nil
	}
	rawName, ok := fields["action"]
	if !ok {
		return act, false, nil
	}
	if err := json.Unmarshal(rawName, &act.name); err != nil {
		return act, true, errors.New(`action event: field action must be a string: "sweep" or "rotate"`)
	}
	var allowed []string
	switch act.name {
	case ActionSweep:
		allowed = []string{"action", "dry_run", "resume_from", "chain"}
	case ActionRotate:
		allowed = []string{"action", "secret_id"}
	default:
		return act, true, fmt.Errorf(`unknown action %q: expected "sweep" (optionally with "dry_run": true) or "rotate" (with "secret_id"); nothing was done`, clip(act.name, 40))
	}
	var unknown []string
	for k := range fields {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, clip(k, 40))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		if len(unknown) > 10 {
			unknown = append(unknown[:10], "...")
		}
		return act, true, fmt.Errorf("%s event: unknown field(s) [%s]; a %s event takes only [%s]; nothing was done", act.name, strings.Join(unknown, ", "), act.name, strings.Join(allowed, ", "))
	}
	if dup, ok := repeatedKey(raw); ok {
		// json keeps the last of two equal keys: {"dry_run":true,"dry_run":false}
		// would run a real sweep. Which one was meant is not ours to guess.
		return act, true, fmt.Errorf("%s event: field %q appears more than once; nothing was done", act.name, clip(dup, 40))
	}
	if v, ok := fields["dry_run"]; ok {
		if err := json.Unmarshal(v, &act.dryRun); err != nil || string(bytes.TrimSpace(v)) == "null" {
			return act, true, errors.New("sweep event: field dry_run must be a boolean (true or false); nothing was done")
		}
	}
	if err := decodeCursor(fields, &act); err != nil {
		return act, true, err
	}
	if act.name == ActionRotate {
		v, ok := fields["secret_id"]
		if !ok {
			return act, true, errors.New("rotate event: secret_id is missing: name the secret to rotate by its name or ARN; nothing was done")
		}
		if err := json.Unmarshal(v, &act.secretID); err != nil {
			return act, true, errors.New("rotate event: field secret_id must be a string (the secret's name or ARN); nothing was done")
		}
		if strings.TrimSpace(act.secretID) == "" {
			return act, true, errors.New("rotate event: secret_id is empty: name the secret to rotate by its name or ARN; nothing was done")
		}
		if len(act.secretID) > 2048 {
			return act, true, errors.New("rotate event: secret_id is longer than the 2048 characters of a secret ARN; nothing was done")
		}
		// It becomes DescribeSecret's SecretId, which CloudTrail records:
		// a token pasted here by mistake is refused before it is sent.
		if len(secret.TokenSpans(act.secretID)) > 0 {
			return act, true, errors.New("rotate event: field secret_id looks like an Aiven token, not a secret's name or ARN; nothing was done, and nothing was sent with it")
		}
	}
	return act, true, nil
}

// repeatedKey is a member name that the JSON object raw holds more than
// once, at its top level. raw is known to be a valid object.
func repeatedKey(raw json.RawMessage) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		key, _ := t.(string)
		if seen[key] {
			return key, true
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

// fleet is the Secrets Manager client as the fleet's doors need it.
func (r *Rotator) fleet() (fleetStore, error) {
	fs, ok := r.store.(fleetStore)
	if !ok {
		return nil, errors.New("this rotator's Secrets Manager client cannot list or rotate secrets")
	}
	return fs, nil
}

// selfARN is the unqualified ARN of the function being invoked, from the
// invocation's context (an alias or version suffix removed).
func selfARN(ctx context.Context) (string, error) {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.InvokedFunctionArn == "" {
		return "", withKind(KindConfig, errors.New("the invocation does not say which function it invoked (no InvokedFunctionArn), so the secrets this function owns cannot be told apart"))
	}
	return unqualified(lc.InvokedFunctionArn), nil
}

// unqualified drops a Lambda ARN's ":alias" or ":version".
func unqualified(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) > 7 {
		return strings.Join(parts[:7], ":")
	}
	return arn
}

// functionName is the name in a Lambda function's ARN.
func functionName(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) >= 7 {
		return parts[6]
	}
	return arn
}

// owns says whether the secret names this function as its rotator.
func owns(s secretsmanager.Listed, self string) bool {
	return s.RotationLambdaARN != "" && unqualified(s.RotationLambdaARN) == self
}

// rotateReport is the result of {"action":"rotate"}.
type rotateReport struct {
	Action    string `json:"action"`
	SecretID  string `json:"secret_id"`
	Name      string `json:"name,omitempty"`
	VersionID string `json:"version_id,omitempty"`
	Started   bool   `json:"started"`
	Message   string `json:"message"`
}

// rotateOnDemand starts a rotation of a secret this function owns
// (rotation.md, "On-demand rotation"): DescribeSecret, then RotateSecret
// with nothing changed. A secret it does not own is an error, and nothing
// is called after the DescribeSecret. Called twice, it starts a second
// rotation, or reports the first still in progress (Secrets Manager then
// reattempts that one).
func (r *Rotator) rotateOnDemand(ctx context.Context, secretID string) (*rotateReport, error) {
	self, err := selfARN(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := r.fleet()
	if err != nil {
		return nil, err
	}
	d, err := fs.DescribeRotation(ctx, secretID)
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			switch apiErr.ErrorCode() {
			case "ResourceNotFoundException":
				return nil, withKind(KindEventRejected, fmt.Errorf("secret %s does not exist (or is scheduled for deletion); nothing was done", clip(secretID, 2048)))
			case "AccessDeniedException":
				return nil, withKind(KindEventRejected, fmt.Errorf("secret %s: access denied: this function may only read secrets whose rotation function is this one; nothing was done: %w", clip(secretID, 2048), err))
			}
		}
		return nil, fmt.Errorf("describe secret %s: %w", clip(secretID, 2048), err)
	}
	if !owns(d, self) {
		owner := d.RotationLambdaARN
		if owner == "" {
			owner = "none"
		}
		return nil, withKind(KindEventRejected, fmt.Errorf("secret %s is not rotated by this function (%s; its rotation function: %s); nothing was done. Onboard it with aws secretsmanager rotate-secret --rotation-lambda-arn first", d.ARN, self, owner))
	}
	if !d.RotationEnabled {
		return nil, withKind(KindNotRotationEnabled, fmt.Errorf("secret %s is not enabled for rotation; nothing was done", d.ARN))
	}
	rep := &rotateReport{Action: ActionRotate, SecretID: d.ARN, Name: d.Name}
	version, err := fs.StartRotation(ctx, d.ARN)
	switch {
	case errors.Is(err, secretsmanager.ErrRotationInProgress):
		rep.VersionID = pendingVersion(d.Versions)
		rep.Message = "a rotation of this secret is already in progress; Secrets Manager reattempts it"
		r.log.InfoContext(ctx, "rotation in progress", "action", ActionRotate, "secret", d.ARN, "version", rep.VersionID, "outcome", "in_progress")
		return rep, nil
	case err != nil:
		return nil, fmt.Errorf("start a rotation of %s: %w", d.ARN, err)
	}
	rep.VersionID, rep.Started = version, true
	rep.Message = "rotation started; Secrets Manager runs its four steps in the background"
	r.log.InfoContext(ctx, "rotation started", "action", ActionRotate, "secret", d.ARN, "version", version, "outcome", "started")
	return rep, nil
}

// pendingVersion is a version carrying AWSPENDING but not AWSCURRENT (a
// rotation in progress), or "".
func pendingVersion(versions map[string][]string) string {
	for id, stages := range versions {
		if slices.Contains(stages, secretsmanager.StagePending) && !slices.Contains(stages, secretsmanager.StageCurrent) {
			return id
		}
	}
	return ""
}

// decodeCursor reads a follow-up sweep's resume_from (a secret ARN) and
// chain (1 to maxSweepChain), both or neither. Anyone allowed to invoke
// the function may send them: they only choose where a sweep starts.
func decodeCursor(fields map[string]json.RawMessage, act *action) error {
	rawFrom, hasFrom := fields["resume_from"]
	rawChain, hasChain := fields["chain"]
	if !hasFrom && !hasChain {
		return nil
	}
	if hasFrom != hasChain {
		return errors.New("sweep event: resume_from and chain go together (a follow-up sweep's cursor); nothing was done")
	}
	if err := json.Unmarshal(rawFrom, &act.resumeFrom); err != nil || !strings.HasPrefix(act.resumeFrom, "arn:") ||
		!strings.Contains(act.resumeFrom, ":secret:") || secret.CheckSecretID("resume_from", act.resumeFrom) != nil {
		return errors.New("sweep event: field resume_from must be a secret's ARN; nothing was done")
	}
	if err := json.Unmarshal(rawChain, &act.chain); err != nil || act.chain < 1 || act.chain > maxSweepChain {
		return fmt.Errorf("sweep event: field chain must be a whole number from 1 to %d; nothing was done", maxSweepChain)
	}
	return nil
}
