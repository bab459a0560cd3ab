package aivenemulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aiven/go-client-codegen/handler/user"
)

// crafted issues the given prefixes in order (one per issued token), then
// random tokens.
func crafted(prefixes ...string) Option {
	return withTokenSource(func(n int) string {
		if n <= len(prefixes) {
			return tokenWithPrefix(prefixes[n-1], n)
		}
		return randomToken(n)
	})
}

// escapeStyle writes a prefix into a path the way one client or another does.
type escapeStyle struct {
	name   string
	escape func(prefix string) string
}

var escapeStyles = []escapeStyle{
	{"all escaped (%2B %2F %3D, the Python CLI)", strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace},
	{"slash escaped, + and = literal (go-client-codegen)", strings.NewReplacer("/", "%2F").Replace},
	{"%2B and %2F, literal =", strings.NewReplacer("+", "%2B", "/", "%2F").Replace},
	{"%3D and %2F, literal +", strings.NewReplacer("=", "%3D", "/", "%2F").Replace},
	{"everything literal, even /", func(p string) string { return p }},
}

// Every token's prefix holds '+', '/' and '='; each is updated and revoked
// with one escaping style, personal and application tokens alike.
func TestEveryEscapingStyle(t *testing.T) {
	prefixes := []string{"me+/=me+/=me", "a+b/c=d+e/f=", "/+=/+=/+=abc", "+=/+=/+=/xyz", "==++//==++//", "Q/W+E=R/T+Y=", "z+z/z=z+z/z="}
	f := newFixture(t, crafted(prefixes...))
	me := f.user("ops@example.com") // prefixes[0]
	ctx := t.Context()
	c := f.client(me.Token)
	var personal []string
	for range escapeStyles {
		tok, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "before"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.ContainsAny(tok.TokenPrefix, "+") || !strings.Contains(tok.TokenPrefix, "/") || !strings.Contains(tok.TokenPrefix, "=") {
			t.Fatalf("crafted prefix %q lacks + / =", tok.TokenPrefix)
		}
		personal = append(personal, tok.TokenPrefix)
	}
	for i, style := range escapeStyles {
		prefix := personal[i]
		path := "/v1/access_token/" + style.escape(prefix) + "?limit=999"
		code, body := rawCall(t, f, http.MethodPut, path, "aivenv1 "+me.Token, `{"description":"after"}`)
		if code != http.StatusOK || !strings.Contains(body, `"token_prefix":"`+prefix+`"`) || !strings.Contains(body, `"description":"after"`) {
			t.Errorf("%s: update %q: %d %s", style.name, prefix, code, body)
		}
		code, body = rawCall(t, f, http.MethodDelete, path, "aivenv1 "+me.Token, "")
		if code != http.StatusOK {
			t.Errorf("%s: revoke %q: %d %s", style.name, prefix, code, body)
		}
		if state := stateOf(f.emu, prefix); state != "revoked" {
			t.Errorf("%s: %q is %s after its revoke", style.name, prefix, state)
		}
	}
	// A literal '+' read as a space would name no token: it must stay a '+'.
	spaced := strings.ReplaceAll(me.TokenPrefix, "+", "%20")
	if code, _ := rawCall(t, f, http.MethodDelete, "/v1/access_token/"+strings.ReplaceAll(spaced, "/", "%2F"), "aivenv1 "+me.Token, ""); code != http.StatusNotFound {
		t.Errorf("a space where the prefix has '+': %d, want 404", code)
	}
	if !f.emu.Authenticates(me.Token) {
		t.Fatal("the caller's own token was revoked by someone else's path")
	}

	// Application tokens: Aiven's client deletes by prefix, with %2F.
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	ac := f.client(admin.Token)
	var appPrefixes []string
	for range escapeStyles {
		tok, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "t"})
		if err != nil {
			t.Fatal(err)
		}
		appPrefixes = append(appPrefixes, tok.TokenPrefix)
	}
	if err := ac.ApplicationUserAccessTokenDelete(ctx, "org1", app.UserID, appPrefixes[0]); err != nil {
		t.Fatalf("client delete %q: %v", appPrefixes[0], err)
	}
	for i, style := range escapeStyles[1:] {
		prefix := appPrefixes[i+1]
		code, body := rawCall(t, f, http.MethodDelete, "/v1/organization/org1/application-users/"+app.UserID+"/access-tokens/"+style.escape(prefix)+"?limit=999", "aivenv1 "+admin.Token, "")
		if code != http.StatusNoContent || body != "" {
			t.Errorf("%s: delete application token %q: %d %q", style.name, prefix, code, body)
		}
	}
	for _, p := range appPrefixes {
		if state := stateOf(f.emu, p); state != "revoked" {
			t.Errorf("application token %q is %s", p, state)
		}
	}
}

func stateOf(e *Emulator, prefix string) string {
	for _, r := range e.Tokens() {
		if r.TokenPrefix == prefix {
			return r.State
		}
	}
	return "absent"
}

