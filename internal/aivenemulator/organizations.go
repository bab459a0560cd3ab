package aivenemulator

// Organizations and their authentication policy, as Aiven documents them.
//
// "Set authentication policies for organization users"
// (https://aiven.io/docs/platform/howto/set-authentication-policies):
//
//   - "The authentication policy for your organization specifies the ways
//     that users in your organization and their personal tokens can access
//     the organization on the Aiven platform."
//   - "When you turn off personal tokens, managed users can't create
//     personal tokens. Non-managed users can still create personal tokens,
//     but they can't use them to access the organization's resources."
//   - "Tokens are linked to the authentication method they are created
//     with. You can ensure that access to your organization using tokens
//     conforms to the authentication policy by requiring users to be logged
//     in with an allowed authentication method when they use a token. If
//     your authentication policy changes, tokens that don't conform to the
//     new policy stop working."
//
// "Application users" (https://aiven.io/docs/platform/concepts/application-users):
// "Unlike organization users, application users can't log in to the Aiven
// Console and the authentication policies don't apply to them."
//
// "Roles and permissions" (https://aiven.io/docs/platform/concepts/permissions):
// the organization admin (role:organization:admin) may "Change the
// authentication policy"; a member may "Generate and revoke personal
// tokens, if allowed by the authentication policy".
//
// The published schema of GET/PATCH /v1/organization/{organization_id}/config/authentication
// (OrganizationAuthenticationConfigGet/Update) names the settings:
// personal_tokens_enabled "Organization users can use their personal
// tokens to access the organization through the Aiven API or other
// applications", personal_tokens_require_allowed_auth_method "Organization
// users are able to use personal tokens that were generated from one of
// the allowed authentication methods", and the allowed methods
// password_auth_enabled, oauth_enabled, saml_enabled.
//
// So the emulator, for a person's personal token on a call under
// /v1/organization/{organization_id}/ of an organization the person
// belongs to (its resources: application users and their tokens, the
// organization itself, its authentication configuration):
//
//   - personal_tokens_enabled false: 403;
//   - personal_tokens_require_allowed_auth_method true and the token made
//     with a login method the policy no longer allows: 403;
//
// while /v1/me and the user's own tokens (/v1/access_token) answer as
// before: they are the user's, not the organization's. Application tokens
// are never refused for the policy. A managed user (control API:
// "managed": true) cannot create personal tokens while personal tokens
// are off in their organization: 403.
//
// Inferred (Aiven publishes neither): the 403's words, "Access to
// organization ORG is denied by its authentication policy for this
// personal token", the same for both settings, so that only the
// configuration tells which applies; that the configuration endpoint
// itself is the organization's and so refused to such a token too; that
// reading it takes role:organization:admin (the role that may change it;
// the published document names no permission); an organization's
// defaults (every login method and personal tokens allowed, 2FA not
// required, MCP off); OrganizationGet answering any member and 403 to
// anyone else.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"
)

// Login methods a personal token can be made with; each maps to the
// setting that allows it.
const (
	AuthMethodPassword = "password"
	AuthMethodOAuth    = "oauth"
	AuthMethodSAML     = "saml"
)

// AuthConfig is an organization's authentication configuration, as
// OrganizationAuthenticationConfigGet answers it.
type AuthConfig struct {
	MCPEnabled                             bool `json:"mcp_enabled"`
	MCPReadOnly                            bool `json:"mcp_read_only"`
	OAuthEnabled                           bool `json:"oauth_enabled"`
	PasswordAuthEnabled                    bool `json:"password_auth_enabled"`
	PersonalTokensEnabled                  bool `json:"personal_tokens_enabled"`
	PersonalTokensRequireAllowedAuthMethod bool `json:"personal_tokens_require_allowed_auth_method"`
	SAMLAllowExternal                      bool `json:"saml_allow_external"`
	SAMLEnabled                            bool `json:"saml_enabled"`
	TwoFactorRequired                      bool `json:"two_factor_required"`
}

