package smemulator

// Multi-Region secrets, as AWS documents them ("Replicate AWS Secrets
// Manager secrets across Regions",
// https://docs.aws.amazon.com/secretsmanager/latest/userguide/replicate-secrets.html,
// and the API reference of CreateSecret, ReplicateSecretToRegions,
// RemoveRegionsFromReplication, DescribeSecret and ReplicationStatusType):
//
//   - A request works in the region of its SigV4 credential scope
//     (requestRegion); the emulator serves every region on one endpoint, as
//     each region's endpoint would answer for its own secrets.
//   - "The ARN for a replicated secret is the same as the primary secret
//     except for the Region": the replica has the primary's name and ARN
//     suffix, in its own region, and is read there by name or ARN.
//   - "Secrets Manager replicates the encrypted secret data and metadata such
//     as tags and resource policies across the specified Regions"; "If you
//     turn on rotation for your primary secret, Secrets Manager rotates the
//     secret in the primary Region, and the new secret value propagates to
//     all of the associated replica secrets." Replication is asynchronous:
//     a replica catches up replicationLag after the primary changed (by the
//     emulator's clock; AWS publishes no figure, so it is a setting), and
//     the control API can hold it behind or mark it Failed.
//   - ReplicationStatus (Region, KmsKeyId, Status, StatusMessage,
//     LastAccessedDate) on the primary's DescribeSecret, and on the answers
//     of CreateSecret, ReplicateSecretToRegions and
//     RemoveRegionsFromReplication: "InProgress, which indicates that
//     Secrets Manager is in the process of creating the replica", "InSync,
//     which indicates that the replica was created", "Failed, which
//     indicates that the replica was not created". So the status says
//     whether the replica exists, not which version it serves: a replica
//     held behind stays InSync (inferred, the strictest reading).
//   - "A replica secret can't be updated independently from its primary
//     secret, except for its encryption key" (Promote a replica secret to a
//     standalone secret): every write to a replica is refused with
//     InvalidParameterException "Operation not permitted on a replica
//     secret. Call must be made in primary secret's region." (the words
//     moto answers and rotation code in the wild matches on: the type
//     InvalidParameterException, "replica" in the message).
//   - "You can't delete a primary secret if it is replicated to other
//     Regions. First delete the replicas, then delete the primary secret.
//     When you delete a replica, it is deleted immediately." (Delete an AWS
//     Secrets Manager secret.)
//
// Inferred, and marked so below: the answer to a replica region that is
// the primary's own or named twice, a replica's rotation settings (none:
// rotation runs on the primary only; "promote a replica ... if you want to
// turn on rotation for the replica"), PrimaryRegion left out for a secret
// without replicas, and a missing scope region (the home region).

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Replication statuses (ReplicationStatusType.Status).
const (
	ReplicaInSync     = "InSync"
	ReplicaInProgress = "InProgress"
	ReplicaFailed     = "Failed"
)

// defaultReplicationLag is how long after a change of its primary a
// replica catches up, unless WithReplicationLag or the control API says
// otherwise. AWS documents replication as asynchronous and publishes no
// delay; one second makes "not yet replicated" the normal state right
// after a write, as it is in AWS, without slowing a test much.
const defaultReplicationLag = time.Second

// defaultKMSAlias is what ReplicationStatus names when a replica uses the
// AWS managed key: AWS's examples show "KmsKeyId": "alias/aws/secretsmanager".
const defaultKMSAlias = "alias/aws/secretsmanager"

const (
	msgReplica = "Operation not permitted on a replica secret. Call must be made in primary secret's region."
	// msgSameRegion and msgNameExists: the first is inferred (AWS documents
	// no answer); the second is the example AWS gives for StatusMessage.
	msgSameRegion    = "Invalid replica region: a secret can't be replicated to its own Region."
	msgNameExists    = "Secret with this name already exists in this region"
	msgReplicated    = "Replication succeeded"
	msgControlFailed = "Replication failed (local stack: marked Failed through the control API)"
)

// WithReplicationLag sets how long a replica takes to catch up with a
// change of its primary (default one second), by the emulator's clock; 0
// catches up before the next call is answered.
func WithReplicationLag(d time.Duration) Option {
	return func(e *Emulator) { e.replicationLag = max(d, 0) }
}

