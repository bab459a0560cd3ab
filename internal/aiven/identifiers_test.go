package aiven

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// pathRecorder is an Aiven stand-in that records each request's path as
// it arrived on the wire (RequestURI, escapes kept) and answers an empty
// token list.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (p *pathRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.paths = append(p.paths, strings.SplitN(r.RequestURI, "?", 2)[0])
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"tokens":[]}`))
}

func (p *pathRecorder) sent() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...)
}

// go-client-codegen path-escapes organization_id and user_id
// (url.PathEscape), which keeps "/", "?", "#", "%" and " " inside their
// segment; but it leaves "." alone, so a ".." id still reaches the server
// as a dot segment that a proxy or router may climb. That gap is why only
// ids of Aiven's shape are sent (secret.CheckAivenID).
func TestGoClientCodegenEscapesApplicationUserPathSegments(t *testing.T) {
	rec := &pathRecorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, loopbackOptions())
	for _, tc := range []struct{ org, want string }{
		{"org1/application-users", "/v1/organization/org1%2Fapplication-users/application-users/u2a000003/access-tokens"},
		{"../x", "/v1/organization/..%2Fx/application-users/u2a000003/access-tokens"},
		{"org1?x=1", "/v1/organization/org1%3Fx=1/application-users/u2a000003/access-tokens"},
		{"org1#x", "/v1/organization/org1%23x/application-users/u2a000003/access-tokens"},
		{"org1%2F", "/v1/organization/org1%252F/application-users/u2a000003/access-tokens"},
		{"o g", "/v1/organization/o%20g/application-users/u2a000003/access-tokens"},
		// Not escaped: a dot segment.
		{"..", "/v1/organization/../application-users/u2a000003/access-tokens"},
	} {
		before := len(rec.sent())
		// The codegen handler itself, below the rotator's check.
		if _, err := c.apps.ApplicationUserAccessTokensList(context.Background(), tc.org, "u2a000003"); err != nil {
			t.Fatalf("%q: %v", tc.org, err)
		}
		if got := rec.sent()[before:]; len(got) != 1 || got[0] != tc.want {
			t.Errorf("organization %q went on the wire as %q, want %q", tc.org, got, tc.want)
		}
	}
}

// The client's own calls send only ids of Aiven's shape, which need no
// escaping: anything else fails naming the field, with nothing sent.
func TestApplicationUserIDsAreCheckedBeforeAnyRequest(t *testing.T) {
	rec := &pathRecorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, loopbackOptions())
	ctx := context.Background()

	good := ApplicationUser{OrganizationID: "org1a2b3c4d5e6", UserID: "u2a000003"}
	if _, err := c.listApplicationTokens(ctx, good); err != nil {
		t.Fatal(err)
	}
	if got := rec.sent(); len(got) != 1 || got[0] != "/v1/organization/org1a2b3c4d5e6/application-users/u2a000003/access-tokens" {
		t.Fatalf("a valid user went on the wire as %q", got)
	}

	for _, tc := range []struct {
		field string
		user  ApplicationUser
	}{
		{"organization_id", ApplicationUser{OrganizationID: "../x", UserID: "u2a000003"}},
		{"organization_id", ApplicationUser{OrganizationID: "..", UserID: "u2a000003"}},
		{"organization_id", ApplicationUser{OrganizationID: "org1/application-users", UserID: "u2a000003"}},
		{"organization_id", ApplicationUser{OrganizationID: strings.Repeat("o", 65), UserID: "u2a000003"}},
		{"application_user_id", ApplicationUser{OrganizationID: "org1", UserID: "u2a000003/access-tokens"}},
		{"application_user_id", ApplicationUser{OrganizationID: "org1", UserID: "u2a000003%2F.."}},
	} {
		calls := map[string]func() error{
			"list": func() error { _, err := c.listApplicationTokens(ctx, tc.user); return err },
			"create": func() error {
				_, err := c.createApplicationToken(ctx, tc.user, CreateRequest{Description: "d"})
				return err
			},
			"revoke": func() error { _, err := c.revokeApplicationToken(ctx, tc.user, "ABCDEFGHIJKL"); return err },
		}
		for name, call := range calls {
			err := call()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%s %+v: %v, want an error naming %s", name, tc.user, err, tc.field)
			}
			if err != nil && (strings.Contains(err.Error(), tc.user.OrganizationID) && tc.field == "organization_id" ||
				strings.Contains(err.Error(), tc.user.UserID) && tc.field == "application_user_id") {
				t.Errorf("%s: the error quotes the value: %v", name, err)
			}
		}
	}
	if got := rec.sent(); len(got) != 1 {
		t.Errorf("requests sent for refused ids: %q", got[1:])
	}
}
