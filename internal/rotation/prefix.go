package rotation

import (
	"fmt"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// A token prefix is what the rotator revokes by: it goes into the path of
// DELETE /v1/access_token/{prefix}, a log line and an error. Aiven's prefix
// is the first secret.PrefixLength (12) characters of the token
// (docs/local-stack-aiven.md, "Tokens and prefixes"): standard base64 (A-Z a-z 0-9 + / =), or "AVNU_"
// and 7 of them for newer tokens. Anything else (a shorter string, which
// names no token and turns a revocation into a silent 404; a longer one,
// which may be the token itself) is never sent.

// avnuPrefix begins the newer Aiven tokens.
const avnuPrefix = "AVNU_"

// checkPrefix says why p is not the shape of an Aiven token prefix; nil
// when it is. Its error never quotes p.
func checkPrefix(p string) error {
	if len(p) != secret.PrefixLength {
		return fmt.Errorf("is %d characters long, not the %d of an Aiven token prefix", len(p), secret.PrefixLength)
	}
	rest := p
	if p[:len(avnuPrefix)] == avnuPrefix {
		rest = p[len(avnuPrefix):]
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !secret.IsBase64(c) && c != '=' {
			return fmt.Errorf("holds a character outside an Aiven token prefix's alphabet (A-Z a-z 0-9 + / =, after an optional %q)", avnuPrefix)
		}
	}
	return nil
}

// shownPrefix is p for a log line when it is prefix-shaped, else a
// placeholder saying its length: a stored field that is not a prefix may
// be a whole token.
func shownPrefix(p string) string {
	if p == "" || checkPrefix(p) == nil {
		return p
	}
	return fmt.Sprintf("[not a prefix: %d characters]", len(p))
}

// storedPrefix is v's stored token_prefix when it is prefix-shaped and
// the first characters of v's token, else "": a stored field alone never
// names a token to revoke.
func storedPrefix(v *secret.Value) string {
	if checkPrefix(v.TokenPrefix) != nil || !v.Token.HasPrefix(v.TokenPrefix) {
		return ""
	}
	return v.TokenPrefix
}

// checkTokenPrefix refuses a version whose token_prefix is not the first
// characters of its token: createSecret writes Aiven's prefix of the
// token it stores, so anything else was written by someone else, and
// finishSecret acts on neither.
func checkTokenPrefix(v *secret.Value) error {
	switch {
	case v.TokenPrefix == "":
		return &secret.FieldError{Field: "token_prefix", Reason: "is required in a version createSecret wrote"}
	case storedPrefix(v) == "":
		return &secret.FieldError{Field: "token_prefix", Reason: fmt.Sprintf("must be the first %d characters of the token, as createSecret writes it; this version was not written by createSecret", secret.PrefixLength)}
	}
	return nil
}
