package deploy

// A small evaluator of the role's Allow statements, for the few condition
// operators the template uses, so that what the role may read is proven
// for concrete secrets, not only read off the statements' shape. The
// semantics follow the IAM JSON policy reference ("IAM JSON policy
// elements: Condition operators"): several values of one key are ORed,
// several keys and operators ANDed; a key absent from the request fails
// every operator except Null and the ...IfExists forms, which it passes.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
)

// stackEnv is one deployed stack: the values its intrinsics resolve to.
type stackEnv struct {
	name, partition, region, account string
}

func (e stackEnv) functionARN() string {
	return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s-RotatorFunction-AbC123", e.partition, e.region, e.account, e.name)
}

func (e stackEnv) secretARN(name string) string {
	return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-Xy12Zw", e.partition, e.region, e.account, name)
}

var iamSubVar = regexp.MustCompile(`\$\{([^}]+)\}`)

// resolve evaluates the intrinsics the role's statements use.
func (e stackEnv) resolve(t *testing.T, v any) any {
	t.Helper()
	pseudo := map[string]string{
		"AWS::StackName": e.name, "AWS::Partition": e.partition, "AWS::Region": e.region,
		"AWS::AccountId": e.account, "RotatorFunction.Arn": e.functionARN(),
	}
	switch x := v.(type) {
	case string:
		return x
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = e.resolve(t, el)
		}
		return out
	case map[string]any:
		if r, ok := x["Ref"].(string); ok && len(x) == 1 {
			if val, ok := pseudo[r]; ok {
				return val
			}
			t.Fatalf("Ref %s: not resolved by this evaluator", r)
		}
		if s, ok := x["Fn::Sub"].(string); ok && len(x) == 1 {
			return iamSubVar.ReplaceAllStringFunc(s, func(m string) string {
				val, ok := pseudo[m[2:len(m)-1]]
				if !ok {
					t.Fatalf("Fn::Sub %s: %s not resolved by this evaluator", s, m)
				}
				return val
			})
		}
		if isGetAtt(x, "RotatorFunction", "Arn") {
			return e.functionARN()
		}
		out := map[string]any{}
		for k, el := range x {
			out[k] = e.resolve(t, el)
		}
		return out
	}
	t.Fatalf("cannot resolve %v", v)
	return nil
}

// request is one API call as IAM sees it: the action, the resource, and
// the condition keys present in the request context.
type request struct {
	action, resource string
	context          map[string]string
}

// allows says whether any of the role's unconditional (guard "") Allow
// statements, resolved for stack e, grants req; and which one.
func (e stackEnv) allows(t *testing.T, stmts []statement, req request) (bool, string) {
	t.Helper()
	for _, s := range stmts {
		if s.guard != "" || s.effect != "Allow" || !slices.Contains(s.actions, req.action) {
			continue
		}
		res := e.resolve(t, s.resource)
		if !slices.ContainsFunc(strs(res), func(p string) bool { return globMatch(p, req.resource) }) {
			continue
		}
		cond, _ := e.resolve(t, s.condition).(map[string]any)
		if conditionsHold(t, cond, req.context) {
			return true, s.policy
		}
	}
	return false, ""
}

func conditionsHold(t *testing.T, cond map[string]any, ctx map[string]string) bool {
	for op, keys := range cond {
		m, _ := keys.(map[string]any)
		for key, want := range m {
			got, present := ctx[key]
			if !operatorHolds(t, op, strs(want), got, present) {
				return false
			}
		}
	}
	return true
}

func operatorHolds(t *testing.T, op string, want []string, got string, present bool) bool {
	t.Helper()
	if base, ok := strings.CutSuffix(op, "IfExists"); ok {
		if !present {
			return true
		}
		op = base
	}
	if op == "Null" {
		// "true": the key must be absent; "false": present.
		return slices.Contains(want, fmt.Sprint(!present))
	}
	if !present {
		return false
	}
	return slices.ContainsFunc(want, func(w string) bool {
		switch op {
		case "StringEquals", "ArnEquals":
			return got == w
		case "StringLike", "ArnLike":
			return globMatch(w, got)
		case "Bool":
			return strings.EqualFold(got, w)
		}
		t.Fatalf("condition operator %s: not known to this evaluator; extend it", op)
		return false
	})
}

