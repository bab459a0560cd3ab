package aivenemulator

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	aiven "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/applicationuser"
)

// Application users are made, listed, read, renamed, promoted and deleted
// through Aiven's Go client, every answer validated against the published
// schemas of ApplicationUserCreate, ApplicationUsersList,
// ApplicationUserGet, ApplicationUserUpdate and ApplicationUserDelete.
func TestApplicationUserManagementThroughAivensClient(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	admin, err := f.emu.CreateMember("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	if err != nil {
		t.Fatal(err)
	}
	ac := f.client(admin.Token)

	created, err := ac.ApplicationUserCreate(ctx, "org1", &applicationuser.ApplicationUserCreateIn{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Name != "ci" || created.IsSuperAdmin || created.UserId == "" || created.UserEmail == "" || created.CreateTime.IsZero() {
		t.Fatalf("ApplicationUserCreate: %+v", created)
	}
	// One made through the control API is the same kind of user.
	byControl, err := f.emu.CreateApplicationUser("org1", "deployer", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.emu.CreateApplicationUser("org2", "elsewhere", nil); err != nil {
		t.Fatal(err)
	}

	list, err := ac.ApplicationUsersList(ctx, "org1")
	if err != nil || len(list) != 2 || list[0].UserId != created.UserId || list[1].UserId != byControl.UserID {
		t.Fatalf("ApplicationUsersList: %+v, %v", list, err)
	}

	got, err := ac.ApplicationUserGet(ctx, "org1", created.UserId)
	if err != nil || got.Name != "ci" || got.UserEmail != created.UserEmail || !got.CreateTime.Equal(created.CreateTime) {
		t.Fatalf("ApplicationUserGet: %+v, %v", got, err)
	}

	updated, err := ac.ApplicationUserUpdate(ctx, "org1", created.UserId, &applicationuser.ApplicationUserUpdateIn{Name: "ci-bot", IsSuperAdmin: ptr(true)})
	if err != nil || updated.Name != "ci-bot" || !updated.IsSuperAdmin {
		t.Fatalf("ApplicationUserUpdate: %+v, %v", updated, err)
	}
	// Renaming alone keeps the admin role.
	updated, err = ac.ApplicationUserUpdate(ctx, "org1", created.UserId, &applicationuser.ApplicationUserUpdateIn{Name: "ci"})
	if err != nil || !updated.IsSuperAdmin {
		t.Fatalf("rename: %+v, %v", updated, err)
	}

	// The new user's tokens work as any application user's do; as an
	// organization admin it may manage the other application user.
	tok, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", created.UserId, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(tok.FullToken).ApplicationUserGet(ctx, "org1", byControl.UserID); err != nil {
		t.Fatalf("an admin application user reading another: %v", err)
	}

	if err := ac.ApplicationUserDelete(ctx, "org1", created.UserId); err != nil {
		t.Fatal(err)
	}
	if f.emu.Authenticates(tok.FullToken) {
		t.Fatal("a deleted application user's token still authenticates")
	}
	if _, err := ac.ApplicationUserGet(ctx, "org1", created.UserId); status(err) != http.StatusNotFound {
		t.Fatalf("get after delete: %v, want 404", err)
	}
	if err := ac.ApplicationUserDelete(ctx, "org1", created.UserId); status(err) != http.StatusNotFound {
		t.Fatalf("deleting twice: %v, want 404", err)
	}
	if list, err := ac.ApplicationUsersList(ctx, "org1"); err != nil || len(list) != 1 {
		t.Fatalf("list after delete: %+v, %v", list, err)
	}

	for _, op := range []string{opAppUserCreate, opAppUsersList, opAppUserGet, opAppUserUpdate, opAppUserDelete} {
		if f.check.checked[op] == 0 {
			t.Errorf("no response of %s was validated against the schema", op)
		}
		if f.emu.Faults().Calls()[op] == 0 {
			t.Errorf("%s was not counted", op)
		}
	}
}

// The rules: an organization admin manages every application user;
// organization:app_users:write creates and lists them and manages those
// holding no permissions, but makes no admin; anyone else gets 403.
func TestApplicationUserManagementPermissions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	writer, _ := f.emu.CreateMember("writer@example.com", "org1", []string{PermissionAppUserWrite})
	outsider, _ := f.emu.CreateMember("outsider@example.com", "org2", []string{RoleOrganizationAdmin})
	member, _ := f.emu.CreateMember("member@example.com", "org1", []string{"organization:projects:write"})
	person := f.user("person@example.com")
	powerful, _ := f.emu.CreateApplicationUser("org1", "powerful", []string{RoleOrganizationAdmin})
	wc := f.client(writer.Token)

	plain, err := wc.ApplicationUserCreate(ctx, "org1", &applicationuser.ApplicationUserCreateIn{Name: "plain"})
	if err != nil {
		t.Fatalf("app_users:write creating: %v", err)
	}
	if _, err := wc.ApplicationUserUpdate(ctx, "org1", plain.UserId, &applicationuser.ApplicationUserUpdateIn{Name: "renamed"}); err != nil {
		t.Fatalf("app_users:write renaming a user without permissions: %v", err)
	}
	if list, err := wc.ApplicationUsersList(ctx, "org1"); err != nil || len(list) != 2 {
		t.Fatalf("app_users:write listing: %+v, %v", list, err)
	}
	users := len(f.emu.users)
	forbidden := map[string]func() error{
		"app_users:write making an admin": func() error {
			_, err := wc.ApplicationUserCreate(ctx, "org1", &applicationuser.ApplicationUserCreateIn{Name: "x", IsSuperAdmin: ptr(true)})
			return err
		},
		"app_users:write promoting": func() error {
			_, err := wc.ApplicationUserUpdate(ctx, "org1", plain.UserId, &applicationuser.ApplicationUserUpdateIn{Name: "x", IsSuperAdmin: ptr(true)})
			return err
		},
		"app_users:write reading an admin": func() error {
			_, err := wc.ApplicationUserGet(ctx, "org1", powerful.UserID)
			return err
		},
		"app_users:write deleting an admin": func() error {
			return wc.ApplicationUserDelete(ctx, "org1", powerful.UserID)
		},
		"an admin of another organization listing": func() error {
			_, err := f.client(outsider.Token).ApplicationUsersList(ctx, "org1")
			return err
		},
		"an admin of another organization deleting": func() error {
			return f.client(outsider.Token).ApplicationUserDelete(ctx, "org1", plain.UserId)
		},
		"a member without the permission creating": func() error {
			_, err := f.client(member.Token).ApplicationUserCreate(ctx, "org1", &applicationuser.ApplicationUserCreateIn{Name: "x"})
			return err
		},
		"a person of no organization listing": func() error {
			_, err := f.client(person.Token).ApplicationUsersList(ctx, "org1")
			return err
		},
	}
	for name, call := range forbidden {
		if err := call(); status(err) != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", name, err)
		}
	}
	if len(f.emu.users) != users {
		t.Fatalf("refused calls changed the users: %d → %d", users, len(f.emu.users))
	}
	if got, _ := f.client(writer.Token).ApplicationUserGet(ctx, "org1", plain.UserId); got == nil || got.Name != "renamed" || got.IsSuperAdmin {
		t.Fatalf("refused calls changed the user: %+v", got)
	}
}

