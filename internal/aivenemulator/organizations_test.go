package aivenemulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aiven/go-client-codegen/handler/applicationuser"
	codegenorg "github.com/aiven/go-client-codegen/handler/organization"
	"github.com/aiven/go-client-codegen/handler/user"
)

// orgFixture is organization org1 with an admin (a person), a member
// without a role, an application user who is an organization admin with a
// token, and a person of org2.
type orgFixture struct {
	*fixture
	admin, member, other User
	appUserID, appToken  string
}

func newOrgFixture(t *testing.T) *orgFixture {
	f := &orgFixture{fixture: newFixture(t)}
	var err error
	if f.admin, err = f.emu.CreateMember("admin@example.com", "org1", []string{RoleOrganizationAdmin}); err != nil {
		t.Fatal(err)
	}
	if f.member, err = f.emu.CreateMember("dev@example.com", "org1", nil); err != nil {
		t.Fatal(err)
	}
	if f.other, err = f.emu.CreateMember("else@example.com", "org2", nil); err != nil {
		t.Fatal(err)
	}
	app, err := f.emu.CreateApplicationUser("org1", "rotator", []string{RoleOrganizationAdmin})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.client(f.admin.Token).ApplicationUserAccessTokenCreate(t.Context(), "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "rotator"})
	if err != nil {
		t.Fatal(err)
	}
	f.appUserID, f.appToken = app.UserID, tok.FullToken
	return f
}

// OrganizationGet answers the organization's members, people and
// application users alike; anyone else 403, an unknown organization 404
// organization_not_found. Every answer is checked against the published
// schema by the fixture's client.
func TestOrganizationGet(t *testing.T) {
	f := newOrgFixture(t)
	ctx := t.Context()
	for name, tok := range map[string]string{"admin": f.admin.Token, "member": f.member.Token, "application user": f.appToken} {
		out, err := f.client(tok).OrganizationGet(ctx, "org1")
		if err != nil || out.OrganizationId != "org1" || out.Tier != codegenorg.TierTypeBusiness || out.AccountId == "" {
			t.Errorf("%s: %+v %v", name, out, err)
		}
	}
	if _, err := f.client(f.other.Token).OrganizationGet(ctx, "org1"); status(err) != http.StatusForbidden {
		t.Errorf("another organization's member: %v, want 403", err)
	}
	if code, body := rawCall(t, f.fixture, http.MethodGet, "/v1/organization/org9", "aivenv1 "+f.member.Token, ""); code != http.StatusNotFound || !strings.Contains(body, `"error_code":"organization_not_found"`) {
		t.Errorf("an unknown organization: %d %s", code, body)
	}
	if f.check.checked[opOrganizationGet] == 0 {
		t.Error("no OrganizationGet answer was validated against the schema")
	}
}

// The authentication configuration: an organization admin reads and
// changes it (GET, PATCH); any other member, app_users:write included, is
// refused; a new organization allows every login method and personal
// tokens.
func TestAuthenticationConfigIsAnAdminsToRead(t *testing.T) {
	f := newOrgFixture(t)
	ctx := t.Context()
	got, err := f.client(f.admin.Token).OrganizationAuthenticationConfigGet(ctx, "org1")
	if err != nil {
		t.Fatal(err)
	}
	if !*got.PersonalTokensEnabled || *got.PersonalTokensRequireAllowedAuthMethod || !*got.PasswordAuthEnabled || !*got.OauthEnabled || !*got.SamlEnabled || *got.TwoFactorRequired {
		t.Fatalf("a new organization's configuration: %+v", got)
	}
	writer, err := f.emu.CreateMember("apps@example.com", "org1", []string{PermissionAppUserWrite})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"member": f.member.Token, "app_users:write": writer.Token, "another organization": f.other.Token} {
		if _, err := f.client(tok).OrganizationAuthenticationConfigGet(ctx, "org1"); status(err) != http.StatusForbidden {
			t.Errorf("%s reads the configuration: %v, want 403", name, err)
		}
	}
	off := false
	updated, err := f.client(f.appToken).OrganizationAuthenticationConfigUpdate(ctx, "org1", &codegenorg.OrganizationAuthenticationConfigUpdateIn{TwoFactorRequired: ptr(true), OauthEnabled: &off})
	if err != nil || !*updated.TwoFactorRequired || *updated.OauthEnabled || !*updated.PasswordAuthEnabled {
		t.Fatalf("PATCH by an admin application user: %+v %v", updated, err)
	}
	for _, body := range []string{`{"personal_tokens":false}`, `{"personal_tokens_enabled":"no"}`} {
		if code, out := rawCall(t, f.fixture, http.MethodPatch, "/v1/organization/org1/config/authentication", "aivenv1 "+f.admin.Token, body); code != http.StatusBadRequest {
			t.Errorf("PATCH %s: %d %s", body, code, out)
		}
	}
	for _, op := range []string{opOrgAuthConfigGet, opOrgAuthConfigUpdate} {
		if f.check.checked[op] == 0 {
			t.Errorf("no %s answer was validated against the schema", op)
		}
	}
}

