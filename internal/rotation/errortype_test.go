package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	codegen "github.com/aiven/go-client-codegen"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// lambdaErrorResponse is the JSON aws-lambda-go posts to the Runtime API
// for a handler's error: lambda/errors.go's lambdaErrorResponse, which
// names the error's type (the element type's name for a pointer).
func lambdaErrorResponse(err error) []byte {
	typ := reflect.TypeOf(err)
	if typ.Kind() == reflect.Ptr {
		typ = typ.Elem()
	}
	b, _ := json.Marshal(messages.InvokeResponse_Error{Message: err.Error(), Type: typ.Name()})
	return b
}

// TestLambdaErrorTypes holds the errorType cases the emulators cannot
// cause quickly or at all: an error whose text quotes the RotationToken
// (the emulators never echo a secret), which must keep its type while its
// message is redacted, and a throttled Secrets Manager. Every other case
// runs against the emulators, in errortypes_test.go.
func TestLambdaErrorTypes(t *testing.T) {
	failing := func(w *world, f func(*fakeTokens)) {
		base := w.aivenFor
		w.aivenFor = func(token string) *fakeTokens {
			tok := base(token)
			f(tok)
			return tok
		}
	}
	listFails := func(err error) func(w *world) {
		return func(w *world) {
			failing(w, func(f *fakeTokens) {
				f.list = func(context.Context) ([]aiven.Token, error) { return nil, err }
			})
		}
	}
	tests := []struct {
		name     string
		setup    func(w *world)
		payload  string // default: createSecret for v1
		ctx      func(w *world) (context.Context, context.CancelFunc)
		wantType string
		// still says what errors.Is / errors.As still find through it.
		still func(err error) bool
	}{
		{name: "rate limited, message redacted", wantType: "AivenRateLimited",
			setup: listFails(fmt.Errorf("echo %s: %w", rotationToken, codegen.Error{Status: 429, Message: "slow down"}))},
		// Through the SDK a throttled call is retried with real backoff
		// sleeps, seconds of them; the classification needs none.
		{name: "Secrets Manager throttled", wantType: "Transient", setup: func(w *world) {
			w.store.describe = func(context.Context, string) (secretsmanager.Description, error) {
				return secretsmanager.Description{}, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.seedSecret(w.seedToken("", true))
			w.startRotation("v1")
			if tt.setup != nil {
				tt.setup(w)
			}
			payload := tt.payload
			if payload == "" {
				payload = string(event(StepCreate, "v1"))
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx(w)
			}
			defer cancel()
			r := w.rotator()
			_, err := lambda.NewHandler(r.Handle).Invoke(ctx, []byte(payload))
			if err == nil {
				t.Fatal("the invocation succeeded")
			}
			var resp messages.InvokeResponse_Error
			if jerr := json.Unmarshal(lambdaErrorResponse(err), &resp); jerr != nil {
				t.Fatal(jerr)
			}
			if resp.Type != tt.wantType {
				t.Errorf("errorType %q, want %q (message %q)", resp.Type, tt.wantType, resp.Message)
			}
			if resp.Message != err.Error() || strings.Contains(resp.Message, rotationToken) {
				t.Errorf("errorMessage %q", resp.Message)
			}
			if got := errorTypeName(err); got != tt.wantType {
				t.Errorf("the log's error_type is %q, want %q", got, tt.wantType)
			}
			if !strings.Contains(w.logs.String(), `"error_type":"`+tt.wantType+`"`) {
				t.Errorf("no error_type %s in the log:\n%s", tt.wantType, w.logs.String())
			}
			if tt.still != nil && !tt.still(err) {
				t.Errorf("errors.Is/As no longer find the cause in %v", err)
			}
		})
	}
}

// The typed error keeps the step's message word for word, and callers can
// match the type itself.
func TestTypedErrorKeepsMessageAndChain(t *testing.T) {
	w := newWorld(t)
	w.seedSecret(w.seedToken("", true))
	w.startRotation("v1")
	cause := errors.New("boom")
	w.store.describe = func(context.Context, string) (secretsmanager.Description, error) {
		return secretsmanager.Description{}, cause
	}
	err := w.rotator().Handle(context.Background(), event(StepCreate, "v1"))
	if err == nil || err.Error() != "createSecret: describe secret: boom" {
		t.Fatalf("err = %v", err)
	}
	var re *RotationError
	if !errors.As(err, &re) || !errors.Is(err, cause) {
		t.Fatalf("errors.As/Is do not see through %T", err)
	}
}
