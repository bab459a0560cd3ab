package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// held lets RotateSecret set the stage (the AWSPENDING placeholder) while
// the rotator stays out of it, so that the sample events can then drive
// the four steps themselves.
type held struct {
	inner smemulator.Invoker
	hold  atomic.Bool
}

func (h *held) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if h.hold.Load() {
		return nil, errors.New("held: the sample events run this rotation")
	}
	return h.inner.Invoke(ctx, payload)
}

// TestSampleEventsRunAgainstTheLocalStack feeds events/*.json, as they are,
// to the rotator, in the order Secrets Manager would, against a secret the
// local stack holds under the events' ARN.
func TestSampleEventsRunAgainstTheLocalStack(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "events")
	byStep := map[string][]byte{}
	var sample events.SecretsManagerSecretRotationEvent
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		raw, err := os.ReadFile(filepath.Join(dir, step+".json"))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sample); err != nil || sample.Step != step {
			t.Fatalf("%s.json: step %q, %v", step, sample.Step, err)
		}
		byStep[step] = raw
	}
	// The events name arn:...:secret:<name>-<suffix>: create that secret.
	name, suffix, ok := cutARN(sample.SecretID)
	if !ok {
		t.Fatalf("SecretId %q is not a secret ARN", sample.SecretID)
	}
	gate := &held{}
	gate.hold.Store(true)
	w := newWorldNamed(t, name, func(c *localstack.Config) {
		c.SecretsManagerOptions = append(c.SecretsManagerOptions, smemulator.WithARNSuffix(func(string) string { return suffix }), smemulator.WithMaxAttempts(1))
		c.WrapRotator = func(inner smemulator.Invoker) smemulator.Invoker { gate.inner = inner; return gate }
	})
	if w.arn != sample.SecretID {
		t.Fatalf("secret ARN %s, want the events' %s", w.arn, sample.SecretID)
	}
	if _, err := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{
		SecretId:           aws.String(w.arn),
		ClientRequestToken: aws.String(sample.ClientRequestToken),
		RotationLambdaARN:  aws.String(localstack.FunctionARN),
	}); err != nil {
		t.Fatal(err)
	}
	gate.hold.Store(false)

	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		if _, err := gate.Invoke(w.ctx, byStep[step]); err != nil {
			t.Fatalf("%s.json: %v", step, err)
		}
	}
	version, value := w.current()
	if version != sample.ClientRequestToken || value.PreviousTokenPrefix != w.user.TokenPrefix {
		t.Fatalf("after the sample events: AWSCURRENT %s (want %s), previous %q", version, sample.ClientRequestToken, value.PreviousTokenPrefix)
	}
	if live := w.liveTokens(); len(live) != 1 || live[0].TokenPrefix != value.TokenPrefix {
		t.Fatalf("live tokens %v, want only the new one", prefixes(live))
	}
	if sent := w.wire.rotationTokens(); len(sent) != 1 || sent[0] != sample.RotationToken {
		t.Fatal("PutSecretValue did not carry the event's RotationToken")
	}
}

func cutARN(arn string) (name, suffix string, ok bool) {
	_, rest, found := strings.Cut(arn, ":secret:")
	if !found || len(rest) < 8 || rest[len(rest)-7] != '-' {
		return "", "", false
	}
	return rest[:len(rest)-7], rest[len(rest)-6:], true
}
