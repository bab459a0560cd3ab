package localstack_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// onceBefore runs hook, once, before the first Secrets Manager call to
// operation reaches the emulator (the call waits for it).
func onceBefore(operation string, hook func()) worldOption {
	return func(c *localstack.Config) {
		prev := c.SecretsManagerMiddleware
		var once sync.Once
		c.SecretsManagerMiddleware = func(next http.Handler) http.Handler {
			h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+operation) {
					once.Do(hook)
				}
				next.ServeHTTP(w, r)
			}))
			if prev != nil {
				h = prev(h)
			}
			return h
		}
	}
}

// A sweep interleaved with a rotation never revokes the token the
// rotation's createSecret has just made, whichever protection applies:
// the version's AWSPENDING label (the token made to look two hours old, so
// that only the label saves it), or the token's youth (the sweep listed
// the secrets before the rotation began, so it knows of no pending
// version). The rotation then completes with that token.
func TestSweepNeverRevokesAConcurrentRotationsToken(t *testing.T) {
	type sweepAt struct {
		name string
		// operation: the sweep runs just before this call of the
		// rotation (or, "BatchGetSecretValue", the rotation runs just
		// before this call of the sweep).
		operation string
		age       time.Duration // how far Aiven's clock moves first
	}
	for _, tc := range []sweepAt{
		{"inside createSecret, before PutSecretValue, token looks old", "PutSecretValue", 2 * time.Hour},
		{"between createSecret and setSecret, token looks old", "", 2 * time.Hour},
		{"the sweep listed before the rotation began, token young", "BatchGetSecretValue", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				w       *world
				g       = &gate{}
				version string
				swept   []sweepResult
			)
			sweep := func() {
				w.stack.Aiven.Advance(tc.age)
				swept = append(swept, w.sweep(`{"action":"sweep"}`))
			}
			// startHeld starts the rotation and lets it run createSecret
			// only: version is left AWSPENDING with its token stored.
			startHeld := func() {
				g.setHold(func(step string) bool { return step == "setSecret" })
				out, _ := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(w.arn)})
				version = aws.ToString(out.VersionId)
			}
			opts := []worldOption{withGate(g), func(c *localstack.Config) {
				c.SecretsManagerOptions = append(c.SecretsManagerOptions, smemulator.WithMaxAttempts(1))
			}}
			switch tc.operation {
			case "PutSecretValue":
				opts = append(opts, onceBefore("PutSecretValue", sweep))
			case "BatchGetSecretValue":
				opts = append(opts, onceBefore("BatchGetSecretValue", startHeld))
			}
			w = newWorld(t, opts...)
			w.mustSucceed(w.rotate()) // the first rotation: a JSON value, rotation configured

			switch tc.operation {
			case "PutSecretValue":
				// The sweep runs inside this rotation's createSecret.
				version = w.rotate()
				w.mustSucceed(version)
			case "":
				startHeld()
				sweep()
			case "BatchGetSecretValue":
				// The sweep lists, then the rotation's createSecret runs.
				swept = append(swept, w.sweep(`{"action":"sweep"}`))
			}
			if len(swept) != 1 {
				t.Fatalf("%d sweeps ran, want one", len(swept))
			}
			made := ""
			for _, v := range w.stack.SecretsManager.Versions(w.arn) {
				if v.VersionID == version && v.SecretString != "" {
					made = tokenPrefixOf(t, v.SecretString)
				}
			}
			if made == "" {
				t.Fatalf("version %s holds no token", version)
			}
			for _, r := range swept[0].Results {
				if slices.Contains(r.Revoked, made) || slices.Contains(r.WouldRevoke, made) {
					t.Fatalf("the sweep revoked %s, the token of the rotation in progress: %+v", made, r)
				}
			}
			if !w.isLive(made) {
				t.Fatalf("the rotation's token %s is no longer live", made)
			}

			if tc.operation != "PutSecretValue" {
				// Finish the held rotation by hand, as Secrets Manager's
				// retry would.
				g.setHold(nil)
				for _, step := range []string{"setSecret", "testSecret", "finishSecret"} {
					if err := w.invoke(step, version, ""); err != nil {
						t.Fatalf("%s: %v", step, err)
					}
				}
			}
			if current, value := w.current(); current != version || value.TokenPrefix != made || !w.isLiveToken(value.Token.Reveal()) {
				t.Fatalf("AWSCURRENT %s holding %s, want %s holding %s, live", current, value.TokenPrefix, version, made)
			}
			w.checkProblems()
			w.assertNoSecretsLeaked()
		})
	}
}

