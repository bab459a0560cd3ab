package localstack_test

// Issue 19 §4, break-glass rotation, end to end: the rotate action with
// revoke_previous "now" and revoke_prefixes, through both emulators with
// the real SDK and Aiven's client, in process and as the built binary.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiven/go-client-codegen/handler/user"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// breakGlassResult is the rotate action's result as a person reads it.
type breakGlassResult struct {
	Action     string `json:"action"`
	SecretID   string `json:"secret_id"`
	VersionID  string `json:"version_id"`
	Started    bool   `json:"started"`
	Message    string `json:"message"`
	BreakGlass *struct {
		Revoked  []string `json:"revoked"`
		Rotation string   `json:"rotation"`
		Previous *struct {
			Prefix    string   `json:"prefix"`
			Outcome   string   `json:"outcome"`
			Reason    string   `json:"reason"`
			LastUse   *lastUse `json:"last_use"`
			Straggler bool     `json:"straggler"`
		} `json:"previous_token"`
		Prefixes []struct {
			Prefix  string   `json:"prefix"`
			Outcome string   `json:"outcome"`
			Reason  string   `json:"reason"`
			LastUse *lastUse `json:"last_use"`
		} `json:"revoke_prefixes"`
		DeadlineReached bool `json:"deadline_reached"`
	} `json:"break_glass"`
}

// lastUse is Aiven's record of a revoked token's last use, in a result.
type lastUse struct {
	At        time.Time `json:"last_used_time"`
	IP        string    `json:"last_ip"`
	UserAgent string    `json:"last_user_agent"`
}

// named is the entry for prefix, or fails the test.
func (r breakGlassResult) named(t *testing.T, prefix string) (outcome, reason string) {
	t.Helper()
	for _, n := range r.BreakGlass.Prefixes {
		if n.Prefix == prefix {
			return n.Outcome, n.Reason
		}
	}
	t.Fatalf("no entry for %s in %+v", prefix, r.BreakGlass.Prefixes)
	return "", ""
}

// glassWorld is a world whose user's tokens other secrets this function
// owns hold too, and some nobody holds (leaked).
type glassWorld struct {
	*world
	// other was rotated: its previous token is in its grace; handMade was
	// onboarded without a rotation: its token was put by hand.
	other, handMade string
	leaked          []string // tokens of the user no secret holds
	stranger        string   // another user's token
	mu              sync.Mutex
	onboarded       []string // every other secret, as soon as it exists
}

func newGlassWorld(t *testing.T, opts ...worldOption) *glassWorld {
	t.Helper()
	g := &glassWorld{world: newWorld(t, append([]worldOption{withEnv("PREVIOUS_TOKEN_GRACE", "24h")}, opts...)...)}
	g.alsoLive = g.othersLive
	g.mustSucceed(g.rotate()) // the current token is a rotation's; the seed in its grace
	other := g.onboard("aiven/e2e-other", true)
	handMade := g.onboard("aiven/e2e-hand", false)
	leaked := []string{g.newToken("ci job"), g.newToken("laptop"), g.newToken("pasted whole")}
	stranger, err := g.stack.Aiven.CreateUser("stranger@example.com")
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.other, g.handMade, g.leaked, g.stranger = other, handMade, leaked, stranger.Token
	g.mu.Unlock()
	g.world.mu.Lock()
	g.tokens[stranger.TokenPrefix] = stranger.Token
	g.world.mu.Unlock()
	return g
}

// newToken is a new token of the user, made at Aiven with the current
// token, carrying no marker.
func (g *glassWorld) newToken(description string) string {
	g.t.Helper()
	_, v := g.current()
	out, err := g.aivenAs(v.Token.Reveal()).AccessTokenCreate(g.ctx, &user.AccessTokenCreateIn{Description: description})
	if err != nil {
		g.t.Fatal(err)
	}
	g.world.mu.Lock()
	g.tokens[out.TokenPrefix] = out.FullToken
	g.world.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaked = append(g.leaked, out.FullToken) // held by the test until it says otherwise
	return out.FullToken
}

