package localstack_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

// The built binary's failures reach the Runtime API with the rotator's own
// errorType, not Go's internal *fmt.wrapError: what `aws lambda invoke`,
// Step Functions and alarms see.
func TestBuiltBinaryReportsStableErrorTypes(t *testing.T) {
	bin := buildRotator(t)
	stack, err := localstack.Start(t.Context(), localstack.Config{
		SecretsManagerAddr: "127.0.0.1:0", AivenAddr: "127.0.0.1:0", Bootstrap: bin,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	out, err := stack.SecretsManagerClient().CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("not-rotated"), SecretString: aws.String("a-token-value-0123456789"),
	})
	if err != nil {
		t.Fatal(err)
	}
	notEnabled, _ := json.Marshal(map[string]string{"Step": "createSecret", "SecretId": *out.ARN, "ClientRequestToken": *out.VersionId})
	for _, tt := range []struct{ name, payload, want string }{
		{"not a rotation event", `{"foo":1}`, "EventRejected"},
		{"secret not enabled for rotation", string(notEnabled), "NotRotationEnabled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stack.Rotator.Invoke(t.Context(), []byte(tt.payload))
			var fe *lambdaruntime.FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want the function's error", err)
			}
			if fe.Type != tt.want {
				t.Fatalf("errorType %q, want %q (%s)", fe.Type, tt.want, fe.Message)
			}
		})
	}
}
