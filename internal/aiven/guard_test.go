package aiven

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/boundedhttp"
)

// fullToken is shaped like an Aiven token: standard base64, long.
const fullToken = "AVNU_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG9mcmVkcGx1Z3h5enp5c2VjcmV0c2VjcmV0c2VjcmV0cw+/=="

// leak is the first run of 16 characters of secret that text contains, or "".
func leak(text, secret string) string {
	for i := 0; i+16 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+16]) {
			return secret[i : i+16]
		}
	}
	return ""
}

// The reported attack: a proxy lets the create through, then answers the
// follow-up calls with a 502 whose body quotes the create's answer.
func TestProxyErrorPageQuotingTheNewTokenStaysOutOfErrors(t *testing.T) {
	createAnswer := `{"full_token":"` + fullToken + `","token_prefix":"AVNU_Zm9vYm","description":"rotator [m]","create_time":"2025-01-01T00:00:00Z","created_manually":false,"extend_when_used":false,"max_age_seconds":86400}`
	bodies := []struct {
		name, contentType, body, wantSummary string
	}{
		{name: "HTML error page", contentType: "text/html; charset=utf-8",
			body:        "<html><body><h1>502 Bad Gateway</h1><pre>upstream said: " + createAnswer + "</pre></body></html>",
			wantSummary: "502 response with a body that is not Aiven error JSON (text/html, "},
		{name: "plain text", contentType: "text/plain",
			body:        "upstream reset after " + createAnswer,
			wantSummary: "502 response with a body that is not Aiven error JSON (text/plain, "},
		{name: "JSON not in Aiven's error shape", contentType: "application/json",
			body:        createAnswer,
			wantSummary: "502 response with a body that is not Aiven error JSON (application/json, "},
		{name: "JSON whose message is not a string", contentType: "application/json",
			body:        `{"message":{"upstream":"` + fullToken + `"}}`,
			wantSummary: "not Aiven error JSON (application/json, "},
		{name: "content type quoting the token", contentType: "text/" + fullToken,
			body:        fullToken,
			wantSummary: "not Aiven error JSON (an unrecognised content type, "},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			var created atomic.Bool
			srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					created.Store(true)
					writeJSON(w, 200, createAnswer)
					return
				}
				w.Header().Set("Content-Type", b.contentType)
				w.WriteHeader(http.StatusBadGateway)
				_, _ = io.WriteString(w, b.body)
			})
			o := loopbackOptions()
			o.maxAttempts = 2
			c := newTestClient(t, srv.URL, o)
			nt, err := c.CreateToken(context.Background(), CreateRequest{Description: "rotator [m]"})
			if err != nil || nt.FullToken.Reveal() != fullToken {
				t.Fatalf("create: %v", err)
			}
			_, lerr := c.ListTokens(context.Background())
			_, merr := c.Me(context.Background())
			_, rerr := c.RevokeToken(context.Background(), "AVNU_Zm9vYm")
			for name, err := range map[string]error{"ListTokens": lerr, "Me": merr, "RevokeToken": rerr} {
				if err == nil {
					t.Fatalf("%s succeeded on a 502", name)
				}
				if run := leak(err.Error(), fullToken); run != "" {
					t.Errorf("%s error quotes the token (%q): %v", name, run, err)
				}
				if Status(err) != http.StatusBadGateway || !retryable(err) {
					t.Errorf("%s: status %d, retryable %v: classification lost", name, Status(err), retryable(err))
				}
				if !strings.Contains(err.Error(), b.wantSummary+fmt.Sprint(len(b.body))+" bytes)") {
					t.Errorf("%s error %q does not summarise the body as %q", name, err, b.wantSummary)
				}
			}
		})
	}
}

func TestAivenErrorMessageIsKeptButClipped(t *testing.T) {
	tests := []struct {
		name, body, want string
		maxLen           int
	}{
		{name: "Aiven's own message", body: `{"message":"Missing (expired) db token","errors":[{"message":"Missing (expired) db token","status":401}]}`,
			want: "[401 UserInfo]: Missing (expired) db token", maxLen: 100},
		{name: "a long message", body: `{"message":"` + strings.Repeat("é, ", 5000) + `"}`,
			want: "(clipped, 20000 bytes in all)", maxLen: maxMessage + 200},
		{name: "a long errors array is dropped", body: `{"message":"bad","errors":[{"message":"` + strings.Repeat("x", 100000) + `","status":401}]}`,
			want: "[401 UserInfo]: bad", maxLen: 100},
		{name: "a token-shaped run in the message is cut", body: `{"message":"token ` + fullToken + ` is bad"}`,
			want: "token AVNU_[cut] is bad", maxLen: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 401, tt.body) })
			_, err := newTestClient(t, srv.URL, loopbackOptions()).Me(context.Background())
			if !IsUnauthorized(err) {
				t.Fatalf("err = %v, want a 401", err)
			}
			if !strings.Contains(err.Error(), tt.want) || len(err.Error()) > tt.maxLen {
				t.Errorf("error (%d bytes) %.400q, want it to contain %q and be at most %d bytes", len(err.Error()), err, tt.want, tt.maxLen)
			}
		})
	}
}

