package secret

import (
	"fmt"
	"strings"
)

// The identifiers of an application secret are written by whoever may
// write the secret's value, whom the function does not trust: they go
// into Aiven URL paths (organization_id, application_user_id) and into a
// Secrets Manager SecretId (manager_secret_id), which CloudTrail records.
// So each is checked against a conservative shape before any call, and
// the errors name the field, never the value.

// maxAivenIDLength bounds an Aiven identifier. Aiven's published OpenAPI
// types organization_id and user_id as bare "string" (no pattern, no
// length), so this bound and the alphabet below are inferred, not
// published: Aiven's ids are short runs of letters and digits
// ("org1a2b3c4d5e6", application users "u2a000003", "u1abc2345678" in
// Aiven's "Get resource IDs" page), and "-" and "_" are allowed beside
// them for margin. Nothing in that alphabet needs escaping in a URL path,
// and it holds neither "/", "." (a ".." segment), "?", "#" nor "%".
const maxAivenIDLength = 64

// Secrets Manager's own limits (CreateSecret, DescribeSecret): a name is
// 1 to 512 characters of letters, digits and /_+=.@-; a SecretId (a name,
// or a whole or partial ARN) is at most 2048.
const (
	maxSecretNameLength = 512
	maxSecretIDLength   = 2048
)

// CheckAivenID says why id, the value of field, is not the shape of an
// Aiven identifier (1 to maxAivenIDLength letters, digits, "-" or "_");
// nil when it is. The error names the field, never the value.
func CheckAivenID(field, id string) *FieldError {
	if id == "" {
		return &FieldError{Field: field, Reason: "must not be empty"}
	}
	if len(id) > maxAivenIDLength {
		return &FieldError{Field: field, Reason: fmt.Sprintf("is %d characters long; an Aiven id is at most %d", len(id), maxAivenIDLength)}
	}
	for i := 0; i < len(id); i++ {
		if !isIDChar(id[i]) {
			return &FieldError{Field: field, Reason: fmt.Sprintf("may hold only letters, digits, '-' and '_', as Aiven ids do (\"org1a2b3c4d5e6\", \"u2a000003\"); character %d of %d is not one", i+1, len(id))}
		}
	}
	return nil
}

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// CheckSecretID says why id, the value of field, cannot be sent to
// Secrets Manager as a SecretId; nil when it can. It must be a secret
// name as AWS allows them (1 to 512 letters, digits and /_+=.@-) or an
// ARN ("arn:" then the same alphabet and ":", at most 2048 characters),
// and must hold nothing shaped like an Aiven token (TokenSpans, the rule
// every log line is scrubbed by): a token pasted into the field would
// otherwise travel to Secrets Manager, and into CloudTrail. A name AWS
// allows but the scrubber would cut from every log line (a run of 32 or
// more base64 characters mixing cases and digits, or of 72 or more,
// unbroken by "-", ".", "_", "@" or ":") is refused too. The error names
// the field, never the value.
func CheckSecretID(field, id string) *FieldError {
	if id == "" {
		return &FieldError{Field: field, Reason: "must not be empty"}
	}
	arn := strings.HasPrefix(id, "arn:")
	limit := maxSecretNameLength
	if arn {
		limit = maxSecretIDLength
	}
	if len(id) > limit {
		return &FieldError{Field: field, Reason: fmt.Sprintf("is %d characters long, over the %d of a secret name (or the %d of an ARN)", len(id), maxSecretNameLength, maxSecretIDLength)}
	}
	// Token shapes first: a pasted token must be called one, whatever
	// else is wrong with it.
	if spans := TokenSpans(id); len(spans) > 0 {
		return &FieldError{Field: field, Reason: "looks like an Aiven token, not a secret's name or ARN: name the manager secret (aiven/manager-token, say) and keep the token in that secret; nothing was sent with it"}
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isSecretNameChar(c) && (c != ':' || !arn) {
			return &FieldError{Field: field, Reason: fmt.Sprintf("must be a secret's name (letters, digits and /_+=.@-) or its ARN; character %d of %d is not allowed", i+1, len(id))}
		}
	}
	return nil
}

func isSecretNameChar(c byte) bool {
	return isIDChar(c) || c == '/' || c == '+' || c == '=' || c == '.' || c == '@'
}

// CheckApplicationIDs checks the identifiers of an application secret
// that are present: organization_id and application_user_id by
// CheckAivenID, manager_secret_id by CheckSecretID. Whether they are
// present at all is the caller's check.
func (v *Value) CheckApplicationIDs() error {
	if v.OrganizationID != "" {
		if err := CheckAivenID("organization_id", v.OrganizationID); err != nil {
			return err
		}
	}
	if v.ApplicationUserID != "" {
		if err := CheckAivenID("application_user_id", v.ApplicationUserID); err != nil {
			return err
		}
	}
	if v.ManagerSecretID != "" {
		if err := CheckSecretID("manager_secret_id", v.ManagerSecretID); err != nil {
			return err
		}
	}
	return nil
}
