package smemulator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

func (e *env) update(in *secretsmanager.UpdateSecretInput) (*secretsmanager.UpdateSecretOutput, error) {
	return e.sm.UpdateSecret(e.t.Context(), in)
}

func (e *env) updateValue(id, token, value string) (string, error) {
	in := &secretsmanager.UpdateSecretInput{SecretId: aws.String(id), SecretString: aws.String(value)}
	if token != "" {
		in.ClientRequestToken = aws.String(token)
	}
	out, err := e.update(in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.VersionId), nil
}

// UpdateSecret with a value: a new version takes AWSCURRENT, AWSPREVIOUS
// follows to the version it left, as the API reference says; the versions
// show in DescribeSecret, ListSecrets and GetSecretValue (with CreatedDate).
func TestUpdateSecretValueMakesANewCurrentVersion(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	first := e.current(arn)
	before := time.Now().Add(-time.Second)

	out, err := e.update(&secretsmanager.UpdateSecretInput{SecretId: aws.String("s"), SecretString: aws.String("v2"), ClientRequestToken: aws.String(tokA)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "s" || aws.ToString(out.VersionId) != tokA {
		t.Fatalf("answer %+v", out)
	}
	want := map[string][]string{tokA: {"AWSCURRENT"}, first: {"AWSPREVIOUS"}}
	if got := e.stages(arn); !equalStages(got, want) {
		t.Fatalf("DescribeSecret: %v, want %v", got, want)
	}
	list, err := e.sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{})
	if err != nil || len(list.SecretList) != 1 || !equalStages(list.SecretList[0].SecretVersionsToStages, want) {
		t.Fatalf("ListSecrets: %+v %v", list, err)
	}
	got, err := e.sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil || aws.ToString(got.SecretString) != "v2" || aws.ToString(got.VersionId) != tokA || !slices.Equal(got.VersionStages, []string{"AWSCURRENT"}) {
		t.Fatalf("GetSecretValue: %+v %v", got, err)
	}
	if got.CreatedDate == nil || got.CreatedDate.Before(before) || got.CreatedDate.After(time.Now().Add(time.Second)) {
		t.Fatalf("GetSecretValue's CreatedDate %v", got.CreatedDate)
	}

	// Another update: the first version keeps no label (deprecated).
	if id, err := e.updateValue(arn, tokB, "v3"); err != nil || id != tokB {
		t.Fatalf("second update: %q %v", id, err)
	}
	want = map[string][]string{tokB: {"AWSCURRENT"}, tokA: {"AWSPREVIOUS"}}
	if got := e.stages(arn); !equalStages(got, want) {
		t.Fatalf("after the second update: %v, want %v", got, want)
	}
	if v, err := e.get(arn, "", "AWSPREVIOUS"); err != nil || v != "v2" {
		t.Fatalf("AWSPREVIOUS: %q %v", v, err)
	}

	// Binary values too; the SDK makes the token when none is given.
	bin, err := e.update(&secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), SecretBinary: []byte{0, 1, 2}})
	if err != nil || len(aws.ToString(bin.VersionId)) < 32 {
		t.Fatalf("binary update: %+v %v", bin, err)
	}
	raw, err := e.sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil || !slices.Equal(raw.SecretBinary, []byte{0, 1, 2}) || raw.SecretString != nil {
		t.Fatalf("binary value: %+v %v", raw, err)
	}
	if n := e.emu.Faults().Calls()["UpdateSecret"]; n != 3 {
		t.Fatalf("UpdateSecret counted %d times", n)
	}
}

func equalStages(got, want map[string][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for id, st := range want {
		if !slices.Equal(got[id], st) {
			return false
		}
	}
	return true
}

// Without a value UpdateSecret changes the metadata only: no version, no
// VersionId in the answer, though the SDK sends a ClientRequestToken.
func TestUpdateSecretWithoutAValueMakesNoVersion(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	first := e.current(arn)
	created := e.describe(arn).LastChangedDate
	time.Sleep(5 * time.Millisecond)
	out, err := e.update(&secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), Description: aws.String("the description"), KmsKeyId: aws.String("alias/mine")})
	if err != nil || out.VersionId != nil || aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "s" {
		t.Fatalf("%+v %v", out, err)
	}
	d := e.describe(arn)
	if aws.ToString(d.Description) != "the description" || aws.ToString(d.KmsKeyId) != "alias/mine" {
		t.Fatalf("metadata: %+v", d)
	}
	if d.LastChangedDate == nil || !d.LastChangedDate.After(*created) {
		t.Fatalf("LastChangedDate %v, was %v", d.LastChangedDate, created)
	}
	if got := e.stages(arn); !equalStages(got, map[string][]string{first: {"AWSCURRENT"}}) || len(e.emu.Versions(arn)) != 1 {
		t.Fatalf("versions changed: %v", got)
	}
	// A Description alone leaves KmsKeyId; an empty one clears it.
	if _, err := e.update(&secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), Description: aws.String("")}); err != nil {
		t.Fatal(err)
	}
	if d := e.describe(arn); d.Description != nil || aws.ToString(d.KmsKeyId) != "alias/mine" {
		t.Fatalf("after clearing the description: %+v", d)
	}
}

