package deploy

// The alarms, for every sweep schedule the template allows: their periods
// follow the schedule, none clears itself for lack of data, every failure
// metric has one, and a model of CloudWatch's evaluation (below) shows that
// none flaps with the schedule and that the heartbeat fires when, and only
// when, sweeps stop.

import (
	"fmt"
	"math/rand"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
)

// stack is the template deployed with some parameters: it decides
// conditions and Fn::If as CloudFormation would.
type stack struct {
	tpl    template
	params map[string]string
}

// deployed is tpl with its parameters' defaults, then over.
func (tpl template) deployed(over map[string]string) stack {
	params := map[string]string{}
	for name, p := range tpl.Parameters {
		params[name] = fmt.Sprint(p["Default"])
		if p["Default"] == nil {
			params[name] = ""
		}
	}
	for k, v := range over {
		params[k] = v
	}
	return stack{tpl: tpl, params: params}
}

// value is a condition's operand: a parameter's value or a literal.
func (s stack) value(t *testing.T, v any) string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if name, ok := x["Ref"].(string); ok {
			if p, ok := s.params[name]; ok {
				return p
			}
		}
		if args, ok := x["Fn::Join"].([]any); ok && len(args) == 2 {
			// Only !Join ['', !Ref AList]: a list parameter's raw value.
			return strings.ReplaceAll(s.value(t, args[1]), ",", "")
		}
	}
	t.Fatalf("condition operand %v: not known to this resolver", v)
	return ""
}

// holds evaluates a condition expression.
func (s stack) holds(t *testing.T, v any) bool {
	t.Helper()
	m, _ := v.(map[string]any)
	if name, ok := m["Condition"].(string); ok && len(m) == 1 {
		return s.condition(t, name)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Equals":
			return s.value(t, args[0]) == s.value(t, args[1])
		case "Fn::Not":
			return !s.holds(t, args[0])
		case "Fn::And", "Fn::Or":
			any, all := false, true
			for _, a := range args {
				h := s.holds(t, a)
				any, all = any || h, all && h
			}
			if fn == "Fn::And" {
				return all
			}
			return any
		}
	}
	t.Fatalf("condition %v: not known to this resolver", v)
	return false
}

func (s stack) condition(t *testing.T, name string) bool {
	t.Helper()
	c, ok := s.tpl.Conditions[name]
	if !ok {
		t.Fatalf("no condition %s", name)
	}
	return s.holds(t, c)
}

// decide returns v with every Fn::If replaced by the branch taken.
func (s stack) decide(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.decide(t, e)
		}
		return out
	case map[string]any:
		if cond, then, otherwise, ok := fnIf(x); ok {
			if s.condition(t, cond) {
				return s.decide(t, then)
			}
			return s.decide(t, otherwise)
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = s.decide(t, e)
		}
		return out
	}
	return v
}

// alarms are the stack's alarms (those whose condition holds), their
// properties decided.
func (s stack) alarms(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for name, r := range s.tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" || (r.Condition != "" && !s.condition(t, r.Condition)) {
			continue
		}
		out[name] = s.decide(t, r.Properties).(map[string]any)
	}
	return out
}

var rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// interval is a rate() expression's interval (EventBridge Scheduler User
// Guide, "Schedule types": rate(value unit), unit minutes, hours or days).
func interval(t *testing.T, expr string) time.Duration {
	t.Helper()
	m := rateExpr.FindStringSubmatch(expr)
	if m == nil {
		t.Fatalf("%q is not a rate() expression", expr)
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
	if (n == 1) != !strings.HasSuffix(m[2], "s") {
		t.Errorf("%q: a value of 1 takes the singular unit, any other the plural", expr)
	}
	return time.Duration(n) * unit
}

// sweepSchedules are the schedules the template allows, but off.
func sweepSchedules(t *testing.T, tpl template) []string {
	t.Helper()
	allowed := strs(tpl.Parameters["SweepScheduleExpression"]["AllowedValues"])
	if !slices.Contains(allowed, "off") || len(allowed) < 3 {
		t.Fatalf("SweepScheduleExpression.AllowedValues = %v, want off and a few rates", allowed)
	}
	return slices.DeleteFunc(slices.Clone(allowed), func(s string) bool { return s == "off" })
}

// number reads a YAML number (an int from !If's branches, a float64 from
// goformation's JSON).
func number(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	}
	return -1
}