// AuthConfigPatch changes the settings it names, as
// OrganizationAuthenticationConfigUpdate's body does.
type AuthConfigPatch struct {
	MCPEnabled                             *bool `json:"mcp_enabled,omitempty"`
	MCPReadOnly                            *bool `json:"mcp_read_only,omitempty"`
	OAuthEnabled                           *bool `json:"oauth_enabled,omitempty"`
	PasswordAuthEnabled                    *bool `json:"password_auth_enabled,omitempty"`
	PersonalTokensEnabled                  *bool `json:"personal_tokens_enabled,omitempty"`
	PersonalTokensRequireAllowedAuthMethod *bool `json:"personal_tokens_require_allowed_auth_method,omitempty"`
	SAMLAllowExternal                      *bool `json:"saml_allow_external,omitempty"`
	SAMLEnabled                            *bool `json:"saml_enabled,omitempty"`
	TwoFactorRequired                      *bool `json:"two_factor_required,omitempty"`
}

func (c *AuthConfig) apply(p AuthConfigPatch) {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.MCPEnabled, p.MCPEnabled)
	set(&c.MCPReadOnly, p.MCPReadOnly)
	set(&c.OAuthEnabled, p.OAuthEnabled)
	set(&c.PasswordAuthEnabled, p.PasswordAuthEnabled)
	set(&c.PersonalTokensEnabled, p.PersonalTokensEnabled)
	set(&c.PersonalTokensRequireAllowedAuthMethod, p.PersonalTokensRequireAllowedAuthMethod)
	set(&c.SAMLAllowExternal, p.SAMLAllowExternal)
	set(&c.SAMLEnabled, p.SAMLEnabled)
	set(&c.TwoFactorRequired, p.TwoFactorRequired)
}

// allows says whether the configuration allows logging in with method.
func (c AuthConfig) allows(method string) bool {
	switch method {
	case AuthMethodPassword:
		return c.PasswordAuthEnabled
	case AuthMethodOAuth:
		return c.OAuthEnabled
	case AuthMethodSAML:
		return c.SAMLEnabled
	}
	return false
}

// defaultAuthConfig is a new organization's (inferred): every login method
// and personal tokens allowed, 2FA not required, MCP off.
var defaultAuthConfig = AuthConfig{
	OAuthEnabled: true, PasswordAuthEnabled: true, SAMLEnabled: true, SAMLAllowExternal: true,
	PersonalTokensEnabled: true,
}

// Organization is an organization as the control API shows it.
type Organization struct {
	OrganizationID   string     `json:"organization_id"`
	OrganizationName string     `json:"organization_name"`
	AccountID        string     `json:"account_id"`
	Authentication   AuthConfig `json:"authentication"`
}

type organization struct {
	id, name, accountID string
	created, updated    time.Time
	auth                AuthConfig
}

func (o *organization) view() Organization {
	return Organization{OrganizationID: o.id, OrganizationName: o.name, AccountID: o.accountID, Authentication: o.auth}
}

// ensureOrg returns organization id, making it with the default policy
// the first time anyone names it. Callers hold e.mu.
func (e *Emulator) ensureOrg(id string) *organization {
	if o, ok := e.orgs[id]; ok {
		return o
	}
	now := e.now()
	o := &organization{
		id: id, name: id, accountID: fmt.Sprintf("a%011x", 0x2a0000+len(e.orgs)+1),
		created: now, updated: now, auth: defaultAuthConfig,
	}
	e.orgs[id] = o
	return o
}

// SetOrganization makes organization id if need be, renames it when name
// is not empty, and applies patch to its authentication configuration; it
// answers the organization. The control API's POST /_emulator/organizations
// does the same.
func (e *Emulator) SetOrganization(id, name string, patch AuthConfigPatch) (Organization, error) {
	if id == "" {
		return Organization{}, fmt.Errorf("organization_id is required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.ensureOrg(id)
	if name != "" {
		o.name = name
	}
	o.auth.apply(patch)
	o.updated = e.now()
	return o.view(), nil
}

// Organizations lists the organizations anyone has named, by id.
func (e *Emulator) Organizations() []Organization {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Organization, 0, len(e.orgs))
	for _, o := range e.orgs {
		out = append(out, o.view())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrganizationID < out[j].OrganizationID })
	return out
}

