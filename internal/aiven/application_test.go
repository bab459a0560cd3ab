package aiven

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// emulatorWorld is an Aiven emulator with an organization admin, a member
// holding organization:app_users:write only, and an application user
// holding no permissions, all of org1.
type emulatorWorld struct {
	emu     *aivenemulator.Emulator
	url     string
	admin   aivenemulator.User
	writer  aivenemulator.User
	app     ApplicationUser
	privApp ApplicationUser // holds a permission: only an admin manages it
}

func newEmulatorWorld(t *testing.T) *emulatorWorld {
	t.Helper()
	emu := aivenemulator.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	w := &emulatorWorld{emu: emu, url: srv.URL}
	post := func(path, body string, out any) {
		t.Helper()
		rsp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer rsp.Body.Close()
		b, _ := io.ReadAll(rsp.Body)
		if rsp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, rsp.StatusCode, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	post("/_emulator/users", `{"email":"admin@example.com","organization_id":"org1","permissions":["role:organization:admin"]}`, &w.admin)
	post("/_emulator/users", `{"email":"writer@example.com","organization_id":"org1","permissions":["organization:app_users:write"]}`, &w.writer)
	var a, p aivenemulator.ApplicationUser
	post("/_emulator/application-users", `{"organization_id":"org1","name":"ci","permissions":[]}`, &a)
	post("/_emulator/application-users", `{"organization_id":"org1","name":"deployer","permissions":["project:services:write"]}`, &p)
	w.app = ApplicationUser{OrganizationID: a.OrganizationID, UserID: a.UserID}
	w.privApp = ApplicationUser{OrganizationID: p.OrganizationID, UserID: p.UserID}
	return w
}

func (w *emulatorWorld) client(t *testing.T, token string) *Client {
	t.Helper()
	c, err := newClient(w.url, secret.NewToken(token), loopbackOptions())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The whole cycle through go-client-codegen against the emulator: a
// manager creates application tokens with carried settings, lists them,
// the new token authenticates as the application user, and deleting is
// idempotent. Six tokens are made so that prefixes holding '+' or '/'
// (every third one in the emulator) go through the delete path.
func TestApplicationTokenCycleAgainstTheEmulator(t *testing.T) {
	w := newEmulatorWorld(t)
	ctx := context.Background()
	tokens := w.client(t, w.admin.Token).ApplicationTokens(w.app)

	age := 3600.0
	ext := true
	var made []NewToken
	for i := 0; i < 6; i++ {
		nt, err := tokens.CreateToken(ctx, CreateRequest{
			Description: "ci [m]", MaxAgeSeconds: &age, ExtendWhenUsed: &ext,
			Scopes: []string{"user:read"}, IPAllowlist: []string{"127.0.0.0/8"},
		})
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if !nt.FullToken.HasPrefix(nt.Prefix) || nt.MaxAgeSeconds != 3600 || nt.Description != "ci [m]" {
			t.Fatalf("create %d: prefix %q, settings %+v", i, nt.Prefix, nt.Token)
		}
		made = append(made, nt)
	}
	escaping := 0
	for _, nt := range made {
		if strings.ContainsAny(nt.Prefix, "+/") {
			escaping++
		}
	}
	if escaping == 0 {
		t.Fatal("the emulator issued no prefix with + or / in six tokens")
	}

	listed, err := tokens.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(made) {
		t.Fatalf("listed %d tokens, want %d", len(listed), len(made))
	}
	for _, l := range listed {
		if l.CurrentlyActive || l.MaxAgeSeconds != 3600 || !l.ExtendWhenUsed || l.Description != "ci [m]" ||
			len(l.Scopes) != 1 || len(l.IPAllowlist) != 1 || l.ExpiryTime == nil || l.CreateTime.IsZero() {
			t.Errorf("listed %+v", l)
		}
	}

	me, err := w.client(t, made[0].FullToken.Reveal()).Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.UserID != w.app.UserID {
		t.Errorf("the new token authenticates as %s, want %s", me.UserID, w.app.UserID)
	}

	for _, nt := range made {
		revoked, err := tokens.RevokeToken(ctx, nt.Prefix)
		if err != nil || !revoked {
			t.Fatalf("revoke %q: %v, %v", nt.Prefix, revoked, err)
		}
		if w.emu.Authenticates(nt.FullToken.Reveal()) {
			t.Fatalf("token %q still authenticates after its revocation", nt.Prefix)
		}
		revoked, err = tokens.RevokeToken(ctx, nt.Prefix)
		if err != nil || revoked {
			t.Fatalf("second revoke of %q = %v, %v; want false, nil (already gone)", nt.Prefix, revoked, err)
		}
	}
	if listed, err := tokens.ListTokens(ctx); err != nil || len(listed) != 0 {
		t.Fatalf("after revoking all: %d listed, %v", len(listed), err)
	}
}

// Application tokens never expire when max_age_seconds is unset, and the
// request leaves it out rather than sending a default.
func TestApplicationTokenWithoutMaxAgeNeverExpires(t *testing.T) {
	w := newEmulatorWorld(t)
	ctx := context.Background()
	tokens := w.client(t, w.admin.Token).ApplicationTokens(w.app)
	if _, err := tokens.CreateToken(ctx, CreateRequest{Description: "forever"}); err != nil {
		t.Fatal(err)
	}
	listed, err := tokens.ListTokens(ctx)
	if err != nil || len(listed) != 1 {
		t.Fatalf("%d listed, %v", len(listed), err)
	}
	if listed[0].ExpiryTime != nil || listed[0].MaxAgeSeconds != 0 {
		t.Errorf("expiry %v, max age %v; want none", listed[0].ExpiryTime, listed[0].MaxAgeSeconds)
	}
}

// The manager's rights and the target's existence are classified, and no
// error quotes a token.
func TestApplicationTokenErrorsAgainstTheEmulator(t *testing.T) {
	w := newEmulatorWorld(t)
	ctx := context.Background()
	var appToken string
	{
		nt, err := w.client(t, w.admin.Token).createApplicationToken(ctx, w.app, CreateRequest{Description: "app"})
		if err != nil {
			t.Fatal(err)
		}
		appToken = nt.FullToken.Reveal()
	}
	tests := []struct {
		name  string
		token string
		user  ApplicationUser
		is    func(error) bool
	}{
		{"app_users:write may not manage an application user holding permissions", w.writer.Token, w.privApp, IsForbidden},
		{"a person outside the organization", "", w.app, IsForbidden},
		{"an application token does not manage tokens", appToken, w.app, IsForbidden},
		{"unknown organization", w.admin.Token, ApplicationUser{OrganizationID: "org-nope", UserID: w.app.UserID}, IsNotFound},
		{"unknown application user", w.admin.Token, ApplicationUser{OrganizationID: "org1", UserID: "u-nope"}, IsNotFound},
		{"a person's id is no application user", w.admin.Token, ApplicationUser{OrganizationID: "org1", UserID: w.writer.UserID}, IsNotFound},
	}
	outsider, err := w.emu.CreateUser("outsider@example.com")
	if err != nil {
		t.Fatal(err)
	}
	tests[1].token = outsider.Token
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := w.client(t, tt.token)
			_, lerr := c.listApplicationTokens(ctx, tt.user)
			_, cerr := c.createApplicationToken(ctx, tt.user, CreateRequest{Description: "x"})
			for i, err := range []error{lerr, cerr} {
				// The operation stays readable: scrub keeps its long name.
				if op := []string{"ApplicationUserAccessTokensList", "ApplicationUserAccessTokenCreate"}[i]; !strings.Contains(fmt.Sprint(err), op) {
					t.Errorf("error %v does not name the operation %s", err, op)
				}
				if !tt.is(err) || IsAmbiguous(err) {
					t.Errorf("err = %v (status %d, ambiguous %v)", err, Status(err), IsAmbiguous(err))
				}
				if err != nil && (strings.Contains(err.Error(), tt.token) || strings.Contains(err.Error(), appToken)) {
					t.Errorf("error quotes a token: %v", err)
				}
			}
		})
	}
	if _, err := w.client(t, w.writer.Token).listApplicationTokens(ctx, w.app); err != nil {
		t.Errorf("app_users:write may manage an application user holding no permissions: %v", err)
	}

	// A revoked manager token is a 401, not a missing right.
	if _, err := w.client(t, w.admin.Token).RevokeToken(ctx, w.admin.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	if _, err := w.client(t, w.admin.Token).listApplicationTokens(ctx, w.app); !IsUnauthorized(err) {
		t.Errorf("revoked manager: err = %v, want 401", err)
	}
}

