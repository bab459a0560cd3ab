package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	codegen "github.com/aiven/go-client-codegen"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

func TestFirstRotationFromPlainString(t *testing.T) {
	w := newWorld(t)
	seed := w.seedToken("laptop", true)
	seedPrefix := w.prefixOf(seed)
	w.seedSecret(seed)
	w.startRotation("v1")

	if err := w.rotate(w.rotator(), "v1"); err != nil {
		t.Fatal(err)
	}

	cur, err := secret.Parse(w.value(secretsmanager.StageCurrent))
	if err != nil {
		t.Fatal(err)
	}
	if cur.Token.Reveal() == seed || cur.TokenPrefix == "" || cur.PreviousTokenPrefix != seedPrefix || cur.User != testUser || cur.CreatedAt == "" || cur.ExpiryTime == "" {
		t.Errorf("AWSCURRENT = %+v", cur)
	}
	live := w.live()
	if _, ok := live[seedPrefix]; ok {
		t.Error("the bootstrap token is still live")
	}
	nt, ok := live[cur.TokenPrefix]
	if !ok || nt.full != cur.Token.Reveal() {
		t.Fatal("the AWSCURRENT token is not live")
	}
	m, ok := secret.ParseMarker(nt.description)
	if !ok || m.Version != "v1" || m.Secret != secret.SecretHash(testARN) || !strings.HasPrefix(nt.description, "laptop [") {
		t.Errorf("new token description %q", nt.description)
	}
	if nt.maxAge != 2592000 {
		t.Errorf("max age not carried over: %v", nt.maxAge)
	}
	if len(w.rotatorTokens()) != 1 {
		t.Errorf("rotator tokens live: %v", w.rotatorTokens())
	}
	if w.value(stagePrevious) != seed {
		t.Error("AWSPREVIOUS is not the bootstrap value")
	}
	// Budgets of the happy path.
	if w.totalSM() > 11 || w.totalAiven() > 6 {
		t.Errorf("calls: Secrets Manager %v (%d), Aiven %v (%d)", w.smCalls, w.totalSM(), w.aivenCalls, w.totalAiven())
	}
	if len(w.rotationTokens) != 1 || w.rotationTokens[0] != rotationToken {
		t.Errorf("RotationToken reaching PutSecretValue: %q", w.rotationTokens)
	}
	lines := w.logLines(t)
	if len(lines) != 4 {
		t.Fatalf("%d log lines, want one per step", len(lines))
	}
	for _, l := range lines {
		for _, k := range []string{"step", "secret", "version", "token_prefix", "previous_token_prefix", "duration_ms", "outcome"} {
			if _, ok := l[k]; !ok {
				t.Errorf("log line %v lacks %s", l, k)
			}
		}
		if l["secret"] != testARN || l["token_prefix"] != cur.TokenPrefix {
			t.Errorf("log line %v", l)
		}
	}
	if n := strings.Count(w.metricsOut.String(), `"_aws"`); n != 4 {
		t.Errorf("%d metric lines, want 4", n)
	}
}

func TestSecondRotationKeepsUnknownFieldsAndSettings(t *testing.T) {
	w := newWorld(t)
	seed := w.seedToken("ignored", true)
	w.seedSecret(`{"token":"` + seed + `","description":"deploy bot","scopes":["projects:read"],"team": {"name" : "ops", "n": 1.50}}`)
	r := w.rotator()
	for _, v := range []string{"v1", "v2"} {
		w.startRotation(v)
		if err := w.rotate(r, v); err != nil {
			t.Fatalf("rotation %s: %v", v, err)
		}
	}
	raw := w.value(secretsmanager.StageCurrent)
	if !strings.Contains(raw, `"team":{"name" : "ops", "n": 1.50}`) {
		t.Errorf("unknown field not preserved byte for byte: %s", raw)
	}
	cur, _ := secret.Parse(raw)
	nt := w.live()[cur.TokenPrefix]
	if nt == nil || !strings.HasPrefix(nt.description, "deploy bot [aiven-token-rotator") || strings.Count(nt.description, "[aiven-token-rotator") != 1 {
		t.Fatalf("description %q", nt.description)
	}
	if len(nt.scopes) != 1 || nt.scopes[0] != "projects:read" {
		t.Errorf("scopes %v", nt.scopes)
	}
	if got := w.rotatorTokens(); len(got) != 1 || got[0] != cur.TokenPrefix {
		t.Errorf("rotator tokens live after two rotations: %v", got)
	}
}

