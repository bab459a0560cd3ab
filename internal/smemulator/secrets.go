package smemulator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Stage labels with a meaning to Secrets Manager.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// keptDeprecated is how many versions without labels a secret keeps.
// AWS keeps "100 of the most recent versions" plus every version of the
// last 24 hours and refuses more with a quota error; the emulator keeps the
// 100 newest unlabelled ones and never refuses (inferred simplification:
// a long benchmark must not hit a quota).
const keptDeprecated = 100

var secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

type version struct {
	id       string
	str      *string
	bin      []byte
	created  time.Time
	accessed time.Time
}

func (v *version) hasValue() bool { return v.str != nil || v.bin != nil }

type rotationRules struct {
	AutomaticallyAfterDays *int64  `json:"AutomaticallyAfterDays,omitempty"`
	Duration               *string `json:"Duration,omitempty"`
	ScheduleExpression     *string `json:"ScheduleExpression,omitempty"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type secretEntry struct {
	arn, name, description, kmsKeyID string
	region                           string       // the region it lives in, named in its ARN
	primary                          *secretEntry // a replica's primary; nil for a primary
	replicas                         []*replica   // a primary's replicas, in the order they were added
	tags                             []tag
	policy                           string // the resource policy's JSON, "" for none
	tagged                           bool   // Tags shows, [] included, once the secret ever had tags
	versions                         map[string]*version
	order                            []string          // version ids, oldest first
	labels                           map[string]string // stage → version id: one version per label
	created, changed, accessed       time.Time
	rotated                          time.Time // LastRotatedDate
	deleted, deletion                time.Time // DeletedDate, and the end of the recovery window
	rotationConfigured               bool      // RotationEnabled is shown once rotation was ever configured
	rotationEnabled                  bool
	rotationLambdaARN                string
	rules                            *rotationRules
	rotationSince                    time.Time // when rotation was last configured
	edited                           time.Time // when a value was last put by hand (schedule.go)
	rotationGen                      int       // bumped by RotateSecret, CancelRotateSecret and an abandoned rotation
	stopReason                       string    // why a running rotation was stopped, when not by CancelRotateSecret
}

// stagesOf lists the labels on a version, sorted as AWS lists them.
func (s *secretEntry) stagesOf(id string) []string {
	var out []string
	for label, v := range s.labels {
		if v == id {
			out = append(out, label)
		}
	}
	sort.Strings(out)
	return out
}

// moveLabel puts label on version id, taking it from wherever it was;
// moving AWSCURRENT hands AWSPREVIOUS to the version it left.
func (s *secretEntry) moveLabel(label, id string) {
	old, had := s.labels[label]
	s.labels[label] = id
	if label == StageCurrent && had && old != id {
		s.labels[StagePrevious] = old
	}
}

func (s *secretEntry) versionIDsToStages() map[string][]string {
	if len(s.labels) == 0 {
		return nil
	}
	out := map[string][]string{}
	for label, id := range s.labels {
		out[id] = append(out[id], label)
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out
}

func (s *secretEntry) addVersion(v *version) {
	s.versions[v.id] = v
	s.order = append(s.order, v.id)
}

func (s *secretEntry) dropVersion(id string) {
	delete(s.versions, id)
	s.order = slices.DeleteFunc(s.order, func(v string) bool { return v == id })
}

// prune forgets the oldest unlabelled versions beyond keptDeprecated.
func (s *secretEntry) prune() {
	unlabelled := len(s.versions) - len(s.versionIDsToStages())
	for i := 0; unlabelled > keptDeprecated && i < len(s.order); {
		id := s.order[i]
		if len(s.stagesOf(id)) == 0 {
			s.dropVersion(id)
			unlabelled--
			continue
		}
		i++
	}
}

const (
	errNotFound = "Secrets Manager can't find the specified secret."
	errDeleted  = "You can't perform this operation on the secret because it was marked for deletion."
)

// nameKey is a secret's name in its region: names are unique per region,
// and a replica bears its primary's name in another.
type nameKey struct{ region, name string }

// resolveIn finds a secret of region by name, full ARN, or ARN without its
// six character suffix, as a request signed for region does: a secret of
// another region is not found, whatever its ARN says (inferred: AWS's
// endpoints are regional, and a secret is read in another region through
// its replica there). A secret whose recovery window has passed is gone.
// Callers hold e.mu.
func (e *Emulator) resolveIn(region, secretID string) (*secretEntry, *apiError) {
	s := e.secrets[secretID]
	if s == nil && strings.HasPrefix(secretID, "arn:") {
		// A partial ARN: ...:secret:<name>, the secret's ARN less "-XXXXXX".
		if i := strings.Index(secretID, ":secret:"); i >= 0 {
			if arn, ok := e.names[nameKey{arnRegion(secretID), secretID[i+len(":secret:"):]}]; ok && len(arn) == len(secretID)+7 && strings.HasPrefix(arn, secretID+"-") {
				s = e.secrets[arn]
			}
		}
	}
	if s == nil {
		if arn, ok := e.names[nameKey{region, secretID}]; ok {
			s = e.secrets[arn]
		}
	}
	if s == nil || s.region != region {
		return nil, errOf("ResourceNotFoundException", errNotFound)
	}
	if !s.deletion.IsZero() && !e.now().Before(s.deletion) {
		e.forget(s)
		return nil, errOf("ResourceNotFoundException", errNotFound)
	}
	return s, nil
}

// resolve is resolveIn for the emulator's own callers (the rotation it
// runs, the Go and control APIs): a full or partial ARN names its region,
// a name the home region. Callers hold e.mu.
func (e *Emulator) resolve(secretID string) (*secretEntry, *apiError) {
	region := e.region
	if strings.HasPrefix(secretID, "arn:") {
		region = arnRegion(secretID)
	}
	return e.resolveIn(region, secretID)
}

// usableIn is resolveIn for operations a secret scheduled for deletion refuses.
func (e *Emulator) usableIn(region, secretID string) (*secretEntry, *apiError) {
	s, apiErr := e.resolveIn(region, secretID)
	if apiErr != nil {
		return nil, apiErr
	}
	if !s.deleted.IsZero() {
		return nil, errOf("InvalidRequestException", errDeleted)
	}
	return s, nil
}

// finder is how an operation finds the secret its SecretId names in the
// request's region: (*Emulator).resolveIn finds any secret, one scheduled
// for deletion too; (*Emulator).usableIn refuses those;
// (*Emulator).writableIn refuses replicas too, and (*Emulator).primaryIn
// replicas only. Callers hold e.mu.
type finder func(e *Emulator, region, secretID string) (*secretEntry, *apiError)

// locked is every operation's opening: it answers the request's first
// error (serialization, then validation, then the operation's own checks)
// if it has one, and otherwise runs fn under the emulator's lock and
// answers what fn returns. A request refused before fn changes nothing.
// Replicas whose catch-up is due catch up first (replication.go).
func (e *Emulator) locked(q *request, fn func() (any, *apiError)) (any, *apiError) {
	if apiErr := q.result(); apiErr != nil {
		return nil, apiErr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.catchUp()
	return fn()
}

// withSecret is locked for an operation on the one secret id names in the
// request's region: fn runs on the secret find returns, and not at all
// when find refuses, whose error is then the answer. A primary's replicas
// are told of the call afterwards (changed), to catch up asynchronously.
func (e *Emulator) withSecret(q *request, id string, find finder, fn func(*secretEntry) (any, *apiError)) (any, *apiError) {
	return e.locked(q, func() (any, *apiError) {
		s, apiErr := find(e, q.region, id)
		if apiErr != nil {
			return nil, apiErr
		}
		out, apiErr := fn(s)
		e.changed(s)
		return out, apiErr
	})
}

func (e *Emulator) forget(s *secretEntry) {
	delete(e.secrets, s.arn)
	if k := (nameKey{s.region, s.name}); e.names[k] == s.arn {
		delete(e.names, k)
	}
}

const suffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomSuffix() string {
	b := make([]byte, 6)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(suffixAlphabet))))
		b[i] = suffixAlphabet[n.Int64()]
	}
	return string(b)
}

type operation func(*Emulator, *request) (any, *apiError)

var operations map[string]operation

func init() {
	operations = map[string]operation{
		"CreateSecret":                 (*Emulator).createSecret,
		"DescribeSecret":               (*Emulator).describeSecret,
		"GetSecretValue":               (*Emulator).getSecretValue,
		"PutSecretValue":               (*Emulator).putSecretValue,
		"UpdateSecret":                 (*Emulator).updateSecret,
		"UpdateSecretVersionStage":     (*Emulator).updateSecretVersionStage,
		"ListSecretVersionIds":         (*Emulator).listSecretVersionIDs,
		"ListSecrets":                  (*Emulator).listSecrets,
		"RotateSecret":                 (*Emulator).rotateSecret,
		"CancelRotateSecret":           (*Emulator).cancelRotateSecret,
		"TagResource":                  (*Emulator).tagResource,
		"UntagResource":                (*Emulator).untagResource,
		"DeleteSecret":                 (*Emulator).deleteSecret,
		"RestoreSecret":                (*Emulator).restoreSecret,
		"BatchGetSecretValue":          (*Emulator).batchGetSecretValue,
		"GetRandomPassword":            (*Emulator).getRandomPassword,
		"GetResourcePolicy":            (*Emulator).getResourcePolicy,
		"PutResourcePolicy":            (*Emulator).putResourcePolicy,
		"DeleteResourcePolicy":         (*Emulator).deleteResourcePolicy,
		"ValidateResourcePolicy":       (*Emulator).validateResourcePolicy,
		"ReplicateSecretToRegions":     (*Emulator).replicateSecretToRegions,
		"RemoveRegionsFromReplication": (*Emulator).removeRegionsFromReplication,
	}
}

// Answers.
type (
	arnName struct {
		ARN  string `json:"ARN"`
		Name string `json:"Name"`
	}
	versionAnswer struct {
		ARN           string   `json:"ARN"`
		Name          string   `json:"Name"`
		VersionID     string   `json:"VersionId,omitempty"`
		VersionStages []string `json:"VersionStages,omitempty"`
	}
	secretValueAnswer struct {
		ARN           string   `json:"ARN"`
		Name          string   `json:"Name"`
		VersionID     string   `json:"VersionId"`
		SecretString  *string  `json:"SecretString,omitempty"`
		SecretBinary  []byte   `json:"SecretBinary,omitempty"` // base64, as awsJson1.1 sends blobs
		VersionStages []string `json:"VersionStages,omitempty"`
		CreatedDate   epoch    `json:"CreatedDate"`
	}
	description struct {
		ARN                    string              `json:"ARN"`
		Name                   string              `json:"Name"`
		Description            string              `json:"Description,omitempty"`
		KmsKeyID               string              `json:"KmsKeyId,omitempty"`
		RotationEnabled        *bool               `json:"RotationEnabled,omitempty"`
		RotationLambdaARN      string              `json:"RotationLambdaARN,omitempty"`
		RotationRules          *rotationRules      `json:"RotationRules,omitempty"`
		LastRotatedDate        epoch               `json:"LastRotatedDate,omitempty"`
		LastChangedDate        epoch               `json:"LastChangedDate,omitempty"`
		LastAccessedDate       epoch               `json:"LastAccessedDate,omitempty"`
		DeletedDate            epoch               `json:"DeletedDate,omitempty"`
		NextRotationDate       epoch               `json:"NextRotationDate,omitempty"`
		Tags                   *[]tag              `json:"Tags,omitempty"`
		VersionIdsToStages     map[string][]string `json:"VersionIdsToStages,omitempty"`
		SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
		CreatedDate            epoch               `json:"CreatedDate"`
		PrimaryRegion          string              `json:"PrimaryRegion,omitempty"`
		ReplicationStatus      []replicationStatus `json:"ReplicationStatus,omitempty"`
	}
	versionEntry struct {
		VersionID        string   `json:"VersionId"`
		VersionStages    []string `json:"VersionStages,omitempty"`
		CreatedDate      epoch    `json:"CreatedDate"`
		LastAccessedDate epoch    `json:"LastAccessedDate,omitempty"`
		KmsKeyIDs        []string `json:"KmsKeyIds"`
	}
	versionList struct {
		ARN       string         `json:"ARN"`
		Name      string         `json:"Name"`
		Versions  []versionEntry `json:"Versions"`
		NextToken string         `json:"NextToken,omitempty"`
	}
	secretList struct {
		SecretList []description `json:"SecretList"`
		NextToken  string        `json:"NextToken,omitempty"`
	}
	deletion struct {
		ARN          string `json:"ARN"`
		Name         string `json:"Name"`
		DeletionDate epoch  `json:"DeletionDate"`
	}
)

// day is a date as LastAccessedDate reports it: the UTC day only.
func day(t time.Time) epoch {
	if t.IsZero() {
		return 0
	}
	return epochOf(t.UTC().Truncate(24 * time.Hour))
}

func (e *Emulator) createSecret(q *request) (any, *apiError) {
	name := q.text("Name", true, 1, maxNameLength)
	token := q.clientToken()
	desc := q.text("Description", false, 0, maxDescription)
	kmsKeyID := q.text("KmsKeyId", false, 0, maxARNLength)
	str, bin := q.secretValue()
	tags := q.tags()
	replicaRegions := q.replicaRegions("AddReplicaRegions", false)
	overwrite := q.boolean("ForceOverwriteReplicaSecret")
	if len(name) >= 1 && !secretNamePattern.MatchString(name) {
		// AWS's answer to a bad character, recorded: a ValidationException
		// in the service's own words rather than the model's.
		q.fail(errOf("ValidationException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"))
	}
	if str != nil && bin != nil {
		q.fail(errOf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret."))
	}
	if len(tags) > maxTags {
		// Inferred: the tagging quota, refused as a bad parameter.
		q.fail(errOf("InvalidParameterException", "Invalid parameter: a secret can have at most %d tags.", maxTags))
	}
	if slices.ContainsFunc(replicaRegions, func(r replicaRegion) bool { return r.Region == q.region }) {
		q.fail(errOf("InvalidParameterException", msgSameRegion))
	}
	return e.locked(q, func() (any, *apiError) {
		if arn, ok := e.names[nameKey{q.region, name}]; ok {
			if existing, apiErr := e.resolveIn(q.region, arn); apiErr == nil {
				if !existing.deleted.IsZero() {
					return nil, errOf("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
				}
				// A retry of the same create (same token, same value) is
				// ignored, as the ClientRequestToken documentation says.
				if v, ok := existing.versions[token]; ok && token != "" && (str != nil || bin != nil) && sameValue(v, str, bin) {
					return versionAnswer{ARN: existing.arn, Name: existing.name, VersionID: token}, nil
				}
				return nil, errOf("ResourceExistsException", "The operation failed because the secret %s already exists.", name)
			}
		}
		now := e.now()
		s := &secretEntry{
			arn:  "arn:aws:secretsmanager:" + q.region + ":" + e.account + ":secret:" + name + "-" + e.arnSuffix(name),
			name: name, description: desc, kmsKeyID: kmsKeyID, region: q.region,
			versions: map[string]*version{}, labels: map[string]string{},
			created: now, changed: now,
		}
		if len(tags) > 0 {
			s.tags, s.tagged = mergeTags(nil, tags), true
		}
		out := versionAnswer{ARN: s.arn, Name: s.name}
		if str != nil || bin != nil {
			if token == "" {
				token = uuid.NewString()
			}
			s.addVersion(&version{id: token, str: str, bin: bin, created: now})
			s.labels[StageCurrent] = token
			out.VersionID = token
		}
		e.secrets[s.arn] = s
		e.names[nameKey{s.region, s.name}] = s.arn
		if len(replicaRegions) > 0 {
			e.addReplicas(s, replicaRegions, overwrite != nil && *overwrite)
			return createAnswer{versionAnswer: out, ReplicationStatus: e.replicationStatus(s)}, nil
		}
		return out, nil
	})
}

// createAnswer is CreateSecret's answer for a secret made with replicas.
type createAnswer struct {
	versionAnswer
	ReplicationStatus []replicationStatus `json:"ReplicationStatus"`
}

func (e *Emulator) describeSecret(q *request) (any, *apiError) {
	id := q.secretID()
	return e.withSecret(q, id, (*Emulator).resolveIn, func(s *secretEntry) (any, *apiError) {
		// DescribeSecret answers for a secret scheduled for deletion too, with
		// its DeletedDate.
		d := e.describe(s)
		d.VersionIdsToStages = s.versionIDsToStages()
		if len(s.replicas) > 0 {
			// Only DescribeSecret lists the replicas: ListSecrets' entries
			// have no ReplicationStatus in AWS's model (SecretListEntry).
			d.ReplicationStatus = e.replicationStatus(s)
		}
		return d, nil
	})
}

// describe is DescribeSecret's answer less the versions; ListSecrets
// reuses it. Callers hold e.mu.
func (e *Emulator) describe(s *secretEntry) description {
	d := description{
		ARN: s.arn, Name: s.name, Description: s.description, KmsKeyID: s.kmsKeyID,
		RotationLambdaARN: s.rotationLambdaARN, RotationRules: s.rules,
		CreatedDate: epochOf(s.created), LastChangedDate: epochOf(s.changed),
		LastAccessedDate: day(s.accessed), DeletedDate: epochOf(s.deleted),
	}
	if s.rotationConfigured {
		// Never configured: null, as AWS documents; after
		// CancelRotateSecret: false, the function and rules still shown.
		enabled := s.rotationEnabled
		d.RotationEnabled = &enabled
	}
	if s.rotationEnabled {
		// LastRotatedDate and NextRotationDate are null while rotation is
		// off (AWS documents both).
		d.LastRotatedDate = epochOf(s.rotated)
		if next, ok := nextRotation(s.rotated, s.rotationSince, s.edited, s.rules); ok {
			d.NextRotationDate = epochOf(next)
		}
		if s.rules != nil && s.rules.AutomaticallyAfterDays == nil && !s.rotated.IsZero() {
			// "In DescribeSecret and ListSecrets, this value is calculated
			// from the rotation schedule after every successful rotation."
			if days, ok := scheduleDays(s.rules.ScheduleExpression); ok {
				r := *s.rules
				r.AutomaticallyAfterDays = &days
				d.RotationRules = &r
			}
		}
	}
	if s.tagged {
		tags := append(make([]tag, 0, len(s.tags)), s.tags...)
		d.Tags = &tags
	}
	if s.primary != nil || len(s.replicas) > 0 {
		// "The Region the secret is in. If a secret is replicated to other
		// Regions, the replicas are listed in ReplicationStatus." AWS's
		// examples show it on a replicated primary; a replica names its
		// primary's (SecretListEntry: "The Region where Secrets Manager
		// originated the secret"). Left out for a secret never replicated
		// (inferred).
		d.PrimaryRegion = s.primaryRegion()
	}
	return d
}

// primaryRegion is the region where the secret originated: its primary's.
func (s *secretEntry) primaryRegion() string {
	if s.primary != nil {
		return s.primary.region
	}
	return s.region
}

var ratePattern = regexp.MustCompile(`^rate\((\d+) (hours?|days?)\)$`)

// scheduleDays is the interval of a rate(N days) schedule.
func scheduleDays(expr *string) (int64, bool) {
	if expr == nil {
		return 0, false
	}
	m := ratePattern.FindStringSubmatch(*expr)
	if m == nil || !strings.HasPrefix(m[2], "day") {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}

func (e *Emulator) getSecretValue(q *request) (any, *apiError) {
	id := q.secretID()
	versionID := q.versionID("VersionId")
	stage := q.text("VersionStage", false, 1, maxStageLength)
	return e.withSecret(q, id, (*Emulator).usableIn, func(s *secretEntry) (any, *apiError) {
		v, apiErr := s.pick(versionID, stage)
		if apiErr != nil {
			return nil, apiErr
		}
		return e.readValue(s, v), nil
	})
}

// pendingMiss labels, in the request log, a read of the AWSPENDING version
// RotateSecret created, which has no value until createSecret stores one:
// the configuration test's testSecret, or createSecret's check after a
// token for the version is listed.
const pendingMiss = "the pending version has no value yet (the configuration test, or createSecret checking whether an earlier attempt stored it)"

// pick selects a version by id and/or stage; with neither, AWSCURRENT. A
// version without a value (the rotation placeholder) is not found, in the
// words matching how it was asked for; when that version is the one
// carrying AWSPENDING, the error is labelled expected for the log.
func (s *secretEntry) pick(versionID, stage string) (*version, *apiError) {
	if versionID != "" {
		v, ok := s.versions[versionID]
		if !ok || !v.hasValue() {
			apiErr := errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
			if ok && s.labels[StagePending] == versionID && (stage == "" || stage == StagePending) {
				apiErr.expected = pendingMiss
			}
			return nil, apiErr
		}
		if stage != "" && s.labels[stage] != versionID {
			// The answer other emulators agree on (moto's, floci's);
			// AWS documents only that the two must name the same version.
			return nil, errOf("InvalidRequestException", "You provided a VersionStage that is not associated to the provided VersionId.")
		}
		return v, nil
	}
	if stage == "" {
		stage = StageCurrent
	}
	id, ok := s.labels[stage]
	if !ok || !s.versions[id].hasValue() {
		apiErr := errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		if ok && stage == StagePending {
			apiErr.expected = pendingMiss
		}
		return nil, apiErr
	}
	return s.versions[id], nil
}

func (e *Emulator) putSecretValue(q *request) (any, *apiError) {
	id := q.secretID()
	token := q.clientToken()
	str, bin := q.secretValue()
	stages := q.stringList("VersionStages", 1, maxStages, 1, maxStageLength)
	if rt, ok := q.str("RotationToken"); ok {
		// Sensitive: checked for form only, never quoted.
		q.length("rotationToken", len(rt), 36, 256)
		q.pattern("rotationToken", rt, rotationTokenPattern)
	}
	switch {
	case str == nil && bin == nil && !q.has("SecretString") && !q.has("SecretBinary"):
		// AWS's answer, as users report it word for word.
		q.fail(errOf("InvalidRequestException", "You must provide either SecretString or SecretBinary."))
	case str != nil && bin != nil:
		q.fail(errOf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret."))
	}
	explicit := q.has("VersionStages")
	if !explicit {
		stages = []string{StageCurrent}
	}
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		if token == "" {
			token = uuid.NewString() // the SDK and the CLI always send one
		}
		now := e.now()
		v, exists := s.versions[token]
		switch {
		case exists && v.hasValue():
			if !sameValue(v, str, bin) {
				return nil, errOf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
			}
			// Same token, same value: a retry, ignored.
			return versionAnswer{ARN: s.arn, Name: s.name, VersionID: token, VersionStages: s.stagesOf(token)}, nil
		case exists:
			// The rotation placeholder receives its value.
			v.str, v.bin = str, bin
		default:
			s.addVersion(&version{id: token, str: str, bin: bin, created: now})
		}
		if _, hasCurrent := s.labels[StageCurrent]; !hasCurrent && !slices.Contains(stages, StageCurrent) {
			// "If this operation creates the first version for the secret,
			// then Secrets Manager automatically attaches the staging label
			// AWSCURRENT to it."
			stages = append(stages, StageCurrent)
		}
		e.label(s, token, stages, !explicit, !exists, now)
		s.changed = now
		s.prune()
		return versionAnswer{ARN: s.arn, Name: s.name, VersionID: token, VersionStages: s.stagesOf(token)}, nil
	})
}

// label attaches stages to version token after PutSecretValue or
// UpdateSecret stored its value. implicit: the caller named no stages
// (UpdateSecret, PutSecretValue without VersionStages); byHand: the version
// is new, not the rotation's placeholder receiving its value. Callers hold
// e.mu.
func (e *Emulator) label(s *secretEntry, token string, stages []string, implicit, byHand bool, now time.Time) {
	if byHand && slices.Contains(stages, StageCurrent) && !slices.Contains(stages, StagePending) {
		e.abandonRotation(s, token, now)
		s.edited = now // "considered a valid rotation" for the schedule (schedule.go)
	}
	oldCurrent, hadCurrent := s.labels[StageCurrent]
	for _, st := range stages {
		s.moveLabel(st, token)
	}
	if implicit && hadCurrent && oldCurrent != token && s.labels[StagePending] == oldCurrent {
		// Recorded from AWS: a version holding AWSCURRENT and AWSPENDING
		// that loses AWSCURRENT to a PutSecretValue without VersionStages
		// loses AWSPENDING too (it keeps only AWSPREVIOUS).
		delete(s.labels, StagePending)
	}
}

// abandonRotation is Secrets Manager's answer to a version made by hand
// while a rotation is in progress (AWSPENDING on a version other than
// AWSCURRENT), as "Logging AWS Secrets Manager events with AWS CloudTrail"
// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieve-ct-entries.html)
// documents the RotationAbandoned event: "When you manually create a new
// version of a secret, you send a message signalling the abandonment of the
// current ongoing rotation in favor of the new secret version. As a result,
// Secrets Manager removes the AWSPENDING label to allow future rotations to
// succeed and publish a CloudTrail event to provide awareness of the
// change." The rotation log gets a RotationAbandoned entry for the
// abandoned version.
//
// Inferred: "a new version" is one that takes AWSCURRENT (UpdateSecret
// with a value, PutSecretValue without VersionStages or naming AWSCURRENT
// and not AWSPENDING), the version that replaces what the rotation would
// have made; a rotation still running takes no further step or attempt, as
// after CancelRotateSecret. Callers hold e.mu.
func (e *Emulator) abandonRotation(s *secretEntry, newVersion string, now time.Time) {
	pending, ok := s.labels[StagePending]
	if !ok || pending == newVersion || pending == s.labels[StageCurrent] {
		return
	}
	delete(s.labels, StagePending)
	s.rotationGen++
	s.stopReason = "The rotation was abandoned: a new version of the secret was created by hand (RotationAbandoned)."
	e.rotations = append(e.rotations, &RotationAttempt{SecretARN: s.arn, VersionID: pending,
		Steps: []string{}, Outcome: RotationAbandoned, Started: now, Ended: now})
}

// updateSecret is UpdateSecret as AWS's API reference documents it
// ("UpdateSecret", https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecret.html):
// Description and KmsKeyId change the secret's metadata; "If you include
// SecretString or SecretBinary to create a new secret version, Secrets
// Manager automatically moves the staging label AWSCURRENT to the new
// version. Then it attaches the label AWSPREVIOUS to the version that
// AWSCURRENT was removed from." Without a value no version is made (the SDK
// and the CLI send a ClientRequestToken all the same) and the answer has no
// VersionId. A version made here is made by hand: it abandons a rotation in
// progress (abandonRotation), as PutSecretValue's does.
//
// ClientRequestToken: the reference says "If you call this operation with a
// ClientRequestToken that matches an existing version's VersionId, the
// operation results in an error. You can't modify an existing version, you
// can only create a new version." Its earlier wording of the parameter (and
// PutSecretValue's and CreateSecret's today) makes a retry with the same
// value a no-op: "If a version with this value already exists and that
// version's SecretString and SecretBinary values are the same as those in
// the request then the request is ignored (the operation is idempotent)."
// The emulator keeps both: same token and value, ignored (an SDK retry after
// a lost answer must not fail); another value, or the token of a version
// without one (the rotation placeholder), ResourceExistsException.
func (e *Emulator) updateSecret(q *request) (any, *apiError) {
	id := q.secretID()
	token := q.clientToken()
	desc := q.text("Description", false, 0, maxDescription)
	hasDesc := q.has("Description")
	kmsKeyID := q.text("KmsKeyId", false, 0, maxARNLength)
	hasKMS := q.has("KmsKeyId")
	q.text("Type", false, 0, 256) // managed external secrets: read for the model, not served
	str, bin := q.secretValue()
	if str != nil && bin != nil {
		q.fail(errOf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret."))
	}
	return e.withSecret(q, id, (*Emulator).usableIn, func(s *secretEntry) (any, *apiError) {
		if s.primary != nil && (hasDesc || str != nil || bin != nil) {
			// "A replica secret can't be updated independently from its
			// primary secret, except for its encryption key." (Promote a
			// replica secret to a standalone secret, AWS's user guide.)
			return nil, errReplica()
		}
		now := e.now()
		out := versionAnswer{ARN: s.arn, Name: s.name}
		changed := hasDesc || hasKMS
		if str != nil || bin != nil {
			if token == "" {
				token = uuid.NewString() // the SDK and the CLI always send one
			}
			if v, exists := s.versions[token]; exists {
				if !v.hasValue() || !sameValue(v, str, bin) {
					return nil, errOf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
				}
				// Same token, same value: a retry, ignored (its metadata
				// applied again, to the same effect).
			} else {
				s.addVersion(&version{id: token, str: str, bin: bin, created: now})
				e.label(s, token, []string{StageCurrent}, true, true, now)
				changed = true
			}
			out.VersionID = token
		}
		if hasDesc {
			s.description = desc
		}
		if hasKMS {
			// "" is the AWS managed key aws/secretsmanager, as the reference
			// says; the emulator encrypts nothing.
			s.kmsKeyID = kmsKeyID
		}
		if changed {
			s.changed = now
		}
		s.prune()
		return out, nil
	})
}

func sameValue(v *version, str *string, bin []byte) bool {
	if v.str != nil || str != nil {
		return v.str != nil && str != nil && *v.str == *str
	}
	return bytes.Equal(v.bin, bin)
}

func (e *Emulator) updateSecretVersionStage(q *request) (any, *apiError) {
	id := q.secretID()
	stage := q.text("VersionStage", true, 1, maxStageLength)
	moveTo := q.versionID("MoveToVersionId")
	removeFrom := q.versionID("RemoveFromVersionId")
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		for _, v := range []string{moveTo, removeFrom} {
			if _, ok := s.versions[v]; v != "" && !ok {
				// Inferred (moto's words): AWS does not document this answer.
				return nil, errOf("InvalidParameterException", "Not a valid version: %s", v)
			}
		}
		holder, held := s.labels[stage]
		switch {
		case moveTo == "" && removeFrom == "":
			// Inferred: a call that moves nothing is refused.
			return nil, errOf("InvalidParameterException", "Invalid parameter: specify MoveToVersionId, RemoveFromVersionId, or both.")
		case moveTo != "" && held && holder != moveTo && removeFrom == "":
			return nil, errOf("InvalidParameterException", "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", stage, holder)
		case removeFrom != "" && (!held || holder != removeFrom):
			// "If the label is attached and you either do not specify this
			// parameter, or the version ID does not match, then the operation
			// fails." A label attached nowhere cannot be removed either
			// (inferred, the stricter reading).
			return nil, errOf("InvalidParameterException", "When you move staging label %s, if you specify RemoveFromVersionId, it must be set to the version that currently has the staging label.", stage)
		case moveTo == "" && stage == StageCurrent:
			return nil, errOf("InvalidParameterException", "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.")
		}
		if moveTo != "" && held && holder == moveTo && removeFrom != holder {
			return arnName{ARN: s.arn, Name: s.name}, nil // already there: nothing to do
		}
		if moveTo != "" {
			s.moveLabel(stage, moveTo)
		} else {
			delete(s.labels, stage)
		}
		s.changed = e.now()
		s.prune()
		return arnName{ARN: s.arn, Name: s.name}, nil
	})
}

// pageToken and readPage implement NextToken: an opaque offset.
func pageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

func readPage(q *request) (offset, size int) {
	return readPageOf(q, 100)
}

// readPageOf reads MaxResults (1 to maxSize; absent, maxSize: inferred
// default page size) and NextToken.
func readPageOf(q *request, maxSize int) (offset, size int) {
	size = maxSize
	if n := q.integer("MaxResults", 1, int64(maxSize), true); n != nil {
		size = int(*n)
	}
	if tok, ok := q.str("NextToken"); ok {
		q.length("nextToken", len(tok), 1, 4096)
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, perr := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || perr != nil || !strings.HasPrefix(string(b), "o:") || n < 0 {
			q.fail(errOf("InvalidNextTokenException", "The NextToken value is invalid."))
		}
		offset = n
	}
	return offset, size
}

func (e *Emulator) listSecretVersionIDs(q *request) (any, *apiError) {
	id := q.secretID()
	offset, size := readPage(q)
	all := q.boolean("IncludeDeprecated")
	return e.withSecret(q, id, (*Emulator).usableIn, func(s *secretEntry) (any, *apiError) {
		// Inferred: refused while the secret is scheduled for deletion, like
		// every other read of its versions.
		kms := []string{"DefaultEncryptionKey"}
		if s.kmsKeyID != "" {
			kms = []string{s.kmsKeyID}
		}
		var versions []versionEntry
		for _, vid := range s.order {
			v := s.versions[vid]
			stages := s.stagesOf(v.id)
			if len(stages) == 0 && (all == nil || !*all) {
				continue
			}
			versions = append(versions, versionEntry{VersionID: v.id, VersionStages: stages,
				CreatedDate: epochOf(v.created), LastAccessedDate: day(v.accessed), KmsKeyIDs: kms})
		}
		out := versionList{ARN: s.arn, Name: s.name, Versions: []versionEntry{}}
		if offset < len(versions) {
			end := min(offset+size, len(versions))
			out.Versions = versions[offset:end]
			if end < len(versions) {
				out.NextToken = pageToken(end)
			}
		}
		return out, nil
	})
}

type filter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

var filterValuePattern = regexp.MustCompile(`^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$`)

// readFilters reads a Filters member as ListSecrets and
// BatchGetSecretValue take it: at most 10 filters, each a known key with 1
// to 10 values of at most 512 characters.
func readFilters(q *request) []filter {
	var filters []filter
	q.read("Filters", "a list of {Key, Values} objects", &filters)
	if len(filters) > 10 {
		q.violate("Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	keys := []string{"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}
	for i, f := range filters {
		if !slices.Contains(keys, f.Key) {
			q.violate("Value at 'filters.%d.member.key' failed to satisfy constraint: Member must satisfy enum value set: [%s]", i+1, strings.Join(keys, ", "))
		}
		q.length("filters."+strconv.Itoa(i+1)+".member.values", len(f.Values), 1, 10)
		for _, v := range f.Values {
			if len(v) > 512 || !filterValuePattern.MatchString(v) {
				q.violate("Value at 'filters.%d.member.values' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 512, Member must satisfy regular expression pattern: %s]", i+1, filterValuePattern.String())
				break
			}
		}
	}
	return filters
}

// selection is which secrets a listing shows, in which order.
type selection struct {
	region  string // the request's: a listing shows that region's secrets, replicas included
	filters []filter
	planned bool   // IncludePlannedDeletion
	sortBy  string // SortBy; "" is created-date
	desc    bool   // SortOrder desc
}

// matching lists the secrets sel selects, sorted. Callers hold e.mu.
func (e *Emulator) matching(sel selection) []*secretEntry {
	var found []*secretEntry
	for _, s := range e.secrets {
		if _, apiErr := e.resolve(s.arn); apiErr != nil { // the recovery window ended
			continue
		}
		if s.region != sel.region || !s.deleted.IsZero() && !sel.planned {
			continue
		}
		if e.matchesAll(s, sel.filters) {
			found = append(found, s)
		}
	}
	// "If not specified, secrets are listed by CreatedDate"; ascending
	// unless SortOrder says otherwise (inferred), the ARN breaking ties.
	key := func(s *secretEntry) (time.Time, string) {
		switch sel.sortBy {
		case "name":
			return time.Time{}, s.name
		case "last-accessed-date":
			return s.accessed, s.arn
		case "last-changed-date":
			return s.changed, s.arn
		}
		return s.created, s.arn
	}
	sort.Slice(found, func(i, j int) bool {
		if sel.desc {
			i, j = j, i
		}
		ti, ai := key(found[i])
		tj, aj := key(found[j])
		return ti.Before(tj) || (ti.Equal(tj) && ai < aj)
	})
	return found
}

// page cuts one page of size from offset out of all, with the NextToken
// of the rest ("" when none is left).
func page[T any](all []T, offset, size int) ([]T, string) {
	if offset >= len(all) {
		return nil, ""
	}
	end := min(offset+size, len(all))
	if end < len(all) {
		return all[offset:end], pageToken(end)
	}
	return all[offset:end], ""
}

func (e *Emulator) listSecrets(q *request) (any, *apiError) {
	sel := selection{filters: readFilters(q), region: q.region}
	planned := q.boolean("IncludePlannedDeletion")
	sel.planned = planned != nil && *planned
	offset, size := readPage(q)
	sel.desc = q.enum("SortOrder", "asc", "desc") == "desc"
	sel.sortBy = q.enum("SortBy", "created-date", "last-accessed-date", "last-changed-date", "name")
	return e.locked(q, func() (any, *apiError) {
		found, next := page(e.matching(sel), offset, size)
		out := secretList{SecretList: make([]description, 0, len(found)), NextToken: next}
		for _, s := range found {
			d := e.describe(s)
			d.SecretVersionsToStages = s.versionIDsToStages()
			out.SecretList = append(out.SecretList, d)
		}
		return out, nil
	})
}

// matchesAll applies ListSecrets filters as AWS documents them: every
// filter must match, within one any value; a value matches as a prefix
// (case-sensitive, except description and all), "!" negates it, and "all"
// matches any word of any attribute. primary-region matches the region of
// the secret's primary: its own for a primary, replicated or not
// (inferred: AWS documents the key, not what a secret never replicated
// answers); owning-service matches nothing, as no secret here is managed
// by another service.
func (e *Emulator) matchesAll(s *secretEntry, filters []filter) bool {
	for _, f := range filters {
		var fields []string
		fold := false
		switch f.Key {
		case "name":
			fields = []string{s.name}
		case "description":
			fields, fold = []string{s.description}, true
		case "tag-key":
			for _, t := range s.tags {
				fields = append(fields, t.Key)
			}
		case "tag-value":
			for _, t := range s.tags {
				fields = append(fields, t.Value)
			}
		case "primary-region":
			fields = []string{s.primaryRegion()}
		case "all":
			fold = true
			for _, text := range append([]string{s.name, s.description}, tagTexts(s.tags)...) {
				fields = append(fields, text)
				fields = append(fields, strings.FieldsFunc(text, func(r rune) bool { return strings.ContainsRune(" /_-.:@+=", r) })...)
			}
		}
		ok := false
		for _, want := range f.Values {
			negate := strings.HasPrefix(want, "!")
			want = strings.TrimPrefix(want, "!")
			hit := slices.ContainsFunc(fields, func(field string) bool {
				if fold {
					return strings.HasPrefix(strings.ToLower(field), strings.ToLower(want))
				}
				return strings.HasPrefix(field, want)
			})
			if hit != negate {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func tagTexts(tags []tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, t.Key, t.Value)
	}
	return out
}

func mergeTags(have, add []tag) []tag {
	for _, t := range add {
		i := slices.IndexFunc(have, func(h tag) bool { return h.Key == t.Key })
		if i >= 0 {
			have[i].Value = t.Value
		} else {
			have = append(have, t)
		}
	}
	return have
}

func (e *Emulator) tagResource(q *request) (any, *apiError) {
	id := q.secretID()
	q.required("Tags")
	tags := q.tags()
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		merged := mergeTags(slices.Clone(s.tags), tags)
		if len(merged) > maxTags {
			return nil, errOf("InvalidParameterException", "Invalid parameter: a secret can have at most %d tags.", maxTags)
		}
		s.tags, s.tagged = merged, true
		return struct{}{}, nil
	})
}

func (e *Emulator) untagResource(q *request) (any, *apiError) {
	id := q.secretID()
	q.required("TagKeys")
	keys := q.stringList("TagKeys", 0, 0, 1, maxTagKey)
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		s.tags = slices.DeleteFunc(slices.Clone(s.tags), func(t tag) bool { return slices.Contains(keys, t.Key) })
		return struct{}{}, nil
	})
}

func (e *Emulator) deleteSecret(q *request) (any, *apiError) {
	id := q.secretID()
	window := q.integer("RecoveryWindowInDays", 0, 0, false)
	force := q.boolean("ForceDeleteWithoutRecovery")
	forced := force != nil && *force
	switch {
	case window != nil && forced:
		q.fail(errOf("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."))
	case window != nil && (*window < 7 || *window > 30):
		q.fail(errOf("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."))
	}
	days := int64(30)
	if window != nil {
		days = *window
	}
	return e.locked(q, func() (any, *apiError) {
		now := e.now()
		s, apiErr := e.primaryIn(q.region, id)
		if apiErr != nil && apiErr.Type == "ResourceNotFoundException" {
			if forced {
				// "If you forcibly delete an already deleted or nonexistent
				// secret, the operation does not return
				// ResourceNotFoundException." (the ForceDeleteWithoutRecovery
				// documentation, in AWS's API reference and botocore's
				// model). The answer names what was asked for, an ARN
				// asked for by name being the partial ARN
				// arn:aws:secretsmanager:<region>:<account>:secret:<name>,
				// never empty: the model's SecretARNType is 20 to 2048
				// characters (inferred: AWS does not publish this answer).
				out := deletion{ARN: id, Name: id, DeletionDate: epochOf(now)}
				if strings.HasPrefix(id, "arn:") {
					out.Name = id[strings.LastIndex(id, ":")+1:]
				} else {
					out.ARN = "arn:aws:secretsmanager:" + q.region + ":" + e.account + ":secret:" + id
				}
				return out, nil
			}
			return nil, apiErr
		}
		if apiErr != nil {
			return nil, apiErr
		}
		if apiErr := refuseReplicated(s); apiErr != nil {
			return nil, apiErr
		}
		if forced {
			e.forget(s)
			return deletion{ARN: s.arn, Name: s.name, DeletionDate: epochOf(now)}, nil
		}
		if !s.deleted.IsZero() {
			return nil, errOf("InvalidRequestException", errDeleted)
		}
		s.deleted, s.deletion = now, now.Add(time.Duration(days)*24*time.Hour)
		return deletion{ARN: s.arn, Name: s.name, DeletionDate: epochOf(s.deletion)}, nil
	})
}

func (e *Emulator) restoreSecret(q *request) (any, *apiError) {
	id := q.secretID()
	return e.withSecret(q, id, (*Emulator).primaryIn, func(s *secretEntry) (any, *apiError) {
		s.deleted, s.deletion = time.Time{}, time.Time{}
		return arnName{ARN: s.arn, Name: s.name}, nil
	})
}
