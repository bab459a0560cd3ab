package rotation

import (
	"context"
	"errors"
	"net"

	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// The errors Handle returns. aws-lambda-go reports the name of a returned
// error's type as errorType (lambda/errors.go: reflect.TypeOf(err), its
// Elem().Name() for a pointer), so each kind is its own type and the name
// is what Step Functions, alarms and `aws lambda invoke` see. Each wraps
// the step's error: errors.Is and errors.As reach what they did before.
// The message is the step's redacted error, scrubbed of token shapes.
type (
	// ConfigError: the function's configuration or permissions are wrong
	// (an API host it may not call, an IAM or KMS refusal, a timeout
	// shorter than the safety margin).
	ConfigError struct{ *rotationError }
	// SecretFormatError: the secret's value is malformed or asks for
	// something this rotator does not do.
	SecretFormatError struct{ *rotationError }
	// NotRotationEnabled: the secret is not enabled for rotation.
	NotRotationEnabled struct{ *rotationError }
	// AivenUnauthorized: Aiven rejected a token (401).
	AivenUnauthorized struct{ *rotationError }
	// AivenForbidden: Aiven refused an operation to the token (403).
	AivenForbidden struct{ *rotationError }
	// AivenRateLimited: Aiven answered 429 until the step gave up.
	AivenRateLimited struct{ *rotationError }
	// Transient: a failure another attempt may cure (a deadline, a
	// network error, a 5xx, a throttled Secrets Manager call).
	Transient struct{ *rotationError }
	// EventRejected: the event is not a rotation event this function can
	// run, or names a version not in a state for its step.
	EventRejected struct{ *rotationError }
	// RotationError: any other failure.
	RotationError struct{ *rotationError }
)

// rotationError is the message and the chain every kind shares.
type rotationError struct {
	msg string
	err error
}

func (e *rotationError) Error() string { return e.msg }
func (e *rotationError) Unwrap() error { return e.err }

// errorKind names a kind before its type is chosen.
type errorKind int

const (
	kindRotation errorKind = iota
	kindConfig
	kindSecretFormat
	kindNotRotationEnabled
	kindAivenUnauthorized
	kindAivenForbidden
	kindAivenRateLimited
	kindTransient
	kindEventRejected
)

// kindTag marks an error whose kind its maker knows, where no error value
// in its chain says it. The message is unchanged.
type kindTag struct {
	kind errorKind
	err  error
}

func (t *kindTag) Error() string { return t.err.Error() }
func (t *kindTag) Unwrap() error { return t.err }

func tagKind(kind errorKind, err error) error { return &kindTag{kind: kind, err: err} }

// classify names the kind of a step's error, the most specific first.
func classify(err error) errorKind {
	var tag *kindTag
	var fe *secret.FieldError
	var apiErr smithy.APIError
	var netErr net.Error
	switch {
	case errors.As(err, &tag):
		return tag.kind
	case errors.As(err, &fe):
		return kindSecretFormat
	case aiven.IsPolicy(err):
		return kindConfig
	case aiven.IsUnauthorized(err):
		return kindAivenUnauthorized
	case aiven.IsForbidden(err):
		return kindAivenForbidden
	case aiven.Status(err) == 429:
		return kindAivenRateLimited
	case errors.As(err, &apiErr):
		switch apiErr.ErrorCode() {
		case "AccessDeniedException", "DecryptionFailure", "KMSAccessDeniedException",
			"KMSDisabledException", "KMSInvalidStateException", "UnrecognizedClientException",
			"InvalidSignatureException", "ExpiredTokenException":
			return kindConfig
		case "InternalServiceError", "InternalFailure", "ServiceUnavailable",
			"ThrottlingException", "TooManyRequestsException", "RequestTimeout", "RequestTimeoutException":
			return kindTransient
		}
		if apiErr.ErrorFault() == smithy.FaultServer {
			return kindTransient
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), aiven.IsAmbiguous(err),
		aiven.Status(err) >= 500, errors.As(err, &netErr):
		return kindTransient
	}
	return kindRotation
}

// typed is what Handle returns for a step's failure: err (already
// redacted), under its kind's type, with token shapes scrubbed from the
// message. kind comes from the error before redaction, whose chain a
// redaction loses.
func typed(kind errorKind, err error) error {
	base := &rotationError{msg: scrubString(err.Error()), err: err}
	switch kind {
	case kindConfig:
		return &ConfigError{base}
	case kindSecretFormat:
		return &SecretFormatError{base}
	case kindNotRotationEnabled:
		return &NotRotationEnabled{base}
	case kindAivenUnauthorized:
		return &AivenUnauthorized{base}
	case kindAivenForbidden:
		return &AivenForbidden{base}
	case kindAivenRateLimited:
		return &AivenRateLimited{base}
	case kindTransient:
		return &Transient{base}
	case kindEventRejected:
		return &EventRejected{base}
	default:
		return &RotationError{base}
	}
}

// errorTypeName is the errorType Lambda reports for a typed error.
func errorTypeName(err error) string {
	switch err.(type) {
	case *ConfigError:
		return "ConfigError"
	case *SecretFormatError:
		return "SecretFormatError"
	case *NotRotationEnabled:
		return "NotRotationEnabled"
	case *AivenUnauthorized:
		return "AivenUnauthorized"
	case *AivenForbidden:
		return "AivenForbidden"
	case *AivenRateLimited:
		return "AivenRateLimited"
	case *Transient:
		return "Transient"
	case *EventRejected:
		return "EventRejected"
	default:
		return "RotationError"
	}
}
