package rotation_test

// The world the rotation tests run in: the local stack's two emulators,
// reached by the real AWS SDK and Aiven client over loopback HTTP, and a
// rotator built the production way (rotation.NewFromEnv with the stack's
// environment). The tests drive the steps themselves through Handle, as
// Lambda would deliver Secrets Manager's events; Secrets Manager only sets
// the stage (RotateSecret's AWSPENDING placeholder) and, for the
// configuration test, invokes the function itself.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// Version ids of the rotations a test starts.
const (
	v1 = "00000000-0000-4000-8000-000000000001"
	v2 = "00000000-0000-4000-8000-000000000002"
	v3 = "00000000-0000-4000-8000-000000000003"
)

// rotationToken is the event's RotationToken: sensitive, it must reach
// PutSecretValue and nothing else.
const rotationToken = "ROTATION-TOKEN-0123456789-sensitive-0001"

// The stages as Secrets Manager names them.
const (
	stageCurrent  = "AWSCURRENT"
	stagePending  = "AWSPENDING"
	stagePrevious = "AWSPREVIOUS"
)

type world struct {
	t     *testing.T
	ctx   context.Context
	stack *localstack.Stack
	sm    *secretsmanager.Client
	user  aivenemulator.User
	arn   string

	logs, metrics syncBuffer
	// fn is what Secrets Manager invokes; nil refuses, so that RotateSecret
	// only sets the stage and the test drives the steps.
	fn     *switchInvoker
	tokens *issuedTap
	// createFault, when it returns true, lets an AccessTokenCreate take
	// effect and then drops the connection unanswered.
	createFault func() bool
	// hideFromList, when set, takes the tokens it names out of Aiven's
	// answers to AccessTokenList.
	hideFromList func(prefix string) bool
	// aivenAnswer, when it returns ok, answers an Aiven call in the
	// emulator's stead (before it sees the call): an upstream's own page.
	aivenAnswer func(r *http.Request) (status int, body string, ok bool)
	r           *rotation.Rotator
	// putRotationTokens are the RotationTokens PutSecretValue carried.
	putRotationTokens *issuedTap
}

type worldConfig struct {
	env map[string]string
	// aivenClock starts the Aiven emulator's clock this far in the past.
	aivenClock time.Duration
	// secret is the first value; default: the user's token as a plain string.
	secret string
	// secretFn, when set, makes the first value instead of secret.
	secretFn func(w *world) string
	// noRotation leaves the secret without rotation configured.
	noRotation bool
	// smMiddleware wraps the Secrets Manager emulator.
	smMiddleware func(http.Handler) http.Handler
}

