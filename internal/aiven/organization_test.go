package aiven

import (
	"slices"
	"strings"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

func boolp(b bool) *bool { return &b }

// The organization probe and the policy read against the emulator: what a
// personal token kept out by the organization's authentication policy can
// and cannot do, and what an admin application token (not subject to it)
// reads of the policy.
func TestOrganizationProbeAndPolicyAgainstTheEmulator(t *testing.T) {
	w := newEmulatorWorld(t)
	ctx := t.Context()
	member, err := w.emu.CreateMember("dev@example.com", "org1", nil)
	if err != nil {
		t.Fatal(err)
	}
	adminApp, err := w.emu.CreateApplicationUser("org1", "rotator", []string{aivenemulator.RoleOrganizationAdmin})
	if err != nil {
		t.Fatal(err)
	}
	appTok, err := w.client(t, w.admin.Token).createApplicationToken(ctx, ApplicationUser{OrganizationID: "org1", UserID: adminApp.UserID}, CreateRequest{Description: "rotator"})
	if err != nil {
		t.Fatal(err)
	}
	admin, dev, app := w.client(t, w.admin.Token), w.client(t, member.Token), w.client(t, appTok.FullToken.Reveal())

	// No policy in the way.
	org, err := dev.Organization(ctx, "org1")
	if err != nil || org.ID != "org1" || org.AccountID == "" {
		t.Fatalf("Organization: %+v %v", org, err)
	}
	p, err := admin.AuthenticationPolicy(ctx, "org1")
	if err != nil || p.PersonalTokensEnabled == nil || !*p.PersonalTokensEnabled || len(p.KeepsOutPersonalTokens()) != 0 {
		t.Fatalf("AuthenticationPolicy of a new organization: %+v %v", p, err)
	}
	if _, err := dev.AuthenticationPolicy(ctx, "org1"); !IsForbidden(err) {
		t.Fatalf("a member without the admin role reads the policy: %v", err)
	}
	if _, err := dev.Organization(ctx, "org2"); !IsNotFound(err) {
		t.Fatalf("an unknown organization: %v", err)
	}

	// Personal tokens off: /v1/me passes, the organization refuses.
	if _, err := w.emu.SetOrganization("org1", "", aivenemulator.AuthConfigPatch{PersonalTokensEnabled: boolp(false)}); err != nil {
		t.Fatal(err)
	}
	w.emu.Faults().ResetCalls()
	for name, c := range map[string]*Client{"member": dev, "admin": admin} {
		if _, err := c.Me(ctx); err != nil {
			t.Errorf("%s: /v1/me under the policy: %v", name, err)
		}
		_, err := c.Organization(ctx, "org1")
		if !IsForbidden(err) {
			t.Errorf("%s: Organization under the policy: %v, want 403", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), w.admin.Token[:24]) || strings.Contains(err.Error(), member.Token[:24])) {
			t.Errorf("%s: the error carries a token: %v", name, err)
		}
		if _, err := c.AuthenticationPolicy(ctx, "org1"); !IsForbidden(err) {
			t.Errorf("%s: AuthenticationPolicy with a personal token kept out: %v, want 403", name, err)
		}
	}
	if n := w.emu.Faults().Calls()["OrganizationGet"]; n != 2 {
		t.Errorf("OrganizationGet was sent %d times for two refused probes: a 403 is not retried", n)
	}
	if _, err := app.Organization(ctx, "org1"); err != nil {
		t.Errorf("an application token under the policy: %v", err)
	}
	p, err = app.AuthenticationPolicy(ctx, "org1")
	if err != nil || !slices.Equal(p.KeepsOutPersonalTokens(), []string{SettingPersonalTokensEnabled}) {
		t.Fatalf("the policy read by an admin application token: %+v %v", p, err)
	}

	// Tokens must come from an allowed login method.
	if _, err := w.emu.SetOrganization("org1", "", aivenemulator.AuthConfigPatch{
		PersonalTokensEnabled: boolp(true), PersonalTokensRequireAllowedAuthMethod: boolp(true), PasswordAuthEnabled: boolp(false),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Organization(ctx, "org1"); !IsForbidden(err) {
		t.Errorf("a password login's token, password logins no longer allowed: %v", err)
	}
	p, err = app.AuthenticationPolicy(ctx, "org1")
	if err != nil || !slices.Equal(p.KeepsOutPersonalTokens(), []string{SettingPersonalTokensRequireAllowedAuth}) ||
		p.PasswordAuthEnabled == nil || *p.PasswordAuthEnabled {
		t.Fatalf("the policy: %+v %v", p, err)
	}
}

// Both calls retry what may pass (a 5xx) and send nothing for an id that
// is not of Aiven's shape.
func TestOrganizationCallsRetryAndCheckTheID(t *testing.T) {
	w := newEmulatorWorld(t)
	ctx := t.Context()
	c := w.client(t, w.admin.Token)
	for _, op := range []string{"OrganizationGet", "OrganizationAuthenticationConfigGet"} {
		if err := w.emu.Faults().Add(faults.Rule{Operation: op, Times: 1, Status: 503}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Organization(ctx, "org1"); err != nil {
		t.Errorf("Organization after one 503: %v", err)
	}
	if _, err := c.AuthenticationPolicy(ctx, "org1"); err != nil {
		t.Errorf("AuthenticationPolicy after one 503: %v", err)
	}
	w.emu.Faults().ResetCalls()
	for _, id := range []string{"", "../me", "org1/config", "org%2F1"} {
		if _, err := c.Organization(ctx, id); err == nil || strings.Contains(err.Error(), id) && id != "" {
			t.Errorf("Organization(%q): %v", id, err)
		}
		if _, err := c.AuthenticationPolicy(ctx, id); err == nil {
			t.Errorf("AuthenticationPolicy(%q) sent", id)
		}
	}
	if calls := w.emu.Faults().Calls(); len(calls) != 0 {
		t.Errorf("malformed ids reached Aiven: %v", calls)
	}
}