// countingBody serves an 8 MiB body and counts the bytes it served.
type countingBody struct{ served atomic.Int64 }

func (b *countingBody) Read(p []byte) (int, error) {
	left := 8<<20 - b.served.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), left)]
	for i := range p {
		p[i] = 'A'
	}
	b.served.Add(int64(len(p)))
	return len(p), nil
}

func (b *countingBody) Close() error { return nil }

func TestEveryBodyReadIsCapped(t *testing.T) {
	for _, code := range []int{200, 500, 401} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var calls atomic.Int32
			var bodies []*countingBody
			o := loopbackOptions()
			o.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
				calls.Add(1)
				b := &countingBody{}
				bodies = append(bodies, b)
				return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/json"}}, Body: b, ContentLength: -1, Request: r}, nil
			})
			_, err := newTestClient(t, "http://127.0.0.1:1", o).Me(context.Background())
			if err == nil || !strings.Contains(err.Error(), "response body from Aiven over 1 MiB") {
				t.Fatalf("err = %v, want it to say the body is over 1 MiB", err)
			}
			for i, b := range bodies {
				if n := b.served.Load(); n > maxBody+1 {
					t.Errorf("attempt %d read %d bytes, more than the %d-byte cap", i+1, n, maxBody+1)
				}
			}
			if code != 500 && calls.Load() != 1 {
				t.Errorf("%d attempts: an over-cap answer was retried", calls.Load())
			}
			if code != 200 && Status(err) != code {
				t.Errorf("status %d, want %d", Status(err), code)
			}
			if len(err.Error()) > maxErrorText+100 {
				t.Errorf("error text is %d bytes", len(err.Error()))
			}
		})
	}
}

func TestOverCapAnswerFromAServer(t *testing.T) {
	big := strings.Repeat(`{"tokens":[], "pad": "`+fullToken+`"}`, (3<<20)/len(fullToken))
	for _, code := range []int{200, 502} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, code, big) })
			o := loopbackOptions()
			o.maxAttempts = 1
			_, err := newTestClient(t, srv.URL, o).ListTokens(context.Background())
			if err == nil || !strings.Contains(err.Error(), "response body from Aiven over 1 MiB") {
				t.Fatalf("err = %.300v", err)
			}
			if run := leak(err.Error(), fullToken); run != "" {
				t.Errorf("error quotes the body: %.300v", err)
			}
		})
	}
	t.Run("created then over cap is ambiguous", func(t *testing.T) {
		srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, big) })
		_, err := newTestClient(t, srv.URL, loopbackOptions()).CreateToken(context.Background(), CreateRequest{Description: "x"})
		if !IsAmbiguous(err) || srv.calls.Load() != 1 {
			t.Fatalf("err = %.300v after %d calls, want one ambiguous call", err, srv.calls.Load())
		}
	})
}

// A 2xx whose JSON does not decode: the decoder's own text may quote it.
func TestDecodeErrorsDoNotQuoteTheAnswer(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{name: "a timestamp holding the token", body: `{"tokens":[{"token_prefix":"a","create_time":"` + fullToken + `"}]}`, want: "a timestamp that is not RFC 3339"},
		{name: "a number of the wrong type", body: `{"tokens":[{"token_prefix":12345678901234567890123456789}]}`, want: "a JSON number of the wrong type"},
		{name: "malformed", body: `{"tokens":[` + fullToken, want: "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.body) })
			o := loopbackOptions()
			o.maxAttempts = 1
			_, err := newTestClient(t, srv.URL, o).ListTokens(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			for _, secret := range []string{fullToken, "12345678901234567890123456789"} {
				if run := leak(err.Error(), secret); run != "" {
					t.Errorf("error quotes the answer (%q): %v", run, err)
				}
			}
		})
	}
}

