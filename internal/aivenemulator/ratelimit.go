package aivenemulator

import (
	"fmt"
	"math"
	"net/http"
	"time"
)

// Bounds of a rate limit set through the control API: enough for any test
// and small enough that a mistaken value neither exhausts memory (one
// timestamp per admitted request is kept per token) nor hangs a client.
const (
	maxRateLimitRequests = 100000
	maxRateLimitWindow   = time.Hour
)

// RateLimit is a per-token request limit: at most Requests API calls by
// one token in any Window (a sliding window on the emulator's clock).
type RateLimit struct {
	Requests int
	Window   time.Duration
}

func (l RateLimit) validate() error {
	switch {
	case l.Requests < 1 || l.Requests > maxRateLimitRequests:
		return fmt.Errorf("requests must be 1 to %d", maxRateLimitRequests)
	case l.Window < time.Millisecond || l.Window > maxRateLimitWindow:
		return fmt.Errorf("window_ms must be 1 to %d", maxRateLimitWindow.Milliseconds())
	}
	return nil
}

// rateLimiter is the emulator's per-token limit. Its zero value is off.
// Callers hold e.mu.
type rateLimiter struct {
	limit RateLimit // zero: off
	// admitted holds, per full token, the times of the calls admitted
	// within the last window, oldest first. Keyed by the token's value,
	// never shown.
	admitted map[string][]time.Time
	// limited counts the 429s answered, per token prefix.
	limited map[string]int
}

// SetRateLimit limits every token to l.Requests API calls in any l.Window
// (by the emulator's clock, which runs with the wall clock and jumps with
// Advance), starting afresh: earlier calls and 429 counts are forgotten.
// It fails, changing nothing, for requests outside 1 to 100000 or a
// window outside 1 ms to 1 hour. The control API's PUT
// /_emulator/rate-limit does the same.
func (e *Emulator) SetRateLimit(l RateLimit) error {
	if err := l.validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.limiter = rateLimiter{limit: l, admitted: map[string][]time.Time{}, limited: map[string]int{}}
	return nil
}

// ClearRateLimit turns the rate limit off and forgets its counts.
func (e *Emulator) ClearRateLimit() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.limiter = rateLimiter{}
}

// RateLimitStatus is the rate limit as the control API shows it: the
// setting, and the 429s answered per token prefix (never a token).
type RateLimitStatus struct {
	Enabled  bool           `json:"enabled"`
	Requests int            `json:"requests"`
	WindowMS int64          `json:"window_ms"`
	Limited  map[string]int `json:"limited"`
}

// RateLimitStatus reports the rate limit and its 429s so far.
func (e *Emulator) RateLimitStatus() RateLimitStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := RateLimitStatus{
		Enabled:  e.limiter.on(),
		Requests: e.limiter.limit.Requests,
		WindowMS: e.limiter.limit.Window.Milliseconds(),
		Limited:  map[string]int{},
	}
	for prefix, n := range e.limiter.limited {
		s.Limited[prefix] = n
	}
	return s
}

func (l *rateLimiter) on() bool { return l.limit.Requests > 0 }

// rateLimit admits or refuses a call by the live token t at now. A refusal
// is Aiven's 429, whose message says when to try again: "The user has
// sent too many requests in a given amount of time: Rate limit 120
// exceeded - try again in 28s" (the body Aiven sent in
// aiven/terraform-provider-aiven#575). Nothing published shows Aiven
// sending Retry-After with it, so none is sent: a client must read the
// delay from the message. Whether Aiven limits per token, per user or
// per address is not documented; per token is the strictest model that
// still lets a test show one principal slowed and another not (inferred).
// A refused call is not admitted, so it does not prolong the wait.
// Callers hold e.mu.
func (l *rateLimiter) rateLimit(t *token, now time.Time) *apiError {
	if !l.on() {
		return nil
	}
	since := now.Add(-l.limit.Window)
	times := l.admitted[t.full]
	drop := 0
	for drop < len(times) && !times[drop].After(since) {
		drop++
	}
	times = times[drop:]
	if len(times) < l.limit.Requests {
		l.admitted[t.full] = append(times, now)
		return nil
	}
	l.admitted[t.full] = times
	l.limited[t.prefix]++
	// The oldest admitted call leaves the window at times[0]+Window; say
	// it in whole seconds, rounded up, at least 1, as Aiven's "28s" is.
	wait := max(int(math.Ceil(times[0].Add(l.limit.Window).Sub(now).Seconds())), 1)
	return errorf(http.StatusTooManyRequests, "%s", rateLimitMessage(l.limit.Requests, wait))
}

func rateLimitMessage(requests, waitSeconds int) string {
	return fmt.Sprintf("The user has sent too many requests in a given amount of time: Rate limit %d exceeded - try again in %ds", requests, waitSeconds)
}

// limitedToken finds the live token a request carries, for the rate
// limit: requests without one (no or a malformed header, an unknown,
// revoked or expired token) are not counted; authenticate answers them.
// Callers hold e.mu.
func (e *Emulator) limitedToken(r *http.Request, now time.Time) *token {
	value, ok := credentials(r.Header.Get("Authorization"))
	if !ok {
		return nil
	}
	t, known := e.byValue[value]
	if !known || t.state(now) != "live" {
		return nil
	}
	return t
}
