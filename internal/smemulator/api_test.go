package smemulator_test

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// The SDK reaches the emulator through AWS_ENDPOINT_URL_SECRETS_MANAGER
// itself, with whatever credentials it finds.
func TestEndpointFromEnvironmentAndAnyCredentials(t *testing.T) {
	e := newEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", e.srv.URL)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("ANY", "thing", "session")))
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	if _, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("env"), SecretString: aws.String("v")}); err != nil {
		t.Fatal(err)
	}
	if got := e.emu.Faults().Calls()["CreateSecret"]; got != 1 {
		t.Fatalf("CreateSecret calls %d: the SDK did not come to the emulator", got)
	}
}

func TestSecretIDByNameFullARNAndPartialARN(t *testing.T) {
	e := newEnv(t)
	arn := e.create("team/db-main", "v1")
	prefix := "arn:aws:secretsmanager:us-east-1:000000000000:secret:team/db-main-"
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `[A-Za-z0-9]{6}$`).MatchString(arn) {
		t.Fatalf("ARN %s, want %s<6 random characters>", arn, prefix)
	}
	for _, id := range []string{"team/db-main", arn, strings.TrimSuffix(prefix, "-")} {
		if v, err := e.get(id, "", ""); err != nil || v != "v1" {
			t.Errorf("SecretId %s: %q, %v", id, v, err)
		}
	}
	for _, id := range []string{"team/db", "team/db-mai", prefix, strings.Replace(arn, "us-east-1", "eu-west-1", 1), arn + "x"} {
		if _, err := e.get(id, "", ""); !isType[*types.ResourceNotFoundException](err) || message(err) != "Secrets Manager can't find the specified secret." {
			t.Errorf("SecretId %s found something: %v", id, err)
		}
	}
	// Two secrets never share a suffix-less ARN by accident.
	other := e.create("team/db", "v2")
	if v, _ := e.get(strings.TrimSuffix(other, other[len(other)-7:]), "", ""); v != "v2" {
		t.Fatalf("partial ARN of team/db: %q", v)
	}
}

func TestCreateSecret(t *testing.T) {
	e := newEnv(t)
	out, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("c"), SecretString: aws.String("v"),
		ClientRequestToken: aws.String(tokA), Description: aws.String("d"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil || aws.ToString(out.VersionId) != tokA {
		t.Fatalf("%+v %v", out, err)
	}
	// The SDK retrying the same create (same token, same value) is answered.
	again, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("c"), SecretString: aws.String("v"), ClientRequestToken: aws.String(tokA)})
	if err != nil || aws.ToString(again.ARN) != aws.ToString(out.ARN) {
		t.Fatalf("a retried create: %v", err)
	}
	e.unchanged("a second create", func() {
		_, err = e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("c"), SecretString: aws.String("other")})
	})
	if !isType[*types.ResourceExistsException](err) || message(err) != "The operation failed because the secret c already exists." {
		t.Fatalf("a second create: %v", err)
	}
	// Without a value: no version at all.
	empty, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("empty")})
	if err != nil || empty.VersionId != nil {
		t.Fatalf("%+v %v", empty, err)
	}
	if d := e.describe("empty"); d.VersionIdsToStages != nil || d.RotationEnabled != nil || d.Tags != nil {
		t.Fatalf("a bare secret describes as %+v", d)
	}
	if _, err := e.get("empty", "", ""); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("reading a secret without versions: %v", err)
	}
	// A binary secret round-trips.
	bin := []byte{0, 1, 2, 255}
	if _, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: bin}); err != nil {
		t.Fatal(err)
	}
	got, err := e.sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")})
	if err != nil || string(got.SecretBinary) != string(bin) || got.SecretString != nil {
		t.Fatalf("binary: %v %v", got.SecretBinary, err)
	}
}

