// Package secret is the rotator's secret value: parsing a SecretString
// (JSON object or bootstrap plain-string token), validating it, and writing
// it back with every field the rotator does not know preserved byte for byte.
package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// maxSize is the largest SecretString Secrets Manager stores (64 KiB), and
// so the largest value Parse accepts and Marshal produces.
const maxSize = 64 * 1024

// Token kinds.
const (
	KindPersonal    = "personal"
	KindApplication = "application"
)

// FieldError says which field of a secret value is wrong and why. It never
// holds the field's value.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "secret value: " + e.Reason
	}
	return fmt.Sprintf("secret value: field %q: %s", e.Field, e.Reason)
}

// Value is a parsed secret value. Optional settings are pointers: nil means
// the field is absent, so the rotator carries over what Aiven reports.
type Value struct {
	Token       Token
	TokenPrefix string
	// Kind is "personal" or "application"; Parse fills in "personal" when
	// the field is absent, and Marshal writes it only when it was present.
	Kind              string
	APIURL            string
	OrganizationID    string
	ApplicationUserID string
	ManagerSecretID   string

	Description    *string
	MaxAgeSeconds  *float64
	ExtendWhenUsed *bool
	IPAllowlist    *[]string
	Scopes         *[]string

	PreviousTokenPrefix string
	User                string
	ExpiryTime          string
	CreatedAt           string
	// UserID is Aiven's user id of the token's principal (user_id);
	// testSecret compares principals by it when set, else by User.
	UserID string

	kindSet bool
	unknown map[string]json.RawMessage
}

// known lists the fields Value owns, in the order Marshal writes them.
var known = []string{
	"token", "token_prefix", "kind", "api_url",
	"organization_id", "application_user_id", "manager_secret_id",
	"description", "max_age_seconds", "extend_when_used", "ip_allowlist", "scopes",
	"previous_token_prefix", "user", "user_id", "expiry_time", "created_at",
}

// Parse reads a SecretString. A JSON object gives typed fields plus every
// other field kept as it was; a string that is not JSON and does not start
// with "{" is a bootstrap secret whose trimmed whole is the token. Errors
// are *FieldError and never carry a value.
func Parse(s string) (*Value, error) {
	if len(s) > maxSize {
		return nil, &FieldError{Reason: fmt.Sprintf("is %d bytes, over the %d-byte (64 KiB) limit", len(s), maxSize)}
	}
	trimmed := strings.TrimSpace(s)
	if trimmed == "" {
		return nil, &FieldError{Field: "token", Reason: "the secret is empty"}
	}
	if !strings.HasPrefix(trimmed, "{") {
		if json.Valid([]byte(trimmed)) {
			return nil, &FieldError{Reason: "is JSON but not an object; expected {\"token\": ...} or a plain token"}
		}
		if strings.IndexFunc(trimmed, unicode.IsSpace) >= 0 {
			return nil, &FieldError{Field: "token", Reason: "a plain-string secret must be a single token without whitespace"}
		}
		if err := checkTokenBytes(trimmed); err != nil {
			return nil, err
		}
		return &Value{Token: NewToken(trimmed), Kind: KindPersonal}, nil
	}

	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(trimmed), &raw); err != nil {
		// json's syntax errors quote at most a character, never a value,
		// but keep only the offset to be sure.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &FieldError{Reason: fmt.Sprintf("is not valid JSON (syntax error at byte %d)", se.Offset)}
		}
		return nil, &FieldError{Reason: "is not a valid JSON object"}
	}
	v := &Value{unknown: map[string]json.RawMessage{}}
	for k, r := range raw {
		if !slices.Contains(known, k) {
			v.unknown[k] = r
		}
	}
	if err := v.decodeKnown(raw); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Value) decodeKnown(raw map[string]json.RawMessage) error {
	tok, ok := raw["token"]
	if !ok || isNull(tok) {
		return &FieldError{Field: "token", Reason: "is required"}
	}
	var token string
	strs := []struct {
		name string
		dst  *string
	}{
		{"token", &token}, {"token_prefix", &v.TokenPrefix}, {"kind", &v.Kind},
		{"api_url", &v.APIURL}, {"organization_id", &v.OrganizationID},
		{"application_user_id", &v.ApplicationUserID}, {"manager_secret_id", &v.ManagerSecretID},
		{"previous_token_prefix", &v.PreviousTokenPrefix}, {"user", &v.User}, {"user_id", &v.UserID},
		{"expiry_time", &v.ExpiryTime}, {"created_at", &v.CreatedAt},
	}
	for _, f := range strs {
		r, ok := raw[f.name]
		if !ok || isNull(r) {
			continue
		}
		if err := json.Unmarshal(r, f.dst); err != nil {
			return &FieldError{Field: f.name, Reason: "must be a string"}
		}
	}
	if strings.TrimSpace(token) == "" {
		return &FieldError{Field: "token", Reason: "must not be empty"}
	}
	if strings.IndexFunc(token, unicode.IsSpace) >= 0 {
		return &FieldError{Field: "token", Reason: "must not contain whitespace"}
	}
	if err := checkTokenBytes(token); err != nil {
		return err
	}
	v.Token = NewToken(token)
	v.kindSet = v.Kind != ""
	switch v.Kind {
	case "":
		v.Kind = KindPersonal
	case KindPersonal, KindApplication:
	default:
		return &FieldError{Field: "kind", Reason: `must be "personal" or "application"`}
	}

	var err *FieldError
	if v.Description, err = optional[string](raw, &FieldError{Field: "description", Reason: "must be a string"}); err != nil {
		return err
	}
	if v.MaxAgeSeconds, err = optional[float64](raw, &FieldError{Field: "max_age_seconds", Reason: "must be a number"}); err != nil {
		return err
	}
	if v.MaxAgeSeconds != nil && *v.MaxAgeSeconds <= 0 {
		return &FieldError{Field: "max_age_seconds", Reason: "must be positive"}
	}
	if v.ExtendWhenUsed, err = optional[bool](raw, &FieldError{Field: "extend_when_used", Reason: "must be a boolean"}); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  **[]string
	}{{"ip_allowlist", &v.IPAllowlist}, {"scopes", &v.Scopes}} {
		r, ok := raw[f.name]
		if !ok || isNull(r) {
			continue
		}
		var list []string
		if err := json.Unmarshal(r, &list); err != nil {
			return &FieldError{Field: f.name, Reason: "must be an array of strings"}
		}
		*f.dst = &list
	}
	return nil
}