// ClientRequestToken: a retry with the same value is ignored; another
// value, or the token of an existing version without a value, is refused.
func TestUpdateSecretIdempotency(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	first := e.current(arn)
	if _, err := e.updateValue(arn, tokA, "v2"); err != nil {
		t.Fatal(err)
	}
	e.unchanged("a retry", func() {
		if id, err := e.updateValue(arn, tokA, "v2"); err != nil || id != tokA {
			t.Fatalf("retry: %q %v", id, err)
		}
	})
	e.unchanged("same token, another value", func() {
		_, err := e.updateValue(arn, tokA, "other")
		if !isType[*types.ResourceExistsException](err) || message(err) != "You can't modify an existing version, you can only create a new version." {
			t.Fatalf("%v", err)
		}
	})
	e.unchanged("the token of an older version, another value", func() {
		if _, err := e.updateValue(arn, first, "v9"); !isType[*types.ResourceExistsException](err) {
			t.Fatalf("%v", err)
		}
	})
	e.unchanged("a refused update changes no metadata", func() {
		_, err := e.update(&secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(tokA), SecretString: aws.String("x"), Description: aws.String("nope")})
		if !isType[*types.ResourceExistsException](err) {
			t.Fatalf("%v", err)
		}
	})
	if v, _ := e.get(arn, "", ""); v != "v2" {
		t.Fatalf("value %q", v)
	}

	// Refusals shared with the other operations.
	if _, err := e.updateValue("nope", "", "x"); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("unknown secret: %v", err)
	}
	if _, err := e.update(&secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), SecretString: aws.String("x"), SecretBinary: []byte("x")}); !isType[*types.InvalidParameterException](err) {
		t.Fatalf("both values: %v", err)
	}
	if _, err := e.sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	e.unchanged("an update of a secret scheduled for deletion", func() {
		_, err := e.update(&secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), Description: aws.String("d")})
		if !isType[*types.InvalidRequestException](err) || message(err) != "You can't perform this operation on the secret because it was marked for deletion." {
			t.Fatalf("%v", err)
		}
	})
}

// stuck leaves a secret with a failed rotation: AWSPENDING on a version
// with a value, other than AWSCURRENT.
func stuck(t *testing.T, e *env) (arn, current, pending string) {
	t.Helper()
	arn = e.create("s", "v1")
	current = e.current(arn)
	e.newRotator("finishSecret", 3)
	if _, err := e.rotate(arn, nil); err != nil {
		t.Fatal(err)
	}
	p, ok := e.emu.VersionByStage(arn, "AWSPENDING")
	if !ok || p.VersionID == current || !p.HasValue {
		t.Fatalf("no stuck rotation: %+v", e.emu.Versions(arn))
	}
	if _, err := e.rotate(arn, nil); err == nil || !strings.Contains(message(err), "A previous rotation isn't complete") {
		t.Fatalf("RotateSecret on a stuck rotation: %v", err)
	}
	return arn, current, p.VersionID
}