// onboard makes a secret holding a new token of the user, rotated by this
// function: at once when rotate, else only configured (the configuration
// test checks its token).
func (g *glassWorld) onboard(name string, rotate bool) string {
	g.t.Helper()
	token := g.newToken(name)
	out, err := g.sm.CreateSecret(g.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(token)})
	if err != nil {
		g.t.Fatal(err)
	}
	g.mu.Lock()
	g.onboarded = append(g.onboarded, aws.ToString(out.ARN))
	g.mu.Unlock()
	rot, err := g.sm.RotateSecret(g.ctx, &secretsmanager.RotateSecretInput{
		SecretId: out.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN), RotateImmediately: aws.Bool(rotate),
		RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(30 days)")},
	})
	if err != nil {
		g.t.Fatal(err)
	}
	if err := g.stack.SecretsManager.WaitIdle(g.ctx); err != nil {
		g.t.Fatal(err)
	}
	if rotate {
		g.mustSucceed(aws.ToString(rot.VersionId))
	}
	return aws.ToString(out.ARN)
}

// currentOf is the AWSCURRENT value of another secret, from the
// emulator's state.
func (g *glassWorld) currentOf(arn string) *secret.Value {
	g.t.Helper()
	v, ok := g.stack.SecretsManager.VersionByStage(arn, "AWSCURRENT")
	if !ok {
		g.t.Fatalf("%s has no AWSCURRENT", arn)
	}
	parsed, err := secret.Parse(v.SecretString)
	if err != nil {
		g.t.Fatal(err)
	}
	return parsed
}

// othersLive are the tokens the other secrets hold (current, and previous
// in its grace) and those the test holds: I2 allows them.
func (g *glassWorld) othersLive() []string {
	g.mu.Lock()
	arns, held := slices.Clone(g.onboarded), slices.Clone(g.leaked)
	g.mu.Unlock()
	var out []string
	for _, tok := range held {
		out = append(out, tok[:secret.PrefixLength])
	}
	for _, arn := range arns {
		v, ok := g.stack.SecretsManager.VersionByStage(arn, "AWSCURRENT")
		if !ok {
			continue
		}
		if parsed, err := secret.Parse(v.SecretString); err == nil {
			out = append(out, parsed.Token.Reveal()[:secret.PrefixLength])
			if _, graced, _ := parsed.RevokeAfter(); graced {
				out = append(out, parsed.PreviousTokenPrefix)
			}
		}
	}
	return out
}

// breakGlass invokes the rotate action with payload within timeout, as
// Lambda would, and decodes its result.
func (w *world) breakGlass(payload string, timeout time.Duration) breakGlassResult {
	w.t.Helper()
	out, err := w.invokeWithin(payload, timeout)
	return w.decodeBreakGlass(payload, out, err)
}

// invokeWithin runs the rotator with payload as Lambda does, within
// timeout, and records what it answered for the leak scan. It may run on
// any goroutine.
func (w *world) invokeWithin(payload string, timeout time.Duration) ([]byte, error) {
	out, err := smemulator.Run(w.stack.Rotator, localstack.FunctionARN, []byte(payload), timeout)
	w.mu.Lock()
	w.invokeResults = append(w.invokeResults, string(out))
	if err != nil {
		w.invokeErrors = append(w.invokeErrors, err.Error())
	}
	w.mu.Unlock()
	return out, err
}

// decodeBreakGlass is the rotate action's answer out (or err), decoded.
func (w *world) decodeBreakGlass(payload string, out []byte, err error) breakGlassResult {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("%s: %v", payload, err)
	}
	var res breakGlassResult
	if err := json.Unmarshal(out, &res); err != nil || res.BreakGlass == nil {
		w.t.Fatalf("result %.600s: %v", out, err)
	}
	w.recordVersions()
	return res
}

func prefixOf(token string) string { return token[:secret.PrefixLength] }

