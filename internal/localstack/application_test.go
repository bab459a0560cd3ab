package localstack_test

// End-to-end rotations of application-user tokens (kind "application"):
// the token belongs to an application user of an organization, and a
// manager token, read from another secret, lists, creates and deletes its
// tokens. Aiven's Go client makes the world's tokens; the rotator runs as
// in every other end-to-end test.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	aivenclient "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

const (
	appOrg            = "org1"
	managerSecretName = "aiven/manager"
	appSecretName     = "aiven/ci"
	firstAppMaxAge    = 2592000 // 30 days, carried over to every new token
)

// appWorld is a local stack with an organization admin whose personal
// token sits in the manager secret, and an application user of the same
// organization whose token sits in the application secret (world.arn).
// Its hooks check I1 for both secrets after every step, I2 for both
// principals after every successful attempt, and I3 for both secrets.
type appWorld struct {
	*world
	admin      aivenemulator.User // the manager: role:organization:admin of appOrg
	app        aivenemulator.ApplicationUser
	first      string // the application user's first token, in the seed version
	managerARN string
	// adminTokens is how many live tokens the admin may hold after a
	// rotation (the manager's; 0 means 1): a test that gives the admin a
	// personal secret of its own too sets 2.
	adminTokens int
	// healing is set by a test that revoked the current application token
	// on purpose: I1 for the application secret holds again once a
	// rotation of it has succeeded.
	healing atomic.Bool
	// denyRead, when set, names a secret whose GetSecretValue the
	// Secrets Manager listener refuses with AccessDeniedException, as IAM
	// would for a secret the role may not read.
	denyRead atomic.Pointer[string]
}

type appWorldOption func(*appWorld, *localstack.Config)

func newAppWorld(t *testing.T, appValue func(aw *appWorld) map[string]any, opts ...appWorldOption) *appWorld {
	t.Helper()
	w := &world{
		t:          t,
		ctx:        t.Context(),
		logs:       &syncBuffer{},
		wire:       &wireTap{},
		aivenWire:  &wireTap{captureIssued: true},
		requestLog: &syncBuffer{},
		tokens:     map[string]string{},
		versions:   map[string]string{},
	}
	aw := &appWorld{world: w}
	cfg := localstack.Config{
		SecretsManagerAddr: "127.0.0.1:0",
		AivenAddr:          "127.0.0.1:0",
		RotatorLog:         w.logs,
		RequestLog:         slog.New(slog.NewJSONHandler(w.requestLog, nil)),
		SecretsManagerMiddleware: func(next http.Handler) http.Handler {
			return w.wire.wrap(aw.iam(next))
		},
		AivenMiddleware: w.aivenWire.wrap,
		SecretsManagerOptions: []smemulator.Option{
			smemulator.WithStepHook(aw.afterStep),
			smemulator.WithAttemptHook(aw.afterAttempt),
		},
	}
	for _, o := range opts {
		o(aw, &cfg)
	}
	// These checks expect the replaced token to die in finishSecret: no
	// grace period unless a test asks for one.
	if _, set := cfg.RotatorEnv["PREVIOUS_TOKEN_GRACE"]; !set {
		env := map[string]string{"PREVIOUS_TOKEN_GRACE": "0s"}
		for k, v := range cfg.RotatorEnv {
			env[k] = v
		}
		cfg.RotatorEnv = env
	}
	t.Cleanup(w.leakScanAtCleanup)
	stack, err := localstack.Start(w.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	w.stack = stack
	w.sm = stack.SecretsManagerClient()

	aw.admin = aw.controlUser("admin@example.com", aivenemulator.RoleOrganizationAdmin)
	w.user = aw.admin // the leak scan knows its token
	aw.app, err = stack.Aiven.CreateApplicationUser(appOrg, "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	age := firstAppMaxAge
	made, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenCreate(w.ctx, appOrg, aw.app.UserID,
		&applicationuser.ApplicationUserAccessTokenCreateIn{Description: "ci pipeline", MaxAgeSeconds: &age})
	if err != nil {
		t.Fatal(err)
	}
	aw.first = made.FullToken
	w.tokens[made.TokenPrefix] = made.FullToken

	aw.managerARN = aw.createSecret(managerSecretName, aw.managerValue(aw.admin.Token, appOrg, aw.app.UserID), true)
	value := map[string]any{
		"kind": "application", "token": aw.first, "organization_id": appOrg,
		"application_user_id": aw.app.UserID, "manager_secret_id": managerSecretName,
	}
	if appValue != nil {
		value = appValue(aw)
	}
	raw, _ := json.Marshal(value)
	w.arn = aw.createSecret(appSecretName, string(raw), false)
	aw.recordAll()
	return aw
}

// controlUser makes a person of appOrg holding permissions, through the
// emulator's control API, as docs/application-tokens.md does with curl.
func (aw *appWorld) controlUser(email string, permissions ...string) aivenemulator.User {
	aw.t.Helper()
	body, _ := json.Marshal(map[string]any{"email": email, "organization_id": appOrg, "permissions": permissions})
	rsp, err := http.Post(aw.stack.AivenURL+"/_emulator/users", "application/json", bytes.NewReader(body))
	if err != nil {
		aw.t.Fatal(err)
	}
	defer rsp.Body.Close()
	var u aivenemulator.User
	b, _ := io.ReadAll(rsp.Body)
	if rsp.StatusCode != http.StatusOK || json.Unmarshal(b, &u) != nil {
		aw.t.Fatalf("control API: %d %s", rsp.StatusCode, b)
	}
	aw.mu.Lock()
	aw.tokens[u.TokenPrefix] = u.Token
	aw.mu.Unlock()
	return u
}

func (aw *appWorld) aivenAs(token string) aivenclient.Client {
	aw.t.Helper()
	c, err := aivenclient.NewClient(aivenclient.TokenOpt(token), aivenclient.HostOpt(aw.stack.AivenURL),
		aivenclient.RetryMaxOpt(0), aivenclient.DebugOpt(false))
	if err != nil {
		aw.t.Fatal(err)
	}
	return c
}

// managerValue is a manager secret's value: token, binding application
// user userID of org to secrets (by default the application secret).
func (aw *appWorld) managerValue(token, org, userID string, secrets ...string) string {
	if len(secrets) == 0 {
		secrets = []string{appSecretName}
	}
	raw, _ := json.Marshal(map[string]any{"token": token, "application_tokens": []any{
		map[string]any{"organization_id": org, "application_user_id": userID, "secrets": secrets},
	}})
	return string(raw)
}

// putManager writes the manager secret's AWSCURRENT, as its owner would.
func (aw *appWorld) putManager(value string) {
	aw.t.Helper()
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(aw.managerARN), SecretString: aws.String(value),
	}); err != nil {
		aw.t.Fatal(err)
	}
	aw.recordAll()
}

