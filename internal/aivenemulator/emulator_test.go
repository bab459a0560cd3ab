package aivenemulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	aiven "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aiven/go-client-codegen/handler/user"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

const schemaFile = "testdata/aiven-openapi-excerpt.json"

// organizationSchemaFile holds the published schemas of the organization
// calls the emulator serves beyond shared/spec's excerpt (OrganizationGet,
// OrganizationAuthenticationConfigGet and ...Update); loadSchema adds its
// paths and schemas to the excerpt's.
const organizationSchemaFile = "testdata/aiven-openapi-organization.json"

// The copy in testdata must be the published excerpt the project was given.
func TestSchemaCopyMatchesTheSpec(t *testing.T) {
	shared, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "spec", "aiven-openapi-excerpt.json"))
	if err != nil {
		t.Skipf("the shared spec is not beside this checkout (%v)", err)
	}
	local, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, local) {
		t.Fatalf("%s differs from shared/spec/aiven-openapi-excerpt.json: copy it again", schemaFile)
	}
}

var (
	schemaOnce sync.Once
	schemaDoc  *openapi3.T
	schemaErr  error
)

func loadSchema(t testing.TB) *openapi3.T {
	t.Helper()
	schemaOnce.Do(func() {
		// Loaded, not validated as a whole document: the excerpt names
		// security schemes it does not include.
		schemaDoc, schemaErr = openapi3.NewLoader().LoadFromFile(schemaFile)
		if schemaErr != nil {
			return
		}
		var org *openapi3.T
		if org, schemaErr = openapi3.NewLoader().LoadFromFile(organizationSchemaFile); schemaErr != nil {
			return
		}
		for path, item := range org.Paths.Map() {
			if schemaDoc.Paths.Value(path) != nil {
				schemaErr = fmt.Errorf("%s repeats the path %s of %s", organizationSchemaFile, path, schemaFile)
				return
			}
			schemaDoc.Paths.Set(path, item)
		}
		for name, ref := range org.Components.Schemas {
			schemaDoc.Components.Schemas[name] = ref
		}
		markNullable(schemaDoc)
	})
	if schemaErr != nil {
		t.Fatalf("load %s: %v", schemaFile, schemaErr)
	}
	return schemaDoc
}

// validating checks every response the client receives: a 2xx against
// the published schema of the operation that the schema's own paths route
// it to, anything else against Aiven's error body shape.
type validating struct {
	t       testing.TB
	router  routers.Router
	mu      sync.Mutex
	checked map[string]int
}

func newValidating(t testing.TB, serverURL string) *validating {
	doc := *loadSchema(t) // a shallow copy: only its servers change
	doc.Servers = openapi3.Servers{{URL: serverURL + "/v1"}}
	// The excerpt names security schemes it leaves out; the router
	// validates the document, so declare them (Aiven's header and OAuth).
	components := *doc.Components
	components.SecuritySchemes = openapi3.SecuritySchemes{
		"tokenAuth": {Value: openapi3.NewSecurityScheme().WithType("apiKey").WithIn("header").WithName("Authorization")},
		"oauth2":    {Value: openapi3.NewJWTSecurityScheme()},
	}
	doc.Components = &components
	router, err := legacy.NewRouter(&doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &validating{t: t, router: router, checked: map[string]int{}}
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.StatusCode >= 300 {
		if msg := aivenErrorShape(resp.StatusCode, body); msg != "" {
			v.t.Errorf("%s %s: %d is not an Aiven error body: %s\n%s", req.Method, req.URL, resp.StatusCode, msg, body)
		}
		return resp, nil
	}
	// The legacy router matches the decoded path: hand it the escaped one
	// so that a prefix sent with %2F stays one parameter.
	find := req.Clone(req.Context())
	find.URL.Path, find.URL.RawPath = req.URL.EscapedPath(), ""
	route, params, err := v.router.FindRoute(find)
	if err != nil {
		v.t.Errorf("%s %s: not a path of the published schema: %v", req.Method, req.URL, err)
		return resp, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		v.t.Errorf("%s: response does not match the published schema: %v\n%s", route.Operation.OperationID, err, body)
	}
	if r := route.Operation.Responses.Status(resp.StatusCode); r != nil && r.Value != nil {
		if mt := r.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			if missing, err := missingKeys(mt.Schema.Value, body); err != nil || len(missing) > 0 {
				v.t.Errorf("%s: keys Aiven sends are missing: %v %v\n%s", route.Operation.OperationID, missing, err, body)
			}
		}
	}
	v.mu.Lock()
	v.checked[route.Operation.OperationID]++
	v.mu.Unlock()
	return resp, nil
}

