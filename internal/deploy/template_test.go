package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
)

// template is the raw template after goformation turned the short-form tags
// (!Ref, !If, …) into their long forms, with no intrinsic resolved.
// goformation's typed model cannot be used: v7.14.9 rejects the SAM
// function's LoggingConfig as an unknown field, and resolving intrinsics
// would erase the very conditions these tests check.
type template struct {
	Transform  any
	Metadata   map[string]any
	Parameters map[string]map[string]any
	Conditions map[string]any
	Resources  map[string]resource
	Outputs    map[string]map[string]any
}

type resource struct {
	Type                string
	Condition           string
	DependsOn           any
	DeletionPolicy      string
	UpdateReplacePolicy string
	Metadata            map[string]any
	Properties          map[string]any
}

// repoRoot walks up from the test's working directory to the go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func loadTemplate(t *testing.T) template {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return parseTemplate(t, data)
}

func parseTemplate(t *testing.T, data []byte) template {
	t.Helper()
	raw, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	var tpl template
	if err := json.Unmarshal(raw, &tpl); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return tpl
}

func (tpl template) resource(t *testing.T, name, typ string) resource {
	t.Helper()
	r, ok := tpl.Resources[name]
	if !ok {
		t.Fatalf("no resource %s", name)
	}
	if r.Type != typ {
		t.Fatalf("%s: type %q, want %q", name, r.Type, typ)
	}
	return r
}

func ref(name string) any { return map[string]any{"Ref": name} }

// getAtt accepts both forms !GetAtt produces: "Res.Attr" and [Res, Attr].
func isGetAtt(v any, res, attr string) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	switch a := m["Fn::GetAtt"].(type) {
	case string:
		return a == res+"."+attr
	case []any:
		return len(a) == 2 && a[0] == res && a[1] == attr
	}
	return false
}

// fnIf returns the three arguments of an Fn::If, or ok=false.
func fnIf(v any) (cond string, then, otherwise any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, nil, false
	}
	args, isList := m["Fn::If"].([]any)
	if !isList || len(args) != 3 {
		return "", nil, nil, false
	}
	cond, ok = args[0].(string)
	return cond, args[1], args[2], ok
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func TestTemplateIsSAM(t *testing.T) {
	tpl := loadTemplate(t)
	if tpl.Transform != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform = %v, want AWS::Serverless-2016-10-31", tpl.Transform)
	}
}

func TestRotatorFunction(t *testing.T) {
	tpl := loadTemplate(t)
	fn := tpl.resource(t, "RotatorFunction", "AWS::Serverless::Function")
	p := fn.Properties

	if got := fn.Metadata["BuildMethod"]; got != "makefile" {
		t.Errorf("Metadata.BuildMethod = %v, want makefile (the Makefile's build-RotatorFunction)", got)
	}
	for key, want := range map[string]any{
		"Runtime":    "provided.al2023",
		"Handler":    "bootstrap",
		"CodeUri":    ".",
		"MemorySize": 128.0,
	} {
		if !reflect.DeepEqual(p[key], want) {
			t.Errorf("%s = %v, want %v", key, p[key], want)
		}
	}
	if got := strs(p["Architectures"]); !slices.Equal(got, []string{"arm64"}) {
		t.Errorf("Architectures = %v, want [arm64] (make builds GOARCH=arm64)", got)
	}
	// Room for retries and Aiven's 429 delays, well above the rotator's
	// 3 s safety margin, and within Lambda's 900 s limit.
	if timeout, _ := p["Timeout"].(float64); timeout < 30 || timeout > 900 {
		t.Errorf("Timeout = %v, want 30..900 s", p["Timeout"])
	}
	if !isGetAtt(p["Role"], "RotatorRole", "Arn") {
		t.Errorf("Role = %v, want the explicit RotatorRole", p["Role"])
	}

	logging, _ := p["LoggingConfig"].(map[string]any)
	if logging["LogFormat"] != "JSON" {
		t.Errorf("LoggingConfig.LogFormat = %v, want JSON", logging["LogFormat"])
	}
	if !reflect.DeepEqual(logging["ApplicationLogLevel"], ref("LogLevel")) {
		t.Errorf("LoggingConfig.ApplicationLogLevel = %v, want Ref LogLevel", logging["ApplicationLogLevel"])
	}
	if !reflect.DeepEqual(logging["LogGroup"], ref("RotatorLogGroup")) {
		t.Errorf("LoggingConfig.LogGroup = %v, want Ref RotatorLogGroup", logging["LogGroup"])
	}

	env, _ := p["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	wantVars := map[string]any{
		"AIVEN_WEB_URL":            ref("AivenApiUrl"),
		"ALLOWED_API_HOSTS":        ref("AllowedApiHosts"),
		"PREVIOUS_TOKEN_GRACE":     ref("PreviousTokenGrace"),
		"PREVIOUS_TOKEN_MAX_GRACE": ref("PreviousTokenMaxGrace"),
		"ROTATE_BEFORE_EXPIRY":     ref("RotateBeforeExpiry"),
		"STUCK_ROTATION_AFTER":     ref("StuckRotationAfter"),
		"SWEEP_TAG_KEY":            map[string]any{"Fn::If": []any{"SweepTagged", fleetTag, ""}},
		"MANAGER_TAG_VALUE":        ref("AWS::StackName"),
	}
	if !reflect.DeepEqual(vars, wantVars) {
		t.Errorf("Environment.Variables = %v, want %v", vars, wantVars)
	}

	cond, then, otherwise, ok := fnIf(p["VpcConfig"])
	if !ok || cond != "HasVpc" || !reflect.DeepEqual(otherwise, ref("AWS::NoValue")) {
		t.Fatalf("VpcConfig = %v, want Fn::If [HasVpc, {...}, AWS::NoValue]", p["VpcConfig"])
	}
	wantVpc := map[string]any{"SubnetIds": ref("SubnetIds"), "SecurityGroupIds": ref("SecurityGroupIds")}
	if !reflect.DeepEqual(then, wantVpc) {
		t.Errorf("VpcConfig when HasVpc = %v, want %v", then, wantVpc)
	}
}

// Lambda limits a function name to 64 characters and CloudFormation a stack
// name to 128: a name built from the stack name fails to deploy with a long
// one. Without FunctionName, CloudFormation generates a name that fits.
func TestFunctionNameFitsAnyStackName(t *testing.T) {
	fn := loadTemplate(t).resource(t, "RotatorFunction", "AWS::Serverless::Function")
	name, set := fn.Properties["FunctionName"]
	if !set {
		return
	}
	longest := strings.Repeat("s", 128)
	var resolved string
	switch v := name.(type) {
	case string:
		resolved = v
	case map[string]any:
		sub, ok := v["Fn::Sub"].(string)
		if !ok {
			t.Fatalf("FunctionName = %v: cannot tell its length; leave it unset", name)
		}
		resolved = strings.ReplaceAll(sub, "${AWS::StackName}", longest)
		if strings.Contains(resolved, "${") {
			t.Fatalf("FunctionName = %v: cannot tell its length; leave it unset", name)
		}
	default:
		t.Fatalf("FunctionName = %v: cannot tell its length; leave it unset", name)
	}
	if len(resolved) > 64 {
		t.Errorf("FunctionName = %v is %d characters with a 128-character stack name; Lambda allows 64", name, len(resolved))
	}
}

