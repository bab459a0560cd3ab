package smemulator_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// GetRandomPassword through the SDK: botocore's model's defaults (32
// characters, every type present) and each parameter.
func TestGetRandomPassword(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	gen := func(in *secretsmanager.GetRandomPasswordInput) string {
		t.Helper()
		out, err := e.sm.GetRandomPassword(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.RandomPassword)
	}
	has := func(p, chars string) bool { return strings.ContainsAny(p, chars) }
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	for range 20 {
		p := gen(&secretsmanager.GetRandomPasswordInput{})
		if len(p) != 32 || !has(p, "abcdefghijklmnopqrstuvwxyz") || !has(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") || !has(p, "0123456789") || !has(p, punct) || has(p, " ") {
			t.Fatalf("default password %q: want 32 characters with every type and no space", p)
		}
	}
	p := gen(&secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(4096), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)})
	if len(p) != 4096 || has(p, "0123456789") || has(p, punct) {
		t.Fatalf("no numbers, no punctuation: %q", p[:40])
	}
	p = gen(&secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(200), ExcludeUppercase: aws.Bool(true), ExcludeLowercase: aws.Bool(true), IncludeSpace: aws.Bool(true)})
	if has(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") || !has(p, " ") {
		t.Fatalf("no letters, with space: %q", p)
	}
	p = gen(&secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(300), ExcludeCharacters: aws.String("abcABC123!@#")})
	if has(p, "abcABC123!@#") {
		t.Fatalf("excluded characters present: %q", p)
	}
	// Without RequireEachIncludedType one character may be asked for.
	if p := gen(&secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(1), RequireEachIncludedType: aws.Bool(false)}); len(p) != 1 {
		t.Fatalf("one character: %q", p)
	}
	for name, c := range map[string]struct {
		in   *secretsmanager.GetRandomPasswordInput
		code string
	}{
		"length 0":                     {&secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(0)}, "ValidationException"},
		"length 4097":                  {&secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(4097)}, "ValidationException"},
		"nothing left":                 {&secretsmanager.GetRandomPasswordInput{ExcludeLowercase: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)}, "InvalidParameterException"},
		"too short for every type":     {&secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(3)}, "InvalidParameterException"},
		"everything excluded by chars": {&secretsmanager.GetRandomPasswordInput{ExcludeCharacters: aws.String("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + punct)}, "InvalidParameterException"},
	} {
		if _, err := e.sm.GetRandomPassword(ctx, c.in); code(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
}

const examplePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`

// Resource policies: stored per secret, read back, deleted; a document
// that is not JSON is refused by PutResourcePolicy and fails
// ValidateResourcePolicy.
func TestResourcePolicies(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	arn := e.create("with-policy", "v")
	e.create("other", "v")

	got, err := e.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("with-policy")})
	if err != nil || aws.ToString(got.ARN) != arn || aws.ToString(got.Name) != "with-policy" || got.ResourcePolicy != nil {
		t.Fatalf("no policy yet: %+v, %v", got, err)
	}
	put, err := e.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(arn), ResourcePolicy: aws.String(examplePolicy), BlockPublicPolicy: aws.Bool(true)})
	if err != nil || aws.ToString(put.ARN) != arn || aws.ToString(put.Name) != "with-policy" {
		t.Fatalf("PutResourcePolicy: %+v, %v", put, err)
	}
	got, err = e.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("with-policy")})
	if err != nil || aws.ToString(got.ResourcePolicy) != examplePolicy {
		t.Fatalf("GetResourcePolicy: %+v, %v", got, err)
	}
	if other, _ := e.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("other")}); other == nil || other.ResourcePolicy != nil {
		t.Fatalf("another secret has the policy: %+v", other)
	}

	_, err = e.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(arn), ResourcePolicy: aws.String("{not json")})
	if !isType[*types.MalformedPolicyDocumentException](err) {
		t.Fatalf("malformed policy: %v", err)
	}
	if got, _ := e.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(arn)}); aws.ToString(got.ResourcePolicy) != examplePolicy {
		t.Fatalf("a refused put changed the policy: %+v", got)
	}

	valid, err := e.sm.ValidateResourcePolicy(ctx, &secretsmanager.ValidateResourcePolicyInput{SecretId: aws.String(arn), ResourcePolicy: aws.String(examplePolicy)})
	if err != nil || !valid.PolicyValidationPassed || len(valid.ValidationErrors) != 0 {
		t.Fatalf("ValidateResourcePolicy of a good policy: %+v, %v", valid, err)
	}
	invalid, err := e.sm.ValidateResourcePolicy(ctx, &secretsmanager.ValidateResourcePolicyInput{ResourcePolicy: aws.String("[1,2]")})
	if err != nil || invalid.PolicyValidationPassed || len(invalid.ValidationErrors) != 1 || aws.ToString(invalid.ValidationErrors[0].ErrorMessage) == "" {
		t.Fatalf("ValidateResourcePolicy of a bad policy: %+v, %v", invalid, err)
	}

	del, err := e.sm.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: aws.String("with-policy")})
	if err != nil || aws.ToString(del.ARN) != arn {
		t.Fatalf("DeleteResourcePolicy: %+v, %v", del, err)
	}
	if got, _ := e.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(arn)}); got.ResourcePolicy != nil {
		t.Fatalf("after delete: %+v", got)
	}

	missing := aws.String("nobody")
	for name, err := range map[string]error{
		"get": func() error {
			_, err := e.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: missing})
			return err
		}(),
		"put": func() error {
			_, err := e.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: missing, ResourcePolicy: aws.String(examplePolicy)})
			return err
		}(),
		"delete": func() error {
			_, err := e.sm.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: missing})
			return err
		}(),
		"validate": func() error {
			_, err := e.sm.ValidateResourcePolicy(ctx, &secretsmanager.ValidateResourcePolicyInput{SecretId: missing, ResourcePolicy: aws.String(examplePolicy)})
			return err
		}(),
	} {
		if !isType[*types.ResourceNotFoundException](err) {
			t.Errorf("%s of a missing secret: %v", name, err)
		}
	}
	if _, err := e.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(arn), ResourcePolicy: aws.String(strings.Repeat(" ", 20481))}); code(err) != "ValidationException" {
		t.Fatalf("a policy over 20480 characters: %v", err)
	}
	for _, op := range []string{"GetResourcePolicy", "PutResourcePolicy", "DeleteResourcePolicy", "ValidateResourcePolicy"} {
		if e.emu.Faults().Calls()[op] == 0 {
			t.Errorf("%s not counted", op)
		}
	}
}

// A forced delete of a missing secret is not ResourceNotFoundException
// (AWS's reference), and its ARN is never empty: the model's minimum is 20.
func TestForcedDeleteOfAMissingSecretNamesAnARN(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"never-made", "arn:aws:secretsmanager:us-east-1:000000000000:secret:never-made-AbCdEf"} {
		out, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(id), ForceDeleteWithoutRecovery: aws.Bool(true)})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if arn := aws.ToString(out.ARN); len(arn) < 20 || !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:000000000000:secret:never-made") || aws.ToString(out.Name) == "" || out.DeletionDate == nil {
			t.Fatalf("%s: ARN %q, Name %q", id, arn, aws.ToString(out.Name))
		}
	}
}

// Tag keys with AWS's reserved prefix are refused, on CreateSecret and
// TagResource, in AWS's words, and change nothing.
func TestReservedTagPrefixIsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const want = "Do not use the aws: prefix in your tag names or values because AWS reserves it for AWS use."
	_, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tagged"), SecretString: aws.String("v"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("aws:owner"), Value: aws.String("me")}}})
	if !isType[*types.InvalidParameterException](err) || message(err) != want {
		t.Fatalf("CreateSecret with aws:owner: %v", err)
	}
	if _, err := e.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("tagged")}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("the refused create made a secret: %v", err)
	}
	arn := e.create("plain", "v")
	_, err = e.sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: []types.Tag{{Key: aws.String("aws:cloudformation:stack-name"), Value: aws.String("x")}}})
	if !isType[*types.InvalidParameterException](err) || message(err) != want {
		t.Fatalf("TagResource with aws:: %v", err)
	}
	if d := e.describe(arn); len(d.Tags) != 0 {
		t.Fatalf("the refused tag was kept: %+v", d.Tags)
	}
	// Keys are case sensitive, and the prefix only counts at the start.
	if _, err := e.sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: []types.Tag{{Key: aws.String("team:aws:x"), Value: aws.String("aws:ok")}}}); err != nil {
		t.Fatal(err)
	}
}

// The fault listing drops a rule once all its Times are used.
func TestSpentFaultRulesLeaveTheListing(t *testing.T) {
	e := newEnv(t)
	e.sm = sdkClient(e.srv.URL, false) // one call, one attempt
	arn := e.create("s", "v")
	e.fault(`{"operation":"GetSecretValue","after":1,"times":2,"status":500}`)
	list := func() string {
		status, body := e.control(http.MethodGet, "/_emulator/faults", "")
		if status != http.StatusOK {
			t.Fatalf("GET faults: %d %s", status, body)
		}
		return string(body)
	}
	for i, wantListed := range []bool{true, true, false} {
		_, _ = e.get(arn, "", "")
		if listed := strings.Contains(list(), "GetSecretValue"); listed != wantListed {
			t.Fatalf("after call %d the rule is listed %v, want %v: %s", i+1, listed, wantListed, list())
		}
	}
	if len(e.emu.Faults().Pending()) != 0 {
		t.Fatalf("pending: %+v", e.emu.Faults().Pending())
	}
}
