package smemulator_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestBatchGetSecretValueBySecretIDList(t *testing.T) {
	e := newEnv(t)
	arnA := e.create("batch/a", "value-a")
	arnB := e.create("batch/b", "value-b")
	e.mustPut(arnB, tokB, "value-b2") // AWSCURRENT moves; the batch reads the new one
	if _, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("batch/empty")}); err != nil {
		t.Fatal(err)
	}
	arnGone := e.create("batch/gone", "value-gone")
	if _, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arnGone)}); err != nil {
		t.Fatal(err)
	}
	e.control(http.MethodDelete, "/_emulator/calls", "")

	partialA := strings.TrimSuffix(arnA, arnA[len(arnA)-7:])
	out, err := e.sm.BatchGetSecretValue(t.Context(), &secretsmanager.BatchGetSecretValueInput{
		SecretIdList: []string{"batch/a", arnB, "batch/missing", "batch/empty", arnGone, partialA},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range out.SecretValues {
		got = append(got, aws.ToString(v.Name)+"="+aws.ToString(v.SecretString))
		if aws.ToString(v.VersionId) == "" || v.CreatedDate == nil || !slices.Contains(v.VersionStages, "AWSCURRENT") || !strings.HasPrefix(aws.ToString(v.ARN), "arn:aws:secretsmanager:") {
			t.Errorf("%s: entry %+v lacks its ARN, VersionId, CreatedDate or AWSCURRENT", aws.ToString(v.Name), v)
		}
	}
	if want := []string{"batch/a=value-a", "batch/b=value-b2", "batch/a=value-a"}; !slices.Equal(got, want) {
		t.Fatalf("SecretValues %v, want %v", got, want)
	}
	if aws.ToString(out.SecretValues[1].VersionId) != tokB {
		t.Errorf("batch/b answered version %s, want the AWSCURRENT one %s", aws.ToString(out.SecretValues[1].VersionId), tokB)
	}
	var errs []string
	for _, x := range out.Errors {
		errs = append(errs, aws.ToString(x.SecretId)+" "+aws.ToString(x.ErrorCode)+": "+aws.ToString(x.Message))
	}
	want := []string{
		"batch/missing ResourceNotFoundException: Secrets Manager can't find the specified secret.",
		"batch/empty ResourceNotFoundException: Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
		arnGone + " InvalidRequestException: You can't perform this operation on the secret because it was marked for deletion.",
	}
	if !slices.Equal(errs, want) {
		t.Fatalf("Errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
	if out.NextToken != nil {
		t.Errorf("NextToken %q for a SecretIdList", aws.ToString(out.NextToken))
	}
	// One call, whatever the number of secrets; each read is an access.
	_, calls := e.control(http.MethodGet, "/_emulator/calls", "")
	if string(calls) != "{\"BatchGetSecretValue\":1}\n" {
		t.Errorf("calls %s", calls)
	}
	if e.describe(arnA).LastAccessedDate == nil {
		t.Error("a batch read did not set LastAccessedDate")
	}
}

func TestBatchGetSecretValueByFiltersPages(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := range 25 {
		name := fmt.Sprintf("fleet/%02d", i)
		want = append(want, name)
		if _, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
			Name: aws.String(name), SecretString: aws.String("v" + name),
			Tags: []types.Tag{{Key: aws.String("aiven-token-rotator"), Value: aws.String("yes")}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	e.create("untagged", "x")
	if _, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("fleet/no-value"), Tags: []types.Tag{{Key: aws.String("aiven-token-rotator"), Value: aws.String("yes")}},
	}); err != nil {
		t.Fatal(err)
	}
	filter := []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{"aiven-token-rotator"}}}

	// Without MaxResults: pages of 20 (the most a call returns).
	first, err := e.sm.BatchGetSecretValue(t.Context(), &secretsmanager.BatchGetSecretValueInput{Filters: filter})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.SecretValues) != 20 || first.NextToken == nil {
		t.Fatalf("first page: %d values, NextToken %v; want 20 and a token", len(first.SecretValues), first.NextToken)
	}

	var got, failed []string
	pages := 0
	p := secretsmanager.NewBatchGetSecretValuePaginator(e.sm, &secretsmanager.BatchGetSecretValueInput{Filters: filter, MaxResults: aws.Int32(10)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, v := range page.SecretValues {
			if aws.ToString(v.SecretString) != "v"+aws.ToString(v.Name) {
				t.Errorf("%s: value %q", aws.ToString(v.Name), aws.ToString(v.SecretString))
			}
			got = append(got, aws.ToString(v.Name))
		}
		for _, x := range page.Errors {
			failed = append(failed, aws.ToString(x.SecretId)+" "+aws.ToString(x.ErrorCode))
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, values %v; want 3 pages of %v", pages, got, want)
	}
	// A selected secret that cannot be read is an error entry named by its ARN.
	if len(failed) != 1 || !strings.Contains(failed[0], ":secret:fleet/no-value-") || !strings.HasSuffix(failed[0], " ResourceNotFoundException") {
		t.Fatalf("Errors %v, want fleet/no-value's ResourceNotFoundException", failed)
	}
}

func TestBatchGetSecretValueRefusals(t *testing.T) {
	e := newEnv(t)
	e.create("s", "v")
	ids := make([]string, 21)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprint("s", i))
	}
	filters := `"Filters":[{"Key":"name","Values":["s"]}]`
	for _, c := range []struct{ name, body, typ, msg string }{
		{"both", `{"SecretIdList":["s"],` + filters + `}`, "InvalidParameterException", "not both"},
		{"neither", `{}`, "InvalidParameterException", "either SecretIdList or Filters"},
		{"MaxResults without Filters", `{"SecretIdList":["s"],"MaxResults":5}`, "InvalidParameterException", "MaxResults can only be used with Filters"},
		{"NextToken without Filters", `{"SecretIdList":["s"],"NextToken":"bzox"}`, "InvalidParameterException", "NextToken can only be used with Filters"},
		{"21 ids", `{"SecretIdList":[` + strings.Join(ids, ",") + `]}`, "ValidationException", "'secretIdList' failed to satisfy constraint: Member must have length less than or equal to 20"},
		{"empty list", `{"SecretIdList":[]}`, "ValidationException", "'secretIdList' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"an empty id", `{"SecretIdList":[""]}`, "ValidationException", "'secretIdList'"},
		{"MaxResults 21", `{` + filters + `,"MaxResults":21}`, "ValidationException", "Value '21' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 20"},
		{"MaxResults 0", `{` + filters + `,"MaxResults":0}`, "ValidationException", "'maxResults'"},
		{"an unknown filter key", `{"Filters":[{"Key":"colour","Values":["x"]}]}`, "ValidationException", "'filters.1.member.key'"},
		{"a bad NextToken", `{` + filters + `,"NextToken":"garbage!"}`, "InvalidNextTokenException", "NextToken"},
		{"SecretIdList not a list", `{"SecretIdList":"s"}`, "SerializationException", "SecretIdList"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.unchanged(c.name, func() {
				got := e.raw("BatchGetSecretValue", c.body)
				if got.status != http.StatusBadRequest || got.typ != c.typ || !strings.Contains(got.msg, c.msg) {
					t.Fatalf("%d %s %q, want 400 %s containing %q", got.status, got.typ, got.msg, c.typ, c.msg)
				}
			})
		})
	}
	// The SDK's own error type for the model's refusal.
	_, err := e.sm.BatchGetSecretValue(t.Context(), &secretsmanager.BatchGetSecretValueInput{
		SecretIdList: []string{"s"}, Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"s"}}},
	})
	if !isType[*types.InvalidParameterException](err) {
		t.Fatalf("both through the SDK: %v", err)
	}
}
