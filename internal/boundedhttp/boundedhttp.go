// Package boundedhttp bounds what an HTTP answer can cost the rotator, for
// both upstream clients (Aiven, Secrets Manager). A Client sends a request
// and, before its caller sees the answer: names the method and host only
// in an error from sending, refuses a final 1xx, reads the body whole
// under a cap and the request's context, and bounds the structure of a
// 2xx JSON body before anything decodes it. BoundText and BoundNetText
// bound the text of the errors a client returns. The caps and the error
// texts belong to each client: they depend on what its service sends.
package boundedhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// MaxHeaderBytes caps the response headers of a transport a client builds
// (Go's default allows 10 MiB).
const MaxHeaderBytes = 64 << 10

// Doer sends a request: *http.Client and aws.HTTPClient are both one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client sends requests with Base and bounds each answer before its
// caller sees it (the package comment). A body it refuses is replaced by
// one that serves what was read, at most Limit bytes (none for a body
// over the shape bounds), then fails with the reason, so that the
// caller's decoder reports it. Every other body is served from memory.
type Client struct {
	Base Doer
	// Service names who answers, in errors: "Aiven", "Secrets Manager".
	Service string
	// Limit is the cap in bytes of the body of an answer to req with the
	// status code status.
	Limit func(req *http.Request, status int) int64
	// OverLimit is the error of a body over limit bytes.
	OverLimit func(limit int64) error
	// OverShape is the error of a 2xx body over the shape bounds
	// (shape.go): more elements in one container, or more JSON tokens in
	// all, than any answer the rotator reads.
	OverShape error
}

var _ Doer = Client{}

// Do sends req once: calling it twice sends twice.
func (c Client) Do(req *http.Request) (*http.Response, error) {
	rsp, err := send(c.Base, req)
	if err != nil || rsp.Body == nil {
		return rsp, err
	}
	if rsp.StatusCode < 200 {
		rsp.Body.Close()
		return nil, &SwitchingError{Service: c.Service, Status: rsp.StatusCode}
	}
	success := rsp.StatusCode < 300
	limit := c.Limit(req, rsp.StatusCode)
	b, err := readBody(req.Context(), rsp.Body, limit)
	switch {
	case err != nil:
		rsp.Body = &failingBody{data: b, err: err}
	case int64(len(b)) > limit:
		rsp.Body = &failingBody{data: b[:limit], err: c.OverLimit(limit)}
	case success && !within(b):
		rsp.Body = &failingBody{err: c.OverShape}
	default:
		rsp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return rsp, nil
}

// send sends req with d. When sending fails it closes any response and
// replaces the error, which as a *url.Error quotes the whole URL (a path
// segment may hold a token prefix, or worse, path-escaped past the
// scrubber), with a *requestError naming the method and host only.
func send(d Doer, req *http.Request) (*http.Response, error) {
	rsp, err := d.Do(req)
	if err == nil {
		return rsp, nil
	}
	if rsp != nil && rsp.Body != nil {
		rsp.Body.Close()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return nil, &requestError{method: req.Method, host: req.URL.Host, err: err}
}

// requestError is a request that got no answer: its text names the method
// and the host, never the path or the query. errors.Is and errors.As see
// the cause (a context's error, a *net.OpError); Timeout and Temporary
// answer for it as *url.Error does.
type requestError struct {
	method, host string
	err          error
}

func (e *requestError) Error() string {
	return fmt.Sprintf("%s request to %s: %v", e.method, e.host, e.err)
}

func (e *requestError) Unwrap() error   { return e.err }
func (e *requestError) Timeout() bool   { return timeout(e.err) }
func (e *requestError) Temporary() bool { return temporary(e.err) }

// timeout says whether err, or an error it wraps, reports a timeout: what
// *url.Error asks of the error it wraps. An error type that wraps another
// answers with it, so that wrapping keeps a timeout a timeout.
func timeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// temporary is timeout's twin for Temporary.
func temporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// SwitchingError is a final 1xx answer (101 Switching Protocols), refused
// at once: its body is the raw connection, which net/http no longer ties
// to the context, and the rotator never asks to switch protocols.
type SwitchingError struct {
	Service string // who answered: "Aiven", "Secrets Manager"
	Status  int
}

func (e *SwitchingError) Error() string {
	return fmt.Sprintf("%s answered %d %s, a protocol switch the rotator never asks for; connection closed", e.Service, e.Status, http.StatusText(e.Status))
}

// readBody reads body whole, at most limit+1 bytes, under ctx: it closes
// body when ctx ends, whatever the transport does, and once read (unread
// bytes past the cap drop the connection). More than limit bytes read
// means the body is over the cap.
func readBody(ctx context.Context, body io.ReadCloser, limit int64) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { body.Close() })
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	stop()
	body.Close()
	return b, err
}

// failingBody serves data, then fails every read with err: an answer the
// Client refused, put where the body was so that the decoder reports it.
type failingBody struct {
	data []byte
	err  error
}

func (f *failingBody) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func (f *failingBody) Close() error { return nil }

// BoundText is err with its text passed through bound (which cuts what
// must never show, a token, and clips the rest) each time it is read; nil
// stays nil, and an error BoundText or BoundNetText made comes back as it
// is. errors.Is and errors.As see through it.
func BoundText(err error, bound func(string) string) error {
	if err == nil || isBounded(err) {
		return err
	}
	return &boundedError{err: err, bound: bound}
}

// BoundNetText is BoundText for an error that must itself be a net.Error,
// whatever it wraps: Timeout and Temporary answer for the error it wraps
// (false when nothing in its chain says), as *url.Error asks of the error
// a transport returns, which it does not look through.
func BoundNetText(err error, bound func(string) string) error {
	if err == nil || isBounded(err) {
		return err
	}
	return &netBoundedError{boundedError{err: err, bound: bound}}
}

func isBounded(err error) bool {
	switch err.(type) {
	case *boundedError, *netBoundedError:
		return true
	}
	return false
}

type boundedError struct {
	err   error
	bound func(string) string
}

func (e *boundedError) Error() string { return e.bound(e.err.Error()) }
func (e *boundedError) Unwrap() error { return e.err }

type netBoundedError struct{ boundedError }

func (e *netBoundedError) Timeout() bool   { return timeout(e.err) }
func (e *netBoundedError) Temporary() bool { return temporary(e.err) }
