package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// ListSecrets follows NextToken to the last page, 100 a page, and sends
// the tag-key filter only when asked.
func TestListSecretsFollowsThePages(t *testing.T) {
	var pages int
	var filters []any
	f := newFakeSM(t, func(op string, body map[string]any) (int, string) {
		if op != "ListSecrets" || body["MaxResults"] != 100.0 {
			t.Errorf("%s %v", op, body)
		}
		filters = append(filters, body["Filters"])
		pages++
		next := `,"NextToken":"page2"`
		if body["NextToken"] == "page2" {
			next = ""
		}
		return 200, fmt.Sprintf(`{"SecretList":[{"ARN":"arn:a%d","Name":"n%d","RotationEnabled":true,"RotationLambdaARN":"arn:fn","LastRotatedDate":1.7e9,"NextRotationDate":1.701e9,"SecretVersionsToStages":{"v1":["AWSCURRENT"]}}]%s}`, pages, pages, next)
	})
	c := newTestClient(f, settings{})
	got, err := c.ListSecrets(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].ARN != "arn:a2" || !got[0].RotationEnabled || got[0].RotationLambdaARN != "arn:fn" || got[0].LastRotated.Unix() != 1.7e9 || got[0].NextRotation.Unix() != 1.701e9 || got[0].Versions["v1"][0] != "AWSCURRENT" {
		t.Fatalf("listed %+v", got)
	}
	if filters[0] != nil {
		t.Errorf("filters %v without a tag key", filters[0])
	}
	pages = 0
	if _, err := c.ListSecrets(context.Background(), "team", nil); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(filters[len(filters)-1]); got != "[map[Key:tag-key Values:[team]]]" {
		t.Errorf("filters %s, want the tag-key filter", got)
	}
}

// CurrentValues reads up to 20 secrets, names each failure, and reports a
// secret answered neither way rather than dropping it.
func TestCurrentValues(t *testing.T) {
	f := newFakeSM(t, func(op string, body map[string]any) (int, string) {
		if op != "BatchGetSecretValue" {
			t.Errorf("op %s", op)
		}
		return 200, `{"SecretValues":[{"ARN":"arn:ok","SecretString":"v","VersionId":"v-ok"},{"ARN":"arn:bin","SecretBinary":"AAE="}],
			"Errors":[{"SecretId":"arn:denied","ErrorCode":"AccessDeniedException","Message":"not allowed"}]}`
	})
	c := newTestClient(f, settings{})
	values, failed, err := c.CurrentValues(context.Background(), []string{"arn:ok", "arn:bin", "arn:denied", "arn:lost"})
	if err != nil {
		t.Fatal(err)
	}
	if values["arn:ok"] != (CurrentValue{SecretString: "v", VersionID: "v-ok"}) || len(values) != 1 {
		t.Errorf("values %v", values)
	}
	for arn, want := range map[string]string{"arn:bin": "SecretBinary", "arn:denied": "AccessDeniedException: not allowed", "arn:lost": "neither"} {
		if !strings.Contains(failed[arn], want) {
			t.Errorf("failed[%s] = %q, want %q", arn, failed[arn], want)
		}
	}
	calls := f.calls.Load()
	if _, _, err := c.CurrentValues(context.Background(), make([]string, 21)); err == nil || f.calls.Load() != calls {
		t.Errorf("21 secrets: %v, %d calls; want an error before any call", err, f.calls.Load()-calls)
	}
}

// StartRotation tells a rotation in progress from Secrets Manager's other
// refusals under the same error type.
func TestStartRotationInProgress(t *testing.T) {
	answer := `{"__type":"InvalidRequestException","message":"A previous rotation isn't complete. That rotation will be reattempted."}`
	f := newFakeSM(t, func(op string, body map[string]any) (int, string) {
		if op != "RotateSecret" || len(body) != 2 || body["ClientRequestToken"] == nil {
			t.Errorf("%s %v: want SecretId and the SDK's ClientRequestToken only", op, body)
		}
		return 400, answer
	})
	c := newTestClient(f, settings{})
	if _, err := c.StartRotation(context.Background(), "s"); !errors.Is(err, ErrRotationInProgress) {
		t.Errorf("in progress: %v", err)
	}
	answer = `{"__type":"InvalidRequestException","message":"No Lambda rotation function ARN is associated with this secret."}`
	if _, err := c.StartRotation(context.Background(), "s"); err == nil || errors.Is(err, ErrRotationInProgress) {
		t.Errorf("no function: %v, want an error that is not ErrRotationInProgress", err)
	}
}

// StartRotationAs sends the chosen version id as the ClientRequestToken,
// and answers the version RotateSecret names.
func TestStartRotationAsChoosesTheVersion(t *testing.T) {
	const version = "breakglass-00000000-0000-4000-8000-000000000001"
	f := newFakeSM(t, func(op string, body map[string]any) (int, string) {
		if op != "RotateSecret" || len(body) != 2 || body["ClientRequestToken"] != version || body["SecretId"] != "s" {
			t.Errorf("%s %v: want SecretId and the chosen ClientRequestToken only", op, body)
		}
		return 200, `{"ARN":"arn:s","Name":"s","VersionId":"` + version + `"}`
	})
	got, err := newTestClient(f, settings{}).StartRotationAs(context.Background(), "s", version)
	if err != nil || got != version {
		t.Fatalf("%q %v", got, err)
	}
}
