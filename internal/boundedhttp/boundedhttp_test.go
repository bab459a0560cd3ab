package boundedhttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// token is shaped like an Aiven token: a long run of base64.
const token = "AVNU_Zm9vYmFyYmF6cXV4cXV1eG/NvcmdlZ3JhdWx0Z2Fy+cGx5d2FsZG9mcmVkcG/x1Z3h5enp5c2VjcmV0=="

var (
	errOverLimit = errors.New("over the limit")
	errOverShape = errors.New("over the shape bounds")
)

// The caps of testClient: a 2xx body's, large enough for a JSON answer
// over the shape bounds, and any other's.
const okCap, errorCap = 1 << 20, 100

// testClient answers every request with status and body.
func testClient(status int, body io.Reader) Client {
	rc, ok := body.(io.ReadCloser)
	if !ok {
		rc = io.NopCloser(body)
	}
	return Client{
		Base: doerFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{}, Body: rc, Request: r}, nil
		}),
		Service: "Upstream",
		Limit: func(_ *http.Request, status int) int64 {
			if status >= 200 && status < 300 {
				return okCap
			}
			return errorCap
		},
		OverLimit: func(int64) error { return errOverLimit },
		OverShape: errOverShape,
	}
}

// countingReader serves n bytes of b repeated (endless when n < 0) and
// counts what it served.
type countingReader struct {
	b      byte
	n      int64
	served atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= 0 && c.served.Load() >= c.n {
		return 0, io.EOF
	}
	if c.n >= 0 {
		p = p[:min(int64(len(p)), c.n-c.served.Load())]
	}
	for i := range p {
		p[i] = c.b
	}
	c.served.Add(int64(len(p)))
	return len(p), nil
}

