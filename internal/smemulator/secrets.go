package smemulator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"regexp"
	"slices"
	"sort"
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

// Limits AWS documents for these parameters.
const (
	maxSecretSize         = 65536 // SecretString or SecretBinary, bytes
	maxDescription        = 2048
	maxNameLength         = 512
	minRequestTokenLength = 32
	maxRequestTokenLength = 64
	maxTags               = 50
)

var secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

type version struct {
	id      string
	str     *string
	bin     []byte
	created time.Time
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
	tags                             []tag
	versions                         map[string]*version
	labels                           map[string]string // stage → version id
	created, changed                 time.Time
	accessed, rotated, deleted       time.Time
	rotationEnabled                  bool
	rotationLambdaARN                string
	rules                            *rotationRules
}

// stagesOf lists the labels on a version, sorted.
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
	out := map[string][]string{}
	for label, id := range s.labels {
		out[id] = append(out[id], label)
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out
}

// resolve finds a secret by name, full ARN, or ARN without its six
// character suffix. Callers hold e.mu.
func (e *Emulator) resolve(secretID string) (*secretEntry, *apiError) {
	if secretID == "" {
		return nil, errOf("InvalidParameterException", "Invalid parameter: SecretId is required and must not be empty.")
	}
	if s, ok := e.secrets[secretID]; ok {
		return s, nil
	}
	for _, s := range e.secrets {
		if s.name == secretID || (strings.HasPrefix(secretID, "arn:") && len(s.arn) == len(secretID)+7 && strings.HasPrefix(s.arn, secretID+"-")) {
			return s, nil
		}
	}
	return nil, errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

// usable is resolve for operations a secret scheduled for deletion refuses.
func (e *Emulator) usable(secretID string) (*secretEntry, *apiError) {
	s, apiErr := e.resolve(secretID)
	if apiErr != nil {
		return nil, apiErr
	}
	if !s.deleted.IsZero() {
		return nil, errOf("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
	}
	return s, nil
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

// secretValue reads and checks SecretString / SecretBinary: one of them,
// within AWS's size limit. Problems are recorded in q.
func secretValue(q *request, required bool) (*string, []byte) {
	str, binText := q.str("SecretString"), q.str("SecretBinary")
	hasStr, hasBin := q.has("SecretString"), q.has("SecretBinary")
	switch {
	case q.err != nil:
		return nil, nil
	case hasStr && hasBin:
		q.fail(errOf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret."))
		return nil, nil
	case !hasStr && !hasBin:
		if required {
			q.fail(errOf("InvalidRequestException", "You must provide either SecretString or SecretBinary."))
		}
		return nil, nil
	case hasStr:
		if len(str) > maxSecretSize {
			q.fail(errOf("InvalidParameterException", "Invalid parameter: SecretString is %d bytes; the maximum is %d.", len(str), maxSecretSize))
			return nil, nil
		}
		return &str, nil
	}
	bin, err := base64.StdEncoding.DecodeString(binText)
	if err != nil {
		q.fail(errOf("SerializationException", "Invalid type for parameter SecretBinary: expected base64-encoded bytes"))
		return nil, nil
	}
	if len(bin) > maxSecretSize {
		q.fail(errOf("InvalidParameterException", "Invalid parameter: SecretBinary is %d bytes; the maximum is %d.", len(bin), maxSecretSize))
		return nil, nil
	}
	return nil, bin
}

// requestToken reads ClientRequestToken: absent, or 32 to 64 characters.
func requestToken(q *request) string {
	tok := q.str("ClientRequestToken")
	if n := len(tok); q.has("ClientRequestToken") && (n < minRequestTokenLength || n > maxRequestTokenLength) {
		q.fail(errOf("InvalidParameterException", "Invalid parameter: ClientRequestToken must be %d to %d characters long.", minRequestTokenLength, maxRequestTokenLength))
	}
	return tok
}

// readTags reads Tags: at most 50, each with a key.
func readTags(q *request) []tag {
	var tags []tag
	q.decode("Tags", &tags)
	if len(tags) > maxTags {
		q.fail(errOf("InvalidParameterException", "Invalid parameter: Tags has %d entries; the maximum is %d.", len(tags), maxTags))
	}
	for _, t := range tags {
		if t.Key == "" {
			q.fail(errOf("InvalidParameterException", "Invalid parameter: a tag's Key must not be empty."))
		}
	}
	return tags
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

type operation func(*Emulator, *request) (any, *apiError)

var operations map[string]operation

func init() {
	operations = map[string]operation{
		"CreateSecret":             (*Emulator).createSecret,
		"DescribeSecret":           (*Emulator).describeSecret,
		"GetSecretValue":           (*Emulator).getSecretValue,
		"PutSecretValue":           (*Emulator).putSecretValue,
		"UpdateSecretVersionStage": (*Emulator).updateSecretVersionStage,
		"ListSecretVersionIds":     (*Emulator).listSecretVersionIDs,
		"ListSecrets":              (*Emulator).listSecrets,
		"RotateSecret":             (*Emulator).rotateSecret,
		"CancelRotateSecret":       (*Emulator).cancelRotateSecret,
		"TagResource":              (*Emulator).tagResource,
		"UntagResource":            (*Emulator).untagResource,
		"DeleteSecret":             (*Emulator).deleteSecret,
		"RestoreSecret":            (*Emulator).restoreSecret,
	}
}

func (e *Emulator) createSecret(q *request) (any, *apiError) {
	name := q.required("Name")
	if len(name) > maxNameLength || !secretNamePattern.MatchString(name) {
		q.fail(errOf("InvalidParameterException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"))
	}
	description := q.str("Description")
	if len(description) > maxDescription {
		q.fail(errOf("InvalidParameterException", "Invalid parameter: Description is %d characters; the maximum is %d.", len(description), maxDescription))
	}
	kmsKeyID := q.str("KmsKeyId")
	str, bin := secretValue(q, false)
	token := requestToken(q)
	tags := readTags(q)
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if s.name == name {
			if !s.deleted.IsZero() {
				return nil, errOf("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
			}
			return nil, errOf("ResourceExistsException", "The operation failed because the secret %s already exists.", name)
		}
	}
	now := e.now()
	s := &secretEntry{
		arn:  "arn:aws:secretsmanager:" + e.region + ":" + e.account + ":secret:" + name + "-" + e.arnSuffix(name),
		name: name, description: description, kmsKeyID: kmsKeyID, tags: tags,
		versions: map[string]*version{}, labels: map[string]string{},
		created: now, changed: now,
	}
	out := map[string]any{"ARN": s.arn, "Name": s.name}
	if str != nil || bin != nil {
		if token == "" {
			token = uuid.NewString()
		}
		s.versions[token] = &version{id: token, str: str, bin: bin, created: now}
		s.labels[StageCurrent] = token
		out["VersionId"] = token
	}
	e.secrets[s.arn] = s
	return out, nil
}

func (e *Emulator) describeSecret(q *request) (any, *apiError) {
	id := q.required("SecretId")
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.resolve(id)
	if apiErr != nil {
		return nil, apiErr
	}
	return e.describe(s), nil
}

// describe is DescribeSecret's answer; ListSecrets reuses it. Callers hold e.mu.
func (e *Emulator) describe(s *secretEntry) map[string]any {
	out := map[string]any{
		"ARN": s.arn, "Name": s.name,
		"CreatedDate": epoch(s.created), "LastChangedDate": epoch(s.changed),
		"RotationEnabled":    s.rotationEnabled,
		"VersionIdsToStages": s.versionIDsToStages(),
	}
	if s.description != "" {
		out["Description"] = s.description
	}
	if s.kmsKeyID != "" {
		out["KmsKeyId"] = s.kmsKeyID
	}
	if len(s.tags) > 0 {
		out["Tags"] = s.tags
	}
	if s.rotationLambdaARN != "" {
		out["RotationLambdaARN"] = s.rotationLambdaARN
	}
	if s.rules != nil {
		out["RotationRules"] = s.rules
	}
	if !s.accessed.IsZero() {
		out["LastAccessedDate"] = epoch(s.accessed.Truncate(24 * time.Hour))
	}
	if !s.rotated.IsZero() {
		out["LastRotatedDate"] = epoch(s.rotated)
		if next, ok := nextRotation(s.rotated, s.rules); ok && s.rotationEnabled {
			out["NextRotationDate"] = epoch(next)
		}
	}
	if !s.deleted.IsZero() {
		out["DeletedDate"] = epoch(s.deleted)
	}
	return out
}

var ratePattern = regexp.MustCompile(`^rate\((\d+) (hours?|days?)\)$`)

// nextRotation is the next rotation date for rate() schedules and
// AutomaticallyAfterDays; cron() schedules are not evaluated (inferred: the
// emulator never rotates on a schedule by itself).
func nextRotation(last time.Time, r *rotationRules) (time.Time, bool) {
	if r == nil {
		return time.Time{}, false
	}
	if r.AutomaticallyAfterDays != nil {
		return last.Add(time.Duration(*r.AutomaticallyAfterDays) * 24 * time.Hour), true
	}
	if r.ScheduleExpression != nil {
		if m := ratePattern.FindStringSubmatch(*r.ScheduleExpression); m != nil {
			var n int64
			for _, c := range m[1] {
				n = n*10 + int64(c-'0')
			}
			unit := 24 * time.Hour
			if strings.HasPrefix(m[2], "hour") {
				unit = time.Hour
			}
			return last.Add(time.Duration(n) * unit), true
		}
	}
	return time.Time{}, false
}

func (e *Emulator) getSecretValue(q *request) (any, *apiError) {
	id := q.required("SecretId")
	versionID := q.str("VersionId")
	stage := q.str("VersionStage")
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.usable(id)
	if apiErr != nil {
		return nil, apiErr
	}
	v, apiErr := s.pick(versionID, stage)
	if apiErr != nil {
		return nil, apiErr
	}
	if !v.hasValue() {
		// The rotation placeholder: a version with no value yet.
		return nil, errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", v.id)
	}
	s.accessed = e.now()
	out := map[string]any{
		"ARN": s.arn, "Name": s.name, "VersionId": v.id,
		"VersionStages": s.stagesOf(v.id), "CreatedDate": epoch(v.created),
	}
	if v.str != nil {
		out["SecretString"] = *v.str
	} else {
		out["SecretBinary"] = base64.StdEncoding.EncodeToString(v.bin)
	}
	return out, nil
}

// pick selects a version by id and/or stage; with neither, AWSCURRENT.
func (s *secretEntry) pick(versionID, stage string) (*version, *apiError) {
	if versionID == "" && stage == "" {
		stage = StageCurrent
	}
	if versionID != "" {
		v, ok := s.versions[versionID]
		if !ok {
			return nil, errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
		}
		if stage != "" && s.labels[stage] != versionID {
			// Both given but not the same version (message inferred).
			return nil, errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s and staging label: %s", versionID, stage)
		}
		return v, nil
	}
	id, ok := s.labels[stage]
	if !ok {
		return nil, errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
	}
	return s.versions[id], nil
}

func (e *Emulator) putSecretValue(q *request) (any, *apiError) {
	id := q.required("SecretId")
	str, bin := secretValue(q, true)
	token := requestToken(q)
	stages := q.strings("VersionStages")
	if !q.has("VersionStages") {
		stages = []string{StageCurrent}
	}
	q.str("RotationToken")
	for _, st := range stages {
		if st == "" || len(st) > 256 {
			q.fail(errOf("InvalidParameterException", "Invalid parameter: VersionStages entries must be 1 to 256 characters long."))
		}
	}
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.usable(id)
	if apiErr != nil {
		return nil, apiErr
	}
	if token == "" {
		token = uuid.NewString()
	}
	now := e.now()
	if v, exists := s.versions[token]; exists && v.hasValue() {
		if !sameValue(v, str, bin) {
			return nil, errOf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		// Same token, same value: a retry; nothing changes.
		return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": token, "VersionStages": s.stagesOf(token)}, nil
	} else if exists {
		// The rotation placeholder receives its value.
		v.str, v.bin = str, bin
	} else {
		s.versions[token] = &version{id: token, str: str, bin: bin, created: now}
	}
	for _, st := range stages {
		s.moveLabel(st, token)
	}
	s.changed = now
	return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": token, "VersionStages": s.stagesOf(token)}, nil
}

func sameValue(v *version, str *string, bin []byte) bool {
	if v.str != nil || str != nil {
		return v.str != nil && str != nil && *v.str == *str
	}
	return bytes.Equal(v.bin, bin)
}

func (e *Emulator) updateSecretVersionStage(q *request) (any, *apiError) {
	id := q.required("SecretId")
	stage := q.required("VersionStage")
	moveTo := q.str("MoveToVersionId")
	removeFrom := q.str("RemoveFromVersionId")
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.usable(id)
	if apiErr != nil {
		return nil, apiErr
	}
	holder, held := s.labels[stage]
	if moveTo != "" {
		if _, ok := s.versions[moveTo]; !ok {
			return nil, errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", moveTo)
		}
	}
	if removeFrom != "" {
		if _, ok := s.versions[removeFrom]; !ok {
			return nil, errOf("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", removeFrom)
		}
		if !held || holder != removeFrom {
			return nil, errOf("InvalidParameterException", "The staging label %s is not attached to the version %s, so it can't be removed from it.", stage, removeFrom)
		}
	}
	switch {
	case moveTo == "" && removeFrom == "":
		return nil, errOf("InvalidParameterException", "Invalid parameter: specify MoveToVersionId, RemoveFromVersionId, or both.")
	case moveTo != "" && held && holder != moveTo && removeFrom != holder:
		return nil, errOf("InvalidParameterException", "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", stage, holder)
	case moveTo == "" && stage == StageCurrent:
		return nil, errOf("InvalidParameterException", "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.")
	}
	if moveTo != "" {
		s.moveLabel(stage, moveTo)
	} else {
		delete(s.labels, stage)
	}
	s.changed = e.now()
	return map[string]any{"ARN": s.arn, "Name": s.name}, nil
}

func (e *Emulator) listSecretVersionIDs(q *request) (any, *apiError) {
	id := q.required("SecretId")
	all := q.boolean("IncludeDeprecated")
	q.integer("MaxResults")
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.usable(id)
	if apiErr != nil {
		return nil, apiErr
	}
	versions := []map[string]any{}
	for _, v := range s.sortedVersions() {
		stages := s.stagesOf(v.id)
		if len(stages) == 0 && (all == nil || !*all) {
			continue
		}
		entry := map[string]any{"VersionId": v.id, "CreatedDate": epoch(v.created)}
		if len(stages) > 0 {
			entry["VersionStages"] = stages
		}
		versions = append(versions, entry)
	}
	return map[string]any{"ARN": s.arn, "Name": s.name, "Versions": versions}, nil
}

func (s *secretEntry) sortedVersions() []*version {
	out := make([]*version, 0, len(s.versions))
	for _, v := range s.versions {
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].id < out[j].id
	})
	return out
}

type filter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

func (e *Emulator) listSecrets(q *request) (any, *apiError) {
	var filters []filter
	q.decode("Filters", &filters)
	for _, f := range filters {
		switch f.Key {
		case "name", "description", "tag-key", "tag-value", "all":
		default:
			q.fail(errOf("InvalidParameterException", "Invalid parameter: filter key %q is not supported (name, description, tag-key, tag-value, all).", f.Key))
		}
	}
	planned := q.boolean("IncludePlannedDeletion")
	q.integer("MaxResults")
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	list := []map[string]any{}
	var arns []string
	for arn := range e.secrets {
		arns = append(arns, arn)
	}
	sort.Strings(arns)
	for _, arn := range arns {
		s := e.secrets[arn]
		if !s.deleted.IsZero() && (planned == nil || !*planned) {
			continue
		}
		if !matchesAll(s, filters) {
			continue
		}
		d := e.describe(s)
		d["SecretVersionsToStages"] = d["VersionIdsToStages"]
		delete(d, "VersionIdsToStages")
		list = append(list, d)
	}
	return map[string]any{"SecretList": list}, nil
}

// matchesAll applies ListSecrets filters: every filter must match; within
// one, any value; a value matches as a prefix, and "!" negates it.
func matchesAll(s *secretEntry, filters []filter) bool {
	for _, f := range filters {
		var fields []string
		switch f.Key {
		case "name":
			fields = []string{s.name}
		case "description":
			fields = []string{s.description}
		case "tag-key":
			for _, t := range s.tags {
				fields = append(fields, t.Key)
			}
		case "tag-value":
			for _, t := range s.tags {
				fields = append(fields, t.Value)
			}
		case "all":
			fields = []string{s.name, s.description}
			for _, t := range s.tags {
				fields = append(fields, t.Key, t.Value)
			}
		}
		ok := false
		for _, want := range f.Values {
			negate := strings.HasPrefix(want, "!")
			want = strings.TrimPrefix(want, "!")
			hit := slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, want) })
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

func (e *Emulator) tagResource(q *request) (any, *apiError) {
	id := q.required("SecretId")
	if !q.has("Tags") {
		q.fail(errOf("InvalidParameterException", "Invalid parameter: Tags is required."))
	}
	tags := readTags(q)
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.usable(id)
	if apiErr != nil {
		return nil, apiErr
	}
	merged := mergeTags(slices.Clone(s.tags), tags)
	if len(merged) > maxTags {
		return nil, errOf("InvalidParameterException", "Invalid parameter: a secret holds at most %d tags.", maxTags)
	}
	s.tags = merged
	return map[string]any{}, nil
}

func (e *Emulator) untagResource(q *request) (any, *apiError) {
	id := q.required("SecretId")
	keys := q.strings("TagKeys")
	if !q.has("TagKeys") {
		q.fail(errOf("InvalidParameterException", "Invalid parameter: TagKeys is required."))
	}
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.usable(id)
	if apiErr != nil {
		return nil, apiErr
	}
	s.tags = slices.DeleteFunc(s.tags, func(t tag) bool { return slices.Contains(keys, t.Key) })
	return map[string]any{}, nil
}

func (e *Emulator) deleteSecret(q *request) (any, *apiError) {
	id := q.required("SecretId")
	window := q.integer("RecoveryWindowInDays")
	force := q.boolean("ForceDeleteWithoutRecovery")
	forced := force != nil && *force
	if window != nil && forced {
		q.fail(errOf("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."))
	}
	days := int64(30)
	if window != nil {
		if *window < 7 || *window > 30 {
			q.fail(errOf("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."))
		}
		days = *window
	}
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.resolve(id)
	if apiErr != nil {
		return nil, apiErr
	}
	now := e.now()
	if forced {
		delete(e.secrets, s.arn)
		return map[string]any{"ARN": s.arn, "Name": s.name, "DeletionDate": epoch(now)}, nil
	}
	if !s.deleted.IsZero() {
		return nil, errOf("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
	}
	s.deleted = now
	return map[string]any{"ARN": s.arn, "Name": s.name, "DeletionDate": epoch(now.Add(time.Duration(days) * 24 * time.Hour))}, nil
}

func (e *Emulator) restoreSecret(q *request) (any, *apiError) {
	id := q.required("SecretId")
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.resolve(id)
	if apiErr != nil {
		return nil, apiErr
	}
	s.deleted = time.Time{}
	return map[string]any{"ARN": s.arn, "Name": s.name}, nil
}
