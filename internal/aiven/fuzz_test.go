package aiven

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// FuzzErrorClassification serves an arbitrary status, content type,
// Retry-After and body to each call of the client, through its own
// transport chain (response guard, policy) and go-client-codegen. It
// checks that the client never panics and never waits a negative or
// deadline-passing delay, that the error is classified by the status
// alone, that the error text is bounded, and that no 16-byte run of a body
// that is not Aiven error JSON reaches the error.
func FuzzErrorClassification(f *testing.F) {
	f.Add(uint16(302), uint8(0), "text/html", "", []byte("<html><pre>"+`{"full_token":"`+fullToken+`"}</pre></html>`))
	f.Add(uint16(201), uint8(1), "text/plain", "", []byte("upstream error "+fullToken))
	f.Add(uint16(201), uint8(2), "application/json", "", []byte(`{"full_token":"`+fullToken+`","token_prefix":"AVNU_Zm9vYm"}`))
	f.Add(uint16(201), uint8(0), "application/json", "", []byte(`{"message":"Missing (expired) db token","errors":[{"message":"Missing (expired) db token","status":401}]}`))
	f.Add(uint16(203), uint8(3), "application/json", "", []byte(`{"message":"forbidden"}`))
	f.Add(uint16(204), uint8(3), "application/json", "", []byte(`{"message":"Not found","errors":[{"status":404}]}`))
	f.Add(uint16(229), uint8(1), "application/json", "9223372037", []byte(`{"message":"Rate limit 120 exceeded - try again in 28s"}`))
	f.Add(uint16(229), uint8(0), "application/json", "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{"message":"try again in 99999999999999999999m"}`))
	f.Add(uint16(300), uint8(2), "", "", []byte(`{"message":123}`))
	f.Add(uint16(0), uint8(1), "application/json", "", []byte(`{"tokens":[{"token_prefix":"a","create_time":"`+fullToken+`"}]}`))
	f.Add(uint16(0), uint8(0), "application/json", "", []byte(`{"user":{"user":12345678901234567890123}}`))
	f.Add(uint16(0), uint8(2), "application/json", "", []byte(`{"full_token":"x","token_prefix":"y","create_time":"2025-01-01T00:00:00Z"}`))

	f.Fuzz(func(t *testing.T, code uint16, op uint8, contentType, retryAfter string, body []byte) {
		status := 200 + int(code)%400
		errText, err := fuzzCall(t, status, op, contentType, retryAfter, body)

		if len(errText) > maxErrorText+64 {
			t.Fatalf("error text is %d bytes", len(errText))
		}
		if status < 300 {
			if Status(err) != 0 {
				t.Fatalf("a %d answered with status %d", status, Status(err))
			}
		} else {
			checkClassification(t, status, op%4, err)
		}
		if status >= 300 {
			if _, ok := aivenMessage(body); ok {
				return // Aiven's own message may be quoted, clipped
			}
		}
		// Anything the error says that a body of zeros of the same length
		// would not make it say came from the body.
		baseText, _ := fuzzCall(t, status, op, contentType, retryAfter, make([]byte, len(body)))
		if status >= 300 && errText != baseText {
			t.Fatalf("the error depends on the body's content:\n%q\n%q", errText, baseText)
		}
		for i := 0; i+16 <= len(body); i++ {
			run := string(body[i : i+16])
			if strings.Contains(errText, run) && !strings.Contains(baseText, run) {
				t.Fatalf("the error quotes the body (%q): %s", run, errText)
			}
		}
	})
}

func fuzzCall(t *testing.T, status int, op uint8, contentType, retryAfter string, body []byte) (string, error) {
	t.Helper()
	const deadline = time.Minute
	start := time.Now()
	o := settings{
		Options:     Options{Policy: Policy{AllowedHosts: []string{"127.0.0.1"}, AllowInsecureLoopback: true}},
		maxAttempts: 2,
		now:         func() time.Time { return start },
		sleep: func(_ context.Context, d time.Duration) error {
			if d < 0 || d >= deadline {
				t.Fatalf("asked to sleep %s with %s left", d, deadline)
			}
			return nil
		},
	}
	o.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
	})
	c, err := newClient("http://127.0.0.1:1", secret.NewToken(testToken), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(deadline))
	defer cancel()
	switch op % 4 {
	case 0:
		_, err = c.Me(ctx)
	case 1:
		_, err = c.ListTokens(ctx)
	case 2:
		_, err = c.CreateToken(ctx, CreateRequest{Description: "fuzz [m]"})
	default:
		_, err = c.RevokeToken(ctx, "AVNU_Zm9vYm")
	}
	if err == nil {
		return "", nil
	}
	return err.Error(), err
}

func checkClassification(t *testing.T, status int, op uint8, err error) {
	t.Helper()
	if op == 3 && status == http.StatusNotFound {
		if err != nil {
			t.Fatalf("a revoke's 404 is an error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("a %d answered without an error", status)
	}
	if Status(err) != status {
		t.Fatalf("a %d answered with status %d: %v", status, Status(err), err)
	}
	if IsUnauthorized(err) != (status == 401) || IsForbidden(err) != (status == 403) || isRateLimited(err) != (status == 429) {
		t.Fatalf("a %d misclassified: %v", status, err)
	}
	if IsPolicy(err) {
		t.Fatalf("a %d reported as a policy refusal: %v", status, err)
	}
	if op == 2 && IsAmbiguous(err) != (status == 408 || status >= 500) {
		t.Fatalf("a create's %d: ambiguous = %v", status, IsAmbiguous(err))
	}
}
