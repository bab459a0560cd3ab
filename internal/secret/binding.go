package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// FieldApplicationTokens is the manager secret's field that binds each
// application user to the secrets that may hold its tokens
// (docs/application-tokens.md, "The binding").
const FieldApplicationTokens = "application_tokens"

// Binding is one entry of a manager secret's application_tokens: the
// application user OrganizationID/ApplicationUserID, whose tokens the
// manager's token may create and revoke only for the secrets listed (each a
// secret's name or full ARN). Only the manager secret's owner writes it: an
// application secret's own fields never widen it.
type Binding struct {
	OrganizationID    string   `json:"organization_id"`
	ApplicationUserID string   `json:"application_user_id"`
	Secrets           []string `json:"secrets"`
	// MaxAgeSeconds, Scopes and IPAllowlist, when set, are the most a
	// token the function makes for this user may be granted where Aiven
	// lists no token to take them from (a healed token): the application
	// secret's value may narrow them, never widen them.
	MaxAgeSeconds *float64 `json:"max_age_seconds,omitempty"`
	Scopes        []string `json:"scopes,omitempty"`
	IPAllowlist   []string `json:"ip_allowlist,omitempty"`
	// ExtendWhenUsed: whether such a token may extend its expiry at every
	// use; with MaxAgeSeconds set and this absent, it may not (an
	// extending token outlives any maximum age).
	ExtendWhenUsed *bool `json:"extend_when_used,omitempty"`
}

// Bindings reads v's application_tokens: nil when the field is absent. A
// malformed field is a *FieldError naming it; it never quotes a value.
func (v *Value) Bindings() ([]Binding, error) {
	raw, ok := v.unknown[FieldApplicationTokens]
	if !ok || isNull(raw) {
		return nil, nil
	}
	bad := func(reason string) error {
		return &FieldError{Field: FieldApplicationTokens, Reason: reason}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var out []Binding
	if err := dec.Decode(&out); err != nil {
		return nil, bad(`must be an array of {"organization_id": "...", "application_user_id": "...", "secrets": ["<secret name or ARN>", ...]}`)
	}
	for i, b := range out {
		switch {
		case b.OrganizationID == "" || b.ApplicationUserID == "":
			return nil, bad(fmt.Sprintf("entry %d must name organization_id and application_user_id", i+1))
		case len(b.Secrets) == 0:
			return nil, bad(fmt.Sprintf("entry %d must list the secrets (names or ARNs) that may hold the application user's tokens", i+1))
		}
	}
	return out, nil
}

// Binds is the entry of bindings that lets secret (its ARN; name is the
// name Secrets Manager gives it) hold the tokens of application user
// userID of organization orgID, or nil. Names and ARNs compare exactly.
func Binds(bindings []Binding, orgID, userID, secretARN, name string) *Binding {
	for i, b := range bindings {
		if b.OrganizationID != orgID || b.ApplicationUserID != userID {
			continue
		}
		for _, s := range b.Secrets {
			if s != "" && (s == secretARN || s == name) {
				return &bindings[i]
			}
		}
	}
	return nil
}

// NameFromARN is the name of the secret whose full ARN is arn: the part
// after ":secret:" less the hyphen and six random characters Secrets
// Manager appends ("Secrets Manager automatically adds a hyphen and six
// random characters after the secret name at the end of the ARN",
// CreateSecret's Name, AWS Secrets Manager API Reference). "" when arn
// has not that shape.
func NameFromARN(arn string) string {
	i := strings.LastIndex(arn, ":secret:")
	if i < 0 {
		return ""
	}
	rest := arn[i+len(":secret:"):]
	if len(rest) < 8 || rest[len(rest)-7] != '-' {
		return ""
	}
	return rest[:len(rest)-7]
}
