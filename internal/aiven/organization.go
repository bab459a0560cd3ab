package aiven

// An organization's authentication policy can keep personal tokens out of
// the organization's resources while the token itself still works: "When
// you turn off personal tokens, managed users can't create personal
// tokens. Non-managed users can still create personal tokens, but they
// can't use them to access the organization's resources"; with "require
// users to be logged in with an allowed authentication method", "tokens
// that don't conform to the new policy stop working" (Aiven, "Set
// authentication policies for organization users"). Application users are
// not subject to it ("the authentication policies don't apply to them",
// Aiven, "Application users"). So /v1/me answers such a token while every
// call under /v1/organization/{organization_id}/ is refused (403): a call
// scoped to the organization, OrganizationGet, tells; the organization's
// authentication configuration, readable by an organization admin, says
// which setting.

import (
	"context"
	"fmt"

	"github.com/aiven/go-client-codegen/handler/organization"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// The settings of an organization's authentication policy that keep
// personal tokens out, as Aiven's API names them.
const (
	SettingPersonalTokensEnabled            = "personal_tokens_enabled"
	SettingPersonalTokensRequireAllowedAuth = "personal_tokens_require_allowed_auth_method"
)

// AuthPolicyDocs is Aiven's page on the authentication policy, for
// messages that name a setting.
const AuthPolicyDocs = "https://aiven.io/docs/platform/howto/set-authentication-policies"

// Organization is an organization as OrganizationGet answers it.
type Organization struct {
	ID, Name, AccountID string
}

// checkOrganizationID refuses an id that is not of Aiven's shape before it
// goes into a path (see ApplicationUser.check); the error names the field,
// never the value.
func checkOrganizationID(id string) error {
	if id == "" {
		return fmt.Errorf("organization: organization_id is empty")
	}
	if err := secret.CheckAivenID("organization_id", id); err != nil {
		return fmt.Errorf("organization: %s %s", err.Field, err.Reason)
	}
	return nil
}

// Organization reads organization orgID (GET /v1/organization/{organization_id},
// OrganizationGet) with this client's token: a call scoped to the
// organization, which any member may make, application users included,
// and which an authentication policy refuses to a personal token it keeps
// out. It only reads: calling it twice is harmless, so failures that may
// pass are retried. A 403 (IsForbidden) says the token may not reach the
// organization: not a member, or kept out by the organization's
// authentication policy (AuthenticationPolicy tells which, when it can be
// read); a 404 (IsNotFound) that there is no such organization.
func (c *Client) Organization(ctx context.Context, orgID string) (Organization, error) {
	if err := checkOrganizationID(orgID); err != nil {
		return Organization{}, err
	}
	var out *organization.OrganizationGetOut
	err := c.retry(ctx, "OrganizationGet", func(ctx context.Context) (err error) {
		out, err = c.orgs.OrganizationGet(ctx, orgID)
		return err
	})
	if err != nil {
		return Organization{}, bounded(err)
	}
	return Organization{ID: out.OrganizationId, Name: out.OrganizationName, AccountID: out.AccountId}, nil
}

// AuthenticationPolicy is the part of an organization's authentication
// configuration that decides whether personal tokens reach it. Aiven's
// schema makes every setting optional: nil is a setting it did not send.
type AuthenticationPolicy struct {
	PersonalTokensEnabled                  *bool
	PersonalTokensRequireAllowedAuthMethod *bool
	PasswordAuthEnabled                    *bool
	OAuthEnabled                           *bool
	SAMLEnabled                            *bool
	TwoFactorRequired                      *bool
}

// KeepsOutPersonalTokens names the settings that can keep a personal token
// out of the organization: SettingPersonalTokensEnabled when it is false,
// SettingPersonalTokensRequireAllowedAuth when it is true (whether a given
// token conforms depends on the login it was made with, which Aiven does
// not show). Empty when neither does.
func (p AuthenticationPolicy) KeepsOutPersonalTokens() []string {
	var out []string
	if p.PersonalTokensEnabled != nil && !*p.PersonalTokensEnabled {
		out = append(out, SettingPersonalTokensEnabled)
	}
	if p.PersonalTokensRequireAllowedAuthMethod != nil && *p.PersonalTokensRequireAllowedAuthMethod {
		out = append(out, SettingPersonalTokensRequireAllowedAuth)
	}
	return out
}

// AuthenticationPolicy reads organization orgID's authentication
// configuration (GET /v1/organization/{organization_id}/config/authentication,
// OrganizationAuthenticationConfigGet) with this client's token. Aiven
// names no permission for it; an organization admin may change the
// policy, and the emulator lets only role:organization:admin read it. A
// personal token the policy keeps out is refused it too, so a 403
// (IsForbidden) says this token may not read it, not which setting
// applies. It only reads: calling it twice is harmless, so failures that
// may pass are retried.
func (c *Client) AuthenticationPolicy(ctx context.Context, orgID string) (AuthenticationPolicy, error) {
	if err := checkOrganizationID(orgID); err != nil {
		return AuthenticationPolicy{}, err
	}
	var out *organization.OrganizationAuthenticationConfigGetOut
	err := c.retry(ctx, "OrganizationAuthenticationConfigGet", func(ctx context.Context) (err error) {
		out, err = c.orgs.OrganizationAuthenticationConfigGet(ctx, orgID)
		return err
	})
	if err != nil {
		return AuthenticationPolicy{}, bounded(err)
	}
	return AuthenticationPolicy{
		PersonalTokensEnabled:                  out.PersonalTokensEnabled,
		PersonalTokensRequireAllowedAuthMethod: out.PersonalTokensRequireAllowedAuthMethod,
		PasswordAuthEnabled:                    out.PasswordAuthEnabled,
		OAuthEnabled:                           out.OauthEnabled,
		SAMLEnabled:                            out.SamlEnabled,
		TwoFactorRequired:                      out.TwoFactorRequired,
	}, nil
}
