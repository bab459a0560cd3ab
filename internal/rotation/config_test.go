package rotation

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c Config) {
				if c.DefaultAPIURL != "https://api.aiven.io" || !slices.Equal(c.AllowedHosts, []string{"api.aiven.io"}) ||
					c.AllowInsecureLoopback || c.SafetyMargin != DefaultSafetyMargin || c.SecretsManagerEndpoint != "" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "the local stack",
			env: map[string]string{
				"AIVEN_WEB_URL": "http://127.0.0.1:4567", "ALLOWED_API_HOSTS": "127.0.0.1",
				"AIVEN_ALLOW_INSECURE_LOOPBACK": "true", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:4566",
			},
			check: func(t *testing.T, c Config) {
				if c.DefaultAPIURL != "http://127.0.0.1:4567" || !c.AllowInsecureLoopback || c.SecretsManagerEndpoint != "http://127.0.0.1:4566" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "host list with spaces",
			env:  map[string]string{"ALLOWED_API_HOSTS": " api.aiven.io , eu.aiven.example ,"},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.AllowedHosts, []string{"api.aiven.io", "eu.aiven.example"}) {
					t.Errorf("got %q", c.AllowedHosts)
				}
			},
		},
		{name: "bad boolean", env: map[string]string{"AIVEN_ALLOW_INSECURE_LOOPBACK": "yes please"}, wantErr: "AIVEN_ALLOW_INSECURE_LOOPBACK"},
		{name: "http default URL without the flag", env: map[string]string{"AIVEN_WEB_URL": "http://127.0.0.1:4567", "ALLOWED_API_HOSTS": "127.0.0.1"}, wantErr: "AIVEN_WEB_URL"},
		{name: "default URL on a host not allowed", env: map[string]string{"AIVEN_WEB_URL": "https://elsewhere.example"}, wantErr: "AIVEN_WEB_URL"},
		{name: "no allowed host", env: map[string]string{"ALLOWED_API_HOSTS": " , "}, wantErr: "ALLOWED_API_HOSTS"},
		// go-client-codegen parses these on every aiven.New: refused at
		// init, named, instead of failing every step at run time.
		{name: "malformed AIVEN_DEBUG", env: map[string]string{"AIVEN_DEBUG": "yes please"}, wantErr: "AIVEN_DEBUG: is not a boolean"},
		{name: "malformed AIVEN_CLIENT_RETRY_WAIT_MIN", env: map[string]string{"AIVEN_CLIENT_RETRY_WAIT_MIN": "soon"}, wantErr: "AIVEN_CLIENT_RETRY_WAIT_MIN: is not a duration"},
		{name: "well-formed AIVEN_DEBUG", env: map[string]string{"AIVEN_DEBUG": "false"}, check: func(*testing.T, Config) {}},
		{name: "bad margin", env: map[string]string{"ROTATION_SAFETY_MARGIN": "soon"}, wantErr: "ROTATION_SAFETY_MARGIN"},
		{name: "margin", env: map[string]string{"ROTATION_SAFETY_MARGIN": "7s"}, check: func(t *testing.T, c Config) {
			if c.SafetyMargin != 7*time.Second {
				t.Errorf("got %s", c.SafetyMargin)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.check == nil {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to name %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// NewFromEnv must reach Secrets Manager where getenv says, whatever the
// aws.Config's endpoint: the local stack injects it that way.
func TestNewFromEnvHonoursTheEndpointOverride(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-Amz-Target") != "secretsmanager.DescribeSecret" {
			t.Errorf("target %s", r.Header.Get("X-Amz-Target"))
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": testARN, "Name": "prod/aiven", "RotationEnabled": false})
	}))
	defer srv.Close()
	env := map[string]string{
		"AIVEN_WEB_URL": "http://127.0.0.1:4567", "ALLOWED_API_HOSTS": "127.0.0.1",
		"AIVEN_ALLOW_INSECURE_LOOPBACK": "true", "AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL,
	}
	awsCfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"), // overridden
	}
	r, err := NewFromEnv(func(k string) string { return env[k] }, awsCfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Handle(context.Background(), event(StepCreate, "v1"))
	if err == nil || !strings.Contains(err.Error(), "is not enabled for rotation") {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls reached the override endpoint", calls.Load())
	}
}

func TestNewFromEnvNamesTheBadVariable(t *testing.T) {
	_, err := NewFromEnv(func(k string) string {
		return map[string]string{"AIVEN_ALLOW_INSECURE_LOOPBACK": "maybe"}[k]
	}, aws.Config{}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "AIVEN_ALLOW_INSECURE_LOOPBACK") {
		t.Fatalf("err = %v", err)
	}
}

// go-client-codegen reads AIVEN_* from the process environment whatever
// getenv says: NewFromEnv checks that environment too, at init.
func TestNewFromEnvRefusesAMalformedAivenVariableOfTheProcess(t *testing.T) {
	t.Setenv("AIVEN_CLIENT_RETRY_MAX", "many")
	_, err := NewFromEnv(func(string) string { return "" }, aws.Config{}, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "AIVEN_CLIENT_RETRY_MAX: is not an integer") || strings.Contains(err.Error(), "many") {
		t.Fatalf("NewFromEnv: %v; want an error naming AIVEN_CLIENT_RETRY_MAX without its value", err)
	}
}
