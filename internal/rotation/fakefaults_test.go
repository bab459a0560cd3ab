package rotation

// A small fake of Secrets Manager and Aiven, of function fields, for the
// faults neither emulator's fault plan can produce. The rotation's own
// behaviour is tested against the emulators (steps_test.go, limits_test.go,
// package rotation_test); this fake serves only the tests below, whose
// every case fails at DescribeSecret, GetSecretValue or AccessTokenList,
// so it models nothing past them: storing a version, moving a stage,
// creating or revoking a token all fail loudly.
//
// Each test says why an emulator cannot express its fault: in short, a
// server answers bytes, not Go error values; the emulators never echo a
// secret and the Aiven client cuts token shapes from what Aiven says, so
// no answer reaches the rotator's redaction or scrubber uncut; and a
// throttled Secrets Manager call is retried by the SDK with real sleeps.

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
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/tokentest"
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

// world is one secret, its value in AWSCURRENT "v0" and an empty
// AWSPENDING "v1", and one Aiven user's live tokens, which the default
// functions act on.
type world struct {
	now        time.Time
	values     map[string]string   // by version id
	stages     map[string][]string // by version id
	tokens     []string
	store      *fakeStore
	aivenFor   func(token string) *fakeTokens
	logs       bytes.Buffer
	metricsOut bytes.Buffer
	cfg        Config
}

func newWorld(*testing.T) *world {
	w := &world{
		now:    time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		values: map[string]string{},
		stages: map[string][]string{},
		cfg:    Config{DefaultAPIURL: "https://api.aiven.io", AllowedHosts: []string{"api.aiven.io"}, SafetyMargin: time.Second},
	}
	w.store = &fakeStore{describe: w.describe, getValue: w.getValue}
	w.aivenFor = w.defaultAiven
	w.tokens = []string{"AVNU_01+/=Ab" + strings.Repeat("s0X", 40)}
	w.values["v0"], w.stages["v0"] = w.tokens[0], []string{secretsmanager.StageCurrent}
	w.stages["v1"] = []string{secretsmanager.StagePending} // RotateSecret's empty placeholder
	return w
}

func (w *world) rotator() *Rotator {
	logger := slog.New(slog.NewJSONHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRotator(w.cfg, w.store, func(_ string, token secret.Token) (userAPI, error) { return w.aivenFor(token.Reveal()), nil }, logger, metrics.New(&w.metricsOut))
	r.now = func() time.Time { return w.now }
	return r
}

func (w *world) describe(_ context.Context, id string) (secretsmanager.Description, error) {
	d := secretsmanager.Description{ARN: testARN, RotationEnabled: true, Versions: map[string][]string{}}
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

// TestLambdaErrorTypes holds the errorType cases no emulator can cause
// quickly or at all; every other case runs against the emulators, in
// errortypes_test.go.
func TestLambdaErrorTypes(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(w *world)
		wantType string
	}{
		// Fake: an error whose text quotes the RotationToken must keep its
		// type while its message is redacted; no server echoes the
		// event's RotationToken to Aiven's client.
		{name: "rate limited, message redacted", wantType: "AivenRateLimited", setup: func(w *world) {
			w.aivenFor = func(token string) *fakeTokens {
				f := w.defaultAiven(token)
				f.list = func(context.Context) ([]aiven.Token, error) {
					return nil, fmt.Errorf("echo %s: %w", rotationToken, codegen.Error{Status: 429, Message: "slow down"})
				}
				return f
			}
		}},
		// Fake: through the SDK a throttled call is retried with real
		// backoff sleeps, seconds of them; the classification needs none.
		{name: "Secrets Manager throttled", wantType: "Transient", setup: func(w *world) {
			w.store.describe = func(context.Context, string) (secretsmanager.Description, error) {
				return secretsmanager.Description{}, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.setup(w)
			_, err := lambda.NewHandler(w.rotator().Handle).Invoke(context.Background(), event(StepCreate, "v1"))
			if err == nil {
				t.Fatal("the invocation succeeded")
			}
			// aws-lambda-go's errorType: an InvokeResponse_Error's own Type.
			ive, ok := LambdaError(err).(messages.InvokeResponse_Error)
			if !ok || ive.Type != tt.wantType || string(kindOfError(err)) != tt.wantType {
				t.Errorf("errorType %q, log error_type %q, want %q (message %q)", ive.Type, kindOfError(err), tt.wantType, err)
			}
			if strings.Contains(err.Error(), rotationToken) || strings.Contains(w.logs.String(), rotationToken) {
				t.Errorf("the RotationToken reached the error or the log: %q", err)
			}
			if !strings.Contains(w.logs.String(), `"error_type":"`+tt.wantType+`"`) {
				t.Errorf("no error_type %s in the log:\n%s", tt.wantType, w.logs.String())
			}
		})
	}
}

// The typed error keeps the step's message word for word, and callers can
// match the type itself. Fake: errors.Is must find the very error value
// DescribeSecret failed with, and a server can only answer bytes.
func TestTypedErrorKeepsMessageAndChain(t *testing.T) {
	w := newWorld(t)
	cause := errors.New("boom")
	w.store.describe = func(context.Context, string) (secretsmanager.Description, error) {
		return secretsmanager.Description{}, cause
	}
	err := w.rotator().Handle(context.Background(), event(StepCreate, "v1"))
	if err == nil || err.Error() != "createSecret: describe secret: boom" {
		t.Fatalf("err = %v", err)
	}
	var re *Error
	if !errors.As(err, &re) || re.Kind != KindRotation || !errors.Is(err, cause) {
		t.Fatalf("errors.As/Is do not see through %T", err)
	}
}

// Every rotator log line goes through the scrubber: a token that no step
// knows of (so that redact cannot cut it), quoted in an error, never
// reaches the log. Fake: the Aiven client cuts token shapes from every
// answer on the wire itself (TestAivenErrorQuotingATokenLeaksNothing), so
// only an error made inside the process reaches the scrubber uncut.
func TestRotatorLogsAreScrubbed(t *testing.T) {
	w := newWorld(t)
	stranger := tokentest.AivenShaped(t, true)
	w.aivenFor = func(token string) *fakeTokens {
		f := w.defaultAiven(token)
		f.list = func(ctx context.Context) ([]aiven.Token, error) {
			return nil, errors.New("502 Bad Gateway: {\"full_token\":\"" + stranger + "\"}")
		}
		return f
	}
	_ = w.rotator().Handle(context.Background(), event(StepCreate, "v1"))
	if run, ok := tokentest.Leaks(w.logs.String(), stranger); ok {
		t.Fatalf("the log holds %q of a token:\n%s", run, w.logs.String())
	}
	if !strings.Contains(w.logs.String(), scrubbed) {
		t.Fatalf("the step's failure was not logged:\n%s", w.logs.String())
	}
}

const scrubbed = secret.Redacted