// The function writes to the log group the stack creates (with retention),
// through LoggingConfig.LogGroup (TestRotatorFunction). The group outlives
// the stack, and so must not have a fixed name a new stack of the same name
// would collide with.
func TestLogGroupIsRetained(t *testing.T) {
	lg := loadTemplate(t).resource(t, "RotatorLogGroup", "AWS::Logs::LogGroup")
	if lg.DeletionPolicy != "Retain" || lg.UpdateReplacePolicy != "Retain" {
		t.Errorf("DeletionPolicy/UpdateReplacePolicy = %q/%q, want Retain/Retain", lg.DeletionPolicy, lg.UpdateReplacePolicy)
	}
	if name, ok := lg.Properties["LogGroupName"]; ok {
		t.Errorf("LogGroupName = %v: a retained group with a fixed name makes the next stack of that name fail to create it", name)
	}
	if !reflect.DeepEqual(lg.Properties["RetentionInDays"], ref("LogRetentionInDays")) {
		t.Errorf("RetentionInDays = %v, want Ref LogRetentionInDays", lg.Properties["RetentionInDays"])
	}
}

// statement is one IAM statement of the role, with the template condition
// (empty when unconditional) under which its policy exists.
type statement struct {
	policy    string
	guard     string
	actions   []string
	resource  any
	condition map[string]any
	effect    string
}

