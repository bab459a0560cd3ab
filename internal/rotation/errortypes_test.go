package rotation_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// lambdaErrorType is the errorType aws-lambda-go reports for a handler's
// error once the handler's outermost return converts it
// (rotation.LambdaError): an InvokeResponse_Error value's own Type, else
// the type's name, the element's for a pointer (lambda/errors.go).
func lambdaErrorType(err error) string {
	err = rotation.LambdaError(err)
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return ive.Type
	}
	typ := reflect.TypeOf(err)
	if typ.Kind() == reflect.Ptr {
		typ = typ.Elem()
	}
	return typ.Name()
}

// TestLambdaErrorTypesAgainstTheEmulators: each failure a real Secrets
// Manager or Aiven can cause reaches Lambda under its stable errorType, and
// errors.Is/As still find the cause. The failures only a fake can make (an
// error text quoting a secret, a bare Go error) stay in errortype_test.go.
func TestLambdaErrorTypesAgainstTheEmulators(t *testing.T) {
	tests := []struct {
		name    string
		cfg     worldConfig
		setup   func(w *world)
		payload func(w *world) []byte // default: createSecret for v1
		// timeout bounds the invocation (default 10s); margin is
		// ROTATION_SAFETY_MARGIN.
		timeout  time.Duration
		wantType string
		still    func(err error) bool
	}{
		{name: "no Step", payload: func(*world) []byte { return []byte(`{"foo":1}`) }, wantType: "EventRejected"},
		{name: "unknown step", payload: func(w *world) []byte { return event(w.arn, "rollback", v1) }, wantType: "EventRejected"},
		{name: "version not pending", payload: func(w *world) []byte { return event(w.arn, rotation.StepCreate, v3) }, wantType: "EventRejected"},
		{name: "not enabled", cfg: worldConfig{noRotation: true}, wantType: "NotRotationEnabled"},
		{name: "secret without token", cfg: worldConfig{secret: `{"user":"x"}`}, wantType: "SecretFormatError",
			still: func(err error) bool { var fe *secret.FieldError; return errors.As(err, &fe) && fe.Field == "token" }},
		{name: "application kind without its fields", cfg: worldConfig{secret: `{"token":"t0123456789","kind":"application"}`}, wantType: "SecretFormatError",
			still: func(err error) bool {
				var fe *secret.FieldError
				return errors.As(err, &fe) && fe.Field == "organization_id"
			}},
		{name: "manager secret unreadable", cfg: worldConfig{secret: `{"token":"$TOKEN","kind":"application","organization_id":"o","application_user_id":"u","manager_secret_id":"m"}`},
			setup: func(w *world) { w.smFault(faults.Rule{Operation: "DescribeSecret", After: 1, Status: 403}) }, wantType: "ConfigError"},
		{name: "timeout shorter than the margin", cfg: worldConfig{env: map[string]string{"ROTATION_SAFETY_MARGIN": "1h"}}, wantType: "ConfigError"},
		{name: "API host refused", cfg: worldConfig{secret: `{"token":"$TOKEN","api_url":"https://aiven.evil.example"}`}, wantType: "ConfigError", still: aiven.IsPolicy},
		{name: "IAM refusal", setup: func(w *world) { w.smFault(faults.Rule{Operation: "DescribeSecret", Status: 403}) }, wantType: "ConfigError"},
		{name: "current token revoked", setup: func(w *world) { w.revoke(w.user.Token, w.user.TokenPrefix) }, wantType: "AivenUnauthorized", still: aiven.IsUnauthorized},
		{name: "scope missing", setup: func(w *world) { w.aivenFault(faults.Rule{Operation: "AccessTokenList", Status: 403}) }, wantType: "AivenForbidden", still: aiven.IsForbidden},
		{name: "rate limited", setup: func(w *world) {
			w.aivenFault(faults.Rule{Operation: "AccessTokenList", Status: 429, RetryAfterSeconds: 60})
		}, wantType: "AivenRateLimited", still: func(err error) bool { return aiven.Status(err) == 429 }},
		{name: "Aiven 5xx", setup: func(w *world) { w.aivenFault(faults.Rule{Operation: "AccessTokenList", Status: 502, Times: 4}) }, wantType: "Transient"},
		{name: "deadline", cfg: worldConfig{env: map[string]string{"ROTATION_SAFETY_MARGIN": "200ms"}}, timeout: 500 * time.Millisecond,
			setup:    func(w *world) { w.smFault(faults.Rule{Operation: "DescribeSecret", DelayMS: 30000}) },
			wantType: "Transient", still: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{name: "anything else", setup: func(w *world) { w.smFault(faults.Rule{Operation: "DescribeSecret", Status: 400}) }, wantType: "RotationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // the retried cases wait out real backoff
			w := newWorld(t, tt.cfg)
			if tt.setup != nil {
				tt.setup(w)
			}
			payload := event(w.arn, rotation.StepCreate, v1)
			if tt.payload != nil {
				payload = tt.payload(w)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			if tt.name == "timeout shorter than the margin" {
				timeout = time.Minute
			}
			ctx, cancel := context.WithTimeout(w.ctx, timeout)
			defer cancel()
			_, err := lambda.NewHandler(w.r.Handle).Invoke(ctx, payload)
			if err == nil {
				t.Fatal("the invocation succeeded")
			}
			if got := lambdaErrorType(err); got != tt.wantType {
				t.Errorf("errorType %q, want %q (message %q)", got, tt.wantType, err)
			}
			if strings.Contains(err.Error(), rotationToken) || strings.Contains(err.Error(), w.user.Token) {
				t.Error("the error quotes a secret")
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
