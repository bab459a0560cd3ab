package secret

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
)

// The grace-period fields of a value (docs/fleet.md, "The grace record: a
// value field"). They live among the fields Value does not type, so
// that Parse and Marshal keep their layout; the methods below read and
// write them.
const (
	// FieldPreviousTokenGrace and FieldRotateBeforeExpiry are the user's:
	// Go durations overriding PREVIOUS_TOKEN_GRACE and ROTATE_BEFORE_EXPIRY
	// for this secret, carried over into every new version.
	FieldPreviousTokenGrace = "previous_token_grace"
	FieldRotateBeforeExpiry = "rotate_before_expiry"
	// FieldPreviousTokenIdle and FieldPreviousTokenMaxGrace are the
	// user's too: how recent a use keeps the previous token past its grace
	// (PREVIOUS_TOKEN_IDLE), and the hard limit (PREVIOUS_TOKEN_MAX_GRACE);
	// each may only shorten the stack's.
	FieldPreviousTokenIdle     = "previous_token_idle"
	FieldPreviousTokenMaxGrace = "previous_token_max_grace"
	// fieldRevokeAfter is the rotator's: the instant (RFC 3339 UTC) from
	// which the token named by previous_token_prefix may be revoked,
	// written by createSecret when the grace is above zero. It is the
	// durable record of a pending revocation, in the same version as the
	// token it concerns; never carried over by Next (WithRevokeAfter
	// decides it for each new version).
	fieldRevokeAfter = "previous_token_revoke_after"
)

// Duration reads one of the value's Go-duration fields (field is
// FieldPreviousTokenGrace or FieldRotateBeforeExpiry). set is false when
// the field is absent or null. A value that is not a string holding a
// duration of at least min and at most max (max 0: no upper bound) is a
// *FieldError naming the field, never quoting the value.
func (v *Value) Duration(field string, min, max time.Duration) (d time.Duration, set bool, err error) {
	raw, ok := v.unknown[field]
	if !ok || isNull(raw) {
		return 0, false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, false, &FieldError{Field: field, Reason: "must be a string holding a Go duration such as 24h or 90m"}
	}
	d, err = time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, false, &FieldError{Field: field, Reason: "is not a Go duration such as 24h or 90m"}
	}
	if d < min || (max > 0 && d > max) {
		bounds := fmt.Sprintf("at least %s", min)
		if max > 0 {
			bounds = fmt.Sprintf("from %s to %s", min, max)
		}
		return 0, false, &FieldError{Field: field, Reason: "must be " + bounds}
	}
	return d, true, nil
}

// RevokeAfter reads fieldRevokeAfter: set is false when the value records
// no pending revocation. A malformed record is a *FieldError.
func (v *Value) RevokeAfter() (at time.Time, set bool, err error) {
	raw, ok := v.unknown[fieldRevokeAfter]
	if !ok || isNull(raw) {
		return time.Time{}, false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, false, &FieldError{Field: fieldRevokeAfter, Reason: "must be an RFC 3339 time string"}
	}
	at, err = time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false, &FieldError{Field: fieldRevokeAfter, Reason: "is not an RFC 3339 time"}
	}
	return at, true, nil
}

// WithRevokeAfter is v with fieldRevokeAfter set to at (whole seconds,
// UTC), or removed when at is zero. It does not change v: a value Next
// made shares its fields with the version it replaces.
func (v *Value) WithRevokeAfter(at time.Time) *Value {
	n := *v
	n.unknown = maps.Clone(v.unknown)
	if n.unknown == nil {
		n.unknown = map[string]json.RawMessage{}
	}
	delete(n.unknown, fieldRevokeAfter)
	if !at.IsZero() {
		n.unknown[fieldRevokeAfter] = mustJSON(at.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	return &n
}
