package aiven

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/boundedhttp"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// Bounds on what an answer from Aiven, or anything in front of it, can put
// into memory and into an error.
const (
	// maxBody bounds every response body read. Aiven's largest answer the
	// rotator reads is a token list: at most a few hundred tokens of well
	// under 1 KiB each.
	maxBody = 1 << 20
	// maxMessage bounds Aiven's own error message as it reaches an error.
	maxMessage = 300
	// maxErrorText bounds the text of every error the package returns.
	maxErrorText = 1024
)

// errBodyTooLarge is the failure of a read past maxBody. It is not
// retried: the same call would get the same answer.
var errBodyTooLarge = errors.New("response body from Aiven over 1 MiB; not read further")

// errAnswerTooComplex is a 2xx answer over boundedhttp's shape bounds,
// checked before go-client-codegen decodes it. It is not retried: the same
// call would get the same answer.
var errAnswerTooComplex = errors.New("response body from Aiven holds more JSON elements than any answer the rotator reads; not decoded")

// boundedClient sends with hc and bounds every answer before anything
// else reads it (boundedhttp.Client): an error from sending names the
// method and host only, a final 1xx is refused, every body is read whole
// under the request's context and maxBody, and a 2xx body must be within
// the shape bounds before go-client-codegen decodes it.
func boundedClient(hc *http.Client) boundedhttp.Client {
	return boundedhttp.Client{
		Base:      hc,
		Service:   "Aiven",
		Limit:     func(*http.Request, int) int64 { return maxBody },
		OverLimit: func(int64) error { return errBodyTooLarge },
		OverShape: errAnswerTooComplex,
	}
}

// responseGuard makes sure no response body reaches go-client-codegen
// unless it is bounded (base, a boundedClient) and, for a non-2xx status,
// parsed Aiven error JSON: go-client-codegen copies a non-JSON error body
// verbatim into its error message, and a proxy's error page may quote
// anything, a new full_token included.
//
// For a non-2xx status it replaces the body with {"message": M}: M is
// Aiven's message, clipped, when the body is an Aiven error object, and
// otherwise a summary of the body by status, content type and length.
type responseGuard struct {
	base boundedhttp.Client
}

// Do sends req once: calling it twice sends twice.
func (g responseGuard) Do(req *http.Request) (*http.Response, error) {
	rsp, err := g.base.Do(req)
	if err != nil || rsp.StatusCode >= 200 && rsp.StatusCode < 300 {
		return rsp, err
	}
	// The body is in memory: the bounded client read it, and serves what
	// it read (at most maxBody bytes), then the reason it refused it.
	b, rerr := io.ReadAll(rsp.Body)
	var msg string
	switch {
	case errors.Is(rerr, errBodyTooLarge):
		msg = fmt.Sprintf("%d response: %s (%s)", rsp.StatusCode, errBodyTooLarge, contentType(rsp.Header))
	case rerr != nil:
		msg = fmt.Sprintf("%d response whose body could not be read (%s, %d bytes read)", rsp.StatusCode, contentType(rsp.Header), len(b))
	default:
		var ok bool
		if msg, ok = aivenMessage(b); !ok {
			msg = summary(rsp.StatusCode, rsp.Header, len(b))
		}
	}
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	rsp.Body = io.NopCloser(bytes.NewReader(body))
	rsp.ContentLength = int64(len(body))
	rsp.Header = rsp.Header.Clone()
	rsp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	rsp.Header.Set("Content-Type", "application/json")
	rsp.Header.Del("Content-Encoding")
	return rsp, nil
}

// scrubbingTransport scrubs and clips the errors of base (bounded), whose
// text may quote what a server sent (a malformed status line, for one).
type scrubbingTransport struct {
	base http.RoundTripper
}

func (t scrubbingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rsp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, bounded(err)
	}
	return rsp, nil
}

// summary describes a body that is not Aiven error JSON without quoting it.
func summary(status int, h http.Header, n int) string {
	return fmt.Sprintf("%d response with a body that is not Aiven error JSON (%s, %d bytes)", status, contentType(h), n)
}