// regionPattern is the model's RegionType: 1 to 128 characters.
var regionPattern = regexp.MustCompile(`^([a-z]+-)+\d+$`)

// requestRegion is the region of r's SigV4 credential scope
// ("Credential=AKID/20260101/eu-west-1/secretsmanager/aws4_request"): the
// region whose endpoint a real client would have called. A scope without
// a region of AWS's form is taken for the home region (inferred: lenient,
// as the emulator checks signatures in form only).
func requestRegion(r *http.Request, home string) string {
	return scopeRegion(r.Header.Get("Authorization"), home)
}

func scopeRegion(auth, home string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return home
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) == 5 && len(parts[2]) <= 128 && regionPattern.MatchString(parts[2]) {
		return parts[2]
	}
	return home
}

// arnRegion is the region an ARN names ("arn:aws:secretsmanager:REGION:..."),
// "" when it names none.
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}

// replicaARN is the ARN of the primary's replica in region: the same but
// for the region.
func replicaARN(primaryARN, region string) string {
	parts := strings.SplitN(primaryARN, ":", 6)
	parts[3] = region
	return strings.Join(parts, ":")
}

// replica is one region of a primary's replication.
type replica struct {
	primary  *secretEntry
	region   string
	kmsKeyID string
	// overwrite: ForceOverwriteReplicaSecret was set when it was added.
	overwrite bool
	status    string
	message   string
	// entry is the replica secret in its region; nil until its creation
	// (the first catch-up), and when that failed.
	entry *secretEntry
	// held and failed are the control API's: a held replica keeps what it
	// has, its status unchanged; a failed one too, its status Failed.
	held, failed bool
	due          time.Time // when the pending catch-up happens
}

// replicationStatus is ReplicationStatusType.
type replicationStatus struct {
	Region           string `json:"Region"`
	KmsKeyID         string `json:"KmsKeyId,omitempty"`
	Status           string `json:"Status"`
	StatusMessage    string `json:"StatusMessage,omitempty"`
	LastAccessedDate epoch  `json:"LastAccessedDate,omitempty"`
}

// replicationStatus lists p's replicas as DescribeSecret does. Callers
// hold e.mu.
func (e *Emulator) replicationStatus(p *secretEntry) []replicationStatus {
	out := make([]replicationStatus, 0, len(p.replicas))
	for _, r := range p.replicas {
		st := replicationStatus{Region: r.region, KmsKeyID: r.kmsKeyID, Status: r.status, StatusMessage: r.message}
		if st.KmsKeyID == "" {
			st.KmsKeyID = defaultKMSAlias
		}
		if r.entry != nil {
			// "The date that the secret was last accessed in the Region."
			st.LastAccessedDate = day(r.entry.accessed)
		}
		out = append(out, st)
	}
	return out
}

func errReplica() *apiError { return errOf("InvalidParameterException", msgReplica) }

// writableIn is usableIn for operations that change a secret: a replica
// refuses them all.
func (e *Emulator) writableIn(region, secretID string) (*secretEntry, *apiError) {
	s, apiErr := e.resolveIn(region, secretID)
	if apiErr != nil {
		return nil, apiErr
	}
	if s.primary != nil {
		return nil, errReplica()
	}
	if !s.deleted.IsZero() {
		return nil, errOf("InvalidRequestException", errDeleted)
	}
	return s, nil
}

// primaryIn is resolveIn refusing replicas (DeleteSecret, RestoreSecret).
func (e *Emulator) primaryIn(region, secretID string) (*secretEntry, *apiError) {
	s, apiErr := e.resolveIn(region, secretID)
	if apiErr != nil {
		return nil, apiErr
	}
	if s.primary != nil {
		return nil, errReplica()
	}
	return s, nil
}

