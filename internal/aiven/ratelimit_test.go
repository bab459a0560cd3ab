package aiven

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// emulatorClock sleeps by moving the emulator's clock, so a client waiting
// out the emulator's rate limit waits no real time.
type emulatorClock struct {
	emu    *aivenemulator.Emulator
	mu     sync.Mutex
	sleeps []time.Duration
}

func (c *emulatorClock) now() time.Time { return c.emu.Now() }

func (c *emulatorClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.emu.Advance(d)
	return nil
}

// The emulator's 429 carries its delay in Aiven's message only (no
// Retry-After): the client reads it, waits that long and succeeds, a
// create included (a 429 says nothing was created, so it is retried and
// makes one token); another principal's client never waits; and a wait
// past the deadline fails at once, naming it.
func TestClientHonoursTheEmulatorsRateLimit(t *testing.T) {
	emu := aivenemulator.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	a, err := emu.CreateUser("a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := emu.CreateUser("b@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.SetRateLimit(aivenemulator.RateLimit{Requests: 2, Window: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	client := func(token string) (*Client, *emulatorClock) {
		clock := &emulatorClock{emu: emu}
		o := loopbackOptions()
		o.sleep, o.now = clock.sleep, clock.now
		c, err := newClient(srv.URL, secret.NewToken(token), o)
		if err != nil {
			t.Fatal(err)
		}
		return c, clock
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ca, clockA := client(a.Token)
	if _, err := ca.Me(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.ListTokens(ctx); err != nil {
		t.Fatal(err)
	}
	created, err := ca.CreateToken(ctx, CreateRequest{Description: "after a 429"})
	if err != nil {
		t.Fatalf("create through the rate limit: %v", err)
	}
	if len(clockA.sleeps) != 1 || clockA.sleeps[0] < time.Second || clockA.sleeps[0] > 30*time.Second {
		t.Fatalf("slept %v, want once, the 1 to 30 s the 429 asked for", clockA.sleeps)
	}
	mine := 0
	for _, r := range emu.Tokens() {
		if r.User == a.Email && r.State == "live" {
			mine++
		}
	}
	if mine != 2 || !emu.Authenticates(created.FullToken.Reveal()) {
		t.Fatalf("%d live tokens of a, want the console token and one created", mine)
	}

	cb, clockB := client(b.Token)
	for range 2 {
		if _, err := cb.Me(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(clockB.sleeps) != 0 {
		t.Fatalf("another principal waited %v", clockB.sleeps)
	}
	if s := emu.RateLimitStatus(); len(s.Limited) != 1 || s.Limited[a.TokenPrefix] != 1 {
		t.Fatalf("limited %v, want one 429 for %s only", s.Limited, a.TokenPrefix)
	}

	// b has used its two calls: with 5 s left, a 30 s wait is refused.
	short, cancelShort := context.WithDeadline(context.Background(), emu.Now().Add(5*time.Second))
	defer cancelShort()
	_, err = cb.Me(short)
	if Status(err) != 429 || !strings.Contains(err.Error(), "Aiven asked to retry after") || !strings.Contains(err.Error(), "past the invocation deadline") {
		t.Fatalf("err = %v, want the 429 refused for the deadline", err)
	}
}
