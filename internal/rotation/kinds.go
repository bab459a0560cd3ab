package rotation

// Token kinds. A secret holds one kind of Aiven token, named by its
// value's "kind": a personal token (personal.go), which manages itself
// through the Aiven user API, or an application user's token
// (application.go), whose tokens a manager's token lists, creates and
// revokes. The steps and the sweep work through tokenAPI and never ask
// which kind they hold. A new kind is one file with a tokenKind and a
// tokenAPI, and one entry in kinds (docs/ARCHITECTURE.md, "A new token
// kind").

import (
	"context"
	"fmt"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// tokenKind is one kind of token, before any value of it is opened.
type tokenKind interface {
	// check names the first field a value of this kind lacks or has
	// malformed; it runs before any call is made with the value.
	check(v *secret.Value) error
	// open is the tokenAPI that manages v's tokens at base (the value's
	// api_url, already checked), for the secret secretARN. It sends
	// nothing. hold receives every other token it reads, for redaction.
	open(r *Rotator, base, secretARN string, v *secret.Value, hold func(secret.Token)) (tokenAPI, error)
	// principal names who makes the Aiven calls of v's tokens: the sweep
	// runs only a few secrets of one principal at a time.
	principal(v *secret.Value, secretARN string) string
}

// kinds are the token kinds, by the value's "kind".
var kinds = map[string]tokenKind{
	secret.KindPersonal:    personalKind{},
	secret.KindApplication: applicationKind{},
}

// ParseValue parses a secret value and checks that it has the fields its
// kind needs. what names the version in errors ("AWSCURRENT", "the
// pending version").
func ParseValue(s, what string) (*secret.Value, error) {
	v, err := secret.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := kindOf(v).check(v); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// PrincipalOf names who makes the Aiven calls of v's tokens, for the
// secret secretARN (its kind decides): the sweep runs only a few secrets
// of one principal at a time.
func PrincipalOf(v *secret.Value, secretARN string) string { return kindOf(v).principal(v, secretARN) }

// kindOf is v's kind. secret.Parse accepts only the names in kinds, and
// fills in "personal" when a value names none.
func kindOf(v *secret.Value) tokenKind {
	if k, ok := kinds[v.Kind]; ok {
		return k
	}
	return personalKind{}
}

// tokenAPI is one secret's tokens at Aiven, opened for one of its values
// (openAiven): the four token calls, Aiven's clock, and what a kind
// decides for itself.
type tokenAPI interface {
	userAPI
	// ServerTime is Aiven's clock, from the answers so far.
	ServerTime() (time.Time, bool)
	// principal is whom the next token is made for, proven for the
	// current value when the kind can (createSecret).
	principal(ctx context.Context, current *secret.Value) (aiven.User, error)
	// previous is the token the next one replaces, from the listing
	// (createSecret).
	previous(ctx context.Context, current *secret.Value, tokens []aiven.Token, at where) (previous, error)
	// provePending fails when the listing, made with this API before
	// AWSCURRENT moves, does not prove the pending value's token alive
	// (finishSecret).
	provePending(v *secret.Value, tokens []aiven.Token, now time.Time) error
	// testCurrent is the configuration test of the current value; listed
	// is the listing it made of the value's tokens, nil if it made none.
	testCurrent(ctx context.Context, current *secret.Value) (listed []aiven.Token, err error)
	// health is the sweep's check of the current token before it lists
	// the tokens (sweptHealth).
	health(ctx context.Context) health
	// listedBySelf: the listing is made with the value's own token, so a
	// 401 on it means that token is dead.
	listedBySelf() bool
	// binding is the manager's binding the API was opened under: the
	// ceiling of a healed token's restrictions; nil for none.
	binding() *secret.Binding
	// organizationProbe reads the organization with the value's own token
	// when the kind is subject to an organization's authentication policy
	// (orgpolicy.go); nil when it is not, or cannot.
	organizationProbe() orgProbe
}

// where names a step's invocation, for the log lines a kind writes.
type where struct {
	step, secretARN, version string
}

// health is what a kind says of its current token before the listing.
type health struct {
	// dead: Aiven refuses the token (401); why says so.
	dead error
	// healable: a rotation would replace a dead token (nil), or why not.
	healable error
	// err: the check itself failed.
	err error
}

// userAPI is Aiven as one token sees it: the Aiven client.
type userAPI interface {
	Me(ctx context.Context) (aiven.User, error)
	ListTokens(ctx context.Context) ([]aiven.Token, error)
	CreateToken(ctx context.Context, r aiven.CreateRequest) (aiven.NewToken, error)
	RevokeToken(ctx context.Context, prefix string) (revoked bool, err error)
}

var _ userAPI = (*aiven.Client)(nil)

// userAPIFor opens the Aiven API at baseURL with token. It must fail,
// having sent nothing, when the configuration forbids baseURL.
type userAPIFor func(baseURL string, token secret.Token) (userAPI, error)

// serverClock is a client that knows Aiven's clock from its answers.
type serverClock interface{ ServerTime() (time.Time, bool) }

// clockOf is c's Aiven clock, when c has one and knows it.
func clockOf(c any) (time.Time, bool) {
	if sc, ok := c.(serverClock); ok && c != nil {
		return sc.ServerTime()
	}
	return time.Time{}, false
}
