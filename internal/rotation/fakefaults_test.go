package rotation

// A small fake of Secrets Manager and Aiven, of function fields, for the
// faults neither emulator's fault plan can produce. The rotation's own
// behaviour is tested against the emulators (steps_test.go, limits_test.go,
// package rotation_test); this fake serves only errortype_test.go and
// scrub_test.go, whose every case fails at DescribeSecret, GetSecretValue
// or AccessTokenList, so it models nothing past them: storing a version,
// moving a stage, creating or revoking a token all fail loudly.
//
// Why the emulators cannot express those tests' faults:
//   - an error value of a given Go type from inside the client
//     (aiven.PolicyError from a list, a wrapped context.DeadlineExceeded,
//     a plain errors.New) is not something a server can answer;
//   - an error whose text quotes a token or the RotationToken (the
//     redaction and the scrubber): the emulators never echo a secret, and
//     the Aiven client keeps non-JSON bodies out of its errors;
//   - AccessDenied and Throttling from DescribeSecret with no retry
//     backoff: through the SDK a throttled call is retried with real
//     sleeps.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	codegen "github.com/aiven/go-client-codegen"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

type fakeStore struct {
	describe func(ctx context.Context, secretID string) (secretsmanager.Description, error)
	getValue func(ctx context.Context, secretID, versionID, stage string) (string, error)
}

func (f *fakeStore) Describe(ctx context.Context, id string) (secretsmanager.Description, error) {
	return f.describe(ctx, id)
}
func (f *fakeStore) GetValue(ctx context.Context, id, v, s string) (string, error) {
	return f.getValue(ctx, id, v, s)
}
func (f *fakeStore) PutPending(context.Context, string, string, string, string) error {
	return errors.New("fake: PutSecretValue is not modelled")
}
func (f *fakeStore) MoveCurrent(context.Context, string, string, string) error {
	return errors.New("fake: UpdateSecretVersionStage is not modelled")
}

type fakeTokens struct {
	me   func(ctx context.Context) (aiven.User, error)
	list func(ctx context.Context) ([]aiven.Token, error)
}

func (f *fakeTokens) Me(ctx context.Context) (aiven.User, error)            { return f.me(ctx) }
func (f *fakeTokens) ListTokens(ctx context.Context) ([]aiven.Token, error) { return f.list(ctx) }
func (f *fakeTokens) CreateToken(context.Context, aiven.CreateRequest) (aiven.NewToken, error) {
	return aiven.NewToken{}, errors.New("fake: AccessTokenCreate is not modelled")
}
func (f *fakeTokens) RevokeToken(context.Context, string) (bool, error) {
	return false, errors.New("fake: AccessTokenRevoke is not modelled")
}

const testARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/aiven-AbCdEf"

const rotationToken = "ROTATION-TOKEN-0123456789-sensitive"

// world is one secret (versions by id, with their stages) and one Aiven
// user's live tokens, which the default functions act on.
type world struct {
	now             time.Time
	rotationEnabled bool
	values          map[string]string   // by version id
	stages          map[string][]string // by version id
	tokens          []string
	store           *fakeStore
	aivenFor        func(token string) *fakeTokens
	logs            bytes.Buffer
	metricsOut      bytes.Buffer
	cfg             Config
}

func newWorld(t *testing.T) *world {
	w := &world{
		now:             time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		rotationEnabled: true,
		values:          map[string]string{},
		stages:          map[string][]string{},
		cfg:             Config{DefaultAPIURL: "https://api.aiven.io", AllowedHosts: []string{"api.aiven.io"}, SafetyMargin: time.Second},
	}
	w.store = &fakeStore{describe: w.describe, getValue: w.getValue}
	w.aivenFor = w.defaultAiven
	return w
}

func (w *world) rotator() *Rotator {
	logger := slog.New(slog.NewJSONHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRotator(w.cfg, w.store, func(_, token string) (tokenAPI, error) { return w.aivenFor(token), nil }, logger, metrics.New(&w.metricsOut))
	r.now = func() time.Time { return w.now }
	return r
}

// seedToken makes a live token and returns its value.
func (w *world) seedToken(string, bool) string {
	tok := fmt.Sprintf("AVNU_%02d+/=Ab", len(w.tokens)+1) + strings.Repeat("s0X", 40)
	w.tokens = append(w.tokens, tok)
	return tok
}

// seedSecret makes value the AWSCURRENT version "v0".
func (w *world) seedSecret(value string) {
	w.values["v0"], w.stages["v0"] = value, []string{secretsmanager.StageCurrent}
}

// startRotation adds the empty AWSPENDING placeholder RotateSecret makes.
func (w *world) startRotation(id string) { w.stages[id] = []string{secretsmanager.StagePending} }

func (w *world) describe(_ context.Context, id string) (secretsmanager.Description, error) {
	d := secretsmanager.Description{ARN: testARN, Name: "prod/aiven", RotationEnabled: w.rotationEnabled, Versions: map[string][]string{}}
	for v, s := range w.stages {
		d.Versions[v] = slices.Clone(s)
	}
	return d, nil
}

func (w *world) getValue(_ context.Context, _, vid, stage string) (string, error) {
	for v, s := range w.stages {
		if (vid == "" || v == vid) && (stage == "" || slices.Contains(s, stage)) {
			if val, ok := w.values[v]; ok {
				return val, nil
			}
		}
	}
	return "", fmt.Errorf("%w: ResourceNotFoundException", secretsmanager.ErrNoValue)
}

func unauthorized() error {
	return codegen.Error{Status: 401, OperationID: "UserInfo", Message: "Missing (expired) db token"}
}

func (w *world) defaultAiven(token string) *fakeTokens {
	known := slices.Contains(w.tokens, token)
	return &fakeTokens{
		me: func(context.Context) (aiven.User, error) {
			if !known {
				return aiven.User{}, unauthorized()
			}
			return aiven.User{Email: "ops@example.com", UserID: "u1"}, nil
		},
		list: func(context.Context) ([]aiven.Token, error) {
			if !known {
				return nil, unauthorized()
			}
			var out []aiven.Token
			for _, tok := range w.tokens {
				out = append(out, aiven.Token{Prefix: tok[:12], CurrentlyActive: tok == token, CreateTime: w.now})
			}
			return out, nil
		},
	}
}

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
