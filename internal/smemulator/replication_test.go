package smemulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

const replicaRegion = "eu-west-1"

// regionClient is the real SDK client signing for region, on the same
// endpoint: the emulator serves each region to the requests signed for it.
func regionClient(url, region string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		BaseEndpoint: aws.String(url),
		Retryer:      aws.NopRetryer{},
	})
}

func replicaOf(arn string) string {
	return strings.Replace(arn, ":us-east-1:", ":"+replicaRegion+":", 1)
}

// createReplicated makes a secret in us-east-1 replicated to eu-west-1.
func (e *env) createReplicated(name, value string) *secretsmanager.CreateSecretOutput {
	e.t.Helper()
	out, err := e.sm.CreateSecret(e.t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value),
		AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String(replicaRegion)}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func statusOf(t *testing.T, d *secretsmanager.DescribeSecretOutput, region string) types.ReplicationStatusType {
	t.Helper()
	for _, r := range d.ReplicationStatus {
		if aws.ToString(r.Region) == region {
			return r
		}
	}
	t.Fatalf("no replica in %s: %+v", region, d.ReplicationStatus)
	return types.ReplicationStatusType{}
}

func currentOf(stages map[string][]string) string {
	for id, st := range stages {
		for _, s := range st {
			if s == "AWSCURRENT" {
				return id
			}
		}
	}
	return ""
}

// CreateSecret with AddReplicaRegions: the replica is InProgress and not
// there yet; after the lag it is InSync, readable in its region by its own
// ARN (the primary's with the region swapped) and by name, with the
// primary's versions; the primary's DescribeSecret names it.
func TestReplicaIsCreatedAsynchronouslyAndReadInItsRegion(t *testing.T) {
	e := newEnv(t, smemulator.WithReplicationLag(time.Hour))
	ctx := t.Context()
	eu := regionClient(e.srv.URL, replicaRegion)
	out := e.createReplicated("aiven/replicated", "v1")
	if len(out.ReplicationStatus) != 1 || out.ReplicationStatus[0].Status != types.StatusTypeInProgress ||
		aws.ToString(out.ReplicationStatus[0].KmsKeyId) != "alias/aws/secretsmanager" {
		t.Fatalf("CreateSecret's ReplicationStatus: %+v", out.ReplicationStatus)
	}
	arn, repARN := aws.ToString(out.ARN), replicaOf(aws.ToString(out.ARN))
	if _, err := eu.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(repARN)}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("a replica still InProgress answered: %v", err)
	}

	e.emu.Advance(time.Hour)
	d := e.describe(arn)
	st := statusOf(t, d, replicaRegion)
	if st.Status != types.StatusTypeInSync || aws.ToString(st.StatusMessage) != "Replication succeeded" || st.LastAccessedDate != nil {
		t.Fatalf("primary's ReplicationStatus after the lag: %+v", st)
	}
	if aws.ToString(d.PrimaryRegion) != "us-east-1" {
		t.Fatalf("primary's PrimaryRegion %q", aws.ToString(d.PrimaryRegion))
	}
	for _, id := range []string{repARN, "aiven/replicated", strings.TrimSuffix(repARN, repARN[len(repARN)-7:])} {
		rd, err := eu.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatalf("replica by %s: %v", id, err)
		}
		if aws.ToString(rd.ARN) != repARN || aws.ToString(rd.PrimaryRegion) != "us-east-1" || len(rd.ReplicationStatus) != 0 ||
			currentOf(rd.VersionIdsToStages) != currentOf(d.VersionIdsToStages) {
			t.Fatalf("replica's DescribeSecret: %+v", rd)
		}
	}
	v, err := eu.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(repARN)})
	if err != nil || aws.ToString(v.SecretString) != "v1" || aws.ToString(v.ARN) != repARN {
		t.Fatalf("replica's value: %+v %v", v, err)
	}
	if st := statusOf(t, e.describe(arn), replicaRegion); st.LastAccessedDate == nil {
		t.Fatalf("the replica's LastAccessedDate is not on the primary's ReplicationStatus after a read there: %+v", st)
	}
	if d := e.describe(arn); d.LastAccessedDate != nil {
		t.Fatalf("a read of the replica counted as a read of the primary: %v", d.LastAccessedDate)
	}
	// Each region sees its own secrets: the primary is not read through
	// the replica region's endpoint, nor the replica through the primary's.
	if _, err := eu.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("the primary's ARN through eu-west-1: %v", err)
	}
	if _, err := e.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(repARN)}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("the replica's ARN through us-east-1: %v", err)
	}
	list, err := eu.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	if err != nil || len(list.SecretList) != 1 || aws.ToString(list.SecretList[0].ARN) != repARN || aws.ToString(list.SecretList[0].PrimaryRegion) != "us-east-1" {
		t.Fatalf("ListSecrets in eu-west-1: %+v %v", list, err)
	}
	for region, want := range map[string]int{"us-east-1": 1, replicaRegion: 0} {
		l, err := eu.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypePrimaryRegion, Values: []string{region}}}})
		if err != nil || len(l.SecretList) != want {
			t.Fatalf("primary-region %s in eu-west-1: %d, %v; want %d", region, len(l.SecretList), err, want)
		}
	}
}