// model reads an alarm of the template into alarmModel; ok is false for a
// metric-math alarm other than FILL of one metric (SweepExpiryAlarm's
// division is checked by TestSweepAlarms).
func model(t *testing.T, name string, p map[string]any) (alarmModel, bool) {
	t.Helper()
	a := alarmModel{
		name:              name,
		evaluationPeriods: int(number(p["EvaluationPeriods"])),
		threshold:         number(p["Threshold"]),
		op:                fmt.Sprint(p["ComparisonOperator"]),
		missing:           fmt.Sprint(p["TreatMissingData"]),
	}
	a.datapointsToAlarm = a.evaluationPeriods
	if p["DatapointsToAlarm"] != nil {
		a.datapointsToAlarm = int(number(p["DatapointsToAlarm"]))
	}
	if p["MetricName"] != nil {
		a.metric, a.stat = fmt.Sprint(p["MetricName"]), fmt.Sprint(p["Statistic"])
		a.period = time.Duration(number(p["Period"])) * time.Second
		return a, true
	}
	queries, _ := p["Metrics"].([]any)
	var expr string
	for _, q := range queries {
		qm, _ := q.(map[string]any)
		if stat, ok := qm["MetricStat"].(map[string]any); ok {
			m, _ := stat["Metric"].(map[string]any)
			a.metric, a.stat = fmt.Sprint(m["MetricName"]), fmt.Sprint(stat["Stat"])
			a.period = time.Duration(number(stat["Period"])) * time.Second
		}
		if e, ok := qm["Expression"].(string); ok {
			expr = e
		}
	}
	if regexp.MustCompile(`^FILL\(\w+, ?0\)$`).MatchString(expr) {
		a.fill = true
		return a, true
	}
	return a, false
}

// For every allowed schedule, each sweep alarm's period is the sweep's
// interval, within CloudWatch's limits on an alarm's evaluation range, and
// the heartbeat looks at three intervals.
func TestSweepAlarmsFollowEachAllowedSchedule(t *testing.T) {
	tpl := loadTemplate(t)
	for _, schedule := range sweepSchedules(t, tpl) {
		t.Run(schedule, func(t *testing.T) {
			s := tpl.deployed(map[string]string{"SweepScheduleExpression": schedule})
			every := interval(t, schedule)
			sweepAlarms := 0
			for name, p := range s.alarms(t) {
				a, modelled := model(t, name, p)
				// PutMetricAlarm: Period × EvaluationPeriods at most seven
				// days, and at most one day for a period under an hour.
				limit := 7 * 24 * time.Hour
				if a.period < time.Hour {
					limit = 24 * time.Hour
				}
				if total := a.period * time.Duration(a.evaluationPeriods); a.period <= 0 || total > limit {
					t.Errorf("%s: period %v × %d evaluation periods: outside CloudWatch's limits", name, a.period, a.evaluationPeriods)
				}
				if tpl.Resources[name].Condition != "HasSweep" {
					continue
				}
				sweepAlarms++
				if a.period != every {
					t.Errorf("%s: period %v, want the sweep's interval %v", name, a.period, every)
				}
				if name == "SweepHeartbeatAlarm" {
					if !modelled || !a.fill || a.metric != metrics.SweepSecretsSeenMetric || a.stat != "SampleCount" || a.missing != "breaching" ||
						a.evaluationPeriods != 3 || a.datapointsToAlarm != 3 || a.op != "LessThanThreshold" || a.threshold != 1 {
						t.Errorf("SweepHeartbeatAlarm %+v, want FILL(SampleCount of %s, 0) < 1 in 3 of 3 periods, missing data breaching", a, metrics.SweepSecretsSeenMetric)
					}
					continue
				}
				if a.evaluationPeriods != 1 || a.missing != "ignore" {
					t.Errorf("%s: %d evaluation periods, missing data %q; want 1 and ignore", name, a.evaluationPeriods, a.missing)
				}
			}
			if sweepAlarms < 7 {
				t.Errorf("%d sweep alarms, want at least 7", sweepAlarms)
			}
		})
	}
	// off: no sweep, no sweep alarm.
	for name := range tpl.deployed(map[string]string{"SweepScheduleExpression": "off"}).alarms(t) {
		if tpl.Resources[name].Condition == "HasSweep" {
			t.Errorf("%s exists with the sweep off", name)
		}
	}
}

