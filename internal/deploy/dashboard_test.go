package deploy

// The dashboard cannot drift from the function: every series it graphs is
// one the built binary writes (namespace, metric, every dimension and its
// value), every series the binary writes is on it or named in
// docs/deploy.md as left off, its alarm widget shows every alarm of the
// stack, and its Logs Insights widget matches the binary's own line for a
// failed step.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/metrics"
)

// Fake values of the stack's names, as CloudFormation would generate them.
const (
	dashRegion   = "eu-west-1"
	dashLogGroup = "prod-RotatorLogGroup-AbC123"
)

// alarmARN is the ARN of an alarm CloudFormation named after its logical id.
func alarmARN(name string) string {
	return "arn:aws:cloudwatch:" + dashRegion + ":111122223333:alarm:prod-" + name + "-AbC123"
}

var dashSubVar = regexp.MustCompile(`\$\{([^}]+)\}`)

// body resolves the stack's dashboard body: Fn::Join, Fn::If and Fn::Sub
// over the function's name, the log group, alarms' ARNs and the region.
// A Sub naming a resource the stack does not create fails the test, as
// CloudFormation would fail the stack.
func (s stack) body(t *testing.T, function string) string {
	t.Helper()
	r := s.tpl.resource(t, "RotatorDashboard", "AWS::CloudWatch::Dashboard")
	var resolve func(v any) string
	resolve = func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case map[string]any:
			if args, ok := x["Fn::Join"].([]any); ok && len(args) == 2 {
				sep, _ := args[0].(string)
				parts, _ := args[1].([]any)
				var out []string
				for _, p := range parts {
					out = append(out, resolve(p))
				}
				return strings.Join(out, sep)
			}
			if sub, ok := x["Fn::Sub"]; ok {
				tmpl, _ := sub.(string)
				vars := map[string]string{}
				if l, ok := sub.([]any); ok {
					tmpl, _ = l[0].(string)
					m, _ := l[1].(map[string]any)
					for k, e := range m {
						vars[k] = resolve(e)
					}
				}
				return dashSubVar.ReplaceAllStringFunc(tmpl, func(m string) string {
					name := m[2 : len(m)-1]
					if v, ok := vars[name]; ok {
						return v
					}
					switch name {
					case "AWS::Region":
						return dashRegion
					case "RotatorFunction":
						return function
					case "RotatorLogGroup":
						return dashLogGroup
					}
					if res, ok := strings.CutSuffix(name, ".Arn"); ok {
						a, exists := s.tpl.Resources[res]
						if !exists || a.Type != "AWS::CloudWatch::Alarm" {
							t.Fatalf("dashboard: ${%s} is no alarm's ARN", name)
						}
						if a.Condition != "" && !s.condition(t, a.Condition) {
							t.Fatalf("dashboard: ${%s} names an alarm this stack does not create (condition %s)", name, a.Condition)
						}
						return alarmARN(res)
					}
					t.Fatalf("dashboard: ${%s}: not resolved by this test", name)
					return ""
				})
			}
		}
		t.Fatalf("dashboard body: cannot resolve %v", v)
		return ""
	}
	return resolve(s.decide(t, r.Properties["DashboardBody"]))
}

// widget is one widget of a dashboard body.
type widget struct {
	Type                string
	X, Y, Width, Height int
	Properties          struct {
		Title   string
		Region  string
		Period  int
		Stat    string
		Metrics [][]any
		Alarms  []string
		Query   string
	}
}

// seriesKey names a series: namespace, metric and each dimension with its
// value, sorted.
type seriesKey struct {
	namespace, metric, dims string
}

func (k seriesKey) dimNames() string {
	var names []string
	for _, d := range strings.Split(k.dims, ",") {
		if d != "" {
			names = append(names, strings.SplitN(d, "=", 2)[0])
		}
	}
	return strings.Join(names, ",")
}

func newSeriesKey(namespace, metric string, dims map[string]string) seriesKey {
	var ds []string
	for k, v := range dims {
		ds = append(ds, k+"="+v)
	}
	sort.Strings(ds)
	return seriesKey{namespace, metric, strings.Join(ds, ",")}
}