// personal_tokens_enabled false: a member's personal token still works for
// /v1/me and its own tokens, and is refused on every call of the
// organization (the organization itself, its application users and their
// tokens, its configuration, an admin's token included); an application
// user's token is not subject to the policy; another organization's member
// is not affected; a managed user can no longer create personal tokens.
func TestPersonalTokensOffKeepsPersonalTokensOutOfTheOrganization(t *testing.T) {
	f := newOrgFixture(t)
	ctx := t.Context()
	managed, err := f.emu.CreateUserWith(UserSpec{Email: "managed@example.com", OrganizationID: "org1", Managed: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.emu.SetOrganization("org1", "", AuthConfigPatch{PersonalTokensEnabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}

	for name, tok := range map[string]string{"admin": f.admin.Token, "member": f.member.Token} {
		c := f.client(tok)
		if _, err := c.UserInfo(ctx); err != nil {
			t.Errorf("%s: /v1/me: %v", name, err)
		}
		if _, err := c.AccessTokenList(ctx); err != nil {
			t.Errorf("%s: own tokens: %v", name, err)
		}
		if _, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "non-managed users may still create"}); err != nil {
			t.Errorf("%s: create a personal token: %v", name, err)
		}
		_, err := c.OrganizationGet(ctx, "org1")
		if status(err) != http.StatusForbidden || !strings.Contains(err.Error(), "authentication policy") {
			t.Errorf("%s: OrganizationGet: %v, want 403 naming the authentication policy", name, err)
		}
	}
	admin := f.client(f.admin.Token)
	if _, err := admin.OrganizationAuthenticationConfigGet(ctx, "org1"); status(err) != http.StatusForbidden {
		t.Errorf("an admin's personal token reads the configuration: %v", err)
	}
	if _, err := admin.ApplicationUsersList(ctx, "org1"); status(err) != http.StatusForbidden {
		t.Errorf("an admin's personal token lists application users: %v", err)
	}
	if code, body := rawCall(t, f.fixture, http.MethodGet, "/v1/organization/org1/application-users/"+f.appUserID+"/access-tokens", "aivenv1 "+f.admin.Token, ""); code != http.StatusForbidden {
		t.Errorf("an admin's personal token lists application tokens: %d %s", code, body)
	}

	app := f.client(f.appToken)
	if _, err := app.OrganizationGet(ctx, "org1"); err != nil {
		t.Errorf("an application token under the policy: %v", err)
	}
	cfg, err := app.OrganizationAuthenticationConfigGet(ctx, "org1")
	if err != nil || *cfg.PersonalTokensEnabled {
		t.Errorf("an admin application token reads the configuration: %+v %v", cfg, err)
	}
	if _, err := f.client(f.other.Token).OrganizationGet(ctx, "org2"); err != nil {
		t.Errorf("org1's policy reached org2: %v", err)
	}
	if _, err := f.client(managed.Token).AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "refused"}); status(err) != http.StatusForbidden {
		t.Errorf("a managed user creates a personal token with personal tokens off: %v", err)
	}
	if _, err := f.client(managed.Token).UserInfo(ctx); err != nil {
		t.Errorf("a managed user's /v1/me: %v", err)
	}

	if _, err := f.emu.SetOrganization("org1", "", AuthConfigPatch{PersonalTokensEnabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(f.member.Token).OrganizationGet(ctx, "org1"); err != nil {
		t.Errorf("personal tokens on again: %v", err)
	}
}

// personal_tokens_require_allowed_auth_method: a token made with a login
// method the policy no longer allows (and every token it made) is refused
// on the organization's calls; a token of an allowed method is not.
func TestPersonalTokensMustComeFromAnAllowedLoginMethod(t *testing.T) {
	f := newOrgFixture(t)
	ctx := t.Context()
	google, err := f.emu.CreateUserWith(UserSpec{Email: "sso@example.com", OrganizationID: "org1", AuthMethod: AuthMethodOAuth})
	if err != nil {
		t.Fatal(err)
	}
	made, err := f.client(google.Token).AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "made with an OAuth login's token"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.emu.SetOrganization("org1", "", AuthConfigPatch{OAuthEnabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(google.Token).OrganizationGet(ctx, "org1"); err != nil {
		t.Fatalf("OAuth turned off, tokens not required to conform: %v", err)
	}
	if _, err := f.emu.SetOrganization("org1", "", AuthConfigPatch{PersonalTokensRequireAllowedAuthMethod: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"the OAuth login's token": google.Token, "a token it made": made.FullToken} {
		if _, err := f.client(tok).OrganizationGet(ctx, "org1"); status(err) != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", name, err)
		}
		if _, err := f.client(tok).UserInfo(ctx); err != nil {
			t.Errorf("%s: /v1/me: %v", name, err)
		}
	}
	if _, err := f.client(f.member.Token).OrganizationGet(ctx, "org1"); err != nil {
		t.Errorf("a password login's token: %v", err)
	}
}

// The control API sets and shows an organization's policy, and makes
// managed users and users of another login method.
func TestOrganizationsControlAPI(t *testing.T) {
	f := newFixture(t)
	code, body := rawControl(t, f, http.MethodPost, "/_emulator/organizations",
		`{"organization_id":"org1","organization_name":"Acme","authentication":{"personal_tokens_enabled":false}}`)
	var o Organization
	if code != http.StatusOK || json.Unmarshal([]byte(body), &o) != nil || o.OrganizationName != "Acme" ||
		o.Authentication.PersonalTokensEnabled || !o.Authentication.PasswordAuthEnabled {
		t.Fatalf("POST /_emulator/organizations: %d %s", code, body)
	}
	code, body = rawControl(t, f, http.MethodPost, "/_emulator/users", `{"email":"m@example.com","organization_id":"org1","managed":true,"auth_method":"saml"}`)
	var u User
	if code != http.StatusOK || json.Unmarshal([]byte(body), &u) != nil {
		t.Fatalf("a managed SAML user: %d %s", code, body)
	}
	if code, body := rawCall(t, f, http.MethodPost, "/v1/access_token", "aivenv1 "+u.Token, `{"description":"x"}`); code != http.StatusForbidden {
		t.Fatalf("a managed user's token creation with personal tokens off: %d %s", code, body)
	}
	if code, body := rawControl(t, f, http.MethodPost, "/_emulator/users", `{"email":"x@example.com","auth_method":"kerberos"}`); code != http.StatusBadRequest {
		t.Fatalf("an unknown login method: %d %s", code, body)
	}
	if code, body := rawControl(t, f, http.MethodPost, "/_emulator/organizations", `{"authentication":{}}`); code != http.StatusBadRequest {
		t.Fatalf("no organization_id: %d %s", code, body)
	}
	code, body = rawControl(t, f, http.MethodGet, "/_emulator/organizations", "")
	if code != http.StatusOK || !strings.Contains(body, `"personal_tokens_enabled":false`) || !strings.Contains(body, `"organization_id":"org1"`) {
		t.Fatalf("GET /_emulator/organizations: %d %s", code, body)
	}
}