// policyRefusal is the answer to a personal token the organization's
// policy keeps out, or nil. Only a member's personal token on its own
// organization's resources is judged: anyone else is answered by the
// call's own rules. Callers hold e.mu.
func (e *Emulator) policyRefusal(caller *token, orgID string) *apiError {
	p := caller.owner
	if p.application || p.orgID != orgID {
		return nil
	}
	o, ok := e.orgs[orgID]
	if !ok {
		return nil
	}
	if !o.auth.PersonalTokensEnabled ||
		o.auth.PersonalTokensRequireAllowedAuthMethod && !o.auth.allows(caller.authMethod) {
		return errorf(http.StatusForbidden, "Access to organization %s is denied by its authentication policy for this personal token", orgID)
	}
	return nil
}

// mayCreatePersonalToken applies "When you turn off personal tokens,
// managed users can't create personal tokens". Callers hold e.mu.
func (e *Emulator) mayCreatePersonalToken(p *principal) *apiError {
	if !p.managed || p.orgID == "" {
		return nil
	}
	if o, ok := e.orgs[p.orgID]; ok && !o.auth.PersonalTokensEnabled {
		return errorf(http.StatusForbidden, "Personal tokens are turned off for the managed users of organization %s", p.orgID)
	}
	return nil
}

// organizationCall answers OrganizationGet and the authentication
// configuration's GET and PATCH. Callers hold e.mu and have judged the
// policy.
func (e *Emulator) organizationCall(rt route, caller *token, body map[string]json.RawMessage) (int, any, *apiError) {
	o, known := e.orgs[rt.orgID]
	if !known {
		// The published error code for an unknown organization.
		return 0, nil, coded(http.StatusNotFound, "organization_not_found", "Organization %s not found", rt.orgID)
	}
	me := caller.owner
	if me.orgID != rt.orgID {
		return 0, nil, errorf(http.StatusForbidden, "Permission denied: not a member of organization %s", rt.orgID)
	}
	switch rt.op {
	case opOrganizationGet:
		return http.StatusOK, map[string]any{
			"account_id": o.accountID, "create_time": o.created.Format(time.RFC3339),
			"organization_id": o.id, "organization_name": o.name, "tier": "business",
			"update_time": o.updated.Format(time.RFC3339),
		}, nil
	}
	if !slices.Contains(me.permissions, RoleOrganizationAdmin) {
		return 0, nil, errorf(http.StatusForbidden, "Permission denied: the authentication policy of organization %s is for %s only", rt.orgID, RoleOrganizationAdmin)
	}
	if rt.op == opOrgAuthConfigUpdate {
		patch, apiErr := parseAuthConfigPatch(body)
		if apiErr != nil {
			return 0, nil, apiErr
		}
		o.auth.apply(patch)
		o.updated = e.now()
	}
	return http.StatusOK, o.auth, nil
}

// parseAuthConfigPatch reads OrganizationAuthenticationConfigUpdateRequestBody:
// booleans only; an unknown field or another type is refused (inferred,
// as for tokens).
func parseAuthConfigPatch(body map[string]json.RawMessage) (AuthConfigPatch, *apiError) {
	var patch AuthConfigPatch
	names := []string{"mcp_enabled", "mcp_read_only", "oauth_enabled", "password_auth_enabled", "personal_tokens_enabled",
		"personal_tokens_require_allowed_auth_method", "saml_allow_external", "saml_enabled", "two_factor_required"}
	if apiErr := onlyFields(body, names...); apiErr != nil {
		return patch, apiErr
	}
	for name, raw := range body {
		if isNull(raw) {
			continue
		}
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return patch, errorf(http.StatusBadRequest, "Invalid input: %s must be a boolean", name)
		}
	}
	raw, _ := json.Marshal(body)
	if err := json.Unmarshal(raw, &patch); err != nil {
		return patch, errorf(http.StatusBadRequest, "Invalid input: %v", err)
	}
	return patch, nil
}
