package rotation

import (
	"errors"
	"fmt"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
)

// whose says whose token Aiven answered about, for explainAiven.
type whose int

const (
	currentToken whose = iota
	pendingToken
	newToken
)

// operation names what a call does, for a 403's missing permission.
var operations = map[string]string{
	"me":     "read its own user profile (GET /v1/me)",
	"list":   "list its user's access tokens (GET /v1/access_token)",
	"create": "create access tokens for its user (POST /v1/access_token)",
	"revoke": "revoke its user's access tokens (DELETE /v1/access_token/{prefix})",
}

// explainAiven turns the Aiven errors a user must act on into messages
// that say what to do. Aiven's own message is kept: go-client-codegen
// copies a non-JSON error body verbatim into its error, but the Aiven
// client's response guard (internal/aiven, guard.go) lets it see only
// parsed Aiven error JSON, its message clipped and scrubbed.
func explainAiven(err error, who whose, op string) error {
	var done *explainedError
	switch {
	case errors.As(err, &done):
		return err // explained where it happened (application.go)
	case aiven.IsForbidden(err) && who == currentToken && op == "create":
		return fmt.Errorf("the Aiven API refused (403): the token lacks the permission to %s; if the token is restricted by scopes, allow that operation; if it is an application user's token, which cannot create personal tokens, set \"kind\": \"application\" with organization_id, application_user_id and manager_secret_id (docs/application-tokens.md): %w", operations[op], err)
	case aiven.IsUnauthorized(err) && who == currentToken:
		return fmt.Errorf("the Aiven API rejected the current token (401): it was revoked, has expired, or was invalidated by an organisation authentication policy or a password or 2FA change; re-seed the secret with a valid token (a plain token string is enough) and rotate again: %w", err)
	case aiven.IsUnauthorized(err) && who == pendingToken:
		return fmt.Errorf("the Aiven API rejected the pending token (401): it was revoked or invalidated after createSecret stored it; the rotation cannot complete with it: remove the AWSPENDING label from this version (aws secretsmanager update-secret-version-stage --version-stage AWSPENDING --remove-from-version-id <version>) and rotate again: %w", err)
	case aiven.IsUnauthorized(err):
		return fmt.Errorf("the Aiven API rejected the new token (401): it was revoked or invalidated since it was created: %w", err)
	case aiven.IsForbidden(err):
		return fmt.Errorf("the Aiven API refused (403): the token lacks the permission to %s; if the token is restricted by scopes, allow that operation: %w", operations[op], err)
	}
	return err
}

// explainedError is an Aiven error already turned into a message that
// says what to do; explainAiven leaves it as it is. The chain is kept, so
// that classification still sees the status.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *explainedError) Unwrap() error { return e.err }