// A new primary version reaches the replica after the lag, not before:
// until then the replica serves the older AWSCURRENT, InSync all along.
func TestNewVersionReachesTheReplicaAfterTheLag(t *testing.T) {
	e := newEnv(t, smemulator.WithReplicationLag(10*time.Minute))
	ctx := t.Context()
	eu := regionClient(e.srv.URL, replicaRegion)
	arn := aws.ToString(e.createReplicated("aiven/lagging", "v1").ARN)
	e.emu.Advance(10 * time.Minute)
	old := e.current(arn)

	e.mustPut(arn, tokB, "v2", "AWSPENDING")
	if err := e.updateStage(arn, "AWSCURRENT", tokB, old); err != nil {
		t.Fatal(err)
	}
	replicaCurrent := func() string {
		t.Helper()
		d, err := eu.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(replicaOf(arn))})
		if err != nil {
			t.Fatal(err)
		}
		return currentOf(d.VersionIdsToStages)
	}
	if got := replicaCurrent(); got != old {
		t.Fatalf("the replica serves %s at once, want the older %s until the lag passes", got, old)
	}
	if st := statusOf(t, e.describe(arn), replicaRegion); st.Status != types.StatusTypeInSync {
		t.Fatalf("a lagging replica's status: %+v", st)
	}
	e.emu.Advance(10 * time.Minute)
	if got := replicaCurrent(); got != tokB {
		t.Fatalf("after the lag the replica serves %s, want %s", got, tokB)
	}
	v, err := eu.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(replicaOf(arn)), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(v.SecretString) != "v1" {
		t.Fatalf("the replica's AWSPREVIOUS: %+v %v", v, err)
	}
}

// A rotation of the primary reaches the replica: Secrets Manager
// "rotates the secret in the primary Region, and the new secret value
// propagates to all of the associated replica secrets".
func TestRotationReachesTheReplica(t *testing.T) {
	e := newEnv(t, smemulator.WithReplicationLag(0))
	e.newRotator("", 0)
	eu := regionClient(e.srv.URL, replicaRegion)
	arn := aws.ToString(e.createReplicated("aiven/rotated", "v1").ARN)
	version, err := e.rotate(arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := eu.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(replicaOf(arn))})
	if err != nil || currentOf(d.VersionIdsToStages) != version {
		t.Fatalf("replica after a rotation: %+v %v, want AWSCURRENT on %s", d, err, version)
	}
	if d.RotationEnabled != nil || d.RotationLambdaARN != nil {
		t.Fatalf("a replica shows the primary's rotation: %v %v", d.RotationEnabled, d.RotationLambdaARN)
	}
}

