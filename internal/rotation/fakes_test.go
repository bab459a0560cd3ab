package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	codegen "github.com/aiven/go-client-codegen"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// fakeStore is a secretStore of function fields.
type fakeStore struct {
	describe    func(ctx context.Context, secretID string) (secretsmanager.Description, error)
	getValue    func(ctx context.Context, secretID, versionID, stage string) (string, error)
	putPending  func(ctx context.Context, secretID, crt, value, rotationToken string) error
	moveCurrent func(ctx context.Context, secretID, to, from string) error
}

func (f *fakeStore) Describe(ctx context.Context, id string) (secretsmanager.Description, error) {
	return f.describe(ctx, id)
}
func (f *fakeStore) GetValue(ctx context.Context, id, v, s string) (string, error) {
	return f.getValue(ctx, id, v, s)
}
func (f *fakeStore) PutPending(ctx context.Context, id, crt, value, rt string) error {
	return f.putPending(ctx, id, crt, value, rt)
}
func (f *fakeStore) MoveCurrent(ctx context.Context, id, to, from string) error {
	return f.moveCurrent(ctx, id, to, from)
}

// fakeTokens is a tokenAPI of function fields.
type fakeTokens struct {
	me     func(ctx context.Context) (aiven.User, error)
	list   func(ctx context.Context) ([]aiven.Token, error)
	create func(ctx context.Context, r aiven.CreateRequest) (aiven.NewToken, error)
	revoke func(ctx context.Context, prefix string) (bool, error)
}

func (f *fakeTokens) Me(ctx context.Context) (aiven.User, error)            { return f.me(ctx) }
func (f *fakeTokens) ListTokens(ctx context.Context) ([]aiven.Token, error) { return f.list(ctx) }
func (f *fakeTokens) CreateToken(ctx context.Context, r aiven.CreateRequest) (aiven.NewToken, error) {
	return f.create(ctx, r)
}
func (f *fakeTokens) RevokeToken(ctx context.Context, p string) (bool, error) {
	return f.revoke(ctx, p)
}

const (
	testARN  = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/aiven-AbCdEf"
	testUser = "ops@example.com"
)

type version struct {
	value  *string
	stages []string
}

type liveToken struct {
	full        string
	description string
	user        string
	created     time.Time
	maxAge      float64
	extend      bool
	ipAllowlist []string
	scopes      []string
	revoked     bool
	manual      bool
}

// world is a small in-memory Secrets Manager secret and Aiven account that
// the fakes' default functions act on; tests replace single functions to
// inject faults.
type world struct {
	t   *testing.T
	mu  sync.Mutex
	now time.Time

	rotationEnabled bool
	versions        map[string]*version
	tokens          map[string]*liveToken // by prefix
	nextToken       int
	rotationTokens  []string // RotationToken of every PutPending
	smCalls         map[string]int
	aivenCalls      map[string]int
	apiURLs         []string

	store *fakeStore
	// aivenFor builds the fake Aiven API of one token; tests may wrap it.
	aivenFor func(token string) *fakeTokens

	logs       bytes.Buffer
	metricsOut bytes.Buffer
	cfg        Config
}

func newWorld(t *testing.T) *world {
	w := &world{
		t:               t,
		now:             time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		rotationEnabled: true,
		versions:        map[string]*version{},
		tokens:          map[string]*liveToken{},
		smCalls:         map[string]int{},
		aivenCalls:      map[string]int{},
		cfg: Config{
			DefaultAPIURL: "https://api.aiven.io",
			AllowedHosts:  []string{"api.aiven.io"},
			SafetyMargin:  time.Second,
		},
	}
	w.store = &fakeStore{describe: w.describe, getValue: w.getValue, putPending: w.putPending, moveCurrent: w.moveCurrent}
	w.aivenFor = w.defaultAiven
	return w
}

func (w *world) rotator() *Rotator {
	logger := slog.New(slog.NewJSONHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRotator(w.cfg, w.store, func(baseURL string, token secret.Token) (tokenAPI, error) {
		w.mu.Lock()
		w.apiURLs = append(w.apiURLs, baseURL)
		w.mu.Unlock()
		return w.aivenFor(token.Reveal()), nil
	}, logger, metrics.New(&w.metricsOut))
	r.now = func() time.Time { return w.now }
	return r
}

// seedToken creates a live token as Aiven would, returning its value.
func (w *world) seedToken(description string, manual bool) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.newTokenLocked(aiven.CreateRequest{Description: description, MaxAgeSeconds: ptr(2592000.0)}, manual)
}

