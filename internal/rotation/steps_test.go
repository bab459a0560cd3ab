package rotation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

func wantErr(t *testing.T, err error, fragment string) {
	t.Helper()
	if fragment == "" {
		if err != nil {
			t.Fatalf("err = %v, want none", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), fragment) {
		t.Fatalf("err = %v, want it to say %q", err, fragment)
	}
}

func TestFirstRotationFromPlainString(t *testing.T) {
	w := newWorld(t, worldConfig{})
	if err := w.rotate(v1); err != nil {
		t.Fatal(err)
	}
	raw := w.value(stageCurrent)
	if _, err := secret.Parse(raw); err != nil {
		t.Fatal(err)
	}
	tok, prefix := field(raw, "token"), field(raw, "token_prefix")
	if tok == "" || tok == w.user.Token || prefix == "" || !strings.HasPrefix(tok, prefix) ||
		field(raw, "previous_token_prefix") != w.user.TokenPrefix || field(raw, "user") != w.user.Email ||
		field(raw, "created_at") == "" || field(raw, "expiry_time") == "" || !strings.HasPrefix(raw, "{") {
		t.Errorf("AWSCURRENT is not the JSON form of a new token: fields token_prefix=%q previous_token_prefix=%q user=%q", prefix, field(raw, "previous_token_prefix"), field(raw, "user"))
	}
	live := w.live()
	if _, ok := live[w.user.TokenPrefix]; ok {
		t.Error("the bootstrap token is still live")
	}
	nt, ok := live[prefix]
	if !ok || !w.stack.Aiven.Authenticates(tok) {
		t.Fatal("the AWSCURRENT token is not live")
	}
	m, ok := secret.ParseMarker(nt.Description)
	if !ok || m.Version != v1 || m.Secret != secret.SecretHash(w.arn) || !strings.HasPrefix(nt.Description, "console token [") {
		t.Errorf("new token description %q", nt.Description)
	}
	// The console token's 30-day maximum age carried over.
	if nt.ExpiryTime == nil || nt.ExpiryTime.Sub(nt.CreateTime) != 30*24*time.Hour {
		t.Errorf("max age not carried over: created %v, expires %v", nt.CreateTime, nt.ExpiryTime)
	}
	if got := w.rotatorTokens(); len(got) != 1 {
		t.Errorf("rotator tokens live: %v", got)
	}
	if w.value(stagePrevious) != w.user.Token {
		t.Error("AWSPREVIOUS is not the bootstrap value")
	}
	// Budgets of the happy path.
	if sm, av := w.smCalls(), w.aivenCalls(); total(sm) > 11 || total(av) > 6 {
		t.Errorf("calls: Secrets Manager %v (%d), Aiven %v (%d)", sm, total(sm), av, total(av))
	}
	if sent := w.putRotationTokens.all(); len(sent) != 1 || sent[0] != rotationToken {
		t.Errorf("%d RotationTokens reached PutSecretValue, want the event's one", len(sent))
	}
	lines := w.logLines()
	if len(lines) != 4 {
		t.Fatalf("%d log lines, want one per step", len(lines))
	}
	for _, l := range lines {
		for _, k := range []string{"step", "secret", "version", "token_prefix", "previous_token_prefix", "duration_ms", "outcome"} {
			if _, ok := l[k]; !ok {
				t.Errorf("log line %v lacks %s", l, k)
			}
		}
		// setSecret reads nothing (it makes no call): its line names
		// the event's secret and no token.
		if wantPrefix := prefix; l["secret"] != w.arn || l["token_prefix"] != wantPrefix && !(l["step"] == rotation.StepSet && l["token_prefix"] == "") {
			t.Errorf("log line %v", l)
		}
	}
	if n := strings.Count(w.metrics.String(), `"_aws"`); n != 4 {
		t.Errorf("%d metric lines, want 4", n)
	}
}

func TestSecondRotationKeepsUnknownFieldsAndSettings(t *testing.T) {
	w := newWorld(t, worldConfig{secret: `{"token":"$TOKEN","description":"deploy bot","scopes":["projects:read"],"team": {"name" : "ops", "n": 1.50}}`})
	if err := w.rotate(v1); err != nil {
		t.Fatalf("rotation 1: %v", err)
	}
	w.startRotation(v2)
	if err := w.rotate(v2); err != nil {
		t.Fatalf("rotation 2: %v", err)
	}
	raw := w.value(stageCurrent)
	if !strings.Contains(raw, `"team":{"name" : "ops", "n": 1.50}`) {
		t.Errorf("unknown field not preserved byte for byte: %s", raw)
	}
	prefix := field(raw, "token_prefix")
	nt, ok := w.live()[prefix]
	if !ok || !strings.HasPrefix(nt.Description, "deploy bot [aiven-token-rotator") || strings.Count(nt.Description, "[aiven-token-rotator") != 1 {
		t.Fatalf("description %q", nt.Description)
	}
	// Aiven's own list, read with the new token, shows the scopes it got.
	var list struct {
		Tokens []struct {
			TokenPrefix string   `json:"token_prefix"`
			Scopes      []string `json:"scopes"`
		} `json:"tokens"`
	}
	w.aivenAPI("GET", "/v1/access_token", field(raw, "token"), nil, &list)
	found := false
	for _, tok := range list.Tokens {
		if tok.TokenPrefix == prefix {
			found = true
			if len(tok.Scopes) != 1 || tok.Scopes[0] != "projects:read" {
				t.Errorf("scopes %v", tok.Scopes)
			}
		}
	}
	if !found {
		t.Error("the new token is not in Aiven's list")
	}
	if got := w.rotatorTokens(); len(got) != 1 || got[0] != prefix {
		t.Errorf("rotator tokens live after two rotations: %v", got)
	}
}

func TestEveryStepRunTwice(t *testing.T) {
	w := newWorld(t, worldConfig{})
	for _, s := range []string{rotation.StepCreate, rotation.StepCreate, rotation.StepSet, rotation.StepSet, rotation.StepTest, rotation.StepTest, rotation.StepFinish, rotation.StepFinish} {
		if err := w.step(s, v1); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	// A whole rotation replayed after it completed changes nothing.
	before := w.value(stageCurrent)
	if err := w.rotate(v1); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if w.value(stageCurrent) != before {
		t.Error("a replay changed AWSCURRENT")
	}
	if n := w.aivenCalls()["AccessTokenCreate"]; n != 1 {
		t.Errorf("%d tokens created, want 1", n)
	}
	if len(w.rotatorTokens()) != 1 || len(w.live()) != 1 {
		t.Errorf("live tokens: %v", w.live())
	}
}

func TestFinishCompletesRevocationOnRetry(t *testing.T) {
	w := newWorld(t, worldConfig{})
	// Every attempt of the first revocation fails, as when Aiven is down
	// for longer than the client retries.
	w.aivenFault(faults.Rule{Operation: "AccessTokenRevoke", Status: 503, Times: 4})
	wantErr(t, w.rotate(v1), "revoke the previous token")
	if _, live := w.live()[w.user.TokenPrefix]; !live {
		t.Fatal("test setup: the seed should have survived the failed revocation")
	}
	if w.value(stageCurrent) == w.user.Token {
		t.Fatal("test setup: AWSCURRENT should have moved before the revocation")
	}
	// AWSCURRENT already moved: the guard says done, the duty remains.
	if err := w.step(rotation.StepFinish, v1); err != nil {
		t.Fatal(err)
	}
	if _, live := w.live()[w.user.TokenPrefix]; live {
		t.Error("the retry did not revoke the previous token")
	}
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name    string
		cfg     worldConfig
		setup   func(w *world) (version string)
		wantErr string
	}{
		{name: "rotation not enabled", cfg: worldConfig{noRotation: true}, wantErr: "is not enabled for rotation",
			setup: func(w *world) string {
				v, _ := w.stack.SecretsManager.VersionByStage(w.arn, stageCurrent)
				return v.VersionID
			}},
		{name: "not a version of the secret", setup: func(*world) string { return v3 }, wantErr: "is not a version of secret"},
		{name: "already AWSCURRENT: done", setup: func(w *world) string {
			v, _ := w.stack.SecretsManager.VersionByStage(w.arn, stageCurrent)
			return v.VersionID
		}},
		{name: "not AWSPENDING", wantErr: "is not staged as AWSPENDING", setup: func(w *world) string {
			first, _ := w.stack.SecretsManager.VersionByStage(w.arn, stageCurrent)
			if err := w.rotate(v1); err != nil {
				w.t.Fatal(err)
			}
			return first.VersionID // AWSPREVIOUS only, now
		}},
	}
	for _, tt := range tests {
		for _, s := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest} {
			t.Run(tt.name+"/"+s, func(t *testing.T) {
				w := newWorld(t, tt.cfg)
				version := tt.setup(w)
				w.resetCalls()
				err := w.step(s, version)
				if s == rotation.StepSet {
					// setSecret makes no call at all, guard included: it
					// touches nothing, whatever the secret's state
					// (docs/PERFORMANCE.md, "Calls per rotation").
					if sm, av := w.smCalls(), w.aivenCalls(); err != nil || total(sm) != 0 || total(av) != 0 {
						t.Errorf("setSecret: %v, calls %v %v; want none", err, sm, av)
					}
					return
				}
				wantErr(t, err, tt.wantErr)
				if sm, av := w.smCalls(), w.aivenCalls(); sm["DescribeSecret"] != 1 || total(sm) != 1 || total(av) != 0 {
					t.Errorf("the guard let the step touch things: %v %v", sm, av)
				}
			})
		}
	}
}

