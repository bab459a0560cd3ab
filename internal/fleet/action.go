package fleet

// The function's own events, beside Secrets Manager's rotation steps
// (docs/rotation.md, "Events the function accepts"; docs/fleet.md):
//
//	{"action":"sweep"}                     the fleet sweep (EventBridge Scheduler)
//	{"action":"sweep","dry_run":true}      what the sweep would do, changing nothing
//	EventBridge's "Scheduled Event"        the sweep, from an EventBridge rule
//	{"action":"rotate","secret_id":"..."}  on-demand rotation of a secret this function owns
//	  ...,"revoke_previous":"now"           break-glass: the replaced token dies once the new one is current
//	  ...,"revoke_prefixes":["..."]         break-glass: named tokens of the secret's principal die too

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// The actions.
const (
	actionSweep  = "sweep"
	actionRotate = "rotate"
)

// action is a decoded action event.
type action struct {
	name     string // actionSweep or actionRotate
	dryRun   bool
	secretID string
	// scheduled: an EventBridge rule's Scheduled Event asked for the sweep.
	scheduled bool
	// resumeFrom and chain: a follow-up sweep's cursor (sweepsched.go).
	resumeFrom string
	chain      int
	// breakGlass: a rotate event's revoke_previous or revoke_prefixes
	// (breakglass.go); nil for a plain rotate.
	breakGlass *breakGlassRequest
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
			return action{name: actionSweep, scheduled: true}, true, nil
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
	case actionSweep:
		allowed = []string{"action", "dry_run", "resume_from", "chain"}
	case actionRotate:
		allowed = []string{"action", "secret_id", "revoke_previous", "revoke_prefixes"}
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
	if act.name == actionRotate {
		if act.secretID, err = decodeSecretID(fields); err != nil {
			return act, true, err
		}
		if act.breakGlass, err = decodeBreakGlass(fields); err != nil {
			return act, true, err
		}
	}
	return act, true, nil
}

// decodeSecretID reads a rotate event's secret_id: a secret's name or
// ARN. It becomes DescribeSecret's SecretId, which CloudTrail records: a
// token pasted here by mistake is refused before it is sent.
func decodeSecretID(fields map[string]json.RawMessage) (string, error) {
	v, ok := fields["secret_id"]
	if !ok {
		return "", errors.New("rotate event: secret_id is missing: name the secret to rotate by its name or ARN; nothing was done")
	}
	var id string
	if err := json.Unmarshal(v, &id); err != nil {
		return "", errors.New("rotate event: field secret_id must be a string (the secret's name or ARN); nothing was done")
	}
	switch {
	case strings.TrimSpace(id) == "":
		return "", errors.New("rotate event: secret_id is empty: name the secret to rotate by its name or ARN; nothing was done")
	case len(id) > 2048:
		return "", errors.New("rotate event: secret_id is longer than the 2048 characters of a secret ARN; nothing was done")
	case len(secret.TokenSpans(id)) > 0:
		return "", errors.New("rotate event: field secret_id looks like an Aiven token, not a secret's name or ARN; nothing was done, and nothing was sent with it")
	}
	return id, nil
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

// selfARN is the unqualified ARN of the function being invoked, from the
// invocation's context (an alias or version suffix removed).
func selfARN(ctx context.Context) (string, error) {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.InvokedFunctionArn == "" {
		return "", rotation.WithKind(rotation.KindConfig, errors.New("the invocation does not say which function it invoked (no InvokedFunctionArn), so the secrets this function owns cannot be told apart"))
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

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