// createSecret creates a secret; tagged ones are managers of the local
// stack (rotation.ManagerTagKey=localstack.StackName).
func (aw *appWorld) createSecret(name, value string, tagged bool) string {
	aw.t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
	if tagged {
		in.Tags = []smtypes.Tag{{Key: aws.String(rotation.ManagerTagKey), Value: aws.String(localstack.StackName)}}
	}
	out, err := aw.sm.CreateSecret(aw.ctx, in)
	if err != nil {
		aw.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// iam refuses GetSecretValue of the secret denyRead names, with the
// error AWS gives a role that may not read it.
func (aw *appWorld) iam(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		denied := aw.denyRead.Load()
		if denied != nil && strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetSecretValue") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var in struct{ SecretId string }
			if json.Unmarshal(body, &in) == nil && (in.SecretId == *denied || strings.Contains(in.SecretId, ":secret:"+*denied+"-")) {
				rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
				rw.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(rw, `{"__type":"AccessDeniedException","Message":"User: arn:aws:sts::000000000000:assumed-role/rotator/fn is not authorized to perform: secretsmanager:GetSecretValue on resource: %s because no identity-based policy allows the secretsmanager:GetSecretValue action"}`, in.SecretId)
				return
			}
		}
		next.ServeHTTP(rw, r)
	})
}

// recordAll is recordVersions for both secrets.
func (aw *appWorld) recordAll() {
	for _, arn := range []string{aw.arn, aw.managerARN} {
		if arn == "" {
			continue
		}
		for _, v := range aw.stack.SecretsManager.Versions(arn) {
			if v.SecretString == "" {
				continue
			}
			if parsed, err := secret.Parse(v.SecretString); err == nil {
				aw.mu.Lock()
				aw.tokens[parsed.TokenPrefix] = parsed.Token.Reveal()
				aw.mu.Unlock()
			}
			aw.mu.Lock()
			seen, ok := aw.versions[v.VersionID]
			if !ok {
				aw.versions[v.VersionID] = v.SecretString
			}
			aw.mu.Unlock()
			if ok && seen != v.SecretString {
				aw.problem("I3: version %s of %s was overwritten", v.VersionID, arn)
			}
		}
	}
}

func (aw *appWorld) currentOf(arn string) (string, *secret.Value, bool) {
	v, ok := aw.stack.SecretsManager.VersionByStage(arn, "AWSCURRENT")
	if !ok {
		return "", nil, false
	}
	parsed, err := secret.Parse(v.SecretString)
	if err != nil {
		return v.VersionID, nil, false
	}
	return v.VersionID, parsed, true
}

func (aw *appWorld) afterStep(r smemulator.StepResult) {
	aw.recordAll()
	for _, arn := range []string{aw.arn, aw.managerARN} {
		if arn == aw.arn && (aw.healing.Load() || aw.malformedCurrent) {
			continue
		}
		_, v, ok := aw.currentOf(arn)
		if !ok {
			continue // a test seeded a malformed value on purpose; its own checks judge it
		}
		if !aw.stack.Aiven.Authenticates(v.Token.Reveal()) {
			aw.problem("I1: after %s of %s (attempt %d), the AWSCURRENT token of %s no longer authenticates", r.Step, r.SecretARN, r.Attempt, arn)
		}
	}
}