// A staging label sits on at most one version; moving AWSCURRENT moves
// AWSPREVIOUS to the version it left.
func TestStagingLabelsMoveAndPreviousFollows(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	first := e.current(arn)
	e.mustPut(arn, tokA, "v2")
	e.mustPut(arn, tokB, "v3")
	st := e.stages(arn)
	if !slices.Equal(st[tokB], []string{"AWSCURRENT"}) || !slices.Equal(st[tokA], []string{"AWSPREVIOUS"}) || st[first] != nil {
		t.Fatalf("after two puts: %v", st)
	}
	// A label named for a new version leaves the old one.
	e.mustPut(arn, tokC, "p1", "AWSPENDING", "CUSTOM")
	e.mustPut(arn, tokD, "p2", "AWSPENDING")
	st = e.stages(arn)
	if !slices.Equal(st[tokD], []string{"AWSPENDING"}) || !slices.Equal(st[tokC], []string{"CUSTOM"}) {
		t.Fatalf("AWSPENDING on two versions? %v", st)
	}
	for _, v := range e.emu.Versions(arn) {
		for _, label := range v.Stages {
			for _, w := range e.emu.Versions(arn) {
				if w.VersionID != v.VersionID && slices.Contains(w.Stages, label) {
					t.Fatalf("label %s on %s and %s", label, v.VersionID, w.VersionID)
				}
			}
		}
	}
	// UpdateSecretVersionStage moving AWSCURRENT: AWSPREVIOUS follows.
	if err := e.updateStage(arn, "AWSCURRENT", tokD, tokB); err != nil {
		t.Fatal(err)
	}
	st = e.stages(arn)
	if !slices.Equal(st[tokD], []string{"AWSCURRENT", "AWSPENDING"}) || !slices.Equal(st[tokB], []string{"AWSPREVIOUS"}) || st[tokA] != nil {
		t.Fatalf("after moving AWSCURRENT: %v", st)
	}
}

func TestPutSecretValueIdempotencyByClientRequestToken(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	e.mustPut(arn, tokA, "v2", "AWSPENDING")
	// Same token, same value: ignored, answered with the version as it is.
	e.unchanged("a repeated put", func() {
		out, err := e.sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn),
			ClientRequestToken: aws.String(tokA), SecretString: aws.String("v2"), VersionStages: []string{"AWSCURRENT"}})
		if err != nil || aws.ToString(out.VersionId) != tokA || !slices.Equal(out.VersionStages, []string{"AWSPENDING"}) {
			t.Fatalf("a repeated put: %+v %v", out, err)
		}
	})
	// Same token, other value: refused.
	var err error
	e.unchanged("a changed put", func() { err = e.put(arn, tokA, "other", "AWSPENDING") })
	if !isType[*types.ResourceExistsException](err) || message(err) != "You can't modify an existing version, you can only create a new version." {
		t.Fatalf("a changed put: %v", err)
	}
	// A binary value under a string version's token is another value.
	e.unchanged("a binary put", func() {
		_, err = e.sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(tokA), SecretBinary: []byte("v2")})
	})
	if !isType[*types.ResourceExistsException](err) {
		t.Fatalf("a binary put under a string version: %v", err)
	}
}

func TestPutSecretValueWithoutVersionStagesPromotes(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	old := e.current(arn)
	out, err := e.sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v2"), ClientRequestToken: aws.String(tokA)})
	if err != nil || !slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) {
		t.Fatalf("%+v %v", out, err)
	}
	if v, _ := e.get(arn, "", ""); v != "v2" {
		t.Fatalf("AWSCURRENT is %q", v)
	}
	if v, _ := e.get(arn, "", "AWSPREVIOUS"); v != "v1" || e.stages(arn)[old][0] != "AWSPREVIOUS" {
		t.Fatalf("AWSPREVIOUS is %q", v)
	}
	// With VersionStages=[AWSPENDING] nothing is promoted...
	e.mustPut(arn, tokB, "v3", "AWSPENDING")
	if v, _ := e.get(arn, "", ""); v != "v2" {
		t.Fatalf("a pending put promoted: %q", v)
	}
	// ...except the first version of a secret, which is AWSCURRENT anyway.
	if _, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("bare")}); err != nil {
		t.Fatal(err)
	}
	e.mustPut("bare", tokC, "first", "AWSPENDING")
	if st := e.stages("bare"); !slices.Equal(st[tokC], []string{"AWSCURRENT", "AWSPENDING"}) {
		t.Fatalf("the first version: %v", st)
	}
	// As AWS was recorded doing: the version holding AWSCURRENT and
	// AWSPENDING keeps only AWSPREVIOUS when a plain put takes AWSCURRENT.
	e.mustPut("bare", tokD, "second")
	if st := e.stages("bare"); !slices.Equal(st[tokC], []string{"AWSPREVIOUS"}) || !slices.Equal(st[tokD], []string{"AWSCURRENT"}) {
		t.Fatalf("after a plain put: %v", st)
	}
}

