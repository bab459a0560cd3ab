// Package aiven makes the Aiven API calls the rotator needs, over Aiven's
// go-client-codegen, with the rules a rotator must keep: a token goes only
// where the Policy allows, idempotent calls are retried with backoff within
// the context's deadline, a token creation is never retried blindly, and
// errors are classified (401, 403, 404, 429, ambiguous). No response body
// reaches an error unless it is parsed Aiven error JSON, every body read is
// capped at 1 MiB, and every error text is clipped (see responseGuard).
package aiven

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	codegen "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aiven/go-client-codegen/handler/organization"
	"github.com/aiven/go-client-codegen/handler/user"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/boundedhttp"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// Options are what the rotator chooses for a Client. The zero value of
// each field takes the default.
type Options struct {
	Policy Policy
	// Transport sends the requests (default: NewTransport()). The Policy
	// and the response guard wrap it whatever it is.
	Transport http.RoundTripper
}

// userAgent is appended to go-client-codegen's own.
const userAgent = "aiven-token-rotator"

// settings are a Client's Options and the rest of its settings, which New
// leaves at their defaults and tests set through newClient. The zero
// value of each field takes the default.
type settings struct {
	Options
	// attemptTimeout bounds one HTTP attempt (default 10s); the context's
	// deadline bounds them all.
	attemptTimeout time.Duration
	// maxAttempts bounds the attempts of an idempotent call (default 4).
	maxAttempts int
	// baseDelay and maxDelay shape the exponential backoff between
	// attempts (defaults 200ms and 5s). A 429's own delay overrides them.
	baseDelay, maxDelay time.Duration
	// sleep waits between attempts (default: a timer); now reads the clock
	// (default time.Now).
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

func (o settings) withDefaults() settings {
	if o.attemptTimeout <= 0 {
		o.attemptTimeout = 10 * time.Second
	}
	if o.maxAttempts <= 0 {
		o.maxAttempts = 4
	}
	if o.baseDelay <= 0 {
		o.baseDelay = 200 * time.Millisecond
	}
	if o.maxDelay <= 0 {
		o.maxDelay = 5 * time.Second
	}
	if o.sleep == nil {
		o.sleep = sleep
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.Transport == nil {
		o.Transport = NewTransport()
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Client calls the Aiven API with one token.
type Client struct {
	users user.Handler
	apps  applicationuser.Handler // the same codegen client (application.go)
	orgs  organization.Handler    // the same codegen client (organization.go)
	opts  settings
	clock *serverClock // the Date of the latest answer (ServerTime)
}

// New is a client that sends token to baseURL. It fails, having sent
// nothing, when the Policy refuses baseURL. Host, token, user agent, debug
// and the HTTP client are set explicitly, but go-client-codegen's NewClient
// still reads the AIVEN_* variables of the process environment first
// (envconfig.Process): a malformed one (see CheckEnv) fails every New.
// Calling it twice gives two independent clients.
func New(baseURL string, token secret.Token, o Options) (*Client, error) {
	return newClient(baseURL, token, settings{Options: o})
}

// newClient is New with every setting: the seam for tests.
func newClient(baseURL string, token secret.Token, o settings) (*Client, error) {
	o = o.withDefaults()
	u, err := o.Policy.CheckBaseURL(baseURL)
	if err != nil {
		return nil, bounded(err)
	}
	if token.IsZero() {
		return nil, errors.New("aiven client: the token is empty")
	}
	clock := &serverClock{}
	hc := &http.Client{
		Transport: scrubbingTransport{base: policyTransport{policy: o.Policy, base: dateTap{base: o.Transport, clock: clock}}},
		// A redirect could carry the token elsewhere: stop at the first.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c, err := codegen.NewClient(
		codegen.HostOpt(u.String()),
		codegen.TokenOpt(token.Reveal()), // the Authorization header: the one place it is sent
		codegen.DebugOpt(false),
		codegen.UserAgentOpt(userAgent),
		codegen.DoerOpt(responseGuard{base: boundedClient(hc)}), // no retryablehttp: retries are ours, per call kind
		codegen.EnableSingleFlightOpt(false),
	)
	if err != nil {
		// NewClient fails only on a malformed AIVEN_* variable it reads
		// through envconfig (CheckEnv catches them at init); its message
		// names the variable, not a token.
		return nil, bounded(fmt.Errorf("aiven client: %w", err))
	}
	return &Client{users: c, apps: c, orgs: c, opts: o, clock: clock}, nil
}

// User is the principal a token belongs to.
type User struct {
	Email  string // Aiven's "user" field
	UserID string
}

// Token is a token as Aiven lists it: never its value.
type Token struct {
	Prefix          string
	Description     string
	CurrentlyActive bool
	CreateTime      time.Time
	ExpiryTime      *time.Time
	MaxAgeSeconds   float64
	ExtendWhenUsed  bool
	IPAllowlist     []string
	Scopes          []string
	// LastUsed, LastIP and LastUserAgent are Aiven's record of the
	// token's last use, by Aiven's clock; nil and "" when never used. The
	// user agent is whatever the caller sent: text an attacker chooses.
	LastUsed      *time.Time
	LastIP        string
	LastUserAgent string
}

// NewToken is a token just created: the only time its value is known.
type NewToken struct {
	Token
	FullToken secret.Token
}

// CreateRequest holds the settings of a new token.
type CreateRequest struct {
	Description    string
	MaxAgeSeconds  *float64
	ExtendWhenUsed *bool
	IPAllowlist    []string
	Scopes         []string
}

// Me asks who the token belongs to (GET /v1/me). It only reads: calling it
// twice is harmless, so failures that may pass are retried.
func (c *Client) Me(ctx context.Context) (User, error) {
	var out *user.UserInfoOut
	err := c.retry(ctx, "UserInfo", func(ctx context.Context) (err error) {
		out, err = c.users.UserInfo(ctx)
		return err
	})
	if err != nil {
		return User{}, bounded(err)
	}
	return User{Email: out.User, UserID: out.UserId}, nil
}

// ListTokens lists the valid tokens of the token's user (GET
// /v1/access_token). It only reads: calling it twice is harmless, so
// failures that may pass are retried.
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	var out []user.TokenOut
	err := c.retry(ctx, "AccessTokenList", func(ctx context.Context) (err error) {
		out, err = c.users.AccessTokenList(ctx)
		return err
	})
	if err != nil {
		return nil, bounded(err)
	}
	tokens := make([]Token, 0, len(out))
	for _, t := range out {
		tokens = append(tokens, Token{
			Prefix:          t.TokenPrefix,
			Description:     deref(t.Description),
			CurrentlyActive: t.CurrentlyActive != nil && *t.CurrentlyActive,
			CreateTime:      t.CreateTime,
			ExpiryTime:      t.ExpiryTime,
			MaxAgeSeconds:   t.MaxAgeSeconds,
			ExtendWhenUsed:  t.ExtendWhenUsed,
			IPAllowlist:     t.IPAllowlist,
			Scopes:          t.Scopes,
			LastUsed:        t.LastUsedTime,
			LastIP:          deref(t.LastIP),
			LastUserAgent:   deref(t.LastUserAgent),
		})
	}
	return tokens, nil
}

// CreateToken creates a token (POST /v1/access_token). Calling it twice
// creates two tokens, so it is never retried blindly: only a 429, which
// says nothing was created, is retried after the delay Aiven gives. Any
// failure that may have created a token is reported as ambiguous
// (IsAmbiguous): the caller must list the tokens and look for its marker.
func (c *Client) CreateToken(ctx context.Context, r CreateRequest) (NewToken, error) {
	in := &user.AccessTokenCreateIn{
		Description:    r.Description,
		MaxAgeSeconds:  r.MaxAgeSeconds,
		ExtendWhenUsed: r.ExtendWhenUsed,
	}
	if r.IPAllowlist != nil {
		in.IPAllowlist = &r.IPAllowlist
	}
	if r.Scopes != nil {
		in.Scopes = &r.Scopes
	}
	out, err := create(ctx, c, "AccessTokenCreate", func(ctx context.Context) (*user.AccessTokenCreateOut, error) {
		return c.users.AccessTokenCreate(ctx, in)
	}, func(o *user.AccessTokenCreateOut) (string, string) { return o.FullToken, o.TokenPrefix })
	if err != nil {
		return NewToken{}, err
	}
	return NewToken{
		FullToken: secret.NewToken(out.FullToken),
		Token: Token{
			Prefix:         out.TokenPrefix,
			Description:    deref(out.Description),
			CreateTime:     out.CreateTime,
			ExpiryTime:     out.ExpiryTime,
			MaxAgeSeconds:  out.MaxAgeSeconds,
			ExtendWhenUsed: out.ExtendWhenUsed,
			IPAllowlist:    out.IPAllowlist,
			Scopes:         out.Scopes,
		},
	}, nil
}

// create runs call, a token creation named op, and reads the new token
// and its prefix from its answer with token. Creating twice creates two
// tokens, so only a 429, which says nothing was created, is retried. A
// failure that may have created a token, and a 2xx without one, are
// ambiguous (IsAmbiguous).
func create[T any](ctx context.Context, c *Client, op string, call func(context.Context) (T, error), token func(T) (full, prefix string)) (T, error) {
	var out T
	err := c.retryWhen(ctx, op, isRateLimited, func(ctx context.Context) (err error) {
		out, err = call(ctx)
		return err
	})
	switch {
	case err != nil && ambiguous(err):
		return out, bounded(&ambiguousError{Err: err})
	case err != nil:
		return out, bounded(err)
	}
	if full, prefix := token(out); full == "" || prefix == "" {
		// A 2xx without a token may still have created one.
		return out, bounded(&ambiguousError{Err: errors.New(op + " answered without full_token or token_prefix")})
	}
	return out, nil
}

// RevokeToken revokes a token by its prefix (DELETE
// /v1/access_token/{prefix}); the prefix, never the full token, goes into
// the path. Calling it twice is harmless: a 404 means already revoked and
// is reported as (false, nil); revoked is true when this call revoked it.
func (c *Client) RevokeToken(ctx context.Context, prefix string) (revoked bool, err error) {
	if prefix == "" {
		return false, errors.New("revoke: empty token prefix")
	}
	err = c.retry(ctx, "AccessTokenRevoke", func(ctx context.Context) error {
		return c.users.AccessTokenRevoke(ctx, prefix)
	})
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, bounded(err)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ambiguousError is a failed call that may nevertheless have taken effect
// (a timeout, a reset connection, a 5xx).
type ambiguousError struct{ Err error }

func (e *ambiguousError) Error() string {
	return "outcome unknown (the request may have taken effect): " + e.Err.Error()
}

func (e *ambiguousError) Unwrap() error { return e.Err }

// IsAmbiguous says whether err is a failure that may have taken effect.
func IsAmbiguous(err error) bool {
	var a *ambiguousError
	return errors.As(err, &a)
}

// Status is the HTTP status of an Aiven API error, or 0 when err is not one.
func Status(err error) int {
	var e codegen.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsUnauthorized says whether Aiven rejected the token itself (401).
func IsUnauthorized(err error) bool { return Status(err) == http.StatusUnauthorized }

// IsForbidden says whether Aiven refused the operation to this token (403).
func IsForbidden(err error) bool { return Status(err) == http.StatusForbidden }

// IsNotFound says whether Aiven answered 404.
func IsNotFound(err error) bool { return Status(err) == http.StatusNotFound }

// IsPolicy says whether the request was refused by the Policy, unsent.
func IsPolicy(err error) bool {
	var p *policyError
	return errors.As(err, &p)
}

func isRateLimited(err error) bool { return Status(err) == http.StatusTooManyRequests }

// retryable: failures of an idempotent call that another attempt may cure.
func retryable(err error) bool {
	var sw *boundedhttp.SwitchingError
	if IsPolicy(err) || errors.Is(err, errBodyTooLarge) || errors.Is(err, errAnswerTooComplex) || errors.As(err, &sw) {
		return false
	}
	switch s := Status(err); {
	case s == 0:
		return !errors.Is(err, context.Canceled)
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
		return true
	case s >= 500 && s != http.StatusNotImplemented:
		return true
	}
	return false
}

// ambiguous: failures of a non-idempotent call that may have taken effect.
func ambiguous(err error) bool {
	if IsPolicy(err) || errors.Is(err, context.Canceled) {
		return false
	}
	s := Status(err)
	return s == 0 || s == http.StatusRequestTimeout || s >= 500
}

func (c *Client) retry(ctx context.Context, op string, call func(context.Context) error) error {
	return c.retryWhen(ctx, op, retryable, call)
}

// retryWhen runs call until it succeeds, fails for good, runs out of
// attempts, or the next attempt would start past the context's deadline.
func (c *Client) retryWhen(ctx context.Context, op string, again func(error) bool, call func(context.Context) error) error {
	var err error
	for n := 1; ; n++ {
		rec := &attempt{}
		actx, cancel := context.WithTimeout(context.WithValue(ctx, attemptKey{}, rec), c.opts.attemptTimeout)
		err = describeDecodeError(op, call(actx))
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: stopped at the invocation deadline after %d attempt(s): %w", op, n, err)
		}
		if !again(err) {
			return err
		}
		if n >= c.opts.maxAttempts {
			return fmt.Errorf("%s: giving up after %d attempts: %w", op, n, err)
		}
		delay := c.backoff(n)
		if isRateLimited(err) {
			if d, ok := rateLimitDelay(rec.retryAfter, err, c.opts.now()); ok {
				// A server-given delay must fit in the time left.
				if dl, ok := ctx.Deadline(); ok {
					if left := dl.Sub(c.opts.now()); d >= left {
						return fmt.Errorf("%s: giving up after %d attempt(s): Aiven asked to retry after %s; that is past the invocation deadline (%s left): %w", op, n, humanDelay(d), humanDelay(left), err)
					}
				} else if d > maxServerDelay {
					return fmt.Errorf("%s: giving up after %d attempt(s): Aiven asked to retry after %s; that is longer than the %s this client waits without a deadline: %w", op, n, humanDelay(d), maxServerDelay, err)
				}
				delay = d
			}
		}
		if dl, ok := ctx.Deadline(); ok && !c.opts.now().Add(delay).Before(dl) {
			return fmt.Errorf("%s: giving up after %d attempt(s): waiting %s to retry would pass the invocation deadline: %w", op, n, delay.Round(time.Millisecond), err)
		}
		if serr := c.opts.sleep(ctx, delay); serr != nil {
			return fmt.Errorf("%s: stopped at the invocation deadline after %d attempt(s): %w", op, n, err)
		}
	}
}

func (c *Client) backoff(n int) time.Duration {
	d := c.opts.baseDelay << (n - 1)
	if d <= 0 || d > c.opts.maxDelay {
		d = c.opts.maxDelay
	}
	return d
}

// maxServerDelay bounds a server-given delay when the context has no
// deadline: the longest a Lambda invocation can run.
const maxServerDelay = 15 * time.Minute

// rateLimitDelay reads the delay a 429 asks for: the Retry-After header
// (seconds or an HTTP date), else Aiven's "try again in 28s". A delay too
// long for a time.Duration saturates at the longest one (about 292 years);
// it never wraps.
func rateLimitDelay(retryAfter string, err error, now time.Time) (time.Duration, bool) {
	if retryAfter = strings.TrimSpace(retryAfter); retryAfter != "" {
		if d, ok := parseDelaySeconds(retryAfter); ok {
			return d, true
		}
		if t, perr := http.ParseTime(retryAfter); perr == nil {
			return max(t.Sub(now), 0), true
		}
	}
	var e codegen.Error
	if errors.As(err, &e) {
		if m := tryAgainPattern().FindStringSubmatch(e.Message); m != nil {
			f, perr := strconv.ParseFloat(m[1], 64)
			if perr == nil || errors.Is(perr, strconv.ErrRange) {
				unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute}[m[2]]
				return saturate(f * float64(unit)), true
			}
		}
	}
	return 0, false
}

// parseDelaySeconds reads Retry-After's delay-seconds (1*DIGIT),
// saturating instead of overflowing.
func parseDelaySeconds(v string) (time.Duration, bool) {
	if strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) || err == nil && secs > math.MaxInt64/int64(time.Second) {
		return math.MaxInt64, true
	}
	if err != nil {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

func saturate(ns float64) time.Duration {
	switch {
	case ns != ns || ns <= 0: // NaN or not positive
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// humanDelay says a delay the way a person reads it: "28s", "3 days",
// "292 years".
func humanDelay(d time.Duration) string {
	const day, year = 24 * time.Hour, 365 * 24 * time.Hour
	switch {
	case d >= 2*year:
		return fmt.Sprintf("%d years", d/year)
	case d >= 2*day:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.Round(time.Millisecond).String()
}