// globMatch is IAM's matching of * and ? (which, unlike path.Match, lets
// * cross "/" and ":").
func globMatch(pattern, s string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// The role of stack "prod" reads a secret it does not rotate only when
// its owner tagged it aiven-token-rotator:manager=prod: never a secret of
// another stack (dev), never one the sweep's tag key marks, never one
// another function rotates. And for every tag set, what IAM allows and
// what the function's own check (rotation.IsStackManager) accepts agree.
func TestManagerReadsAreThisStacksOnly(t *testing.T) {
	stmts := roleStatements(t, loadTemplate(t))
	prod := stackEnv{name: "prod", partition: "aws", region: "eu-west-1", account: "111122223333"}
	dev := prod
	dev.name = "dev"

	cases := []struct {
		name     string
		tags     map[string]string
		rotator  string // the secret's AllowRotationLambdaArn, "" for none
		wantRead bool
	}{
		{"prod's manager", map[string]string{rotation.ManagerTagKey: "prod"}, "", true},
		{"dev's manager", map[string]string{rotation.ManagerTagKey: "dev"}, "", false},
		{"a secret dev's function rotates and tags as dev's manager", map[string]string{rotation.ManagerTagKey: "dev", fleetTag: "rotated"}, dev.functionARN(), false},
		{"a secret dev's function rotates", map[string]string{fleetTag: "rotated"}, dev.functionARN(), false},
		{"a swept secret (the sweep's tag key only)", map[string]string{fleetTag: "managed"}, "", false},
		{"the manager key with an empty value", map[string]string{rotation.ManagerTagKey: ""}, "", false},
		{"the manager key's value differing in case", map[string]string{rotation.ManagerTagKey: "Prod"}, "", false},
		{"a look-alike key", map[string]string{"aiven-token-rotator:managers": "prod"}, "", false},
		{"no tags", nil, "", false},
		{"a secret prod's function rotates (its own)", nil, prod.functionARN(), true},
		// Not supported: the stack grants invoke on the function alone.
		{"a secret prod's alias rotates", nil, prod.functionARN() + ":live", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := map[string]string{}
			for k, v := range tc.tags {
				ctx["aws:ResourceTag/"+k] = v
			}
			if tc.rotator != "" {
				ctx["secretsmanager:resource/AllowRotationLambdaArn"] = tc.rotator
			}
			for _, action := range []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"} {
				got, by := prod.allows(t, stmts, request{action: action, resource: prod.secretARN("aiven/x"), context: ctx})
				if got != tc.wantRead {
					t.Errorf("%s: prod's role allowed = %v (by %q), want %v", action, got, by, tc.wantRead)
				}
			}
			// No write reaches a secret prod's function does not rotate.
			if tc.rotator == "" {
				for _, action := range []string{"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:RotateSecret"} {
					if got, by := prod.allows(t, stmts, request{action: action, resource: prod.secretARN("aiven/x"), context: ctx}); got {
						t.Errorf("%s allowed by %q on a secret prod does not rotate", action, by)
					}
				}
				// The function's own check agrees with IAM, secret by secret.
				if fn := rotation.IsStackManager(tc.tags, prod.name); fn != tc.wantRead {
					t.Errorf("rotation.IsStackManager = %v, IAM allows the read = %v: the two checks disagree", fn, tc.wantRead)
				}
			}
		})
	}
	// Another account's or region's secret, even tagged for prod: never.
	other := prod
	other.account = "444455556666"
	ctx := map[string]string{"aws:ResourceTag/" + rotation.ManagerTagKey: "prod"}
	if got, by := prod.allows(t, stmts, request{action: "secretsmanager:GetSecretValue", resource: other.secretARN("aiven/x"), context: ctx}); got {
		t.Errorf("prod's role reads another account's secret (by %q)", by)
	}
}

// The value the function compares the manager tag with is the one IAM's
// condition names: both the stack's name.
func TestManagerTagValueIsTheStacksName(t *testing.T) {
	tpl := loadTemplate(t)
	fn := tpl.resource(t, "RotatorFunction", "AWS::Serverless::Function")
	env, _ := fn.Properties["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	if got := vars["MANAGER_TAG_VALUE"]; !isRef(got, "AWS::StackName") {
		t.Errorf("MANAGER_TAG_VALUE = %v, want Ref AWS::StackName", got)
	}
	found := false
	for _, s := range roleStatements(t, tpl) {
		if v, ok := condKey(s.condition, "aws:ResourceTag/"+rotation.ManagerTagKey); ok {
			found = true
			eq, _ := s.condition["StringEquals"].(map[string]any)
			if !isRef(eq["aws:ResourceTag/"+rotation.ManagerTagKey], "AWS::StackName") {
				t.Errorf("%s: manager tag condition %v, want StringEquals Ref AWS::StackName", s.policy, v)
			}
		}
	}
	if !found {
		t.Errorf("no statement is conditioned on the manager tag %s", rotation.ManagerTagKey)
	}
}

func isRef(v any, name string) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == name
}