// roleStatements returns the statements of the role's inline policies and
// of every AWS::IAM::RolePolicy attached to it.
func roleStatements(t *testing.T, tpl template) []statement {
	t.Helper()
	role := tpl.resource(t, "RotatorRole", "AWS::IAM::Role")
	policies, ok := role.Properties["Policies"].([]any)
	if !ok {
		t.Fatalf("RotatorRole.Policies = %v, want a list", role.Properties["Policies"])
	}
	var names []string
	for name, r := range tpl.Resources {
		if r.Type == "AWS::IAM::RolePolicy" && reflect.DeepEqual(r.Properties["RoleName"], ref("RotatorRole")) {
			if r.Condition != "" {
				t.Fatalf("%s: a conditional policy resource; this test does not follow its condition", name)
			}
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		r := tpl.Resources[name]
		policies = append(policies, map[string]any{"PolicyName": r.Properties["PolicyName"], "PolicyDocument": r.Properties["PolicyDocument"]})
	}
	var out []statement
	for _, entry := range policies {
		guard := ""
		if cond, then, otherwise, ok := fnIf(entry); ok {
			if !reflect.DeepEqual(otherwise, ref("AWS::NoValue")) {
				t.Fatalf("conditional policy %v: false branch must be AWS::NoValue", entry)
			}
			guard, entry = cond, then
		}
		policy, _ := entry.(map[string]any)
		name, _ := policy["PolicyName"].(string)
		doc, _ := policy["PolicyDocument"].(map[string]any)
		stmts, ok := doc["Statement"].([]any)
		if !ok {
			t.Fatalf("policy %q: no statement list", name)
		}
		for _, s := range stmts {
			m, _ := s.(map[string]any)
			if _, _, _, ok := fnIf(m); ok {
				t.Fatalf("policy %q: a conditional statement; keep conditions at policy level so this test sees them", name)
			}
			cond, _ := m["Condition"].(map[string]any)
			effect, _ := m["Effect"].(string)
			out = append(out, statement{
				policy: name, guard: guard, actions: strs(m["Action"]),
				resource: m["Resource"], condition: cond, effect: effect,
			})
		}
	}
	return out
}

// fleetTag is the sweep's tag key (SWEEP_TAG_KEY filters on it): it
// grants no read; manager secrets carry rotation.ManagerTagKey instead.
const fleetTag = "aiven-token-rotator"

// accountSecrets is the Resource of every per-secret statement: any secret
// of this account and region, narrowed by a condition.
var accountSecrets = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"}

// isOwnFunction reports whether v names this function: its unqualified
// ARN, nothing else (the stack publishes no alias or version, and grants
// invoke on the function alone).
func isOwnFunction(v any) bool {
	return isGetAtt(v, "RotatorFunction", "Arn")
}

// awsLambdaVPCAccessEC2Actions are the ec2 actions of the AWS managed
// policy AWSLambdaVPCAccessExecutionRole, default version v3 (AWS Managed
// Policy Reference); its logs actions the role holds on its own log group.
var awsLambdaVPCAccessEC2Actions = []string{
	"ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
	"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
}

func TestRoleIsLeastPrivilege(t *testing.T) {
	tpl := loadTemplate(t)
	got := roleStatements(t, tpl)

	// Every Allow the role holds, keyed by what it is for.
	want := []struct {
		guard    string
		actions  []string
		resource any
	}{
		{"", []string{"secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"}, "*"},
		{"", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}, accountSecrets},
		{"", []string{"secretsmanager:RotateSecret"}, accountSecrets},
		// The replicas of an owned secret, in any region of the account
		// (DescribeOwnSecretReplicas), on the same condition.
		{"", []string{"secretsmanager:DescribeSecret"}, map[string]any{"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:*"}},
		{"", []string{"lambda:InvokeFunction"}, map[string]any{"Fn::GetAtt": "RotatorFunction.Arn"}},
		{"", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, map[string]any{"Fn::Sub": managerSecretsArn}},
		{"", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, map[string]any{"Fn::GetAtt": "RotatorLogGroup.Arn"}},
		{"HasKmsKey", []string{"kms:Decrypt", "kms:GenerateDataKey"}, ref("KmsKeyArn")},
		{"HasKmsKey", []string{"kms:DescribeKey"}, ref("KmsKeyArn")},
		{"HasVpc", awsLambdaVPCAccessEC2Actions, "*"},
	}
	if len(got) != len(want) {
		t.Errorf("role has %d statements, want %d: %+v", len(got), len(want), got)
	}
	for _, w := range want {
		found := false
		for _, s := range got {
			actions := slices.Sorted(slices.Values(s.actions))
			if slices.Equal(actions, slices.Sorted(slices.Values(w.actions))) {
				found = true
				if s.guard != w.guard {
					t.Errorf("%v: under condition %q, want %q", w.actions, s.guard, w.guard)
				}
				if !reflect.DeepEqual(s.resource, w.resource) && !(isGetAtt(w.resource, "RotatorLogGroup", "Arn") && isGetAtt(s.resource, "RotatorLogGroup", "Arn")) {
					t.Errorf("%v: Resource = %v, want %v", w.actions, s.resource, w.resource)
				}
				if s.effect != "Allow" {
					t.Errorf("%v: Effect = %q, want Allow", w.actions, s.effect)
				}
			}
		}
		if !found {
			t.Errorf("no statement with exactly %v", w.actions)
		}
	}

	// The general rules, which hold whatever statements are added later.
	for _, s := range got {
		for _, a := range s.actions {
			if strings.Contains(a, "*") {
				t.Errorf("policy %q: wildcard action %q", s.policy, a)
			}
			if strings.HasPrefix(a, "kms:") && s.guard != "HasKmsKey" {
				t.Errorf("policy %q: %s outside the HasKmsKey condition", s.policy, a)
			}
			if strings.HasPrefix(a, "ec2:") && s.guard != "HasVpc" {
				t.Errorf("policy %q: %s outside the HasVpc condition", s.policy, a)
			}
		}
		if slices.Contains(strs(s.resource), "*") {
			// "*" only where the action has no resource type: listing the
			// secrets, and the ENI actions Lambda needs in a VPC.
			for _, a := range s.actions {
				switch {
				case a == "secretsmanager:ListSecrets" || a == "secretsmanager:BatchGetSecretValue":
				case strings.HasPrefix(a, "ec2:") && s.guard == "HasVpc":
				default:
					t.Errorf("policy %q: %s on Resource \"*\"", s.policy, a)
				}
			}
			continue
		}
		if !slices.ContainsFunc(s.actions, func(a string) bool { return strings.HasPrefix(a, "secretsmanager:") }) {
			continue
		}
		// Any other Secrets Manager statement reaches only the secrets this
		// function rotates, or, for reading, a manager secret by its tag.
		owned, _ := s.condition["ArnEquals"].(map[string]any)
		tagged, _ := s.condition["StringEquals"].(map[string]any)
		reads := slices.Equal(slices.Sorted(slices.Values(s.actions)), []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"})
		switch {
		case isOwnFunction(owned["secretsmanager:resource/AllowRotationLambdaArn"]):
		case reads && isRef(tagged["aws:ResourceTag/"+rotation.ManagerTagKey], "AWS::StackName"):
		default:
			t.Errorf("policy %q: %v with condition %v: want ArnEquals secretsmanager:resource/AllowRotationLambdaArn RotatorFunction.Arn, or (reads only) the tag %s=<stack name>",
				s.policy, s.actions, s.condition, rotation.ManagerTagKey)
		}
	}

	role := tpl.resource(t, "RotatorRole", "AWS::IAM::Role")
	trust, _ := json.Marshal(role.Properties["AssumeRolePolicyDocument"])
	if !strings.Contains(string(trust), `"Service":"lambda.amazonaws.com"`) || !strings.Contains(string(trust), `"sts:AssumeRole"`) {
		t.Errorf("AssumeRolePolicyDocument = %s, want lambda.amazonaws.com to assume it", trust)
	}
}

// RotateSecret, from the sweep or {"action":"rotate"}, starts a rotation of
// a secret this function already rotates, and cannot re-point it or change
// its schedule: the request's RotationLambdaARN, when present, is this
// function, and the request must not modify the rotation rules.
func TestRotateSecretCannotChangeTheRotation(t *testing.T) {
	for _, s := range roleStatements(t, loadTemplate(t)) {
		if !slices.Contains(s.actions, "secretsmanager:RotateSecret") {
			continue
		}
		if !slices.Equal(s.actions, []string{"secretsmanager:RotateSecret"}) {
			t.Errorf("RotateSecret shares a statement with %v; keep its extra conditions to itself", s.actions)
		}
		arnEq, _ := s.condition["ArnEqualsIfExists"].(map[string]any)
		if !isGetAtt(arnEq["secretsmanager:RotationLambdaARN"], "RotatorFunction", "Arn") {
			t.Errorf("RotateSecret: ArnEqualsIfExists secretsmanager:RotationLambdaARN = %v, want RotatorFunction.Arn", arnEq["secretsmanager:RotationLambdaARN"])
		}
		boolIf, _ := s.condition["BoolIfExists"].(map[string]any)
		if boolIf["secretsmanager:ModifyRotationRules"] != "false" {
			t.Errorf("RotateSecret: BoolIfExists secretsmanager:ModifyRotationRules = %v, want false", boolIf["secretsmanager:ModifyRotationRules"])
		}
		return
	}
	t.Error("no statement allows secretsmanager:RotateSecret; the sweep and on-demand rotation need it")
}

// The function names its role and the secret permissions name the
// function's ARN: in the role's own inline policies that is a circular
// reference CloudFormation refuses. The permission lives in a policy
// resource of its own, and whatever invokes the function waits for it.
func TestSecretPermissionsAvoidTheCycle(t *testing.T) {
	tpl := loadTemplate(t)
	role := tpl.resource(t, "RotatorRole", "AWS::IAM::Role")
	refs, conds := map[string]bool{}, map[string]bool{}
	references(role.Properties, refs, conds)
	inline, _ := json.Marshal(role.Properties)
	if refs["RotatorFunction"] || strings.Contains(string(inline), "RotatorFunction") {
		t.Error("RotatorRole names RotatorFunction, which names RotatorRole: a circular reference")
	}
	policy := tpl.resource(t, "RotatorSecretsPolicy", "AWS::IAM::RolePolicy")
	if !reflect.DeepEqual(policy.Properties["RoleName"], ref("RotatorRole")) {
		t.Errorf("RotatorSecretsPolicy.RoleName = %v, want Ref RotatorRole", policy.Properties["RoleName"])
	}
	for _, name := range []string{"RotationSchedule", "SweepSchedule"} {
		if r := tpl.Resources[name]; !slices.Contains(strs(r.DependsOn), "RotatorSecretsPolicy") {
			t.Errorf("%s.DependsOn = %v, want RotatorSecretsPolicy: it may invoke the function at once", name, r.DependsOn)
		}
	}
}

// managerSecretsArn is every secret of the stack's account and region: the
// manager secrets of application tokens, narrowed by their tag.
const managerSecretsArn = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"

// An application token is managed with the token of another secret, its
// manager_secret_id. The role reads it under the manager tag naming this
// stack (aiven-token-rotator:manager=<stack name>), and nothing else on
// other secrets: no write, no secret without the tag, no other account or
// region (TestManagerReadsAreThisStacksOnly evaluates it).
func TestManagerSecretsReadableOnlyUnderTheTag(t *testing.T) {
	found := 0
	for _, s := range roleStatements(t, loadTemplate(t)) {
		if !slices.ContainsFunc(s.actions, func(a string) bool { return strings.HasPrefix(a, "secretsmanager:") }) || slices.Contains(strs(s.resource), "*") {
			continue
		}
		if _, fleet := condKey(s.condition, "secretsmanager:resource/AllowRotationLambdaArn"); fleet {
			continue // the secrets this function rotates
		}
		found++
		if got := slices.Sorted(slices.Values(s.actions)); !slices.Equal(got, []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}) {
			t.Errorf("manager secrets: actions %v, want DescribeSecret and GetSecretValue only", got)
		}
		if !reflect.DeepEqual(s.resource, map[string]any{"Fn::Sub": managerSecretsArn}) {
			t.Errorf("manager secrets: Resource %v, want this account's and region's secrets", s.resource)
		}
		eq, _ := s.condition["StringEquals"].(map[string]any)
		if v := eq["aws:ResourceTag/"+rotation.ManagerTagKey]; !isRef(v, "AWS::StackName") || len(s.condition) != 1 || len(eq) != 1 {
			t.Errorf("manager secrets: Condition %v, want exactly StringEquals aws:ResourceTag/%s = Ref AWS::StackName", s.condition, rotation.ManagerTagKey)
		}
		if s.guard != "" || s.effect != "Allow" {
			t.Errorf("manager secrets: guard %q, effect %q", s.guard, s.effect)
		}
	}
	if found != 1 {
		t.Errorf("%d statements on secrets this function does not rotate, want 1 (manager secrets)", found)
	}
}

