package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

func TestStepWritesValidEMF(t *testing.T) {
	tests := []struct {
		name          string
		step          Step
		wantSucceeded float64
		wantFailed    float64
	}{
		{name: "succeeded", step: Step{Name: "finishSecret", SecretARN: "arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf", Succeeded: true, Duration: 1500 * time.Millisecond, TokensRevoked: 2, OrphansRevoked: 1}, wantSucceeded: 1},
		{name: "expires before its next rotation", step: Step{Name: "createSecret", SecretARN: "arn:x", Succeeded: true, ExpiresBeforeRotation: true}, wantSucceeded: 1},
		{name: "failed", step: Step{Name: "createSecret", SecretARN: "arn:x"}, wantFailed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := newEmitter(&buf, "prod-RotatorFunction-AbC123")
			e.now = func() time.Time { return time.UnixMilli(1700000000123) }
			if err := e.Step(tt.step); err != nil {
				t.Fatal(err)
			}
			if strings.Count(buf.String(), "\n") != 1 {
				t.Fatalf("want one line, got %q", buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			aws, ok := got["_aws"].(map[string]any)
			if !ok || aws["Timestamp"] != float64(1700000000123) {
				t.Fatalf("_aws = %v", got["_aws"])
			}
			dirs := aws["CloudWatchMetrics"].([]any)
			if len(dirs) != 1 {
				t.Fatalf("CloudWatchMetrics = %v", dirs)
			}
			d := dirs[0].(map[string]any)
			if d["Namespace"] != Namespace {
				t.Errorf("Namespace = %v", d["Namespace"])
			}
			// Per step, and the function's total over its steps.
			if dims, _ := json.Marshal(d["Dimensions"]); string(dims) != `[["FunctionName","Step"],["FunctionName"]]` {
				t.Errorf("Dimensions = %s", dims)
			}
			if got["FunctionName"] != "prod-RotatorFunction-AbC123" {
				t.Errorf("FunctionName = %v", got["FunctionName"])
			}
			// EMF: every dimension and metric named in the directive is a
			// top-level member of the line.
			units := map[string]string{}
			for _, m := range d["Metrics"].([]any) {
				m := m.(map[string]any)
				name := m["Name"].(string)
				units[name] = m["Unit"].(string)
				if _, ok := got[name].(float64); !ok {
					t.Errorf("metric %s has no numeric value", name)
				}
			}
			want := map[string]string{"StepSucceeded": "Count", "StepFailed": "Count", "StepDuration": "Milliseconds", "TokensRevoked": "Count", "OrphansRevoked": "Count", "ExpiresBeforeRotation": "Count"}
			for k, v := range want {
				if units[k] != v {
					t.Errorf("metric %s unit %q, want %q", k, units[k], v)
				}
			}
			if got["Step"] != tt.step.Name || got["SecretArn"] != tt.step.SecretARN {
				t.Errorf("Step/SecretArn = %v/%v", got["Step"], got["SecretArn"])
			}
			if got["StepSucceeded"] != tt.wantSucceeded || got["StepFailed"] != tt.wantFailed ||
				got["StepDuration"] != float64(tt.step.Duration.Milliseconds()) ||
				got["TokensRevoked"] != float64(tt.step.TokensRevoked) || got["OrphansRevoked"] != float64(tt.step.OrphansRevoked) ||
				got["ExpiresBeforeRotation"] != map[bool]float64{true: 1}[tt.step.ExpiresBeforeRotation] {
				t.Errorf("values %v", got)
			}
		})
	}
}

// New takes the function's name from the variable Lambda sets; outside
// Lambda there is none, and a step's line carries the Step dimension alone
// rather than an empty FunctionName, which CloudWatch would refuse.
func TestStepNamesTheFunctionLambdaRuns(t *testing.T) {
	for _, tc := range []struct{ function, wantDims string }{
		{"prod-RotatorFunction-AbC123", `[["FunctionName","Step"],["FunctionName"]]`},
		{"", `[["Step"]]`},
	} {
		t.Setenv(FunctionNameVariable, tc.function)
		for name, newer := range map[string]func(io.Writer) (*Emitter, error){
			"New":        func(w io.Writer) (*Emitter, error) { return New(w), nil },
			"NewAtLevel": func(w io.Writer) (*Emitter, error) { return NewAtLevel(w, "WARN") },
		} {
			var buf bytes.Buffer
			e, err := newer(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Step(Step{Name: "setSecret", Succeeded: true}); err != nil {
				t.Fatal(err)
			}
			var got struct {
				FunctionName *string
				AWS          struct {
					CloudWatchMetrics []struct{ Dimensions [][]string }
				} `json:"_aws"`
			}
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			dims, _ := json.Marshal(got.AWS.CloudWatchMetrics[0].Dimensions)
			if string(dims) != tc.wantDims {
				t.Errorf("%s with %s=%q: Dimensions %s, want %s", name, FunctionNameVariable, tc.function, dims, tc.wantDims)
			}
			if (got.FunctionName != nil) != (tc.function != "") || (got.FunctionName != nil && *got.FunctionName != tc.function) {
				t.Errorf("%s with %s=%q: line %s", name, FunctionNameVariable, tc.function, buf.String())
			}
		}
	}
}

func TestNilWriterDiscards(t *testing.T) {
	if err := New(nil).Step(Step{Name: "x"}); err != nil {
		t.Fatal(err)
	}
}

// Lambda counts a JSON line with no valid level or timestamp as INFO, and
// drops it above INFO; each line must carry both, at a level that passes.
func TestLinesCarryALevelLambdaKeeps(t *testing.T) {
	tests := []struct {
		configured string
		want       string
	}{
		{"", "INFO"},
		{"TRACE", "INFO"},
		{"DEBUG", "INFO"},
		{"INFO", "INFO"},
		{"WARN", "WARN"},
		{"ERROR", "ERROR"},
		{"FATAL", "FATAL"},
		{"warn", "WARN"},
	}
	for _, tt := range tests {
		t.Run("level "+tt.configured, func(t *testing.T) {
			var buf bytes.Buffer
			e, err := NewAtLevel(&buf, tt.configured)
			if err != nil {
				t.Fatal(err)
			}
			e.now = func() time.Time { return time.UnixMilli(1700000000123).In(time.FixedZone("x", 3600)) }
			if err := e.Step(Step{Name: "testSecret"}); err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got["level"] != tt.want {
				t.Errorf("level = %v, want %s", got["level"], tt.want)
			}
			ts, _ := got["timestamp"].(string)
			if parsed, err := time.Parse(time.RFC3339Nano, ts); err != nil || !parsed.Equal(time.UnixMilli(1700000000123)) || !strings.HasSuffix(ts, "Z") {
				t.Errorf("timestamp = %q (%v), want RFC 3339 UTC of the metric's time", ts, err)
			}
		})
	}
}

func TestNewAtLevelRejectsAnUnknownLevel(t *testing.T) {
	for _, level := range []string{"WARNING", "verbose", " INFO"} {
		_, err := NewAtLevel(&bytes.Buffer{}, level)
		if err == nil || !strings.Contains(err.Error(), "AWS_LAMBDA_LOG_LEVEL") || !strings.Contains(err.Error(), "TRACE, DEBUG, INFO, WARN, ERROR, FATAL") {
			t.Errorf("NewAtLevel(%q) err = %v, want one naming AWS_LAMBDA_LOG_LEVEL and the levels", level, err)
		}
	}
}