// A break-glass rotation leaves the previous token and the named leaked
// tokens dead, and every other secret's token of the same user working:
// a prefix another secret holds (current, or in its grace) is refused and
// stays live, as is one of another user, one not shaped as a prefix, and
// a whole token pasted in its place, never echoed. The result lists
// exactly what was revoked; an error-level line and a metric say so.
func TestBreakGlassRevokesThePreviousAndNamedTokens(t *testing.T) {
	g := newGlassWorld(t)
	_, before := g.current()
	previous := before.Token.Reveal() // the token the break-glass replaces
	other, hand := g.currentOf(g.other), g.currentOf(g.handMade)
	otherGraced := other.PreviousTokenPrefix
	if _, graced, _ := other.RevokeAfter(); !graced || !g.isLive(otherGraced) {
		t.Fatal("setup: the other secret's previous token is not in its grace")
	}
	l1, l2, whole := g.leaked[0], g.leaked[1], g.leaked[2]
	named := []string{prefixOf(l1), prefixOf(l2), other.TokenPrefix, otherGraced, prefixOf(hand.Token.Reveal()),
		prefixOf(g.stranger), "AVNU_short", whole, prefixOf(previous), prefixOf(l1)}
	payload, _ := json.Marshal(map[string]any{"action": "rotate", "secret_id": "aiven/e2e", "revoke_previous": "now", "revoke_prefixes": named})
	// Who used them last is reported: a user agent is the caller's text.
	planted := "AVNU_" + strings.Repeat("Zq7x", 20)
	g.useAs(l1, "exfil/1 (+"+planted+")")
	g.stack.Aiven.Faults().ResetCalls()

	res := g.breakGlass(string(payload), time.Minute)
	bg := res.BreakGlass
	if res.SecretID != g.arn || !res.Started || bg.Rotation != "started" || !strings.HasPrefix(res.VersionID, "breakglass-") || bg.DeadlineReached {
		t.Fatalf("result %+v %+v", res, bg)
	}
	g.mustSucceed(res.VersionID)
	current, after := g.current()
	if current != res.VersionID {
		t.Fatalf("AWSCURRENT is %s, want the break-glass version %s", current, res.VersionID)
	}
	want := []string{prefixOf(l1), prefixOf(l2), prefixOf(previous)}
	if !slices.Equal(bg.Revoked, want) {
		t.Errorf("revoked %v, want exactly %v", bg.Revoked, want)
	}
	if bg.Previous == nil || bg.Previous.Outcome != "revoked" || bg.Previous.Prefix != prefixOf(previous) {
		t.Errorf("previous token: %+v", bg.Previous)
	}
	for _, dead := range []string{previous, l1, l2, g.user.Token} {
		if g.isLiveToken(dead) {
			t.Errorf("token %s is still live", prefixOf(dead))
		}
	}
	for name, alive := range map[string]string{"the new current token": after.Token.Reveal(), "the other secret's current token": other.Token.Reveal(),
		"the hand-made secret's token": hand.Token.Reveal(), "another user's token": g.stranger, "the token pasted whole": whole} {
		if !g.isLiveToken(alive) {
			t.Errorf("%s was revoked", name)
		}
	}
	if !g.isLive(otherGraced) {
		t.Error("the other secret's previous token, in its grace, was revoked")
	}

	if len(bg.Prefixes) != len(named)-1 {
		t.Errorf("%d entries for %d distinct prefixes", len(bg.Prefixes), len(named)-1)
	}
	for prefix, wantReason := range map[string]string{
		other.TokenPrefix:               "current token of secret " + g.other,
		otherGraced:                     "previous token of secret " + g.other,
		prefixOf(hand.Token.Reveal()):   "current token of secret " + g.handMade,
		prefixOf(g.stranger):            "not among the live tokens",
		"[not a prefix: 10 characters]": "10 characters long",
		fmt.Sprintf("[not a prefix: %d characters]", len(whole)): "characters long",
	} {
		if outcome, reason := res.named(t, prefix); outcome != "refused" || !strings.Contains(reason, wantReason) {
			t.Errorf("%s: %s (%s), want refused: %s", prefix, outcome, reason, wantReason)
		}
	}
	if outcome, reason := res.named(t, prefixOf(previous)); outcome != "revoked" || !strings.Contains(reason, "revoke_previous") {
		t.Errorf("the previous token named too: %s (%s), want revoked by revoke_previous", outcome, reason)
	}
	if u := bg.Prefixes[0].LastUse; u == nil || !strings.HasPrefix(u.UserAgent, "exfil/1") || strings.Contains(u.UserAgent, planted) || u.IP == "" {
		t.Errorf("the leaked token's last use: %+v, want its user agent, scrubbed, and address", u)
	}
	// The previous token's last use is the function's own: the break-glass
	// rotation's createSecret, before the new token was made.
	if u := bg.Previous.LastUse; u == nil || bg.Previous.Straggler {
		t.Errorf("the previous token's last use: %+v (straggler %v), want the function's own, no straggler", u, bg.Previous.Straggler)
	}
	if calls := g.stack.Aiven.Faults().Calls(); calls["AccessTokenRevoke"] < 3 {
		t.Errorf("Aiven calls %v", calls)
	}

	logs := g.logs.String()
	if !strings.Contains(logs, `"level":"ERROR","msg":"break-glass revocation"`) {
		t.Error("no error-level break-glass line")
	}
	if !strings.Contains(logs, `"BreakGlassRevocations":3`) {
		t.Error("no BreakGlassRevocations EMF line counting 3")
	}
	g.checkProblems()
	g.assertNoSecretsLeaked()

	// Repeated, it finishes nothing more: no new rotation, nothing revoked.
	versions := len(g.stack.SecretsManager.Versions(g.arn))
	again := g.breakGlass(string(payload), time.Minute)
	if again.BreakGlass.Rotation != "finishing" || again.Started || len(again.BreakGlass.Revoked) != 0 || again.BreakGlass.Previous.Outcome != "none" {
		t.Errorf("repeated: %+v %+v", again, again.BreakGlass.Previous)
	}
	if n := len(g.stack.SecretsManager.Versions(g.arn)); n != versions {
		t.Errorf("the repeat made a version: %d, want %d", n, versions)
	}
	g.checkProblems()
	g.assertNoSecretsLeaked()
}