// condKey finds key under any IAM condition operator.
func condKey(cond map[string]any, key string) (any, bool) {
	for _, op := range cond {
		if m, ok := op.(map[string]any); ok {
			if v, ok := m[key]; ok {
				return v, true
			}
		}
	}
	return nil, false
}

func TestKmsUseOnlyThroughSecretsManager(t *testing.T) {
	for _, s := range roleStatements(t, loadTemplate(t)) {
		if !slices.ContainsFunc(s.actions, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
			continue
		}
		v, ok := condKey(s.condition, "kms:ViaService")
		want := map[string]any{"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}
		if !ok || !reflect.DeepEqual(v, want) {
			t.Errorf("kms statement condition = %v, want kms:ViaService %v", s.condition, want)
		}
		if _, ok := s.condition["StringEquals"].(map[string]any)["kms:ViaService"]; !ok {
			t.Errorf("kms:ViaService under %v, want StringEquals", s.condition)
		}
	}
}

// Secrets Manager calls Decrypt and GenerateDataKey with the encryption
// context SecretARN=<secret ARN>: the role can use the key for the secrets
// of this account and region only, whatever else the key protects. Which of
// them, Secrets Manager has already decided by the secret permissions.
// DescribeKey has no encryption context (a condition on one would always
// deny it).
func TestKmsUseOnlyForThisAccountsSecrets(t *testing.T) {
	seen := 0
	for _, s := range roleStatements(t, loadTemplate(t)) {
		for _, a := range s.actions {
			if !strings.HasPrefix(a, "kms:") || a == "kms:DescribeKey" {
				continue
			}
			seen++
			like, _ := s.condition["StringLike"].(map[string]any)
			if v := like["kms:EncryptionContext:SecretARN"]; !reflect.DeepEqual(v, accountSecrets) {
				t.Errorf("%s: StringLike kms:EncryptionContext:SecretARN = %v, want %v", a, v, accountSecrets)
			}
		}
	}
	if seen == 0 {
		t.Error("no kms statement other than DescribeKey; Secrets Manager needs Decrypt and GenerateDataKey with a customer key")
	}
}

// The optional single secret is named by its full ARN, so the parameter
// must refuse a partial ARN (the rotation schedule and the failure rule
// would name no secret); empty means no single secret.
func TestSecretArnParameterRequiresFullArn(t *testing.T) {
	tpl := loadTemplate(t)
	pattern, _ := tpl.Parameters["SecretArn"]["AllowedPattern"].(string)
	re, err := regexp.Compile(pattern)
	if err != nil || pattern == "" {
		t.Fatalf("SecretArn.AllowedPattern %q: %v", pattern, err)
	}
	if d, ok := tpl.Parameters["SecretArn"]["Default"]; !ok || d != "" {
		t.Errorf("SecretArn.Default = %v, want empty: one stack serves many secrets, the single one is optional", d)
	}
	for _, tc := range []struct {
		arn  string
		want bool
	}{
		{"arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven/api-token-AbCdEf", true},
		{"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:tok-a1B2c3", true},
		{"", true},
		{"arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven/api-token", false},
		{"aiven/api-token", false},
		{"arn:aws:secretsmanager:us-east-1:000000000000:secret:*", false},
	} {
		if got := re.MatchString(tc.arn); got != tc.want {
			t.Errorf("AllowedPattern matches %q = %v, want %v", tc.arn, got, tc.want)
		}
	}
}

func TestInvokePermission(t *testing.T) {
	tpl := loadTemplate(t)
	p := tpl.resource(t, "RotatorInvokePermission", "AWS::Lambda::Permission").Properties
	if p["Principal"] != "secretsmanager.amazonaws.com" {
		t.Errorf("Principal = %v, want secretsmanager.amazonaws.com", p["Principal"])
	}
	if p["Action"] != "lambda:InvokeFunction" {
		t.Errorf("Action = %v, want lambda:InvokeFunction", p["Action"])
	}
	if !reflect.DeepEqual(p["SourceAccount"], ref("AWS::AccountId")) {
		t.Errorf("SourceAccount = %v, want Ref AWS::AccountId", p["SourceAccount"])
	}
	if !isGetAtt(p["FunctionName"], "RotatorFunction", "Arn") && !reflect.DeepEqual(p["FunctionName"], ref("RotatorFunction")) {
		t.Errorf("FunctionName = %v, want RotatorFunction", p["FunctionName"])
	}
}

func TestRotationSchedule(t *testing.T) {
	tpl := loadTemplate(t)
	r := tpl.resource(t, "RotationSchedule", "AWS::SecretsManager::RotationSchedule")
	if r.Condition != "CreateSchedule" {
		t.Errorf("Condition = %q, want CreateSchedule", r.Condition)
	}
	wantCond := map[string]any{"Fn::And": []any{
		map[string]any{"Fn::Equals": []any{ref("CreateRotationSchedule"), "true"}},
		map[string]any{"Condition": "HasSecretArn"},
	}}
	if !reflect.DeepEqual(tpl.Conditions["CreateSchedule"], wantCond) {
		t.Errorf("CreateSchedule = %v, want %v", tpl.Conditions["CreateSchedule"], wantCond)
	}
	wantHas := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("SecretArn"), ""}}}}
	if !reflect.DeepEqual(tpl.Conditions["HasSecretArn"], wantHas) {
		t.Errorf("HasSecretArn = %v, want %v", tpl.Conditions["HasSecretArn"], wantHas)
	}
	if !slices.Contains(strs(r.DependsOn), "RotatorInvokePermission") {
		t.Errorf("DependsOn = %v, want RotatorInvokePermission (Secrets Manager checks it may invoke)", r.DependsOn)
	}
	p := r.Properties
	if !reflect.DeepEqual(p["SecretId"], ref("SecretArn")) {
		t.Errorf("SecretId = %v, want Ref SecretArn", p["SecretId"])
	}
	if !isGetAtt(p["RotationLambdaARN"], "RotatorFunction", "Arn") {
		t.Errorf("RotationLambdaARN = %v, want GetAtt RotatorFunction.Arn", p["RotationLambdaARN"])
	}
	wantRules := map[string]any{"ScheduleExpression": ref("ScheduleExpression"), "Duration": ref("RotationWindow")}
	if !reflect.DeepEqual(p["RotationRules"], wantRules) {
		t.Errorf("RotationRules = %v, want %v", p["RotationRules"], wantRules)
	}
	// CloudFormation rotates at once on every update unless told not to;
	// the stack makes it a choice, off by default.
	if !reflect.DeepEqual(p["RotateImmediatelyOnUpdate"], ref("RotateImmediatelyOnUpdate")) {
		t.Errorf("RotateImmediatelyOnUpdate = %v, want Ref RotateImmediatelyOnUpdate", p["RotateImmediatelyOnUpdate"])
	}
	param := tpl.Parameters["RotateImmediatelyOnUpdate"]
	if got := strs(param["AllowedValues"]); !slices.Equal(got, []string{"true", "false"}) || param["Default"] != "false" {
		t.Errorf("parameter RotateImmediatelyOnUpdate = %v, want AllowedValues [true false], Default false", param)
	}
}