func TestEveryStepRunTwice(t *testing.T) {
	w := newWorld(t)
	seed := w.seedToken("laptop", true)
	w.seedSecret(seed)
	w.startRotation("v1")
	r := w.rotator()
	for _, step := range []string{StepCreate, StepCreate, StepSet, StepSet, StepTest, StepTest, StepFinish, StepFinish} {
		if err := r.Handle(context.Background(), event(step, "v1")); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// A whole rotation replayed after it completed changes nothing.
	before := w.value(secretsmanager.StageCurrent)
	if err := w.rotate(r, "v1"); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if w.value(secretsmanager.StageCurrent) != before {
		t.Error("a replay changed AWSCURRENT")
	}
	if w.aivenCalls["AccessTokenCreate"] != 1 {
		t.Errorf("%d tokens created, want 1", w.aivenCalls["AccessTokenCreate"])
	}
	if len(w.rotatorTokens()) != 1 || len(w.live()) != 1 {
		t.Errorf("live tokens: %v", w.live())
	}
}

func TestFinishCompletesRevocationOnRetry(t *testing.T) {
	w := newWorld(t)
	seed := w.seedToken("laptop", true)
	w.seedSecret(seed)
	w.startRotation("v1")
	r := w.rotator()
	failOnce := true
	def := w.aivenFor
	w.aivenFor = func(token string) *fakeTokens {
		f := def(token)
		inner := f.revoke
		f.revoke = func(ctx context.Context, p string) (bool, error) {
			if failOnce {
				failOnce = false
				return false, codegen.Error{Status: 503, Message: "unavailable"}
			}
			return inner(ctx, p)
		}
		return f
	}
	if err := w.rotate(r, "v1"); err == nil || !strings.Contains(err.Error(), "revoke the previous token") {
		t.Fatalf("err = %v", err)
	}
	if _, live := w.live()[w.prefixOf(seed)]; !live {
		t.Fatal("test setup: the seed should have survived the failed revocation")
	}
	// AWSCURRENT already moved: the guard says done, the duty remains.
	if err := r.Handle(context.Background(), event(StepFinish, "v1")); err != nil {
		t.Fatal(err)
	}
	if _, live := w.live()[w.prefixOf(seed)]; live {
		t.Error("the retry did not revoke the previous token")
	}
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(w *world)
		version string
		wantErr string
	}{
		{name: "rotation not enabled", setup: func(w *world) { w.rotationEnabled = false }, version: "v1", wantErr: "is not enabled for rotation"},
		{name: "not a version of the secret", version: "nope", wantErr: "is not a version of secret"},
		{name: "already AWSCURRENT: done", version: "v0"},
		{name: "not AWSPENDING", setup: func(w *world) {
			v := `{"token":"x"}`
			w.versions["old"] = &version{value: &v, stages: []string{stagePrevious}}
		}, version: "old", wantErr: "is not staged as AWSPENDING"},
	}
	for _, tt := range tests {
		for _, step := range []string{StepCreate, StepSet, StepTest} {
			t.Run(tt.name+"/"+step, func(t *testing.T) {
				w := newWorld(t)
				w.seedSecret(w.seedToken("x", true))
				w.startRotation("v1")
				if tt.setup != nil {
					tt.setup(w)
				}
				err := w.rotator().Handle(context.Background(), event(step, tt.version))
				if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if w.smCalls["DescribeSecret"] != 1 || w.totalSM() != 1 || w.totalAiven() != 0 {
					t.Errorf("the guard let the step touch things: %v %v", w.smCalls, w.aivenCalls)
				}
			})
		}
	}
}

func TestEventsNotUnderstoodTouchNothing(t *testing.T) {
	tests := []struct {
		name  string
		event string
		want  string
	}{
		{name: "unknown step", event: `{"Step":"rollback","SecretId":"` + testARN + `","ClientRequestToken":"v1"}`, want: `unknown rotation step "rollback"`},
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
			w := newWorld(t)
			err := w.rotator().Handle(context.Background(), json.RawMessage(tt.event))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-looking-value") {
				t.Error("the error quotes a value of the event")
			}
			if w.totalSM() != 0 || w.totalAiven() != 0 {
				t.Error("touched something")
			}
		})
	}
}

