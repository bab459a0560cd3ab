package secretsmanager

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// fakeSM answers awsJson1.1 requests through a handler that gets the
// operation name and the decoded body.
type fakeSM struct {
	*httptest.Server
	calls atomic.Int32
}

func newFakeSM(t *testing.T, h func(op string, body map[string]any) (int, string)) *fakeSM {
	t.Helper()
	f := &fakeSM{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("%s: body: %v", op, err)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("%s: request not signed", op)
		}
		status, out := h(op, body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(out))
	}))
	t.Cleanup(f.Close)
	return f
}

func newTestClient(f *fakeSM, o settings) *Client {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(f.URL),
	}
	if o.backoff == nil {
		o.backoff = func(int) time.Duration { return time.Millisecond }
	}
	return newClient(cfg, o)
}

const secretARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven-AbCdEf"

func TestPutPending(t *testing.T) {
	tests := []struct {
		name          string
		rotationToken string
	}{
		{name: "with RotationToken", rotationToken: "rot-token-sensitive"},
		{name: "without RotationToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSM(t, func(op string, b map[string]any) (int, string) {
				if op != "PutSecretValue" {
					t.Errorf("op %s", op)
				}
				stages, _ := b["VersionStages"].([]any)
				if len(stages) != 1 || stages[0] != "AWSPENDING" {
					t.Errorf("VersionStages = %v", b["VersionStages"])
				}
				if b["ClientRequestToken"] != "v2" || b["SecretString"] != `{"token":"x"}` || b["SecretId"] != secretARN {
					t.Errorf("body %v", b)
				}
				got, present := b["RotationToken"]
				if tt.rotationToken == "" && present || tt.rotationToken != "" && got != tt.rotationToken {
					t.Errorf("RotationToken = %v (present %v)", got, present)
				}
				return 200, `{"ARN":"` + secretARN + `","VersionId":"v2","VersionStages":["AWSPENDING"]}`
			})
			if err := newTestClient(f, settings{}).PutPending(context.Background(), secretARN, "v2", `{"token":"x"}`, tt.rotationToken); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGetValue(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		reply     string
		want      string
		wantNoVal bool
		wantErr   bool
	}{
		{name: "value", status: 200, reply: `{"SecretString":"abc","VersionId":"v1"}`, want: "abc"},
		{name: "not found", status: 400, reply: `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret value for staging label: AWSPENDING"}`, wantNoVal: true, wantErr: true},
		{name: "access denied is not 'no value'", status: 400, reply: `{"__type":"AccessDeniedException","message":"denied"}`, wantErr: true},
		{name: "binary", status: 200, reply: `{"SecretBinary":"YWJj","VersionId":"v1"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSM(t, func(op string, b map[string]any) (int, string) {
				if op != "GetSecretValue" || b["VersionId"] != "v2" || b["VersionStage"] != "AWSPENDING" {
					t.Errorf("%s %v", op, b)
				}
				return tt.status, tt.reply
			})
			got, err := newTestClient(f, settings{}).GetValue(context.Background(), secretARN, "v2", StagePending)
			if (err != nil) != tt.wantErr || errors.Is(err, ErrNoValue) != tt.wantNoVal {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestDescribeAndMoveCurrent(t *testing.T) {
	f := newFakeSM(t, func(op string, b map[string]any) (int, string) {
		switch op {
		case "DescribeSecret":
			return 200, `{"ARN":"` + secretARN + `","Name":"aiven","RotationEnabled":true,"VersionIdsToStages":{"v1":["AWSCURRENT"],"v2":["AWSPENDING"]}}`
		case "UpdateSecretVersionStage":
			if b["VersionStage"] != "AWSCURRENT" || b["MoveToVersionId"] != "v2" || b["RemoveFromVersionId"] != "v1" {
				t.Errorf("body %v", b)
			}
			return 200, `{"ARN":"` + secretARN + `","Name":"aiven"}`
		}
		t.Errorf("op %s", op)
		return 400, `{"__type":"InvalidRequestException","message":"?"}`
	})
	c := newTestClient(f, settings{})
	d, err := c.Describe(context.Background(), "aiven")
	if err != nil {
		t.Fatal(err)
	}
	if d.ARN != secretARN || !d.RotationEnabled || d.Versions["v2"][0] != "AWSPENDING" {
		t.Errorf("got %+v", d)
	}
	if err := c.MoveCurrent(context.Background(), secretARN, "v2", "v1"); err != nil {
		t.Fatal(err)
	}
}

func TestRetries(t *testing.T) {
	var n atomic.Int32
	f := newFakeSM(t, func(op string, b map[string]any) (int, string) {
		if n.Add(1) < 3 {
			return 500, `{"__type":"InternalServiceError","message":"try later"}`
		}
		return 200, `{"ARN":"` + secretARN + `","RotationEnabled":true}`
	})
	if _, err := newTestClient(f, settings{}).Describe(context.Background(), secretARN); err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != 3 {
		t.Errorf("%d calls, want 3", f.calls.Load())
	}
}

func TestRetriesStopBeforeTheDeadline(t *testing.T) {
	f := newFakeSM(t, func(op string, b map[string]any) (int, string) {
		return 503, `{"__type":"ServiceUnavailable","message":"down"}`
	})
	c := newTestClient(f, settings{maxAttempts: 50, backoff: func(int) time.Duration { return time.Hour }})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.Describe(ctx, secretARN)
	if err == nil || !strings.Contains(err.Error(), "would pass the invocation deadline") {
		t.Fatalf("err = %v", err)
	}
	if f.calls.Load() != 1 {
		t.Errorf("%d calls, want 1", f.calls.Load())
	}
}

func TestOptionsEndpointWins(t *testing.T) {
	f := newFakeSM(t, func(op string, b map[string]any) (int, string) {
		return 200, `{"ARN":"` + secretARN + `"}`
	})
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"), // nothing listens here
	}
	c := newClient(cfg, settings{Options: Options{BaseEndpoint: f.URL}, maxAttempts: 1})
	if _, err := c.Describe(context.Background(), secretARN); err != nil {
		t.Fatal(err)
	}
}