// Writes to a replica are refused as AWS refuses them; reads work; its
// KMS key alone may change.
func TestReplicaIsReadOnly(t *testing.T) {
	e := newEnv(t, smemulator.WithReplicationLag(0))
	ctx := t.Context()
	eu := regionClient(e.srv.URL, replicaRegion)
	arn := aws.ToString(e.createReplicated("aiven/readonly", "v1").ARN)
	e.describe(arn) // the replica catches up before this call is answered
	rep := aws.String(replicaOf(arn))
	writes := map[string]func() error{
		"PutSecretValue": func() error {
			_, err := eu.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: rep, SecretString: aws.String("x")})
			return err
		},
		"UpdateSecret": func() error {
			_, err := eu.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: rep, SecretString: aws.String("x")})
			return err
		},
		"UpdateSecretVersionStage": func() error {
			_, err := eu.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: rep, VersionStage: aws.String("X"), RemoveFromVersionId: aws.String(e.current(arn))})
			return err
		},
		"RotateSecret": func() error {
			_, err := eu.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: rep})
			return err
		},
		"CancelRotateSecret": func() error {
			_, err := eu.CancelRotateSecret(ctx, &secretsmanager.CancelRotateSecretInput{SecretId: rep})
			return err
		},
		"TagResource": func() error {
			_, err := eu.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: rep, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		},
		"UntagResource": func() error {
			_, err := eu.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: rep, TagKeys: []string{"k"}})
			return err
		},
		"DeleteSecret": func() error {
			_, err := eu.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: rep, ForceDeleteWithoutRecovery: aws.Bool(true)})
			return err
		},
		"RestoreSecret": func() error {
			_, err := eu.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: rep})
			return err
		},
		"PutResourcePolicy": func() error {
			_, err := eu.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: rep, ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
			return err
		},
		"DeleteResourcePolicy": func() error {
			_, err := eu.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: rep})
			return err
		},
		"ReplicateSecretToRegions": func() error {
			_, err := eu.ReplicateSecretToRegions(ctx, &secretsmanager.ReplicateSecretToRegionsInput{SecretId: rep, AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("ap-south-1")}}})
			return err
		},
		"RemoveRegionsFromReplication": func() error {
			_, err := eu.RemoveRegionsFromReplication(ctx, &secretsmanager.RemoveRegionsFromReplicationInput{SecretId: rep, RemoveReplicaRegions: []string{replicaRegion}})
			return err
		},
	}
	for op, call := range writes {
		if err := call(); !isType[*types.InvalidParameterException](err) ||
			message(err) != "Operation not permitted on a replica secret. Call must be made in primary secret's region." {
			t.Errorf("%s on a replica: %v", op, err)
		}
	}
	if _, err := eu.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: rep}); err != nil {
		t.Errorf("ListSecretVersionIds on a replica: %v", err)
	}
	if _, err := eu.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{*rep}}); err != nil {
		t.Errorf("BatchGetSecretValue on a replica: %v", err)
	}
	if _, err := eu.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: rep, KmsKeyId: aws.String("alias/eu-key")}); err != nil {
		t.Errorf("a replica's own KMS key: %v", err)
	}
}