// The client itself, on a prefix holding all three characters: update and
// revoke, and revoke by full token (which Aiven accepts too).
func TestClientOnAwkwardPrefixes(t *testing.T) {
	f := newFixture(t, crafted("caller+/=abc", "p+q/r=s+t/u=", "v/w+x=y/z+0="))
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	ctx := t.Context()
	a, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if a.TokenPrefix != "p+q/r=s+t/u=" || b.TokenPrefix != "v/w+x=y/z+0=" {
		t.Fatalf("crafted prefixes not issued: %q %q", a.TokenPrefix, b.TokenPrefix)
	}
	up, err := c.AccessTokenUpdate(ctx, a.TokenPrefix, &user.AccessTokenUpdateIn{Description: "renamed"})
	if err != nil || up.TokenPrefix != a.TokenPrefix || up.Description == nil || *up.Description != "renamed" {
		t.Fatalf("update: %+v %v", up, err)
	}
	if err := c.AccessTokenRevoke(ctx, a.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	if err := c.AccessTokenRevoke(ctx, b.FullToken); err != nil {
		t.Fatalf("revoke by full token: %v", err)
	}
	if f.emu.Authenticates(a.FullToken) || f.emu.Authenticates(b.FullToken) {
		t.Fatal("revoked tokens still authenticate")
	}
	list, err := c.AccessTokenList(ctx)
	if err != nil || len(list) != 1 || list[0].TokenPrefix != me.TokenPrefix {
		t.Fatalf("after revoking both, the list is %+v, %v", list, err)
	}
}

func TestUnknownAndForeignPrefixes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	alice, bob := f.user("alice@example.com"), f.user("bob@example.com")
	c := f.client(alice.Token)
	if err := c.AccessTokenRevoke(ctx, "AAAAAAAAAAAA"); status(err) != http.StatusNotFound {
		t.Fatalf("unknown prefix: %v, want 404", err)
	}
	if _, err := c.AccessTokenUpdate(ctx, "AAAAAAAAAAAA", &user.AccessTokenUpdateIn{Description: "x"}); status(err) != http.StatusNotFound {
		t.Fatalf("updating an unknown prefix: %v, want 404", err)
	}
	// Another user's token is none of alice's business: 404, and it lives.
	if err := c.AccessTokenRevoke(ctx, bob.TokenPrefix); status(err) != http.StatusNotFound {
		t.Fatalf("revoking bob's token: %v, want 404", err)
	}
	if err := c.AccessTokenRevoke(ctx, bob.Token); status(err) != http.StatusNotFound {
		t.Fatalf("revoking bob's token by value: %v, want 404", err)
	}
	if !f.emu.Authenticates(bob.Token) {
		t.Fatal("alice revoked bob's token")
	}
	// A token may revoke itself; then it is refused.
	if err := c.AccessTokenRevoke(ctx, alice.TokenPrefix); err != nil {
		t.Fatalf("self-revoke: %v", err)
	}
	if _, err := c.UserInfo(ctx); status(err) != http.StatusUnauthorized {
		t.Fatalf("after self-revoke: %v, want 401", err)
	}
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	ac := f.client(admin.Token)
	if err := ac.ApplicationUserAccessTokenDelete(ctx, "org1", app.UserID, "AAAAAAAAAAAA"); status(err) != http.StatusNotFound {
		t.Fatalf("deleting an unknown application token: %v, want 404", err)
	}
	if err := ac.ApplicationUserAccessTokenDelete(ctx, "org1", app.UserID, bob.TokenPrefix); status(err) != http.StatusNotFound {
		t.Fatalf("deleting a person's token as an application token: %v, want 404", err)
	}
	if _, err := ac.ApplicationUserAccessTokensList(ctx, "org2", app.UserID); status(err) != http.StatusNotFound {
		t.Fatalf("an application user under the wrong organization: %v, want 404", err)
	}
	if _, err := ac.ApplicationUserAccessTokensList(ctx, "org1", bob.UserID); status(err) != http.StatusNotFound {
		t.Fatalf("a person as an application user: %v, want 404", err)
	}
	if !f.emu.Authenticates(bob.Token) {
		t.Fatal("bob's token died")
	}
}

func TestCapRefusesTheEleventhAndFreesOnRevoke(t *testing.T) {
	f := newFixture(t)
	c := f.client(f.user("ops@example.com").Token)
	ctx := t.Context()
	var last string
	for range maxPersonalTokens - 1 {
		tok, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "t"})
		if err != nil {
			t.Fatal(err)
		}
		last = tok.TokenPrefix
	}
	code, body := rawCall(t, f, http.MethodPost, "/v1/access_token", "aivenv1 "+f.emu.Tokens()[0].TokenPrefix, `{"description":"x"}`)
	if code != http.StatusUnauthorized {
		t.Fatalf("a prefix is not a token: %d %s", code, body)
	}
	_, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "11th"})
	if status(err) != http.StatusConflict || !strings.Contains(err.Error(), "Maximum number of access tokens (10)") {
		t.Fatalf("the 11th token: %v", err)
	}
	list, _ := c.AccessTokenList(ctx)
	if len(list) != maxPersonalTokens {
		t.Fatalf("%d tokens listed after a refused create", len(list))
	}
	if err := c.AccessTokenRevoke(ctx, last); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "room again"}); err != nil {
		t.Fatalf("after a revoke the cap has room: %v", err)
	}
	// Expired tokens do not count either.
	f2 := newFixture(t)
	c2 := f2.client(f2.user("ops@example.com").Token)
	for range maxPersonalTokens - 1 {
		if _, err := c2.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "short", MaxAgeSeconds: ptr(600.0)}); err != nil {
			t.Fatal(err)
		}
	}
	f2.emu.Advance(600 * time.Second)
	if _, err := c2.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "after expiry"}); err != nil {
		t.Fatalf("expired tokens still count against the cap: %v", err)
	}
}