// TestOrphanReconciliation: a token carrying this version's marker is
// revoked by createSecret only once it is older than orphanAge (a younger
// one may be a concurrent invocation's, about to be stored), and by
// finishSecret whatever its age; tokens without this version's marker are
// never touched by createSecret.
func TestOrphanReconciliation(t *testing.T) {
	tests := []struct {
		name string
		// before runs before createSecret; ambiguous creates a token and
		// then reports an ambiguous failure this many times.
		before      func(w *world) (keep []string)
		ambiguous   int
		wantErr     string
		wantOrphans float64 // revoked by createSecret
		wantCreates int
		// wantMarked is how many live tokens carry this version's marker
		// after createSecret.
		wantMarked int
	}{
		// Never a blind retry: after an ambiguous create the invocation
		// lists the tokens and revokes the ones carrying its own attempt
		// id, then creates again.
		{name: "ambiguous create, token landed: revoked by its attempt id, then created again", ambiguous: 1, wantCreates: 2, wantMarked: 1, wantOrphans: 1},
		{name: "two ambiguous creates", ambiguous: 2, wantCreates: 3, wantMarked: 1, wantOrphans: 2},
		{name: "ambiguous forever is bounded", ambiguous: 99, wantErr: "gave up after 3 ambiguous attempts", wantCreates: 3, wantMarked: 0, wantOrphans: 3},
		{
			name: "old orphan of an earlier attempt revoked, others untouched",
			before: func(w *world) []string {
				same, _ := secret.NewMarker(testARN, "v1")
				otherVersion, _ := secret.NewMarker(testARN, "v0")
				otherSecret, _ := secret.NewMarker("arn:aws:secretsmanager:us-east-1:000000000000:secret:other-XyZ123", "v1")
				w.seedToken(secret.Describe("", same), false)
				keep := []string{
					w.prefixOf(w.seedToken(secret.Describe("", otherSecret), false)),
					w.prefixOf(w.seedToken("hand made", true)),
					w.prefixOf(w.seedToken(secret.Describe("", otherVersion), false)),
				}
				w.now = w.now.Add(orphanAge + time.Second)
				return keep
			},
			wantOrphans: 1, wantCreates: 1, wantMarked: 1,
		},
		{
			// Defect 4 of issue 7: a concurrent createSecret for the same
			// version made this token and is about to store it.
			name: "young token with this version's marker is kept",
			before: func(w *world) []string {
				same, _ := secret.NewMarker(testARN, "v1")
				young := w.prefixOf(w.seedToken(secret.Describe("", same), false))
				w.now = w.now.Add(orphanAge - time.Second)
				return []string{young}
			},
			wantCreates: 1, wantMarked: 2,
		},
		{
			// A concurrent createSecret's token carries the same version
			// but another attempt id: reconciling an ambiguous create of
			// this invocation leaves it alone.
			name: "ambiguous create beside a concurrent invocation's token: only this invocation's is revoked",
			before: func(w *world) []string {
				same, _ := secret.NewMarker(testARN, "v1")
				other, _ := same.ForAttempt("0badcafe")
				return []string{w.prefixOf(w.seedToken(secret.Describe("", other), false))}
			},
			ambiguous: 1, wantCreates: 2, wantMarked: 2, wantOrphans: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.seedSecret(w.seedToken("laptop", true))
			w.startRotation("v1")
			var keep []string
			if tt.before != nil {
				keep = tt.before(w)
			}
			left := tt.ambiguous
			def := w.aivenFor
			w.aivenFor = func(token string) *fakeTokens {
				f := def(token)
				inner := f.create
				f.create = func(ctx context.Context, r aiven.CreateRequest) (aiven.NewToken, error) {
					nt, err := inner(ctx, r)
					if err == nil && left > 0 {
						left--
						return aiven.NewToken{}, &aiven.AmbiguousError{Err: errors.New("read tcp: connection reset by peer")}
					}
					return nt, err
				}
				return f
			}
			r := w.rotator()
			err := r.Handle(context.Background(), event(StepCreate, "v1"))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if w.aivenCalls["AccessTokenCreate"] != tt.wantCreates {
				t.Errorf("%d creates, want %d", w.aivenCalls["AccessTokenCreate"], tt.wantCreates)
			}
			live := w.live()
			for _, p := range keep {
				if _, ok := live[p]; !ok {
					t.Errorf("token %s was revoked", p)
				}
			}
			marker, _ := secret.NewMarker(testARN, "v1")
			marked := func() int {
				n := 0
				for _, tok := range w.live() {
					if m, ok := secret.ParseMarker(tok.description); ok && m.SameVersion(marker) {
						n++
					}
				}
				return n
			}
			if n := marked(); n != tt.wantMarked {
				t.Errorf("%d live tokens carry this version's marker, want %d", n, tt.wantMarked)
			}
			var metric map[string]any
			_ = json.Unmarshal([]byte(strings.TrimSpace(w.metricsOut.String())), &metric)
			if metric["OrphansRevoked"] != tt.wantOrphans {
				t.Errorf("OrphansRevoked = %v, want %v", metric["OrphansRevoked"], tt.wantOrphans)
			}

			// The rotation then completes (a failed one as Secrets Manager
			// retries it), and only the pending token keeps the marker (I2).
			left = 0
			if err := w.rotate(r, "v1"); err != nil {
				t.Fatalf("rotation after createSecret: %v", err)
			}
			if n := marked(); n != 1 {
				t.Errorf("after the rotation %d live tokens carry this version's marker, want 1", n)
			}
			cur, _ := secret.Parse(w.value(secretsmanager.StageCurrent))
			if tok, ok := w.live()[cur.TokenPrefix]; !ok || tok.full != cur.Token.Reveal() {
				t.Error("the AWSCURRENT token is not live")
			}
		})
	}
}

