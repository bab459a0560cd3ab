package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
)

// lambdaLevels are the application log levels of Lambda's advanced logging
// controls, least severe first.
var lambdaLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// lambdaLevelOf models how Lambda, with LogFormat JSON, reads the level of a
// line a provided.al2023 function writes: the "level" key, any case; a
// missing or invalid level, or no valid RFC 3339 "timestamp", counts as
// INFO (docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
func lambdaLevelOf(line []byte) string {
	var rec map[string]any
	if json.Unmarshal(line, &rec) != nil {
		return "INFO"
	}
	ts, _ := rec["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return "INFO"
	}
	level, _ := rec["level"].(string)
	for _, l := range lambdaLevels {
		if strings.EqualFold(l, level) {
			return l
		}
	}
	return "INFO"
}

// lambdaKeeps reports whether Lambda sends line to CloudWatch Logs when the
// function's application log level is configured.
func lambdaKeeps(line []byte, configured string) bool {
	return slices.Index(lambdaLevels, lambdaLevelOf(line)) >= slices.Index(lambdaLevels, configured)
}

func TestLambdaFilterModel(t *testing.T) {
	const ts = `"timestamp":"2026-01-02T03:04:05.678Z"`
	for _, tc := range []struct {
		line       string
		configured string
		want       bool
	}{
		{`{"_aws":{}}`, "INFO", true},
		{`{"_aws":{}}`, "WARN", false},
		{`{"level":"ERROR","_aws":{}}`, "WARN", false}, // no timestamp: INFO
		{`{"level":"WARNING",` + ts + `}`, "WARN", false},
		{`{"level":"error",` + ts + `}`, "WARN", true},
		{`{"level":"DEBUG",` + ts + `}`, "INFO", false},
		{`{"level":"FATAL",` + ts + `}`, "FATAL", true},
	} {
		if got := lambdaKeeps([]byte(tc.line), tc.configured); got != tc.want {
			t.Errorf("at %s, keeps %s = %v, want %v", tc.configured, tc.line, got, tc.want)
		}
	}
}

// Metrics, and any alarm on them, must survive Lambda's filter at every
// level the template lets an operator choose, read from the template so the
// two cannot drift apart.
func TestMetricsSurviveEveryAllowedLogLevel(t *testing.T) {
	tpl := loadTemplate(t)
	allowed := strs(tpl.Parameters["LogLevel"]["AllowedValues"])
	if len(allowed) == 0 {
		t.Fatal("LogLevel has no AllowedValues: every level the function could get must be checked here")
	}
	var emitted []string
	for _, level := range allowed {
		if !slices.Contains(lambdaLevels, level) {
			t.Errorf("LogLevel allows %q, which Lambda does not know", level)
			continue
		}
		var out bytes.Buffer
		// NewAtLevel is what rotation.NewFromEnv wires from
		// AWS_LAMBDA_LOG_LEVEL, which Lambda sets from ApplicationLogLevel.
		e, err := metrics.NewAtLevel(&out, level)
		if err != nil {
			t.Fatalf("level %s: %v", level, err)
		}
		for _, s := range []metrics.Step{{Name: "createSecret", Succeeded: true}, {Name: "finishSecret", Succeeded: false}} {
			if err := e.Step(s); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Sweep(metrics.Sweep{FunctionName: "f", HasOldest: true, HasSoonest: true}); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(&out)
		n := 0
		for sc.Scan() {
			n++
			if !lambdaKeeps(sc.Bytes(), level) {
				t.Errorf("at LogLevel %s Lambda drops the EMF line %s (read as %s)", level, sc.Text(), lambdaLevelOf(sc.Bytes()))
			}
			emitted = append(emitted, sc.Text())
		}
		if n != 3 {
			t.Errorf("level %s: %d lines, want 3", level, n)
		}
	}

	// An alarm on the rotator's own metrics must name one the lines carry.
	var names []string
	for _, line := range emitted {
		var l struct {
			AWS struct {
				CloudWatchMetrics []struct{ Metrics []struct{ Name string } }
			} `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		for _, d := range l.AWS.CloudWatchMetrics {
			for _, m := range d.Metrics {
				if !slices.Contains(names, m.Name) {
					names = append(names, m.Name)
				}
			}
		}
	}
	for name, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		// A plain alarm names its metric; a metric-math one names each in
		// a MetricStat.
		type watched struct{ namespace, metric any }
		var ws []watched
		if r.Properties["Namespace"] != nil {
			ws = append(ws, watched{r.Properties["Namespace"], r.Properties["MetricName"]})
		}
		queries, _ := r.Properties["Metrics"].([]any)
		for _, q := range queries {
			qm, _ := q.(map[string]any)
			stat, _ := qm["MetricStat"].(map[string]any)
			m, _ := stat["Metric"].(map[string]any)
			if m != nil {
				ws = append(ws, watched{m["Namespace"], m["MetricName"]})
			}
		}
		if len(ws) == 0 {
			t.Errorf("alarm %s: no metric found in it", name)
		}
		for _, w := range ws {
			if w.namespace != metrics.Namespace {
				continue
			}
			if m, _ := w.metric.(string); !slices.Contains(names, m) {
				t.Errorf("alarm %s watches %s/%v, which no EMF line carries (%v)", name, metrics.Namespace, w.metric, names)
			}
		}
	}
}