// A version made by hand while a rotation is pending abandons it, as the
// CloudTrail guide documents RotationAbandoned: AWSPENDING leaves the
// rotation's version, the log records RotationAbandoned, and the next
// rotation starts. UpdateSecret and PutSecretValue (without VersionStages)
// behave alike.
func TestANewVersionByHandAbandonsAPendingRotation(t *testing.T) {
	for name, write := range map[string]func(e *env, arn string) error{
		"UpdateSecret":   func(e *env, arn string) error { _, err := e.updateValue(arn, tokC, "by hand"); return err },
		"PutSecretValue": func(e *env, arn string) error { return e.put(arn, tokC, "by hand") },
		"PutSecretValue naming AWSCURRENT": func(e *env, arn string) error {
			return e.put(arn, tokC, "by hand", "AWSCURRENT")
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			arn, current, pending := stuck(t, e)
			if err := write(e, arn); err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{tokC: {"AWSCURRENT"}, current: {"AWSPREVIOUS"}}
			if got := e.stages(arn); !equalStages(got, want) {
				t.Fatalf("labels %v, want %v (pending was %s)", got, want, pending)
			}
			log := e.emu.Rotations()
			last := log[len(log)-1]
			if got := outcomes(log); !slices.Equal(got, []string{"AttemptFailed", "AttemptFailed", "RotationFailed", "RotationAbandoned"}) {
				t.Fatalf("rotation log %v", got)
			}
			if last.VersionID != pending || last.SecretARN != arn || last.Attempt != 0 || len(last.Steps) != 0 || last.Ended.IsZero() {
				t.Fatalf("abandoned entry %+v", last)
			}
			// Future rotations can succeed.
			e.newRotator("", 0)
			next, err := e.rotate(arn, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := e.get(arn, "", ""); v != "new-"+next {
				t.Fatalf("after the next rotation: %q", v)
			}
		})
	}
}

// What does not abandon a rotation: the rotation's own PutSecretValue
// (the placeholder receiving its value), a new version that takes other
// labels, or UpdateSecret without a value. UpdateSecret cannot fill the
// placeholder: its token names an existing version.
func TestWhatDoesNotAbandonARotation(t *testing.T) {
	e := newEnv(t)
	arn, current, pending := stuck(t, e)
	abandoned := func() bool {
		return slices.Contains(outcomes(e.emu.Rotations()), "RotationAbandoned")
	}
	e.mustPut(arn, tokC, "labelled", "SOMETHING")
	if _, err := e.update(&secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), Description: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	e.unchanged("UpdateSecret with the pending version's token", func() {
		if _, err := e.updateValue(arn, pending, "x"); !isType[*types.ResourceExistsException](err) {
			t.Fatalf("%v", err)
		}
	})
	want := map[string][]string{current: {"AWSCURRENT"}, pending: {"AWSPENDING"}, tokC: {"SOMETHING"}}
	if got := e.stages(arn); !equalStages(got, want) || abandoned() {
		t.Fatalf("labels %v (want %v), log %v", got, want, outcomes(e.emu.Rotations()))
	}

	// A rotation whose AWSPENDING sits on AWSCURRENT is not in progress:
	// the recorded rule applies (AWSPENDING leaves with AWSCURRENT), and
	// nothing is abandoned.
	f := newEnv(t)
	farn := f.create("f", "v1")
	fcur := f.current(farn)
	if err := f.updateStage(farn, "AWSPENDING", fcur, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.updateValue(farn, tokA, "v2"); err != nil {
		t.Fatal(err)
	}
	if got := f.stages(farn); !equalStages(got, map[string][]string{tokA: {"AWSCURRENT"}, fcur: {"AWSPREVIOUS"}}) || len(f.emu.Rotations()) != 0 {
		t.Fatalf("labels %v, log %v", got, f.emu.Rotations())
	}
}

// A rotation running when a version is made by hand takes no further
// step: its attempt ends RotationFailed, saying why, and no later attempt
// runs.
func TestAbandoningARunningRotationStopsIt(t *testing.T) {
	e := newEnv(t, smemulator.WithBackgroundRotation(true))
	arn := e.create("s", "v1")
	current := e.current(arn)
	inSetSecret, release := make(chan struct{}), make(chan struct{})
	var steps []string
	e.emu.RegisterFunction(fnARN, lambda.NewHandler(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		steps = append(steps, ev.Step)
		switch ev.Step {
		case "createSecret":
			_, err := e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(ev.SecretID),
				ClientRequestToken: aws.String(ev.ClientRequestToken), SecretString: aws.String("rotated"), VersionStages: []string{"AWSPENDING"}})
			return err
		case "setSecret":
			close(inSetSecret)
			<-release
		}
		return nil
	}))
	pending, err := e.rotate(arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-inSetSecret
	if _, err := e.updateValue(arn, tokC, "by hand"); err != nil {
		t.Fatal(err)
	}
	close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.emu.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(steps, []string{"createSecret", "setSecret"}) {
		t.Fatalf("steps %v", steps)
	}
	log := e.emu.Rotations()
	if got := outcomes(log); !slices.Equal(got, []string{"RotationFailed", "RotationAbandoned"}) {
		t.Fatalf("log %v", got)
	}
	if !strings.Contains(log[0].Error, "abandoned") || log[1].VersionID != pending {
		t.Fatalf("log %+v", log)
	}
	want := map[string][]string{tokC: {"AWSCURRENT"}, current: {"AWSPREVIOUS"}}
	if got := e.stages(arn); !equalStages(got, want) {
		t.Fatalf("labels %v, want %v", got, want)
	}
}

