package aiven

import (
	"net/http"
	"sync"
	"time"
)

// serverClock keeps the Date of the latest answer the client had: Aiven's
// own time, by which tokens are created and expire. A sweep reckons a
// token's age and time to expiry by it, not by the Lambda's clock.
type serverClock struct {
	mu sync.Mutex
	at time.Time
}

func (s *serverClock) set(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = t
}

func (s *serverClock) get() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at, !s.at.IsZero()
}

// dateTap records each answer's Date header (RFC 9110 requires an origin
// server with a clock to send one) into clock.
type dateTap struct {
	base  http.RoundTripper
	clock *serverClock
}

func (d dateTap) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.base.RoundTrip(req)
	if err == nil {
		if t, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			d.clock.set(t)
		}
	}
	return resp, err
}

// ServerTime is the Date of the latest answer the client received (of any
// status), to the second; ok is false before the first or when Aiven sent
// none. It only reads.
func (c *Client) ServerTime() (t time.Time, ok bool) {
	if c.clock == nil {
		return time.Time{}, false
	}
	return c.clock.get()
}