func (aw *appWorld) afterAttempt(a smemulator.RotationAttempt) {
	aw.recordAll()
	if a.Outcome != "RotationSucceeded" {
		return
	}
	if a.SecretARN == aw.arn {
		aw.healing.Store(false)
	}
	for _, who := range []string{aw.app.Email, aw.admin.Email} {
		want := 1
		if who == aw.admin.Email && aw.adminTokens > 0 {
			want = aw.adminTokens
		}
		if live := aw.liveOf(who); len(live) != want {
			aw.problem("I2: after a successful rotation of %s, %s holds %d live tokens, want %d: %v", a.SecretARN, who, len(live), want, prefixes(live))
		}
	}
}

func (aw *appWorld) liveOf(email string) []aivenemulator.TokenRecord {
	var out []aivenemulator.TokenRecord
	for _, tok := range aw.stack.Aiven.Tokens() {
		if tok.User == email && tok.State == "live" {
			out = append(out, tok)
		}
	}
	return out
}

func (aw *appWorld) rotateARN(arn string) string {
	aw.t.Helper()
	out, err := aw.sm.RotateSecret(aw.ctx, &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(arn),
		RotationLambdaARN: aws.String(localstack.FunctionARN),
		RotationRules:     &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(14 days)")},
	})
	if err != nil {
		aw.t.Fatalf("RotateSecret: %v", err)
	}
	return aws.ToString(out.VersionId)
}

// appCurrent is the application secret's AWSCURRENT, which must parse.
func (aw *appWorld) appCurrent() (string, *secret.Value) {
	aw.t.Helper()
	version, v, ok := aw.currentOf(aw.arn)
	if !ok {
		aw.t.Fatal("the application secret's AWSCURRENT is missing or does not parse")
	}
	return version, v
}

// whoami is the user_id Aiven's Go client gets from /v1/me with token,
// or the HTTP status of its failure.
func (aw *appWorld) whoami(token string) (userID string, status int) {
	out, err := aw.aivenAs(token).UserInfo(aw.ctx)
	if err != nil {
		var e aivenclient.Error
		if errors.As(err, &e) {
			return "", e.Status
		}
		aw.t.Fatalf("UserInfo: %v", err)
	}
	return out.UserId, http.StatusOK
}

// appFailsCleanly rotates the application secret and expects Secrets
// Manager to give up with every fragment in the error, and nothing to
// have changed: AWSCURRENT of both secrets, both principals' live tokens.
func (aw *appWorld) appFailsCleanly(fragments ...string) {
	aw.t.Helper()
	before := func() (out []string) {
		for _, arn := range []string{aw.arn, aw.managerARN} {
			v, _ := aw.stack.SecretsManager.VersionByStage(arn, "AWSCURRENT")
			out = append(out, v.VersionID)
		}
		out = append(out, prefixes(aw.liveOf(aw.app.Email))...)
		return append(out, prefixes(aw.liveOf(aw.admin.Email))...)
	}
	start := before()
	version := aw.rotateARN(aw.arn)
	a := aw.lastAttempt(version)
	aw.t.Logf("failed as expected: %s", a.Error)
	if a.Outcome != "RotationFailed" {
		aw.t.Fatalf("last attempt %s, want RotationFailed (Secrets Manager gave up)", a.Outcome)
	}
	for _, f := range fragments {
		if !strings.Contains(a.Error, f) {
			aw.t.Errorf("error %q, want it to mention %q", a.Error, f)
		}
	}
	if after := before(); !slices.Equal(after, start) {
		aw.t.Fatalf("a failed rotation changed something: %v → %v", start, after)
	}
	aw.checkProblems()
	aw.assertNoSecretsLeaked()
}

func TestApplicationTokenRotation(t *testing.T) {
	aw := newAppWorld(t, nil)
	firstPrefix := aw.liveOf(aw.app.Email)[0].TokenPrefix
	seen := map[string]bool{firstPrefix: true}
	for i := range 3 {
		version := aw.rotateARN(aw.arn)
		aw.mustSucceed(version)
		gotVersion, v := aw.appCurrent()
		if gotVersion != version || seen[v.TokenPrefix] || v.Kind != secret.KindApplication {
			t.Fatalf("rotation %d: AWSCURRENT %s (want %s), prefix %q seen %v, kind %q", i+1, gotVersion, version, v.TokenPrefix, seen[v.TokenPrefix], v.Kind)
		}
		seen[v.TokenPrefix] = true
		if id, status := aw.whoami(v.Token.Reveal()); status != http.StatusOK || id != aw.app.UserID {
			t.Fatalf("rotation %d: the new token is %q (HTTP %d), want application user %s", i+1, id, status, aw.app.UserID)
		}
		if v.OrganizationID != appOrg || v.ApplicationUserID != aw.app.UserID || v.ManagerSecretID != managerSecretName || v.UserID != aw.app.UserID {
			t.Fatalf("rotation %d: fields %+v not carried", i+1, v)
		}
	}
	if _, status := aw.whoami(aw.first); status != http.StatusUnauthorized {
		t.Fatalf("the first application token answers %d, want 401", status)
	}
	// Settings carried over from what Aiven lists for the current token:
	// 30 days, as the first token was made; the description kept before the marker.
	listed, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokensList(aw.ctx, appOrg, aw.app.UserID)
	if err != nil || len(listed) != 1 {
		t.Fatalf("listed %d, %v", len(listed), err)
	}
	if l := listed[0]; l.MaxAgeSeconds == nil || *l.MaxAgeSeconds != firstAppMaxAge || l.Description == nil || !strings.HasPrefix(*l.Description, "ci pipeline") {
		t.Fatalf("the token's settings were not carried over: %+v", l)
	}
	// The manager token was only used, never replaced.
	if live := aw.liveOf(aw.admin.Email); len(live) != 1 || live[0].TokenPrefix != aw.admin.TokenPrefix {
		t.Fatalf("the manager's tokens changed: %v", prefixes(live))
	}
	aw.assertNoSecretsLeaked()
}