// Secrets Manager's RotationRules.Duration is a whole number of hours, and
// the window may not reach into the next UTC day: 1h to 24h.
func TestRotationWindowIsOneToTwentyFourHours(t *testing.T) {
	tpl := loadTemplate(t)
	param := tpl.Parameters["RotationWindow"]
	pattern, _ := param["AllowedPattern"].(string)
	re, err := regexp.Compile(pattern)
	if err != nil || pattern == "" {
		t.Fatalf("RotationWindow.AllowedPattern %q: %v", pattern, err)
	}
	for h := 0; h <= 100; h++ {
		w := fmt.Sprintf("%dh", h)
		if got, want := re.MatchString(w), h >= 1 && h <= 24; got != want {
			t.Errorf("AllowedPattern matches %q = %v, want %v", w, got, want)
		}
	}
	for _, w := range []string{"", "h", "4", "04h", "4H", "4h ", " 4h", "1.5h", "-1h", "4hh", "4d", "240m"} {
		if re.MatchString(w) {
			t.Errorf("AllowedPattern matches %q", w)
		}
	}
	if d, _ := param["Default"].(string); !re.MatchString(d) {
		t.Errorf("Default %q does not match its own pattern", d)
	}
}

// Aiven gives a token a 30-day lifetime by default. The schedule must
// replace it well before then, with room for one failed rotation to be
// retried and fixed (two periods inside 30 days), and stay well above the
// day the previous token is kept valid after a rotation.
func TestDefaultScheduleBeatsAivenTokenLifetime(t *testing.T) {
	param := loadTemplate(t).Parameters["ScheduleExpression"]
	def, _ := param["Default"].(string)
	m := regexp.MustCompile(`^rate\(([0-9]+) days?\)$`).FindStringSubmatch(def)
	if m == nil {
		t.Fatalf("Default = %q, want rate(N days)", def)
	}
	days, _ := strconv.Atoi(m[1])
	if 2*days > 30 || days < 7 {
		t.Errorf("Default = %q: want 7..15 days, so that two periods fit in Aiven's 30-day token lifetime and each is well above the 24h grace", def)
	}
	if desc, _ := param["Description"].(string); !strings.Contains(desc, "30-day") {
		t.Errorf("Description %q does not say why: Aiven's 30-day token lifetime", desc)
	}
}

func TestPermissionsBoundary(t *testing.T) {
	tpl := loadTemplate(t)
	role := tpl.resource(t, "RotatorRole", "AWS::IAM::Role")
	cond, then, otherwise, ok := fnIf(role.Properties["PermissionsBoundary"])
	if !ok || cond != "HasPermissionsBoundary" || !reflect.DeepEqual(then, ref("PermissionsBoundary")) || !reflect.DeepEqual(otherwise, ref("AWS::NoValue")) {
		t.Errorf("RotatorRole.PermissionsBoundary = %v, want Fn::If [HasPermissionsBoundary, Ref PermissionsBoundary, AWS::NoValue]", role.Properties["PermissionsBoundary"])
	}
	want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("PermissionsBoundary"), ""}}}}
	if !reflect.DeepEqual(tpl.Conditions["HasPermissionsBoundary"], want) {
		t.Errorf("HasPermissionsBoundary = %v, want %v", tpl.Conditions["HasPermissionsBoundary"], want)
	}
	param := tpl.Parameters["PermissionsBoundary"]
	if param["Default"] != "" {
		t.Errorf("PermissionsBoundary.Default = %v, want empty (no boundary)", param["Default"])
	}
	pattern, _ := param["AllowedPattern"].(string)
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatalf("PermissionsBoundary.AllowedPattern %q: %v", pattern, err)
	}
	for arn, want := range map[string]bool{
		"": true,
		"arn:aws:iam::123456789012:policy/boundaries/Developer": true,
		"arn:aws-us-gov:iam::123456789012:policy/b":             true,
		"arn:aws:iam::aws:policy/PowerUserAccess":               true,
		"Developer":                        false,
		"arn:aws:iam::123456789012:role/x": false,
	} {
		if re.MatchString(arn) != want {
			t.Errorf("AllowedPattern matches %q = %v, want %v", arn, !want, want)
		}
	}
}

// isAlarmTopic reports whether v names the topic notifications go to: the
// given topic when set, else the one this stack creates.
func isAlarmTopic(v any) bool {
	cond, then, otherwise, ok := fnIf(v)
	return ok && cond == "HasAlarmTopicArn" &&
		reflect.DeepEqual(then, ref("AlarmTopicArn")) && reflect.DeepEqual(otherwise, ref("AlarmTopic"))
}

func TestErrorsAlarmNotifiesTopic(t *testing.T) {
	tpl := loadTemplate(t)
	p := tpl.resource(t, "RotatorErrorsAlarm", "AWS::CloudWatch::Alarm").Properties
	for key, want := range map[string]any{
		"Namespace":          "AWS/Lambda",
		"MetricName":         "Errors",
		"Statistic":          "Sum",
		"Period":             300.0,
		"EvaluationPeriods":  1.0,
		"Threshold":          1.0,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold",
		"Dimensions":         []any{map[string]any{"Name": "FunctionName", "Value": ref("RotatorFunction")}},
		// Lambda writes Errors only for periods with invocations.
		"TreatMissingData": "ignore",
	} {
		if !reflect.DeepEqual(p[key], want) {
			t.Errorf("%s = %v, want %v", key, p[key], want)
		}
	}
	cond, then, otherwise, ok := fnIf(p["AlarmActions"])
	actions, _ := then.([]any)
	if !ok || cond != "Notify" || !reflect.DeepEqual(otherwise, ref("AWS::NoValue")) || len(actions) != 1 || !isAlarmTopic(actions[0]) {
		t.Errorf("AlarmActions = %v, want [alarm topic] when Notify", p["AlarmActions"])
	}
}