// A server that is not speaking HTTP: net/http quotes its first line.
func TestTransportErrorsDoNotQuoteTheServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				_, _ = io.WriteString(conn, "HTTP/1.1 "+fullToken+" nope\r\n\r\n")
			}()
		}
	}()
	o := loopbackOptions()
	o.maxAttempts = 1
	_, err = newTestClient(t, "http://"+ln.Addr().String(), o).Me(context.Background())
	if err == nil {
		t.Fatal("a garbage answer was accepted")
	}
	if run := leak(err.Error(), fullToken); run != "" {
		t.Errorf("error quotes the server (%q): %v", run, err)
	}
}

func TestServerGivenDelays(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		message    string
		deadline   time.Duration // 0: no deadline
		wantCalls  int32
		wantSleeps []time.Duration
		wantErr    string
	}{
		{name: "Retry-After past time.Duration", retryAfter: "9223372037", deadline: time.Minute,
			wantCalls: 1, wantErr: "Aiven asked to retry after 292 years; that is past the invocation deadline"},
		{name: "Retry-After past int64", retryAfter: "99999999999999999999999", deadline: time.Minute,
			wantCalls: 1, wantErr: "Aiven asked to retry after 292 years; that is past the invocation deadline"},
		{name: "Retry-After past time.Duration, no deadline", retryAfter: "9223372037",
			wantCalls: 1, wantErr: "Aiven asked to retry after 292 years; that is longer than the 15m0s"},
		{name: "message past time.Duration", message: "Rate limit 120 exceeded - try again in 99999999999999999999s", deadline: time.Minute,
			wantCalls: 1, wantErr: "Aiven asked to retry after 292 years; that is past the invocation deadline"},
		{name: "Retry-After days", retryAfter: "864000", deadline: time.Minute,
			wantCalls: 1, wantErr: "Aiven asked to retry after 10 days; that is past the invocation deadline"},
		{name: "Retry-After that fits", retryAfter: "5", deadline: time.Minute,
			wantCalls: 3, wantSleeps: []time.Duration{5 * time.Second, 5 * time.Second}},
		{name: "Retry-After with a sign is not seconds", retryAfter: "+5", message: "try again in 2s", deadline: time.Minute,
			wantCalls: 3, wantSleeps: []time.Duration{2 * time.Second, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) > 2 {
					writeJSON(w, 200, `{"tokens":[]}`)
					return
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				writeJSON(w, 429, fmt.Sprintf(`{"message":%q}`, "The user has sent too many requests. "+tt.message))
			})
			clock := &virtualClock{}
			o := loopbackOptions()
			o.maxAttempts = 12
			o.sleep, o.now = clock.sleep, clock.now
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			_, err := newTestClient(t, srv.URL, o).ListTokens(ctx)
			if got := srv.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			if fmt.Sprint(clock.sleeps) != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("slept %v, want %v", clock.sleeps, tt.wantSleeps)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !isRateLimited(err) {
				t.Errorf("the 429 is lost from %v", err)
			}
		})
	}
}

func TestBoundedKeepsTheChain(t *testing.T) {
	inner := &ambiguousError{Err: errors.New(strings.Repeat("x", 5000))}
	err := bounded(fmt.Errorf("op: %w", inner))
	if !IsAmbiguous(err) || len(err.Error()) > maxErrorText+60 {
		t.Errorf("bounded lost the chain or the bound: %d bytes", len(err.Error()))
	}
	if bounded(err) != err || bounded(nil) != nil {
		t.Error("bounded is not idempotent")
	}
}

// hijackAndTrickle answers with the status line and headers head, then
// writes a byte every 20ms until stop is closed.
func hijackAndTrickle(t *testing.T, head string) *httptest.Server {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString(head)
		_ = buf.Flush()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	return srv
}

// A 101 Switching Protocols hands back the raw connection, which net/http
// no longer ties to the context: it is refused at once, never read.
func TestSwitchingProtocolsIsRefused(t *testing.T) {
	srv := hijackAndTrickle(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	done := make(chan error, 1)
	go func() { _, err := newTestClient(t, srv.URL, loopbackOptions()).Me(context.Background()); done <- err }()
	select {
	case err := <-done:
		var sw *boundedhttp.SwitchingError
		if !errors.As(err, &sw) || !strings.Contains(err.Error(), "101 Switching Protocols") {
			t.Fatalf("err = %v, want the 101 refused by name", err)
		}
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("Me still reading a 101 body without a deadline")
	}
}

// pipeBody never yields a byte and ends only when closed: a transport that
// does not watch the context.
func pipeBody() io.ReadCloser {
	r, _ := io.Pipe()
	return r
}

// Whatever the transport, a body that never ends is closed when the
// attempt's context ends.
func TestBodyReadEndsWithTheContext(t *testing.T) {
	for _, code := range []int{200, 502} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			o := loopbackOptions()
			o.attemptTimeout = 50 * time.Millisecond
			o.maxAttempts = 1
			o.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/json"}}, Body: pipeBody(), ContentLength: -1, Request: r}, nil
			})
			done := make(chan error, 1)
			go func() { _, err := newTestClient(t, "http://127.0.0.1:1", o).Me(context.Background()); done <- err }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Me succeeded")
				}
			case <-time.After(10 * time.Second): // a hang guard
				t.Fatal("Me still reading a body past its attempt timeout")
			}
		})
	}
}