// holdFinish holds every finishSecret, once hold is called, until
// release: a rotation slower than the break-glass request's deadline.
type holdFinish struct {
	inner   smemulator.Invoker
	mu      sync.Mutex
	release chan struct{} // nil: nothing held
}

func (h *holdFinish) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.release = make(chan struct{})
}

func (h *holdFinish) letGo() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.release)
	h.release = nil
}

func (h *holdFinish) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	h.mu.Lock()
	release := h.release
	h.mu.Unlock()
	if release != nil && strings.Contains(string(payload), `"Step":"finishSecret"`) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return h.inner.Invoke(ctx, payload)
}

// When the deadline comes before the new version is current, the result
// says so and the previous token lives on; the rotation completes in the
// background, and the same request, repeated, revokes the previous token
// without rotating again.
func TestBreakGlassRepeatedAfterItsDeadlineFinishesTheJob(t *testing.T) {
	h := &holdFinish{}
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h", "ROTATION_SAFETY_MARGIN", "1s"), func(c *localstack.Config) {
		c.SecretsManagerOptions = append(c.SecretsManagerOptions, smemulator.WithBackgroundRotation(true))
		c.WrapRotator = func(i smemulator.Invoker) smemulator.Invoker { h.inner = i; return h }
	})
	w.rotate()
	if err := w.stack.SecretsManager.WaitIdle(w.ctx); err != nil {
		t.Fatal(err)
	}
	_, before := w.current()
	previous := before.Token.Reveal()
	h.hold()

	const payload = `{"action":"rotate","secret_id":"aiven/e2e","revoke_previous":"now"}`
	first := w.breakGlass(payload, 5*time.Second)
	bg := first.BreakGlass
	if !bg.DeadlineReached || bg.Rotation != "started" || len(bg.Revoked) != 0 || bg.Previous.Outcome != "not_current" ||
		!strings.Contains(first.Message, "invoke again") {
		t.Fatalf("first: %+v %+v", first, bg.Previous)
	}
	if !w.isLiveToken(previous) {
		t.Fatal("the previous token was revoked before the new one was current")
	}

	h.letGo()
	if err := w.stack.SecretsManager.WaitIdle(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(first.VersionID)
	if !w.isLiveToken(previous) {
		t.Fatal("the previous token did not get its grace after the rotation completed alone")
	}
	versions := len(w.stack.SecretsManager.Versions(w.arn))

	second := w.breakGlass(payload, time.Minute)
	if second.BreakGlass.Rotation != "finishing" || second.Started || second.VersionID != first.VersionID ||
		!slices.Equal(second.BreakGlass.Revoked, []string{prefixOf(previous)}) {
		t.Fatalf("second: %+v %+v", second, second.BreakGlass)
	}
	if w.isLiveToken(previous) {
		t.Fatal("the repeat left the previous token live")
	}
	if _, v := w.current(); !w.isLiveToken(v.Token.Reveal()) {
		t.Fatal("the current token does not authenticate")
	}
	if n := len(w.stack.SecretsManager.Versions(w.arn)); n != versions {
		t.Errorf("the repeat started a rotation: %d versions, want %d", n, versions)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// Bad break-glass fields fail with an error naming the field, and call
// nothing at all.
func TestBreakGlassBadFieldsTouchNothing(t *testing.T) {
	w := newWorld(t)
	w.mustSucceed(w.rotate())
	_, v := w.current()
	token := v.Token.Reveal()
	w.stack.SecretsManager.Faults().ResetCalls()
	w.stack.Aiven.Faults().ResetCalls()
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("AVNU_%07d", i)
	}
	tooMany, _ := json.Marshal(many)
	for _, tc := range []struct{ fields, want string }{
		{`"revoke_previous":"later"`, `revoke_previous must be "now"`},
		{`"revoke_previous":true`, `revoke_previous must be "now"`},
		{`"revoke_previous":null`, `revoke_previous must be "now"`},
		{`"revoke_previous":"NOW"`, `revoke_previous must be "now"`},
		{`"revoke_prefixes":"AVNU_abcdefg"`, "revoke_prefixes must be a list of strings"},
		{`"revoke_prefixes":null`, "revoke_prefixes must be a list of strings"},
		{`"revoke_prefixes":{"a":"AVNU_abcdefg"}`, "revoke_prefixes must be a list of strings"},
		{`"revoke_prefixes":[]`, "revoke_prefixes is empty"},
		{`"revoke_prefixes":["AVNU_abcdefg",7]`, "revoke_prefixes[1] must be a string"},
		{`"revoke_prefixes":[["AVNU_abcdefg"]]`, "revoke_prefixes[0] must be a string"},
		{`"revoke_prefixes":` + string(tooMany), "names 21 tokens, more than the 20"},
		{fmt.Sprintf(`"revoke_prefixes":%q`, token), "revoke_prefixes must be a list of strings"},
		{fmt.Sprintf(`"revoke_previous":%q`, token), `revoke_previous must be "now"`},
		{`"revoke_previous":"now","revoke_previous":"now"`, `"revoke_previous" appears more than once`},
		{`"revoke_prefix":["AVNU_abcdefg"]`, "unknown field(s) [revoke_prefix]"},
	} {
		event := `{"action":"rotate","secret_id":"aiven/e2e",` + tc.fields + `}`
		_, err := w.invokeAction(event)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was done") {
			t.Errorf("%.80s: %v, want an error containing %q", tc.fields, err, tc.want)
		}
	}
	if sm, av := w.stack.SecretsManager.Faults().Calls(), w.stack.Aiven.Faults().Calls(); len(sm)+len(av) != 0 {
		t.Errorf("bad events made calls: %v %v", sm, av)
	}
	if !w.isLiveToken(token) {
		t.Error("the current token was revoked")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// The built binary, in two execution environments as Lambda scales out
// (the request waits while the rotation's steps run in the other): a
// break-glass leaves the previous and the named leaked token dead, another
// secret's current token refused and live, and says so loudly.
func TestBuiltBinaryBreakGlass(t *testing.T) {
	bin := buildRotator(t)
	g := newGlassWorld(t, func(c *localstack.Config) { c.Bootstrap, c.Environments = bin, 2 })
	_, before := g.current()
	previous := before.Token.Reveal()
	other := g.currentOf(g.other)
	payload := fmt.Sprintf(`{"action":"rotate","secret_id":%q,"revoke_previous":"now","revoke_prefixes":[%q,%q]}`,
		g.arn, prefixOf(g.leaked[0]), other.TokenPrefix)

	res := g.breakGlass(payload, time.Minute)
	g.mustSucceed(res.VersionID)
	if want := []string{prefixOf(g.leaked[0]), prefixOf(previous)}; !slices.Equal(res.BreakGlass.Revoked, want) {
		t.Fatalf("revoked %v, want %v (%+v)", res.BreakGlass.Revoked, want, res)
	}
	if g.isLiveToken(previous) || g.isLiveToken(g.leaked[0]) {
		t.Error("the previous or the leaked token is still live")
	}
	if outcome, _ := res.named(t, other.TokenPrefix); outcome != "refused" || !g.isLiveToken(other.Token.Reveal()) {
		t.Errorf("the other secret's current token: %s, live %v", outcome, g.isLiveToken(other.Token.Reveal()))
	}
	if _, v := g.current(); !g.isLiveToken(v.Token.Reveal()) {
		t.Error("the new current token does not authenticate")
	}
	// The binary's lines cross a pipe after it answers.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		logs := g.logs.String()
		if strings.Contains(logs, `"break-glass revocation"`) && strings.Contains(logs, `"BreakGlassRevocations":2`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no break-glass line and metric from the binary in:\n%s", logs)
		}
	}
	for _, line := range strings.Split(g.logs.String(), "\n") {
		if strings.Contains(line, `"break-glass revocation"`) && !strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("the break-glass line is not error-level: %s", line)
		}
	}
	g.checkProblems()
	g.assertNoSecretsLeaked()
}