func TestRotationFailedRuleNotifiesTopic(t *testing.T) {
	tpl := loadTemplate(t)
	r := tpl.resource(t, "RotationFailedRule", "AWS::Events::Rule")
	if r.Condition != "Notify" {
		t.Errorf("Condition = %q, want Notify (a rule with no target is noise)", r.Condition)
	}
	// The shape CloudTrail gives Secrets Manager's rotation outcomes, for
	// the single secret when there is one, else for every secret (the
	// events do not name the rotation function).
	outcomes := map[string]any{
		"eventSource": []any{"secretsmanager.amazonaws.com"},
		"eventName":   []any{"RotationFailed", "RotationAbandoned", "TestRotationFailed"},
	}
	forSecret := map[string]any{"additionalEventData": map[string]any{"SecretId": []any{ref("SecretArn")}}}
	for k, v := range outcomes {
		forSecret[k] = v
	}
	wantPattern := map[string]any{
		"source":      []any{"aws.secretsmanager"},
		"detail-type": []any{"AWS Service Event via CloudTrail"},
		"detail":      map[string]any{"Fn::If": []any{"HasSecretArn", forSecret, outcomes}},
	}
	if !reflect.DeepEqual(r.Properties["EventPattern"], wantPattern) {
		got, _ := json.Marshal(r.Properties["EventPattern"])
		t.Errorf("EventPattern = %s", got)
	}
	targets, _ := r.Properties["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("Targets = %v, want one", r.Properties["Targets"])
	}
	if target, _ := targets[0].(map[string]any); !isAlarmTopic(target["Arn"]) {
		t.Errorf("target Arn = %v, want the alarm topic", target["Arn"])
	}
}

func TestAlarmTopicCreatedOnlyForEmail(t *testing.T) {
	tpl := loadTemplate(t)
	topic := tpl.resource(t, "AlarmTopic", "AWS::SNS::Topic")
	sub := tpl.resource(t, "AlarmEmailSubscription", "AWS::SNS::Subscription")
	policy := tpl.resource(t, "AlarmTopicPolicy", "AWS::SNS::TopicPolicy")
	for name, r := range map[string]resource{"AlarmTopic": topic, "AlarmEmailSubscription": sub, "AlarmTopicPolicy": policy} {
		if r.Condition != "CreateAlarmTopic" {
			t.Errorf("%s: Condition = %q, want CreateAlarmTopic", name, r.Condition)
		}
	}
	if sub.Properties["Protocol"] != "email" || !reflect.DeepEqual(sub.Properties["Endpoint"], ref("AlarmEmail")) ||
		!reflect.DeepEqual(sub.Properties["TopicArn"], ref("AlarmTopic")) {
		t.Errorf("subscription = %v, want email to AlarmEmail on AlarmTopic", sub.Properties)
	}

	doc, _ := policy.Properties["PolicyDocument"].(map[string]any)
	stmts, _ := doc["Statement"].([]any)
	var principals []string
	for _, s := range stmts {
		m, _ := s.(map[string]any)
		if m["Effect"] != "Allow" || !slices.Contains(strs(m["Action"]), "sns:Publish") || !reflect.DeepEqual(m["Resource"], ref("AlarmTopic")) {
			continue
		}
		p, _ := m["Principal"].(map[string]any)
		principals = append(principals, strs(p["Service"])...)
	}
	sort.Strings(principals)
	if want := []string{"cloudwatch.amazonaws.com", "events.amazonaws.com"}; !slices.Equal(principals, want) {
		t.Errorf("services allowed to publish = %v, want %v", principals, want)
	}
	if !reflect.DeepEqual(policy.Properties["Topics"], []any{ref("AlarmTopic")}) {
		t.Errorf("Topics = %v, want [AlarmTopic]", policy.Properties["Topics"])
	}
}

func TestOutputs(t *testing.T) {
	tpl := loadTemplate(t)
	for name, res := range map[string]string{"RotatorFunctionArn": "RotatorFunction", "RotatorRoleArn": "RotatorRole"} {
		if out, ok := tpl.Outputs[name]; !ok || !isGetAtt(out["Value"], res, "Arn") {
			t.Errorf("output %s = %v, want GetAtt %s.Arn", name, out, res)
		}
	}
	// Ref of a log group is its name, which is generated.
	if out := tpl.Outputs["RotatorLogGroupName"]; !reflect.DeepEqual(out["Value"], ref("RotatorLogGroup")) {
		t.Errorf("output RotatorLogGroupName = %v, want Ref RotatorLogGroup", out)
	}
	// The topic exists only when something is notified.
	if out := tpl.Outputs["NotificationTopicArn"]; out["Condition"] != "Notify" || !isAlarmTopic(out["Value"]) {
		t.Errorf("output NotificationTopicArn = %v, want the alarm topic under Condition Notify", out)
	}
	// The dashboard in the console, by the name CloudFormation generated
	// (Ref of a dashboard is its name).
	wantURL := map[string]any{"Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards:name=${RotatorDashboard}"}
	if out := tpl.Outputs["DashboardUrl"]; out["Condition"] != "HasDashboard" || !reflect.DeepEqual(out["Value"], wantURL) {
		t.Errorf("output DashboardUrl = %v, want %v under Condition HasDashboard", out, wantURL)
	}
}