// newWorld starts the stack, makes one Aiven user and a secret holding
// their token, and starts rotation v1 (an empty AWSPENDING placeholder).
func newWorld(t *testing.T, cfg worldConfig) *world {
	t.Helper()
	w := &world{t: t, ctx: t.Context(), fn: &switchInvoker{}, tokens: &issuedTap{}, putRotationTokens: &issuedTap{}}
	var aivenOpts []aivenemulator.Option
	if cfg.aivenClock > 0 {
		aivenOpts = append(aivenOpts, aivenemulator.WithClock(time.Now().Add(-cfg.aivenClock)))
	}
	stack, err := localstack.Start(w.ctx, localstack.Config{
		SecretsManagerAddr:    "127.0.0.1:0",
		AivenAddr:             "127.0.0.1:0",
		Invoker:               w.fn,
		AivenOptions:          aivenOpts,
		SecretsManagerOptions: []smemulator.Option{smemulator.WithMaxAttempts(1)},
		AivenMiddleware:       w.aivenMiddleware,
		SecretsManagerMiddleware: func(next http.Handler) http.Handler {
			if cfg.smMiddleware != nil {
				next = cfg.smMiddleware(next)
			}
			return w.smTap(next)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	w.stack, w.sm = stack, stack.SecretsManagerClient()
	if w.user, err = stack.Aiven.CreateUser("ops@example.com"); err != nil {
		t.Fatal(err)
	}
	w.tokens.add(w.user.Token)
	value := cfg.secret
	if cfg.secretFn != nil {
		value = cfg.secretFn(w)
	}
	if value == "" {
		value = w.user.Token
	}
	value = strings.ReplaceAll(value, "$TOKEN", w.user.Token)
	value = strings.ReplaceAll(value, "$AIVEN", stack.AivenURL)
	out, err := w.sm.CreateSecret(w.ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/aiven"), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	w.arn = aws.ToString(out.ARN)
	if !cfg.noRotation {
		w.startRotation(v1)
	}
	w.r = w.rotator(cfg.env)
	w.resetCalls()
	return w
}

// rotator builds a rotator as the Lambda's main does, from the stack's
// environment with env on top; it logs and emits metrics into the world.
func (w *world) rotator(env map[string]string) *rotation.Rotator {
	w.t.Helper()
	all := w.stack.RotatorEnv()
	// These tests expect the replaced token to die in finishSecret: no
	// grace period unless env asks for one.
	all["PREVIOUS_TOKEN_GRACE"] = "0s"
	for k, v := range env {
		all[k] = v
	}
	logger := slog.New(slog.NewJSONHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := rotation.NewFromEnv(all.Get, w.stack.AWSConfig(), logger, &w.metrics)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// startRotation asks Secrets Manager to rotate with version id, the
// function refusing: what is left is the rotation's empty AWSPENDING
// version, rotation enabled, for the test to drive.
func (w *world) startRotation(version string) {
	w.t.Helper()
	_, _ = w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{
		SecretId:           aws.String(w.arn),
		ClientRequestToken: aws.String(version),
		RotationLambdaARN:  aws.String(localstack.FunctionARN),
		RotationRules:      &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(14 days)")},
	})
	if v, ok := w.stack.SecretsManager.VersionByStage(w.arn, stagePending); !ok || v.VersionID != version {
		w.t.Fatalf("RotateSecret left AWSPENDING on %q, want %s", v.VersionID, version)
	}
}

func (w *world) resetCalls() {
	w.stack.SecretsManager.Faults().ResetCalls()
	w.stack.Aiven.Faults().ResetCalls()
}

func event(arn, step, version string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"Step": step, "SecretId": arn, "ClientRequestToken": version, "RotationToken": rotationToken})
	return b
}

// step runs one step of version through Handle, as Lambda delivers it.
func (w *world) step(step, version string) error {
	return w.r.Handle(w.ctx, event(w.arn, step, version))
}

// rotate runs the four steps in order, stopping at the first error.
func (w *world) rotate(version string) error {
	for _, s := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		if err := w.step(s, version); err != nil {
			return err
		}
	}
	return nil
}

// value is the secret's value at stage, read from the emulator's state
// (no call counted); "" when no version there has one.
func (w *world) value(stage string) string {
	v, ok := w.stack.SecretsManager.VersionByStage(w.arn, stage)
	if !ok {
		return ""
	}
	return v.SecretString
}

// field reads one string field of a JSON secret value.
func field(value, name string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(value), &m)
	s, _ := m[name].(string)
	return s
}

// live are the user's tokens Aiven would accept now, by prefix.
func (w *world) live() map[string]aivenemulator.TokenRecord {
	out := map[string]aivenemulator.TokenRecord{}
	for _, tok := range w.stack.Aiven.Tokens() {
		if tok.State == "live" {
			out[tok.TokenPrefix] = tok
		}
	}
	return out
}

// marked counts the live tokens carrying the marker of version.
func (w *world) marked(version string) int {
	want, _ := secret.NewMarker(w.arn, version)
	n := 0
	for _, tok := range w.live() {
		if m, ok := secret.ParseMarker(tok.Description); ok && m.SameVersion(want) {
			n++
		}
	}
	return n
}

// rotatorTokens are the live tokens carrying any marker of this secret.
func (w *world) rotatorTokens() []string {
	var out []string
	for p, tok := range w.live() {
		if m, ok := secret.ParseMarker(tok.Description); ok && m.Secret == secret.SecretHash(w.arn) {
			out = append(out, p)
		}
	}
	return out
}

func (w *world) smCalls() map[string]int    { return w.stack.SecretsManager.Faults().Calls() }
func (w *world) aivenCalls() map[string]int { return w.stack.Aiven.Faults().Calls() }

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

func (w *world) smFault(r faults.Rule) {
	w.t.Helper()
	if err := w.stack.SecretsManager.Faults().Add(r); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) aivenFault(r faults.Rule) {
	w.t.Helper()
	if err := w.stack.Aiven.Faults().Add(r); err != nil {
		w.t.Fatal(err)
	}
}

// aivenAPI calls the Aiven emulator's API with token, as a user's tool
// would, and decodes the answer into out (when not nil).
func (w *world) aivenAPI(method, path, token string, body any, out any) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(w.ctx, method, w.stack.AivenURL+path, rd)
	req.Header.Set("Authorization", "aivenv1 "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		w.t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatal(err)
		}
	}
}