// ReplicateSecretToRegions and RemoveRegionsFromReplication, and the rules
// around them: not to the primary's own region, a name taken in the
// destination fails the replica unless ForceOverwriteReplicaSecret, a
// primary with replicas cannot be deleted, removing deletes at once.
func TestReplicateAndRemoveRegions(t *testing.T) {
	e := newEnv(t, smemulator.WithReplicationLag(0))
	ctx := t.Context()
	eu := regionClient(e.srv.URL, replicaRegion)
	ap := regionClient(e.srv.URL, "ap-south-1")
	arn := e.create("aiven/later", "v1")
	if d := e.describe(arn); d.PrimaryRegion != nil || d.ReplicationStatus != nil {
		t.Fatalf("a secret never replicated: PrimaryRegion %v, ReplicationStatus %v", d.PrimaryRegion, d.ReplicationStatus)
	}
	if _, err := e.sm.ReplicateSecretToRegions(ctx, &secretsmanager.ReplicateSecretToRegionsInput{SecretId: aws.String(arn),
		AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("us-east-1")}}}); !isType[*types.InvalidParameterException](err) {
		t.Fatalf("replicating to the primary's region: %v", err)
	}
	if _, err := e.sm.ReplicateSecretToRegions(ctx, &secretsmanager.ReplicateSecretToRegionsInput{SecretId: aws.String(arn),
		AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("Not A Region")}}}); code(err) != "ValidationException" {
		t.Fatalf("a malformed region: %v", err)
	}
	// ap-south-1 already has a secret of that name.
	if _, err := ap.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("aiven/later"), SecretString: aws.String("theirs")}); err != nil {
		t.Fatal(err)
	}
	out, err := e.sm.ReplicateSecretToRegions(ctx, &secretsmanager.ReplicateSecretToRegionsInput{SecretId: aws.String(arn),
		AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String(replicaRegion), KmsKeyId: aws.String("alias/eu")}, {Region: aws.String("ap-south-1")}}})
	if err != nil || aws.ToString(out.ARN) != arn || len(out.ReplicationStatus) != 2 || out.ReplicationStatus[0].Status != types.StatusTypeInProgress {
		t.Fatalf("ReplicateSecretToRegions: %+v %v", out, err)
	}
	d := e.describe(arn)
	if st := statusOf(t, d, replicaRegion); st.Status != types.StatusTypeInSync || aws.ToString(st.KmsKeyId) != "alias/eu" {
		t.Fatalf("eu-west-1: %+v", st)
	}
	if st := statusOf(t, d, "ap-south-1"); st.Status != types.StatusTypeFailed || aws.ToString(st.StatusMessage) != "Secret with this name already exists in this region" {
		t.Fatalf("ap-south-1, name taken: %+v", st)
	}
	if v, err := ap.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("aiven/later")}); err != nil || aws.ToString(v.SecretString) != "theirs" {
		t.Fatalf("a failed replica touched the secret it found: %+v %v", v, err)
	}
	if _, err := e.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)}); !isType[*types.InvalidParameterException](err) ||
		!strings.Contains(message(err), "still has replica regions") {
		t.Fatalf("deleting a replicated primary: %v", err)
	}
	// With ForceOverwriteReplicaSecret the other secret makes way.
	if _, err := e.sm.RemoveRegionsFromReplication(ctx, &secretsmanager.RemoveRegionsFromReplicationInput{SecretId: aws.String(arn), RemoveReplicaRegions: []string{"ap-south-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sm.ReplicateSecretToRegions(ctx, &secretsmanager.ReplicateSecretToRegionsInput{SecretId: aws.String(arn),
		AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("ap-south-1")}}, ForceOverwriteReplicaSecret: true}); err != nil {
		t.Fatal(err)
	}
	if v, err := ap.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("aiven/later")}); err != nil || aws.ToString(v.SecretString) != "v1" {
		t.Fatalf("after ForceOverwriteReplicaSecret: %+v %v", v, err)
	}
	// Removing deletes at once, and is idempotent.
	for range 2 {
		out, err := e.sm.RemoveRegionsFromReplication(ctx, &secretsmanager.RemoveRegionsFromReplicationInput{SecretId: aws.String(arn), RemoveReplicaRegions: []string{replicaRegion}})
		if err != nil || len(out.ReplicationStatus) != 1 || aws.ToString(out.ReplicationStatus[0].Region) != "ap-south-1" {
			t.Fatalf("RemoveRegionsFromReplication: %+v %v", out, err)
		}
	}
	if _, err := eu.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(replicaOf(arn))}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("a removed replica: %v", err)
	}
	if _, err := e.sm.RemoveRegionsFromReplication(ctx, &secretsmanager.RemoveRegionsFromReplicationInput{SecretId: aws.String(arn), RemoveReplicaRegions: []string{"ap-south-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatalf("deleting a primary without replicas: %v", err)
	}
}

// The control API holds a replica behind (it keeps serving the older
// AWSCURRENT, still InSync), marks it Failed, and releases it (it catches
// up at once).
func TestControlHoldsFailsAndReleasesAReplica(t *testing.T) {
	e := newEnv(t, smemulator.WithReplicationLag(0))
	ctx := t.Context()
	eu := regionClient(e.srv.URL, replicaRegion)
	arn := aws.ToString(e.createReplicated("aiven/held", "v1").ARN)
	e.describe(arn)
	old := e.current(arn)
	act := func(action, msg string) smemulator.ReplicaState {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"secret_id": "aiven/held", "region": replicaRegion, "action": action, "status_message": msg})
		status, out := e.control(http.MethodPost, "/_emulator/replicas", string(body))
		var st smemulator.ReplicaState
		if status != http.StatusOK || json.Unmarshal(out, &st) != nil {
			t.Fatalf("%s: %d %s", action, status, out)
		}
		return st
	}
	replicaCurrent := func() string {
		t.Helper()
		d, err := eu.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(replicaOf(arn))})
		if err != nil {
			t.Fatal(err)
		}
		return currentOf(d.VersionIdsToStages)
	}

	if st := act("hold", ""); !st.Held || st.CurrentVersion != old {
		t.Fatalf("hold: %+v", st)
	}
	e.mustPut(arn, tokB, "v2")
	e.emu.Advance(time.Hour)
	if got := replicaCurrent(); got != old {
		t.Fatalf("a held replica serves %s, want the older %s", got, old)
	}
	if st := statusOf(t, e.describe(arn), replicaRegion); st.Status != types.StatusTypeInSync {
		t.Fatalf("a held replica's status: %+v", st)
	}
	status, out := e.control(http.MethodGet, "/_emulator/replicas?secret_id=aiven/held", "")
	if status != http.StatusOK || !strings.Contains(string(out), `"held":true`) || !strings.Contains(string(out), `"primary_current_version":"`+tokB+`"`) {
		t.Fatalf("GET /_emulator/replicas: %d %s", status, out)
	}

	if st := act("fail", "KMS key disabled"); st.Status != smemulator.ReplicaFailed {
		t.Fatalf("fail: %+v", st)
	}
	if st := statusOf(t, e.describe(arn), replicaRegion); st.Status != types.StatusTypeFailed || aws.ToString(st.StatusMessage) != "KMS key disabled" {
		t.Fatalf("a failed replica's status: %+v", st)
	}
	if got := replicaCurrent(); got != old {
		t.Fatalf("a failed replica serves %s, want what it had (%s)", got, old)
	}

	if st := act("release", ""); st.Held || st.Status != smemulator.ReplicaInSync || st.CurrentVersion != tokB {
		t.Fatalf("release: %+v", st)
	}
	if got := replicaCurrent(); got != tokB {
		t.Fatalf("a released replica serves %s, want %s", got, tokB)
	}
	if status, out := e.control(http.MethodPost, "/_emulator/replicas", `{"secret_id":"aiven/held","region":"ap-south-1","action":"hold"}`); status != http.StatusBadRequest {
		t.Fatalf("no such replica: %d %s", status, out)
	}
	if status, out := e.control(http.MethodPut, "/_emulator/replicas/lag", `{"lag_ms":2500}`); status != http.StatusOK || !strings.Contains(string(out), `"lag_ms":2500`) {
		t.Fatalf("lag: %d %s", status, out)
	}
	if e.emu.ReplicationLag() != 2500*time.Millisecond {
		t.Fatalf("lag %v", e.emu.ReplicationLag())
	}
}

