package aiven

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

const testToken = "AVNU_dGVzdC10b2tlbi12YWx1ZQ+/=="

// fakeAiven is an httptest server whose handler the test sets, counting calls.
type fakeAiven struct {
	*httptest.Server
	calls atomic.Int32
}

func newFakeAiven(t *testing.T, h http.HandlerFunc) *fakeAiven {
	t.Helper()
	f := &fakeAiven{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if got := r.Header.Get("Authorization"); got != "aivenv1 "+testToken {
			t.Errorf("Authorization header = %q", got)
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func loopbackOptions() settings {
	return settings{
		Options:   Options{Policy: Policy{AllowedHosts: []string{"127.0.0.1"}, AllowInsecureLoopback: true}},
		baseDelay: time.Millisecond, maxDelay: 2 * time.Millisecond,
		sleep: func(context.Context, time.Duration) error { return nil },
	}
}

func newTestClient(t *testing.T, baseURL string, o settings) *Client {
	t.Helper()
	c, err := newClient(baseURL, secret.NewToken(testToken), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func TestMe(t *testing.T) {
	t.Setenv("AIVEN_WEB_URL", "http://192.0.2.1") // must be ignored
	t.Setenv("AIVEN_TOKEN", "from-env")
	t.Setenv("AIVEN_DEBUG", "true")
	srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/me" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		writeJSON(w, 200, `{"user":{"user":"dev@example.com","user_id":"u123","real_name":"Dev","state":"active","auth":[],"projects":[]}}`)
	})
	u, err := newTestClient(t, srv.URL, loopbackOptions()).Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "dev@example.com" || u.UserID != "u123" {
		t.Errorf("got %+v", u)
	}
}

func TestRevokeEscapesPrefix(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
	}{
		{name: "plus", prefix: "ab+cdEFGH123"},
		{name: "slash", prefix: "ab/cdEFGH123"},
		{name: "equals", prefix: "abcdEFGH12=="},
		{name: "all three", prefix: "a+b/c=dEFGH1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
				escaped := strings.TrimPrefix(r.URL.EscapedPath(), "/v1/access_token/")
				if strings.Contains(escaped, "/") {
					t.Errorf("a / reached the path unescaped: %s", r.URL.EscapedPath())
				}
				got, _ = url.PathUnescape(escaped) // never turns + into a space
				if r.Method != http.MethodDelete {
					t.Errorf("method %s", r.Method)
				}
				writeJSON(w, 200, `{"message":"revoked"}`)
			})
			revoked, err := newTestClient(t, srv.URL, loopbackOptions()).RevokeToken(context.Background(), tt.prefix)
			if err != nil || !revoked {
				t.Fatalf("RevokeToken = %v, %v", revoked, err)
			}
			if got != tt.prefix {
				t.Errorf("server decoded prefix %q, want %q", got, tt.prefix)
			}
		})
	}
}

