package deploy

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
)

// The sweep runs on EventBridge Scheduler with {"action":"sweep"}, through
// a role of its own that may invoke this function and nothing else, and
// only when the schedule is not "off".
func TestSweepSchedule(t *testing.T) {
	tpl := loadTemplate(t)
	r := tpl.resource(t, "SweepSchedule", "AWS::Scheduler::Schedule")
	if r.Condition != "HasSweep" {
		t.Errorf("Condition = %q, want HasSweep", r.Condition)
	}
	wantCond := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("SweepScheduleExpression"), "off"}}}}
	if !reflect.DeepEqual(tpl.Conditions["HasSweep"], wantCond) {
		t.Errorf("HasSweep = %v, want %v", tpl.Conditions["HasSweep"], wantCond)
	}
	p := r.Properties
	if !reflect.DeepEqual(p["ScheduleExpression"], ref("SweepScheduleExpression")) {
		t.Errorf("ScheduleExpression = %v, want Ref SweepScheduleExpression", p["ScheduleExpression"])
	}
	if p["State"] != "ENABLED" {
		t.Errorf("State = %v, want ENABLED", p["State"])
	}
	target, _ := p["Target"].(map[string]any)
	if !isGetAtt(target["Arn"], "RotatorFunction", "Arn") || !isGetAtt(target["RoleArn"], "SweepSchedulerRole", "Arn") {
		t.Errorf("Target = %v, want RotatorFunction.Arn with SweepSchedulerRole.Arn", target)
	}
	input, _ := target["Input"].(string)
	var payload map[string]any
	if err := json.Unmarshal([]byte(input), &payload); err != nil || !reflect.DeepEqual(payload, map[string]any{"action": "sweep"}) {
		t.Errorf("Target.Input = %q (%v), want {\"action\":\"sweep\"}", input, err)
	}

	// A few rates, each with its alarm periods (alarms_test.go): cron()
	// has no fixed interval for a heartbeat to wait.
	param := tpl.Parameters["SweepScheduleExpression"]
	if param["Default"] != "rate(15 minutes)" {
		t.Errorf("SweepScheduleExpression.Default = %v, want rate(15 minutes)", param["Default"])
	}
	allowed := strs(param["AllowedValues"])
	for v, want := range map[string]bool{"off": true, "rate(15 minutes)": true, "rate(1 hour)": true, "cron(0/10 * * * ? *)": false, "": false, "15m": false, "Off": false} {
		if slices.Contains(allowed, v) != want {
			t.Errorf("SweepScheduleExpression allows %q = %v, want %v", v, !want, want)
		}
	}

	role := tpl.resource(t, "SweepSchedulerRole", "AWS::IAM::Role")
	if role.Condition != "HasSweep" {
		t.Errorf("SweepSchedulerRole.Condition = %q, want HasSweep", role.Condition)
	}
	trust, _ := json.Marshal(role.Properties["AssumeRolePolicyDocument"])
	for _, want := range []string{`"Service":"scheduler.amazonaws.com"`, `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`, `schedule-group/default`} {
		if !strings.Contains(string(trust), want) {
			t.Errorf("trust policy %s lacks %s", trust, want)
		}
	}
	policies, _ := role.Properties["Policies"].([]any)
	if len(policies) != 1 {
		t.Fatalf("SweepSchedulerRole.Policies = %v, want one", policies)
	}
	doc, _ := policies[0].(map[string]any)["PolicyDocument"].(map[string]any)
	stmts, _ := doc["Statement"].([]any)
	if len(stmts) != 1 {
		t.Fatalf("statements %v, want one", stmts)
	}
	st, _ := stmts[0].(map[string]any)
	if st["Effect"] != "Allow" || !reflect.DeepEqual(strs(st["Action"]), []string{"lambda:InvokeFunction"}) || !isGetAtt(st["Resource"], "RotatorFunction", "Arn") {
		t.Errorf("statement %v, want only lambda:InvokeFunction on RotatorFunction.Arn", st)
	}
}