func TestUpdateSecretVersionStage(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	cur := e.current(arn)
	e.mustPut(arn, tokA, "v2", "AWSPENDING")

	var err error
	e.unchanged("a move without RemoveFromVersionId", func() { err = e.updateStage(arn, "AWSCURRENT", tokA, "") })
	want := "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version " + cur + ", so you must explicitly reference that version in RemoveFromVersionId."
	if !isType[*types.InvalidParameterException](err) || message(err) != want {
		t.Fatalf("move without RemoveFromVersionId: %v", err)
	}
	e.unchanged("a move naming the wrong version", func() { err = e.updateStage(arn, "AWSCURRENT", tokA, tokA) })
	if !isType[*types.InvalidParameterException](err) {
		t.Fatalf("RemoveFromVersionId naming the wrong version: %v", err)
	}
	e.unchanged("a move to an unknown version", func() { err = e.updateStage(arn, "AWSCURRENT", tokC, cur) })
	if !isType[*types.InvalidParameterException](err) || !strings.Contains(message(err), tokC) {
		t.Fatalf("unknown MoveToVersionId: %v", err)
	}
	e.unchanged("removing AWSCURRENT", func() { err = e.updateStage(arn, "AWSCURRENT", "", cur) })
	if !isType[*types.InvalidParameterException](err) || !strings.Contains(message(err), "can't be completely removed") {
		t.Fatalf("removing AWSCURRENT: %v", err)
	}
	e.unchanged("a move of a label onto its holder", func() {
		if err := e.updateStage(arn, "AWSPENDING", tokA, ""); err != nil {
			t.Fatalf("moving a label onto the version holding it: %v", err)
		}
	})
	// A new label needs no RemoveFromVersionId; removing one needs no MoveTo.
	if err := e.updateStage(arn, "MINE", tokA, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.updateStage(arn, "MINE", "", tokA); err != nil {
		t.Fatal(err)
	}
	if err := e.updateStage(arn, "AWSCURRENT", tokA, cur); err != nil {
		t.Fatal(err)
	}
	if st := e.stages(arn); !slices.Equal(st[tokA], []string{"AWSCURRENT", "AWSPENDING"}) || !slices.Equal(st[cur], []string{"AWSPREVIOUS"}) {
		t.Fatalf("after the move: %v", st)
	}
}

func TestGetSecretValueSelection(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	cur := e.current(arn)
	e.mustPut(arn, tokA, "v2", "AWSPENDING")
	out, err := e.sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil || aws.ToString(out.SecretString) != "v1" || aws.ToString(out.VersionId) != cur ||
		!slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) || out.CreatedDate == nil || aws.ToString(out.ARN) != arn {
		t.Fatalf("default: %+v %v", out, err)
	}
	for _, c := range []struct{ id, stage, want string }{{tokA, "", "v2"}, {"", "AWSPENDING", "v2"}, {tokA, "AWSPENDING", "v2"}, {cur, "AWSCURRENT", "v1"}} {
		if v, err := e.get(arn, c.id, c.stage); err != nil || v != c.want {
			t.Errorf("id %q stage %q: %q %v", c.id, c.stage, v, err)
		}
	}
	if _, err := e.get(arn, tokA, "AWSCURRENT"); !isType[*types.InvalidRequestException](err) ||
		message(err) != "You provided a VersionStage that is not associated to the provided VersionId." {
		t.Fatalf("id and stage disagreeing: %v", err)
	}
	if _, err := e.get(arn, tokC, ""); !isType[*types.ResourceNotFoundException](err) ||
		message(err) != "Secrets Manager can't find the specified secret value for VersionId: "+tokC {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := e.get(arn, "", "NOPE"); !isType[*types.ResourceNotFoundException](err) ||
		message(err) != "Secrets Manager can't find the specified secret value for staging label: NOPE" {
		t.Fatalf("unknown stage: %v", err)
	}
}

// A version without a value, the rotation placeholder, is not found.
func TestGetSecretValueOfThePlaceholder(t *testing.T) {
	e := newEnv(t, smemulator.WithBackgroundRotation(true))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.emu.RegisterFunction(fnARN, blockingFunction(release))
	arn := e.create("s", "v1")
	version, err := e.rotate(arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := e.stages(arn); !slices.Equal(st[version], []string{"AWSPENDING"}) {
		t.Fatalf("placeholder labels: %v", st)
	}
	if _, err := e.get(arn, version, ""); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("by id: %v", err)
	}
	if _, err := e.get(arn, "", "AWSPENDING"); !isType[*types.ResourceNotFoundException](err) ||
		message(err) != "Secrets Manager can't find the specified secret value for staging label: AWSPENDING" {
		t.Fatalf("by stage: %v", err)
	}
	if v, _ := e.get(arn, "", ""); v != "v1" {
		t.Fatalf("AWSCURRENT during the rotation: %q", v)
	}
}

func TestDescribeSecretAndListSecretVersionIds(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	first := e.current(arn)
	e.mustPut(arn, tokA, "v2")
	e.mustPut(arn, tokB, "v3") // first is now unlabelled
	d := e.describe(arn)
	if len(d.VersionIdsToStages) != 2 || d.VersionIdsToStages[first] != nil {
		t.Fatalf("VersionIdsToStages lists unlabelled versions: %v", d.VersionIdsToStages)
	}
	if aws.ToString(d.ARN) != arn || aws.ToString(d.Name) != "s" || d.CreatedDate == nil || d.LastChangedDate == nil ||
		d.RotationEnabled != nil || d.RotationLambdaARN != nil || d.RotationRules != nil || d.LastRotatedDate != nil || d.NextRotationDate != nil {
		t.Fatalf("a secret never configured for rotation: %+v", d)
	}
	list, err := e.sm.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn)})
	if err != nil || len(list.Versions) != 2 {
		t.Fatalf("ListSecretVersionIds: %+v, %v", list, err)
	}
	all, err := e.sm.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true)})
	if err != nil || len(all.Versions) != 3 || aws.ToString(all.Versions[0].VersionId) != first || all.Versions[0].VersionStages != nil {
		t.Fatalf("with IncludeDeprecated: %+v, %v", all, err)
	}
	// Pages of one, through the SDK's paginator.
	var ids []string
	p := secretsmanager.NewListSecretVersionIdsPaginator(e.sm, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			ids = append(ids, aws.ToString(v.VersionId))
		}
	}
	if !slices.Equal(ids, []string{first, tokA, tokB}) {
		t.Fatalf("paged: %v", ids)
	}
	if _, err := e.sm.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), NextToken: aws.String("garbage")}); code(err) != "InvalidNextTokenException" {
		t.Fatalf("a bad NextToken: %v", err)
	}
	// LastAccessedDate: the day only.
	if _, err := e.get(arn, "", ""); err != nil {
		t.Fatal(err)
	}
	if d := e.describe(arn); d.LastAccessedDate == nil || !d.LastAccessedDate.Equal(time.Now().UTC().Truncate(24*time.Hour)) {
		t.Fatalf("LastAccessedDate %v", d.LastAccessedDate)
	}
}