// appServer is an httptest server answering application-token calls with
// the replies given in turn, recording what it was sent.
type appServer struct {
	*fakeAiven
	// mu guards the records: a handler that drops the connection lets the
	// client return before the network orders the two.
	mu      sync.Mutex
	bodies  []string
	paths   []string
	methods []string
}

// first is the first request's method, escaped path and body.
func (s *appServer) first() (method, path, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.methods[0], s.paths[0], s.bodies[0]
}

func newAppServer(t *testing.T, replies ...func(http.ResponseWriter)) *appServer {
	t.Helper()
	s := &appServer{}
	var n atomic.Int32
	s.fakeAiven = newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.paths = append(s.paths, r.URL.EscapedPath())
		s.methods = append(s.methods, r.Method)
		s.mu.Unlock()
		i := int(n.Add(1)) - 1
		replies[min(i, len(replies)-1)](w)
	})
	return s
}

var testApp = ApplicationUser{OrganizationID: "org1", UserID: "u2a000003"}

func appCreated(w http.ResponseWriter) {
	writeJSON(w, 200, `{"full_token":"NEWFULLTOKEN","token_prefix":"NEWFULL"}`)
}

func TestCreateApplicationToken(t *testing.T) {
	tests := []struct {
		name          string
		replies       []func(http.ResponseWriter)
		wantCalls     int32
		wantAmbiguous bool
		wantErr       bool
	}{
		{name: "created", replies: []func(http.ResponseWriter){appCreated}, wantCalls: 1},
		{name: "503 is ambiguous and not retried", replies: []func(http.ResponseWriter){status(503)}, wantCalls: 1, wantAmbiguous: true, wantErr: true},
		{
			name: "connection dropped is ambiguous and not retried",
			replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
			}},
			wantCalls: 1, wantAmbiguous: true, wantErr: true,
		},
		{name: "a 2xx without full_token is ambiguous", replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
			writeJSON(w, 200, `{"token_prefix":"NEWFULL"}`)
		}}, wantCalls: 1, wantAmbiguous: true, wantErr: true},
		{name: "403 is definite", replies: []func(http.ResponseWriter){status(403)}, wantCalls: 1, wantErr: true},
		{name: "429 is retried", replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 429, `{"message":"Rate limit 120 exceeded - try again in 0s"}`)
		}, appCreated}, wantCalls: 2},
	}
	age := 86400.0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newAppServer(t, tt.replies...)
			nt, err := newTestClient(t, srv.URL, loopbackOptions()).createApplicationToken(context.Background(), testApp, CreateRequest{
				Description: "ci [m]", MaxAgeSeconds: &age, Scopes: []string{"user:read"},
			})
			if got := srv.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			if (err != nil) != tt.wantErr || IsAmbiguous(err) != tt.wantAmbiguous {
				t.Fatalf("err = %v, ambiguous = %v", err, IsAmbiguous(err))
			}
			method, path, body := srv.first()
			if method != http.MethodPost || path != "/v1/organization/org1/application-users/u2a000003/access-tokens" {
				t.Errorf("request %s %s", method, path)
			}
			// An integer, as Aiven's schema requires here: never "86400.0" or "8.64e+04".
			if !strings.Contains(body, `"max_age_seconds":86400,`) || strings.Contains(body, "ip_allowlist") {
				t.Errorf("body %s", body)
			}
			if err == nil && (nt.FullToken.Reveal() != "NEWFULLTOKEN" || nt.Prefix != "NEWFULL" || nt.MaxAgeSeconds != age) {
				t.Errorf("got %+v", nt.Token)
			}
		})
	}
}

