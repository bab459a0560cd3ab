package rotation

// Replica regions (docs/fleet.md, "Replica regions"). A secret replicated
// to other regions is read there by consumers, and Secrets Manager
// replicates each new version to them asynchronously; the primary's
// ReplicationStatus says whether a replica exists and is healthy, not
// which version it serves (AWS: "Replicate AWS Secrets Manager secrets
// across Regions"; DescribeSecret, ReplicationStatusType). So no previous
// token is revoked while a replica does not serve the version that
// replaced it as AWSCURRENT, read from the replica itself, by its own ARN
// in its region. A secret without replicas costs no call.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// replicaReader reads which version a replica serves as AWSCURRENT
// (secretsmanager.Client).
type replicaReader interface {
	ReplicaCurrentVersion(ctx context.Context, replicaARN string) (string, error)
}

var _ replicaReader = (*secretsmanager.Client)(nil)

// ReplicaLag says which replica regions do not serve a version yet.
type ReplicaLag struct {
	// Wait says why a previous token must wait, naming each region that
	// does not serve the version and what it serves; "" when every
	// replica does, or the secret has none.
	Wait string
	// Failed are the regions whose replication Failed.
	Failed []string
	// Overdue: a replica Failed, or has not caught up within the hard
	// limit of the previous token (PREVIOUS_TOKEN_MAX_GRACE, at least the
	// grace) and replicationAllowance after the current token was made:
	// a person must look (the sweep counts it in SweepReplicaLag).
	Overdue bool
}

// replicationAllowance is how long replication may take before a replica
// that has not caught up is overdue. AWS documents no bound on it.
const replicationAllowance = 15 * time.Minute

// replicaLag reads, for each replica of the secret desc describes (its
// primary's description), the version it serves as AWSCURRENT, and says
// which do not serve version. A replica that cannot be read counts as not
// serving it: a revocation waits rather than guess. It only reads.
func (r *Rotator) replicaLag(ctx context.Context, desc secretsmanager.Description, version string) ReplicaLag {
	var lag ReplicaLag
	if len(desc.Replicas) == 0 {
		return lag
	}
	rr, canRead := r.store.(replicaReader)
	var waits []string
	for _, rep := range desc.Replicas {
		region := clip(rep.Region, 64)
		if rep.Status == secretsmanager.ReplicaFailed {
			lag.Failed = append(lag.Failed, region)
			waits = append(waits, fmt.Sprintf("%s (replication Failed: %s)", region, clip(scrub.String(rep.StatusMessage), 200)))
			continue
		}
		if !canRead {
			waits = append(waits, region+" (this function cannot read replicas)")
			continue
		}
		arn, err := secretsmanager.ReplicaARN(desc.ARN, rep.Region)
		if err != nil {
			waits = append(waits, fmt.Sprintf("%s (%v)", region, err))
			continue
		}
		served, err := rr.ReplicaCurrentVersion(ctx, arn)
		switch {
		case err != nil:
			waits = append(waits, fmt.Sprintf("%s (its current version could not be read: %s)", region, clip(scrub.String(err.Error()), 300)))
		case served != version:
			waits = append(waits, fmt.Sprintf("%s (serves version %s, replication %s)", region, clip(served, 64), clip(rep.Status, 20)))
		}
	}
	if len(waits) > 0 {
		lag.Wait = "replica region(s) not serving version " + version + " as AWSCURRENT yet: " + strings.Join(waits, "; ")
	}
	return lag
}

// ReplicaLag is which replica regions of the inspected secret do not
// serve its current version currentVersion yet. It describes the secret
// (the listing the sweep makes does not name replicas): the sweep asks
// only when a revocation is due.
func (in *Inspection) ReplicaLag(ctx context.Context, currentVersion string) (ReplicaLag, error) {
	desc, err := in.r.store.Describe(ctx, in.arn)
	if err != nil {
		return ReplicaLag{}, fmt.Errorf("describe the secret for its replica regions: %w", err)
	}
	lag := in.r.replicaLag(ctx, desc, currentVersion)
	if lag.Wait == "" {
		return lag, nil
	}
	grace, _ := in.r.graceFor(in.v) // checked by Inspect
	limit, _, _, err := in.r.keepFor(in.v, grace)
	if err != nil {
		return lag, err
	}
	made := in.replacedAt()
	lag.Overdue = len(lag.Failed) > 0 || !made.IsZero() && in.Now.Sub(made) > limit+replicationAllowance
	return lag, nil
}