func TestExpiryRules(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	created := f.emu.Now()
	def, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if def.MaxAgeSeconds != 30*24*3600 || def.ExpiryTime == nil || def.ExpiryTime.Sub(created).Round(time.Minute) != 30*24*time.Hour {
		t.Fatalf("default expiry: max_age %v, expiry %v (created %v)", def.MaxAgeSeconds, def.ExpiryTime, created)
	}
	short, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "short", MaxAgeSeconds: ptr(600.0)})
	if err != nil {
		t.Fatal(err)
	}
	// extend_when_used only applies with max_age_seconds (the schema says
	// so): without it the 30-day expiry stays where it is.
	noAge, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "extend, no max age", ExtendWhenUsed: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "fixed", MaxAgeSeconds: ptr(3600.0)})
	if err != nil {
		t.Fatal(err)
	}
	f.emu.Advance(599 * time.Second)
	if _, err := f.client(short.FullToken).UserInfo(ctx); err != nil {
		t.Fatalf("a 600 s token at 599 s: %v", err)
	}
	if _, err := f.client(fixed.FullToken).UserInfo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(noAge.FullToken).UserInfo(ctx); err != nil {
		t.Fatal(err)
	}
	f.emu.Advance(time.Second)
	code, body := rawCall(t, f, http.MethodGet, "/v1/me", "aivenv1 "+short.FullToken, "")
	if code != http.StatusUnauthorized || body != expiredBody {
		t.Fatalf("a 600 s token at 600 s: %d %s", code, body)
	}
	if s := stateOf(f.emu, short.TokenPrefix); s != "expired" {
		t.Fatalf("control API state %q, want expired", s)
	}
	list, err := c.AccessTokenList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range list {
		switch tok.TokenPrefix {
		case short.TokenPrefix:
			t.Fatal("an expired token is listed")
		case fixed.TokenPrefix:
			if !tok.ExpiryTime.Equal(*fixed.ExpiryTime) {
				t.Fatalf("using a token without extend_when_used moved its expiry: %v → %v", fixed.ExpiryTime, tok.ExpiryTime)
			}
		case noAge.TokenPrefix:
			if !tok.ExpiryTime.Equal(*noAge.ExpiryTime) {
				t.Fatalf("extend_when_used without max_age_seconds moved the expiry: %v → %v", noAge.ExpiryTime, tok.ExpiryTime)
			}
		}
	}
	f.emu.Advance(3000 * time.Second)
	if f.emu.Authenticates(fixed.FullToken) {
		t.Fatal("a 3600 s token outlived an hour")
	}

	// Application tokens without max_age_seconds never expire.
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	ac := f.client(admin.Token)
	forever, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "forever"})
	if err != nil {
		t.Fatal(err)
	}
	apps, err := ac.ApplicationUserAccessTokensList(ctx, "org1", app.UserID)
	if err != nil || len(apps) != 1 || apps[0].ExpiryTime != nil || apps[0].MaxAgeSeconds != nil {
		t.Fatalf("a never-expiring application token: %+v %v", apps, err)
	}
	f.emu.Advance(20 * 365 * 24 * time.Hour)
	if !f.emu.Authenticates(forever.FullToken) {
		t.Fatal("an application token without max_age_seconds expired")
	}
}

func TestExtendWhenUsedMovesTheListedExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	tok, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "s", MaxAgeSeconds: ptr(600.0), ExtendWhenUsed: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	f.emu.Advance(500 * time.Second)
	used := f.client(tok.FullToken)
	list, err := used.AccessTokenList(ctx) // this use moves the expiry
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.TokenPrefix != tok.TokenPrefix {
			continue
		}
		if moved := l.ExpiryTime.Sub(*tok.ExpiryTime).Round(time.Second); moved != 500*time.Second {
			t.Fatalf("expiry moved by %s, want 500s", moved)
		}
		if l.LastUsedTime == nil || l.LastIP == nil || *l.LastIP != "127.0.0.1" || l.LastUserAgent == nil || !strings.HasPrefix(*l.LastUserAgent, "go-client-codegen/") {
			t.Fatalf("last use not recorded: %+v", l)
		}
	}
	f.emu.Advance(599 * time.Second)
	if !f.emu.Authenticates(tok.FullToken) {
		t.Fatal("expired although used 599 s ago")
	}
	f.emu.Advance(time.Second)
	if f.emu.Authenticates(tok.FullToken) {
		t.Fatal("alive 600 s after its last use")
	}
}

