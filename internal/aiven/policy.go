package aiven

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Policy says where a token may be sent: over HTTPS to an allowed host, or
// over plain HTTP to a loopback address when AllowInsecureLoopback is set
// (the local stack and tests) and that address is allowed too.
type Policy struct {
	// AllowedHosts are host names or IP literals, optionally with a port;
	// matching ignores case.
	AllowedHosts          []string
	AllowInsecureLoopback bool
}

// policyError is a request the Policy refused: nothing was sent.
type policyError struct {
	URL    string // scheme and host only, never a path or query
	Reason string
}

func (e *policyError) Error() string {
	return fmt.Sprintf("refusing to send a token to %s: %s", e.URL, e.Reason)
}

// CheckBaseURL parses an API base URL and checks it against the policy: an
// absolute URL with no user info, query or fragment, and no path but "/".
func (p Policy) CheckBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &policyError{URL: "the API URL", Reason: "it is not a valid URL"}
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, &policyError{URL: u.Scheme + "://" + u.Host, Reason: "the API URL must be scheme://host[:port] with no path, query or fragment"}
	}
	if err := p.check(u); err != nil {
		return nil, err
	}
	u.Path = ""
	return u, nil
}

// check says whether a request to u may carry a token.
func (p Policy) check(u *url.URL) error {
	where := u.Scheme + "://" + u.Host
	if u.User != nil {
		return &policyError{URL: u.Scheme + "://" + u.Hostname(), Reason: "URLs with user info are not allowed"}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return &policyError{URL: where, Reason: "the URL has no host"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowInsecureLoopback {
			return &policyError{URL: where, Reason: "only https is allowed (AIVEN_ALLOW_INSECURE_LOOPBACK is off)"}
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return &policyError{URL: where, Reason: "plain http is allowed only to loopback addresses (127.0.0.0/8, ::1)"}
		}
	default:
		return &policyError{URL: where, Reason: "only https is allowed"}
	}
	hostPort := strings.ToLower(u.Host)
	allowed := slices.ContainsFunc(p.AllowedHosts, func(a string) bool {
		a = strings.ToLower(strings.TrimSpace(a))
		return a == host || a == hostPort || strings.Trim(a, "[]") == host
	})
	if !allowed {
		return &policyError{URL: where, Reason: fmt.Sprintf("host %q is not in ALLOWED_API_HOSTS", host)}
	}
	return nil
}

// policyTransport refuses, before anything is sent, every request the
// policy does not allow: a second line of defence behind Client.New's check
// of the base URL. It also records a 429's Retry-After for the retry loop.
type policyTransport struct {
	policy Policy
	base   http.RoundTripper
}

func (t policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.policy.check(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	rsp, err := t.base.RoundTrip(req)
	if err == nil && rsp.StatusCode == http.StatusTooManyRequests {
		if rec, ok := req.Context().Value(attemptKey{}).(*attempt); ok {
			rec.retryAfter = rsp.Header.Get("Retry-After")
		}
	}
	return rsp, err
}

// attempt carries what the transport learns about one request back to the
// retry loop, through the request's context.
type attempt struct {
	retryAfter string
}

type attemptKey struct{}

// tryAgainPattern reads Aiven's "try again in 28s" from a 429's message;
// compiled on first use, not at package init.
var tryAgainPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`try again in ([0-9]+(?:\.[0-9]+)?)(ms|s|m)\b`)
})