// Without max_age_seconds anywhere, an application token never expires;
// a max_age_seconds in the secret wins over the current token's.
func TestApplicationTokenSettings(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxAge     any // the secret's max_age_seconds; nil: absent
		firstAge   int // the first token's; 0: none
		wantMaxAge int // 0: no expiry
	}{
		{"never expires unless asked", nil, 0, 0},
		{"the secret's max_age_seconds wins", 86400, firstAppMaxAge, 86400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aw := newAppWorld(t, func(aw *appWorld) map[string]any {
				token := aw.first
				if tc.firstAge == 0 {
					made, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenCreate(aw.ctx, appOrg, aw.app.UserID,
						&applicationuser.ApplicationUserAccessTokenCreateIn{Description: "no expiry"})
					if err != nil {
						t.Fatal(err)
					}
					if err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenDelete(aw.ctx, appOrg, aw.app.UserID, aw.liveOf(aw.app.Email)[0].TokenPrefix); err != nil {
						t.Fatal(err)
					}
					token = made.FullToken
				}
				v := map[string]any{"kind": "application", "token": token, "organization_id": appOrg,
					"application_user_id": aw.app.UserID, "manager_secret_id": managerSecretName}
				if tc.maxAge != nil {
					v["max_age_seconds"] = tc.maxAge
				}
				return v
			})
			aw.mustSucceed(aw.rotateARN(aw.arn))
			listed, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokensList(aw.ctx, appOrg, aw.app.UserID)
			if err != nil || len(listed) != 1 {
				t.Fatalf("listed %d, %v", len(listed), err)
			}
			l := listed[0]
			switch {
			case tc.wantMaxAge == 0 && (l.MaxAgeSeconds != nil || l.ExpiryTime != nil):
				t.Fatalf("max age %v, expiry %v; want none", l.MaxAgeSeconds, l.ExpiryTime)
			case tc.wantMaxAge != 0 && (l.MaxAgeSeconds == nil || *l.MaxAgeSeconds != tc.wantMaxAge):
				t.Fatalf("max age %v, want %d", l.MaxAgeSeconds, tc.wantMaxAge)
			}
			_, v := aw.appCurrent()
			if tc.wantMaxAge == 0 && v.ExpiryTime != "" {
				t.Fatalf("expiry_time %q recorded for a token that never expires", v.ExpiryTime)
			}
		})
	}
}

// The manager secret is itself a personal-token secret that the same
// function rotates; the application rotation then uses the manager's new
// token (the old one is revoked, so using it would fail with 401).
func TestApplicationManagerSecretItselfRotated(t *testing.T) {
	aw := newAppWorld(t, nil)
	for range 2 {
		aw.mustSucceed(aw.rotateARN(aw.managerARN))
		aw.mustSucceed(aw.rotateARN(aw.arn))
	}
	_, manager, _ := aw.currentOf(aw.managerARN)
	if manager.Token.Reveal() == aw.admin.Token || !aw.stack.Aiven.Authenticates(manager.Token.Reveal()) || aw.stack.Aiven.Authenticates(aw.admin.Token) {
		t.Fatal("the manager secret was not rotated")
	}
	_, v := aw.appCurrent()
	if id, status := aw.whoami(v.Token.Reveal()); status != http.StatusOK || id != aw.app.UserID {
		t.Fatalf("the application token is %q (HTTP %d)", id, status)
	}
	aw.assertNoSecretsLeaked()
}