// aivenMessage is the message of an Aiven error object (a JSON object whose
// "message" is a string; "errors", when present, an array), clipped and
// scrubbed; ok is false for any other body.
func aivenMessage(b []byte) (msg string, ok bool) {
	var e struct {
		Message *string          `json:"message"`
		Errors  *json.RawMessage `json:"errors"`
	}
	if !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) || json.Unmarshal(b, &e) != nil || e.Message == nil {
		return "", false
	}
	if e.Errors != nil {
		var errs []json.RawMessage
		if raw := bytes.TrimSpace(*e.Errors); !bytes.Equal(raw, []byte("null")) && json.Unmarshal(raw, &errs) != nil {
			return "", false
		}
	}
	return clip(scrub(*e.Message), maxMessage), true
}

// mediaType is a plausible media type. Like every pattern of the package,
// it is compiled on first use, not at package init: a cold start pays only
// for what its invocation runs, and an answer that needs it is an error.
var mediaType = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$`)
})

// contentType names the response's media type when it is a plausible one,
// and never repeats anything else a server put in the header.
func contentType(h http.Header) string {
	v := h.Get("Content-Type")
	if v == "" {
		return "no content type"
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil || !mediaType().MatchString(mt) {
		return "an unrecognised content type"
	}
	return mt
}

// tokenRun is anything shaped like an Aiven token or a long part of one: a
// long run of the base64 alphabet (Aiven tokens are standard base64, some
// prefixed AVNU_, which leaves "AVNU_[cut]").
var tokenRun = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[A-Za-z0-9+/=]{24,}`) })

// scrub cuts every token-shaped run from s, except the names of the
// operations the client calls (operationNames), which are long runs of
// letters and nothing secret. It judges s as it is and s percent-decoded
// (a token in a URL has "/" as %2F, "+" as %2B, "=" as %3D, which cut it
// into short runs), and cuts the original text of every run found in
// either.
func scrub(s string) string { return secret.ScrubWith(s, tokenSpans, "[cut]") }

func tokenSpans(s string) [][2]int {
	var spans [][2]int
	for _, m := range tokenRun().FindAllStringIndex(s, -1) {
		if !operationNames[s[m[0]:m[1]]] {
			spans = append(spans, [2]int{m[0], m[1]})
		}
	}
	return spans
}

// clip bounds s to about n bytes, cut at a rune boundary and never inside a
// run of the base64 alphabet (the cut backs up to the character before the
// run), so that no fragment of a token is left at the edge; and says so.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if secret.IsTokenChar(s[cut]) {
		for cut > 0 && secret.IsTokenChar(s[cut-1]) {
			cut--
		}
	}
	return s[:cut] + fmt.Sprintf("… (clipped, %d bytes in all)", len(s))
}

// bounded is err with its text scrubbed of token-shaped runs and clipped
// to maxErrorText; nil stays nil. errors.Is and errors.As see through it.
// It is a net.Error whatever it wraps (boundedhttp.BoundNetText): the
// transport's errors must stay one for *url.Error, and every error the
// client returns has always been one.
func bounded(err error) error { return boundedhttp.BoundNetText(err, scrubAndClip) }

func scrubAndClip(s string) string { return clip(scrub(s), maxErrorText) }

// describeDecodeError replaces an error from decoding a 2xx answer, whose
// text may quote the answer (time.ParseError quotes the value, a type error
// quotes a number), with one that says where it failed and nothing of
// what was there. Other errors pass unchanged.
func describeDecodeError(op string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tp *time.ParseError
	switch {
	case errors.As(err, &syn):
		return &decodeError{op: op, what: fmt.Sprintf("malformed JSON at byte %d", syn.Offset), err: err}
	case errors.As(err, &typ):
		return &decodeError{op: op, what: fmt.Sprintf("a JSON %s of the wrong type at byte %d", jsonKind(typ.Value), typ.Offset), err: err}
	case errors.As(err, &tp):
		return &decodeError{op: op, what: "a timestamp that is not RFC 3339", err: err}
	}
	return err
}

func jsonKind(v string) string {
	kind, _, _ := strings.Cut(v, " ") // "number 123" -> "number"
	switch kind {
	case "string", "number", "bool", "array", "object", "null":
		return kind
	}
	return "value"
}

// decodeError is a 2xx answer that is not the JSON expected. Its text
// never quotes the answer; Unwrap gives the decoder's own error.
type decodeError struct {
	op, what string
	err      error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("%s: Aiven answered with a body that is not the JSON expected (%s)", e.op, e.what)
}

func (e *decodeError) Unwrap() error { return e.err }