// dashboardWidgets parses a body and checks its structure (CloudWatch API
// Reference, "Dashboard Body Structure and Syntax"): JSON with a widgets
// array, each widget inside the 24-column grid and overlapping none.
func dashboardWidgets(t *testing.T, body string) []widget {
	t.Helper()
	var d struct {
		Start, PeriodOverride string
		Widgets               []widget
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("dashboard body is not JSON: %v\n%s", err, body)
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || raw["widgets"] == nil {
		t.Fatalf("dashboard body: %v (widgets %s)", err, raw["widgets"])
	}
	for i, w := range d.Widgets {
		if !slices.Contains([]string{"metric", "alarm", "log"}, w.Type) {
			t.Errorf("widget %d (%s): type %q", i, w.Properties.Title, w.Type)
		}
		if w.X < 0 || w.Width < 1 || w.X+w.Width > 24 || w.Y < 0 || w.Height < 1 {
			t.Errorf("widget %q: x %d, width %d: outside the 24-column grid", w.Properties.Title, w.X, w.Width)
		}
		if w.Properties.Region != dashRegion && w.Type != "alarm" {
			t.Errorf("widget %q: region %q, want the stack's", w.Properties.Title, w.Properties.Region)
		}
		if w.Type == "metric" && (w.Properties.Period < 60 || w.Properties.Period%60 != 0) {
			t.Errorf("widget %q: period %d, want a multiple of 60", w.Properties.Title, w.Properties.Period)
		}
		for _, o := range d.Widgets[:i] {
			if w.X < o.X+o.Width && o.X < w.X+w.Width && w.Y < o.Y+o.Height && o.Y < w.Y+w.Height {
				t.Errorf("widgets %q and %q overlap", o.Properties.Title, w.Properties.Title)
			}
		}
	}
	return d.Widgets
}

// graphed are the series a dashboard's metric widgets name: each entry is
// [namespace, metric, name, value, ..., {options}] or a math expression.
func graphed(t *testing.T, widgets []widget) map[seriesKey]string {
	t.Helper()
	out := map[seriesKey]string{}
	for _, w := range widgets {
		for _, m := range w.Properties.Metrics {
			var strs []string
			for _, e := range m {
				if s, ok := e.(string); ok {
					strs = append(strs, s)
				}
			}
			if len(strs) == 0 {
				if opts, _ := m[0].(map[string]any); opts["expression"] == nil {
					t.Errorf("widget %q: entry %v is neither a metric nor an expression", w.Properties.Title, m)
				}
				continue
			}
			if len(strs) < 2 || len(strs)%2 != 0 {
				t.Errorf("widget %q: entry %v: want namespace, metric and name-value pairs", w.Properties.Title, m)
				continue
			}
			dims := map[string]string{}
			for i := 2; i < len(strs); i += 2 {
				dims[strs[i]] = strs[i+1]
			}
			out[newSeriesKey(strs[0], strs[1], dims)] = w.Properties.Title
		}
	}
	return out
}

// emitted are the series the EMF lines in out define: per directive, per
// dimension set, per metric (CloudWatch User Guide, "Specification:
// Embedded metric format": each dimension set makes a metric).
func emitted(t *testing.T, out []byte) map[seriesKey]bool {
	t.Helper()
	series := map[seriesKey]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["_aws"] == nil {
			continue
		}
		var meta struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		}
		raw, _ := json.Marshal(line["_aws"])
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatalf("EMF line %s: %v", sc.Text(), err)
		}
		for _, d := range meta.CloudWatchMetrics {
			for _, set := range d.Dimensions {
				dims := map[string]string{}
				for _, k := range set {
					v, ok := line[k].(string)
					if !ok || v == "" {
						t.Errorf("EMF line: dimension %s is %v, want a string member (%s)", k, line[k], sc.Text())
					}
					dims[k] = v
				}
				for _, m := range d.Metrics {
					if _, ok := line[m.Name].(float64); !ok {
						t.Errorf("EMF line: metric %s has no numeric member", m.Name)
					}
					series[newSeriesKey(d.Namespace, m.Name, dims)] = true
				}
			}
		}
	}
	return series
}

