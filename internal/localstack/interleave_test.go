package localstack_test

// Regression tests for issue 7's rotation-logic defects that need Secrets
// Manager's and Aiven's real behaviour: concurrent and replayed steps, a
// deadline that passes during a call, and a stored token_prefix that lies.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	aivenclient "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/user"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// gate passes each invocation to the rotator unless hold says to fail it,
// at once and touching nothing: a test uses it to stop a rotation after a
// chosen step and then drive the steps itself.
type gate struct {
	inner smemulator.Invoker
	mu    sync.Mutex
	hold  func(step string) bool
}

func (g *gate) setHold(hold func(step string) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold = hold
}

func (g *gate) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev struct{ Step string }
	_ = json.Unmarshal(payload, &ev)
	g.mu.Lock()
	hold := g.hold
	g.mu.Unlock()
	if hold != nil && hold(ev.Step) {
		return nil, fmt.Errorf("held by the test: %s", ev.Step)
	}
	return g.inner.Invoke(ctx, payload)
}

func withGate(g *gate) worldOption {
	return func(c *localstack.Config) {
		c.WrapRotator = func(i smemulator.Invoker) smemulator.Invoker { g.inner = i; return g }
	}
}

// checkProblemsBut reports the invariant problems except those starting
// with skip (a test that keeps a token of its own live breaks the world's
// count of live tokens on purpose).
func (w *world) checkProblemsBut(skip string) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.problems {
		if !strings.HasPrefix(p, skip) {
			w.t.Error(p)
		}
	}
	w.problems = nil
}

// markedTokens are every token ever issued with version's marker.
func (w *world) markedTokens(version string) (live, revoked int) {
	want, err := secret.NewMarker(w.arn, version)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, tok := range w.stack.Aiven.Tokens() {
		if m, ok := secret.ParseMarker(tok.Description); ok && m.SameVersion(want) {
			if tok.State == "live" {
				live++
			} else {
				revoked++
			}
		}
	}
	return live, revoked
}

// Defect 3: a secret's token_prefix that names another token of the same
// user (one without a marker) is not what gets revoked: the replaced token
// is, by the prefix Aiven reports for it, and the disagreement is reported.
func TestStoredTokenPrefixOfAnotherTokenIsNotRevoked(t *testing.T) {
	w := newWorld(t)
	client, err := aivenclient.NewClient(aivenclient.TokenOpt(w.user.Token), aivenclient.HostOpt(w.stack.AivenURL), aivenclient.RetryMaxOpt(0), aivenclient.DebugOpt(false))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := client.AccessTokenCreate(w.ctx, &user.AccessTokenCreateIn{Description: "ci pipeline"})
	if err != nil {
		t.Fatal(err)
	}
	w.tokens[ci.TokenPrefix] = ci.FullToken
	v, _ := json.Marshal(map[string]string{"token": w.user.Token, "token_prefix": ci.TokenPrefix})
	w.seedValue(string(v))

	version := w.rotate()
	if a := w.lastAttempt(version); a.Outcome != "RotationSucceeded" {
		t.Fatalf("rotation: %s (%s)", a.Outcome, a.Error)
	}
	w.checkProblemsBut("I2:") // the ci token stays live, as it must
	if !w.isLive(ci.TokenPrefix) {
		t.Error("the unrelated token the stored token_prefix named was revoked")
	}
	if w.isLive(w.user.TokenPrefix) {
		t.Error("the replaced token is still live")
	}
	if _, value := w.current(); value.PreviousTokenPrefix != w.user.TokenPrefix {
		t.Errorf("previous_token_prefix %q, want the replaced token's %q", value.PreviousTokenPrefix, w.user.TokenPrefix)
	}
	warned := false
	for _, l := range strings.Split(w.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["level"] == "WARN" && m["stored_token_prefix"] == ci.TokenPrefix && m["previous_token_prefix"] == w.user.TokenPrefix {
			warned = true
		}
	}
	if !warned || !strings.Contains(w.logs.String(), "the token wins") {
		t.Error("the disagreement between token_prefix and the token was not reported (a warning and a note)")
	}
	w.assertNoSecretsLeaked()
}

