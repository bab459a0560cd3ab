package rotation

// Personal tokens (kind "personal", the default): a user's own token,
// which manages itself through the Aiven user API. Whom it belongs to is
// what Aiven answers for it (/v1/me), and the listing it makes marks it
// (currently_active).

import (
	"context"
	"fmt"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

type personalKind struct{}

func (personalKind) check(*secret.Value) error { return nil }

func (personalKind) open(r *Rotator, base, _ string, v *secret.Value, _ func(secret.Token)) (tokenAPI, error) {
	u, err := r.aivenAt(base, v.Token)
	if err != nil {
		return nil, err
	}
	return &personalAPI{userAPI: u, r: r}, nil
}

// principal: a personal token makes its own calls.
func (personalKind) principal(_ *secret.Value, secretARN string) string { return "secret:" + secretARN }

// personalAPI is the tokenAPI of a personal token: every call is made
// with the token itself.
type personalAPI struct {
	userAPI
	r *Rotator
}

var _ tokenAPI = (*personalAPI)(nil)

func (p *personalAPI) ServerTime() (time.Time, bool) { return clockOf(p.userAPI) }

// principal is the current token's owner, as Aiven answers it: the new
// token is made by, and so for, the same user.
func (p *personalAPI) principal(ctx context.Context, _ *secret.Value) (aiven.User, error) {
	me, err := p.Me(ctx)
	if err != nil {
		return aiven.User{}, explainAiven(err, currentToken, "me")
	}
	return me, nil
}

func (p *personalAPI) previous(ctx context.Context, current *secret.Value, tokens []aiven.Token, at where) (previous, error) {
	return p.r.previousToken(ctx, current, tokens, at), nil
}

// provePending: the listing was made with the pending token itself, so
// its answer proved it.
func (p *personalAPI) provePending(*secret.Value, []aiven.Token, time.Time) error { return nil }

// testCurrent: the current token authenticates, as the user the secret
// records when it records one. It lists nothing.
func (p *personalAPI) testCurrent(ctx context.Context, current *secret.Value) ([]aiven.Token, error) {
	me, err := p.Me(ctx)
	if err != nil {
		return nil, explainAiven(err, currentToken, "me")
	}
	if current.User != "" || current.UserID != "" {
		if err := samePrincipal(me, current); err != nil {
			return nil, fmt.Errorf("the current token %w, as the secret says", err)
		}
	}
	return nil, nil
}

// health: the listing itself, made with the token, is the check.
func (p *personalAPI) health(context.Context) health { return health{} }

func (p *personalAPI) listedBySelf() bool { return true }

func (p *personalAPI) binding() *secret.Binding { return nil }