// No alarm clears itself for lack of data: missing data keeps the state,
// or (the heartbeat) is itself the failure.
func TestNoAlarmClearsForLackOfData(t *testing.T) {
	tpl := loadTemplate(t)
	for name, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		if m := r.Properties["TreatMissingData"]; m != "ignore" && m != "breaching" {
			t.Errorf("%s: TreatMissingData %v, want ignore (or breaching for a heartbeat)", name, m)
		}
	}
}

// Every metric whose non-zero value needs a person has an alarm on this
// function's series (dimension FunctionName alone, the function's total);
// StepFailed's is Lambda's own Errors, which a failed step raises too.
func TestEveryFailureMetricHasAnAlarm(t *testing.T) {
	tpl := loadTemplate(t)
	fn := []any{map[string]any{"Name": metrics.FunctionNameDimension, "Value": ref("RotatorFunction")}}
	watched := map[string]string{}
	for name, p := range tpl.deployed(nil).alarms(t) {
		type series struct{ namespace, metric, dims any }
		var all []series
		if p["MetricName"] != nil {
			all = append(all, series{p["Namespace"], p["MetricName"], p["Dimensions"]})
		}
		queries, _ := p["Metrics"].([]any)
		for _, q := range queries {
			stat, _ := q.(map[string]any)["MetricStat"].(map[string]any)
			if m, ok := stat["Metric"].(map[string]any); ok {
				all = append(all, series{m["Namespace"], m["MetricName"], m["Dimensions"]})
			}
		}
		for _, s := range all {
			if !reflect.DeepEqual(s.dims, fn) {
				t.Errorf("%s watches %v/%v by %v, want this function's series (FunctionName alone)", name, s.namespace, s.metric, s.dims)
			}
			if s.namespace == metrics.Namespace {
				watched[fmt.Sprint(s.metric)] = name
			}
		}
	}
	for _, m := range metrics.Failures() {
		if m == metrics.StepFailedMetric {
			continue // RotatorErrorsAlarm: checked by TestErrorsAlarmNotifiesTopic
		}
		if watched[m] == "" {
			t.Errorf("failure metric %s has no alarm", m)
		}
	}
}

// alarmModel is one alarm on one series, as CloudWatch evaluates it (User
// Guide, "Alarm evaluation" and "Configuring how CloudWatch alarms treat
// missing data"): each period's data points reduced by the statistic, the
// evaluation range (more periods than EvaluationPeriods) retrieved at
// every evaluation, then
//   - at least EvaluationPeriods periods with data: the most recent ones
//     decide, whatever the treatment of missing data;
//   - none: the treatment decides (ignore keeps the state, breaching is
//     ALARM, notBreaching OK);
//   - some, but fewer: missing points are filled with the treatment. The
//     guide's tables show heuristics for ignore and missing here that it
//     does not spell out: the model refuses to guess (our alarms never
//     reach this case: one evaluation period, or FILL).
//
// FILL(m, 0) gives every period of the range a value once any of them has
// data ("Metric math syntax and functions", FILL: "the latest data point
// ... to always be the FILL value").
type alarmModel struct {
	name                                 string
	metric, stat                         string
	period                               time.Duration
	evaluationPeriods, datapointsToAlarm int
	threshold                            float64
	op, missing                          string
	fill                                 bool
}