// Inputs that would make a wrong request fail before anything is sent.
func TestApplicationCallsRefuseBadInputUnsent(t *testing.T) {
	srv := newAppServer(t, appCreated)
	c := newTestClient(t, srv.URL, loopbackOptions())
	ctx := context.Background()
	half := 86400.5
	calls := []struct {
		name, want string
		call       func() error
	}{
		{"fractional max_age_seconds", "max_age_seconds", func() error {
			_, err := c.createApplicationToken(ctx, testApp, CreateRequest{Description: "x", MaxAgeSeconds: &half})
			return err
		}},
		{"no organization", "organization_id", func() error {
			_, err := c.listApplicationTokens(ctx, ApplicationUser{UserID: "u1"})
			return err
		}},
		{"no application user", "application_user_id", func() error {
			_, err := c.createApplicationToken(ctx, ApplicationUser{OrganizationID: "org1"}, CreateRequest{Description: "x"})
			return err
		}},
		{"no prefix", "prefix", func() error {
			_, err := c.revokeApplicationToken(ctx, testApp, "")
			return err
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
	if n := srv.calls.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestApplicationListAndDeleteAreRetried(t *testing.T) {
	list := newAppServer(t, status(503), status(502), func(w http.ResponseWriter) {
		writeJSON(w, 200, `{"tokens":[{"token_prefix":"AAA","create_time":"2025-01-01T00:00:00Z","created_manually":true,"currently_active":false,"max_age_seconds":3600,"extend_when_used":true,"last_used_time":null,"last_ip":null,"last_user_agent":null,"last_user_agent_human_readable":null}]}`)
	})
	tokens, err := newTestClient(t, list.URL, loopbackOptions()).listApplicationTokens(context.Background(), testApp)
	if err != nil || len(tokens) != 1 || tokens[0].MaxAgeSeconds != 3600 || !tokens[0].ExtendWhenUsed || list.calls.Load() != 3 {
		t.Fatalf("tokens %+v, err %v, %d calls", tokens, err, list.calls.Load())
	}

	del := newAppServer(t, status(503), func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) })
	revoked, err := newTestClient(t, del.URL, loopbackOptions()).revokeApplicationToken(context.Background(), testApp, "AAA")
	if err != nil || !revoked || del.calls.Load() != 2 || del.methods[1] != http.MethodDelete {
		t.Fatalf("revoked %v, err %v, %d calls", revoked, err, del.calls.Load())
	}

	gone := newAppServer(t, status(404))
	revoked, err = newTestClient(t, gone.URL, loopbackOptions()).revokeApplicationToken(context.Background(), testApp, "AAA")
	if err != nil || revoked || gone.calls.Load() != 1 {
		t.Fatalf("404: revoked %v, err %v, %d calls; want false, nil, 1", revoked, err, gone.calls.Load())
	}

	denied := newAppServer(t, status(403))
	_, err = newTestClient(t, denied.URL, loopbackOptions()).revokeApplicationToken(context.Background(), testApp, "AAA")
	if !IsForbidden(err) || denied.calls.Load() != 1 {
		t.Fatalf("403: err %v, %d calls; want a 403 not retried", err, denied.calls.Load())
	}
}

func TestRevokeApplicationTokenEscapesPrefix(t *testing.T) {
	for _, prefix := range []string{"ab+cdEFGH123", "ab/cdEFGH123", "abcdEFGH12==", "a+b/c=dEFGH1"} {
		t.Run(prefix, func(t *testing.T) {
			srv := newAppServer(t, func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) })
			revoked, err := newTestClient(t, srv.URL, loopbackOptions()).revokeApplicationToken(context.Background(), testApp, prefix)
			if err != nil || !revoked {
				t.Fatalf("revoke = %v, %v", revoked, err)
			}
			_, first, _ := srv.first()
			escaped := strings.TrimPrefix(first, "/v1/organization/org1/application-users/u2a000003/access-tokens/")
			if strings.Contains(escaped, "/") {
				t.Errorf("a / reached the path unescaped: %s", first)
			}
			if got, _ := url.PathUnescape(escaped); got != prefix {
				t.Errorf("server decoded prefix %q, want %q", got, prefix)
			}
		})
	}
}