func TestListSecretsFilters(t *testing.T) {
	e := newEnv(t)
	for _, s := range []struct{ name, desc, tag string }{{"team/a", "Primary DB", "platform"}, {"team/b", "backup db", "data"}, {"other", "misc", ""}} {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(s.name), SecretString: aws.String("x"), Description: aws.String(s.desc)}
		if s.tag != "" {
			in.Tags = []types.Tag{{Key: aws.String("owner"), Value: aws.String(s.tag)}}
		}
		if _, err := e.sm.CreateSecret(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	names := func(filters ...types.Filter) []string {
		t.Helper()
		out, err := e.sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{Filters: filters})
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, s := range out.SecretList {
			n = append(n, aws.ToString(s.Name))
			if len(s.SecretVersionsToStages) != 1 {
				t.Errorf("%s: SecretVersionsToStages %v", aws.ToString(s.Name), s.SecretVersionsToStages)
			}
		}
		slices.Sort(n)
		return n
	}
	f := func(key types.FilterNameStringType, values ...string) types.Filter {
		return types.Filter{Key: key, Values: values}
	}
	for _, c := range []struct {
		filters []types.Filter
		want    []string
	}{
		{[]types.Filter{f(types.FilterNameStringTypeName, "team/")}, []string{"team/a", "team/b"}},
		{[]types.Filter{f(types.FilterNameStringTypeName, "Team/")}, nil}, // name: case-sensitive
		{[]types.Filter{f(types.FilterNameStringTypeName, "!team/")}, []string{"other"}},
		{[]types.Filter{f(types.FilterNameStringTypeTagKey, "owner")}, []string{"team/a", "team/b"}},
		{[]types.Filter{f(types.FilterNameStringTypeTagValue, "plat", "dat")}, []string{"team/a", "team/b"}},
		{[]types.Filter{f(types.FilterNameStringTypeDescription, "primary")}, []string{"team/a"}}, // description: not case-sensitive
		{[]types.Filter{f(types.FilterNameStringTypeAll, "DB")}, []string{"team/a", "team/b"}},
		{[]types.Filter{f(types.FilterNameStringTypeName, "team"), f(types.FilterNameStringTypeTagValue, "data")}, []string{"team/b"}},
	} {
		if got := names(c.filters...); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.filters, got, c.want)
		}
	}
	// Pages through the paginator, newest last.
	var all []string
	p := secretsmanager.NewListSecretsPaginator(e.sm, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.SecretList {
			all = append(all, aws.ToString(s.Name))
		}
	}
	if !slices.Equal(all, []string{"team/a", "team/b", "other"}) {
		t.Fatalf("paged by CreatedDate: %v", all)
	}
	if _, err := e.sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{Filters: []types.Filter{f("colour", "x")}}); code(err) != "ValidationException" {
		t.Fatalf("an unknown filter key: %v", err)
	}
}

