package secretsmanager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/jsonbound"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// Bounds on what a Secrets Manager answer can put into memory and into an
// error.
const (
	// maxBody caps a 2xx body of the calls that read or write one secret
	// (DescribeSecret, GetSecretValue, PutSecretValue,
	// UpdateSecretVersionStage, RotateSecret, and any other): a SecretString
	// is at most 64 KiB, and JSON escaping can grow a string up to six
	// times (every byte as \u00XX), so 384 KiB, plus metadata: 1 MiB.
	maxBody = 1 << 20
	// maxListBody caps a 2xx body of BatchGetSecretValue and ListSecrets:
	// 20 secrets of at most 64 KiB each is 1.25 MiB raw, 7.5 MiB escaped,
	// plus metadata: 8 MiB.
	maxListBody = 8 << 20
	// maxErrorBody caps a non-2xx body: Secrets Manager's error JSON
	// ({"__type": ..., "Message": ...}) is well under 1 KiB.
	maxErrorBody = 64 << 10
	// maxHeaderBytes caps the response headers when the SDK's own HTTP
	// client sends the request.
	maxHeaderBytes = 64 << 10
	// maxErrorText bounds the text of every error the package returns.
	maxErrorText = 1024
)

// bodyCap is the cap of a 2xx body for the operation the request's
// X-Amz-Target header names ("secretsmanager.DescribeSecret").
func bodyCap(req *http.Request) int64 {
	switch strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "secretsmanager.") {
	case "BatchGetSecretValue", "ListSecrets":
		return maxListBody
	}
	return maxBody
}

// cappedHTTPClient bounds what an answer can cost before the SDK sees it.
// It refuses a final 1xx (101 Switching Protocols, whose body is the raw
// connection that net/http no longer ties to the context) at once. It
// reads every body whole, closing it when the request's context ends,
// with a cap by status and operation (bodyCap, maxErrorBody): a read past
// it fails with a *bodyTooLargeError, having read at most one byte more
// than the cap. A 2xx body must pass checkShape before the SDK decodes it
// (into interface{} first, then the typed output: a few bytes of body
// become hundreds of bytes of heap). And an error from sending names the
// method and host, never the URL (*url.Error quotes it whole).
type cappedHTTPClient struct {
	base aws.HTTPClient
}

func (c cappedHTTPClient) Do(req *http.Request) (*http.Response, error) {
	rsp, err := c.base.Do(req)
	if err != nil {
		if rsp != nil && rsp.Body != nil {
			rsp.Body.Close()
		}
		return nil, hostOnly(req, err)
	}
	if rsp.Body == nil {
		return rsp, nil
	}
	if rsp.StatusCode < 200 {
		rsp.Body.Close()
		return nil, &switchingError{status: rsp.StatusCode}
	}
	limit, ok := int64(maxErrorBody), false
	if ok = rsp.StatusCode >= 200 && rsp.StatusCode < 300; ok {
		limit = bodyCap(req)
	}
	stop := context.AfterFunc(req.Context(), func() { rsp.Body.Close() })
	b, rerr := io.ReadAll(io.LimitReader(rsp.Body, limit+1))
	stop()
	rsp.Body.Close()
	switch {
	case rerr != nil:
		rsp.Body = &failingBody{data: b, err: rerr}
	case int64(len(b)) > limit:
		rsp.Body = &failingBody{data: b[:limit], err: &bodyTooLargeError{cap: limit}}
	case ok && checkShape(b) != nil:
		rsp.Body = &failingBody{err: errAnswerTooComplex}
	default:
		rsp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return rsp, nil
}

// failingBody serves data, then fails with err.
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

// hostOnly replaces a *url.Error with a *requestError.
func hostOnly(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &requestError{method: req.Method, host: req.URL.Host, err: err}
}

// requestError is a request that got no answer: its text names the method
// and host, never the path or query; errors.Is and errors.As see the cause,
// and Timeout and Temporary answer for it as *url.Error does.
type requestError struct {
	method, host string
	err          error
}

func (e *requestError) Error() string {
	return fmt.Sprintf("%s request to %s: %v", e.method, e.host, e.err)
}

func (e *requestError) Unwrap() error { return e.err }

func (e *requestError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

func (e *requestError) Temporary() bool {
	var t interface{ Temporary() bool }
	return errors.As(e.err, &t) && t.Temporary()
}

// switchingError is a final 1xx answer, refused at once.
type switchingError struct{ status int }

func (e *switchingError) Error() string {
	return fmt.Sprintf("Secrets Manager answered %d %s, a protocol switch the rotator never asks for; connection closed", e.status, http.StatusText(e.status))
}

// Bounds on the structure of a 2xx answer. maxElements bounds the elements
// of any one array and the members of any one object: a secret keeps about
// a hundred versions at most, ListSecrets and BatchGetSecretValue answer
// at most 100 and 20 entries, a secret holds at most 50 tags, so 1000 is
// ten times the largest. maxValues bounds the JSON tokens of the whole
// answer, so that many containers under the bound cannot add up either.
const (
	maxElements = 1000
	maxValues   = 50000
)

var errAnswerTooComplex = errors.New("response body from Secrets Manager holds more JSON elements than any answer the rotator reads; not decoded")

// checkShape fails with errAnswerTooComplex when a container of b holds
// more than maxElements elements or b more than maxValues tokens
// (jsonbound.Within); malformed JSON passes, for the decoder to report.
func checkShape(b []byte) error {
	if !jsonbound.Within(b, maxElements, maxValues) {
		return errAnswerTooComplex
	}
	return nil
}

// bodyTooLargeError is a read past the cap.
type bodyTooLargeError struct{ cap int64 }

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("Secrets Manager response body over %s; not read further", size(e.cap))
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// clippedError bounds the text of the error it wraps, which the SDK builds
// from the response (an error's Message, a request id header, a decoder's
// complaint): it cuts token-shaped runs (scrub), then clips the text to
// maxErrorText and a short note, never inside a run of the base64
// alphabet, so that no fragment of a token is left at a cut edge.
// errors.Is and errors.As see through it.
type clippedError struct{ err error }

func (e *clippedError) Error() string {
	s := scrub(e.err.Error())
	if len(s) <= maxErrorText {
		return s
	}
	// Keep both ends: the SDK's text starts with the operation and ends
	// with the cause; what swells is in between (a request id, a message).
	head, tail := maxErrorText/2, len(s)-maxErrorText/2
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	if secret.IsTokenChar(s[head]) {
		for head > 0 && secret.IsTokenChar(s[head-1]) {
			head--
		}
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	if tail > 0 && secret.IsTokenChar(s[tail-1]) {
		for tail < len(s) && secret.IsTokenChar(s[tail]) {
			tail++
		}
	}
	return s[:head] + fmt.Sprintf(" … (clipped %d of %d bytes) … ", tail-head, len(s)) + s[tail:]
}

// scrub cuts every token-shaped run from s (secret.Scrub, the rule of the
// rotator's log scrubber).
func scrub(s string) string { return secret.Scrub(s) }

func (e *clippedError) Unwrap() error { return e.err }

// clipped is err with its text bounded; nil stays nil.
func clipped(err error) error {
	if err == nil {
		return nil
	}
	var c *clippedError
	if errors.As(err, &c) && c == err {
		return err
	}
	return &clippedError{err: err}
}