// A token list just under the 1 MiB cap of empty objects (350k entries)
// grew the heap by 192 MiB once decoded; the structure check refuses it
// before go-client-codegen decodes it. Not parallel: it counts the
// process's allocations.
func TestManyElementsAreRefusedBeforeDecoding(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"tokens":[`)
	for i := 0; b.Len() < maxBody-8; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{}`)
	}
	b.WriteString(`]}`)
	body := b.Bytes()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, loopbackOptions())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tokens, err := c.ListTokens(context.Background())
	runtime.ReadMemStats(&after)
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("one ListTokens of a %d KiB answer allocated %d KiB", len(body)>>10, grew>>10)
	if grew > 32<<20 {
		t.Errorf("one ListTokens allocated %d MiB for a 1 MiB answer", grew>>20)
	}
	if !errors.Is(err, errAnswerTooComplex) || tokens != nil {
		t.Fatalf("%d tokens, err %v; want errAnswerTooComplex", len(tokens), err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d attempts: the refused answer was retried", n)
	}
}

// http.Client.Do's *url.Error quotes the whole URL, where a token's "/" is
// %2F: its pieces were too short for the scrubber. The error names the
// method and host only, and still matches the deadline.
func TestTransportErrorNamesNoPath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	o := loopbackOptions()
	o.attemptTimeout = 50 * time.Millisecond
	o.maxAttempts = 1
	_, err := newTestClient(t, srv.URL, o).RevokeToken(context.Background(), splitToken)
	if err == nil {
		t.Fatal("RevokeToken succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to match context.DeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v, want a net.Error with Timeout()", err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if msg := err.Error(); strings.Contains(msg, "access_token") || !strings.Contains(msg, "DELETE request to "+host) {
		t.Errorf("err = %q, want the method and host, and no path", msg)
	}
	assertNoPiece(t, err.Error(), splitToken)
}

// splitToken is token-shaped base64 whose "/", "+" and "=" cut it into
// runs shorter than the scrubber's 24 characters once percent-encoded.
const splitToken = "Zm9vYmFyYmF6cXV4cXV1eG/NvcmdlZ3JhdWx0Z2Fy+cGx5d2FsZG9mcmVkcG/x1Z3h5enp5c2VjcmV0=="

func assertNoPiece(t *testing.T, out, tok string) {
	t.Helper()
	for i := 0; i+12 <= len(tok); i++ {
		if strings.Contains(out, tok[i:i+12]) {
			t.Fatalf("%q holds %q of the token", out, tok[i:i+12])
		}
	}
}

func TestScrubSeesPercentDecodedText(t *testing.T) {
	for _, esc := range []struct{ name, from, to string }{{"%2F", "/", "%2F"}, {"%2B", "+", "%2B"}, {"%3D", "=", "%3D"}, {"all", "", ""}} {
		t.Run(esc.name, func(t *testing.T) {
			var quoted string
			if esc.from == "" {
				quoted = url.PathEscape(splitToken)
				quoted = strings.NewReplacer("+", "%2B", "=", "%3D").Replace(quoted)
			} else {
				quoted = strings.ReplaceAll(splitToken, esc.from, esc.to)
			}
			out := scrub(`Delete "https://api.aiven.io/v1/access_token/` + quoted + `": context deadline exceeded`)
			assertNoPiece(t, out, splitToken)
			if !strings.HasPrefix(out, `Delete "https://api.aiven.io/v1/access_`) || !strings.HasSuffix(out, `[cut]": context deadline exceeded`) {
				t.Errorf("scrub = %q", out)
			}
		})
	}
	if s := "100%25 of AccessTokenRevoke calls, %zz"; scrub(s) != s {
		t.Errorf("scrub changed %q", s)
	}
}

func TestClipNeverEndsInsideARun(t *testing.T) {
	s := strings.Repeat("-", 90) + " " + splitToken[:20] + " tail"
	out := clip(s, 100)
	if strings.Contains(out, splitToken[:4]) || !strings.HasPrefix(out, strings.Repeat("-", 90)+" …") {
		t.Fatalf("clip = %q", out)
	}
}