// putRace orders two createSecret invocations for one version as a slow
// PutSecretValue lets them interleave: the first invocation's Put is held
// until the second has listed, created its token and sent its own Put; the
// second's Put is then held until the first's is answered. Channels, not
// delays, fix the order.
type putRace struct {
	mu            sync.Mutex
	puts          int
	firstArrived  chan struct{}
	secondArrived chan struct{}
	firstAnswered chan struct{}
	secondEnded   chan struct{}
}

func newPutRace() *putRace {
	return &putRace{
		firstArrived: make(chan struct{}), secondArrived: make(chan struct{}),
		firstAnswered: make(chan struct{}), secondEnded: make(chan struct{}),
	}
}

func (p *putRace) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutSecretValue") {
			next.ServeHTTP(rw, r)
			return
		}
		p.mu.Lock()
		p.puts++
		n := p.puts
		p.mu.Unlock()
		switch n {
		case 1:
			close(p.firstArrived)
			select {
			case <-p.secondArrived:
			case <-p.secondEnded:
			case <-r.Context().Done():
			}
			next.ServeHTTP(rw, r)
			close(p.firstAnswered)
		case 2:
			close(p.secondArrived)
			select {
			case <-p.firstAnswered:
			case <-r.Context().Done():
			}
			next.ServeHTTP(rw, r)
		default:
			next.ServeHTTP(rw, r)
		}
	})
}

// twinCreate runs the rotation's first createSecret twice at once, the
// second starting once the first has made its token and sent its Put, as
// Secrets Manager's retry of a step it thinks timed out would.
type twinCreate struct {
	inner smemulator.Invoker
	race  *putRace
	once  sync.Once
}

func (d *twinCreate) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev struct{ Step string }
	_ = json.Unmarshal(payload, &ev)
	twin := false
	if ev.Step == "createSecret" {
		d.once.Do(func() { twin = true })
	}
	if !twin {
		return d.inner.Invoke(ctx, payload)
	}
	firstEnded := make(chan struct{})
	secondErr := make(chan error, 1)
	go func() {
		defer close(d.race.secondEnded)
		select {
		case <-d.race.firstArrived:
		case <-firstEnded:
			secondErr <- fmt.Errorf("the first createSecret ended before its PutSecretValue")
			return
		}
		_, err := d.inner.Invoke(ctx, payload)
		secondErr <- err
	}()
	out, err := d.inner.Invoke(ctx, payload)
	close(firstEnded)
	if err2 := <-secondErr; err2 != nil {
		return nil, fmt.Errorf("the second createSecret: %w", err2)
	}
	return out, err
}

// Defect 4: two createSecret invocations for one version converge on a
// pending version whose token works. The second finds the first's token
// (same marker, seconds old) and must not revoke it as an orphan; the
// first stores it; the second's Put loses and it revokes its own token.
func TestConcurrentCreateSecretConverges(t *testing.T) {
	race := newPutRace()
	w := newWorld(t, func(c *localstack.Config) {
		tap := c.SecretsManagerMiddleware
		c.SecretsManagerMiddleware = func(h http.Handler) http.Handler { return tap(race.wrap(h)) }
		c.WrapRotator = func(i smemulator.Invoker) smemulator.Invoker { return &twinCreate{inner: i, race: race} }
	})
	version := w.rotate()
	w.mustSucceed(version) // I1, I3 after every step; I2 after the attempt

	if live, revoked := w.markedTokens(version); live != 1 || revoked != 1 {
		t.Fatalf("tokens with the version's marker: %d live, %d revoked; want 1 and 1 (both invocations made one, the loser revoked its own)", live, revoked)
	}
	gotVersion, value := w.current()
	if gotVersion != version || !w.stack.Aiven.Authenticates(value.Token.Reveal()) {
		t.Fatal("AWSCURRENT is not the new version with a working token")
	}
	if live := w.liveTokens(); len(live) != 1 || live[0].TokenPrefix != value.TokenPrefix {
		t.Fatalf("live tokens %v, want only the current one", prefixes(live))
	}
	if attempts := attemptsOf(w, version); len(attempts) != 1 {
		t.Errorf("%d attempts, want the first to succeed", len(attempts))
	}
	w.assertNoSecretsLeaked()
}