func TestListsShowLiveTokensOnlyAndNeverTheirValue(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	keep, _ := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "keep"})
	gone, _ := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "gone"})
	if err := c.AccessTokenRevoke(ctx, gone.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	code, body := rawCall(t, f, http.MethodGet, "/v1/access_token?limit=999", "aivenv1 "+keep.FullToken, "")
	if code != 200 || strings.Contains(body, "full_token") || strings.Contains(body, keep.FullToken[12:]) || strings.Contains(body, gone.TokenPrefix) {
		t.Fatalf("list: %d %s", code, body)
	}
	var out struct {
		Tokens []struct {
			TokenPrefix     string `json:"token_prefix"`
			CurrentlyActive bool   `json:"currently_active"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.Tokens) != 2 {
		t.Fatalf("list: %v %s", err, body)
	}
	for _, tok := range out.Tokens {
		if tok.CurrentlyActive != (tok.TokenPrefix == keep.TokenPrefix) {
			t.Fatalf("currently_active %v on %s; the caller is %s", tok.CurrentlyActive, tok.TokenPrefix, keep.TokenPrefix)
		}
	}
	// The update answer does not carry the value either.
	code, body = rawCall(t, f, http.MethodPut, "/v1/access_token/"+strings.ReplaceAll(keep.TokenPrefix, "/", "%2F"), "aivenv1 "+me.Token, `{"description":"k"}`)
	if code != 200 || strings.Contains(body, "full_token") || strings.Contains(body, `"currently_active":true`) {
		t.Fatalf("update answer: %d %s", code, body)
	}

	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	ac := f.client(admin.Token)
	a1, _ := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "1"})
	a2, _ := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "2", MaxAgeSeconds: ptr(600)})
	if err := ac.ApplicationUserAccessTokenDelete(ctx, "org1", app.UserID, a1.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	code, body = rawCall(t, f, http.MethodGet, "/v1/organization/org1/application-users/"+app.UserID+"/access-tokens", "aivenv1 "+admin.Token, "")
	if code != 200 || strings.Contains(body, "full_token") || strings.Contains(body, a1.TokenPrefix) || !strings.Contains(body, a2.TokenPrefix) || strings.Contains(body, `"currently_active":true`) {
		t.Fatalf("application list: %d %s", code, body)
	}
	f.emu.Advance(600 * time.Second)
	if list, err := ac.ApplicationUserAccessTokensList(ctx, "org1", app.UserID); err != nil || len(list) != 0 {
		t.Fatalf("expired application token listed: %+v %v", list, err)
	}
}

func TestUserExpireTokensInvalidatesOlderTokensOnly(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	me, other := f.user("ops@example.com"), f.user("other@example.com")
	c := f.client(me.Token)
	second, _ := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "second"})
	f.emu.Advance(time.Minute)
	if err := f.client(second.FullToken).UserExpireTokens(ctx); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"console": me.Token, "caller": second.FullToken} {
		code, body := rawCall(t, f, http.MethodGet, "/v1/me", "aivenv1 "+tok, "")
		if code != http.StatusUnauthorized || body != expiredBody {
			t.Errorf("%s token after expire_tokens: %d %s", name, code, body)
		}
	}
	if !f.emu.Authenticates(other.Token) {
		t.Fatal("another user's token was expired")
	}
	// Tokens issued afterwards work: an application user expires its own,
	// then the admin issues a new one.
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	ac := f.client(admin.Token)
	old, _ := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "old"})
	if err := f.client(old.FullToken).UserExpireTokens(ctx); err != nil {
		t.Fatal(err)
	}
	f.emu.Advance(time.Second)
	fresh, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if f.emu.Authenticates(old.FullToken) || !f.emu.Authenticates(fresh.FullToken) || !f.emu.Authenticates(admin.Token) {
		t.Fatal("expire_tokens: want the old application token dead, the new one and the admin's alive")
	}
	if list, _ := ac.ApplicationUserAccessTokensList(ctx, "org1", app.UserID); len(list) != 1 || list[0].TokenPrefix != fresh.TokenPrefix {
		t.Fatalf("list after expire_tokens: %+v", list)
	}
}

func TestApplicationTokenManagementRights(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	writer, _ := f.emu.createUser("writer@example.com", "org1", []string{PermissionAppUserWrite})
	member, _ := f.emu.createUser("member@example.com", "org1", nil)
	outsider, _ := f.emu.createUser("outsider@example.com", "org2", []string{RoleOrganizationAdmin, PermissionAppUserWrite})
	plain, _ := f.emu.CreateApplicationUser("org1", "plain", nil)
	powerful, _ := f.emu.CreateApplicationUser("org1", "powerful", []string{RoleOrganizationAdmin})
	in := &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "t"}

	// The admin manages both.
	ac := f.client(admin.Token)
	var victims []string
	for _, target := range []ApplicationUser{plain, powerful} {
		tok, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", target.UserID, in)
		if err != nil {
			t.Fatalf("admin on %s: %v", target.Name, err)
		}
		victims = append(victims, tok.TokenPrefix)
		if _, err := ac.ApplicationUserAccessTokensList(ctx, "org1", target.UserID); err != nil {
			t.Fatalf("admin lists %s: %v", target.Name, err)
		}
	}
	// The writer manages the one without permissions only.
	wc := f.client(writer.Token)
	wt, err := wc.ApplicationUserAccessTokenCreate(ctx, "org1", plain.UserID, in)
	if err != nil {
		t.Fatalf("app_users:write on plain: %v", err)
	}
	if err := wc.ApplicationUserAccessTokenDelete(ctx, "org1", plain.UserID, wt.TokenPrefix); err != nil {
		t.Fatalf("app_users:write deletes on plain: %v", err)
	}
	before := f.emu.Tokens()
	refused := []struct {
		who    string
		tok    string
		target ApplicationUser
		victim string
	}{
		{"writer on powerful", writer.Token, powerful, victims[1]},
		{"member without permissions", member.Token, plain, victims[0]},
		{"admin of another organization", outsider.Token, plain, victims[0]},
	}
	for _, r := range refused {
		c := f.client(r.tok)
		if _, err := c.ApplicationUserAccessTokenCreate(ctx, "org1", r.target.UserID, in); status(err) != http.StatusForbidden || !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("%s creates: %v, want 403", r.who, err)
		}
		if _, err := c.ApplicationUserAccessTokensList(ctx, "org1", r.target.UserID); status(err) != http.StatusForbidden {
			t.Errorf("%s lists: %v, want 403", r.who, err)
		}
		if err := c.ApplicationUserAccessTokenDelete(ctx, "org1", r.target.UserID, r.victim); status(err) != http.StatusForbidden {
			t.Errorf("%s deletes: %v, want 403", r.who, err)
		}
	}
	after := f.emu.Tokens()
	if len(after) != len(before) {
		t.Fatalf("refused calls made tokens: %d → %d", len(before), len(after))
	}
	for i := range before {
		if before[i].State != after[i].State {
			t.Fatalf("a refused call changed %s: %s → %s", before[i].TokenPrefix, before[i].State, after[i].State)
		}
	}
	// An application token cannot make personal tokens (inferred).
	appTok, _ := ac.ApplicationUserAccessTokenCreate(ctx, "org1", plain.UserID, in)
	if _, err := f.client(appTok.FullToken).AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "x"}); status(err) != http.StatusForbidden {
		t.Fatalf("an application token creating a personal token: %v, want 403", err)
	}
}

func TestMoreBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	appPath := "/v1/organization/org1/application-users/" + app.UserID + "/access-tokens"
	updPath := "/v1/access_token/" + strings.ReplaceAll(me.TokenPrefix, "/", "%2F")
	list101 := "[" + strings.TrimSuffix(strings.Repeat(`"127.0.0.1",`, 101), ",") + "]"
	for _, tc := range []struct {
		name, method, path, auth, body, field string
	}{
		{"max_age too large", http.MethodPost, "/v1/access_token", me.Token, `{"description":"d","max_age_seconds":315360001}`, "max_age_seconds"},
		{"max_age a boolean", http.MethodPost, "/v1/access_token", me.Token, `{"description":"d","max_age_seconds":true}`, "max_age_seconds"},
		{"extend_when_used a string", http.MethodPost, "/v1/access_token", me.Token, `{"description":"d","extend_when_used":"yes"}`, "extend_when_used"},
		{"ip_allowlist over 100", http.MethodPost, "/v1/access_token", me.Token, `{"description":"d","ip_allowlist":` + list101 + `}`, "ip_allowlist"},
		{"scopes not strings", http.MethodPost, "/v1/access_token", me.Token, `{"description":"d","scopes":[1]}`, "scopes"},
		{"empty body", http.MethodPost, "/v1/access_token", me.Token, ``, "description"},
		{"a string body", http.MethodPost, "/v1/access_token", me.Token, `"description"`, "JSON object"},
		{"application: no description", http.MethodPost, appPath, admin.Token, `{"max_age_seconds":700}`, "description"},
		{"application: max_age a string", http.MethodPost, appPath, admin.Token, `{"description":"d","max_age_seconds":"700"}`, "max_age_seconds"},
		{"application: max_age too small", http.MethodPost, appPath, admin.Token, `{"description":"d","max_age_seconds":10}`, "max_age_seconds"},
		{"application: scopes over 100", http.MethodPost, appPath, admin.Token, `{"description":"d","scopes":` + list101 + `}`, "scopes"},
		{"application: unknown field", http.MethodPost, appPath, admin.Token, `{"description":"d","name":"x"}`, "name"},
		{"application: not an object", http.MethodPost, appPath, admin.Token, `[]`, "JSON object"},
		{"update: no description", http.MethodPut, updPath, me.Token, `{}`, "description"},
		{"update: description too long", http.MethodPut, updPath, me.Token, `{"description":"` + strings.Repeat("é", 1001) + `"}`, "description"},
		{"update: unknown field", http.MethodPut, updPath, me.Token, `{"description":"d","max_age_seconds":600}`, "max_age_seconds"},
		{"update: not an object", http.MethodPut, updPath, me.Token, `"d"`, "JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.emu.Tokens()
			code, body := rawCall(t, f, tc.method, tc.path, "aivenv1 "+tc.auth, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(body, tc.field) {
				t.Fatalf("%d %s; want 400 naming %q", code, body, tc.field)
			}
			if msg := aivenErrorShape(code, []byte(body)); msg != "" {
				t.Fatalf("error body: %s: %s", msg, body)
			}
			after := f.emu.Tokens()
			if len(after) != len(before) {
				t.Fatal("a refused call made a token")
			}
			for i := range before {
				if before[i].Description != after[i].Description || before[i].State != after[i].State {
					t.Fatalf("a refused call changed %s", before[i].TokenPrefix)
				}
			}
		})
	}
	// The caller is checked before the body: a dead token with a bad body
	// is a 401, not a 400 (inferred).
	code, body := rawCall(t, f, http.MethodPost, "/v1/access_token", "aivenv1 "+tokenWithPrefix("deaddeaddead", 3), `[`)
	if code != http.StatusUnauthorized || body != expiredBody {
		t.Fatalf("unknown token and a broken body: %d %s", code, body)
	}
}

func TestRoutingOddities(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/v1/nothing", http.StatusNotFound},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodPatch, "/v1/access_token", http.StatusMethodNotAllowed},
		{http.MethodGet, "/v1/access_token/abc", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/v1/access_token/", http.StatusNotFound},
		{http.MethodPost, "/v1/me", http.StatusMethodNotAllowed},
		{http.MethodGet, "/v1/me/expire_tokens", http.StatusMethodNotAllowed},
	} {
		code, body := rawCall(t, f, tc.method, tc.path, "aivenv1 "+me.Token, "")
		if code != tc.want || aivenErrorShape(code, []byte(body)) != "" {
			t.Errorf("%s %s: %d %s, want %d with an Aiven error body", tc.method, tc.path, code, body, tc.want)
		}
	}
	if calls := f.emu.Faults().Calls(); len(calls) != 0 {
		t.Fatalf("unrouted calls were counted: %v", calls)
	}
}

func TestControlAPIEndToEnd(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	post := func(path, body string, want int) string {
		t.Helper()
		code, out := rawControl(t, f, http.MethodPost, path, body)
		if code != want {
			t.Fatalf("POST %s %s: %d %s, want %d", path, body, code, out, want)
		}
		return out
	}
	var admin User
	if err := json.Unmarshal([]byte(post("/_emulator/users", `{"email":"admin@example.com","organization_id":"org1","permissions":["role:organization:admin"]}`, 200)), &admin); err != nil {
		t.Fatal(err)
	}
	var app ApplicationUser
	if err := json.Unmarshal([]byte(post("/_emulator/application-users", `{"organization_id":"org1","name":"ci","permissions":["organization:projects:write"]}`, 200)), &app); err != nil {
		t.Fatal(err)
	}
	if app.OrganizationID != "org1" || app.Name != "ci" || !strings.HasSuffix(app.Email, "@application-users.org1.aiven.io") || len(app.Permissions) != 1 {
		t.Fatalf("application user: %+v", app)
	}
	// The control API's admin really is an admin of org1.
	ac := f.client(admin.Token)
	appTok, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "ci"})
	if err != nil {
		t.Fatalf("admin made through the control API: %v", err)
	}
	personal, err := ac.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if body := post("/_emulator/application-users", `{"name":"no org"}`, 400); !strings.Contains(body, "organization_id") {
		t.Fatalf("application user without organization: %s", body)
	}
	if body := post("/_emulator/application-users", `{"organization_id":"org1","name":"bare"}`, 200); !strings.Contains(body, `"permissions":[]`) {
		t.Fatalf("an application user without permissions: %s", body)
	}
	post("/_emulator/users", `{"email":"not-an-address"}`, 400)
	post("/_emulator/users", `{"email":"ADMIN@example.com"}`, 400) // taken, whatever the case
	post("/_emulator/users", `{"email":"x@example.com","colour":"red"}`, 400)

	code, body := rawControl(t, f, http.MethodGet, "/_emulator/tokens", "")
	if code != 200 {
		t.Fatalf("tokens: %d %s", code, body)
	}
	for _, full := range []string{admin.Token, appTok.FullToken, personal.FullToken} {
		if strings.Contains(body, full[prefixLength:prefixLength+24]) {
			t.Fatalf("the control API shows a token's value: %s", body)
		}
	}
	if strings.Contains(body, "full_token") || strings.Contains(body, `"token"`) {
		t.Fatalf("the control API names a token value field: %s", body)
	}
	var toks struct {
		Tokens []TokenRecord `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(body), &toks); err != nil || len(toks.Tokens) != 3 {
		t.Fatalf("tokens: %v %s", err, body)
	}
	if toks.Tokens[1].User != app.Email || toks.Tokens[1].ExpiryTime != nil || toks.Tokens[1].Description != "ci" {
		t.Fatalf("application token record: %+v", toks.Tokens[1])
	}
	if code, _ := rawControl(t, f, http.MethodPost, "/_emulator/tokens", "{}"); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST tokens: %d", code)
	}

	// The clock.
	code, body = rawControl(t, f, http.MethodGet, "/_emulator/clock", "")
	var clock struct {
		Now time.Time `json:"now"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &clock) != nil || clock.Now.Sub(f.emu.Now()).Abs() > 2*time.Second {
		t.Fatalf("GET clock: %d %s", code, body)
	}
	before := clock.Now
	if err := json.Unmarshal([]byte(post("/_emulator/clock", `{"advance_seconds":3600}`, 200)), &clock); err != nil || clock.Now.Sub(before) < time.Hour {
		t.Fatalf("advance: %v → %v", before, clock.Now)
	}
	post("/_emulator/clock", `{"advance_seconds":"soon"}`, 400)

	// Faults: POST one, POST an array, GET, DELETE; a bad rule is refused.
	post("/_emulator/faults", `{"operation":"UserInfo","status":503}`, 200)
	post("/_emulator/faults", `[{"operation":"AccessTokenList","delay_ms":1},{"operation":"AccessTokenRevoke","drop":true}]`, 200)
	post("/_emulator/faults", `{"operation":"UserInfo"}`, 400)
	post("/_emulator/faults", `{"operation":"UserInfo","status":200}`, 400)
	code, body = rawControl(t, f, http.MethodGet, "/_emulator/faults", "")
	if code != 200 || strings.Count(body, `"operation"`) != 3 {
		t.Fatalf("GET faults: %d %s", code, body)
	}
	if _, err := ac.UserInfo(ctx); status(err) != http.StatusServiceUnavailable {
		t.Fatalf("a 503 fault: %v", err)
	}
	if code, _ := rawControl(t, f, http.MethodDelete, "/_emulator/faults", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE faults: %d", code)
	}
	if code, body := rawControl(t, f, http.MethodGet, "/_emulator/faults", ""); code != 200 || strings.Contains(body, "operation") {
		t.Fatalf("faults after DELETE: %s", body)
	}
	if err := ac.AccessTokenRevoke(ctx, personal.TokenPrefix); err != nil {
		t.Fatalf("a cleared drop fault still fired: %v", err)
	}

	// Calls.
	code, body = rawControl(t, f, http.MethodGet, "/_emulator/calls", "")
	var calls map[string]int
	if code != 200 || json.Unmarshal([]byte(body), &calls) != nil {
		t.Fatalf("calls: %d %s", code, body)
	}
	want := map[string]int{opAppUserAccessTokenCreate: 1, opAccessTokenCreate: 1, opUserInfo: 1, opAccessTokenRevoke: 1}
	for op, n := range want {
		if calls[op] != n {
			t.Fatalf("calls %v, want %v", calls, want)
		}
	}
	if code, _ := rawControl(t, f, http.MethodDelete, "/_emulator/calls", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE calls: %d", code)
	}
	if _, body := rawControl(t, f, http.MethodGet, "/_emulator/calls", ""); strings.TrimSpace(body) != "{}" {
		t.Fatalf("calls after DELETE: %s", body)
	}
	if code, _ := rawControl(t, f, http.MethodGet, "/_emulator/nothing", ""); code != http.StatusNotFound {
		t.Fatalf("unknown control endpoint: %d", code)
	}

	// Nobody but loopback, on every control endpoint.
	for _, path := range []string{"/_emulator/users", "/_emulator/application-users", "/_emulator/tokens", "/_emulator/clock", "/_emulator/faults", "/_emulator/calls"} {
		for _, remote := range []string{"192.0.2.10:5555", "[2001:db8::1]:443", "10.0.0.1:80"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"email":"evil@example.com","operation":"UserInfo","status":500,"advance_seconds":1}`))
			req.RemoteAddr = remote
			rec := httptest.NewRecorder()
			f.emu.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "token") && !strings.Contains(rec.Body.String(), "loopback") {
				t.Fatalf("%s from %s: %d %s", path, remote, rec.Code, rec.Body)
			}
		}
	}
	if _, err := f.emu.CreateUser("evil@example.com"); err != nil {
		t.Fatal("a refused control call created a user")
	}
	if len(f.emu.Faults().Pending()) != 0 {
		t.Fatal("a refused control call added a fault")
	}
	// The loopback check holds for IPv6 loopback too.
	req := httptest.NewRequest(http.MethodGet, "/_emulator/calls", nil)
	req.RemoteAddr = "[::1]:5555"
	rec := httptest.NewRecorder()
	f.emu.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("::1: %d", rec.Code)
	}
}

