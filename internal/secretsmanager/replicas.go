package secretsmanager

// Replica regions. Secrets Manager replicates each new version of a
// primary secret to its replicas asynchronously, and the primary's
// DescribeSecret lists them in ReplicationStatus: InProgress ("in the
// process of creating the replica"), InSync ("the replica was created") or
// Failed ("the replica was not created"), which says whether a replica
// exists, not which version it serves. Which version a replica serves is
// read from the replica itself: DescribeSecret on its ARN ("the same as
// the primary secret except for the Region"), signed for its region.
// (AWS: "Replicate AWS Secrets Manager secrets across Regions",
// DescribeSecret, ReplicationStatusType.)

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Replication statuses (ReplicationStatusType.Status).
const (
	ReplicaInSync     = "InSync"
	ReplicaInProgress = "InProgress"
	ReplicaFailed     = "Failed"
)

// Replica is one entry of a primary's ReplicationStatus.
type Replica struct {
	Region   string
	KmsKeyID string
	// Status is ReplicaInSync, ReplicaInProgress or ReplicaFailed;
	// StatusMessage says why when Secrets Manager gives a reason.
	Status        string
	StatusMessage string
	// LastAccessed is the day the secret was last read in the replica's
	// region; zero when never.
	LastAccessed time.Time
}

func replicasOf(list []types.ReplicationStatusType) []Replica {
	if len(list) == 0 {
		return nil
	}
	out := make([]Replica, 0, len(list))
	for _, r := range list {
		out = append(out, Replica{
			Region: aws.ToString(r.Region), KmsKeyID: aws.ToString(r.KmsKeyId),
			Status: string(r.Status), StatusMessage: clip(aws.ToString(r.StatusMessage), 300),
			LastAccessed: aws.ToTime(r.LastAccessedDate),
		})
	}
	return out
}

// CurrentVersion is the id of the version labelled AWSCURRENT in d, ""
// when none is.
func (d Description) CurrentVersion() string {
	for id, stages := range d.Versions {
		for _, s := range stages {
			if s == StageCurrent {
				return id
			}
		}
	}
	return ""
}

// secretARNPattern is a Secrets Manager secret ARN, with its region.
// Compiled on first use: nothing is paid at init that the first
// invocation may not need (docs/PERFORMANCE.md, cold start).
var secretARNPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso[a-z-]*):secretsmanager:(([a-z]+-)+\d+):(\d{12}):secret:(.+)$`)
})

// ReplicaARN is the ARN of the replica of the secret secretARN in region:
// the same ARN with the region swapped, as AWS documents it. It fails,
// naming neither, when secretARN is not a secret's full ARN or region is
// not a region's name.
func ReplicaARN(secretARN, region string) (string, error) {
	m := secretARNPattern().FindStringSubmatch(secretARN)
	if m == nil {
		return "", errors.New("replica ARN: the secret is not named by a Secrets Manager secret ARN")
	}
	if len(region) > 128 || !regionName().MatchString(region) {
		return "", errors.New("replica ARN: the region is not a region's name")
	}
	return "arn:" + m[1] + ":secretsmanager:" + region + ":" + m[4] + ":secret:" + m[5], nil
}

var regionName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([a-z]+-)+\d+$`) })

// ErrReplicaMissing says the replica does not exist in its region
// (ResourceNotFoundException): not yet created, removed, or never made.
var ErrReplicaMissing = errors.New("the replica does not exist in its region")

// DescribeReplica reads a replica secret (DescribeSecret on replicaARN,
// signed for the region the ARN names, through this client's endpoint
// and credentials: the role needs secretsmanager:DescribeSecret on the
// replica's ARN). Its Versions say which version the replica serves as
// AWSCURRENT. A replica that does not exist answers an error matching
// ErrReplicaMissing. It only reads: calling it twice is harmless.
func (c *Client) DescribeReplica(ctx context.Context, replicaARN string) (Description, error) {
	m := secretARNPattern().FindStringSubmatch(replicaARN)
	if m == nil {
		return Description{}, errors.New("describe replica: not a Secrets Manager secret ARN")
	}
	region := m[2]
	out, err := c.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &replicaARN}, c.withDeadline(ctx),
		func(o *sm.Options) { o.Region = region })
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Description{}, clipped(fmt.Errorf("%w (%s): %w", ErrReplicaMissing, region, err))
		}
		return Description{}, clipped(fmt.Errorf("describe the replica in %s: %w", region, err))
	}
	return describedAs(out), nil
}

// ReplicaCurrentVersion is the id of the version the replica replicaARN
// serves as AWSCURRENT (DescribeReplica), "" when it labels none. It only
// reads: calling it twice is harmless.
func (c *Client) ReplicaCurrentVersion(ctx context.Context, replicaARN string) (string, error) {
	d, err := c.DescribeReplica(ctx, replicaARN)
	if err != nil {
		return "", err
	}
	return d.CurrentVersion(), nil
}

// IsReplica says whether d describes a replica: a secret whose primary is
// in another region.
func (d Description) IsReplica() bool {
	return d.PrimaryRegion != "" && arnRegion(d.ARN) != "" && d.PrimaryRegion != arnRegion(d.ARN)
}

func arnRegion(arn string) string {
	if m := secretARNPattern().FindStringSubmatch(arn); m != nil {
		return m[2]
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		return parts[3]
	}
	return ""
}