// Defect 5: finishSecret of the previous version, replayed late after the
// next rotation's createSecret, leaves that rotation's pending token alone.
func TestLateFinishOfThePreviousVersionSparesThePendingToken(t *testing.T) {
	g := &gate{}
	w := newWorld(t, withGate(g))
	v1 := w.rotate()
	w.mustSucceed(v1)

	// The next rotation stops after createSecret.
	g.setHold(func(step string) bool { return step != "createSecret" })
	v2 := w.rotate()
	if a := w.lastAttempt(v2); a.Outcome == "RotationSucceeded" {
		t.Fatal("the gate did not stop the rotation")
	}
	pendingV, ok := w.stack.SecretsManager.VersionByStage(w.arn, "AWSPENDING")
	if !ok || pendingV.VersionID != v2 {
		t.Fatal("no AWSPENDING value for the second rotation")
	}
	pending, err := secret.Parse(pendingV.SecretString)
	if err != nil {
		t.Fatal(err)
	}
	w.checkProblems()

	g.setHold(nil)
	if err := w.invoke("finishSecret", v1, ""); err != nil {
		t.Fatalf("late finishSecret(v1): %v", err)
	}
	if !w.isLive(pending.TokenPrefix) {
		t.Fatal("the late finishSecret of the previous version revoked the pending token")
	}
	for _, step := range []string{"setSecret", "testSecret", "finishSecret"} {
		if err := w.invoke(step, v2, ""); err != nil {
			t.Fatalf("%s(v2): %v", step, err)
		}
	}
	gotVersion, value := w.current()
	if gotVersion != v2 || !w.stack.Aiven.Authenticates(value.Token.Reveal()) {
		t.Fatal("AWSCURRENT is not the second rotation's version with a working token")
	}
	if live := w.liveTokens(); len(live) != 1 || live[0].TokenPrefix != value.TokenPrefix {
		t.Fatalf("live tokens %v, want only the current one", prefixes(live))
	}
	w.assertNoSecretsLeaked()
}

// Defect 8: when PutSecretValue fails because the step's deadline passed,
// the read-back and the revocation of the new token still run, on a
// context detached from the expired one, within the safety margin.
func TestPutPastTheDeadlineStillRevokesTheNewToken(t *testing.T) {
	g := &gate{}
	w := newWorld(t, withGate(g), func(c *localstack.Config) {
		c.RotatorEnv = map[string]string{"ROTATION_SAFETY_MARGIN": "2s"}
	})
	// RotateSecret leaves an empty AWSPENDING version; createSecret is
	// then invoked here, with a deadline.
	g.setHold(func(string) bool { return true })
	version := w.rotate()
	g.setHold(nil)
	w.checkProblems()
	if err := w.stack.SecretsManager.Faults().Add(faults.Rule{Operation: "PutSecretValue", DelayMS: 30000, Status: 500}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second) // the step's own deadline: 3s from now
	defer cancel()
	payload, _ := json.Marshal(map[string]string{"Step": "createSecret", "SecretId": w.arn, "ClientRequestToken": version})
	_, err := w.stack.Rotator.Invoke(ctx, payload)
	if err == nil || !strings.Contains(err.Error(), "was revoked") {
		t.Fatalf("err = %v; want the Put's failure and the new token revoked", err)
	}
	if live, revoked := w.markedTokens(version); live != 0 || revoked != 1 {
		t.Fatalf("tokens with the version's marker: %d live, %d revoked; want 0 and 1", live, revoked)
	}
	if !w.isLive(w.user.TokenPrefix) {
		t.Fatal("the current token was revoked")
	}
	if !strings.Contains(w.logs.String(), "deadline passed during PutSecretValue") {
		t.Error("the step's log line does not say the deadline passed during the Put")
	}
	w.assertNoSecretsLeaked()
}