func TestEventsNotUnderstoodTouchNothing(t *testing.T) {
	w := newWorld(t, worldConfig{})
	tests := []struct {
		name  string
		event string
		want  string
	}{
		{name: "unknown step", event: `{"Step":"rollback","SecretId":"` + w.arn + `","ClientRequestToken":"` + v1 + `"}`, want: `unknown rotation step "rollback"`},
		{name: "not JSON", event: `hello`, want: "not JSON"},
		{name: "array", event: `[1]`, want: "a JSON array, not an object"},
		{name: "other object", event: `{"foo":"secret-looking-value","bar":1}`, want: "fields [bar, foo]"},
		{name: "EventBridge", event: `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, want: "an EventBridge event"},
		{name: "Step not a string", event: `{"Step":1,"SecretId":"x","ClientRequestToken":"v"}`, want: "field Step must be a string"},
		{name: "no SecretId", event: `{"Step":"createSecret","ClientRequestToken":"v"}`, want: "SecretId is missing"},
		{name: "no ClientRequestToken", event: `{"Step":"createSecret","SecretId":"x"}`, want: "ClientRequestToken is missing"},
		{name: "empty", event: ` `, want: "empty payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.resetCalls()
			err := w.r.Handle(context.Background(), json.RawMessage(tt.event))
			wantErr(t, err, tt.want)
			if strings.Contains(err.Error(), "secret-looking-value") {
				t.Error("the error quotes a value of the event")
			}
			if total(w.smCalls()) != 0 || total(w.aivenCalls()) != 0 {
				t.Error("touched something")
			}
		})
	}
}

// orphanAge is create.go's: how old a token with this version's marker
// must be before createSecret revokes it (a younger one may be a
// concurrent invocation's, about to be stored).
const orphanAge = 16 * time.Minute

// TestOrphanReconciliation: a token carrying this version's marker is
// revoked by createSecret only once it is older than orphanAge, and by
// finishSecret whatever its age; tokens without this version's marker are
// never touched by createSecret. Ambiguous creates are real: the Aiven
// emulator makes the token, then the connection drops unanswered.
func TestOrphanReconciliation(t *testing.T) {
	otherARN := "arn:aws:secretsmanager:us-east-1:000000000000:secret:other-XyZ123"
	tests := []struct {
		name string
		// age starts the Aiven clock this far back; before runs then, and
		// the clock catches up to now before createSecret.
		age         time.Duration
		before      func(w *world) (keep []string)
		ambiguous   int // creates that land but are answered by a dropped connection
		wantErr     string
		wantOrphans float64 // revoked by createSecret
		wantCreates int
		wantMarked  int // live tokens with this version's marker after createSecret
	}{
		// Never a blind retry: after an ambiguous create the invocation
		// lists the tokens and revokes the ones carrying its own attempt
		// id, then creates again.
		{name: "ambiguous create, token landed: revoked by its attempt id, then created again", ambiguous: 1, wantCreates: 2, wantMarked: 1, wantOrphans: 1},
		{name: "two ambiguous creates", ambiguous: 2, wantCreates: 3, wantMarked: 1, wantOrphans: 2},
		{name: "ambiguous forever is bounded", ambiguous: 99, wantErr: "gave up after 3 ambiguous attempts", wantCreates: 3, wantMarked: 0, wantOrphans: 3},
		{
			// A token of this secret whose version is neither pending nor
			// current (v3: a rotation abandoned or cleared) can never be
			// finished: createSecret revokes it too, so that the secret
			// never holds three live tokens (issue 17, third review).
			name: "old orphan of an earlier attempt and a dead rotation's token revoked, others untouched",
			age:  orphanAge + time.Minute,
			before: func(w *world) []string {
				w.createToken(markedFor(w.t, w.arn, v1, ""))
				w.createToken(markedFor(w.t, w.arn, v3, ""))
				var keep []string
				for _, d := range []string{markedFor(w.t, otherARN, v1, ""), "hand made"} {
					_, p := w.createToken(d)
					keep = append(keep, p)
				}
				return keep
			},
			wantOrphans: 2, wantCreates: 1, wantMarked: 1,
		},
		{
			// Defect 4 of issue 7: a concurrent createSecret for the same
			// version made this token and is about to store it.
			name: "young token with this version's marker is kept",
			age:  orphanAge - time.Minute,
			before: func(w *world) []string {
				_, p := w.createToken(markedFor(w.t, w.arn, v1, ""))
				return []string{p}
			},
			wantCreates: 1, wantMarked: 2,
		},
		{
			// A concurrent createSecret's token carries the same version
			// but another attempt id: reconciling an ambiguous create of
			// this invocation leaves it alone.
			name: "ambiguous create beside a concurrent invocation's token: only this invocation's is revoked",
			before: func(w *world) []string {
				_, p := w.createToken(markedFor(w.t, w.arn, v1, "0badcafe"))
				return []string{p}
			},
			ambiguous: 1, wantCreates: 2, wantMarked: 2, wantOrphans: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{aivenClock: tt.age})
			var keep []string
			if tt.before != nil {
				keep = tt.before(w)
			}
			w.stack.Aiven.Advance(tt.age)
			w.resetCalls()
			left := tt.ambiguous
			w.createFault = func() bool {
				if left > 0 {
					left--
					return true
				}
				return false
			}
			wantErr(t, w.step(rotation.StepCreate, v1), tt.wantErr)
			if n := w.aivenCalls()["AccessTokenCreate"]; n != tt.wantCreates {
				t.Errorf("%d creates, want %d", n, tt.wantCreates)
			}
			live := w.live()
			for _, p := range keep {
				if _, ok := live[p]; !ok {
					t.Errorf("token %s was revoked", p)
				}
			}
			if n := w.marked(v1); n != tt.wantMarked {
				t.Errorf("%d live tokens carry this version's marker, want %d", n, tt.wantMarked)
			}
			if m := w.metricLines(); len(m) != 1 || m[0]["OrphansRevoked"] != tt.wantOrphans {
				t.Errorf("metrics %v, want OrphansRevoked %v", m, tt.wantOrphans)
			}

			// The rotation then completes (a failed one as Secrets Manager
			// retries it), and only the pending token keeps the marker (I2).
			left = 0
			if err := w.rotate(v1); err != nil {
				t.Fatalf("rotation after createSecret: %v", err)
			}
			if n := w.marked(v1); n != 1 {
				t.Errorf("after the rotation %d live tokens carry this version's marker, want 1", n)
			}
			if !w.stack.Aiven.Authenticates(field(w.value(stageCurrent), "token")) {
				t.Error("the AWSCURRENT token is not live")
			}
		})
	}
}

func TestCompensation(t *testing.T) {
	// createSecret's GetSecretValue calls: AWSCURRENT, then (after a
	// failed Put) the check whether the Put landed; the pending check is
	// skipped, no token carrying this version's marker being listed.
	const getsBeforeTheCheck = 1
	tests := []struct {
		name string
		// put fails PutSecretValue; landed lets it take effect first.
		put         faults.Rule
		landed      bool
		check       *faults.Rule
		wantErr     string
		wantRevoked bool
	}{
		{name: "Put failed: new token revoked", put: faults.Rule{Operation: "PutSecretValue", Status: 400}, wantErr: "the new token", wantRevoked: true},
		{name: "Put ambiguous but landed: kept", landed: true},
		{name: "Put failed and the check failed too: kept for the marker", put: faults.Rule{Operation: "PutSecretValue", Status: 400},
			check: &faults.Rule{Operation: "GetSecretValue", After: getsBeforeTheCheck, Status: 403}, wantErr: "was kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // the landed case waits out the SDK's retry backoff
			cfg := worldConfig{}
			if tt.landed {
				// Every attempt of the Put takes effect (the first stores the
				// value, the retries match it) and loses its answer.
				cfg.smMiddleware = func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
						if r.Header.Get("X-Amz-Target") != "secretsmanager.PutSecretValue" {
							next.ServeHTTP(rw, r)
							return
						}
						next.ServeHTTP(httptest.NewRecorder(), r)
						faults.DropConnection(rw)
					})
				}
			}
			w := newWorld(t, cfg)
			if tt.put.Operation != "" {
				w.smFault(tt.put)
			}
			if tt.check != nil {
				w.smFault(*tt.check)
			}
			wantErr(t, w.step(rotation.StepCreate, v1), tt.wantErr)
			if alive := w.marked(v1) == 1; alive == tt.wantRevoked {
				t.Errorf("new token alive = %v, want %v", alive, !tt.wantRevoked)
			}
			if tt.landed && field(w.value(stagePending), "token") == "" {
				t.Error("test setup: the Put should have landed")
			}
		})
	}
}

func TestAivenRefusals(t *testing.T) {
	tests := []struct {
		name   string
		inject func(w *world)
		want   []string
	}{
		{
			name:   "current token revoked out of band",
			inject: func(w *world) { w.revoke(w.user.Token, w.user.TokenPrefix) },
			want:   []string{"rejected the current token", "revoked, has expired", "2FA", "re-seed the secret"},
		},
		{
			name:   "403 on create",
			inject: func(w *world) { w.aivenFault(faults.Rule{Operation: "AccessTokenCreate", Status: 403}) },
			want:   []string{"403", "permission to create access tokens"},
		},
		{
			name:   "403 on list",
			inject: func(w *world) { w.aivenFault(faults.Rule{Operation: "AccessTokenList", Status: 403}) },
			want:   []string{"permission to list"},
		},
		{
			name: "429 that outlives the deadline",
			inject: func(w *world) {
				w.aivenFault(faults.Rule{Operation: "AccessTokenList", Status: 429, RetryAfterSeconds: 28})
			},
			want: []string{"429", "28s", "invocation deadline"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{})
			tt.inject(w)
			before := w.value(stageCurrent)
			liveBefore := len(w.live())
			w.resetCalls()
			ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
			defer cancel()
			var err error
			for _, s := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
				if err = w.r.Handle(ctx, event(w.arn, s, v1)); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("rotation succeeded")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if w.value(stageCurrent) != before || w.smCalls()["PutSecretValue"] != 0 || len(w.live()) != liveBefore {
				t.Error("something changed")
			}
		})
	}
}

func TestMalformedSecrets(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{name: "not an object", value: `["tok"]`, want: "not an object"},
		{name: "no token", value: `{"user":"x"}`, want: `field "token": is required`},
		{name: "token wrong type", value: `{"token":12345678}`, want: `field "token": must be a string`},
		{name: "scopes wrong type", value: `{"token":"abcdefgh","scopes":"all"}`, want: `field "scopes"`},
		{name: "application without organization_id", value: `{"token":"abcdefgh","kind":"application","application_user_id":"u1","manager_secret_id":"m"}`, want: `field "organization_id": is required for kind "application"`},
		{name: "application without manager_secret_id", value: `{"token":"abcdefgh","kind":"application","organization_id":"org1","application_user_id":"u1"}`, want: `field "manager_secret_id": is required for kind "application"`},
		{name: "application naming a missing manager secret", value: `{"token":"abcdefgh","kind":"application","organization_id":"org1","application_user_id":"u1","manager_secret_id":"no/such"}`, want: "manager secret no/such (manager_secret_id) not found"},
		{name: "application with wrong types", value: `{"token":"abcdefgh","kind":"application","organization_id":7}`, want: `field "organization_id": must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{secret: tt.value})
			err := w.step(rotation.StepCreate, v1)
			wantErr(t, err, tt.want)
			if strings.Contains(err.Error(), "abcdefgh") || strings.Contains(err.Error(), "12345678") {
				t.Error("the error quotes a value")
			}
			if total(w.aivenCalls()) != 0 {
				t.Error("Aiven was called")
			}
		})
	}
}

