package aivenemulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	aiven "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/user"
)

var tryAgain = regexp.MustCompile(`^The user has sent too many requests in a given amount of time: Rate limit (\d+) exceeded - try again in (\d+)s$`)

// rateLimitStatus reads GET /_emulator/rate-limit.
func rateLimitStatus(t *testing.T, f *fixture) (RateLimitStatus, string) {
	t.Helper()
	code, body := rawControl(t, f, http.MethodGet, "/_emulator/rate-limit", "")
	var s RateLimitStatus
	if code != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil {
		t.Fatalf("GET rate-limit: %d %s", code, body)
	}
	return s, body
}

func setRateLimit(t *testing.T, f *fixture, body string) RateLimitStatus {
	t.Helper()
	code, out := rawControl(t, f, http.MethodPut, "/_emulator/rate-limit", body)
	var s RateLimitStatus
	if code != http.StatusOK || json.Unmarshal([]byte(out), &s) != nil {
		t.Fatalf("PUT rate-limit %s: %d %s", body, code, out)
	}
	return s
}

// limitedMessage checks err is Aiven's rate-limit 429 for limit n and
// returns the seconds it asks to wait.
func limitedMessage(t *testing.T, err error, n int) int {
	t.Helper()
	var e aiven.Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
		t.Fatalf("want a 429, got %v", err)
	}
	m := tryAgain.FindStringSubmatch(e.Message)
	if m == nil || m[1] != strconv.Itoa(n) {
		t.Fatalf("429 message %q is not Aiven's for limit %d", e.Message, n)
	}
	wait, _ := strconv.Atoi(m[2])
	return wait
}

func TestRateLimitIsOffByDefault(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	for i := range 30 {
		if _, err := c.UserInfo(t.Context()); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	s, body := rateLimitStatus(t, f)
	if s.Enabled || s.Requests != 0 || s.WindowMS != 0 || len(s.Limited) != 0 {
		t.Fatalf("a new emulator has a rate limit: %s", body)
	}
}

// N calls of one token pass, the next is Aiven's 429 with its message and
// no Retry-After; another token, of the same user or another, is
// untouched; the control API is never limited and shows the 429s by
// prefix only; the window frees as the clock passes; DELETE turns it off.
func TestRateLimitPerToken(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	me := f.user("ops@example.com")
	other := f.user("dev@example.com")
	c := f.client(me.Token)
	second, err := c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "second token of ops"})
	if err != nil {
		t.Fatal(err)
	}

	s := setRateLimit(t, f, `{"requests": 3, "window_ms": 60000}`)
	if !s.Enabled || s.Requests != 3 || s.WindowMS != 60000 || len(s.Limited) != 0 {
		t.Fatalf("PUT answered %+v", s)
	}
	for i := range 3 {
		if _, err := c.UserInfo(ctx); err != nil {
			t.Fatalf("call %d of 3: %v", i+1, err)
		}
	}
	_, err = c.UserInfo(ctx)
	if wait := limitedMessage(t, err, 3); wait < 1 || wait > 60 {
		t.Fatalf("try again in %ds, want 1 to 60", wait)
	}
	// Every kind of call is limited, and a refused create creates nothing.
	before := len(f.emu.Tokens())
	_, err = c.AccessTokenCreate(ctx, &user.AccessTokenCreateIn{Description: "refused"})
	limitedMessage(t, err, 3)
	if n := len(f.emu.Tokens()); n != before {
		t.Fatalf("a rate-limited create made a token (%d tokens, were %d)", n, before)
	}
	// The raw answer: Aiven's error body, no Retry-After.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/access_token", nil)
	req.Header.Set("Authorization", "aivenv1 "+me.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("raw call: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Other tokens have their own allowance: the same user's, another user's.
	for _, tok := range []string{second.FullToken, other.Token} {
		for i := range 3 {
			if _, err := f.client(tok).UserInfo(ctx); err != nil {
				t.Fatalf("another token, call %d: %v", i+1, err)
			}
		}
	}

	// The control API is never limited, even carrying the limited token.
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/_emulator/rate-limit", nil)
		req.Header.Set("Authorization", "aivenv1 "+me.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the control API answered %d", resp.StatusCode)
		}
	}
	s, body := rateLimitStatus(t, f)
	if want := map[string]int{me.TokenPrefix: 3}; len(s.Limited) != 1 || s.Limited[me.TokenPrefix] != 3 {
		t.Fatalf("limited %v, want %v", s.Limited, want)
	}
	for _, tok := range []string{me.Token, second.FullToken, other.Token} {
		if strings.Contains(body, tok[prefixLength:prefixLength+20]) {
			t.Fatalf("GET rate-limit shows a token: %s", body)
		}
	}

	// The window frees as the emulator's clock passes it.
	code, out := rawControl(t, f, http.MethodPost, "/_emulator/clock", `{"advance_seconds": 60}`)
	if code != http.StatusOK {
		t.Fatalf("clock: %d %s", code, out)
	}
	for i := range 3 {
		if _, err := c.UserInfo(ctx); err != nil {
			t.Fatalf("after the window, call %d: %v", i+1, err)
		}
	}
	_, err = c.UserInfo(ctx)
	limitedMessage(t, err, 3)

	// DELETE turns it off and forgets the counts.
	if code, out := rawControl(t, f, http.MethodDelete, "/_emulator/rate-limit", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", code, out)
	}
	for i := range 10 {
		if _, err := c.UserInfo(ctx); err != nil {
			t.Fatalf("after DELETE, call %d: %v", i+1, err)
		}
	}
	if s, body := rateLimitStatus(t, f); s.Enabled || len(s.Limited) != 0 {
		t.Fatalf("after DELETE: %s", body)
	}
}

