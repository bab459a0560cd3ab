package metrics

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestSweepWritesValidEMF(t *testing.T) {
	tests := []struct {
		name      string
		sweep     Sweep
		wantNames []string
	}{
		{
			name: "with ages",
			sweep: Sweep{FunctionName: "rotator", SecretsSeen: 1000, Healthy: 998, TokenInvalid: 1, RotationsStarted: 3, TokensRevoked: 5, Errors: 1, ExpiresBeforeRotation: 4, AtRisk: 2,
				OldestTokenAge: 20*24*time.Hour + 1500*time.Millisecond, HasOldest: true, SoonestExpiry: -90 * time.Second, HasSoonest: true},
			wantNames: []string{"SweepSecretsSeen", "SweepHealthy", "SweepTokenInvalid", "SweepHealed", "SweepRotationsStarted", "SweepTokensRevoked", "SweepErrors", "SweepNotReached", "SweepGraceDistrusted", "SweepStuck", "SweepStragglers", "SweepReplicaLag", "SweepExpiresBeforeRotation", "SweepAtRisk", "SweepOldestTokenAge", "SweepSoonestExpiry"},
		},
		{
			// No token reported an expiry: the metric is absent, not 0,
			// which the expiry alarm would read as "expired now".
			name:      "no ages",
			sweep:     Sweep{FunctionName: "rotator"},
			wantNames: []string{"SweepSecretsSeen", "SweepHealthy", "SweepTokenInvalid", "SweepHealed", "SweepRotationsStarted", "SweepTokensRevoked", "SweepErrors", "SweepNotReached", "SweepGraceDistrusted", "SweepStuck", "SweepStragglers", "SweepReplicaLag", "SweepExpiresBeforeRotation", "SweepAtRisk"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := New(&buf)
			e.now = func() time.Time { return time.UnixMilli(1700000000123) }
			if err := e.Sweep(tt.sweep); err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, buf.String())
			}
			var meta struct {
				Timestamp         int64
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			}
			raw, _ := json.Marshal(got["_aws"])
			if err := json.Unmarshal(raw, &meta); err != nil || meta.Timestamp != 1700000000123 || len(meta.CloudWatchMetrics) != 1 {
				t.Fatalf("_aws = %s (%v)", raw, err)
			}
			d := meta.CloudWatchMetrics[0]
			if d.Namespace != Namespace || len(d.Dimensions) != 1 || !slices.Equal(d.Dimensions[0], []string{"FunctionName"}) {
				t.Errorf("directive %+v", d)
			}
			if got["FunctionName"] != "rotator" {
				t.Errorf("FunctionName = %v", got["FunctionName"])
			}
			var names []string
			for _, m := range d.Metrics {
				names = append(names, m.Name)
				if _, ok := got[m.Name].(float64); !ok {
					t.Errorf("metric %s has no numeric value", m.Name)
				}
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("metrics %v, want %v", names, tt.wantNames)
			}
			if tt.sweep.HasSoonest && (got["SweepSoonestExpiry"] != -90.0 || got["SweepOldestTokenAge"] != float64(20*24*3600+1)) {
				t.Errorf("ages %v %v, want whole seconds", got["SweepSoonestExpiry"], got["SweepOldestTokenAge"])
			}
			if got["SweepSecretsSeen"] != float64(tt.sweep.SecretsSeen) || got["SweepTokenInvalid"] != float64(tt.sweep.TokenInvalid) ||
				got["SweepExpiresBeforeRotation"] != float64(tt.sweep.ExpiresBeforeRotation) || got["SweepAtRisk"] != float64(tt.sweep.AtRisk) {
				t.Errorf("counts %v", got)
			}
			if got["level"] != "INFO" {
				t.Errorf("level %v", got["level"])
			}
		})
	}
}

// A dry run's figures are what it would do: written as metrics they could
// fire an alarm, or clear one with the zeros of a sweep that changed
// nothing. They stay in the sweep's result and its log line.
func TestDryRunSweepWritesNoMetric(t *testing.T) {
	var buf bytes.Buffer
	if err := newEmitter(&buf, "rotator").Sweep(Sweep{FunctionName: "rotator", DryRun: true, TokenInvalid: 3, Errors: 1}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("a dry run wrote %q", buf.String())
	}
}

// Without a name of its own the sweep's line takes the emitter's, the one
// Lambda gives the function.
func TestSweepFallsBackToTheEmittersFunctionName(t *testing.T) {
	var buf bytes.Buffer
	if err := newEmitter(&buf, "prod-RotatorFunction-AbC123").Sweep(Sweep{SecretsSeen: 2}); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["FunctionName"] != "prod-RotatorFunction-AbC123" {
		t.Errorf("FunctionName = %v, want the emitter's", got["FunctionName"])
	}
}

// Every failure metric is one a line carries, under its name.
func TestFailuresAreWrittenMetrics(t *testing.T) {
	var buf bytes.Buffer
	e := newEmitter(&buf, "f")
	if err := e.Step(Step{Name: "createSecret"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Sweep(Sweep{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range Failures() {
		if !bytes.Contains(buf.Bytes(), []byte(`{"Name":"`+name+`","Unit":"Count"}`)) {
			t.Errorf("failure metric %s is in no line's directive", name)
		}
	}
}

func TestSweepNilWriterDiscards(t *testing.T) {
	if err := New(nil).Sweep(Sweep{}); err != nil {
		t.Fatal(err)
	}
}
