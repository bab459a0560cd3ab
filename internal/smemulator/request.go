package smemulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// request is a decoded call body read the way Secrets Manager's service
// framework (Coral) reads one, in three layers whose first failure wins:
//
//  1. deserialization: a member of the wrong JSON type is a
//     SerializationException;
//  2. model validation: a required member missing, a length, range,
//     pattern or enum constraint broken: one ValidationException listing
//     every violation, "1 validation error detected: Value null at
//     'secretId' failed to satisfy constraint: Member must not be null"
//     (the message real Secrets Manager sends, member names in
//     lowerCamelCase);
//  3. the operation's own checks (InvalidParameterException,
//     InvalidRequestException, ...), of which the first is reported.
//
// Member names are matched case-sensitively and unknown members are
// ignored, as Coral does. Violation messages never quote a member's value
// (Coral omits sensitive ones such as SecretString; the emulator omits all
// strings, so no error ever echoes a secret), only its path; numbers are
// quoted.
type request struct {
	fields     map[string]json.RawMessage
	region     string // the region of the request's SigV4 credential scope (requestRegion)
	serr       *apiError
	violations []string
	err        *apiError
}

// result is the error the request must be answered with, if any.
func (q *request) result() *apiError {
	switch {
	case q.serr != nil:
		return q.serr
	case len(q.violations) == 1:
		return errOf("ValidationException", "1 validation error detected: %s", q.violations[0])
	case len(q.violations) > 1:
		return errOf("ValidationException", "%d validation errors detected: %s", len(q.violations), strings.Join(q.violations, "; "))
	}
	return q.err
}

// fail records an operation-level error unless an earlier one was.
func (q *request) fail(apiErr *apiError) {
	if q.err == nil {
		q.err = apiErr
	}
}

func (q *request) violate(format string, args ...any) {
	q.violations = append(q.violations, fmt.Sprintf(format, args...))
}

// path is Coral's name for a member: its JSON name in lowerCamelCase.
func path(name string) string {
	if name == "" {
		return name
	}
	return strings.ToLower(name[:1]) + name[1:]
}

func (q *request) has(name string) bool {
	raw, ok := q.fields[name]
	return ok && string(raw) != "null"
}

// read decodes a present member into v; a member of the wrong JSON type is
// a SerializationException naming it.
func (q *request) read(name, expected string, v any) bool {
	if !q.has(name) {
		return false
	}
	if err := json.Unmarshal(q.fields[name], v); err != nil {
		if q.serr == nil {
			// Inferred wording: Coral's own names Java classes; this names
			// the member and what it must be.
			q.serr = errOf("SerializationException", "Invalid type for member %s: expected %s.", name, expected)
		}
		return false
	}
	return true
}

// required records the violation of a missing required member.
func (q *request) required(name string) {
	if !q.has(name) {
		q.violate("Value null at '%s' failed to satisfy constraint: Member must not be null", path(name))
	}
}

// str reads an optional string member; ok says it was there.
func (q *request) str(name string) (s string, ok bool) {
	ok = q.read(name, "a string", &s)
	return s, ok
}

// text reads a string member with its model constraints: required or not,
// and a length range (max 0: none).
func (q *request) text(name string, required bool, minLen, maxLen int) string {
	if required {
		q.required(name)
	}
	s, ok := q.str(name)
	if ok {
		q.length(path(name), len(s), minLen, maxLen)
	}
	return s
}

// length records the violations of a length constraint.
func (q *request) length(at string, n, minLen, maxLen int) {
	if n < minLen {
		q.violate("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", at, minLen)
	}
	if maxLen > 0 && n > maxLen {
		q.violate("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", at, maxLen)
	}
}

// pattern records the violation of a pattern constraint.
func (q *request) pattern(at, s string, re *regexp.Regexp) {
	if !re.MatchString(s) {
		q.violate("Value at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", at, strings.TrimSuffix(strings.TrimPrefix(re.String(), "^"), "$"))
	}
}

func (q *request) boolean(name string) *bool {
	var b bool
	if !q.read(name, "a boolean", &b) {
		return nil
	}
	return &b
}

// integer reads an integer member within [lo, hi] (hi 0: no maximum).
func (q *request) integer(name string, lo, hi int64, bounded bool) *int64 {
	var n int64
	if !q.read(name, "an integer", &n) {
		return nil
	}
	if bounded {
		q.rangeCheck(path(name), n, lo, hi)
	}
	return &n
}

func (q *request) rangeCheck(at string, n, lo, hi int64) {
	if n < lo {
		q.violate("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", n, at, lo)
	}
	if n > hi {
		q.violate("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", n, at, hi)
	}
}