// Healing: the current application token was revoked behind the
// rotator's back (or expired); the manager token makes a new one anyway.
func TestApplicationTokenHeals(t *testing.T) {
	for _, how := range []string{"revoked", "expired"} {
		t.Run(how, func(t *testing.T) {
			aw := newAppWorld(t, nil)
			aw.mustSucceed(aw.rotateARN(aw.arn)) // the secret now has its JSON form and token_prefix
			_, before := aw.appCurrent()
			aw.healing.Store(true)
			switch how {
			case "revoked":
				if err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenDelete(aw.ctx, appOrg, aw.app.UserID, before.TokenPrefix); err != nil {
					t.Fatal(err)
				}
			case "expired":
				// Past the carried 30 days. The manager's console token (30
				// days too) expires with it: refreshManager gives it a new one.
				aw.stack.Aiven.Advance(firstAppMaxAge*time.Second + time.Second)
			}
			if _, status := aw.whoami(before.Token.Reveal()); status != http.StatusUnauthorized {
				t.Fatalf("the current token answers %d, want 401 before healing", status)
			}
			if how == "expired" {
				aw.refreshManager()
			}
			version := aw.rotateARN(aw.arn)
			aw.mustSucceed(version)
			_, after := aw.appCurrent()
			if id, status := aw.whoami(after.Token.Reveal()); status != http.StatusOK || id != aw.app.UserID {
				t.Fatalf("after healing the token is %q (HTTP %d)", id, status)
			}
			if after.PreviousTokenPrefix != before.TokenPrefix {
				t.Fatalf("previous_token_prefix %q, want the dead token's %q", after.PreviousTokenPrefix, before.TokenPrefix)
			}
			if !strings.Contains(aw.logs.String(), "heal") {
				t.Error("no log line says the rotation healed a dead token")
			}
			aw.assertNoSecretsLeaked()
		})
	}
}

// refreshManager gives the manager secret a working token again (a new
// console token of a new admin), after the clock made the old one expire.
func (aw *appWorld) refreshManager() {
	aw.t.Helper()
	admin := aw.controlUser("admin2@example.com", aivenemulator.RoleOrganizationAdmin)
	aw.putManager(aw.managerValue(admin.Token, appOrg, aw.app.UserID))
	aw.admin = admin
}