// optional decodes the optional field bad.Field: nil when absent or null,
// bad when it is not a T.
func optional[T any](raw map[string]json.RawMessage, bad *FieldError) (*T, *FieldError) {
	r, ok := raw[bad.Field]
	if !ok || isNull(r) {
		return nil, nil
	}
	var x T
	if err := json.Unmarshal(r, &x); err != nil {
		return nil, bad
	}
	return &x, nil
}

// checkTokenBytes refuses a token that could not travel in an HTTP
// Authorization header as Aiven expects it: Aiven tokens are base64 (and
// "AVNU_"), so anything outside printable ASCII is a damaged secret, and
// sending it would only be refused or retried. The error gives the offset,
// never the byte's neighbours.
func checkTokenBytes(tok string) *FieldError {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return &FieldError{Field: "token", Reason: fmt.Sprintf("must not contain control characters (byte %d of %d is one)", i+1, len(tok))}
		case c >= 0x80:
			return &FieldError{Field: "token", Reason: fmt.Sprintf("must be printable ASCII, as Aiven tokens are; byte %d of %d is not (a control character, a non-ASCII character or invalid UTF-8)", i+1, len(tok))}
		}
	}
	return nil
}

func isNull(r json.RawMessage) bool { return string(bytes.TrimSpace(r)) == "null" }

// Issued is what createSecret learned of the token that replaces a
// value's: createSecret alone decides each field, PreviousTokenPrefix
// included (the prefix finishSecret revokes).
type Issued struct {
	Token               Token
	TokenPrefix         string
	PreviousTokenPrefix string
	User, UserID        string
	ExpiryTime          string
	CreatedAt           string
}

// Next is the value of the version that replaces v: the issued token and
// its bookkeeping, with the user's fields and every unknown field carried
// over unchanged. It does not change v; calling it twice gives equal values.
func (v *Value) Next(in Issued) *Value {
	n := *v
	n.Token = in.Token
	n.TokenPrefix = in.TokenPrefix
	n.PreviousTokenPrefix = in.PreviousTokenPrefix
	n.User = in.User
	n.UserID = in.UserID
	n.ExpiryTime = in.ExpiryTime
	n.CreatedAt = in.CreatedAt
	n.unknown = v.unknown // never mutated after Parse
	return &n
}

// Marshal writes the value as a JSON object: the known fields in a fixed
// order, then the unknown fields sorted by name with their bytes as they
// were read. It fails when the result would exceed maxSize.
func (v *Value) Marshal() (string, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	put := func(name string, val []byte) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	str := func(name, s string, always bool) {
		if s == "" && !always {
			return
		}
		put(name, mustJSON(s))
	}
	str("token", v.Token.Reveal(), true) // the one place the value is written
	str("token_prefix", v.TokenPrefix, false)
	if v.kindSet {
		str("kind", v.Kind, true)
	}
	str("api_url", v.APIURL, false)
	str("organization_id", v.OrganizationID, false)
	str("application_user_id", v.ApplicationUserID, false)
	str("manager_secret_id", v.ManagerSecretID, false)
	if v.Description != nil {
		put("description", mustJSON(*v.Description))
	}
	if v.MaxAgeSeconds != nil {
		put("max_age_seconds", mustJSON(*v.MaxAgeSeconds))
	}
	if v.ExtendWhenUsed != nil {
		put("extend_when_used", mustJSON(*v.ExtendWhenUsed))
	}
	if v.IPAllowlist != nil {
		put("ip_allowlist", mustJSON(nonNil(*v.IPAllowlist)))
	}
	if v.Scopes != nil {
		put("scopes", mustJSON(nonNil(*v.Scopes)))
	}
	str("previous_token_prefix", v.PreviousTokenPrefix, false)
	str("user", v.User, false)
	str("user_id", v.UserID, false)
	str("expiry_time", v.ExpiryTime, false)
	str("created_at", v.CreatedAt, false)

	names := make([]string, 0, len(v.unknown))
	for k := range v.unknown {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		put(k, v.unknown[k])
	}
	b.WriteByte('}')
	if b.Len() > maxSize {
		return "", &FieldError{Reason: fmt.Sprintf("the new version would be %d bytes, over the %d-byte (64 KiB) limit", b.Len(), maxSize)}
	}
	return b.String(), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func mustJSON(x any) []byte {
	// Strings, numbers, booleans and string slices always marshal. HTML
	// escaping is turned off so that values read back unchanged.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		panic(err)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}