// sam publish reads this block; the patterns are the Serverless Application
// Repository's constraints on each field.
func TestServerlessRepoMetadata(t *testing.T) {
	tpl := loadTemplate(t)
	app, ok := tpl.Metadata["AWS::ServerlessRepo::Application"].(map[string]any)
	if !ok {
		t.Fatalf("Metadata has no AWS::ServerlessRepo::Application: %v", tpl.Metadata)
	}
	field := func(key, pattern string) string {
		t.Helper()
		v, _ := app[key].(string)
		if !regexp.MustCompile(pattern).MatchString(v) {
			t.Errorf("%s = %q, want to match %s", key, v, pattern)
		}
		return v
	}
	field("Name", `^[a-zA-Z0-9-]{1,140}$`)
	field("Description", `^.{1,256}$`)
	field("Author", `^[a-z0-9](([a-z0-9]|-[a-z0-9])*)$`)
	field("SemanticVersion", `^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	field("HomePageUrl", `^https://`)
	field("SourceCodeUrl", `^https://`)
	if app["SpdxLicenseId"] != "Apache-2.0" {
		t.Errorf("SpdxLicenseId = %v, want Apache-2.0", app["SpdxLicenseId"])
	}
	// Local files, uploaded by sam package: they must be at the root.
	for key, want := range map[string]string{"LicenseUrl": "LICENSE", "ReadmeUrl": "README.md"} {
		if app[key] != want {
			t.Errorf("%s = %v, want %s", key, app[key], want)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "README.md")); err != nil {
		t.Errorf("ReadmeUrl: %v", err)
	}
	labels := strs(app["Labels"])
	if len(labels) == 0 || len(labels) > 10 {
		t.Errorf("Labels = %v, want 1 to 10", labels)
	}
	for _, l := range labels {
		if !regexp.MustCompile(`^[a-zA-Z0-9+\-_:/@]{1,127}$`).MatchString(l) {
			t.Errorf("label %q has characters the repository refuses", l)
		}
	}
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// references collects every Ref target, ${Name} in Fn::Sub and condition
// name (resource Condition, Fn::If, {Condition: X}) under v.
func references(v any, refs, conds map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "Ref":
				if s, ok := e.(string); ok {
					refs[s] = true
				}
			case "Fn::Sub":
				s, _ := e.(string)
				var local map[string]any // Fn::Sub's own variables
				if l, ok := e.([]any); ok && len(l) > 0 {
					s, _ = l[0].(string)
					if len(l) > 1 {
						local, _ = l[1].(map[string]any)
					}
				}
				for _, m := range subVar.FindAllStringSubmatch(s, -1) {
					if name := strings.SplitN(m[1], ".", 2)[0]; local[name] == nil {
						refs[name] = true
					}
				}
			case "Fn::If":
				if l, ok := e.([]any); ok && len(l) > 0 {
					if s, ok := l[0].(string); ok {
						conds[s] = true
					}
				}
			case "Condition":
				if s, ok := e.(string); ok {
					conds[s] = true
				}
			}
			references(e, refs, conds)
		}
	case []any:
		for _, e := range x {
			references(e, refs, conds)
		}
	}
}

func TestEveryParameterAndConditionUsed(t *testing.T) {
	tpl := loadTemplate(t)
	refs, conds := map[string]bool{}, map[string]bool{}
	for _, r := range tpl.Resources {
		if r.Condition != "" {
			conds[r.Condition] = true
		}
		references(r.Properties, refs, conds)
		references(r.DependsOn, refs, conds)
	}
	references(tpl.Outputs, refs, conds)
	references(tpl.Conditions, refs, conds)

	for name := range tpl.Parameters {
		if !refs[name] {
			t.Errorf("parameter %s is never used", name)
		}
	}
	for name := range tpl.Conditions {
		if !conds[name] {
			t.Errorf("condition %s is never used", name)
		}
	}
	for name := range conds {
		if _, ok := tpl.Conditions[name]; !ok {
			t.Errorf("condition %s is used but not defined", name)
		}
	}
	for name := range refs {
		_, isParam := tpl.Parameters[name]
		_, isRes := tpl.Resources[name]
		if !isParam && !isRes && !strings.HasPrefix(name, "AWS::") {
			t.Errorf("reference to %s, which is neither a parameter nor a resource", name)
		}
	}
}

// Every parameter sits in exactly one console group and has a label, and
// the groups name no parameter the template lacks.
func TestParameterInterface(t *testing.T) {
	tpl := loadTemplate(t)
	iface, ok := tpl.Metadata["AWS::CloudFormation::Interface"].(map[string]any)
	if !ok {
		t.Fatal("Metadata has no AWS::CloudFormation::Interface")
	}
	seen := map[string]int{}
	groups, _ := iface["ParameterGroups"].([]any)
	for _, g := range groups {
		group, _ := g.(map[string]any)
		if label, _ := group["Label"].(map[string]any); label["default"] == nil || label["default"] == "" {
			t.Errorf("group %v has no Label.default", group)
		}
		for _, name := range strs(group["Parameters"]) {
			seen[name]++
		}
	}
	labels, _ := iface["ParameterLabels"].(map[string]any)
	for name := range tpl.Parameters {
		if seen[name] != 1 {
			t.Errorf("parameter %s is in %d groups, want 1", name, seen[name])
		}
		if l, _ := labels[name].(map[string]any); l["default"] == nil || l["default"] == "" {
			t.Errorf("parameter %s has no label", name)
		}
	}
	for name := range seen {
		if _, ok := tpl.Parameters[name]; !ok {
			t.Errorf("group names %s, which is no parameter", name)
		}
	}
	for name := range labels {
		if _, ok := tpl.Parameters[name]; !ok {
			t.Errorf("label for %s, which is no parameter", name)
		}
	}
}

// A String parameter takes only the values it has a shape for: every one
// has AllowedValues or an AllowedPattern, and its Default matches.
func TestEveryStringParameterIsConstrained(t *testing.T) {
	tpl := loadTemplate(t)
	for name, p := range tpl.Parameters {
		if p["Type"] != "String" {
			continue
		}
		pattern, hasPattern := p["AllowedPattern"].(string)
		_, hasValues := p["AllowedValues"]
		if !hasPattern && !hasValues {
			t.Errorf("parameter %s: neither AllowedPattern nor AllowedValues", name)
			continue
		}
		if hasPattern {
			def, _ := p["Default"].(string)
			if !regexp.MustCompile(pattern).MatchString(def) {
				t.Errorf("parameter %s: Default %q does not match its own pattern", name, def)
			}
			if p["ConstraintDescription"] == nil {
				t.Errorf("parameter %s: a pattern without a ConstraintDescription", name)
			}
		}
	}
}

// patternCases checks a parameter's AllowedPattern against values.
func patternCases(t *testing.T, param string, cases map[string]bool) {
	t.Helper()
	p := loadTemplate(t).Parameters[param]
	pattern, _ := p["AllowedPattern"].(string)
	re, err := regexp.Compile(pattern)
	if err != nil || pattern == "" {
		t.Fatalf("%s.AllowedPattern %q: %v", param, pattern, err)
	}
	for v, want := range cases {
		if re.MatchString(v) != want {
			t.Errorf("%s pattern matches %q = %v, want %v", param, v, !want, want)
		}
	}
}

// The KMS statements name KmsKeyArn as their Resource, which IAM matches
// against the key ARN: an alias or a bare key id would deny every read
// and write of the secrets. Multi-Region keys (mrk-) are key ARNs too.
func TestKmsKeyArnIsAKeyArn(t *testing.T) {
	patternCases(t, "KmsKeyArn", map[string]bool{
		"": true,
		"arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab":            true,
		"arn:aws:kms:us-east-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab":            true,
		"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab": true,
		"arn:aws:kms:eu-west-1:111122223333:alias/aiven-secrets":                                 false,
		"alias/aiven-secrets":                             false,
		"1234abcd-12ab-34cd-56ef-1234567890ab":            false,
		"mrk-1234abcd12ab34cd56ef1234567890ab":            false,
		"arn:aws:kms:eu-west-1:111122223333:key/*":        false,
		"arn:aws:kms:eu-west-1:111122223333:key/mrk-1234": false,
	})
}