// aivenErrorShape says what is wrong with an error body, or "" when it is
// {"message": M, "errors": [{"message": M, "status": code}]}.
func aivenErrorShape(code int, body []byte) string {
	var e struct {
		Message *string `json:"message"`
		Errors  []struct {
			Message string `json:"message"`
			Status  int    `json:"status"`
		} `json:"errors"`
	}
	switch {
	case json.Unmarshal(body, &e) != nil:
		return "not JSON"
	case e.Message == nil || *e.Message == "":
		return "no message"
	case len(e.Errors) != 1 || e.Errors[0].Message != *e.Message || e.Errors[0].Status != code:
		return "errors[] does not repeat the message and status"
	}
	return ""
}

type fixture struct {
	t     *testing.T
	emu   *Emulator
	srv   *httptest.Server
	check *validating
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	emu := New(opts...)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &fixture{t: t, emu: emu, srv: srv, check: newValidating(t, srv.URL)}
}

func (f *fixture) client(token string) aiven.Client {
	f.t.Helper()
	c, err := aiven.NewClient(aiven.TokenOpt(token), aiven.HostOpt(f.srv.URL), aiven.RetryMaxOpt(0), aiven.DebugOpt(false),
		aiven.EnableSingleFlightOpt(false), aiven.DoerOpt(&http.Client{Transport: f.check}))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) user(email string) User {
	f.t.Helper()
	u, err := f.emu.CreateUser(email)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func status(err error) int {
	var e aiven.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func ptr[T any](v T) *T { return &v }

func TestEveryEndpointThroughAivensClient(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	me := f.user("ops@example.com")
	c := f.client(me.Token)

	info, err := c.UserInfo(ctx)
	if err != nil || info.User != "ops@example.com" || info.UserId != me.UserID {
		t.Fatalf("UserInfo: %+v, %v", info, err)
	}

	created, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{
		Description: "deploy bot", MaxAgeSeconds: ptr(3600.0), ExtendWhenUsed: ptr(true),
		Scopes: &[]string{"user:read"}, IPAllowlist: &[]string{"127.0.0.0/8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.FullToken) != 372 || !strings.HasPrefix(created.FullToken, created.TokenPrefix) || created.MaxAgeSeconds != 3600 || !created.ExtendWhenUsed {
		t.Fatalf("AccessTokenCreate: %+v", created)
	}

	list, err := c.AccessTokenList(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("AccessTokenList: %d tokens, %v", len(list), err)
	}
	for _, tok := range list {
		active := tok.CurrentlyActive != nil && *tok.CurrentlyActive
		if active != (tok.TokenPrefix == me.TokenPrefix) {
			t.Fatalf("currently_active is %v on %s", active, tok.TokenPrefix)
		}
	}

	updated, err := c.AccessTokenUpdate(ctx, created.TokenPrefix, &user.AccessTokenUpdateIn{Description: "renamed"})
	if err != nil || updated.Description == nil || *updated.Description != "renamed" {
		t.Fatalf("AccessTokenUpdate: %+v, %v", updated, err)
	}
	if err := c.AccessTokenRevoke(ctx, created.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	if err := c.AccessTokenRevoke(ctx, created.TokenPrefix); status(err) != http.StatusNotFound {
		t.Fatalf("revoking twice: %v, want 404", err)
	}

	// Application users: an organization admin manages their tokens.
	admin, err := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	if err != nil {
		t.Fatal(err)
	}
	app, err := f.emu.CreateApplicationUser("org1", "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	ac := f.client(admin.Token)
	appTok, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "ci token", MaxAgeSeconds: ptr(7200)})
	if err != nil || len(appTok.FullToken) != 372 {
		t.Fatalf("ApplicationUserAccessTokenCreate: %+v, %v", appTok, err)
	}
	appList, err := ac.ApplicationUserAccessTokensList(ctx, "org1", app.UserID)
	if err != nil || len(appList) != 1 || appList[0].TokenPrefix != appTok.TokenPrefix {
		t.Fatalf("ApplicationUserAccessTokensList: %+v, %v", appList, err)
	}
	appInfo, err := f.client(appTok.FullToken).UserInfo(ctx)
	if err != nil || appInfo.UserId != app.UserID {
		t.Fatalf("/v1/me with an application token: %+v, %v", appInfo, err)
	}
	if err := ac.ApplicationUserAccessTokenDelete(ctx, "org1", app.UserID, appTok.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	if f.emu.Authenticates(appTok.FullToken) {
		t.Fatal("a deleted application token still authenticates")
	}

	if err := c.UserExpireTokens(ctx); err != nil {
		t.Fatal(err)
	}
	if f.emu.Authenticates(me.Token) {
		t.Fatal("UserExpireTokens left the user's token working")
	}

	for _, op := range []string{opUserInfo, opAccessTokenCreate, opAccessTokenList, opAccessTokenUpdate, opAccessTokenRevoke,
		opUserExpireTokens, opAppUserAccessTokenCreate, opAppUserAccessTokensList, opAppUserAccessTokenDelete} {
		if f.check.checked[op] == 0 {
			t.Errorf("no response of %s was validated against the schema", op)
		}
	}
}

// tokenWithPrefix is a valid-looking token whose first 12 characters are prefix.
func tokenWithPrefix(prefix string, n int) string {
	raw := make([]byte, 279) // 372 base64 characters
	for i := range raw {
		raw[i] = byte(i*7 + n)
	}
	body := base64.StdEncoding.EncodeToString(raw)
	return prefix + body[len(prefix):372]
}

func TestPrefixesThatNeedEscaping(t *testing.T) {
	prefixes := []string{"ab+cd/ef=ghi", "/+=/+=/+=abc", "plain1234567", "x+y+z+w+v+u+", "k/l/m/n/o/p/", "q=r=s=t=u=v="}
	f := newFixture(t, withTokenSource(func(n int) string {
		return tokenWithPrefix(prefixes[(n-1)%len(prefixes)], n)
	}))
	ctx := t.Context()
	me := f.user("ops@example.com") // takes prefixes[0]
	c := f.client(me.Token)
	var created []string
	for range len(prefixes) - 1 {
		tok, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "x"})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, tok.TokenPrefix)
	}
	// Aiven's client: '/' escaped, '+' and '=' literal.
	if _, err := c.AccessTokenUpdate(ctx, created[0], &user.AccessTokenUpdateIn{Description: "via client"}); err != nil {
		t.Fatalf("update %q: %v", created[0], err)
	}
	if err := c.AccessTokenRevoke(ctx, created[0]); err != nil {
		t.Fatalf("revoke %q: %v", created[0], err)
	}
	// Raw requests, each escaping style.
	for i, path := range []string{
		"/v1/access_token/x%2By%2Bz%2Bw%2Bv%2Bu%2B?limit=999", // all escaped
		"/v1/access_token/k%2Fl%2Fm%2Fn%2Fo%2Fp%2F",           // slashes escaped
		"/v1/access_token/q=r=s=t=u=v=",                       // literal '='
	} {
		req, _ := http.NewRequest(http.MethodDelete, f.srv.URL+path, nil)
		req.Header.Set("Authorization", "aivenv1 "+me.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("raw revoke %d (%s): %d", i, path, resp.StatusCode)
		}
	}
	// A literal '+' must not become a space: the caller revokes its own
	// token, "ab+cd/ef=ghi", sent with '+' and '=' literal.
	req, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/v1/access_token/ab+cd%2Fef=ghi", nil)
	req.Header.Set("Authorization", "aivenv1 "+me.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("literal '+' revoke: %d", resp.StatusCode)
	}
	for _, tok := range f.emu.Tokens() {
		want := "revoked"
		if tok.TokenPrefix == "plain1234567" {
			want = "live"
		}
		if tok.State != want {
			t.Errorf("%s is %s, want %s", tok.TokenPrefix, tok.State, want)
		}
	}
}

func TestRandomTokensLookLikeAivens(t *testing.T) {
	e := New()
	withSpecial, seen := 0, map[string]bool{}
	for i := range 60 {
		u, err := e.CreateUser("u" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Token) != 372 || len(u.TokenPrefix) != 12 || !strings.HasPrefix(u.Token, u.TokenPrefix) {
			t.Fatalf("token of %d chars, prefix %q", len(u.Token), u.TokenPrefix)
		}
		if _, err := base64.StdEncoding.DecodeString(u.Token); err != nil {
			t.Fatalf("not standard base64: %v", err)
		}
		if seen[u.TokenPrefix] {
			t.Fatalf("prefix %s issued twice", u.TokenPrefix)
		}
		seen[u.TokenPrefix] = true
		if strings.ContainsAny(u.TokenPrefix, "+/") {
			withSpecial++
		}
	}
	if withSpecial < 10 {
		t.Fatalf("%d of 60 prefixes hold '+' or '/', want at least one in six", withSpecial)
	}
}

func TestPersonalTokenCap(t *testing.T) {
	f := newFixture(t)
	c := f.client(f.user("ops@example.com").Token)
	for i := 1; i < maxPersonalTokens; i++ {
		if _, err := c.AccessTokenCreate(t.Context(), &user.AccessTokenCreateIn{Description: "t"}); err != nil {
			t.Fatalf("token %d: %v", i+1, err)
		}
	}
	_, err := c.AccessTokenCreate(t.Context(), &user.AccessTokenCreateIn{Description: "one too many"})
	if status(err) != http.StatusConflict || !strings.Contains(err.Error(), "Maximum number of access tokens") {
		t.Fatalf("at the cap: %v", err)
	}
	if n := len(f.emu.Tokens()); n != maxPersonalTokens {
		t.Fatalf("%d tokens exist, want %d", n, maxPersonalTokens)
	}
}

func rawCall(t *testing.T, f *fixture, method, path, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

const expiredBody = `{"errors":[{"message":"Missing (expired) db token","status":401}],"message":"Missing (expired) db token"}`

func TestUnauthorizedBodies(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	revoked, err := c.AccessTokenCreate(t.Context(), &user.AccessTokenCreateIn{Description: "r"})
	if err != nil {
		t.Fatal(err)
	}
	expiring, err := c.AccessTokenCreate(t.Context(), &user.AccessTokenCreateIn{Description: "e", MaxAgeSeconds: ptr(600.0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AccessTokenRevoke(t.Context(), revoked.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	f.emu.Advance(601 * time.Second)
	for name, tok := range map[string]string{"revoked": revoked.FullToken, "expired": expiring.FullToken, "unknown": tokenWithPrefix("nobodyknowsm", 1)} {
		code, body := rawCall(t, f, http.MethodGet, "/v1/me", "aivenv1 "+tok, "")
		if code != 401 || body != expiredBody {
			t.Errorf("%s token: %d %s", name, code, body)
		}
	}
	for name, auth := range map[string]string{"missing": "", "wrong scheme": "Basic " + me.Token, "no scheme": me.Token, "empty": "aivenv1 ", "empty bearer": "Bearer  "} {
		code, body := rawCall(t, f, http.MethodGet, "/v1/me", auth, "")
		if code != 401 || !strings.Contains(body, `"Invalid token"`) {
			t.Errorf("%s header: %d %s", name, code, body)
		}
	}
}

func TestExpiryAndExtendWhenUsed(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	sliding, err := c.AccessTokenCreate(t.Context(), &user.AccessTokenCreateIn{Description: "s", MaxAgeSeconds: ptr(1000.0), ExtendWhenUsed: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // used every 900 s, it outlives its 1000 s
		f.emu.Advance(900 * time.Second)
		if _, err := f.client(sliding.FullToken).UserInfo(t.Context()); err != nil {
			t.Fatalf("a token extended on use expired: %v", err)
		}
	}
	f.emu.Advance(1001 * time.Second)
	if f.emu.Authenticates(sliding.FullToken) {
		t.Fatal("unused for longer than its max age, it still works")
	}
	// The console token: 30 days by default.
	f.emu.Advance(30*24*time.Hour - 2700*time.Second - 1001*time.Second - time.Second)
	if !f.emu.Authenticates(me.Token) {
		t.Fatal("the default token expired before 30 days")
	}
	f.emu.Advance(2 * time.Second)
	if f.emu.Authenticates(me.Token) {
		t.Fatal("the default token outlived 30 days")
	}
}

func TestApplicationUserPermissions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	writer, _ := f.emu.createUser("writer@example.com", "org1", []string{PermissionAppUserWrite})
	outsider, _ := f.emu.createUser("outsider@example.com", "org2", []string{RoleOrganizationAdmin})
	plain, _ := f.emu.CreateApplicationUser("org1", "plain", nil)
	powerful, _ := f.emu.CreateApplicationUser("org1", "powerful", []string{"organization:projects:write"})
	in := &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "t"}

	if _, err := f.client(writer.Token).ApplicationUserAccessTokenCreate(ctx, "org1", plain.UserID, in); err != nil {
		t.Fatalf("app_users:write on a user without permissions: %v", err)
	}
	before := len(f.emu.Tokens())
	for name, call := range map[string]func() error{
		"app_users:write on a user with permissions": func() error {
			_, err := f.client(writer.Token).ApplicationUserAccessTokenCreate(ctx, "org1", powerful.UserID, in)
			return err
		},
		"an admin of another organization": func() error {
			_, err := f.client(outsider.Token).ApplicationUserAccessTokenCreate(ctx, "org1", plain.UserID, in)
			return err
		},
		"listing from another organization": func() error {
			_, err := f.client(outsider.Token).ApplicationUserAccessTokensList(ctx, "org1", plain.UserID)
			return err
		},
	} {
		if err := call(); status(err) != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", name, err)
		}
	}
	if after := len(f.emu.Tokens()); after != before {
		t.Fatalf("refused calls made tokens: %d → %d", before, after)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	appPath := "/v1/organization/org1/application-users/" + app.UserID + "/access-tokens"
	for _, tc := range []struct {
		name, path, auth, body, field string
	}{
		{"no description", "/v1/access_token", me.Token, `{}`, "description"},
		{"description too long", "/v1/access_token", me.Token, `{"description":"` + strings.Repeat("d", 1001) + `"}`, "description"},
		{"description not a string", "/v1/access_token", me.Token, `{"description":5}`, "description"},
		{"max_age too small", "/v1/access_token", me.Token, `{"description":"d","max_age_seconds":599}`, "max_age_seconds"},
		{"max_age a string", "/v1/access_token", me.Token, `{"description":"d","max_age_seconds":"1h"}`, "max_age_seconds"},
		{"scopes over 100", "/v1/access_token", me.Token, `{"description":"d","scopes":[` + strings.TrimSuffix(strings.Repeat(`"s",`, 101), ",") + `]}`, "scopes"},
		{"bad ip_allowlist", "/v1/access_token", me.Token, `{"description":"d","ip_allowlist":["not-an-ip"]}`, "ip_allowlist"},
		{"unknown field", "/v1/access_token", me.Token, `{"description":"d","colour":"blue"}`, "colour"},
		{"not an object", "/v1/access_token", me.Token, `[1,2]`, "JSON object"},
		{"application max_age not an integer", appPath, admin.Token, `{"description":"d","max_age_seconds":700.5}`, "integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.emu.Tokens()
			code, body := rawCall(t, f, http.MethodPost, tc.path, "aivenv1 "+tc.auth, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(body, tc.field) {
				t.Fatalf("%d %s; want 400 naming %q", code, body, tc.field)
			}
			if after := f.emu.Tokens(); len(after) != len(before) {
				t.Fatalf("a refused call made a token")
			}
		})
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	ctx := t.Context()
	add := func(r string) {
		code, body := rawControl(t, f, http.MethodPost, "/_emulator/faults", r)
		if code != 200 {
			t.Fatalf("add fault: %d %s", code, body)
		}
	}

	add(`{"operation":"AccessTokenCreate","status":500}`)
	if _, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "x"}); status(err) != 500 {
		t.Fatalf("status fault: %v", err)
	}
	if n := len(f.emu.Tokens()); n != 1 {
		t.Fatalf("a faulted create made a token (%d tokens)", n)
	}

	add(`{"operation":"UserInfo","after":1,"times":2,"status":429,"retry_after_seconds":7}`)
	var codes []int
	for range 4 {
		code, body := rawCall(t, f, http.MethodGet, "/v1/me", "aivenv1 "+me.Token, "")
		codes = append(codes, code)
		if code == 429 && !strings.Contains(body, "Rate limit 120 exceeded - try again in 28s") {
			t.Fatalf("429 body: %s", body)
		}
	}
	if want := []int{200, 429, 429, 200}; !equalInts(codes, want) {
		t.Fatalf("after/times: %v, want %v", codes, want)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/access_token", nil)
	req.Header.Set("Authorization", "aivenv1 "+me.Token)
	add(`{"operation":"AccessTokenList","status":429}`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("429 without retry_after_seconds: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	add(`{"operation":"AccessTokenList","status":429,"retry_after_seconds":3}`)
	resp, err = http.DefaultClient.Do(req.Clone(ctx))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("Retry-After %q, want 3", resp.Header.Get("Retry-After"))
	}

	add(`{"operation":"UserInfo","delay_ms":50}`)
	begin := time.Now()
	if _, err := c.UserInfo(ctx); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(begin); waited < 50*time.Millisecond {
		t.Fatalf("a 50 ms delay took %s", waited)
	}

	add(`{"operation":"AccessTokenRevoke","drop":true}`)
	if err := c.AccessTokenRevoke(ctx, me.TokenPrefix); err == nil || status(err) != 0 {
		t.Fatalf("drop: %v, want a connection error", err)
	}
	if !f.emu.Authenticates(me.Token) {
		t.Fatal("a dropped revoke revoked")
	}

	code, body := rawControl(t, f, http.MethodGet, "/_emulator/calls", "")
	var calls map[string]int
	if code != 200 || json.Unmarshal([]byte(body), &calls) != nil || calls["UserInfo"] != 5 || calls["AccessTokenRevoke"] != 1 {
		t.Fatalf("calls: %d %s", code, body)
	}
	rawControl(t, f, http.MethodDelete, "/_emulator/calls", "")
	rawControl(t, f, http.MethodDelete, "/_emulator/faults", "")
	if len(f.emu.Faults().Calls()) != 0 || len(f.emu.Faults().Pending()) != 0 {
		t.Fatal("DELETE did not reset")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func rawControl(t *testing.T, f *fixture, method, path, body string) (int, string) {
	return rawCall(t, f, method, path, "", body)
}

func TestControlAPI(t *testing.T) {
	f := newFixture(t)
	code, body := rawControl(t, f, http.MethodPost, "/_emulator/users", `{"email":"ops@example.com"}`)
	var u User
	if code != 200 || json.Unmarshal([]byte(body), &u) != nil || len(u.Token) != 372 || u.TokenPrefix != u.Token[:12] {
		t.Fatalf("users: %d %s", code, body)
	}
	code, body = rawControl(t, f, http.MethodGet, "/_emulator/tokens", "")
	if code != 200 || strings.Contains(body, u.Token) || strings.Contains(body, u.Token[12:40]) || !strings.Contains(body, `"state":"live"`) {
		t.Fatalf("tokens: %d (must never show a value) %s", code, body)
	}
	code, body = rawControl(t, f, http.MethodPost, "/_emulator/clock", `{"advance_seconds": 2592001}`)
	if code != 200 || f.emu.Authenticates(u.Token) {
		t.Fatalf("clock: %d %s; token still live: %v", code, body, f.emu.Authenticates(u.Token))
	}
	if code, _ := rawControl(t, f, http.MethodPost, "/_emulator/clock", `{"advance_seconds": -5}`); code != 400 {
		t.Fatalf("a clock going back: %d", code)
	}
	code, body = rawControl(t, f, http.MethodPost, "/_emulator/application-users", `{"organization_id":"org1","name":"ci"}`)
	if code != 200 || !strings.Contains(body, `"organization_id":"org1"`) {
		t.Fatalf("application-users: %d %s", code, body)
	}

	req := httptest.NewRequest(http.MethodGet, "/_emulator/tokens", nil)
	req.RemoteAddr = "192.0.2.10:5555"
	rec := httptest.NewRecorder()
	f.emu.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("a non-loopback caller got %d", rec.Code)
	}
}

func BenchmarkUserInfo(b *testing.B) {
	e := New()
	srv := httptest.NewServer(e)
	defer srv.Close()
	u, _ := e.CreateUser("bench@example.com")
	c, err := aiven.NewClient(aiven.TokenOpt(u.Token), aiven.HostOpt(srv.URL), aiven.RetryMaxOpt(0), aiven.DebugOpt(false), aiven.EnableSingleFlightOpt(false), aiven.DoerOpt(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.UserInfo(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccessTokenCreate(b *testing.B) {
	e := New()
	srv := httptest.NewServer(e)
	defer srv.Close()
	u, _ := e.CreateUser("bench@example.com")
	c, err := aiven.NewClient(aiven.TokenOpt(u.Token), aiven.HostOpt(srv.URL), aiven.RetryMaxOpt(0), aiven.DebugOpt(false), aiven.EnableSingleFlightOpt(false), aiven.DoerOpt(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	in := &user.AccessTokenCreateIn{Description: "bench"}
	for b.Loop() {
		tok, err := c.AccessTokenCreate(b.Context(), in)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer() // the cap is 10 tokens: revoke outside the measurement
		if err := c.AccessTokenRevoke(b.Context(), tok.TokenPrefix); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// Answers are dated by the emulator's clock, as a real server dates them
// by its own: a client that reckons expiry by the server's Date sees
// Advance.
func TestAnswersAreDatedByTheEmulatorsClock(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	dated := func() time.Time {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/me", nil)
		req.Header.Set("Authorization", "aivenv1 "+me.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		d, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
		}
		return d
	}
	before := dated()
	f.emu.Advance(29 * 24 * time.Hour)
	after := dated()
	if gap := after.Sub(before); gap < 29*24*time.Hour || gap > 29*24*time.Hour+time.Minute {
		t.Errorf("Date moved by %v after Advance(29 days)", gap)
	}
	if d := f.emu.Now().Sub(after); d < 0 || d > time.Minute {
		t.Errorf("Date %v, emulator clock %v", after, f.emu.Now())
	}
}