// sample is one data point a line wrote.
type sample struct {
	at    time.Time
	value float64
}

const (
	stateInsufficient = "INSUFFICIENT_DATA"
	stateOK           = "OK"
	stateAlarm        = "ALARM"
)

func (a alarmModel) breaches(v float64) bool {
	switch a.op {
	case "GreaterThanOrEqualToThreshold":
		return v >= a.threshold
	case "LessThanThreshold":
		return v < a.threshold
	}
	panic("comparison " + a.op + " not modelled")
}

func (a alarmModel) reduce(vs []float64) float64 {
	switch a.stat {
	case "SampleCount":
		return float64(len(vs))
	case "Maximum":
		return slices.Max(vs)
	case "Sum":
		var s float64
		for _, v := range vs {
			s += v
		}
		return s
	}
	panic("statistic " + a.stat + " not modelled")
}

// evaluate is the state after an evaluation at now. rangeN is the number
// of periods retrieved; partial says whether the period under way counts
// as the latest (the guide does not say).
func (a alarmModel) evaluate(t *testing.T, data []sample, now time.Time, state string, rangeN int, partial bool) string {
	t.Helper()
	latest := now.Truncate(a.period)
	if !partial {
		latest = latest.Add(-a.period)
	}
	var values []*float64 // oldest first; nil: missing
	any := false
	for i := rangeN - 1; i >= 0; i-- {
		start := latest.Add(-time.Duration(i) * a.period)
		var in []float64
		for _, d := range data {
			if !d.at.Before(start) && d.at.Before(start.Add(a.period)) && !d.at.After(now) {
				in = append(in, d.value)
			}
		}
		if len(in) == 0 {
			values = append(values, nil)
			continue
		}
		v := a.reduce(in)
		values, any = append(values, &v), true
	}
	if a.fill && any {
		for i := range values {
			if values[i] == nil {
				zero := 0.0
				values[i] = &zero
			}
		}
	}
	var real []float64
	for _, v := range values {
		if v != nil {
			real = append(real, *v)
		}
	}
	var decide []bool // breaching, for the points that decide
	switch {
	case len(real) >= a.evaluationPeriods:
		for _, v := range real[len(real)-a.evaluationPeriods:] {
			decide = append(decide, a.breaches(v))
		}
	case len(real) == 0:
		switch a.missing {
		case "ignore":
			return state
		case "breaching":
			return stateAlarm
		case "notBreaching":
			return stateOK
		}
		t.Fatalf("%s: missing data %q with no data point: not modelled", a.name, a.missing)
	default:
		if a.missing != "breaching" && a.missing != "notBreaching" {
			t.Fatalf("%s: %d of %d points with data, missing data %q: the guide leaves this undefined", a.name, len(real), a.evaluationPeriods, a.missing)
		}
		for _, v := range real {
			decide = append(decide, a.breaches(v))
		}
		for len(decide) < a.evaluationPeriods {
			decide = append(decide, a.missing == "breaching")
		}
	}
	n := 0
	for _, b := range decide {
		if b {
			n++
		}
	}
	if n >= a.datapointsToAlarm {
		return stateAlarm
	}
	return stateOK
}

// transition is one change of state in a run.
type transition struct {
	at       time.Time
	from, to string
}

// run evaluates the alarm from start to end. CloudWatch evaluates every
// minute; what it sees changes only when a data point arrives or a period
// begins, so the run evaluates at those moments (the next whole minute).
func (a alarmModel) run(t *testing.T, data []sample, start, end time.Time, rangeN int, partial bool) []transition {
	t.Helper()
	var at []time.Time
	for b := start.Truncate(a.period); b.Before(end); b = b.Add(a.period) {
		at = append(at, b)
	}
	for _, d := range data {
		at = append(at, d.at.Truncate(time.Minute).Add(time.Minute))
	}
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	state := stateInsufficient
	var out []transition
	for _, now := range slices.Compact(at) {
		if now.Before(start) || !now.Before(end) {
			continue
		}
		if next := a.evaluate(t, data, now, state, rangeN, partial); next != state {
			out = append(out, transition{now, state, next})
			state = next
		}
	}
	return out
}