// Every error of issue 10's point 3 names the secret, the right or the
// field, and never a token; nothing changes.
func TestApplicationErrors(t *testing.T) {
	base := func(aw *appWorld) map[string]any {
		return map[string]any{"kind": "application", "token": aw.first, "organization_id": appOrg,
			"application_user_id": aw.app.UserID, "manager_secret_id": managerSecretName}
	}
	with := func(change func(aw *appWorld, v map[string]any)) func(aw *appWorld) map[string]any {
		return func(aw *appWorld) map[string]any {
			v := base(aw)
			change(aw, v)
			return v
		}
	}
	for _, tc := range []struct {
		name      string
		value     func(aw *appWorld) map[string]any
		prepare   func(aw *appWorld)
		fragments []string
	}{
		{name: "manager secret missing",
			value:     with(func(_ *appWorld, v map[string]any) { v["manager_secret_id"] = "aiven/nope" }),
			fragments: []string{"manager secret", "aiven/nope", "not found"}},
		{name: "manager secret not tagged for it",
			prepare: func(aw *appWorld) {
				aw.createSecret("aiven/untagged-admin", aw.managerValue(aw.admin.Token, appOrg, aw.app.UserID), false)
			},
			value:     with(func(_ *appWorld, v map[string]any) { v["manager_secret_id"] = "aiven/untagged-admin" }),
			fragments: []string{"manager secret", "aiven/untagged-admin", "not tagged as a manager of this stack", "aiven-token-rotator:manager=local"}},
		{name: "manager secret tagged for another stack",
			prepare: func(aw *appWorld) {
				if _, err := aw.sm.CreateSecret(aw.ctx, &secretsmanager.CreateSecretInput{
					Name: aws.String("aiven/dev-admin"), SecretString: aws.String(aw.managerValue(aw.admin.Token, appOrg, aw.app.UserID)),
					Tags: []smtypes.Tag{{Key: aws.String(rotation.ManagerTagKey), Value: aws.String("dev")}},
				}); err != nil {
					aw.t.Fatal(err)
				}
			},
			value:     with(func(_ *appWorld, v map[string]any) { v["manager_secret_id"] = "aiven/dev-admin" }),
			fragments: []string{"manager secret", "aiven/dev-admin", "not tagged as a manager of this stack"}},
		{name: "manager secret tagged only for the sweep",
			prepare: func(aw *appWorld) {
				if _, err := aw.sm.CreateSecret(aw.ctx, &secretsmanager.CreateSecretInput{
					Name: aws.String("aiven/swept-admin"), SecretString: aws.String(aw.managerValue(aw.admin.Token, appOrg, aw.app.UserID)),
					Tags: []smtypes.Tag{{Key: aws.String("aiven-token-rotator"), Value: aws.String("managed")}},
				}); err != nil {
					aw.t.Fatal(err)
				}
			},
			value:     with(func(_ *appWorld, v map[string]any) { v["manager_secret_id"] = "aiven/swept-admin" }),
			fragments: []string{"manager secret", "aiven/swept-admin", "not tagged as a manager of this stack", "makes no secret a manager"}},
		{name: "manager binds no application user (a manager secret from before bindings)",
			prepare:   func(aw *appWorld) { aw.putManager(aw.admin.Token) },
			fragments: []string{"manager secret", managerSecretName, "does not bind application user", appSecretName, `"application_tokens"`, `"secrets":["` + appSecretName + `"]`}},
		{name: "manager binds the user to another secret",
			prepare: func(aw *appWorld) {
				aw.putManager(aw.managerValue(aw.admin.Token, appOrg, aw.app.UserID, "aiven/other-ci"))
			},
			fragments: []string{"manager secret", managerSecretName, "does not bind application user", "add {"}},
		{name: "manager binding malformed",
			prepare: func(aw *appWorld) {
				aw.putManager(`{"token":"` + aw.admin.Token + `","application_tokens":{"u1":"x"}}`)
			},
			fragments: []string{"manager secret", managerSecretName, "application_tokens", "must be an array"}},
		{name: "manager secret unreadable",
			prepare:   func(aw *appWorld) { name := managerSecretName; aw.denyRead.Store(&name) },
			fragments: []string{"manager secret", managerSecretName, "AccessDenied", "aiven-token-rotator:manager"}},
		{name: "manager secret malformed",
			prepare: func(aw *appWorld) {
				if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{
					SecretId: aws.String(aw.managerARN), SecretString: aws.String(`{"kind": "personal"}`),
				}); err != nil {
					aw.t.Fatal(err)
				}
			},
			fragments: []string{"manager secret", managerSecretName, `"token"`}},
		{name: "manager secret is this secret",
			value:     with(func(_ *appWorld, v map[string]any) { v["manager_secret_id"] = appSecretName }),
			fragments: []string{"manager_secret_id", "itself"}},
		{name: "manager lacks the right",
			prepare: func(aw *appWorld) {
				// A member holding organization:app_users:write, for an
				// application user that holds a permission: 403.
				writer := aw.controlUser("writer@example.com", aivenemulator.PermissionAppUserWrite)
				privileged, err := aw.stack.Aiven.CreateApplicationUser(appOrg, "deployer", []string{"project:services:write"})
				if err != nil {
					aw.t.Fatal(err)
				}
				made, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenCreate(aw.ctx, appOrg, privileged.UserID,
					&applicationuser.ApplicationUserAccessTokenCreateIn{Description: "deployer"})
				if err != nil {
					aw.t.Fatal(err)
				}
				aw.reseedApp(map[string]any{"kind": "application", "token": made.FullToken, "organization_id": appOrg,
					"application_user_id": privileged.UserID, "manager_secret_id": managerSecretName})
				aw.putManager(aw.managerValue(writer.Token, appOrg, privileged.UserID))
			},
			fragments: []string{"403", "role:organization:admin", managerSecretName}},
		{name: "organization not found",
			value:     with(func(_ *appWorld, v map[string]any) { v["organization_id"] = "org-nope" }),
			prepare:   func(aw *appWorld) { aw.putManager(aw.managerValue(aw.admin.Token, "org-nope", aw.app.UserID)) },
			fragments: []string{"404", "org-nope"}},
		{name: "application user not found",
			value:     with(func(_ *appWorld, v map[string]any) { v["application_user_id"] = "u-nope" }),
			prepare:   func(aw *appWorld) { aw.putManager(aw.managerValue(aw.admin.Token, appOrg, "u-nope")) },
			fragments: []string{"404", "u-nope"}},
		{name: "a personal token given as kind application",
			value: with(func(aw *appWorld, v map[string]any) {
				person := aw.controlUser("person@example.com")
				v["token"] = person.Token
			}),
			fragments: []string{"personal", "kind"}},
		{name: "an application token given as kind personal",
			value:     func(aw *appWorld) map[string]any { return map[string]any{"token": aw.first} },
			fragments: []string{"application", "kind"}},
		{name: "organization_id missing",
			value:     with(func(_ *appWorld, v map[string]any) { delete(v, "organization_id") }),
			fragments: []string{"organization_id"}},
		{name: "application_user_id missing",
			value:     with(func(_ *appWorld, v map[string]any) { delete(v, "application_user_id") }),
			fragments: []string{"application_user_id"}},
		{name: "manager_secret_id missing",
			value:     with(func(_ *appWorld, v map[string]any) { delete(v, "manager_secret_id") }),
			fragments: []string{"manager_secret_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aw := newAppWorld(t, tc.value)
			if tc.prepare != nil {
				tc.prepare(aw)
			}
			aw.appFailsCleanly(tc.fragments...)
		})
	}
}

// reseedApp replaces the application secret's value.
func (aw *appWorld) reseedApp(value map[string]any) {
	aw.t.Helper()
	raw, _ := json.Marshal(value)
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(aw.arn), SecretString: aws.String(string(raw)),
	}); err != nil {
		aw.t.Fatal(err)
	}
	aw.recordAll()
}