// Prefixes hold +, / and = so that a prefix used as a value shows.
func (w *world) newTokenLocked(r aiven.CreateRequest, manual bool) string {
	w.nextToken++
	prefix := fmt.Sprintf("AVNU_%02d+/=Ab", w.nextToken)
	full := prefix + strings.Repeat(fmt.Sprintf("s%02dX", w.nextToken), 20)
	t := &liveToken{full: full, description: r.Description, user: testUser, created: w.now, manual: manual,
		ipAllowlist: r.IPAllowlist, scopes: r.Scopes}
	if r.MaxAgeSeconds != nil {
		t.maxAge = *r.MaxAgeSeconds
	}
	if r.ExtendWhenUsed != nil {
		t.extend = *r.ExtendWhenUsed
	}
	w.tokens[prefix] = t
	return full
}

func (w *world) prefixOf(full string) string {
	for p, t := range w.tokens {
		if t.full == full {
			return p
		}
	}
	return ""
}

func (w *world) live() map[string]*liveToken {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]*liveToken{}
	for p, t := range w.tokens {
		if !t.revoked {
			out[p] = t
		}
	}
	return out
}

// seedSecret makes value the AWSCURRENT version "v0".
func (w *world) seedSecret(value string) {
	w.versions["v0"] = &version{value: &value, stages: []string{secretsmanager.StageCurrent}}
}

// startRotation adds the empty AWSPENDING placeholder RotateSecret makes.
func (w *world) startRotation(id string) {
	w.versions[id] = &version{stages: []string{secretsmanager.StagePending}}
}

func (w *world) value(stage string) string {
	for _, v := range w.versions {
		if slices.Contains(v.stages, stage) && v.value != nil {
			return *v.value
		}
	}
	return ""
}

func notFound(what string) error {
	return fmt.Errorf("%w: ResourceNotFoundException: %s", secretsmanager.ErrNoValue, what)
}

func (w *world) describe(ctx context.Context, id string) (secretsmanager.Description, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.smCalls["DescribeSecret"]++
	if id != testARN {
		return secretsmanager.Description{}, errors.New("ResourceNotFoundException: no such secret")
	}
	d := secretsmanager.Description{ARN: testARN, RotationEnabled: w.rotationEnabled, Versions: map[string][]string{}}
	for vid, v := range w.versions {
		if len(v.stages) > 0 {
			d.Versions[vid] = slices.Clone(v.stages)
		}
	}
	return d, nil
}

func (w *world) getValue(ctx context.Context, id, vid, stage string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.smCalls["GetSecretValue"]++
	for k, v := range w.versions {
		if vid != "" && k != vid {
			continue
		}
		if stage != "" && !slices.Contains(v.stages, stage) {
			continue
		}
		if v.value == nil {
			return "", notFound("no value")
		}
		return *v.value, nil
	}
	return "", notFound("no such version")
}

func (w *world) putPending(ctx context.Context, id, crt, value, rt string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.smCalls["PutSecretValue"]++
	w.rotationTokens = append(w.rotationTokens, rt)
	v, ok := w.versions[crt]
	if ok && v.value != nil {
		if *v.value != value {
			return errors.New("ResourceExistsException: a version with this ClientRequestToken already exists with another value")
		}
		return nil
	}
	for _, o := range w.versions {
		o.stages = slices.DeleteFunc(o.stages, func(s string) bool { return s == secretsmanager.StagePending })
	}
	if !ok {
		v = &version{}
		w.versions[crt] = v
	}
	v.value = &value
	v.stages = append(v.stages, secretsmanager.StagePending)
	return nil
}

func (w *world) moveCurrent(ctx context.Context, id, to, from string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.smCalls["UpdateSecretVersionStage"]++
	if !slices.Contains(w.versions[from].stages, secretsmanager.StageCurrent) {
		return errors.New("InvalidParameterException: AWSCURRENT is not on RemoveFromVersionId")
	}
	for _, v := range w.versions {
		v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == stagePrevious })
	}
	w.versions[from].stages = []string{stagePrevious}
	w.versions[to].stages = append(w.versions[to].stages, secretsmanager.StageCurrent)
	return nil
}