// refuseReplicated refuses to delete a primary that still has replicas.
// The type and words are inferred (AWS documents the rule, not the
// answer); they are those other emulators give.
func refuseReplicated(s *secretEntry) *apiError {
	if len(s.replicas) == 0 {
		return nil
	}
	regions := make([]string, 0, len(s.replicas))
	for _, r := range s.replicas {
		regions = append(regions, r.region)
	}
	return errOf("InvalidParameterException", "You can't delete secret %s that still has replica regions [%s].", s.arn, strings.Join(regions, ", "))
}

// replicaRegion is ReplicaRegionType.
type replicaRegion struct {
	Region   string `json:"Region"`
	KmsKeyID string `json:"KmsKeyId"`
}

// replicaRegions reads a list of ReplicaRegionType (AddReplicaRegions):
// at least one entry, each Region of the model's form (1 to 128
// characters, ^([a-z]+-)+\d+$), each KmsKeyId at most 2048. A missing
// Region, or one named twice, is refused (inferred wording).
func (q *request) replicaRegions(name string, required bool) []replicaRegion {
	if required {
		q.required(name)
	}
	var list []replicaRegion
	if !q.read(name, "a list of {Region, KmsKeyId} objects", &list) {
		return nil
	}
	if len(list) < 1 {
		q.violate("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to 1", path(name))
	}
	seen := map[string]bool{}
	for i, r := range list {
		at := fmt.Sprintf("%s.%d.member", path(name), i+1)
		switch {
		case r.Region == "":
			q.fail(errOf("InvalidParameterException", "Invalid replica region: every entry of %s needs a Region.", name))
		case len(r.Region) > 128 || !regionPattern.MatchString(r.Region):
			q.violate("Value at '%s.region' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must satisfy regular expression pattern: %s]", at, regionPattern.String())
		case seen[r.Region]:
			q.fail(errOf("InvalidParameterException", "Invalid replica region: %s is named twice.", r.Region))
		}
		seen[r.Region] = true
		q.length(at+".kmsKeyId", len(r.KmsKeyID), 0, maxARNLength)
	}
	return list
}

// addReplicas starts replicating p to regions: each replica is
// InProgress until its first catch-up creates it. Callers hold e.mu.
func (e *Emulator) addReplicas(p *secretEntry, regions []replicaRegion, overwrite bool) {
	due := e.now().Add(e.replicationLag)
	for _, rr := range regions {
		r := &replica{primary: p, region: rr.Region, kmsKeyID: rr.KmsKeyID, overwrite: overwrite, status: ReplicaInProgress, due: due}
		p.replicas = append(p.replicas, r)
		e.stale[r] = struct{}{}
	}
}

// changed tells s's replicas that s may have changed: each that is not
// held, failed or already due catches up replicationLag from now. Callers
// hold e.mu.
func (e *Emulator) changed(s *secretEntry) {
	if s == nil || s.primary != nil || len(s.replicas) == 0 {
		return
	}
	due := e.now().Add(e.replicationLag)
	for _, r := range s.replicas {
		if _, pending := e.stale[r]; pending || r.held || r.failed {
			continue
		}
		r.due = due
		e.stale[r] = struct{}{}
	}
}

// catchUp brings every replica whose catch-up is due up to date. Callers
// hold e.mu.
func (e *Emulator) catchUp() {
	if len(e.stale) == 0 {
		return
	}
	now := e.now()
	for r := range e.stale {
		switch {
		case r.held || r.failed:
			delete(e.stale, r)
		case !now.Before(r.due):
			delete(e.stale, r)
			e.sync(r, now)
		}
	}
}