// The clock: versions are dated by it, it only moves forward, and a
// version can be backdated, through Go and through the control API.
func TestClockAndVersionAge(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	first := e.current(arn)
	created := func(stage string) time.Time {
		t.Helper()
		out, err := e.sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
		if err != nil || out.CreatedDate == nil {
			t.Fatalf("GetSecretValue: %+v %v", out, err)
		}
		return *out.CreatedDate
	}
	near := func(got, want time.Time) bool { d := got.Sub(want); return d > -5*time.Second && d < 5*time.Second }

	// Backdate AWSCURRENT by 25 hours.
	status, body := e.control(http.MethodPost, "/_emulator/versions/age", `{"secret_id":"s","version_stage":"AWSCURRENT","age_seconds":90000}`)
	var aged struct {
		VersionID string `json:"version_id"`
		Created   string `json:"created_date"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &aged) != nil || aged.VersionID != first {
		t.Fatalf("%d %s", status, body)
	}
	if got := created("AWSCURRENT"); !near(got, time.Now().Add(-25*time.Hour)) {
		t.Fatalf("aged CreatedDate %v", got)
	}
	versions, err := e.sm.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn)})
	if err != nil || len(versions.Versions) != 1 || !near(*versions.Versions[0].CreatedDate, time.Now().Add(-25*time.Hour)) {
		t.Fatalf("ListSecretVersionIds: %+v %v", versions, err)
	}
	if v, err := e.emu.AgeVersion(arn, first, "", time.Hour); err != nil || !near(v.Created, time.Now().Add(-time.Hour)) {
		t.Fatalf("AgeVersion: %+v %v", v, err)
	}

	// Advance the clock 25 hours: a new version is dated by it, the old
	// one looks 26 hours old.
	status, body = e.control(http.MethodPost, "/_emulator/clock", `{"advance_seconds":90000}`)
	if status != http.StatusOK || !strings.Contains(string(body), `"now"`) {
		t.Fatalf("%d %s", status, body)
	}
	if now := e.emu.Now(); !near(now, time.Now().Add(25*time.Hour)) {
		t.Fatalf("Now %v", now)
	}
	if _, err := e.updateValue(arn, tokA, "v2"); err != nil {
		t.Fatal(err)
	}
	if got := created("AWSCURRENT"); !near(got, time.Now().Add(25*time.Hour)) {
		t.Fatalf("new version's CreatedDate %v", got)
	}
	if got := created("AWSPREVIOUS"); !near(e.emu.Now().Add(-26*time.Hour), got) {
		t.Fatalf("old version's CreatedDate %v", got)
	}

	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/_emulator/clock", `{"advance_seconds":-1}`},
		{http.MethodPost, "/_emulator/clock", `{"advance":1}`},
		{http.MethodPost, "/_emulator/versions/age", `{"secret_id":"s","age_seconds":1}`},
		{http.MethodPost, "/_emulator/versions/age", `{"secret_id":"s","version_id":"` + tokA + `","version_stage":"AWSCURRENT","age_seconds":1}`},
		{http.MethodPost, "/_emulator/versions/age", `{"secret_id":"nope","version_stage":"AWSCURRENT","age_seconds":1}`},
		{http.MethodPost, "/_emulator/versions/age", `{"secret_id":"s","version_stage":"AWSPENDING","age_seconds":1}`},
		{http.MethodPost, "/_emulator/versions/age", `{"secret_id":"s","version_stage":"AWSCURRENT","age_seconds":-1}`},
	} {
		if status, body := e.control(c.method, c.path, c.body); status != http.StatusBadRequest {
			t.Errorf("%s %s: %d %s", c.path, c.body, status, body)
		}
	}
	if status, _ := e.control(http.MethodGet, "/_emulator/versions/age", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("GET versions/age: %d", status)
	}
	if n := e.emu.Faults().Calls()["UpdateSecret"]; n != 1 {
		t.Fatalf("control calls counted as API calls: %v", e.emu.Faults().Calls())
	}
}