// sweepLines are the data points of a sweep every interval from start:
// each writes its line after the Scheduler's up to 60 s of precision
// ("Schedule types": targets are invoked "with 60 second precision") and
// a run of up to the function's 300 s timeout. jitter picks each delay in
// that range; value is the metric's value at the k-th sweep.
func sweepLines(start time.Time, every time.Duration, n int, jitter func(k int) time.Duration, value func(k int) float64) []sample {
	var out []sample
	for k := range n {
		out = append(out, sample{start.Add(time.Duration(k)*every + jitter(k)), value(k)})
	}
	return out
}

// The jitters a sweep's data point can have: none, the most, the two
// alternating (a period left empty, the next holding two), and random.
func jitters(seed int64) map[string]func(int) time.Duration {
	const most = 360 * time.Second
	rnd := rand.New(rand.NewSource(seed))
	random := map[int]time.Duration{}
	return map[string]func(int) time.Duration{
		"on time":     func(int) time.Duration { return 0 },
		"late":        func(int) time.Duration { return most },
		"alternating": func(k int) time.Duration { return time.Duration(k%2) * most },
		"random": func(k int) time.Duration {
			if _, ok := random[k]; !ok {
				random[k] = time.Duration(rnd.Int63n(int64(most)))
			}
			return random[k]
		},
	}
}

// Each failure alarm, at every allowed schedule, whatever the sweeps'
// jitter, where they fall in a period, how far CloudWatch looks back and
// whether the period under way counts: a failure that lasts five sweeps
// raises it once and its end clears it once, no sooner than a sweep finds
// it gone; a long silence in between (sweeps throttled, say) clears
// nothing. The same model shows the template's earlier alarms (period
// 900 s, missing data not breaching) flapping at rate(1 hour), as issue 20
// reported.
func TestFailureAlarmsNeitherFlapNorClearForLackOfData(t *testing.T) {
	tpl := loadTemplate(t)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, schedule := range sweepSchedules(t, tpl) {
		every := interval(t, schedule)
		for name, p := range tpl.deployed(map[string]string{"SweepScheduleExpression": schedule}).alarms(t) {
			a, ok := model(t, name, p)
			if !ok || a.fill || tpl.Resources[name].Condition != "HasSweep" {
				continue
			}
			for jname, jitter := range jitters(int64(len(name))) {
				for _, phase := range []time.Duration{0, every / 3, every - time.Minute} {
					// The guide: more periods than EvaluationPeriods.
					for _, rangeN := range []int{a.evaluationPeriods + 1, a.evaluationPeriods + 2, a.evaluationPeriods + 4} {
						for _, partial := range []bool{true, false} {
							start := base.Add(phase)
							const failFrom, failTo, silentFrom, silentTo, n = 10, 15, 12, 14, 25
							data := sweepLines(start, every, n, jitter, func(k int) float64 {
								if k >= failFrom && k < failTo {
									return 1
								}
								return 0
							})
							data = slices.DeleteFunc(data, func(s sample) bool {
								return !s.at.Before(start.Add(silentFrom*every)) && s.at.Before(start.Add(silentTo*every))
							})
							tr := a.run(t, data, base, start.Add(n*every), rangeN, partial)
							where := fmt.Sprintf("%s at %s, %s jitter, phase %v, range %d, partial period %v", name, schedule, jname, phase, rangeN, partial)
							var into, out []transition
							for _, x := range tr {
								switch x.to {
								case stateAlarm:
									into = append(into, x)
								case stateOK:
									if x.from == stateAlarm {
										out = append(out, x)
									}
								}
							}
							if len(into) != 1 || len(out) != 1 {
								t.Fatalf("%s: %d alarms and %d clearances, want one of each: %v", where, len(into), len(out), tr)
							}
							firstBad, firstGood := data[failFrom].at, start.Add(failTo*every)
							if into[0].at.Before(firstBad) || into[0].at.After(firstBad.Add(every+time.Minute)) {
								t.Errorf("%s: raised at %v, want within an interval of the first failing sweep's line (%v)", where, into[0].at, firstBad)
							}
							if out[0].at.Before(firstGood) || out[0].at.After(firstGood.Add(2*every+7*time.Minute)) {
								t.Errorf("%s: cleared at %v, want after the first clean sweep (%v) and within two intervals", where, out[0].at, firstGood)
							}
						}
					}
				}
			}
		}
	}

	// The earlier configuration, for contrast.
	old := alarmModel{name: "SweepTokenInvalidAlarm (before)", metric: metrics.SweepTokenInvalidMetric, stat: "Maximum", period: 900 * time.Second,
		evaluationPeriods: 1, datapointsToAlarm: 1, threshold: 1, op: "GreaterThanOrEqualToThreshold", missing: "notBreaching"}
	data := sweepLines(base, time.Hour, 12, func(int) time.Duration { return 0 }, func(int) float64 { return 1 })
	into := 0
	for _, x := range old.run(t, data, base, base.Add(12*time.Hour), 1, true) {
		if x.to == stateAlarm {
			into++
		}
	}
	if into < 10 {
		t.Errorf("the earlier alarm went into ALARM %d times over 12 hourly sweeps that all found the failure; the model no longer shows the flapping", into)
	}
}