func TestFaultOptionsOneByOne(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	add := func(r string) {
		t.Helper()
		if code, body := rawControl(t, f, http.MethodPost, "/_emulator/faults", r); code != 200 {
			t.Fatalf("add fault: %d %s", code, body)
		}
	}

	// status: an Aiven error body with the status's text.
	add(`{"operation":"AccessTokenList","status":500}`)
	code, body := rawCall(t, f, http.MethodGet, "/v1/access_token", "aivenv1 "+me.Token, "")
	if code != 500 || body != `{"errors":[{"message":"Internal Server Error","status":500}],"message":"Internal Server Error"}` {
		t.Fatalf("500 fault: %d %s", code, body)
	}

	// 429 through the client: the rate-limit message.
	add(`{"operation":"UserInfo","status":429}`)
	_, err := c.UserInfo(ctx)
	if status(err) != 429 || !strings.Contains(err.Error(), msgRateLimit) {
		t.Fatalf("429: %v", err)
	}

	// A faulted application token create creates nothing; the next one does.
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	ac := f.client(admin.Token)
	add(`{"operation":"ApplicationUserAccessTokenCreate","status":502,"times":2}`)
	before := len(f.emu.Tokens())
	for range 2 {
		if _, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "t"}); status(err) != 502 {
			t.Fatalf("502 fault: %v", err)
		}
	}
	if len(f.emu.Tokens()) != before {
		t.Fatal("a faulted create made a token")
	}
	if _, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "t"}); err != nil {
		t.Fatalf("after times=2: %v", err)
	}

	// A faulted UserExpireTokens expires nothing; a faulted update renames nothing.
	add(`{"operation":"UserExpireTokens","status":500}`)
	if err := c.UserExpireTokens(ctx); status(err) != 500 || !f.emu.Authenticates(me.Token) {
		t.Fatalf("faulted expire_tokens: %v; token alive %v", err, f.emu.Authenticates(me.Token))
	}
	add(`{"operation":"AccessTokenUpdate","status":500}`)
	if _, err := c.AccessTokenUpdate(ctx, me.TokenPrefix, &user.AccessTokenUpdateIn{Description: "renamed"}); status(err) != 500 {
		t.Fatalf("faulted update: %v", err)
	}
	if list, _ := c.AccessTokenList(ctx); len(list) != 1 || list[0].Description == nil || *list[0].Description != "console token" {
		t.Fatalf("a faulted update renamed: %+v", list)
	}

	// A delay alone answers normally, after the delay.
	add(`{"operation":"AccessTokenCreate","delay_ms":50}`)
	begin := time.Now()
	tok, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "slow"})
	if err != nil || time.Since(begin) < 50*time.Millisecond {
		t.Fatalf("delay: %v after %s", err, time.Since(begin))
	}
	// drop: a connection error, and the call did nothing.
	add(`{"operation":"AccessTokenRevoke","drop":true,"after":1}`)
	if err := c.AccessTokenRevoke(ctx, tok.TokenPrefix); err != nil {
		t.Fatalf("after=1 spares the first call: %v", err)
	}
	if err := c.AccessTokenRevoke(ctx, me.TokenPrefix); err == nil || status(err) != 0 || !f.emu.Authenticates(me.Token) {
		t.Fatalf("dropped revoke: %v; alive %v", err, f.emu.Authenticates(me.Token))
	}
	if pending := f.emu.Faults().Pending(); len(pending) != 0 {
		t.Fatalf("faults left unused: %+v", pending)
	}
	calls := f.emu.Faults().Calls()
	if calls[opAccessTokenRevoke] != 2 || calls[opAppUserAccessTokenCreate] != 3 || calls[opUserExpireTokens] != 1 {
		t.Fatalf("calls: %v", calls)
	}
	// Go's transport replays a GET whose reused connection dies before an
	// answer, so one drop of a GET goes unseen: two drops reach the client.
	add(`{"operation":"ApplicationUserAccessTokensList","drop":true,"times":2}`)
	if _, err := ac.ApplicationUserAccessTokensList(ctx, "org1", app.UserID); err == nil || status(err) != 0 {
		t.Fatalf("drop of a GET: %v", err)
	}
}

