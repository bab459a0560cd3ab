package aivenemulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aiven/go-client-codegen/handler/user"
)

// Found by trying the emulator with clients other than Aiven's Go client
// (issue 10, "Local stack fidelity").

// /v1/me carries token_validity_begin, as Aiven's published example does,
// in that example's format; UserExpireTokens moves it.
func TestUserInfoHasTokenValidityBegin(t *testing.T) {
	f := newFixture(t, WithClock(time.Date(2026, 3, 1, 9, 24, 10, 0, time.UTC)))
	ctx := t.Context()
	// within says whether at lies between from and to, at the example's
	// microsecond precision (the emulator's clock keeps running).
	within := func(at, from, to time.Time) bool {
		return !at.Before(from.Truncate(time.Microsecond)) && !at.After(to)
	}
	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	before := f.emu.Now()
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	registered := f.emu.Now()
	ac := f.client(admin.Token)
	old, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "old"})
	if err != nil {
		t.Fatal(err)
	}
	begin := func(token string) time.Time {
		t.Helper()
		info, err := f.client(token).UserInfo(ctx)
		if err != nil || info.TokenValidityBegin == nil {
			t.Fatalf("UserInfo: %+v, %v", info, err)
		}
		// The published example: "2021-08-18T09:24:10.298796+00:00".
		if len(*info.TokenValidityBegin) != len("2021-08-18T09:24:10.298796+00:00") || !strings.HasSuffix(*info.TokenValidityBegin, "+00:00") {
			t.Fatalf("token_validity_begin %q is not in the published example's format", *info.TokenValidityBegin)
		}
		at, err := time.Parse(time.RFC3339Nano, *info.TokenValidityBegin)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	f.emu.Advance(time.Hour)
	if got := begin(old.FullToken); !within(got, before, registered) {
		t.Fatalf("before any invalidation token_validity_begin is %v, want the registration (%v to %v)", got, before, registered)
	}
	expiring := f.emu.Now()
	if err := f.client(old.FullToken).UserExpireTokens(ctx); err != nil {
		t.Fatal(err)
	}
	expired := f.emu.Now()
	f.emu.Advance(time.Second)
	fresh, err := ac.ApplicationUserAccessTokenCreate(ctx, "org1", app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if got := begin(fresh.FullToken); !within(got, expiring, expired) {
		t.Fatalf("after UserExpireTokens token_validity_begin is %v, want the moment of that call (%v to %v)", got, expiring, expired)
	}
}

// A token never used lists last_used_time, last_ip, last_user_agent and
// last_user_agent_human_readable as null, not absent; once used, as values.
func TestNeverUsedTokensSendLastUseAsNull(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	lastUse := []string{"last_used_time", "last_ip", "last_user_agent", "last_user_agent_human_readable"}
	keys := func(what, body string, obj map[string]any, wantNull bool) {
		t.Helper()
		for _, k := range lastUse {
			v, ok := obj[k]
			if !ok || (v == nil) != wantNull {
				t.Errorf("%s: %s is %v (present %v), want null %v\n%s", what, k, v, ok, wantNull, body)
			}
		}
	}
	code, body := rawCall(t, f, http.MethodPost, "/v1/access_token", "aivenv1 "+me.Token, `{"description":"fresh"}`)
	var created map[string]any
	if code != http.StatusOK || json.Unmarshal([]byte(body), &created) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	keys("create reply", body, created, true)

	code, body = rawCall(t, f, http.MethodGet, "/v1/access_token", "aivenv1 "+me.Token, "")
	var list struct{ Tokens []map[string]any }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.Tokens) != 2 {
		t.Fatalf("list: %d %s", code, body)
	}
	for _, tok := range list.Tokens {
		used := tok["token_prefix"] == me.TokenPrefix // the caller's, used by this very call
		keys("list, "+tok["token_prefix"].(string), body, tok, !used)
	}

	admin, _ := f.emu.createUser("admin@example.com", "org1", []string{RoleOrganizationAdmin})
	app, _ := f.emu.CreateApplicationUser("org1", "ci", nil)
	path := "/v1/organization/org1/application-users/" + app.UserID + "/access-tokens"
	if code, body := rawCall(t, f, http.MethodPost, path, "aivenv1 "+admin.Token, `{"description":"ci"}`); code != http.StatusOK {
		t.Fatalf("application token: %d %s", code, body)
	}
	code, body = rawCall(t, f, http.MethodGet, path, "aivenv1 "+admin.Token, "")
	var appList struct{ Tokens []map[string]any }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &appList) != nil || len(appList.Tokens) != 1 {
		t.Fatalf("application list: %d %s", code, body)
	}
	keys("application list", body, appList.Tokens[0], true)
}

// Every fourth issued token ends in "==", as Aiven's published example
// does; its prefix never holds '=' from the padding, and it still has 372
// characters.
func TestSomeTokensArePadded(t *testing.T) {
	e := New()
	padded := 0
	for i := range 40 {
		u, err := e.CreateUser("p" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Token) != 372 || u.TokenPrefix != u.Token[:12] {
			t.Fatalf("token of %d characters, prefix %q", len(u.Token), u.TokenPrefix)
		}
		if _, err := base64.StdEncoding.DecodeString(u.Token); err != nil {
			t.Fatalf("not standard base64: %v", err)
		}
		if strings.Contains(u.Token, "=") {
			if !strings.HasSuffix(u.Token, "==") || strings.Contains(u.Token[:370], "=") {
				t.Fatalf("padding is not at the end: ...%s", u.Token[360:])
			}
			padded++
		}
	}
	if padded != 10 {
		t.Fatalf("%d of 40 tokens padded, want every fourth", padded)
	}
}

// A padded full token, in place of the prefix, revokes through Aiven's Go
// client (which sends '=' and '+' literally and '/' as %2F).
func TestPaddedFullTokenRevokesThroughAivensClient(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	var padded *user.AccessTokenCreateOut
	for range 4 {
		tok, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "maybe padded"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(tok.FullToken, "==") {
			padded = tok
			break
		}
	}
	if padded == nil {
		t.Fatal("none of four tokens was padded")
	}
	if _, err := f.client(padded.FullToken).UserInfo(ctx); err != nil {
		t.Fatalf("a padded token does not authenticate: %v", err)
	}
	if err := c.AccessTokenRevoke(ctx, padded.FullToken); err != nil {
		t.Fatalf("revoke by padded full token: %v", err)
	}
	if f.emu.Authenticates(padded.FullToken) {
		t.Fatal("the padded token still authenticates")
	}
	for _, r := range f.emu.Tokens() {
		want := "live"
		if r.TokenPrefix == padded.TokenPrefix {
			want = "revoked"
		}
		if r.State != want {
			t.Errorf("%s is %s, want %s", r.TokenPrefix, r.State, want)
		}
	}
}