// The schema's error codes: a user of another organization or none is 404
// organization_user_not_found, a person is 400 user_not_application_user;
// bad bodies are 400 and change nothing.
func TestApplicationUserManagementErrors(t *testing.T) {
	f := newFixture(t)
	admin, _ := f.emu.CreateMember("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	other, _ := f.emu.CreateApplicationUser("org2", "other", nil)
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	auth := "aivenv1 " + admin.Token
	errorCode := func(body string) string {
		var e struct {
			Errors []struct {
				ErrorCode string `json:"error_code"`
			} `json:"errors"`
		}
		if json.Unmarshal([]byte(body), &e) != nil || len(e.Errors) != 1 {
			return ""
		}
		return e.Errors[0].ErrorCode
	}
	for _, c := range []struct {
		name, method, path, body string
		code                     int
		errorCode                string
	}{
		{"another organization's user", "GET", "/v1/organization/org1/application-users/" + other.UserID, "", 404, "organization_user_not_found"},
		{"no such user", "PATCH", "/v1/organization/org1/application-users/u99999999", `{"name":"x"}`, 404, "organization_user_not_found"},
		{"a person", "GET", "/v1/organization/org1/application-users/" + admin.UserID, "", 400, "user_not_application_user"},
		{"no name", "POST", "/v1/organization/org1/application-users", `{}`, 400, ""},
		{"empty name", "POST", "/v1/organization/org1/application-users", `{"name":""}`, 400, ""},
		{"name not a string", "PATCH", "/v1/organization/org1/application-users/" + app.UserID, `{"name":1}`, 400, ""},
		{"is_super_admin not a boolean", "POST", "/v1/organization/org1/application-users", `{"name":"x","is_super_admin":"yes"}`, 400, ""},
		{"unknown field", "POST", "/v1/organization/org1/application-users", `{"name":"x","permissions":[]}`, 400, ""},
		{"wrong method", "PUT", "/v1/organization/org1/application-users/" + app.UserID, `{"name":"x"}`, 405, ""},
	} {
		code, body := rawCall(t, f, c.method, c.path, auth, c.body)
		if code != c.code || errorCode(body) != c.errorCode || aivenErrorShape(code, []byte(body)) != "" {
			t.Errorf("%s: %d %s, want %d with error_code %q", c.name, code, body, c.code, c.errorCode)
		}
	}
	if n := len(f.emu.users); n != 3 {
		t.Fatalf("%d users after refused calls, want 3", n)
	}
	code, body := rawCall(t, f, "GET", "/v1/organization/org1/application-users/"+app.UserID, auth, "")
	if code != 200 || !json.Valid([]byte(body)) {
		t.Fatalf("get: %d %s", code, body)
	}
}

// Aiven's API reference shows "Authorization: aivenv1 <TOKEN>"; its
// OpenAPI document declares the scheme HTTP bearer; RFC 9110 makes the
// scheme case-insensitive. Each form authenticates, through real HTTP.
func TestAuthorizationSchemes(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	for _, scheme := range []string{"aivenv1", "AIVENV1", "AivenV1", "Bearer", "bearer", "BEARER"} {
		code, body := rawCall(t, f, http.MethodGet, "/v1/me", scheme+" "+me.Token, "")
		if code != http.StatusOK {
			t.Errorf("%s: %d %s", scheme, code, body)
		}
	}
	// Several spaces between scheme and token (RFC 9110: 1*SP).
	if code, body := rawCall(t, f, http.MethodGet, "/v1/me", "Bearer   "+me.Token, ""); code != http.StatusOK {
		t.Errorf("Bearer with three spaces: %d %s", code, body)
	}
	// A Bearer token is the same token: its use is recorded, and the
	// rate limit counts it with the aivenv1 calls.
	if err := f.emu.SetRateLimit(RateLimit{Requests: 1, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if code, _ := rawCall(t, f, http.MethodGet, "/v1/me", "Bearer "+me.Token, ""); code != http.StatusOK {
		t.Fatalf("first call: %d", code)
	}
	if code, _ := rawCall(t, f, http.MethodGet, "/v1/me", "aivenv1 "+me.Token, ""); code != http.StatusTooManyRequests {
		t.Fatalf("second call, other scheme: %d, want 429", code)
	}
	f.emu.ClearRateLimit()
	// Aiven's Go client, whose requests say aivenv1, and a client sending
	// Bearer see the same answers.
	c, err := aiven.NewClient(aiven.TokenOpt(me.Token), aiven.HostOpt(f.srv.URL), aiven.RetryMaxOpt(0),
		aiven.DoerOpt(&http.Client{Transport: bearer{f.check}}))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := c.UserInfo(t.Context()); err != nil || info.UserId != me.UserID {
		t.Fatalf("UserInfo with Bearer: %+v, %v", info, err)
	}
}

// bearer rewrites "aivenv1 T" to "Bearer T", as a client following the
// OpenAPI document's security scheme sends it.
type bearer struct{ next http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if v := r.Header.Get("Authorization"); len(v) > 8 {
		r.Header.Set("Authorization", "Bearer "+v[len("aivenv1 "):])
	}
	return b.next.RoundTrip(r)
}
