package smemulator_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// awsCLIs are the AWS CLIs on this machine: the one on PATH, and Debian's
// /usr/bin/aws when it is another (a pyenv shim may shadow it).
func awsCLIs(t *testing.T) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range []string{"aws", "/usr/bin/aws"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			real = path
		}
		if !seen[real] {
			seen[real] = true
			out = append(out, path)
		}
	}
	return out
}

// TestAWSCLI drives the emulator with the AWS CLI, unchanged, over a real
// 127.0.0.1 listener.
func TestAWSCLI(t *testing.T) {
	clis := awsCLIs(t)
	if len(clis) == 0 {
		t.Skip("skipped: no AWS CLI (`aws`) on PATH or at /usr/bin/aws; install the awscli package to run this test")
	}
	for _, bin := range clis {
		version := cliVersion(t, bin)
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			runCLI(t, bin, version)
		})
	}
}

func cliVersion(t *testing.T, bin string) string {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v %s", bin, err, out)
	}
	if m := regexp.MustCompile(`aws-cli/\S+`).FindString(string(out)); m != "" {
		return m
	}
	return strings.Fields(string(out))[0]
}

// honoursServiceEndpointVariable says whether a CLI version reads
// AWS_ENDPOINT_URL_SECRETS_MANAGER: v2 from 2.13, v1 from 1.29.
func honoursServiceEndpointVariable(version string) bool {
	m := regexp.MustCompile(`aws-cli/(\d+)\.(\d+)`).FindStringSubmatch(version)
	if m == nil {
		return false
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return (major == 2 && minor >= 13) || (major == 1 && minor >= 29) || major > 2
}

func runCLI(t *testing.T, bin, version string) {
	emu := smemulator.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: emu}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()
	useEnv := honoursServiceEndpointVariable(version)
	t.Logf("%s: endpoint through %s", version, map[bool]string{true: "AWS_ENDPOINT_URL_SECRETS_MANAGER", false: "--endpoint-url (this version ignores AWS_ENDPOINT_URL_SECRETS_MANAGER)"}[useEnv])
	home := t.TempDir()

	cli := func(args ...string) (map[string]any, string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		full := []string{"--output", "json"}
		if !useEnv {
			full = append(full, "--endpoint-url", url)
		}
		cmd := exec.CommandContext(ctx, bin, append(append(full, "secretsmanager"), args...)...)
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + home,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + url,
			"AWS_ACCESS_KEY_ID=AKIDLOCAL", "AWS_SECRET_ACCESS_KEY=local-secret",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		}
		if p := os.Getenv("PYENV_ROOT"); p != "" {
			cmd.Env = append(cmd.Env, "PYENV_ROOT="+p)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var m map[string]any
		if len(out) > 0 {
			_ = json.Unmarshal(out, &m)
		}
		return m, stderr.String(), err
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		m, stderr, err := cli(args...)
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, stderr)
		}
		return m
	}
	refused := func(errType, msg string, args ...string) {
		t.Helper()
		_, stderr, err := cli(args...)
		if err == nil || !strings.Contains(stderr, "("+errType+")") || !strings.Contains(stderr, msg) {
			t.Fatalf("aws %v: %v, stderr %q; want %s %q", args, err, stderr, errType, msg)
		}
	}

	created := must("create-secret", "--name", "cli/secret", "--secret-string", "v1")
	arn, _ := created["ARN"].(string)
	if emu.Faults().Calls()["CreateSecret"] != 1 || !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:000000000000:secret:cli/secret-") {
		t.Fatalf("create-secret: %v", created)
	}
	first, _ := created["VersionId"].(string)

	// put-secret-value: same token and value ignored; same token, other value refused.
	put := must("put-secret-value", "--secret-id", arn, "--client-request-token", tokA, "--secret-string", "v2", "--version-stages", "AWSPENDING")
	if put["VersionId"] != tokA || !slices.Equal(put["VersionStages"].([]any), []any{"AWSPENDING"}) {
		t.Fatalf("put-secret-value: %v", put)
	}
	must("put-secret-value", "--secret-id", arn, "--client-request-token", tokA, "--secret-string", "v2", "--version-stages", "AWSPENDING")
	refused("ResourceExistsException", "You can't modify an existing version, you can only create a new version.",
		"put-secret-value", "--secret-id", arn, "--client-request-token", tokA, "--secret-string", "other")

	// get-secret-value by stage and by id.
	if v := must("get-secret-value", "--secret-id", "cli/secret", "--version-stage", "AWSPENDING"); v["SecretString"] != "v2" || v["VersionId"] != tokA {
		t.Fatalf("by stage: %v", v)
	}
	if v := must("get-secret-value", "--secret-id", arn, "--version-id", first); v["SecretString"] != "v1" {
		t.Fatalf("by id: %v", v)
	}
	if v := must("get-secret-value", "--secret-id", arn); v["SecretString"] != "v1" {
		t.Fatalf("default: %v", v)
	}
	refused("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: NOPE",
		"get-secret-value", "--secret-id", arn, "--version-stage", "NOPE")

	// describe-secret.
	d := must("describe-secret", "--secret-id", arn)
	stages, _ := d["VersionIdsToStages"].(map[string]any)
	if d["Name"] != "cli/secret" || len(stages) != 2 || stages[first].([]any)[0] != "AWSCURRENT" || stages[tokA].([]any)[0] != "AWSPENDING" {
		t.Fatalf("describe-secret: %v", d)
	}

	// update-secret-version-stage: the missing RemoveFromVersionId, then the move.
	refused("InvalidParameterException", "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version "+first,
		"update-secret-version-stage", "--secret-id", arn, "--version-stage", "AWSCURRENT", "--move-to-version-id", tokA)
	must("update-secret-version-stage", "--secret-id", arn, "--version-stage", "AWSCURRENT", "--move-to-version-id", tokA, "--remove-from-version-id", first)
	if v := must("get-secret-value", "--secret-id", arn); v["SecretString"] != "v2" {
		t.Fatalf("after the move: %v", v)
	}

	// list-secret-version-ids.
	list := must("list-secret-version-ids", "--secret-id", arn)
	versions, _ := list["Versions"].([]any)
	if len(versions) != 2 {
		t.Fatalf("list-secret-version-ids: %v", list)
	}
	for _, v := range versions {
		v := v.(map[string]any)
		want := map[string]string{first: "AWSPREVIOUS", tokA: "AWSCURRENT"}[v["VersionId"].(string)]
		if !slices.Contains(v["VersionStages"].([]any), any(want)) {
			t.Fatalf("version %v, want %s", v, want)
		}
	}

	// rotate-secret, with an in-test rotation function using the SDK.
	r := &rotator{sm: sdkClient(url, true)}
	emu.RegisterFunction(fnARN, lambda.NewHandler(r.handle))
	must("update-secret-version-stage", "--secret-id", arn, "--version-stage", "AWSPENDING", "--remove-from-version-id", tokA)
	rot := must("rotate-secret", "--secret-id", arn, "--rotation-lambda-arn", fnARN, "--rotation-rules", `{"ScheduleExpression":"rate(30 days)"}`)
	rotated, _ := rot["VersionId"].(string)
	if rot["ARN"] != arn || rotated == "" {
		t.Fatalf("rotate-secret: %v", rot)
	}
	if v := must("get-secret-value", "--secret-id", arn); v["SecretString"] != "new-"+rotated {
		t.Fatalf("after rotate-secret: %v", v)
	}
	if d := must("describe-secret", "--secret-id", arn); d["RotationEnabled"] != true || d["LastRotatedDate"] == nil {
		t.Fatalf("describe-secret after rotate-secret: %v", d)
	}
	refused("AccessDeniedException", "no function is registered for arn:aws:lambda:us-east-1:000000000000:function:missing",
		"rotate-secret", "--secret-id", arn, "--rotation-lambda-arn", "arn:aws:lambda:us-east-1:000000000000:function:missing")

	// update-secret: a value makes a new AWSCURRENT version, AWSPREVIOUS
	// follows; the same token and value again is ignored; a description
	// alone makes no version.
	upd := must("update-secret", "--secret-id", arn, "--client-request-token", tokD, "--secret-string", "v9", "--description", "from the CLI")
	if upd["ARN"] != arn || upd["Name"] != "cli/secret" || upd["VersionId"] != tokD {
		t.Fatalf("update-secret: %v", upd)
	}
	must("update-secret", "--secret-id", arn, "--client-request-token", tokD, "--secret-string", "v9")
	refused("ResourceExistsException", "You can't modify an existing version, you can only create a new version.",
		"update-secret", "--secret-id", arn, "--client-request-token", tokD, "--secret-string", "other")
	if v := must("get-secret-value", "--secret-id", arn); v["SecretString"] != "v9" || v["VersionId"] != tokD || v["CreatedDate"] == nil {
		t.Fatalf("after update-secret: %v", v)
	}
	if v := must("get-secret-value", "--secret-id", arn, "--version-stage", "AWSPREVIOUS"); v["SecretString"] != "new-"+rotated {
		t.Fatalf("AWSPREVIOUS after update-secret: %v", v)
	}
	if meta := must("update-secret", "--secret-id", "cli/secret", "--description", "only metadata"); meta["VersionId"] != nil || meta["ARN"] != arn {
		t.Fatalf("update-secret without a value: %v", meta)
	}
	if d := must("describe-secret", "--secret-id", arn); d["Description"] != "only metadata" || len(d["VersionIdsToStages"].(map[string]any)) != 2 {
		t.Fatalf("describe-secret after update-secret: %v", d)
	}
	if n := emu.Faults().Calls()["UpdateSecret"]; n != 4 {
		t.Fatalf("UpdateSecret counted %d times", n)
	}

	// get-random-password: 32 characters by default (botocore's model).
	if pw, _ := must("get-random-password")["RandomPassword"].(string); len(pw) != 32 {
		t.Fatalf("get-random-password: %q", pw)
	}
	if pw, _ := must("get-random-password", "--password-length", "12", "--exclude-punctuation")["RandomPassword"].(string); len(pw) != 12 || strings.ContainsAny(pw, "!#$%&*+-./:;<=>?@^_~") {
		t.Fatalf("get-random-password --password-length 12 --exclude-punctuation: %q", pw)
	}
	// Resource policies: put, get, validate, delete.
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	if p := must("put-resource-policy", "--secret-id", arn, "--resource-policy", policy, "--block-public-policy"); p["ARN"] != arn {
		t.Fatalf("put-resource-policy: %v", p)
	}
	if p := must("get-resource-policy", "--secret-id", "cli/secret"); p["ResourcePolicy"] != policy {
		t.Fatalf("get-resource-policy: %v", p)
	}
	if v := must("validate-resource-policy", "--resource-policy", policy); v["PolicyValidationPassed"] != true {
		t.Fatalf("validate-resource-policy: %v", v)
	}
	refused("MalformedPolicyDocumentException", "not a JSON object", "put-resource-policy", "--secret-id", arn, "--resource-policy", "{oops")
	must("delete-resource-policy", "--secret-id", arn)
	if p := must("get-resource-policy", "--secret-id", arn); p["ResourcePolicy"] != nil {
		t.Fatalf("get-resource-policy after delete: %v", p)
	}
	// A reserved tag key, in AWS's words.
	refused("InvalidParameterException", "Do not use the aws: prefix", "tag-resource", "--secret-id", arn, "--tags", `[{"Key":"aws:x","Value":"y"}]`)
	// A forced delete of a missing secret answers a full ARN.
	if d := must("delete-secret", "--secret-id", "never-made", "--force-delete-without-recovery"); d["ARN"] != "arn:aws:secretsmanager:us-east-1:000000000000:secret:never-made" {
		t.Fatalf("delete-secret of a missing secret: %v", d)
	}
}
