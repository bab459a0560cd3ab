package secretsmanager

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// The replica calls against the Secrets Manager emulator, through the
// real SDK: the primary's ReplicationStatus, and the version a replica
// serves, read by its ARN in its own region.
func TestReplicaStatusAndVersionThroughTheEmulator(t *testing.T) {
	ctx := t.Context()
	emu := smemulator.New(smemulator.WithReplicationLag(time.Hour))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	c := New(cfg, Options{})
	api := sm.NewFromConfig(cfg)

	out, err := api.CreateSecret(ctx, &sm.CreateSecretInput{
		Name: aws.String("aiven/replicated"), SecretString: aws.String("v1"),
		AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("eu-west-1")}, {Region: aws.String("ap-south-1"), KmsKeyId: aws.String("alias/ap")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	primary := aws.ToString(out.ARN)
	eu, err := ReplicaARN(primary, "eu-west-1")
	if err != nil || eu != "arn:aws:secretsmanager:eu-west-1:000000000000:secret:"+primary[len("arn:aws:secretsmanager:us-east-1:000000000000:secret:"):] {
		t.Fatalf("ReplicaARN: %q %v", eu, err)
	}

	d, err := c.Describe(ctx, primary)
	if err != nil {
		t.Fatal(err)
	}
	if d.PrimaryRegion != "us-east-1" || d.IsReplica() || len(d.Replicas) != 2 ||
		d.Replicas[0] != (Replica{Region: "eu-west-1", KmsKeyID: "alias/aws/secretsmanager", Status: ReplicaInProgress}) ||
		d.Replicas[1].KmsKeyID != "alias/ap" {
		t.Fatalf("a primary whose replicas are being created: %+v", d)
	}
	if _, err := c.ReplicaCurrentVersion(ctx, eu); !errors.Is(err, ErrReplicaMissing) {
		t.Fatalf("a replica not yet created: %v", err)
	}

	emu.Advance(time.Hour)
	d, _ = c.Describe(ctx, primary)
	if d.Replicas[0].Status != ReplicaInSync || d.Replicas[0].StatusMessage != "Replication succeeded" {
		t.Fatalf("after the lag: %+v", d.Replicas)
	}
	first := d.CurrentVersion()
	rd, err := c.DescribeReplica(ctx, eu)
	if err != nil || rd.ARN != eu || !rd.IsReplica() || rd.PrimaryRegion != "us-east-1" || rd.CurrentVersion() != first || rd.Replicas != nil {
		t.Fatalf("DescribeReplica: %+v %v", rd, err)
	}

	// A new AWSCURRENT on the primary; the replica held behind keeps the
	// older one, and its status does not tell.
	if _, err := emu.HoldReplica(primary, "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	const next = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	if _, err := api.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &primary, ClientRequestToken: aws.String(next), SecretString: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	emu.Advance(time.Hour)
	d, _ = c.Describe(ctx, primary)
	if v, err := c.ReplicaCurrentVersion(ctx, eu); err != nil || v != first || d.Replicas[0].Status != ReplicaInSync {
		t.Fatalf("a held replica: serves %q (%v), status %+v; want %q and InSync", v, err, d.Replicas[0], first)
	}
	ap, _ := ReplicaARN(primary, "ap-south-1")
	if v, err := c.ReplicaCurrentVersion(ctx, ap); err != nil || v != next {
		t.Fatalf("the other replica: %q %v, want %q", v, err, next)
	}
	if _, err := emu.FailReplica(primary, "eu-west-1", "KMS key disabled"); err != nil {
		t.Fatal(err)
	}
	d, _ = c.Describe(ctx, primary)
	if d.Replicas[0].Status != ReplicaFailed || d.Replicas[0].StatusMessage != "KMS key disabled" {
		t.Fatalf("a failed replica: %+v", d.Replicas[0])
	}
	if _, err := emu.ReleaseReplica(primary, "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.ReplicaCurrentVersion(ctx, eu); err != nil || v != next {
		t.Fatalf("a released replica: %q %v, want %q", v, err, next)
	}

	listed, err := c.ListSecrets(ctx, "", nil)
	if err != nil || len(listed) != 1 || listed[0].PrimaryRegion != "us-east-1" {
		t.Fatalf("ListSecrets: %+v %v", listed, err)
	}
}

func TestReplicaARNRefusesWhatIsNotASecretARN(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven/x-AbCdEf"
	for _, tc := range []struct{ name, arn, region string }{
		{"a name", "aiven/x", "eu-west-1"},
		{"another service", "arn:aws:kms:us-east-1:000000000000:key/x", "eu-west-1"},
		{"no region", arn, ""},
		{"a malformed region", arn, "EU West"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := ReplicaARN(tc.arn, tc.region); err == nil {
				t.Fatalf("ReplicaARN(%q, %q) = %q", tc.arn, tc.region, got)
			}
		})
	}
	if got, err := ReplicaARN("arn:aws-cn:secretsmanager:cn-north-1:000000000000:secret:x-AbCdEf", "cn-northwest-1"); err != nil ||
		got != "arn:aws-cn:secretsmanager:cn-northwest-1:000000000000:secret:x-AbCdEf" {
		t.Fatalf("another partition: %q %v", got, err)
	}
	if _, err := New(aws.Config{Region: "us-east-1"}, Options{}).DescribeReplica(t.Context(), "aiven/x"); err == nil {
		t.Fatal("DescribeReplica sent a name, not an ARN")
	}
}