// createToken makes a token through Aiven's API with the user's token and
// returns its value and prefix.
func (w *world) createToken(description string) (full, prefix string) {
	w.t.Helper()
	var out struct {
		FullToken   string `json:"full_token"`
		TokenPrefix string `json:"token_prefix"`
	}
	w.aivenAPI(http.MethodPost, "/v1/access_token", w.user.Token, map[string]any{"description": description, "max_age_seconds": 2592000}, &out)
	return out.FullToken, out.TokenPrefix
}

// revoke revokes a token by its prefix, as its owner would out of band.
func (w *world) revoke(token, prefix string) {
	w.t.Helper()
	w.aivenAPI(http.MethodDelete, "/v1/access_token/"+url.PathEscape(prefix), token, nil, nil)
}

// markedFor is a description carrying the marker of (arn, version).
func markedFor(t *testing.T, arn, version, attempt string) string {
	t.Helper()
	m, err := secret.NewMarker(arn, version)
	if err == nil && attempt != "" {
		m, err = m.ForAttempt(attempt)
	}
	if err != nil {
		t.Fatal(err)
	}
	return secret.Describe("", m)
}

// logLines decodes every captured log line.
func (w *world) logLines() []map[string]any {
	w.t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(w.logs.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			w.t.Fatalf("log line is not JSON: %s", l)
		}
		out = append(out, m)
	}
	return out
}

// metricLines decodes every EMF line.
func (w *world) metricLines() []map[string]any {
	w.t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(w.metrics.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			w.t.Fatalf("metric line is not JSON: %s", l)
		}
		out = append(out, m)
	}
	return out
}

// aivenMiddleware records every full_token the emulator hands out (the
// leak checks know every value) and applies createFault.
func (w *world) aivenMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		isCreate := r.Method == http.MethodPost && r.URL.Path == "/v1/access_token"
		// Read the body first: only then does net/http watch the
		// connection, so that a client giving up ends a held call's
		// context (the emulator's fault delay waits on it).
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if w.aivenAnswer != nil {
			if status, answer, ok := w.aivenAnswer(r); ok {
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(status)
				_, _ = io.WriteString(rw, answer)
				return
			}
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if isCreate {
			var out struct {
				FullToken string `json:"full_token"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &out) == nil && out.FullToken != "" {
				w.tokens.add(out.FullToken)
			}
			if w.createFault != nil && w.createFault() {
				// The token exists at Aiven; its value never reaches the
				// client, as when a load balancer resets the connection.
				faults.DropConnection(rw)
				return
			}
		}
		if r.Method == http.MethodGet && r.URL.Path == "/v1/access_token" && w.hideFromList != nil && rec.Code == http.StatusOK {
			var list map[string]any
			if json.Unmarshal(rec.Body.Bytes(), &list) == nil {
				all, _ := list["tokens"].([]any)
				kept := []any{}
				for _, tok := range all {
					if m, ok := tok.(map[string]any); ok {
						if p, _ := m["token_prefix"].(string); w.hideFromList(p) {
							continue
						}
					}
					kept = append(kept, tok)
				}
				list["tokens"] = kept
				b, _ := json.Marshal(list)
				rec.Body = bytes.NewBuffer(b)
				rec.Header().Del("Content-Length")
			}
		}
		for k, vs := range rec.Header() {
			rw.Header()[k] = vs
		}
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(rec.Body.Bytes())
	})
}

// smTap records the RotationToken of every PutSecretValue on the wire.
func (w *world) smTap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does net/http watch the
		// connection, so that a client giving up ends a held call.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Header.Get("X-Amz-Target") == "secretsmanager.PutSecretValue" {
			var in struct{ RotationToken string }
			if json.Unmarshal(body, &in) == nil {
				w.putRotationTokens.add(in.RotationToken)
			}
		}
		next.ServeHTTP(rw, r)
	})
}

// issuedTap holds every token value the world has seen.
type issuedTap struct {
	mu     sync.Mutex
	values []string
}

func (t *issuedTap) add(v string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.values = append(t.values, v)
}

func (t *issuedTap) all() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.values...)
}

// switchInvoker is the function Secrets Manager invokes: it refuses until
// a test sets fn.
type switchInvoker struct {
	mu sync.Mutex
	fn smemulator.Invoker
}

func (s *switchInvoker) set(r *rotation.Rotator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fn = lambda.NewHandler(r.Handle)
}

func (s *switchInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	s.mu.Lock()
	fn := s.fn
	s.mu.Unlock()
	if fn == nil {
		return nil, errors.New("held: the test drives this rotation's steps")
	}
	return fn.Invoke(ctx, payload)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
