package rotation

// An organization's authentication policy, named (issue 20 §4;
// docs/application-tokens.md, "When the organization keeps personal tokens
// out"). Aiven: "Non-managed users can still create personal tokens, but
// they can't use them to access the organization's resources"; with an
// allowed login method required, "tokens that don't conform to the new
// policy stop working" ("Set authentication policies for organization
// users"); application users are not subject to it ("Application users").
// Such a personal token passes /v1/me, and a rotation of it succeeds,
// while every call under /v1/organization/{organization_id}/ answers 403.
// When the secret's value names the organization its token is for
// (organization_id), OrganizationGet with that token tells; the
// organization's authentication configuration, when the token may read
// it, says which setting. The field is written by people the function does
// not trust: it only adds this check, and is shape-checked before it goes
// into a path.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// orgProbe reads an organization with one token: the Aiven client.
type orgProbe interface {
	Organization(ctx context.Context, orgID string) (aiven.Organization, error)
	AuthenticationPolicy(ctx context.Context, orgID string) (aiven.AuthenticationPolicy, error)
}

var _ orgProbe = (*aiven.Client)(nil)

// organizationProbe: a personal token is subject to the policy, and reads
// the organization with its own client (a client that cannot, a test's
// fake, gives nil).
func (p *personalAPI) organizationProbe() orgProbe {
	o, _ := p.userAPI.(orgProbe)
	return o
}

// organizationProbe: "the authentication policies don't apply to"
// application users (Aiven, "Application users").
func (a *applicationAPI) organizationProbe() orgProbe { return nil }

// OrgPolicyDocs is the section of this project's docs that the errors
// below link.
const OrgPolicyDocs = "docs/application-tokens.md#when-the-organization-keeps-personal-tokens-out"

// orgAccessError says that a personal token may not reach the
// organization its secret names. Its chain holds Aiven's 403, so that the
// error is classified AivenForbidden.
type orgAccessError struct {
	msg string
	err error
}

func (e *orgAccessError) Error() string { return e.msg }
func (e *orgAccessError) Unwrap() error { return e.err }

// checkOrgAccess proves that v's token, opened as api, reaches the
// organization v names (organization_id), when its kind is subject to an
// organization's authentication policy; nil when v names none, or the kind
// is not. which names the token ("the pending token"). One call
// (OrganizationGet) when the token reaches it; after a 403, one more
// (the authentication configuration), to name the setting. It only reads:
// calling it twice is harmless.
func checkOrgAccess(ctx context.Context, api tokenAPI, v *secret.Value, secretARN, which string) error {
	if v.OrganizationID == "" {
		return nil
	}
	probe := api.organizationProbe()
	if probe == nil {
		return nil
	}
	if fe := secret.CheckAivenID("organization_id", v.OrganizationID); fe != nil {
		return fe
	}
	org := v.OrganizationID
	_, err := probe.Organization(ctx, org)
	switch {
	case err == nil:
		return nil
	case aiven.IsNotFound(err):
		return fmt.Errorf("secret %s names organization %s (organization_id), which Aiven does not know (404): copy the organization's id from the Aiven console, or remove the field: %w", secretARN, org, err)
	case !aiven.IsForbidden(err):
		return fmt.Errorf("read organization %s (organization_id) with %s: %w", org, which, err)
	}
	return &orgAccessError{msg: keptOutMessage(ctx, probe, secretARN, org, which), err: err}
}

// keptOutMessage says why a personal token got 403 on its organization:
// the setting, when the token may read the authentication configuration;
// else that a policy is the likely cause. Each names the secret, the
// organization and the fix.
func keptOutMessage(ctx context.Context, probe orgProbe, secretARN, org, which string) string {
	head := fmt.Sprintf("secret %s: %s, a personal token, may not reach organization %s (403 on GET /v1/organization/%s) though /v1/me accepts it: the secret's consumers get 403 on the organization's resources", secretARN, which, org, org)
	fix := fmt.Sprintf("Fix (%s): use an application user's token (\"kind\": \"application\"), which the policy does not apply to, or have an organization admin allow personal tokens", OrgPolicyDocs)
	policy, err := probe.AuthenticationPolicy(ctx, org)
	if err != nil {
		why := "this token may not read the policy to tell which"
		if !aiven.IsForbidden(err) {
			why = "the policy could not be read to tell which (" + err.Error() + ")"
		}
		return fmt.Sprintf("%s. Likely cause: %s's authentication policy keeps personal tokens out (%s false, or %s true); %s (an organization admin can, in the console); a user who is not a member gets the same 403. %s",
			head, org, aiven.SettingPersonalTokensEnabled, aiven.SettingPersonalTokensRequireAllowedAuth, why, fix)
	}
	settings := policy.KeepsOutPersonalTokens()
	if len(settings) == 0 {
		return fmt.Sprintf("%s. %s's authentication policy lets personal tokens in (%s is not false, %s is not true), so the token's user is likely not a member of %s: check organization_id, or add the user to the organization", head, org, aiven.SettingPersonalTokensEnabled, aiven.SettingPersonalTokensRequireAllowedAuth, org)
	}
	var named []string
	for _, s := range settings {
		switch s {
		case aiven.SettingPersonalTokensEnabled:
			named = append(named, s+" is false")
		case aiven.SettingPersonalTokensRequireAllowedAuth:
			named = append(named, s+" is true (this token's login method is likely not allowed)")
		}
	}
	return fmt.Sprintf("%s. %s's authentication policy keeps personal tokens out: %s (%s). %s", head, org, strings.Join(named, "; "), aiven.AuthPolicyDocs, fix)
}

// OrganizationAccess is the sweep's check that the current token reaches
// the organization its value names: atRisk says why not (a personal token
// the organization's authentication policy keeps out, or likely so),
// redacted; "" when it does, or the value names none, or its kind is not
// subject to the policy. err is the check itself failing. It only reads.
func (in *Inspection) OrganizationAccess(ctx context.Context) (atRisk string, err error) {
	err = checkOrgAccess(ctx, in.api, in.v, in.arn, "the current token")
	var kept *orgAccessError
	if errors.As(err, &kept) {
		return in.Redact(kept.msg), nil
	}
	return "", err
}