func TestCompensation(t *testing.T) {
	putFailed := errors.New("operation error Secrets Manager: PutSecretValue, exceeded maximum number of attempts, 4, InternalServiceError")
	tests := []struct {
		name        string
		landed      bool  // the Put stored the value despite its error
		getErr      error // the check after the failed Put fails this way
		wantErr     string
		wantRevoked bool
	}{
		{name: "Put failed: new token revoked", wantErr: "the new token", wantRevoked: true},
		{name: "Put ambiguous but landed: kept", landed: true},
		{name: "Put failed and the check failed too: kept for the marker", getErr: errors.New("AccessDeniedException"), wantErr: "was kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.seedSecret(w.seedToken("laptop", true))
			w.startRotation("v1")
			realPut, realGet := w.store.putPending, w.store.getValue
			w.store.putPending = func(ctx context.Context, id, crt, value, rt string) error {
				if tt.landed {
					_ = realPut(ctx, id, crt, value, rt)
				}
				return putFailed
			}
			puts := 0
			w.store.getValue = func(ctx context.Context, id, vid, stage string) (string, error) {
				if vid == "v1" {
					puts++
				}
				if vid == "v1" && puts == 2 && tt.getErr != nil {
					return "", tt.getErr
				}
				return realGet(ctx, id, vid, stage)
			}
			err := w.rotator().Handle(context.Background(), event(StepCreate, "v1"))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			marker, _ := secret.NewMarker(testARN, "v1")
			alive := false
			for _, tok := range w.live() {
				if m, ok := secret.ParseMarker(tok.description); ok && m.SameVersion(marker) {
					alive = true
				}
			}
			if alive == tt.wantRevoked {
				t.Errorf("new token alive = %v, want %v", alive, !tt.wantRevoked)
			}
		})
	}
}