// sync makes r a copy of its primary as it is now: created on the first
// call (Failed if its region holds another secret of that name, unless
// ForceOverwriteReplicaSecret was set and that secret is no replica),
// then its versions, labels, description, tags and policy copied. Its
// KMS key, its LastAccessedDate and its versions' are its own. Callers
// hold e.mu.
func (e *Emulator) sync(r *replica, now time.Time) {
	p := r.primary
	if r.entry == nil {
		if arn, ok := e.names[nameKey{r.region, p.name}]; ok {
			if existing, apiErr := e.resolveIn(r.region, arn); apiErr == nil {
				if !r.overwrite || existing.primary != nil || len(existing.replicas) > 0 {
					r.status, r.message = ReplicaFailed, msgNameExists
					return
				}
				e.forget(existing)
			}
		}
		r.entry = &secretEntry{arn: replicaARN(p.arn, r.region), name: p.name, region: r.region, primary: p, created: now}
		e.secrets[r.entry.arn] = r.entry
		e.names[nameKey{r.region, p.name}] = r.entry.arn
	}
	t := r.entry
	t.description, t.policy, t.kmsKeyID = p.description, p.policy, r.kmsKeyID
	t.tags, t.tagged = slices.Clone(p.tags), p.tagged
	versions := make(map[string]*version, len(p.versions))
	for id, v := range p.versions {
		c := &version{id: v.id, str: v.str, bin: slices.Clone(v.bin), created: v.created}
		if old, ok := t.versions[id]; ok {
			c.accessed = old.accessed
		}
		versions[id] = c
	}
	t.versions, t.order, t.labels = versions, slices.Clone(p.order), maps.Clone(p.labels)
	t.changed = p.changed
	r.status, r.message = ReplicaInSync, msgReplicated
}

// removeReplica deletes r's replica secret at once and forgets r. Callers
// hold e.mu.
func (e *Emulator) removeReplica(r *replica) {
	if r.entry != nil {
		e.forget(r.entry)
	}
	delete(e.stale, r)
	p := r.primary
	p.replicas = slices.DeleteFunc(p.replicas, func(x *replica) bool { return x == r })
}

type replicationAnswer struct {
	ARN               string              `json:"ARN"`
	ReplicationStatus []replicationStatus `json:"ReplicationStatus"`
}

// replicateSecretToRegions is ReplicateSecretToRegions: the answer lists
// every replica of the secret, the new ones InProgress (inferred: AWS's
// examples show one region). A region already replicated to is refused
// (inferred).
func (e *Emulator) replicateSecretToRegions(q *request) (any, *apiError) {
	id := q.secretID()
	regions := q.replicaRegions("AddReplicaRegions", true)
	overwrite := q.boolean("ForceOverwriteReplicaSecret")
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		for _, rr := range regions {
			if rr.Region == s.region {
				return nil, errOf("InvalidParameterException", msgSameRegion)
			}
			if slices.ContainsFunc(s.replicas, func(r *replica) bool { return r.region == rr.Region }) {
				return nil, errOf("InvalidParameterException", "Invalid replica region: the secret is already replicated to %s.", rr.Region)
			}
		}
		e.addReplicas(s, regions, overwrite != nil && *overwrite)
		return replicationAnswer{ARN: s.arn, ReplicationStatus: e.replicationStatus(s)}, nil
	})
}

// removeRegionsFromReplication is RemoveRegionsFromReplication: each
// named replica is deleted at once; a region without one is ignored
// (inferred: the call is idempotent). The answer lists the replicas left.
func (e *Emulator) removeRegionsFromReplication(q *request) (any, *apiError) {
	id := q.secretID()
	q.required("RemoveReplicaRegions")
	regions := q.stringList("RemoveReplicaRegions", 1, 0, 1, 128)
	for i, r := range regions {
		if !regionPattern.MatchString(r) {
			q.violate("Value at 'removeReplicaRegions.%d.member' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", i+1, `^([a-z]+-)+\d+$`)
		}
	}
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		for _, region := range regions {
			for _, r := range slices.Clone(s.replicas) {
				if r.region == region {
					e.removeReplica(r)
				}
			}
		}
		return replicationAnswer{ARN: s.arn, ReplicationStatus: e.replicationStatus(s)}, nil
	})
}

// ReplicaState is a replica as the Go and control APIs show it.
type ReplicaState struct {
	SecretARN     string `json:"secret_arn"`  // the primary's
	ReplicaARN    string `json:"replica_arn"` // the replica's, in its region
	Region        string `json:"region"`
	Status        string `json:"status"`
	StatusMessage string `json:"status_message,omitempty"`
	// Held: kept behind by HoldReplica; Failed replicas are kept behind too.
	Held bool `json:"held"`
	// CurrentVersion is the version the replica serves as AWSCURRENT, ""
	// while it does not exist; PrimaryCurrentVersion the primary's.
	CurrentVersion        string `json:"current_version,omitempty"`
	PrimaryCurrentVersion string `json:"primary_current_version,omitempty"`
}