// The region comes from the request's SigV4 credential scope: a secret
// made through eu-west-1 lives there, by name and ARN, and us-east-1 does
// not see it.
func TestRegionComesFromTheCredentialScope(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	eu := regionClient(e.srv.URL, replicaRegion)
	out, err := eu.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("aiven/eu-only"), SecretString: aws.String("eu")})
	if err != nil || !strings.HasPrefix(aws.ToString(out.ARN), "arn:aws:secretsmanager:eu-west-1:000000000000:secret:aiven/eu-only-") {
		t.Fatalf("CreateSecret in eu-west-1: %+v %v", out, err)
	}
	if _, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("aiven/eu-only")}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("us-east-1 reads eu-west-1's secret by name: %v", err)
	}
	// The same name is free in another region.
	if _, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("aiven/eu-only"), SecretString: aws.String("us")}); err != nil {
		t.Fatal(err)
	}
	v, err := eu.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: out.ARN})
	if err != nil || aws.ToString(v.SecretString) != "eu" {
		t.Fatalf("eu-west-1's own secret: %+v %v", v, err)
	}
	// A header without a scope region is the home region's.
	if a := e.raw("DescribeSecret", `{"SecretId":"aiven/eu-only"}`, "Authorization", "AWS4-HMAC-SHA256 Credential=AKID, SignedHeaders=host, Signature=00"); a.status != http.StatusOK || !strings.Contains(a.body, ":us-east-1:") {
		t.Fatalf("no scope region: %d %s", a.status, a.body)
	}
}