func tokenPrefixOf(t *testing.T, secretString string) string {
	t.Helper()
	v, err := secret.Parse(secretString)
	if err != nil {
		t.Fatal(err)
	}
	return v.TokenPrefix
}

// TestFaultInEverySweepCall fails each of the sweep's own calls in turn,
// once (500, or a dropped connection), persistently (four in a row), or,
// at Aiven, with 429s, in a sweep that has every kind of work: a stale
// orphan to revoke and a token near expiry to rotate. A failure is the
// secret's error (or, for the listing, the sweep's), never a lost or
// leaked token; the next sweep finishes the work, and the invariants hold
// after every step of the rotation it starts.
func TestFaultInEverySweepCall(t *testing.T) {
	type target struct{ emulator, op string }
	var targets []target
	for _, op := range []string{"ListSecrets", "BatchGetSecretValue", "RotateSecret"} {
		targets = append(targets, target{"secretsmanager", op})
	}
	for _, op := range []string{"AccessTokenList", "AccessTokenRevoke"} {
		targets = append(targets, target{"aiven", op})
	}
	for _, tg := range targets {
		kinds := []string{"status", "drop", "persistent"}
		if tg.emulator == "aiven" {
			kinds = append(kinds, "rate-limited")
		}
		for _, kind := range kinds {
			t.Run(tg.op+"/"+kind, func(t *testing.T) {
				t.Parallel() // independent stacks; the time goes in backoff sleeps
				w := newWorld(t)
				w.mustSucceed(w.rotate())
				orphan := w.plantOrphan("00000000-0000-4000-8000-0000000000bb")
				w.stack.Aiven.Advance(25 * 24 * time.Hour) // the orphan is stale, the token near expiry
				before, _ := w.current()

				// The sweep's own call of each operation is the first after
				// this point: it lists and revokes before the rotation it
				// starts makes calls of its own.
				rule := faults.Rule{Operation: tg.op, Times: 1, Status: 500}
				switch kind {
				case "drop":
					rule = faults.Rule{Operation: tg.op, Times: 1, Drop: true}
				case "persistent":
					rule.Times = 4
				case "rate-limited":
					rule = faults.Rule{Operation: tg.op, Times: 4, Status: 429, RetryAfterSeconds: 1}
				}
				plan := w.stack.SecretsManager.Faults()
				if tg.emulator == "aiven" {
					plan = w.stack.Aiven.Faults()
				}
				plan.ResetCalls()
				if err := plan.Add(rule); err != nil {
					t.Fatal(err)
				}
				out, err := w.invokeAction(`{"action":"sweep"}`)
				if pending := plan.Pending(); len(pending) != 0 {
					t.Fatalf("the fault was never met: %+v", pending)
				}
				if err != nil && tg.op != "ListSecrets" {
					t.Fatalf("the sweep failed as a whole on a %s fault: %v", tg.op, err)
				}
				if err == nil && !strings.Contains(string(out), `"action":"sweep"`) {
					t.Fatalf("result %.300s", out)
				}
				w.recordVersions()
				if rotation := pendingOrCurrentRotation(w, before); rotation != "" {
					w.mustSucceed(rotation)
				}

				// A clean sweep finishes what the faulty one left.
				second := w.sweep(`{"action":"sweep"}`)
				if rotation := second.Results[0].RotationStarted; rotation != "" {
					w.mustSucceed(rotation)
				}
				last := w.sweep(`{"action":"sweep"}`)
				r := last.Results[0]
				if r.Outcome != "healthy" || last.TokensRevoked != 0 || last.RotationsStarted != 0 || r.ExpiresInS == nil || *r.ExpiresInS < 29*86400 {
					t.Fatalf("after two sweeps, want nothing left to do: %+v", last)
				}
				if w.isLive(orphan) {
					t.Error("the orphan outlived two sweeps")
				}
				if after, value := w.current(); after == before || !w.isLiveToken(value.Token.Reveal()) {
					t.Errorf("AWSCURRENT %s (was %s): want a new, live token", after, before)
				}
				if live := w.liveTokens(); len(live) != 1 {
					t.Errorf("live tokens %v, want the current one (grace 0s)", prefixes(live))
				}
				w.checkProblems()
				w.assertNoSecretsLeaked()
			})
		}
	}
}

// pendingOrCurrentRotation is the version a sweep's RotateSecret started,
// if any: AWSCURRENT when it moved from before, or a pending version.
func pendingOrCurrentRotation(w *world, before string) string {
	if v, ok := w.stack.SecretsManager.VersionByStage(w.arn, "AWSPENDING"); ok && v.VersionID != before {
		return v.VersionID
	}
	if current, _ := w.current(); current != before {
		return current
	}
	return ""
}