func (r *replica) state() ReplicaState {
	st := ReplicaState{
		SecretARN: r.primary.arn, ReplicaARN: replicaARN(r.primary.arn, r.region), Region: r.region,
		Status: r.status, StatusMessage: r.message, Held: r.held,
		PrimaryCurrentVersion: r.primary.labels[StageCurrent],
	}
	if r.entry != nil {
		st.CurrentVersion = r.entry.labels[StageCurrent]
	}
	return st
}

// Replicas lists the replicas of the secret secretID names (a name in the
// home region, or an ARN), or of every secret when secretID is "", after
// any catch-up that is due. It counts no call.
func (e *Emulator) Replicas(secretID string) ([]ReplicaState, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.catchUp()
	var primaries []*secretEntry
	if secretID != "" {
		s, apiErr := e.resolve(secretID)
		if apiErr != nil {
			return nil, apiErr
		}
		if s.primary != nil {
			s = s.primary
		}
		primaries = []*secretEntry{s}
	} else {
		for _, s := range e.secrets {
			if len(s.replicas) > 0 {
				primaries = append(primaries, s)
			}
		}
		slices.SortFunc(primaries, func(a, b *secretEntry) int { return strings.Compare(a.arn, b.arn) })
	}
	out := []ReplicaState{}
	for _, p := range primaries {
		for _, r := range p.replicas {
			out = append(out, r.state())
		}
	}
	return out, nil
}

// findReplica is the replica of the secret secretID names (its primary's
// name in the home region or ARN, or the replica's own ARN) in region.
// Callers hold e.mu.
func (e *Emulator) findReplica(secretID, region string) (*replica, error) {
	s, apiErr := e.resolve(secretID)
	if apiErr != nil {
		return nil, apiErr
	}
	if s.primary != nil {
		s = s.primary
	}
	for _, r := range s.replicas {
		if r.region == region {
			return r, nil
		}
	}
	return nil, fmt.Errorf("secret %s has no replica in %q", s.arn, region)
}

// HoldReplica keeps the replica of secretID in region behind: it goes on
// serving what it has (the older AWSCURRENT) and its status does not
// change, as ReplicationStatus does not tell which version a replica
// serves. Holding twice is holding. Nothing is counted as a call.
func (e *Emulator) HoldReplica(secretID, region string) (ReplicaState, error) {
	return e.controlReplica(secretID, region, func(r *replica) {
		r.held = true
		delete(e.stale, r)
	})
}

// FailReplica marks the replica of secretID in region Failed, with
// message as its StatusMessage (a default when empty): it keeps what it
// has and receives nothing more until ReleaseReplica.
func (e *Emulator) FailReplica(secretID, region, message string) (ReplicaState, error) {
	if message == "" {
		message = msgControlFailed
	}
	return e.controlReplica(secretID, region, func(r *replica) {
		r.failed, r.status, r.message = true, ReplicaFailed, message
		delete(e.stale, r)
	})
}

// ReleaseReplica undoes HoldReplica and FailReplica and brings the
// replica up to date at once (creating it if it does not exist yet: a
// retry of a failed creation). Releasing a replica in sync changes
// nothing.
func (e *Emulator) ReleaseReplica(secretID, region string) (ReplicaState, error) {
	return e.controlReplica(secretID, region, func(r *replica) {
		r.held, r.failed = false, false
		delete(e.stale, r)
		e.sync(r, e.now())
	})
}

func (e *Emulator) controlReplica(secretID, region string, act func(*replica)) (ReplicaState, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.catchUp()
	r, err := e.findReplica(secretID, region)
	if err != nil {
		return ReplicaState{}, err
	}
	act(r)
	return r.state(), nil
}

// SetReplicationLag changes how long replicas take to catch up; replicas
// already due keep their time.
func (e *Emulator) SetReplicationLag(d time.Duration) error {
	if d < 0 {
		return errors.New("the replication lag must not be negative")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.replicationLag = d
	return nil
}

// ReplicationLag is the current replication lag.
func (e *Emulator) ReplicationLag() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.replicationLag
}
