package secretsmanager

import (
	"errors"
	"fmt"
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
// (boundedhttp.Client): an error from sending names the method and host,
// never the URL (*url.Error quotes it whole); a final 1xx is refused at
// once; every body is read whole, closed when the request's context ends,
// with a cap by status and operation (bodyCap, maxErrorBody), and a read
// past it fails with a *bodyTooLargeError, having read at most one byte
// more than the cap; and a 2xx body must be within boundedhttp's shape
// bounds before the SDK decodes it (into interface{} first, then the typed
// output: a few bytes of body become hundreds of bytes of heap).
func cappedHTTPClient(base aws.HTTPClient) boundedhttp.Client {
	return boundedhttp.Client{
		Base:    base,
		Service: "Secrets Manager",
		Limit: func(req *http.Request, status int) int64 {
			if status >= 200 && status < 300 {
				return bodyCap(req)
			}
			return maxErrorBody
		},
		OverLimit: func(limit int64) error { return &bodyTooLargeError{cap: limit} },
		OverShape: errAnswerTooComplex,
	}
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

// clipped is err with its text bounded by clipText (boundedhttp.BoundText):
// the SDK builds an error's text from the response (an error's Message, a
// request id header, a decoder's complaint). errors.Is and errors.As see
// through it; nil stays nil.
func clipped(err error) error { return boundedhttp.BoundText(err, clipText) }

// clipText cuts token-shaped runs from s (scrub), then clips it to maxErrorText and a short note,
// never inside a run of the base64 alphabet, so that no fragment of a
// token is left at a cut edge.
func clipText(s string) string {
	s = scrub(s)
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
