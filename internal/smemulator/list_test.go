package smemulator_test

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// ListSecrets entries carry what the sweep reads without one DescribeSecret
// per secret, as AWS documents SecretListEntry: the rotation function and
// switch, the tags and the labelled versions.
func TestListSecretsEntryCarriesRotationTagsAndStages(t *testing.T) {
	e := newEnv(t)
	e.newRotator("", 0)
	arn := e.create("rotated", "v0")
	if _, err := e.sm.TagResource(t.Context(), &secretsmanager.TagResourceInput{SecretId: aws.String(arn),
		Tags: []types.Tag{{Key: aws.String("aiven-token-rotator"), Value: aws.String("managed")}}}); err != nil {
		t.Fatal(err)
	}
	first := e.current(arn)
	version, err := e.rotate(arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.create("plain", "x")

	out, err := e.sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SecretList) != 2 {
		t.Fatalf("%d entries", len(out.SecretList))
	}
	r, p := out.SecretList[0], out.SecretList[1]
	if aws.ToString(r.Name) != "rotated" || !aws.ToBool(r.RotationEnabled) || aws.ToString(r.RotationLambdaARN) != fnARN ||
		r.RotationRules == nil || r.LastRotatedDate == nil || r.NextRotationDate == nil {
		t.Errorf("rotated entry: %+v", r)
	}
	if len(r.Tags) != 1 || aws.ToString(r.Tags[0].Key) != "aiven-token-rotator" || aws.ToString(r.Tags[0].Value) != "managed" {
		t.Errorf("rotated entry's Tags %+v", r.Tags)
	}
	wantStages := map[string][]string{version: {"AWSCURRENT"}, first: {"AWSPREVIOUS"}}
	if len(r.SecretVersionsToStages) != 2 || !slices.Equal(r.SecretVersionsToStages[version], wantStages[version]) ||
		!slices.Equal(r.SecretVersionsToStages[first], wantStages[first]) {
		t.Errorf("SecretVersionsToStages %v, want %v", r.SecretVersionsToStages, wantStages)
	}
	// Never configured for rotation, never tagged: the fields are absent.
	if p.RotationEnabled != nil || p.RotationLambdaARN != nil || p.Tags != nil || p.LastRotatedDate != nil {
		t.Errorf("plain entry: %+v", p)
	}
}

func TestListSecretsRegionServiceFiltersAndSortOrder(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"one", "two", "three"} {
		e.create(n, "x")
	}
	names := func(in *secretsmanager.ListSecretsInput) []string {
		t.Helper()
		out, err := e.sm.ListSecrets(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, s := range out.SecretList {
			n = append(n, aws.ToString(s.Name))
		}
		return n
	}
	f := func(key types.FilterNameStringType, v string) []types.Filter {
		return []types.Filter{{Key: key, Values: []string{v}}}
	}
	all := []string{"one", "two", "three"}
	for _, c := range []struct {
		in   *secretsmanager.ListSecretsInput
		want []string
	}{
		{&secretsmanager.ListSecretsInput{Filters: f(types.FilterNameStringTypePrimaryRegion, "us-east-1")}, all},
		{&secretsmanager.ListSecretsInput{Filters: f(types.FilterNameStringTypePrimaryRegion, "us-")}, all}, // a prefix
		{&secretsmanager.ListSecretsInput{Filters: f(types.FilterNameStringTypePrimaryRegion, "eu-west-1")}, nil},
		{&secretsmanager.ListSecretsInput{Filters: f(types.FilterNameStringTypePrimaryRegion, "!us-east-1")}, nil},
		{&secretsmanager.ListSecretsInput{Filters: f(types.FilterNameStringTypeOwningService, "rds")}, nil},
		{&secretsmanager.ListSecretsInput{Filters: f(types.FilterNameStringTypeOwningService, "!rds")}, all},
		{&secretsmanager.ListSecretsInput{SortOrder: types.SortOrderTypeDesc}, []string{"three", "two", "one"}},
		{&secretsmanager.ListSecretsInput{SortBy: types.SortByTypeName}, []string{"one", "three", "two"}},
		{&secretsmanager.ListSecretsInput{SortBy: types.SortByTypeName, SortOrder: types.SortOrderTypeDesc}, []string{"two", "three", "one"}},
	} {
		if got := names(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%+v %s %s: %v, want %v", c.in.Filters, c.in.SortBy, c.in.SortOrder, got, c.want)
		}
	}
}
