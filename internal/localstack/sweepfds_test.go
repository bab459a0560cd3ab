package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// A sweep opens one Aiven client per secret; they must share their
// connections. Lambda allows a function 1,024 file descriptors: a
// connection pool per client would hold one idle socket per secret after
// the sweep, and a fleet of a thousand would run out.
func TestSweepSharesAivenConnections(t *testing.T) {
	const secrets = 120
	bin := buildRotator(t)
	stack, err := localstack.Start(t.Context(), localstack.Config{
		SecretsManagerAddr: "127.0.0.1:0", AivenAddr: "127.0.0.1:0",
		RotatorEnv: map[string]string{"PREVIOUS_TOKEN_GRACE": "0s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	sm := stack.SecretsManagerClient()
	for i := range secrets {
		user, err := stack.Aiven.CreateUser(fmt.Sprintf("fds-%03d@example.com", i))
		if err != nil {
			t.Fatal(err)
		}
		out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("aiven/fds/%03d", i)), SecretString: aws.String(user.Token)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN)}); err != nil {
			t.Fatal(err)
		}
	}
	fn, err := lambdaruntime.Start(context.Background(), bin, stack.RotatorEnv().List(),
		lambdaruntime.WithOutput(io.Discard), lambdaruntime.WithFunctionARN(localstack.FunctionARN))
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close()
	before, err := fn.OpenFiles()
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	out, err := smemulator.Run(fn, localstack.FunctionARN, []byte(`{"action":"sweep"}`), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Secrets, Healthy int }
	if err := json.Unmarshal(out, &res); err != nil || res.Secrets != secrets || res.Healthy != secrets {
		t.Fatalf("sweep %.200s (%v)", out, err)
	}
	after, err := fn.OpenFiles()
	if err != nil {
		t.Fatal(err)
	}
	// Concurrency 8: a handful of connections to each emulator stay open.
	if grown := after - before; grown > 30 {
		t.Errorf("the sweep of %d secrets left %d more file descriptors open (%d → %d): a connection pool per secret", secrets, grown, before, after)
	}
}
