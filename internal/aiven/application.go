package aiven

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aiven/go-client-codegen/handler/applicationuser"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// operationNames are the operation ids of the application-user calls and
// of OrganizationAuthenticationConfigGet (organization.go):
// go-client-codegen puts the id in every error ("[403
// ApplicationUserAccessTokensList]: ..."), and these are long enough to
// look like part of a token to scrub, which keeps them.
var operationNames = map[string]bool{
	"ApplicationUserAccessTokenCreate":    true,
	"ApplicationUserAccessTokensList":     true,
	"ApplicationUserAccessTokenDelete":    true,
	"OrganizationAuthenticationConfigGet": true,
}

// ApplicationUser names an organization's application user, the owner of
// application tokens. An application token does not manage its own
// tokens: a manager's token (role:organization:admin, or
// organization:app_users:write when the application user holds no
// permissions) lists, creates and deletes them.
type ApplicationUser struct {
	OrganizationID string
	UserID         string
}

func (u ApplicationUser) check() error {
	switch {
	case u.OrganizationID == "" && u.UserID == "":
		return errors.New("application user: organization_id and application_user_id are empty")
	case u.OrganizationID == "":
		return errors.New("application user: organization_id is empty")
	case u.UserID == "":
		return errors.New("application user: application_user_id is empty")
	}
	// Both go into URL paths. go-client-codegen path-escapes them
	// (url.PathEscape), but that leaves "." alone, so ".." would still
	// climb a segment; only ids of Aiven's shape (secret.CheckAivenID,
	// which needs no escaping at all) are sent. The error names the
	// field, never the value.
	if err := secret.CheckAivenID("organization_id", u.OrganizationID); err != nil {
		return fmt.Errorf("application user: %s %s", err.Field, err.Reason)
	}
	if err := secret.CheckAivenID("application_user_id", u.UserID); err != nil {
		return fmt.Errorf("application user: %s %s", err.Field, err.Reason)
	}
	return nil
}

func (u ApplicationUser) String() string {
	return fmt.Sprintf("application user %s of organization %s", u.UserID, u.OrganizationID)
}

// listApplicationTokens lists the valid tokens of application user u
// (ApplicationUserAccessTokensList), authenticated with this client's
// token, the manager's. No listed token is currently_active: the caller's
// own token is not among them. It only reads: calling it twice is
// harmless, so failures that may pass are retried. A 403 says the manager
// lacks the right (IsForbidden), a 404 that the organization or the
// application user does not exist (IsNotFound).
func (c *Client) listApplicationTokens(ctx context.Context, u ApplicationUser) ([]Token, error) {
	if err := u.check(); err != nil {
		return nil, err
	}
	var out []applicationuser.TokenOut
	err := c.retry(ctx, "ApplicationUserAccessTokensList", func(ctx context.Context) (err error) {
		out, err = c.apps.ApplicationUserAccessTokensList(ctx, u.OrganizationID, u.UserID)
		return err
	})
	if err != nil {
		return nil, bounded(err)
	}
	tokens := make([]Token, 0, len(out))
	for _, t := range out {
		tok := Token{
			Prefix:          t.TokenPrefix,
			Description:     deref(t.Description),
			CurrentlyActive: t.CurrentlyActive,
			CreateTime:      t.CreateTime,
			ExpiryTime:      t.ExpiryTime,
			ExtendWhenUsed:  t.ExtendWhenUsed != nil && *t.ExtendWhenUsed,
			IPAllowlist:     t.IPAllowlist,
			Scopes:          t.Scopes,
			LastUsed:        t.LastUsedTime,
			LastIP:          deref(t.LastIP),
			LastUserAgent:   deref(t.LastUserAgent),
		}
		if t.MaxAgeSeconds != nil {
			tok.MaxAgeSeconds = float64(*t.MaxAgeSeconds)
		}
		tokens = append(tokens, tok)
	}
	return tokens, nil
}

// maxWholeSeconds bounds a max_age_seconds converted to an integer: any
// float64 below it converts exactly. Aiven's own bound (315360000) is far
// lower and left to Aiven to enforce, as for personal tokens.
const maxWholeSeconds = 1 << 53