func TestRevokeNotFoundIsAlreadyRevoked(t *testing.T) {
	srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"message":"Not found","errors":[{"message":"Not found","status":404}]}`)
	})
	revoked, err := newTestClient(t, srv.URL, loopbackOptions()).RevokeToken(context.Background(), "abc")
	if err != nil || revoked {
		t.Fatalf("RevokeToken = %v, %v; want false, nil", revoked, err)
	}
}

func TestCreateToken(t *testing.T) {
	maxAge := 86400.0
	ext := true
	tests := []struct {
		name          string
		replies       []func(w http.ResponseWriter)
		wantCalls     int32
		wantAmbiguous bool
		wantErr       bool
	}{
		{
			name:      "created",
			replies:   []func(http.ResponseWriter){created},
			wantCalls: 1,
		},
		{
			name:          "503 is ambiguous and not retried",
			replies:       []func(http.ResponseWriter){status(503)},
			wantCalls:     1,
			wantAmbiguous: true, wantErr: true,
		},
		{
			name: "connection dropped is ambiguous and not retried",
			replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
			}},
			wantCalls:     1,
			wantAmbiguous: true, wantErr: true,
		},
		{
			name:      "400 is definite",
			replies:   []func(http.ResponseWriter){status(400)},
			wantCalls: 1, wantErr: true,
		},
		{
			name: "429 is retried after Retry-After",
			replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "0")
				writeJSON(w, 429, `{"message":"Rate limit 120 exceeded - try again in 0s"}`)
			}, created},
			wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
				var body map[string]any
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
					t.Errorf("body: %v", err)
				}
				if r.Method != http.MethodPost || r.URL.Path != "/v1/access_token" || body["description"] != "ci [m]" ||
					body["max_age_seconds"] != 86400.0 || body["extend_when_used"] != true || len(body["scopes"].([]any)) != 1 {
					t.Errorf("request %s %s %v", r.Method, r.URL.Path, body)
				}
				if _, ok := body["ip_allowlist"]; ok {
					t.Error("ip_allowlist sent though unset")
				}
				i := int(n.Add(1)) - 1
				tt.replies[min(i, len(tt.replies)-1)](w)
			})
			nt, err := newTestClient(t, srv.URL, loopbackOptions()).CreateToken(context.Background(), CreateRequest{
				Description: "ci [m]", MaxAgeSeconds: &maxAge, ExtendWhenUsed: &ext, Scopes: []string{"user:read"},
			})
			if got := srv.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			if (err != nil) != tt.wantErr || IsAmbiguous(err) != tt.wantAmbiguous {
				t.Fatalf("err = %v, ambiguous = %v", err, IsAmbiguous(err))
			}
			if err == nil && (nt.FullToken.Reveal() != "NEWFULLTOKEN" || nt.Prefix != "NEW+/=") {
				t.Errorf("got %+v", nt.Token)
			}
		})
	}
}

func created(w http.ResponseWriter) {
	writeJSON(w, 200, `{"full_token":"NEWFULLTOKEN","token_prefix":"NEW+/=","description":"ci [m]","create_time":"2025-01-01T00:00:00Z","created_manually":true,"extend_when_used":true,"max_age_seconds":86400,"expiry_time":"2025-01-02T00:00:00Z"}`)
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		writeJSON(w, code, fmt.Sprintf(`{"message":"boom","errors":[{"message":"boom","status":%d}]}`, code))
	}
}

func TestListRetriesTransientFailures(t *testing.T) {
	var n atomic.Int32
	srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			writeJSON(w, 502, `{"message":"bad gateway"}`)
			return
		}
		writeJSON(w, 200, `{"tokens":[{"token_prefix":"a+b","description":"x","currently_active":true,"create_time":"2025-01-01T00:00:00Z","max_age_seconds":600,"extend_when_used":false,"created_manually":true}]}`)
	})
	tokens, err := newTestClient(t, srv.URL, loopbackOptions()).ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 1 || tokens[0].Prefix != "a+b" || !tokens[0].CurrentlyActive || tokens[0].MaxAgeSeconds != 600 {
		t.Errorf("got %+v", tokens)
	}
	if srv.calls.Load() != 3 {
		t.Errorf("%d calls, want 3", srv.calls.Load())
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name  string
		code  int
		check func(error) bool
	}{
		{name: "401", code: 401, check: IsUnauthorized},
		{name: "403", code: 403, check: IsForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.code, `{"message":"Missing (expired) db token","errors":[{"message":"Missing (expired) db token","status":401}]}`)
			})
			_, err := newTestClient(t, srv.URL, loopbackOptions()).Me(context.Background())
			if !tt.check(err) {
				t.Errorf("error %v not classified", err)
			}
			if srv.calls.Load() != 1 {
				t.Errorf("a %d was retried", tt.code)
			}
		})
	}
}

// virtualClock advances by every sleep, so retries never really wait.
type virtualClock struct {
	mu     sync.Mutex
	slept  time.Duration
	sleeps []time.Duration
}

func (c *virtualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.slept)
}

func (c *virtualClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept += d
	c.sleeps = append(c.sleeps, d)
	return nil
}

func TestRetriesStopBeforeTheDeadline(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{
			name:    "5xx forever",
			handler: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 503, `{"message":"unavailable"}`) },
			want:    "would pass the invocation deadline",
		},
		{
			name: "429 asking for longer than is left",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 429, `{"message":"The user has sent too many requests in a given amount of time: Rate limit 120 exceeded - try again in 28s"}`)
			},
			want: "Aiven asked to retry after 28s; that is past the invocation deadline",
		},
		{
			name: "429 with Retry-After longer than is left",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				writeJSON(w, 429, `{"message":"slow down"}`)
			},
			want: "Aiven asked to retry after 30s; that is past the invocation deadline",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeAiven(t, tt.handler)
			clock := &virtualClock{}
			o := loopbackOptions()
			o.baseDelay, o.maxDelay, o.maxAttempts = 100*time.Millisecond, time.Second, 50
			o.sleep, o.now = clock.sleep, clock.now
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := newTestClient(t, srv.URL, o).ListTokens(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
			if n := srv.calls.Load(); n >= 50 {
				t.Errorf("%d attempts: the deadline did not bound them", n)
			}
			if clock.slept >= 2*time.Second {
				t.Errorf("slept %s, past the deadline", clock.slept)
			}
		})
	}
}

func TestRateLimitedCallWaitsTheGivenDelay(t *testing.T) {
	var n atomic.Int32
	srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			writeJSON(w, 429, `{"message":"Rate limit 120 exceeded - try again in 3s"}`)
			return
		}
		writeJSON(w, 200, `{"tokens":[]}`)
	})
	clock := &virtualClock{}
	o := loopbackOptions()
	o.sleep, o.now = clock.sleep, clock.now
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := newTestClient(t, srv.URL, o).ListTokens(ctx); err != nil {
		t.Fatal(err)
	}
	if len(clock.sleeps) != 1 || clock.sleeps[0] != 3*time.Second {
		t.Errorf("slept %v, want [3s]", clock.sleeps)
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		policy   Policy
		wantFail string
	}{
		{name: "https to allowed host", url: "https://api.aiven.io", policy: Policy{AllowedHosts: []string{"api.aiven.io"}}},
		{name: "https host case and trailing dot", url: "https://API.aiven.io.:443", policy: Policy{AllowedHosts: []string{"api.aiven.io"}}},
		{name: "https to other host", url: "https://evil.example", policy: Policy{AllowedHosts: []string{"api.aiven.io"}}, wantFail: "not in ALLOWED_API_HOSTS"},
		{name: "look-alike suffix", url: "https://api.aiven.io.evil.example", policy: Policy{AllowedHosts: []string{"api.aiven.io"}}, wantFail: "not in ALLOWED_API_HOSTS"},
		{name: "http without the loopback flag", url: "http://127.0.0.1:4567", policy: Policy{AllowedHosts: []string{"127.0.0.1"}}, wantFail: "only https"},
		{name: "http to loopback with the flag", url: "http://127.0.0.1:4567", policy: Policy{AllowedHosts: []string{"127.0.0.1"}, AllowInsecureLoopback: true}},
		{name: "http to ::1 with the flag", url: "http://[::1]:4567", policy: Policy{AllowedHosts: []string{"::1"}, AllowInsecureLoopback: true}},
		{name: "http to non-loopback even with the flag", url: "http://10.0.0.1", policy: Policy{AllowedHosts: []string{"10.0.0.1"}, AllowInsecureLoopback: true}, wantFail: "only to loopback"},
		{name: "http to a name even with the flag", url: "http://localhost:4567", policy: Policy{AllowedHosts: []string{"localhost"}, AllowInsecureLoopback: true}, wantFail: "only to loopback"},
		{name: "http to api.aiven.io with the flag", url: "http://api.aiven.io", policy: Policy{AllowedHosts: []string{"api.aiven.io"}, AllowInsecureLoopback: true}, wantFail: "only to loopback"},
		{name: "loopback not allowed", url: "http://127.0.0.2", policy: Policy{AllowedHosts: []string{"127.0.0.1"}, AllowInsecureLoopback: true}, wantFail: "not in ALLOWED_API_HOSTS"},
		{name: "other scheme", url: "ftp://api.aiven.io", policy: Policy{AllowedHosts: []string{"api.aiven.io"}}, wantFail: "only https"},
		{name: "user info", url: "https://u:p@api.aiven.io", policy: Policy{AllowedHosts: []string{"api.aiven.io"}}, wantFail: "user info"},
		{name: "a path", url: "https://api.aiven.io/v1", policy: Policy{AllowedHosts: []string{"api.aiven.io"}}, wantFail: "no path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.policy.CheckBaseURL(tt.url)
			if tt.wantFail == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantFail) || !IsPolicy(err) {
				t.Fatalf("err = %v, want a policy error saying %q", err, tt.wantFail)
			}
			if strings.Contains(err.Error(), "u:p") {
				t.Error("user info leaked into the error")
			}
		})
	}
}

func TestRefusedHostGetsNoRequest(t *testing.T) {
	srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
	tests := []struct {
		name   string
		policy Policy
	}{
		{name: "http without the flag", policy: Policy{AllowedHosts: []string{"127.0.0.1"}}},
		{name: "host not allowed", policy: Policy{AllowedHosts: []string{"api.aiven.io"}, AllowInsecureLoopback: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(srv.URL, secret.NewToken(testToken), Options{Policy: tt.policy}); !IsPolicy(err) {
				t.Fatalf("New = %v, want a policy error", err)
			}
		})
	}
	if srv.calls.Load() != 0 {
		t.Errorf("%d requests reached a refused host", srv.calls.Load())
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v1/me", http.StatusTemporaryRedirect)
	})
	_, err := newTestClient(t, srv.URL, loopbackOptions()).Me(context.Background())
	if err == nil {
		t.Fatal("a redirect was taken for an answer")
	}
	if elsewhere.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func TestHTTPSWithoutLoopbackFlag(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"user":{"user":"dev@example.com","user_id":"u1"}}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, secret.NewToken(testToken), Options{Policy: Policy{AllowedHosts: []string{"127.0.0.1"}}, Transport: srv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTransportRefusesWhatThePolicyRefuses(t *testing.T) {
	var sent atomic.Int32
	tr := policyTransport{policy: Policy{AllowedHosts: []string{"api.aiven.io"}}, base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		sent.Add(1)
		return nil, errors.New("unreachable")
	})}
	req, _ := http.NewRequest(http.MethodGet, "http://api.aiven.io/v1/me", nil)
	if _, err := tr.RoundTrip(req); !IsPolicy(err) {
		t.Fatalf("RoundTrip = %v", err)
	}
	if sent.Load() != 0 {
		t.Error("the request went out")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