func unauthorized() error {
	return codegen.Error{Status: 401, OperationID: "UserInfo", Message: "Missing (expired) db token"}
}

func (w *world) caller(token string) (string, *liveToken, error) {
	for p, t := range w.tokens {
		if t.full == token && !t.revoked {
			return p, t, nil
		}
	}
	return "", nil, unauthorized()
}

func (w *world) defaultAiven(token string) *fakeTokens {
	return &fakeTokens{
		me: func(ctx context.Context) (aiven.User, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.aivenCalls["UserInfo"]++
			_, t, err := w.caller(token)
			if err != nil {
				return aiven.User{}, err
			}
			return aiven.User{Email: t.user, UserID: "u1"}, nil
		},
		list: func(ctx context.Context) ([]aiven.Token, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.aivenCalls["AccessTokenList"]++
			me, _, err := w.caller(token)
			if err != nil {
				return nil, err
			}
			var out []aiven.Token
			for p, t := range w.tokens {
				if t.revoked {
					continue
				}
				out = append(out, aiven.Token{Prefix: p, Description: t.description, CurrentlyActive: p == me,
					CreateTime: t.created, MaxAgeSeconds: t.maxAge, ExtendWhenUsed: t.extend,
					IPAllowlist: t.ipAllowlist, Scopes: t.scopes})
			}
			slices.SortFunc(out, func(a, b aiven.Token) int { return strings.Compare(a.Prefix, b.Prefix) })
			return out, nil
		},
		create: func(ctx context.Context, r aiven.CreateRequest) (aiven.NewToken, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.aivenCalls["AccessTokenCreate"]++
			if _, _, err := w.caller(token); err != nil {
				return aiven.NewToken{}, err
			}
			if len(r.Description) > secret.MaxDescription {
				return aiven.NewToken{}, codegen.Error{Status: 400, Message: "description too long"}
			}
			full := w.newTokenLocked(r, false)
			p := w.prefixOf(full)
			exp := w.now.Add(30 * 24 * time.Hour)
			return aiven.NewToken{FullToken: secret.NewToken(full), Token: aiven.Token{Prefix: p, Description: r.Description, CreateTime: w.now, ExpiryTime: &exp}}, nil
		},
		revoke: func(ctx context.Context, prefix string) (bool, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.aivenCalls["AccessTokenRevoke"]++
			if _, _, err := w.caller(token); err != nil {
				return false, err
			}
			t, ok := w.tokens[prefix]
			if !ok || t.revoked {
				return false, nil
			}
			t.revoked = true
			return true, nil
		},
	}
}

func ptr[T any](v T) *T { return &v }

const rotationToken = "ROTATION-TOKEN-0123456789-sensitive"

func event(step, version string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"Step": step, "SecretId": testARN, "ClientRequestToken": version, "RotationToken": rotationToken})
	return b
}

// rotate runs the four steps in order, stopping at the first error.
func (w *world) rotate(r *Rotator, version string) error {
	for _, step := range []string{StepCreate, StepSet, StepTest, StepFinish} {
		if err := r.Handle(context.Background(), event(step, version)); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) totalSM() int {
	n := 0
	for _, c := range w.smCalls {
		n += c
	}
	return n
}

func (w *world) totalAiven() int {
	n := 0
	for _, c := range w.aivenCalls {
		n += c
	}
	return n
}

// rotatorTokens are the live tokens carrying this secret's marker.
func (w *world) rotatorTokens() []string {
	var out []string
	for p, t := range w.live() {
		if m, ok := secret.ParseMarker(t.description); ok && m.Secret == secret.SecretHash(testARN) {
			out = append(out, p)
		}
	}
	return out
}

// logLines decodes every captured log line.
func (w *world) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(w.logs.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		out = append(out, m)
	}
	return out
}

// stagePrevious is the label Secrets Manager moves along with AWSCURRENT;
// the rotator never names it.
const stagePrevious = "AWSPREVIOUS"
