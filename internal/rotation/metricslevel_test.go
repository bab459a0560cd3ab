package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The wiring Lambda uses must hand AWS_LAMBDA_LOG_LEVEL to the metrics, so
// that an EMF line is not filtered out at WARN and above (internal/deploy
// checks every level the template allows against a model of the filter).
func TestNewFromEnvGivesMetricsTheLambdaLogLevel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": testARN, "Name": "prod/aiven", "RotationEnabled": false})
	}))
	defer srv.Close()
	env := map[string]string{
		"AIVEN_WEB_URL": "http://127.0.0.1:4567", "ALLOWED_API_HOSTS": "127.0.0.1",
		"AIVEN_ALLOW_INSECURE_LOOPBACK": "true", "AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL,
		"AWS_LAMBDA_LOG_LEVEL": "ERROR",
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	var out bytes.Buffer
	r, err := NewFromEnv(func(k string) string { return env[k] }, awsCfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), &out)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Handle(context.Background(), event(StepCreate, "v1")) // fails: rotation not enabled; the metric is still written
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("metric line %q: %v", out.String(), err)
	}
	if line["level"] != "ERROR" || line["_aws"] == nil {
		t.Errorf("metric line %s, want an EMF line with level ERROR", strings.TrimSpace(out.String()))
	}

	env["AWS_LAMBDA_LOG_LEVEL"] = "LOUD"
	if _, err := NewFromEnv(func(k string) string { return env[k] }, awsCfg, nil, nil); err == nil || !strings.Contains(err.Error(), "AWS_LAMBDA_LOG_LEVEL") {
		t.Errorf("unknown level: err = %v, want one naming AWS_LAMBDA_LOG_LEVEL", err)
	}
}
