package secretsmanager

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/boundedhttp"
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

// cappedHTTPClient bounds what an answer can cost before the SDK sees it
// (internal/boundedhttp). It refuses a final 1xx (101 Switching
// Protocols, whose body is the raw connection that net/http no longer
// ties to the context) at once. It reads every body whole, closing it
// when the request's context ends, with a cap by status and operation
// (bodyCap, maxErrorBody): a read past it fails with a
// *bodyTooLargeError, having read at most one byte more than the cap. A
// 2xx body must be within boundedhttp's shape bounds before the SDK
// decodes it (into interface{} first, then the typed output: a few bytes
// of body become hundreds of bytes of heap). And an error from sending
// names the method and host, never the URL (*url.Error quotes it whole).
type cappedHTTPClient struct {
	base aws.HTTPClient
}

func (c cappedHTTPClient) Do(req *http.Request) (*http.Response, error) {
	rsp, err := boundedhttp.Send(c.base, req)
	if err != nil {
		return nil, err
	}
	if rsp.Body == nil {
		return rsp, nil
	}
	if rsp.StatusCode < 200 {
		rsp.Body.Close()
		return nil, &boundedhttp.SwitchingError{Service: "Secrets Manager", Status: rsp.StatusCode}
	}
	limit, ok := int64(maxErrorBody), false
	if ok = rsp.StatusCode >= 200 && rsp.StatusCode < 300; ok {
		limit = bodyCap(req)
	}
	b, rerr := boundedhttp.ReadBody(req.Context(), rsp.Body, limit)
	switch {
	case rerr != nil:
		rsp.Body = &boundedhttp.FailingBody{Data: b, Err: rerr}
	case int64(len(b)) > limit:
		rsp.Body = &boundedhttp.FailingBody{Data: b[:limit], Err: &bodyTooLargeError{cap: limit}}
	case ok && !boundedhttp.Within(b):
		rsp.Body = &boundedhttp.FailingBody{Err: errAnswerTooComplex}
	default:
		rsp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return rsp, nil
}

// errAnswerTooComplex is a 2xx answer over boundedhttp's shape bounds.
var errAnswerTooComplex = errors.New("response body from Secrets Manager holds more JSON elements than any answer the rotator reads; not decoded")

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
