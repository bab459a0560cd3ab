package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// PrefixLength is how many leading characters of a token may be shown:
// Aiven's token_prefix is the first 12 characters of the token.
const PrefixLength = 12

// shortToken is what a token of PrefixLength characters or fewer prints as:
// its "prefix" would be all of it.
const shortToken = "[short token]"

// Token is an Aiven token value that cannot be printed by accident: every
// way fmt, slog, encoding/json and encoding.TextMarshaler show it gives
// only its first PrefixLength characters (see shown). Reveal is the one way
// to the value, for the places that must send it: the Authorization header
// and the secret value written to Secrets Manager. The zero Token is empty.
//
// The value sits behind a pointer, so that even a Token in an unexported
// struct field, where fmt cannot call its methods, prints as an address.
// Compare Tokens with Equal, not ==.
type Token struct{ p *string }

// NewToken wraps a token value.
func NewToken(value string) Token {
	if value == "" {
		return Token{}
	}
	return Token{p: &value}
}

// Reveal returns the token's value. Call it only to send the token where
// it belongs (an Authorization header, the SecretString), never to log,
// wrap in an error, or put in a metric or URL.
func (t Token) Reveal() string { return t.value() }

func (t Token) value() string {
	if t.p == nil {
		return ""
	}
	return *t.p
}

// IsZero says whether the token is empty.
func (t Token) IsZero() bool { return t.value() == "" }

// HasPrefix says whether prefix is non-empty and begins the token.
func (t Token) HasPrefix(prefix string) bool {
	return prefix != "" && strings.HasPrefix(t.value(), prefix)
}

// Equal says whether two tokens hold the same value.
func (t Token) Equal(u Token) bool { return t.value() == u.value() }

// shown is what every printing of the token gives: its first PrefixLength
// characters, "" for the empty token, or a fixed placeholder when the token
// is no longer than a prefix (showing it would show all of it).
func (t Token) shown() string {
	v := t.value()
	switch {
	case v == "":
		return ""
	case len(v) <= PrefixLength:
		return shortToken
	}
	return v[:PrefixLength]
}

// String is t.shown().
func (t Token) String() string { return t.shown() }

// GoString is secret.Token{"<prefix>"}.
func (t Token) GoString() string { return "secret.Token{" + strconv.Quote(t.shown()) + "}" }

// Format prints t.shown() for every verb and flag (%v %+v %#v %s %q %x ...),
// as fmt would print that string.
func (t Token) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, t.GoString())
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), t.shown())
}

// LogValue makes slog log shown.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.shown()) }

// MarshalText gives shown: a token never leaves by encoding a struct that
// holds it. Use Reveal where the value must be written.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.shown()), nil }

// MarshalJSON gives shown as a JSON string, as MarshalText does.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.shown()) }

// errTokenDecode: a token is only read by Parse, which checks it.
var errTokenDecode = errors.New("secret.Token: decode a token with secret.Parse or wrap it with secret.NewToken")

// UnmarshalText refuses: a token enters only through Parse or NewToken.
func (t *Token) UnmarshalText([]byte) error { return errTokenDecode }

var (
	_ fmt.Formatter  = Token{}
	_ fmt.Stringer   = Token{}
	_ fmt.GoStringer = Token{}
	_ slog.LogValuer = Token{}
)