// leftOff is docs/deploy.md's table of the series the dashboard leaves
// off: metric name and dimension names, in the section "Left off the
// dashboard".
func leftOff(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### Left off the dashboard\n")
	if !ok {
		t.Fatal(`docs/deploy.md has no section "### Left off the dashboard"`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	out := map[string]bool{}
	row := regexp.MustCompile("^\\| ((?:`\\w+`(?:, )?)+) \\| ([^|]+) \\|")
	name := regexp.MustCompile("`(\\w+)`")
	for _, line := range strings.Split(section, "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		dims := strings.Fields(strings.NewReplacer("`", "", ",", " ").Replace(m[2]))
		sort.Strings(dims)
		for _, metric := range name.FindAllStringSubmatch(m[1], -1) {
			out[metric[1]+" by "+strings.Join(dims, ",")] = true
		}
	}
	if len(out) == 0 {
		t.Fatal(`docs/deploy.md, "Left off the dashboard": no rows`)
	}
	return out
}

var (
	builtOnce sync.Once
	builtPath string
	builtErr  error
)

// builtRotator compiles ./functions/rotator as internal/localstack's
// built-binary tests do (the Lambda build's tags, for this machine), once.
func builtRotator(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rotator")
		if err != nil {
			builtErr = err
			return
		}
		builtPath = filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", builtPath, "./functions/rotator")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			builtErr = errors.New(string(out))
		}
	})
	if builtErr != nil {
		t.Fatalf("build the rotator: %v", builtErr)
	}
	return builtPath
}

// syncBuffer collects the function's output, written from another goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// waitForLine waits, up to ten seconds, for a JSON line of out that match
// accepts.
func waitForLine(t *testing.T, out *syncBuffer, match func(map[string]any) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && match(line) {
				return
			}
		}
	}
	t.Fatalf("no such line from the function within ten seconds:\n%s", out.Bytes())
}

// binaryOutput runs the built function behind the local stack's Lambda
// Runtime API: a rotation (four steps), a step that fails, a break-glass
// request, a sweep and a dry-run sweep. It returns what the function wrote, what it wrote before
// the dry run, and the function's name (AWS_LAMBDA_FUNCTION_NAME).
func binaryOutput(t *testing.T) (all, beforeDryRun []byte, function string) {
	t.Helper()
	var out syncBuffer
	stack, err := localstack.Start(t.Context(), localstack.Config{
		SecretsManagerAddr: "127.0.0.1:0", AivenAddr: "127.0.0.1:0",
		Bootstrap: builtRotator(t), RotatorLog: &out,
		RotatorEnv: map[string]string{"PREVIOUS_TOKEN_GRACE": "0s"},
		// A break-glass request waits while the rotation's steps run in
		// another execution environment.
		Environments: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	user, err := stack.Aiven.CreateUser("ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	sm := stack.SecretsManagerClient()
	created, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("aiven/dashboard"), SecretString: aws.String(user.Token)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: created.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN)}); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	// A step for a secret without rotation: it fails after the guard.
	unrotated, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("aiven/unrotated"), SecretString: aws.String(user.Token)})
	if err != nil {
		t.Fatal(err)
	}
	step := fmt.Sprintf(`{"Step":"createSecret","SecretId":%q,"ClientRequestToken":"00000000-0000-4000-8000-00000000000a"}`, aws.ToString(unrotated.ARN))
	if _, err := stack.Rotator.Invoke(t.Context(), []byte(step)); err == nil {
		t.Fatal("a step for a secret without rotation succeeded")
	}
	// The child's output crosses a pipe after it answers: wait for the
	// break-glass line, and each sweep's "sweep done" line, which the
	// function writes after its metrics.
	glass := fmt.Sprintf(`{"action":"rotate","secret_id":%q,"revoke_previous":"now"}`, aws.ToString(created.ARN))
	if _, err := stack.Rotator.Invoke(t.Context(), []byte(glass)); err != nil {
		t.Fatalf("break-glass: %v", err)
	}
	waitForLine(t, &out, func(line map[string]any) bool { return line[metrics.BreakGlassRevocationsMetric] != nil })
	for _, payload := range []string{`{"action":"sweep"}`, `{"action":"sweep","dry_run":true}`} {
		if _, err := stack.Rotator.Invoke(t.Context(), []byte(payload)); err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		dry := strings.Contains(payload, "dry_run")
		waitForLine(t, &out, func(line map[string]any) bool {
			return line["message"] == "sweep done" && line["dry_run"] == dry
		})
		if !dry {
			beforeDryRun = out.Bytes()
		}
	}
	return out.Bytes(), beforeDryRun, localstack.FunctionARN[strings.LastIndex(localstack.FunctionARN, ":")+1:]
}

func TestDashboardGraphsWhatTheFunctionWrites(t *testing.T) {
	tpl := loadTemplate(t)
	all, beforeDryRun, function := binaryOutput(t)
	written := emitted(t, all)
	if len(written) == 0 {
		t.Fatalf("the built function wrote no EMF line:\n%s", all)
	}
	// Every series names the function: two stacks never share one.
	for k := range written {
		if !strings.Contains(","+k.dims, ","+metrics.FunctionNameDimension+"="+function) {
			t.Errorf("%s/%s by %q does not name the function", k.namespace, k.metric, k.dims)
		}
	}
	// A dry run feeds no alarm: it wrote no metric.
	if dry := emitted(t, all[len(beforeDryRun):]); len(dry) != 0 {
		t.Errorf("a dry-run sweep wrote metrics: %v", dry)
	}

	off := leftOff(t)
	onDashboard := map[string]bool{}
	for _, sweep := range []string{"rate(15 minutes)", "off"} {
		s := tpl.deployed(map[string]string{"SweepScheduleExpression": sweep})
		widgets := dashboardWidgets(t, s.body(t, function))
		series := graphed(t, widgets)
		for k, title := range series {
			if k.namespace != metrics.Namespace {
				continue
			}
			if !written[k] {
				t.Errorf("sweep %s: widget %q graphs %s/%s by %q, which the function never writes", sweep, title, k.namespace, k.metric, k.dims)
			}
			onDashboard[k.metric+" by "+k.dimNames()] = true
		}
		// The alarm widget shows every alarm of the stack.
		var want, got []string
		for name := range s.alarms(t) {
			want = append(want, alarmARN(name))
		}
		var logs []widget
		for _, w := range widgets {
			got = append(got, w.Properties.Alarms...)
			if w.Type == "log" {
				logs = append(logs, w)
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("sweep %s: the alarm widget shows %v, want every alarm of the stack %v", sweep, got, want)
		}
		if len(logs) != 1 {
			t.Fatalf("sweep %s: %d log widgets, want one of the failed steps", sweep, len(logs))
		}
		checkFailedStepsQuery(t, logs[0].Properties.Query, all)
		if sweep == "off" {
			for k := range series {
				if strings.HasPrefix(k.metric, "Sweep") {
					t.Errorf("with the sweep off, the dashboard still graphs %s", k.metric)
				}
			}
		}
	}
	// Every series the function writes is graphed or named as left off.
	for k := range written {
		key := k.metric + " by " + k.dimNames()
		if !onDashboard[key] && !off[key] {
			t.Errorf("the function writes %s, which is neither on the dashboard nor in docs/deploy.md's \"Left off the dashboard\"", key)
		}
		if onDashboard[key] && off[key] {
			t.Errorf("%s is on the dashboard and listed as left off", key)
		}
	}
	for key := range off {
		found := false
		for k := range written {
			found = found || k.metric+" by "+k.dimNames() == key
		}
		if !found {
			t.Errorf("docs/deploy.md lists %s as left off the dashboard, but the function never writes it", key)
		}
	}
}

// The Logs Insights widget reads the function's own log group, and its
// filter and fields match the line the built binary writes for a failed
// step.
func checkFailedStepsQuery(t *testing.T, query string, out []byte) {
	t.Helper()
	m := regexp.MustCompile(`^SOURCE '([^']+)' \| fields ([^|]+) \| filter (\w+) = "([^"]+)" \| sort @timestamp desc \| limit \d+$`).FindStringSubmatch(query)
	if m == nil {
		t.Fatalf("log widget query %q: want SOURCE '<log group>' | fields … | filter <key> = \"…\" | sort @timestamp desc | limit n", query)
	}
	if m[1] != dashLogGroup {
		t.Errorf("log widget reads %q, want the function's log group", m[1])
	}
	var failed map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line[m[3]] == m[4] {
			failed = line
		}
	}
	if failed == nil {
		t.Fatalf("no line of the built function has %s = %q; the log widget would show nothing", m[3], m[4])
	}
	for _, f := range strings.Split(m[2], ",") {
		if f = strings.TrimSpace(f); !strings.HasPrefix(f, "@") && failed[f] == nil {
			t.Errorf("log widget shows field %s, which the failed step's line lacks: %v", f, failed)
		}
	}
}

// CreateDashboard=false leaves the dashboard and its output out.
func TestDashboardCanBeTurnedOff(t *testing.T) {
	tpl := loadTemplate(t)
	if r := tpl.resource(t, "RotatorDashboard", "AWS::CloudWatch::Dashboard"); r.Condition != "HasDashboard" {
		t.Errorf("RotatorDashboard.Condition = %q, want HasDashboard", r.Condition)
	}
	if p := tpl.Parameters["CreateDashboard"]; p["Default"] != "true" || !slices.Equal(strs(p["AllowedValues"]), []string{"true", "false"}) {
		t.Errorf("CreateDashboard = %v, want true or false, default true", p)
	}
	for value, want := range map[string]bool{"true": true, "false": false} {
		if got := tpl.deployed(map[string]string{"CreateDashboard": value}).condition(t, "HasDashboard"); got != want {
			t.Errorf("CreateDashboard=%s: HasDashboard = %v", value, got)
		}
	}
}