// The grace and expiry settings reach the function as the Go durations it
// parses, within the bounds it enforces where a pattern can say them.
func TestGraceAndExpiryParameters(t *testing.T) {
	tpl := loadTemplate(t)
	grace := tpl.Parameters["PreviousTokenGrace"]
	if grace["Default"] != "24h" {
		t.Errorf("PreviousTokenGrace.Default = %v, want 24h (consumers caching the secret for up to an hour keep working, with a wide margin)", grace["Default"])
	}
	re := regexp.MustCompile(grace["AllowedPattern"].(string))
	for _, v := range []string{"0s", "24h", "168h", "90m", "1h30m", "5s"} {
		if !re.MatchString(v) {
			t.Errorf("PreviousTokenGrace pattern refuses %q", v)
		}
		if _, err := time.ParseDuration(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"1d", "24", "-1h", "24 h", "h"} {
		if re.MatchString(v) {
			t.Errorf("PreviousTokenGrace pattern accepts %q, which is no Go duration the function takes", v)
		}
	}
	if grace["MinLength"] != 2.0 {
		t.Errorf("PreviousTokenGrace.MinLength = %v, want 2 (the pattern alone accepts \"\")", grace["MinLength"])
	}

	expiry := tpl.Parameters["RotateBeforeExpiry"]
	if expiry["Default"] != "168h" {
		t.Errorf("RotateBeforeExpiry.Default = %v, want 168h", expiry["Default"])
	}
	re = regexp.MustCompile(expiry["AllowedPattern"].(string))
	for v, want := range map[string]bool{"168h": true, "1h": true, "720h": true, "0h": false, "7d": false, "90m": false, "168": false} {
		if re.MatchString(v) != want {
			t.Errorf("RotateBeforeExpiry pattern matches %q = %v, want %v", v, !want, want)
		}
	}

	// The default sweep comes many times within the default grace, so a
	// previous token outlives its grace by one sweep period at most.
	sweep, _ := time.ParseDuration(strings.NewReplacer("rate(", "", " minutes)", "m").Replace(tpl.Parameters["SweepScheduleExpression"]["Default"].(string)))
	g, _ := time.ParseDuration(grace["Default"].(string))
	if sweep <= 0 || sweep*4 > g {
		t.Errorf("default sweep every %v, default grace %v: want the sweep at least four times per grace", sweep, g)
	}
}

// Two alarms watch the sweep: a current token Aiven refuses, and the
// fleet's soonest expiry under half of ROTATE_BEFORE_EXPIRY.
func TestSweepAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	dim := []any{map[string]any{"Name": "FunctionName", "Value": ref("RotatorFunction")}}

	invalid := tpl.resource(t, "SweepTokenInvalidAlarm", "AWS::CloudWatch::Alarm")
	p := invalid.Properties
	for key, want := range map[string]any{
		"Namespace": metrics.Namespace, "MetricName": metrics.SweepTokenInvalidMetric, "Dimensions": dim,
		"Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "ignore",
	} {
		if !reflect.DeepEqual(p[key], want) {
			t.Errorf("SweepTokenInvalidAlarm.%s = %v, want %v", key, p[key], want)
		}
	}

	expiry := tpl.resource(t, "SweepExpiryAlarm", "AWS::CloudWatch::Alarm")
	p = expiry.Properties
	if p["Threshold"] != 0.5 || p["ComparisonOperator"] != "LessThanThreshold" {
		t.Errorf("SweepExpiryAlarm: %v %v, want LessThanThreshold 0.5 (half of ROTATE_BEFORE_EXPIRY)", p["ComparisonOperator"], p["Threshold"])
	}
	queries, _ := p["Metrics"].([]any)
	if len(queries) != 2 {
		t.Fatalf("SweepExpiryAlarm.Metrics = %v, want the metric and the fraction", queries)
	}
	stat, _ := queries[0].(map[string]any)["MetricStat"].(map[string]any)
	metric, _ := stat["Metric"].(map[string]any)
	if metric["MetricName"] != metrics.SweepSoonestExpiryMetric || !reflect.DeepEqual(metric["Dimensions"], dim) || stat["Stat"] != "Minimum" {
		t.Errorf("SweepExpiryAlarm metric %v, want Minimum of %s by FunctionName", stat, metrics.SweepSoonestExpiryMetric)
	}
	wantExpr := map[string]any{"Fn::Sub": []any{
		"soonest / (${Hours} * 3600)",
		map[string]any{"Hours": map[string]any{"Fn::Select": []any{0.0, map[string]any{"Fn::Split": []any{"h", ref("RotateBeforeExpiry")}}}}},
	}}
	fraction, _ := queries[1].(map[string]any)
	if !reflect.DeepEqual(fraction["Expression"], wantExpr) || fraction["ReturnData"] != true {
		got, _ := json.Marshal(fraction)
		t.Errorf("SweepExpiryAlarm fraction %s, want soonest / (hours of RotateBeforeExpiry * 3600)", got)
	}

	for name, r := range map[string]resource{"SweepTokenInvalidAlarm": invalid, "SweepExpiryAlarm": expiry} {
		if r.Condition != "HasSweep" {
			t.Errorf("%s.Condition = %q, want HasSweep (no sweep, no figures)", name, r.Condition)
		}
		cond, then, otherwise, ok := fnIf(r.Properties["AlarmActions"])
		actions, _ := then.([]any)
		if !ok || cond != "Notify" || !reflect.DeepEqual(otherwise, ref("AWS::NoValue")) || len(actions) != 1 || !isAlarmTopic(actions[0]) {
			t.Errorf("%s.AlarmActions = %v, want [alarm topic] when Notify", name, r.Properties["AlarmActions"])
		}
	}
}