func TestAlarmTopicArnIsATopicArn(t *testing.T) {
	patternCases(t, "AlarmTopicArn", map[string]bool{
		"": true,
		"arn:aws:sns:eu-west-1:111122223333:ops-alarms":                 true,
		"arn:aws:sns:eu-west-1:111122223333:ops-alarms:0a1b2c3d-subscr": false,
		"ops-alarms": false,
		"arn:aws:sqs:eu-west-1:111122223333:ops-alarms": false,
	})
	patternCases(t, "AlarmEmail", map[string]bool{"": true, "ops@example.com": true, "ops": false, "a b@example.com": false})
}

// ALLOWED_API_HOSTS is split on commas, each host trimmed.
func TestAllowedApiHostsIsAHostList(t *testing.T) {
	patternCases(t, "AllowedApiHosts", map[string]bool{
		"api.aiven.io":                     true,
		"api.aiven.io,aiven.internal:8443": true,
		"api.aiven.io, api.eu.example.com": true,
		"":                                 false,
		"https://api.aiven.io":             false,
		"api.aiven.io/v1":                  false,
		"api.aiven.io,":                    false,
		"*.aiven.io":                       false,
	})
}

func TestScheduleExpressionsHaveTheirShape(t *testing.T) {
	patternCases(t, "ScheduleExpression", map[string]bool{
		"rate(14 days)": true, "cron(0 8 1 * ? *)": true, "": false, "14 days": false, "off": false,
	})
}

// Reserved concurrency is optional; when set it is at least 2: Secrets
// Manager calls the function for each step of a rotation while a sweep
// may be running, and a throttled step fails.
func TestReservedConcurrencyIsOptionalAndAtLeastTwo(t *testing.T) {
	tpl := loadTemplate(t)
	p := tpl.Parameters["ReservedConcurrency"]
	if p["Default"] != "" {
		t.Errorf("ReservedConcurrency.Default = %v, want empty (no reservation)", p["Default"])
	}
	patternCases(t, "ReservedConcurrency", map[string]bool{
		"": true, "2": true, "10": true, "1000": true, "0": false, "1": false, "02": false, "-5": false, "2.5": false,
	})
	fn := tpl.resource(t, "RotatorFunction", "AWS::Serverless::Function")
	cond, then, otherwise, ok := fnIf(fn.Properties["ReservedConcurrentExecutions"])
	if !ok || cond != "HasReservedConcurrency" || !reflect.DeepEqual(then, ref("ReservedConcurrency")) || !reflect.DeepEqual(otherwise, ref("AWS::NoValue")) {
		t.Errorf("ReservedConcurrentExecutions = %v, want Fn::If [HasReservedConcurrency, Ref ReservedConcurrency, AWS::NoValue]", fn.Properties["ReservedConcurrentExecutions"])
	}
	want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("ReservedConcurrency"), ""}}}}
	if !reflect.DeepEqual(tpl.Conditions["HasReservedConcurrency"], want) {
		t.Errorf("HasReservedConcurrency = %v, want %v", tpl.Conditions["HasReservedConcurrency"], want)
	}
}

// RotateSecret's caller needs lambda:InvokeFunction on the rotation
// function (Secrets Manager API Reference, RotateSecret): the role may
// invoke this function, by its unqualified ARN, and nothing else; and
// neither the role nor Secrets Manager's permission reaches a qualified ARN.
func TestInvokeSelfIsThisFunctionOnly(t *testing.T) {
	tpl := loadTemplate(t)
	found := false
	for _, s := range roleStatements(t, tpl) {
		if !slices.Contains(s.actions, "lambda:InvokeFunction") {
			continue
		}
		found = true
		if !slices.Equal(s.actions, []string{"lambda:InvokeFunction"}) || !isOwnFunction(s.resource) || s.guard != "" || len(s.condition) != 0 {
			t.Errorf("invoke statement %+v, want lambda:InvokeFunction on RotatorFunction.Arn alone", s)
		}
	}
	if !found {
		t.Error("the role may not invoke the function: RotateSecret from the sweep and {\"action\":\"rotate\"} would be denied")
	}
	doc, _ := tpl.resource(t, "RotatorSecretsPolicy", "AWS::IAM::RolePolicy").Properties["PolicyDocument"].(map[string]any)
	stmts, _ := doc["Statement"].([]any)
	sids := map[string]bool{}
	for _, st := range stmts {
		m, _ := st.(map[string]any)
		sid, _ := m["Sid"].(string)
		sids[sid] = true
	}
	if !sids["InvokeSelf"] {
		t.Error("RotatorSecretsPolicy has no statement InvokeSelf")
	}
	for name, r := range tpl.Resources {
		if r.Type == "AWS::Lambda::Permission" || r.Type == "AWS::Lambda::Alias" || r.Type == "AWS::Lambda::Version" {
			if _, q := r.Properties["Qualifier"]; q || r.Type != "AWS::Lambda::Permission" {
				t.Errorf("%s (%s): the stack supports the unqualified function only", name, r.Type)
			}
		}
	}
	fn := tpl.resource(t, "RotatorFunction", "AWS::Serverless::Function")
	if _, ok := fn.Properties["AutoPublishAlias"]; ok {
		t.Error("RotatorFunction.AutoPublishAlias: the stack supports the unqualified function only")
	}
}

// EventBridge Scheduler invokes the function asynchronously, and Lambda
// retries a failed asynchronous invocation twice by default: the function
// retries none (the next sweep makes up a failed one) and drops an event
// it could not start within one default sweep period.
func TestAsyncInvocationsAreNotRetried(t *testing.T) {
	tpl := loadTemplate(t)
	var configs []string
	for name, r := range tpl.Resources {
		if r.Type == "AWS::Lambda::EventInvokeConfig" {
			configs = append(configs, name)
		}
	}
	if len(configs) != 1 {
		t.Fatalf("EventInvokeConfig resources %v, want one", configs)
	}
	r := tpl.Resources[configs[0]]
	p := r.Properties
	if r.Condition != "" {
		t.Errorf("%s.Condition = %q: the function is invoked asynchronously whether or not the sweep runs", configs[0], r.Condition)
	}
	if !reflect.DeepEqual(p["FunctionName"], ref("RotatorFunction")) || p["Qualifier"] != "$LATEST" {
		t.Errorf("FunctionName/Qualifier = %v/%v, want Ref RotatorFunction / $LATEST (the unqualified function)", p["FunctionName"], p["Qualifier"])
	}
	if p["MaximumRetryAttempts"] != 0.0 {
		t.Errorf("MaximumRetryAttempts = %v, want 0", p["MaximumRetryAttempts"])
	}
	age, _ := p["MaximumEventAgeInSeconds"].(float64)
	sweep, _ := time.ParseDuration(strings.NewReplacer("rate(", "", " minutes)", "m").Replace(tpl.Parameters["SweepScheduleExpression"]["Default"].(string)))
	if age < 60 || age > 21600 || time.Duration(age)*time.Second > sweep {
		t.Errorf("MaximumEventAgeInSeconds = %v, want 60..21600 (Lambda's range) and no longer than the default sweep period %v", age, sweep)
	}
}