func TestTagAndUntagResource(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "x")
	tags := func() []string {
		var out []string
		for _, tg := range e.describe(arn).Tags {
			out = append(out, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
		return out
	}
	if _, err := e.sm.TagResource(t.Context(), &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: []types.Tag{
		{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sm.TagResource(t.Context(), &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("3")}}}); err != nil {
		t.Fatal(err)
	}
	if got := tags(); !slices.Equal(got, []string{"a=3", "b=2"}) {
		t.Fatalf("tags %v", got)
	}
	if _, err := e.sm.UntagResource(t.Context(), &secretsmanager.UntagResourceInput{SecretId: aws.String(arn), TagKeys: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	// Once tagged, an empty list, as AWS shows it.
	if d := e.describe(arn); d.Tags == nil || len(d.Tags) != 0 {
		t.Fatalf("after untagging everything: %#v", d.Tags)
	}
	var err error
	e.unchanged("a tag without a key", func() {
		_, err = e.sm.TagResource(t.Context(), &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: []types.Tag{{Value: aws.String("v")}}})
	})
	if code(err) != "ValidationException" || !strings.Contains(message(err), "tags.1.member.key") {
		t.Fatalf("a tag without a key: %v", err)
	}
}

func TestDeleteSecretAndRestoreSecret(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	e.newRotator("", 0)
	del, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil || del.DeletionDate == nil || time.Until(*del.DeletionDate).Round(time.Hour) != 7*24*time.Hour {
		t.Fatalf("DeleteSecret: %+v %v", del, err)
	}
	const scheduled = "You can't perform this operation on the secret because it was marked for deletion."
	e.unchanged("calls on a secret scheduled for deletion", func() {
		for name, call := range map[string]func() error{
			"GetSecretValue": func() error { _, err := e.get(arn, "", ""); return err },
			"PutSecretValue": func() error { return e.put(arn, tokA, "v2") },
			"UpdateSecretVersionStage": func() error {
				return e.updateStage(arn, "X", e.current(arn), "")
			},
			"RotateSecret": func() error { _, err := e.rotate(arn, nil); return err },
			"DeleteSecret": func() error {
				_, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn)})
				return err
			},
			"CreateSecret": func() error {
				_, err := e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")})
				return err
			},
		} {
			if err := call(); !isType[*types.InvalidRequestException](err) {
				t.Errorf("%s: %v", name, err)
			} else if name != "CreateSecret" && message(err) != scheduled {
				t.Errorf("%s: %q", name, message(err))
			}
		}
	})
	if d := e.describe(arn); d.DeletedDate == nil {
		t.Fatal("DescribeSecret shows no DeletedDate")
	}
	list, _ := e.sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{})
	planned, _ := e.sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if len(list.SecretList) != 0 || len(planned.SecretList) != 1 {
		t.Fatalf("ListSecrets: %d, with IncludePlannedDeletion %d", len(list.SecretList), len(planned.SecretList))
	}
	if _, err := e.sm.RestoreSecret(t.Context(), &secretsmanager.RestoreSecretInput{SecretId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if v, err := e.get(arn, "", ""); err != nil || v != "v1" {
		t.Fatalf("after restore: %q %v", v, err)
	}
	if d := e.describe(arn); d.DeletedDate != nil {
		t.Fatal("DeletedDate after restore")
	}

	// Bad windows change nothing.
	e.unchanged("bad deletions", func() {
		for _, in := range []*secretsmanager.DeleteSecretInput{
			{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(6)},
			{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(31)},
			{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)},
		} {
			if _, err := e.sm.DeleteSecret(t.Context(), in); !isType[*types.InvalidParameterException](err) {
				t.Errorf("%+v: %v", in, err)
			}
		}
	})

	// Forced: gone at once, the name free again.
	if _, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(arn, "", ""); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("after a forced delete: %v", err)
	}
	if _, err := e.sm.RestoreSecret(t.Context(), &secretsmanager.RestoreSecretInput{SecretId: aws.String(arn)}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("restoring a forced delete: %v", err)
	}
	// "If you forcibly delete an already deleted or nonexistent secret,
	// the operation does not return ResourceNotFoundException."
	if _, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatalf("forcing the delete of a deleted secret: %v", err)
	}
	if _, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String("never")}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("deleting a secret that never was: %v", err)
	}
	if again := e.create("s", "v9"); again == arn {
		t.Fatal("a re-created secret has the old ARN")
	}
}