func TestAivenRefusals(t *testing.T) {
	tests := []struct {
		name   string
		inject func(f *fakeTokens)
		want   []string
	}{
		{
			name: "current token revoked out of band",
			inject: func(f *fakeTokens) {
				f.me = func(context.Context) (aiven.User, error) { return aiven.User{}, unauthorized() }
			},
			want: []string{"rejected the current token", "revoked, has expired", "2FA", "re-seed the secret"},
		},
		{
			name: "403 on create",
			inject: func(f *fakeTokens) {
				f.create = func(context.Context, aiven.CreateRequest) (aiven.NewToken, error) {
					return aiven.NewToken{}, codegen.Error{Status: 403, OperationID: "AccessTokenCreate", Message: "Forbidden"}
				}
			},
			want: []string{"403", "permission to create access tokens"},
		},
		{
			name: "403 on list",
			inject: func(f *fakeTokens) {
				f.list = func(context.Context) ([]aiven.Token, error) {
					return nil, codegen.Error{Status: 403, OperationID: "AccessTokenList", Message: "Forbidden"}
				}
			},
			want: []string{"permission to list"},
		},
		{
			name: "429 that outlived the deadline",
			inject: func(f *fakeTokens) {
				f.list = func(context.Context) ([]aiven.Token, error) {
					return nil, errors.New("AccessTokenList: giving up after 1 attempt(s): waiting 28s to retry would pass the invocation deadline: [429 AccessTokenList]: Rate limit 120 exceeded - try again in 28s")
				}
			},
			want: []string{"try again in 28s", "invocation deadline"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.seedSecret(w.seedToken("laptop", true))
			w.startRotation("v1")
			before := w.value(secretsmanager.StageCurrent)
			def := w.aivenFor
			w.aivenFor = func(token string) *fakeTokens {
				f := def(token)
				tt.inject(f)
				return f
			}
			err := w.rotate(w.rotator(), "v1")
			if err == nil {
				t.Fatal("rotation succeeded")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if w.value(secretsmanager.StageCurrent) != before || w.smCalls["PutSecretValue"] != 0 || len(w.live()) != 1 {
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
		{name: "oversized", value: `{"token":"abcdefgh","pad":"` + strings.Repeat("p", secret.MaxSize) + `"}`, want: "64 KiB"},
		{name: "application", value: `{"token":"abcdefgh","kind":"application","organization_id":"org1","application_user_id":"u1","manager_secret_id":"m"}`, want: "application tokens are not supported yet"},
		{name: "application with wrong types", value: `{"token":"abcdefgh","kind":"application","organization_id":7}`, want: `field "organization_id": must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.seedSecret(tt.value)
			w.startRotation("v1")
			err := w.rotator().Handle(context.Background(), event(StepCreate, "v1"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "abcdefgh") || strings.Contains(err.Error(), "12345678") {
				t.Error("the error quotes a value")
			}
			if w.totalAiven() != 0 {
				t.Error("Aiven was called")
			}
		})
	}
}

func TestTokensGoOnlyWhereAllowed(t *testing.T) {
	tests := []struct {
		name     string
		apiURL   string
		hosts    []string
		loopback bool
		want     string
	}{
		{name: "disallowed host", apiURL: "https://aiven.evil.example", hosts: []string{"api.aiven.io"}, want: "not in ALLOWED_API_HOSTS"},
		{name: "http without the loopback flag", apiURL: "http://127.0.0.1:4567", hosts: []string{"127.0.0.1"}, want: "only https"},
		{name: "http to non-loopback with the flag", apiURL: "http://10.1.2.3", hosts: []string{"10.1.2.3"}, loopback: true, want: "only to loopback"},
		{name: "http to loopback with the flag", apiURL: "http://127.0.0.1:4567", hosts: []string{"127.0.0.1"}, loopback: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.cfg.AllowedHosts, w.cfg.AllowInsecureLoopback = tt.hosts, tt.loopback
			w.seedSecret(`{"token":"` + w.seedToken("x", true) + `","api_url":"` + tt.apiURL + `"}`)
			w.startRotation("v1")
			err := w.rotator().Handle(context.Background(), event(StepCreate, "v1"))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if w.totalAiven() != 0 || len(w.apiURLs) != 0 {
				t.Error("an Aiven client was opened")
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
			w := newWorld(t)
			seed := w.seedToken("laptop", true)
			w.seedSecret(seed)
			w.startRotation("cfgtest") // empty AWSPENDING, only testSecret runs
			if tt.revoke {
				w.tokens[w.prefixOf(seed)].revoked = true
			}
			err := w.rotator().Handle(context.Background(), event(StepTest, "cfgtest"))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if w.aivenCalls["UserInfo"] != 1 || w.totalAiven() != 1 {
				t.Errorf("Aiven calls %v, want one /v1/me", w.aivenCalls)
			}
		})
	}
}

func TestTestSecretRefusals(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(v map[string]any)
		want  string
		revok bool
	}{
		{name: "another principal", edit: func(v map[string]any) { v["user"] = "someone@else.example"; delete(v, "user_id") }, want: "belongs to"},
		{name: "another user id with the same e-mail", edit: func(v map[string]any) { v["user_id"] = "u2" }, want: `belongs to user id "u1"`},
		{name: "expired", edit: func(v map[string]any) { v["expiry_time"] = "2025-05-01T00:00:00Z" }, want: "expired at 2025-05-01T00:00:00Z"},
		{name: "pending token revoked", revok: true, want: "rejected the pending token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.seedSecret(w.seedToken("laptop", true))
			w.startRotation("v1")
			r := w.rotator()
			if err := r.Handle(context.Background(), event(StepCreate, "v1")); err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			_ = json.Unmarshal([]byte(*w.versions["v1"].value), &v)
			if tt.edit != nil {
				tt.edit(v)
				b, _ := json.Marshal(v)
				s := string(b)
				w.versions["v1"].value = &s
			}
			if tt.revok {
				w.tokens[v["token_prefix"].(string)].revoked = true
			}
			err := r.Handle(context.Background(), event(StepTest, "v1"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	t.Run("too little time left touches nothing", func(t *testing.T) {
		w := newWorld(t)
		w.cfg.SafetyMargin = time.Hour
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r := w.rotator()
		r.now = time.Now
		err := r.Handle(ctx, event(StepCreate, "v1"))
		if err == nil || !strings.Contains(err.Error(), "safety margin") {
			t.Fatalf("err = %v", err)
		}
		if w.totalSM() != 0 {
			t.Error("touched Secrets Manager")
		}
	})
	t.Run("calls get the deadline minus the margin", func(t *testing.T) {
		w := newWorld(t)
		w.cfg.SafetyMargin = 10 * time.Second
		w.seedSecret(w.seedToken("x", true))
		w.startRotation("v1")
		deadline := time.Now().Add(time.Minute)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		var got time.Time
		inner := w.store.describe
		w.store.describe = func(ctx context.Context, id string) (secretsmanager.Description, error) {
			got, _ = ctx.Deadline()
			return inner(ctx, id)
		}
		r := w.rotator()
		r.now = time.Now
		if err := r.Handle(ctx, event(StepSet, "v1")); err == nil {
			t.Fatal("setSecret on an empty pending version succeeded")
		}
		if !got.Equal(deadline.Add(-10 * time.Second)) {
			t.Errorf("deadline %v, want %v", got, deadline.Add(-10*time.Second))
		}
	})
}

func TestNoSecretInLogsOrErrors(t *testing.T) {
	w := newWorld(t)
	seed := w.seedToken("laptop", true)
	w.seedSecret(`{"token":"` + seed + `","note":"kept"}`)
	r := w.rotator()
	var errs []string
	for _, v := range []string{"v1", "v2"} {
		w.startRotation(v)
		if err := w.rotate(r, v); err != nil {
			t.Fatal(err)
		}
	}
	// Failures too: a put that fails, a token rejected, a malformed secret.
	w.startRotation("v3")
	realPut := w.store.putPending
	w.store.putPending = func(context.Context, string, string, string, string) error {
		return errors.New("InternalServiceError")
	}
	if err := r.Handle(context.Background(), event(StepCreate, "v3")); err != nil {
		errs = append(errs, err.Error())
	}
	w.store.putPending = realPut
	for _, tok := range w.live() {
		tok.revoked = true
	}
	for _, step := range []string{StepCreate, StepTest, StepFinish} {
		if err := r.Handle(context.Background(), event(step, "v3")); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) < 3 {
		t.Fatalf("expected failures, got %v", errs)
	}
	var values []string
	for _, tok := range w.tokens {
		values = append(values, tok.full)
	}
	values = append(values, rotationToken)
	all := w.logs.String() + "\n" + w.metricsOut.String() + "\n" + strings.Join(errs, "\n")
	for _, v := range values {
		if strings.Contains(all, v) || strings.Contains(all, v[15:35]) || strings.Contains(all, v[len(v)-20:]) {
			t.Errorf("a secret value reached the logs, metrics or errors")
		}
	}
	if !strings.Contains(w.logs.String(), `"step":"finishSecret"`) {
		t.Error("no log lines captured")
	}
}

func TestRedactIsTheLastLineOfDefence(t *testing.T) {
	err := redact(errors.New("boom: AVNU_secretvalue123 leaked"), []secret.Token{secret.NewToken("AVNU_secretvalue123")})
	if strings.Contains(err.Error(), "secretvalue") || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("got %q", err)
	}
}
