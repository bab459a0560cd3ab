package rotation

import (
	"context"
	"errors"
	"net"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// Kind is the kind of a failure: the errorType Lambda reports for it,
// what Step Functions, alarms and `aws lambda invoke` see. The names are
// stable (a built-binary test pins them).
type Kind string

// The kinds.
const (
	// KindConfig: the function's configuration or permissions are wrong
	// (an API host it may not call, an IAM or KMS refusal, a timeout
	// shorter than the safety margin).
	KindConfig Kind = "ConfigError"
	// KindSecretFormat: the secret's value is malformed or asks for
	// something this rotator does not do.
	KindSecretFormat Kind = "SecretFormatError"
	// KindNotRotationEnabled: the secret is not enabled for rotation.
	KindNotRotationEnabled Kind = "NotRotationEnabled"
	// KindAivenUnauthorized: Aiven rejected a token (401).
	KindAivenUnauthorized Kind = "AivenUnauthorized"
	// KindAivenForbidden: Aiven refused an operation to the token (403).
	KindAivenForbidden Kind = "AivenForbidden"
	// KindAivenRateLimited: Aiven answered 429 until the step gave up.
	KindAivenRateLimited Kind = "AivenRateLimited"
	// KindTransient: a failure another attempt may cure (a deadline, a
	// network error, a 5xx, a throttled Secrets Manager call).
	KindTransient Kind = "Transient"
	// KindEventRejected: the event is not one this function can run, or
	// names a version not in a state for its step.
	KindEventRejected Kind = "EventRejected"
	// KindRotation: any other failure.
	KindRotation Kind = "RotationError"
)

// Error is a failure with its kind. The function's own code marks a kind
// it knows with withKind; an invocation's failure leaves the handler as
// typed, its message redacted and scrubbed of token shapes, its chain
// kept for errors.Is and errors.As.
type Error struct {
	Kind Kind
	msg  string
	err  error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// WithKind marks err with the kind its maker knows, where no error value
// in its chain says it. The message is unchanged.
func WithKind(kind Kind, err error) error { return &Error{Kind: kind, msg: err.Error(), err: err} }

// Classify names the kind of a step's error, the most specific first.
func Classify(err error) Kind {
	var marked *Error
	var fe *secret.FieldError
	var apiErr smithy.APIError
	var netErr net.Error
	switch {
	case errors.As(err, &marked):
		return marked.Kind
	case errors.As(err, &fe):
		return KindSecretFormat
	case aiven.IsPolicy(err):
		return KindConfig
	case aiven.IsUnauthorized(err):
		return KindAivenUnauthorized
	case aiven.IsForbidden(err):
		return KindAivenForbidden
	case aiven.Status(err) == 429:
		return KindAivenRateLimited
	case errors.As(err, &apiErr):
		switch apiErr.ErrorCode() {
		case "AccessDeniedException", "DecryptionFailure", "KMSAccessDeniedException",
			"KMSDisabledException", "KMSInvalidStateException", "UnrecognizedClientException",
			"InvalidSignatureException", "ExpiredTokenException":
			return KindConfig
		case "InternalServiceError", "InternalFailure", "ServiceUnavailable",
			"ThrottlingException", "TooManyRequestsException", "RequestTimeout", "RequestTimeoutException":
			return KindTransient
		}
		if apiErr.ErrorFault() == smithy.FaultServer {
			return KindTransient
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), aiven.IsAmbiguous(err),
		aiven.Status(err) >= 500, errors.As(err, &netErr):
		return KindTransient
	}
	return KindRotation
}

// Typed is what an invocation returns for a failure: err (already
// redacted) with its kind, token shapes scrubbed from the message. kind
// comes from the error before redaction, whose chain a redaction loses.
func Typed(kind Kind, err error) *Error {
	return &Error{Kind: kind, msg: scrub.String(err.Error()), err: err}
}

// kindOfError is the kind an invocation's error is reported under.
func kindOfError(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindRotation
}

// LambdaError is err as the handler's outermost return gives it to
// aws-lambda-go: an InvokeResponse_Error value, whose Type aws-lambda-go
// reports as the errorType as it is (lambda/errors.go, lambdaErrorResponse:
// only that value type, unwrapped, keeps its own type; any other error is
// reported under its Go type's name). nil stays nil.
func LambdaError(err error) error {
	if err == nil {
		return nil
	}
	return messages.InvokeResponse_Error{Message: err.Error(), Type: string(kindOfError(err))}
}