// Concurrent creates cannot overshoot the cap: exactly nine more tokens
// join the console token, every other call gets the 409.
func TestCapHoldsUnderConcurrentCreates(t *testing.T) {
	f := newFixture(t)
	c := f.client(f.user("ops@example.com").Token)
	codes := make(chan int, 30)
	var wg sync.WaitGroup
	for range cap(codes) {
		wg.Go(func() {
			_, err := c.AccessTokenCreate(t.Context(), &user.AccessTokenCreateIn{Description: "race"})
			codes <- status(err)
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for code := range codes {
		count[code]++
	}
	if count[0] != maxPersonalTokens-1 || count[http.StatusConflict] != cap(codes)-(maxPersonalTokens-1) {
		t.Fatalf("outcomes %v, want %d successes and the rest 409", count, maxPersonalTokens-1)
	}
	if n := len(f.emu.Tokens()); n != maxPersonalTokens {
		t.Fatalf("%d tokens exist", n)
	}
}

// A token with an ip_allowlist answers only from those addresses.
func TestIPAllowlist(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	tok, err := c.AccessTokenCreate(t.Context(), &user.AccessTokenCreateIn{Description: "fenced", IPAllowlist: &[]string{"10.0.0.0/8", "192.0.2.7"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(tok.FullToken).UserInfo(t.Context()); status(err) != http.StatusForbidden {
		t.Fatalf("from 127.0.0.1: %v, want 403", err)
	}
	for remote, want := range map[string]int{"10.1.2.3:40000": 200, "192.0.2.7:1": 200, "192.0.2.8:1": 403} {
		req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
		req.Header.Set("Authorization", "aivenv1 "+tok.FullToken)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		f.emu.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("from %s: %d %s, want %d", remote, rec.Code, rec.Body, want)
		}
	}
}