// TestFaultInEveryCallApplication is TestFaultInEveryCall for an
// application token: each outside call of its rotation (the manager
// secret's reads included) fails in turn, once with a 500, once dropped,
// and four times in a row; the rotation must end well, with the
// invariants holding for both secrets after every step and attempt.
func TestFaultInEveryCallApplication(t *testing.T) {
	aw := newAppWorld(t, nil)
	aw.stack.SecretsManager.Faults().ResetCalls()
	aw.stack.Aiven.Faults().ResetCalls()
	aw.mustSucceed(aw.rotateARN(aw.arn))
	sm := aw.stack.SecretsManager.Faults().Calls()
	delete(sm, "RotateSecret")
	av := aw.stack.Aiven.Faults().Calls()
	t.Logf("Secrets Manager %v; Aiven %v", sm, av)

	type target struct {
		emulator string
		op       string
		nth      int
	}
	var targets []target
	for op, n := range sm {
		for k := range n {
			targets = append(targets, target{"secretsmanager", op, k})
		}
	}
	for op, n := range av {
		for k := range n {
			targets = append(targets, target{"aiven", op, k})
		}
	}
	slices.SortFunc(targets, func(a, b target) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	for _, tg := range targets {
		for _, kind := range []string{"status", "drop", "persistent"} {
			t.Run(fmt.Sprintf("%s/%s#%d/%s", tg.emulator, tg.op, tg.nth+1, kind), func(t *testing.T) {
				t.Parallel()
				aw := newAppWorld(t, nil)
				rule := faults.Rule{Operation: tg.op, After: tg.nth, Times: 1, Status: 500}
				switch kind {
				case "drop":
					rule = faults.Rule{Operation: tg.op, After: tg.nth, Times: 1, Drop: true}
				case "persistent":
					rule.Times = 4
				}
				plan := aw.stack.SecretsManager.Faults()
				if tg.emulator == "aiven" {
					plan = aw.stack.Aiven.Faults()
				}
				if err := plan.Add(rule); err != nil {
					t.Fatal(err)
				}
				version := aw.rotateARN(aw.arn)
				aw.mustSucceed(version)
				if pending := plan.Pending(); len(pending) != 0 {
					t.Fatalf("the fault was never met: %+v", pending)
				}
				gotVersion, v := aw.appCurrent()
				if gotVersion != version || v.PreviousTokenPrefix == "" || aw.stack.Aiven.Authenticates(aw.first) {
					t.Fatalf("AWSCURRENT %s (want %s), previous %q, first token still live %v", gotVersion, version, v.PreviousTokenPrefix, aw.stack.Aiven.Authenticates(aw.first))
				}
				aw.assertNoSecretsLeaked()
			})
		}
	}
}

// The configuration test (RotateImmediately=false) of an application
// secret checks the current token and the manager's right to replace it,
// and changes nothing; a dead current token fails it, saying to rotate.
func TestApplicationConfigurationTest(t *testing.T) {
	configTest := func(aw *appWorld) smemulator.RotationAttempt {
		out, err := aw.sm.RotateSecret(aw.ctx, &secretsmanager.RotateSecretInput{
			SecretId:          aws.String(aw.arn),
			RotationLambdaARN: aws.String(localstack.FunctionARN),
			RotationRules:     &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(14 days)")},
			RotateImmediately: aws.Bool(false),
		})
		if err != nil {
			t.Fatal(err)
		}
		return aw.lastAttempt(aws.ToString(out.VersionId))
	}
	t.Run("passes", func(t *testing.T) {
		aw := newAppWorld(t, nil)
		aw.stack.Aiven.Faults().ResetCalls()
		a := configTest(aw)
		if a.Outcome != "TestRotationSucceeded" {
			t.Fatalf("outcome %s: %s", a.Outcome, a.Error)
		}
		if calls := aw.stack.Aiven.Faults().Calls(); calls["UserInfo"] != 1 || calls["ApplicationUserAccessTokensList"] != 1 || len(calls) != 2 {
			t.Fatalf("Aiven calls %v, want one UserInfo (the current token) and one listing (the manager)", calls)
		}
		if live := aw.liveOf(aw.app.Email); len(live) != 1 {
			t.Fatalf("the configuration test changed tokens: %v", prefixes(live))
		}
	})
	t.Run("a dead current token fails it", func(t *testing.T) {
		aw := newAppWorld(t, nil)
		aw.healing.Store(true)
		if err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenDelete(aw.ctx, appOrg, aw.app.UserID, aw.liveOf(aw.app.Email)[0].TokenPrefix); err != nil {
			t.Fatal(err)
		}
		a := configTest(aw)
		if a.Outcome != "TestRotationFailed" || !strings.Contains(a.Error, "rotate the secret") {
			t.Fatalf("outcome %s, error %q: want a failure saying to rotate", a.Outcome, a.Error)
		}
	})
}

// I5 for application tokens: every step run twice in a row, as a retry of
// a step whose answer was lost would, ends as one run does.
func TestApplicationEveryStepTwiceIsIdempotent(t *testing.T) {
	aw := newAppWorld(t, nil, func(_ *appWorld, c *localstack.Config) {
		c.WrapRotator = func(i smemulator.Invoker) smemulator.Invoker { return twice{i} }
	})
	for range 2 {
		aw.mustSucceed(aw.rotateARN(aw.arn))
	}
	_, v := aw.appCurrent()
	if live := aw.liveOf(aw.app.Email); len(live) != 1 || live[0].TokenPrefix != v.TokenPrefix {
		t.Fatalf("live tokens %v, want only the current %s", prefixes(live), v.TokenPrefix)
	}
	aw.assertNoSecretsLeaked()
}

// TestKillDuringEveryOutsideCallApplication is TestKillDuringEveryOutsideCall
// for an application token: the built binary is killed in each outside
// call of its rotation (the manager secret's reads and the manager's
// Aiven calls included), once where the held call then lands and once
// where it fails; the rotation must end exactly as a clean one does, on
// Secrets Manager's retry served by a fresh process.
func TestKillDuringEveryOutsideCallApplication(t *testing.T) {
	bin := buildRotator(t)
	probe, _ := appKillWorld(t, bin)
	probe.stack.SecretsManager.Faults().ResetCalls()
	probe.stack.Aiven.Faults().ResetCalls()
	probe.mustSucceed(probe.rotateARN(probe.arn))
	sm := probe.stack.SecretsManager.Faults().Calls()
	delete(sm, "RotateSecret")
	calls := outsideCalls(sm, probe.stack.Aiven.Faults().Calls())
	t.Logf("kill matrix: %d outside calls × 2 = %d kills", len(calls), 2*len(calls))
	for _, call := range calls {
		for _, landing := range []string{"lands", "lost"} {
			t.Run(call.String()+"/"+landing, func(t *testing.T) {
				t.Parallel()
				appKillInCall(t, bin, call, landing == "lands")
			})
		}
	}
}

// appKillWorld is an appWorld whose rotator is the built binary under a
// respawner.
func appKillWorld(t *testing.T, bin string) (*appWorld, *respawner) {
	t.Helper()
	r := &respawner{t: t, starts: 1}
	aw := newAppWorld(t, nil, func(_ *appWorld, c *localstack.Config) {
		c.Bootstrap = bin
		c.WrapRotator = func(first smemulator.Invoker) smemulator.Invoker {
			r.cur = first.(*lambdaruntime.Function)
			return r
		}
	})
	r.start = func() (*lambdaruntime.Function, error) {
		return lambdaruntime.Start(context.Background(), bin, aw.stack.RotatorEnv().List(),
			lambdaruntime.WithOutput(aw.logs), lambdaruntime.WithFunctionARN(localstack.FunctionARN))
	}
	return aw, r
}

func appKillInCall(t *testing.T, bin string, call outsideCall, lands bool) {
	aw, fn := appKillWorld(t, bin)
	plan := aw.stack.SecretsManager.Faults()
	if call.emulator == "aiven" {
		plan = aw.stack.Aiven.Faults()
	}
	aw.stack.SecretsManager.Faults().ResetCalls()
	aw.stack.Aiven.Faults().ResetCalls()
	rule := faults.Rule{Operation: call.op, After: call.nth, Times: 1, DelayMS: heldMS}
	if !lands {
		rule.Status = 503
	}
	if err := plan.Add(rule); err != nil {
		t.Fatal(err)
	}
	arrived := plan.Arrived(call.op, call.nth+1)
	killed := make(chan error, 1)
	go func() {
		select {
		case <-arrived:
			killed <- fn.kill()
		case <-aw.ctx.Done():
			killed <- aw.ctx.Err()
		}
	}()

	version := aw.rotateARN(aw.arn)
	if err := <-killed; err != nil {
		t.Fatalf("kill: %v", err)
	}
	aw.mustSucceed(version)
	attempts := attemptsOf(aw.world, version)
	if len(attempts) < 2 || attempts[0].Outcome == smemulator.RotationSucceeded || !strings.Contains(attempts[0].Error, "killed") {
		t.Fatalf("attempts %+v: want the first to fail with the kill and a retry to succeed", attempts)
	}
	if n := fn.processes(); n != 2 {
		t.Fatalf("%d processes ran, want 2: the killed one and one fresh start", n)
	}
	if pending := plan.Pending(); len(pending) != 0 {
		t.Fatalf("the held call never came: %+v", pending)
	}
	gotVersion, v := aw.appCurrent()
	if gotVersion != version || v.PreviousTokenPrefix == "" {
		t.Fatalf("AWSCURRENT %s (want %s), previous %q", gotVersion, version, v.PreviousTokenPrefix)
	}
	if live := aw.liveOf(aw.app.Email); len(live) != 1 || live[0].TokenPrefix != v.TokenPrefix {
		t.Fatalf("I2: live tokens %v, want only the current %s", prefixes(live), v.TokenPrefix)
	}
	if aw.stack.Aiven.Authenticates(aw.first) {
		t.Fatal("the replaced application token still authenticates")
	}
	if pending, ok := aw.stack.SecretsManager.VersionByStage(aw.arn, "AWSPENDING"); ok {
		t.Fatalf("AWSPENDING left on %s", pending.VersionID)
	}
	aw.assertNoSecretsLeaked()
}