// The heartbeat, at every allowed schedule: sweeps that keep coming, with
// any jitter, never raise it once the first has reported; when they stop,
// it fires after two whole intervals without one, and within four.
func TestHeartbeatFiresWhenSweepsStopAndOnlyThen(t *testing.T) {
	tpl := loadTemplate(t)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, schedule := range sweepSchedules(t, tpl) {
		every := interval(t, schedule)
		p := tpl.deployed(map[string]string{"SweepScheduleExpression": schedule}).alarms(t)["SweepHeartbeatAlarm"]
		a, ok := model(t, "SweepHeartbeatAlarm", p)
		if !ok || !a.fill {
			t.Fatalf("SweepHeartbeatAlarm at %s: %+v, want FILL of one metric", schedule, a)
		}
		for jname, jitter := range jitters(7) {
			for _, phase := range []time.Duration{0, every / 2, every - time.Minute} {
				for _, rangeN := range []int{a.evaluationPeriods + 1, a.evaluationPeriods + 2, a.evaluationPeriods + 7} {
					for _, partial := range []bool{true, false} {
						start := base.Add(phase)
						const n = 30
						data := sweepLines(start, every, n, jitter, func(int) float64 { return 5 })
						last := data[n-1].at
						where := fmt.Sprintf("at %s, %s jitter, phase %v, range %d, partial period %v", schedule, jname, phase, rangeN, partial)
						// From the fourth sweep on: a new stack's heartbeat, with no
						// data point at all, is ALARM until the first sweep reports.
						tr := a.run(t, data, data[3].at, last.Add(5*every), rangeN, partial)
						var alarms []transition
						for _, x := range tr {
							if x.to == stateAlarm {
								alarms = append(alarms, x)
							}
						}
						if len(alarms) != 1 {
							t.Fatalf("%s: %d alarms, want one, after the sweeps stop: %v", where, len(alarms), tr)
						}
						if at := alarms[0].at; at.Before(last.Add(2*every)) || at.After(last.Add(4*every+time.Minute)) {
							t.Errorf("%s: fired %v after the last sweep's line, want between two and four intervals (%v)", where, at.Sub(last), every)
						}
					}
				}
			}
		}
	}
}