func TestUnknownOperation(t *testing.T) {
	e := newEnv(t)
	for _, target := range []string{"secretsmanager.StealSecret", "kms.Decrypt", ""} {
		a := e.raw("", `{}`, "X-Amz-Target", target)
		if a.status != 400 || a.typ != "UnknownOperationException" || a.header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
			t.Errorf("%q: %d %s", target, a.status, a.body)
		}
	}
	if len(e.emu.Faults().Calls()) != 0 {
		t.Fatalf("unknown operations counted: %v", e.emu.Faults().Calls())
	}
}

func TestAuthorizationMustBeSigV4Shaped(t *testing.T) {
	e := newEnv(t)
	e.create("s", "v")
	for _, c := range []struct {
		name    string
		headers []string
		typ     string
	}{
		{"no Authorization", []string{"Authorization", ""}, "MissingAuthenticationTokenException"},
		{"a bearer token", []string{"Authorization", "Bearer abc"}, "IncompleteSignatureException"},
		{"no Signature", []string{"Authorization", "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host"}, "IncompleteSignatureException"},
		{"no date", []string{"X-Amz-Date", ""}, "IncompleteSignatureException"},
	} {
		a := e.raw("GetSecretValue", `{"SecretId":"s"}`, c.headers...)
		if a.status != 400 || a.typ != c.typ || strings.Contains(a.body, `"v"`) {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
		if strings.Contains(a.msg, "Bearer abc") {
			t.Errorf("%s: the header is echoed: %s", c.name, a.msg)
		}
	}
	if a := e.raw("GetSecretValue", `{"SecretId":"s"}`, "Authorization", ""); a.msg != "Request is missing Authentication Token" {
		t.Fatalf("message %q", a.msg)
	}
	// Any credentials are accepted.
	odd := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("SOMEONE", "ELSE", "")})
	if _, err := odd.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
}

// The answers decode with the SDK's types, base64 included.
func TestSecretBinaryIsBase64OnTheWire(t *testing.T) {
	e := newEnv(t)
	a := e.raw("CreateSecret", `{"Name":"b","SecretBinary":"`+base64.StdEncoding.EncodeToString([]byte("raw bytes"))+`"}`)
	if a.status != 200 {
		t.Fatal(a.body)
	}
	got := e.raw("GetSecretValue", `{"SecretId":"b"}`)
	if !strings.Contains(got.body, `"SecretBinary":"`+base64.StdEncoding.EncodeToString([]byte("raw bytes"))+`"`) {
		t.Fatalf("%s", got.body)
	}
}
