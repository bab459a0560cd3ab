package aivenemulator

import (
	"slices"
	"testing"
)

// The organization calls' published schemas are checked like the rest:
// loadSchema adds them to shared/spec's excerpt, and the authentication
// configuration carries the two personal-token settings of Aiven's
// organization authentication policy.
func TestOrganizationSchemasAreLoaded(t *testing.T) {
	for _, op := range []string{opOrganizationGet, opOrgAuthConfigGet, opOrgAuthConfigUpdate} {
		s := responseSchema(t, op, 200)
		if len(s.Properties) == 0 {
			t.Errorf("%s: the schema declares no properties", op)
		}
	}
	cfg := responseSchema(t, opOrgAuthConfigGet, 200)
	for _, name := range []string{"personal_tokens_enabled", "personal_tokens_require_allowed_auth_method", "password_auth_enabled", "oauth_enabled", "saml_enabled"} {
		if p, ok := cfg.Properties[name]; !ok || p.Value == nil || !p.Value.Type.Is("boolean") {
			t.Errorf("OrganizationAuthenticationConfigGetResponse.%s is not a declared boolean", name)
		}
	}
	org := responseSchema(t, opOrganizationGet, 200)
	for _, name := range []string{"account_id", "create_time", "organization_id", "organization_name", "tier", "update_time"} {
		if !slices.Contains(org.Required, name) {
			t.Errorf("OrganizationGetResponse does not require %s", name)
		}
	}
}