// createApplicationToken creates a token for application user u
// (ApplicationUserAccessTokenCreate) with this client's token, the
// manager's. Aiven types max_age_seconds an integer here: a fractional
// one fails before anything is sent; without one the token never expires.
//
// Aiven replies with full_token and token_prefix only, so the returned
// NewToken carries the settings that were asked for, a zero CreateTime
// and no ExpiryTime: list the tokens to learn what Aiven recorded.
//
// Calling it twice creates two tokens, so it is never retried blindly:
// only a 429, which says nothing was created, is retried after the delay
// Aiven gives. Any failure that may have created a token, a 2xx without
// full_token or token_prefix included, is reported as ambiguous
// (IsAmbiguous): the caller must list the tokens and look for its marker.
func (c *Client) createApplicationToken(ctx context.Context, u ApplicationUser, r CreateRequest) (NewToken, error) {
	if err := u.check(); err != nil {
		return NewToken{}, err
	}
	in := &applicationuser.ApplicationUserAccessTokenCreateIn{
		Description:    r.Description,
		ExtendWhenUsed: r.ExtendWhenUsed,
	}
	if r.MaxAgeSeconds != nil {
		f := *r.MaxAgeSeconds
		if f != math.Trunc(f) || f < 0 || f >= maxWholeSeconds {
			return NewToken{}, errors.New("max_age_seconds: application tokens take a whole number of seconds (Aiven's schema types it an integer)")
		}
		n := int(f)
		in.MaxAgeSeconds = &n
	}
	if r.IPAllowlist != nil {
		in.IPAllowlist = &r.IPAllowlist
	}
	if r.Scopes != nil {
		in.Scopes = &r.Scopes
	}
	out, err := create(ctx, c, "ApplicationUserAccessTokenCreate", func(ctx context.Context) (*applicationuser.ApplicationUserAccessTokenCreateOut, error) {
		return c.apps.ApplicationUserAccessTokenCreate(ctx, u.OrganizationID, u.UserID, in)
	}, func(o *applicationuser.ApplicationUserAccessTokenCreateOut) (string, string) {
		return o.FullToken, o.TokenPrefix
	})
	if err != nil {
		return NewToken{}, err
	}
	tok := Token{
		Prefix:         out.TokenPrefix,
		Description:    r.Description,
		ExtendWhenUsed: r.ExtendWhenUsed != nil && *r.ExtendWhenUsed && r.MaxAgeSeconds != nil,
		IPAllowlist:    r.IPAllowlist,
		Scopes:         r.Scopes,
	}
	if r.MaxAgeSeconds != nil {
		tok.MaxAgeSeconds = *r.MaxAgeSeconds
	}
	return NewToken{FullToken: secret.NewToken(out.FullToken), Token: tok}, nil
}

// revokeApplicationToken deletes application user u's token by its prefix
// (ApplicationUserAccessTokenDelete, 204) with this client's token, the
// manager's; the prefix, never the full token, goes into the path.
// Calling it twice is harmless: a 404 means already gone and is reported
// as (false, nil); revoked is true when this call deleted it. A 404 cannot
// tell a deleted token from a deleted application user, whose tokens are
// gone with it; listApplicationTokens tells them apart.
func (c *Client) revokeApplicationToken(ctx context.Context, u ApplicationUser, prefix string) (revoked bool, err error) {
	if err := u.check(); err != nil {
		return false, err
	}
	if prefix == "" {
		return false, errors.New("revoke application token: empty token prefix")
	}
	err = c.retry(ctx, "ApplicationUserAccessTokenDelete", func(ctx context.Context) error {
		return c.apps.ApplicationUserAccessTokenDelete(ctx, u.OrganizationID, u.UserID, prefix)
	})
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, bounded(err)
}

// ApplicationTokens are one application user's token calls made with a
// manager's client, under the names Client uses for a user's own tokens,
// so that a rotation drives either through one small interface.
type ApplicationTokens struct {
	manager *Client
	user    ApplicationUser
}

// ServerTime is the Date of the latest answer to the manager's calls
// (Client.ServerTime). It only reads.
func (a *ApplicationTokens) ServerTime() (time.Time, bool) { return a.manager.ServerTime() }

// ApplicationTokens binds this client, holding a manager's token, to
// application user u.
func (c *Client) ApplicationTokens(u ApplicationUser) *ApplicationTokens {
	return &ApplicationTokens{manager: c, user: u}
}

// ListTokens is listApplicationTokens for the bound user.
func (a *ApplicationTokens) ListTokens(ctx context.Context) ([]Token, error) {
	return a.manager.listApplicationTokens(ctx, a.user)
}

// CreateToken is createApplicationToken for the bound user.
func (a *ApplicationTokens) CreateToken(ctx context.Context, r CreateRequest) (NewToken, error) {
	return a.manager.createApplicationToken(ctx, a.user, r)
}

// RevokeToken is revokeApplicationToken for the bound user.
func (a *ApplicationTokens) RevokeToken(ctx context.Context, prefix string) (bool, error) {
	return a.manager.revokeApplicationToken(ctx, a.user, prefix)
}
