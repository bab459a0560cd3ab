package aivenemulator

import (
	"net/http"
	"testing"

	"github.com/aiven/go-client-codegen/handler/applicationuser"
)

// CreateMember makes an organization's person whose personal token may
// manage the organization's application users' tokens; without an
// organization it refuses, as such a person could manage none.
func TestCreateMember(t *testing.T) {
	f := newFixture(t)
	if _, err := f.emu.CreateMember("nobody@example.com", "", []string{RoleOrganizationAdmin}); err == nil {
		t.Fatal("CreateMember without an organization succeeded")
	}
	admin, err := f.emu.CreateMember("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	if err != nil {
		t.Fatal(err)
	}
	member, err := f.emu.CreateMember("member@example.com", "org1", nil)
	if err != nil {
		t.Fatal(err)
	}
	app, err := f.emu.CreateApplicationUser("org1", "ci", []string{"organization:projects:write"})
	if err != nil {
		t.Fatal(err)
	}
	in := &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "t"}
	if _, err := f.client(admin.Token).ApplicationUserAccessTokenCreate(t.Context(), "org1", app.UserID, in); err != nil {
		t.Fatalf("an admin made by CreateMember: %v", err)
	}
	if _, err := f.client(member.Token).ApplicationUserAccessTokenCreate(t.Context(), "org1", app.UserID, in); status(err) != http.StatusForbidden {
		t.Fatalf("a member without permissions: %v, want 403", err)
	}
	if me, err := f.client(admin.Token).UserInfo(t.Context()); err != nil || me.UserId != admin.UserID {
		t.Fatalf("the member's personal token: %v, %v", me, err)
	}
}
