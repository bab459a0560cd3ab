// Package boundedhttp bounds what an HTTP answer can cost the rotator, for
// both upstream clients (Aiven, Secrets Manager): an error from sending
// that names the method and host only, a body read whole under a cap and
// the request's context, a final 1xx refused at once, and a bound on the
// structure of a JSON answer before anything decodes it (Within). The caps
// themselves belong to each client: they depend on what its service sends.
package boundedhttp

import (
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

// Send sends req with d. When sending fails it closes any response and
// replaces the error, which as a *url.Error quotes the whole URL (a path
// segment may hold a token prefix, or worse, path-escaped past the
// scrubber), with a *RequestError naming the method and host only.
func Send(d Doer, req *http.Request) (*http.Response, error) {
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
	return nil, &RequestError{method: req.Method, host: req.URL.Host, err: err}
}

// RequestError is a request that got no answer: its text names the method
// and the host, never the path or the query. errors.Is and errors.As see
// the cause (a context's error, a *net.OpError); Timeout and Temporary
// answer for it as *url.Error does.
type RequestError struct {
	method, host string
	err          error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("%s request to %s: %v", e.method, e.host, e.err)
}

func (e *RequestError) Unwrap() error { return e.err }

func (e *RequestError) Timeout() bool   { return Timeout(e.err) }
func (e *RequestError) Temporary() bool { return Temporary(e.err) }

// Timeout says whether err, or an error it wraps, reports a timeout: what
// *url.Error asks of the error it wraps. An error type that wraps another
// answers with it, so that wrapping keeps a timeout a timeout.
func Timeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Temporary is Timeout's twin for Temporary.
func Temporary(err error) bool {
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

// ReadBody reads body whole, at most limit+1 bytes, under ctx: it closes
// body when ctx ends, whatever the transport does, and once read (unread
// bytes past the cap drop the connection). More than limit bytes read
// means the body is over the cap.
func ReadBody(ctx context.Context, body io.ReadCloser, limit int64) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { body.Close() })
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	stop()
	body.Close()
	return b, err
}

// FailingBody serves Data, then fails every read with Err: an answer a
// client refused, put where the body was so that the decoder reports it.
type FailingBody struct {
	Data []byte
	Err  error
}

func (f *FailingBody) Read(p []byte) (int, error) {
	if len(f.Data) == 0 {
		return 0, f.Err
	}
	n := copy(p, f.Data)
	f.Data = f.Data[n:]
	return n, nil
}

func (f *FailingBody) Close() error { return nil }