// enum reads a string member that must be one of values.
func (q *request) enum(name string, values ...string) string {
	s, ok := q.str(name)
	if ok {
		valid := false
		for _, v := range values {
			valid = valid || v == s
		}
		if !valid {
			q.violate("Value at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", path(name), strings.Join(values, ", "))
		}
	}
	return s
}

// stringList reads a list of strings with a count range and a length range
// for each entry.
func (q *request) stringList(name string, minCount, maxCount, minLen, maxLen int) []string {
	var list []string
	if !q.read(name, "a list of strings", &list) {
		return nil
	}
	if len(list) < minCount {
		q.violate("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", path(name), minCount)
	}
	if maxCount > 0 && len(list) > maxCount {
		q.violate("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", path(name), maxCount)
	}
	for _, s := range list {
		if len(s) < minLen || (maxLen > 0 && len(s) > maxLen) {
			q.violate("Value at '%s' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to %d]", path(name), maxLen, minLen)
			break
		}
	}
	return list
}

// Model limits (botocore's secretsmanager 2017-10-17 service model).
const (
	maxSecretSize     = 65536 // SecretString, SecretBinary: 1 to 65536
	maxDescription    = 2048  // Description: 0 to 2048
	maxNameLength     = 512   // Name: 1 to 512
	maxSecretIDLength = 2048  // SecretId: 1 to 2048
	minTokenLength    = 32    // ClientRequestToken, VersionId: 32 to 64
	maxTokenLength    = 64
	maxStageLength    = 256 // a staging label: 1 to 256
	maxStages         = 20  // VersionStages: 1 to 20 labels
	maxARNLength      = 2048
	maxTagKey         = 128
	maxTagValue       = 256
	maxTags           = 50 // per secret (AWS's tagging quota)
)

var rotationTokenPattern = regexp.MustCompile(`^[a-zA-Z0-9\-]+$`)

// secretID reads the SecretId every operation but ListSecrets takes.
func (q *request) secretID() string {
	return q.text("SecretId", true, 1, maxSecretIDLength)
}

// clientToken reads ClientRequestToken: absent, or 32 to 64 characters.
func (q *request) clientToken() string {
	return q.text("ClientRequestToken", false, minTokenLength, maxTokenLength)
}

// versionID reads a member naming a version: 32 to 64 characters.
func (q *request) versionID(name string) string {
	return q.text(name, false, minTokenLength, maxTokenLength)
}

// secretValue reads SecretString and SecretBinary: each 1 to 65536 bytes,
// SecretBinary base64 as awsJson1.1 sends blobs. Neither message quotes
// the value.
func (q *request) secretValue() (str *string, bin []byte) {
	if s, ok := q.str("SecretString"); ok {
		q.length("secretString", len(s), 1, maxSecretSize)
		str = &s
	}
	if text, ok := q.str("SecretBinary"); ok {
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			if q.serr == nil {
				q.serr = errOf("SerializationException", "Invalid type for member SecretBinary: expected base64-encoded bytes.")
			}
		} else {
			q.length("secretBinary", len(b), 1, maxSecretSize)
			bin = b
		}
	}
	return str, bin
}

// reservedTagPrefix begins the tag keys AWS keeps for itself. AWS's API
// reference, TagResource and CreateSecret
// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_TagResource.html):
// "Do not use the aws: prefix in your tag names or values because AWS
// reserves it for AWS use. You can't edit or delete tag names or values
// with this prefix." A key so prefixed is refused with those words; the
// error type, InvalidParameterException (one the model lists for both
// operations), is inferred, as the service's exact answer is not
// published. The prefix is matched as written, lower case: the same
// reference says "Tag keys and values are case sensitive".
const (
	reservedTagPrefix = "aws:"
	msgReservedTag    = "Do not use the aws: prefix in your tag names or values because AWS reserves it for AWS use."
)

// tags reads a Tags list: each Key 1 to 128 characters, Value 0 to 256.
func (q *request) tags() []tag {
	var raw []struct {
		Key   *string `json:"Key"`
		Value *string `json:"Value"`
	}
	if !q.read("Tags", "a list of {Key, Value} objects", &raw) {
		return nil
	}
	out := make([]tag, 0, len(raw))
	for i, t := range raw {
		var k, v string
		if t.Key != nil {
			k = *t.Key
		}
		if t.Value != nil {
			v = *t.Value
		}
		// Inferred: a tag without a Key breaks the key's length constraint.
		q.length(fmt.Sprintf("tags.%d.member.key", i+1), len(k), 1, maxTagKey)
		if strings.HasPrefix(k, reservedTagPrefix) {
			q.fail(errOf("InvalidParameterException", msgReservedTag))
		}
		q.length(fmt.Sprintf("tags.%d.member.value", i+1), len(v), 0, maxTagValue)
		out = append(out, tag{Key: k, Value: v})
	}
	return out
}