func TestClientBoundsEveryAnswer(t *testing.T) {
	wide := "[" + strings.TrimSuffix(strings.Repeat("1,", maxElements+1), ",") + "]"
	// Go's decoder refuses a depth over 10,000 itself; past the token
	// bound, the decoder never sees it.
	deep := strings.Repeat("[", maxValues+1) + strings.Repeat("]", maxValues+1)
	for _, tt := range []struct {
		name      string
		status    int
		body      io.Reader
		wantBody  string // what the caller reads before the error
		wantErr   error
		maxServed int64 // bytes the client may read of an endless body
	}{
		{name: "an endless 2xx body", status: 200, body: &countingReader{b: 'x', n: -1}, wantBody: strings.Repeat("x", okCap), wantErr: errOverLimit, maxServed: okCap + 1},
		{name: "an endless error body", status: 502, body: &countingReader{b: 'x', n: -1}, wantBody: strings.Repeat("x", errorCap), wantErr: errOverLimit, maxServed: errorCap + 1},
		{name: "a 2xx body one byte over", status: 200, body: &countingReader{b: ' ', n: okCap + 1}, wantBody: strings.Repeat(" ", okCap), wantErr: errOverLimit},
		{name: "a 2xx body at the cap", status: 200, body: &countingReader{b: ' ', n: okCap}, wantBody: strings.Repeat(" ", okCap)},
		{name: "garbage is the decoder's to refuse", status: 200, body: strings.NewReader("\x00\xff{[<html>"), wantBody: "\x00\xff{[<html>"},
		{name: "a wide JSON answer", status: 200, body: strings.NewReader(wide), wantErr: errOverShape},
		{name: "a deep JSON answer", status: 200, body: strings.NewReader(deep), wantErr: errOverShape},
		{name: "an error body is not shape-checked", status: 400, body: strings.NewReader("[[[[[[[[[["), wantBody: "[[[[[[[[[["},
		{name: "an answer within every bound", status: 200, body: strings.NewReader(`{"tokens":[{"token_prefix":"abc"}]}`), wantBody: `{"tokens":[{"token_prefix":"abc"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testClient(tt.status, tt.body)
			req, _ := http.NewRequest(http.MethodGet, "https://upstream.example/", nil)
			rsp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rsp.Body)
			if string(got) != tt.wantBody || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("read %.40q (%d bytes), %v; want %.40q (%d bytes), %v", got, len(got), err, tt.wantBody, len(tt.wantBody), tt.wantErr)
			}
			if cr, ok := tt.body.(*countingReader); ok && tt.maxServed > 0 && cr.served.Load() > tt.maxServed {
				t.Errorf("read %d bytes of an endless body, more than %d", cr.served.Load(), tt.maxServed)
			}
		})
	}
}

// A final 1xx hands back the raw connection: refused by name, closed.
func TestClientRefusesAProtocolSwitch(t *testing.T) {
	closed := false
	c := testClient(http.StatusSwitchingProtocols, nil)
	c.Base = doerFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 101, Body: closeFunc(func() { closed = true }), Request: r}, nil
	})
	req, _ := http.NewRequest(http.MethodGet, "https://upstream.example/", nil)
	rsp, err := c.Do(req)
	var sw *SwitchingError
	if rsp != nil || !errors.As(err, &sw) || err.Error() != "Upstream answered 101 Switching Protocols, a protocol switch the rotator never asks for; connection closed" {
		t.Fatalf("Do = %v, %v", rsp, err)
	}
	if !closed {
		t.Error("the connection was left open")
	}
}

type closeFunc func()

func (f closeFunc) Read([]byte) (int, error) { return 0, io.EOF }
func (f closeFunc) Close() error             { f(); return nil }

// A body that never ends is closed when the request's context ends,
// whatever the transport does.
func TestClientStopsReadingWhenTheContextEnds(t *testing.T) {
	pr, pw := io.Pipe()
	errNotClosed := errors.New("the client kept reading past its context")
	go func() { time.Sleep(10 * time.Second); pw.CloseWithError(errNotClosed) }()
	c := testClient(200, pr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://upstream.example/", nil)
	rsp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rsp.Body); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("body read: %v, want the pipe closed by the context's end", err)
	}
}

// An error from sending names the method and host only, never the path
// or the query, where a token may sit (*url.Error quotes the whole URL);
// it keeps its cause for errors.Is and errors.As; and a response that
// came with it is closed.
func TestClientErrorFromSendingNamesNoURL(t *testing.T) {
	target := "https://api.example/v1/access_token/" + url.PathEscape(token) + "?q=" + url.QueryEscape(token)
	for _, tt := range []struct {
		name      string
		err       func(*http.Request) error
		want      string
		isTimeout bool
	}{
		{"a *url.Error quoting the URL", func(r *http.Request) error {
			return &url.Error{Op: "Delete", URL: r.URL.String(), Err: context.DeadlineExceeded}
		}, "DELETE request to api.example: context deadline exceeded", true},
		{"a dial error", func(*http.Request) error {
			return &url.Error{Op: "Delete", URL: target, Err: &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{}}}
		}, "DELETE request to api.example: dial tcp: i/o timeout", true},
		{"an error that is not a *url.Error", func(*http.Request) error { return errors.New("refused") }, "DELETE request to api.example: refused", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			closed := false
			c := testClient(200, nil)
			c.Base = doerFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{Body: closeFunc(func() { closed = true })}, tt.err(r)
			})
			req, _ := http.NewRequest(http.MethodDelete, target, nil)
			rsp, err := c.Do(req)
			if rsp != nil || err == nil || err.Error() != tt.want {
				t.Fatalf("Do = %v, %v; want %q", rsp, err, tt.want)
			}
			var ne net.Error
			if got := errors.As(err, &ne) && ne.Timeout(); got != tt.isTimeout {
				t.Errorf("Timeout() = %v, want %v", got, tt.isTimeout)
			}
			if tt.isTimeout && !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, new(*net.OpError)) {
				t.Errorf("err = %v lost its cause", err)
			}
			if !closed {
				t.Error("the response that came with the error was left open")
			}
		})
	}
}

// BoundText bounds the text of an error however deep the token sits in
// it, once, and keeps the chain and the timeout. Only BoundNetText makes
// an error a net.Error of its own: a caller that reads "a net.Error" as
// "a transient failure" must not see one in every bounded error.
func TestBoundTextKeepsTheChainNotTheToken(t *testing.T) {
	cut := func(s string) string { return strings.ReplaceAll(s, token, "[cut]") }
	for _, tt := range []struct {
		name  string
		bound func(error, func(string) string) error
		isNet bool // a net.Error of its own, wrapping none
	}{
		{"BoundText", BoundText, false},
		{"BoundNetText", BoundNetText, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cause := &net.OpError{Op: "dial", Err: timeoutError{}}
			err := tt.bound(&url.Error{Op: "Get", URL: "https://api.example/" + token, Err: cause}, cut)
			if strings.Contains(err.Error(), token[5:25]) || !strings.Contains(err.Error(), "[cut]") {
				t.Errorf("err = %q", err)
			}
			var oe *net.OpError
			var ne net.Error
			if !errors.As(err, &oe) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("err = %v lost its chain or its timeout", err)
			}
			if tt.bound(err, strings.ToUpper) != err || BoundText(err, cut) != err || BoundNetText(err, cut) != err || tt.bound(nil, cut) != nil {
				t.Error("bounded twice, or an error made of nil")
			}
			plain := tt.bound(errors.New("refused"), cut)
			if got := errors.As(plain, &ne); got != tt.isNet || got && ne.Timeout() {
				t.Errorf("a bounded plain error is a net.Error: %v, want %v (and never a timeout)", got, tt.isNet)
			}
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