func TestTokensGoOnlyWhereAllowed(t *testing.T) {
	tests := []struct {
		name   string
		apiURL string // $AIVEN: the emulator
		env    map[string]string
		want   string
	}{
		{name: "disallowed host", apiURL: "https://aiven.evil.example", want: "not in ALLOWED_API_HOSTS"},
		{name: "http without the loopback flag", apiURL: "$AIVEN",
			env:  map[string]string{"AIVEN_WEB_URL": "https://127.0.0.1", "AIVEN_ALLOW_INSECURE_LOOPBACK": "false"},
			want: "only https"},
		{name: "http to non-loopback with the flag", apiURL: "http://10.1.2.3",
			env: map[string]string{"ALLOWED_API_HOSTS": "127.0.0.1,10.1.2.3"}, want: "only to loopback"},
		{name: "http to loopback with the flag", apiURL: "$AIVEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{secret: `{"token":"$TOKEN","api_url":"` + tt.apiURL + `"}`, env: tt.env})
			err := w.step(rotation.StepCreate, v1)
			wantErr(t, err, tt.want)
			if tt.want != "" && total(w.aivenCalls()) != 0 {
				t.Error("the token reached Aiven")
			}
		})
	}
}

func TestConfigurationTest(t *testing.T) {
	tests := []struct {
		name    string
		revoke  bool
		wantErr string
	}{
		{name: "current token works"},
		{name: "current token revoked", revoke: true, wantErr: "configuration test: the Aiven API rejected the current token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{noRotation: true})
			if tt.revoke {
				w.revoke(w.user.Token, w.user.TokenPrefix)
			}
			w.fn.set(w.r)
			w.resetCalls()
			// Secrets Manager runs only testSecret, on an empty AWSPENDING.
			_, _ = w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{
				SecretId:          aws.String(w.arn),
				RotationLambdaARN: aws.String(localstack.FunctionARN),
				RotateImmediately: aws.Bool(false),
			})
			rots := w.stack.SecretsManager.Rotations()
			if len(rots) == 0 {
				t.Fatal("no configuration test ran")
			}
			last := rots[len(rots)-1]
			if tt.wantErr == "" && last.Outcome != "TestRotationSucceeded" ||
				tt.wantErr != "" && (last.Outcome != "TestRotationFailed" || !strings.Contains(last.Error, tt.wantErr)) {
				t.Fatalf("configuration test %s (%s), want the error %q", last.Outcome, last.Error, tt.wantErr)
			}
			if av := w.aivenCalls(); av["UserInfo"] != 1 || total(av) != 1 {
				t.Errorf("Aiven calls %v, want one /v1/me", av)
			}
		})
	}
}
