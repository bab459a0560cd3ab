package secretsmanager

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Bounds on what a Secrets Manager answer can put into memory and into an
// error.
const (
	// maxBody caps a 2xx body. The largest legitimate answer is sized for a
	// future BatchGetSecretValue: 20 secrets of at most 64 KiB each is
	// 1.25 MiB raw, and JSON escaping can grow a string up to six times
	// (every byte as \u00XX), so 7.5 MiB, plus metadata: 8 MiB. Today's
	// largest answer, one GetSecretValue, is well under 1 MiB.
	maxBody = 8 << 20
	// maxErrorBody caps a non-2xx body: Secrets Manager's error JSON
	// ({"__type": ..., "Message": ...}) is well under 1 KiB.
	maxErrorBody = 64 << 10
	// maxHeaderBytes caps the response headers when the SDK's own HTTP
	// client sends the request.
	maxHeaderBytes = 64 << 10
	// maxErrorText bounds the text of every error the package returns.
	maxErrorText = 1024
)

// cappedHTTPClient caps every response body the SDK reads: a read past the
// cap fails with a *bodyTooLargeError, having read at most one byte more
// than the cap. The SDK reads a whole body into memory (a success to
// deserialize it, an error to find its code and message), and drains the
// rest before closing, so the cap bounds both.
type cappedHTTPClient struct {
	base aws.HTTPClient
}

func (c cappedHTTPClient) Do(req *http.Request) (*http.Response, error) {
	rsp, err := c.base.Do(req)
	if err != nil || rsp.Body == nil {
		return rsp, err
	}
	limit := int64(maxErrorBody)
	if rsp.StatusCode >= 200 && rsp.StatusCode < 300 {
		limit = maxBody
	}
	rsp.Body = &cappedBody{r: rsp.Body, left: limit, cap: limit}
	return rsp, nil
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

type cappedBody struct {
	r         io.ReadCloser
	left, cap int64
	err       error
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		c.err = &bodyTooLargeError{cap: c.cap}
		return int(c.left), c.err
	}
	c.left -= int64(n)
	return n, err
}

func (c *cappedBody) Close() error { return c.r.Close() }

// clippedError bounds the text of the error it wraps, which the SDK builds
// from the response (an error's Message, a request id header, a decoder's
// complaint), to maxErrorText and a short note; errors.Is and errors.As
// see through it.
type clippedError struct{ err error }

func (e *clippedError) Error() string {
	s := e.err.Error()
	if len(s) <= maxErrorText {
		return s
	}
	// Keep both ends: the SDK's text starts with the operation and ends
	// with the cause; what swells is in between (a request id, a message).
	head, tail := maxErrorText/2, len(s)-maxErrorText/2
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + fmt.Sprintf(" … (clipped %d of %d bytes) … ", tail-head, len(s)) + s[tail:]
}

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
