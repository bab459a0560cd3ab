package secretsmanager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// countingBody serves a JSON object with one string field holding size
// bytes of filler, and counts the bytes it served.
type countingBody struct {
	r      io.Reader
	served atomic.Int64
}

func newCountingBody(field string, size int) *countingBody {
	return &countingBody{r: io.MultiReader(
		strings.NewReader(`{"`+field+`":"`),
		io.LimitReader(fillerReader{}, int64(size)),
		strings.NewReader(`"}`),
	)}
}

type fillerReader struct{}

func (fillerReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.served.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// countingDoer answers every request with a fresh countingBody.
type countingDoer struct {
	mu     sync.Mutex
	status int
	field  string
	size   int
	bodies []*countingBody
}

func (d *countingDoer) Do(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := newCountingBody(d.field, d.size)
	d.bodies = append(d.bodies, b)
	return &http.Response{StatusCode: d.status, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}}, Body: b, ContentLength: -1, Request: r}, nil
}

func TestEveryBodyReadIsCapped(t *testing.T) {
	tests := []struct {
		name   string
		status int
		field  string
		size   int
		cap    int64
		want   string
	}{
		{name: "success over 1 MiB", status: 200, field: "SecretString", size: 20 << 20, cap: maxBody, want: "Secrets Manager response body over 1 MiB"},
		{name: "error over 64 KiB", status: 500, field: "message", size: 2 << 20, cap: maxErrorBody, want: "Secrets Manager response body over 64 KiB"},
		{name: "error over 64 KiB with a 400", status: 400, field: "message", size: 1 << 20, cap: maxErrorBody, want: "Secrets Manager response body over 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &countingDoer{status: tt.status, field: tt.field, size: tt.size}
			cfg := aws.Config{
				Region:       "us-east-1",
				Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
				BaseEndpoint: aws.String("http://127.0.0.1:1"),
				HTTPClient:   d,
			}
			_, err := newClient(cfg, settings{maxAttempts: 2, backoff: func(int) time.Duration { return 0 }}).GetValue(context.Background(), secretARN, "", StageCurrent)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %.300v, want it to say %q", err, tt.want)
			}
			if len(err.Error()) > maxErrorText+64 {
				t.Errorf("error text is %d bytes", len(err.Error()))
			}
			for i, b := range d.bodies {
				if n := b.served.Load(); n > tt.cap+1 {
					t.Errorf("attempt %d read %d bytes, more than the %d-byte cap", i+1, n, tt.cap+1)
				}
			}
		})
	}
}

func TestLegitimateLargeValueFits(t *testing.T) {
	// A 64 KiB SecretString of characters JSON escapes as \u00XX: 384 KiB
	// on the wire, far under the cap.
	value := strings.Repeat("\x01", 64<<10)
	quoted, _ := json.Marshal(value)
	f := newFakeSM(t, func(op string, b map[string]any) (int, string) {
		return 200, `{"SecretString":` + string(quoted) + `,"VersionId":"v1"}`
	})
	got, err := newTestClient(f, settings{}).GetValue(context.Background(), secretARN, "", StageCurrent)
	if err != nil || got != value {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
}

// A hostile server answers with a real HTTP body over the cap, and with
// error messages far longer than any Secrets Manager sends.
func TestHostileServer(t *testing.T) {
	long := strings.Repeat("m ", 20<<10) // under the error cap, over the error text bound; words, not token-shaped
	tests := []struct {
		name    string
		status  int
		header  string // X-Amzn-Requestid; a long one when empty
		body    func(w io.Writer)
		want    string
		check   func(error) bool
		maxText int
	}{
		{name: "12 MiB success", status: 200, body: func(w io.Writer) {
			_, _ = io.WriteString(w, `{"SecretString":"`)
			_, _ = io.Copy(w, io.LimitReader(fillerReader{}, 12<<20))
			_, _ = io.WriteString(w, `"}`)
		}, want: "over 1 MiB", maxText: maxErrorText + 64},
		{name: "long modeled error message", status: 400, body: func(w io.Writer) {
			_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"`+long+`"}`)
		}, want: "clipped", check: func(err error) bool {
			var nf *types.ResourceNotFoundException
			return errors.Is(err, ErrNoValue) && errors.As(err, &nf)
		}, maxText: maxErrorText + 64},
		{name: "long unmodeled error message", status: 400, body: func(w io.Writer) {
			_, _ = io.WriteString(w, `{"__type":"SomethingNew","message":"`+long+`"}`)
		}, want: "clipped", maxText: maxErrorText + 64},
		{name: "headers over 64 KiB", status: 200, header: strings.Repeat("h", 100<<10), body: func(w io.Writer) {
			_, _ = io.WriteString(w, `{"SecretString":"x"}`)
		}, want: "server response headers exceeded", maxText: maxErrorText + 64},
		{name: "long request id", status: 500, body: func(w io.Writer) {
			_, _ = io.WriteString(w, `{"__type":"InternalServiceError","message":"x"}`)
		}, want: "clipped", maxText: maxErrorText + 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requestID := tt.header
			if requestID == "" {
				requestID = strings.Repeat("r-", 2000)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.Header().Set("X-Amzn-Requestid", requestID)
				w.WriteHeader(tt.status)
				tt.body(w)
			}))
			t.Cleanup(srv.Close)
			_, err := newTestClient(&fakeSM{Server: srv}, settings{maxAttempts: 2}).GetValue(context.Background(), secretARN, "", StageCurrent)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %.300v, want it to say %q", err, tt.want)
			}
			if len(err.Error()) > tt.maxText {
				t.Errorf("error text is %d bytes", len(err.Error()))
			}
			if tt.check != nil && !tt.check(err) {
				t.Errorf("clipping lost the error chain: %.200v", err)
			}
		})
	}
}