// A break-glass request that finds a rotation in progress follows it: it
// starts none, waits (polling with backoff) for that version to become
// current, and revokes the token it replaced.
func TestBreakGlassFollowsARotationInProgress(t *testing.T) {
	h := &holdFinish{}
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h", "ROTATION_SAFETY_MARGIN", "1s"), func(c *localstack.Config) {
		c.SecretsManagerOptions = append(c.SecretsManagerOptions, smemulator.WithBackgroundRotation(true))
		c.WrapRotator = func(i smemulator.Invoker) smemulator.Invoker { h.inner = i; return h }
	})
	w.rotate()
	if err := w.stack.SecretsManager.WaitIdle(w.ctx); err != nil {
		t.Fatal(err)
	}
	_, before := w.current()
	previous := before.Token.Reveal()
	h.hold()
	inProgress := w.rotate() // held before finishSecret

	const payload = `{"action":"rotate","secret_id":"aiven/e2e","revoke_previous":"now"}`
	type answer struct {
		out []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := w.invokeWithin(payload, 20*time.Second)
		done <- answer{out, err}
	}()
	time.Sleep(700 * time.Millisecond) // a few polls
	if !w.isLiveToken(previous) {
		t.Fatal("the previous token was revoked before the new one was current")
	}
	h.letGo()
	a := <-done
	res := w.decodeBreakGlass(payload, a.out, a.err)
	if res.Started || res.VersionID != inProgress || res.BreakGlass.Rotation != "adopted" || res.BreakGlass.DeadlineReached ||
		!slices.Equal(res.BreakGlass.Revoked, []string{prefixOf(previous)}) {
		t.Fatalf("result %+v %+v", res, res.BreakGlass)
	}
	if err := w.stack.SecretsManager.WaitIdle(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(inProgress)
	if w.isLiveToken(previous) {
		t.Fatal("the previous token is still live")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// A break-glass request obeys the replica rule: while a replica region
// does not serve the new version, the previous token stays and the result
// says why; once it does, the same request, repeated, revokes it.
func TestBreakGlassWaitsForAReplicaBehind(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "24h"))
	w.replicate()
	w.mustSucceed(w.rotate())
	_, before := w.current()
	previous := before.Token.Reveal()
	if _, err := w.stack.SecretsManager.HoldReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}

	const payload = `{"action":"rotate","secret_id":"aiven/e2e","revoke_previous":"now"}`
	held := w.breakGlass(payload, time.Minute)
	w.mustSucceed(held.VersionID)
	p := held.BreakGlass.Previous
	if len(held.BreakGlass.Revoked) != 0 || p.Outcome != "waiting" || p.Prefix != prefixOf(previous) || !strings.Contains(p.Reason, replicaRegion) || !w.isLiveToken(previous) {
		t.Fatalf("with the replica behind: %+v %+v", held.BreakGlass, p)
	}
	if !strings.Contains(w.logs.String(), `"previous_token_outcome":"waiting"`) {
		t.Error("the break-glass line does not say the revocation waits")
	}

	if _, err := w.stack.SecretsManager.ReleaseReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	done := w.breakGlass(payload, time.Minute)
	if done.BreakGlass.Rotation != "finishing" || !slices.Equal(done.BreakGlass.Revoked, []string{prefixOf(previous)}) || w.isLiveToken(previous) {
		t.Fatalf("once the replica caught up: %+v %+v", done.BreakGlass, done.BreakGlass.Previous)
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}
