package smemulator_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// The benchmarks go over loopback HTTP with the real SDK client, a
// 600-byte value (the size of the rotator's secret).
func benchEnv(b *testing.B) *secretsmanager.Client {
	srv := httptest.NewServer(smemulator.New())
	b.Cleanup(srv.Close)
	sm := sdkClient(srv.URL, false)
	if _, err := sm.CreateSecret(b.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("b"), SecretString: aws.String(strings.Repeat("t", 600))}); err != nil {
		b.Fatal(err)
	}
	return sm
}

func BenchmarkGetSecretValue(b *testing.B) {
	sm := benchEnv(b)
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("b")}
	for b.Loop() {
		if _, err := sm.GetSecretValue(b.Context(), in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutSecretValue(b *testing.B) {
	sm := benchEnv(b)
	value := aws.String(strings.Repeat("t", 600))
	for b.Loop() {
		if _, err := sm.PutSecretValue(b.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("b"), SecretString: value, VersionStages: []string{"AWSPENDING"}}); err != nil {
			b.Fatal(err)
		}
	}
}