// The window runs on the wall clock too: a small one frees by itself, and
// the wait asked for is never under a second.
func TestRateLimitWindowFreesWithTime(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	c := f.client(me.Token)
	setRateLimit(t, f, `{"requests": 1, "window_ms": 100}`)
	if _, err := c.UserInfo(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := c.UserInfo(t.Context())
	if wait := limitedMessage(t, err, 1); wait != 1 {
		t.Fatalf("try again in %ds for a 100 ms window, want 1s", wait)
	}
	time.Sleep(150 * time.Millisecond)
	if _, err := c.UserInfo(t.Context()); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Requests that carry no live token are answered 401 and not counted.
func TestRateLimitCountsAuthenticatedCallsOnly(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	dead := f.user("gone@example.com")
	if err := f.client(dead.Token).AccessTokenRevoke(t.Context(), dead.TokenPrefix); err != nil {
		t.Fatal(err)
	}
	setRateLimit(t, f, `{"requests": 2, "window_ms": 60000}`)
	for _, auth := range []string{"", "Basic " + me.Token, "aivenv1 ", "aivenv1 " + dead.Token, "aivenv1 " + dead.Token} {
		if code, body := rawCall(t, f, http.MethodGet, "/v1/me", auth, ""); code != http.StatusUnauthorized {
			t.Fatalf("Authorization %.20q: %d %s", auth, code, body)
		}
	}
	c := f.client(me.Token)
	for i := range 2 {
		if _, err := c.UserInfo(t.Context()); err != nil {
			t.Fatalf("call %d of 2: %v", i+1, err)
		}
	}
	_, err := c.UserInfo(t.Context())
	limitedMessage(t, err, 2)
	if s, body := rateLimitStatus(t, f); len(s.Limited) != 1 || s.Limited[me.TokenPrefix] != 1 {
		t.Fatalf("limited: %s", body)
	}
}

func TestRateLimitControlRefusesBadSettings(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{
		`{}`,
		`{"requests": 3}`,
		`{"window_ms": 1000}`,
		`{"requests": 0, "window_ms": 1000}`,
		`{"requests": -1, "window_ms": 1000}`,
		`{"requests": 100001, "window_ms": 1000}`,
		`{"requests": 3, "window_ms": 0}`,
		`{"requests": 3, "window_ms": -5}`,
		`{"requests": 3, "window_ms": 3600001}`,
		`{"requests": 3, "window_ms": -9223372036854775808}`,
		`{"requests": 3, "window_ms": 1000, "per": "user"}`,
		`{"requests": 1.5, "window_ms": 1000}`,
		`not json`,
	} {
		if code, out := rawControl(t, f, http.MethodPut, "/_emulator/rate-limit", body); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %s, want 400", body, code, out)
		}
	}
	if code, out := rawControl(t, f, http.MethodPatch, "/_emulator/rate-limit", `{"requests": 3, "window_ms": 1000}`); code != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %d %s, want 405", code, out)
	}
	if s, body := rateLimitStatus(t, f); s.Enabled {
		t.Fatalf("a refused setting took effect: %s", body)
	}
	// POST works as PUT does, as on the other control endpoints.
	if code, out := rawControl(t, f, http.MethodPost, "/_emulator/rate-limit", `{"requests": 5, "window_ms": 3600000}`); code != http.StatusOK || !strings.Contains(out, `"requests":5`) {
		t.Fatalf("POST: %d %s", code, out)
	}
}

// Concurrent calls of one token: exactly N pass, the rest are 429.
func TestRateLimitHoldsUnderConcurrentCalls(t *testing.T) {
	f := newFixture(t)
	me := f.user("ops@example.com")
	setRateLimit(t, f, `{"requests": 5, "window_ms": 60000}`)
	codes := make(chan int, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/me", nil)
			req.Header.Set("Authorization", "aivenv1 "+me.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err) // not Fatal: this is not the test's goroutine
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusOK] != 5 || count[http.StatusTooManyRequests] != 15 {
		t.Fatalf("answers %v, want 5 × 200 and 15 × 429", count)
	}
	if s, body := rateLimitStatus(t, f); s.Limited[me.TokenPrefix] != 15 {
		t.Fatalf("limited: %s", body)
	}
}
