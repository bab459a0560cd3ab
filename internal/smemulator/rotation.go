package smemulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"
)

// Rotation outcomes, as CloudTrail names them.
const (
	RotationStarted   = "RotationStarted"
	RotationSucceeded = "RotationSucceeded"
	RotationFailed    = "RotationFailed"
	RotationAbandoned = "RotationAbandoned"
)

// The rotation steps, in the order Secrets Manager invokes them.
var rotationSteps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// StepResult is one invocation of the rotation function.
type StepResult struct {
	SecretARN string `json:"secret_arn"`
	VersionID string `json:"version_id"`
	Attempt   int    `json:"attempt"`
	Step      string `json:"step"`
	Error     string `json:"error,omitempty"`
}

// RotationAttempt is one run of the rotation sequence, as the rotation log
// records it.
type RotationAttempt struct {
	SecretARN  string    `json:"secret_arn"`
	VersionID  string    `json:"version_id"`
	Attempt    int       `json:"attempt"`
	Steps      []string  `json:"steps"`
	Outcome    string    `json:"outcome"`
	FailedStep string    `json:"failed_step,omitempty"`
	Error      string    `json:"error,omitempty"`
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended,omitzero"`
}

// Rotations returns the rotation log, oldest attempt first.
func (e *Emulator) Rotations() []RotationAttempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]RotationAttempt, 0, len(e.rotations))
	for _, a := range e.rotations {
		c := *a
		c.Steps = slices.Clone(a.Steps)
		out = append(out, c)
	}
	return out
}

// RotationTokensSent lists the RotationToken of every rotation started,
// so tests can recognise it wherever it turns up.
func (e *Emulator) RotationTokensSent() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.rotationTokens)
}

// WaitIdle waits until no background rotation is running, or ctx ends.
func (e *Emulator) WaitIdle(ctx context.Context) error {
	done := make(chan struct{})
	go func() { e.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	schedulePattern = regexp.MustCompile(`^(rate\(\d+ (hours?|days?)\)|cron\(.+\))$`)
	durationPattern = regexp.MustCompile(`^\d+h$`)
)

func (e *Emulator) rotateSecret(q *request) (any, *apiError) {
	id := q.required("SecretId")
	token := requestToken(q)
	lambdaARN := q.str("RotationLambdaARN")
	var rules *rotationRules
	if q.has("RotationRules") {
		rules = new(rotationRules)
		q.decode("RotationRules", rules)
		if apiErr := validateRules(rules); apiErr != nil {
			q.fail(apiErr)
		}
	}
	immediately := q.boolean("RotateImmediately")
	now := true
	if immediately != nil {
		now = *immediately
	}
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	s, apiErr := e.usable(id)
	if apiErr != nil {
		e.mu.Unlock()
		return nil, apiErr
	}
	if lambdaARN == "" {
		lambdaARN = s.rotationLambdaARN
	}
	if lambdaARN == "" {
		e.mu.Unlock()
		return nil, errOf("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
	}
	fn, registered := e.functions[lambdaARN]
	if !registered {
		e.mu.Unlock()
		// AWS answers AccessDeniedException when it cannot invoke the
		// function; the local stack adds why.
		return nil, errOf("AccessDeniedException", "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com. (local stack: no function is registered under %s)", lambdaARN)
	}
	if pending, ok := s.labels[StagePending]; ok && pending != s.labels[StageCurrent] {
		e.mu.Unlock()
		return nil, errOf("InvalidRequestException", "A previous rotation isn't complete. That rotation will be reattempted.")
	}
	if _, ok := s.labels[StageCurrent]; !ok {
		e.mu.Unlock()
		return nil, errOf("InvalidRequestException", "You can't rotate a secret that has no AWSCURRENT version.")
	}
	if token == "" {
		token = uuid.NewString()
	}
	if _, exists := s.versions[token]; exists {
		e.mu.Unlock()
		return nil, errOf("ResourceExistsException", "A version with ClientRequestToken %s already exists.", token)
	}
	s.rotationLambdaARN = lambdaARN
	if rules != nil {
		s.rules = rules
	}
	s.rotationEnabled = true
	s.versions[token] = &version{id: token, created: e.now()}
	s.labels[StagePending] = token
	rotationToken := newRotationToken()
	e.rotationTokens = append(e.rotationTokens, rotationToken)
	job := rotationJob{secretARN: s.arn, version: token, rotationToken: rotationToken, fn: fn, configTest: !now}
	e.running.Add(1)
	e.mu.Unlock()

	if e.background {
		go e.rotate(job)
	} else {
		e.rotate(job)
	}
	return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": token}, nil
}

func validateRules(r *rotationRules) *apiError {
	if r.AutomaticallyAfterDays != nil && r.ScheduleExpression != nil {
		return errOf("InvalidParameterException", "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.")
	}
	if r.AutomaticallyAfterDays != nil && (*r.AutomaticallyAfterDays < 1 || *r.AutomaticallyAfterDays > 1000) {
		return errOf("InvalidParameterException", "Invalid parameter: RotationRules.AutomaticallyAfterDays must be between 1 and 1000.")
	}
	if r.ScheduleExpression != nil && !schedulePattern.MatchString(*r.ScheduleExpression) {
		return errOf("InvalidParameterException", "Invalid parameter: RotationRules.ScheduleExpression must be rate(N hours|days) or cron(...).")
	}
	if r.Duration != nil && !durationPattern.MatchString(*r.Duration) {
		return errOf("InvalidParameterException", "Invalid parameter: RotationRules.Duration must be a number of hours such as 3h.")
	}
	return nil
}

// newRotationToken is an opaque, random value, as AWS sends in the event.
func newRotationToken() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type rotationJob struct {
	secretARN, version, rotationToken string
	fn                                Invoker
	configTest                        bool
}

// rotate runs the rotation: every step in order, the whole sequence again
// on a failure, up to maxAttempts, with the same token. The emulator's lock
// is never held while the function runs, since the function calls back.
func (e *Emulator) rotate(job rotationJob) {
	defer e.running.Done()
	steps := rotationSteps
	attempts := e.maxAttempts
	if job.configTest {
		// RotateImmediately=false: Secrets Manager only tests the
		// configuration, once, on an empty AWSPENDING version.
		steps, attempts = []string{"testSecret"}, 1
	}
	for attempt := 1; attempt <= attempts; attempt++ {
		a := e.logAttempt(RotationAttempt{SecretARN: job.secretARN, VersionID: job.version, Attempt: attempt, Outcome: RotationStarted, Started: e.now()})
		var failedStep string
		var failure error
		for _, step := range steps {
			err := e.invoke(job, step)
			e.mu.Lock()
			a.Steps = append(a.Steps, step)
			e.mu.Unlock()
			result := StepResult{SecretARN: job.secretARN, VersionID: job.version, Attempt: attempt, Step: step}
			if err != nil {
				result.Error = err.Error()
			}
			if e.stepHook != nil {
				e.stepHook(result)
			}
			if err != nil {
				failedStep, failure = step, err
				break
			}
		}

		e.mu.Lock()
		a.Ended = e.now()
		switch {
		case failure == nil:
			a.Outcome = RotationSucceeded
			e.finishRotation(job)
		case attempt == attempts:
			a.Outcome, a.FailedStep, a.Error = RotationAbandoned, failedStep, failure.Error()
			if job.configTest {
				e.dropPlaceholder(job)
			}
		default:
			a.Outcome, a.FailedStep, a.Error = RotationFailed, failedStep, failure.Error()
		}
		done := *a
		done.Steps = slices.Clone(a.Steps)
		e.mu.Unlock()
		if e.attemptHook != nil {
			e.attemptHook(done)
		}
		if failure == nil {
			return
		}
	}
}

// logAttempt records an attempt; the caller updates it under e.mu.
func (e *Emulator) logAttempt(a RotationAttempt) *RotationAttempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rotations = append(e.rotations, &a)
	return &a
}

// finishRotation tidies up after a successful rotation. Callers hold e.mu.
func (e *Emulator) finishRotation(job rotationJob) {
	s, ok := e.secrets[job.secretARN]
	if !ok {
		return
	}
	if job.configTest {
		e.dropPlaceholder(job)
		return
	}
	if s.labels[StagePending] == s.labels[StageCurrent] {
		delete(s.labels, StagePending)
	}
	s.rotated = e.now()
}

// dropPlaceholder removes a configuration test's empty version. Callers
// hold e.mu.
func (e *Emulator) dropPlaceholder(job rotationJob) {
	s, ok := e.secrets[job.secretARN]
	if !ok {
		return
	}
	if s.labels[StagePending] == job.version {
		delete(s.labels, StagePending)
	}
	if v, ok := s.versions[job.version]; ok && !v.hasValue() {
		delete(s.versions, job.version)
	}
}

// invoke runs one step as Lambda would: the event as JSON bytes, a
// deadline, and a Lambda context with a fresh request id.
func (e *Emulator) invoke(job rotationJob, step string) error {
	payload, err := json.Marshal(map[string]string{
		"Step": step, "SecretId": job.secretARN,
		"ClientRequestToken": job.version, "RotationToken": job.rotationToken,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.functionTimeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       uuid.NewString(),
		InvokedFunctionArn: e.functionARN(job.secretARN),
	})
	_, err = job.fn.Invoke(ctx, payload)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		//lint:ignore ST1005 Lambda's own message, word for word
		return fmt.Errorf("Task timed out after %.2f seconds", e.functionTimeout.Seconds())
	}
	return err
}

func (e *Emulator) functionARN(secretARN string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.secrets[secretARN]; ok {
		return s.rotationLambdaARN
	}
	return ""
}

func (e *Emulator) cancelRotateSecret(q *request) (any, *apiError) {
	id := q.required("SecretId")
	if q.err != nil {
		return nil, q.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.usable(id)
	if apiErr != nil {
		return nil, apiErr
	}
	// AWS turns rotation off and leaves the labels as they are: removing
	// AWSPENDING from a half-rotated version is the user's job.
	s.rotationEnabled = false
	out := map[string]any{"ARN": s.arn, "Name": s.name}
	if pending, ok := s.labels[StagePending]; ok {
		out["VersionId"] = pending
	}
	return out, nil
}

// Version is a secret version as the emulator holds it.
type Version struct {
	VersionID    string
	SecretString string
	HasValue     bool
	Stages       []string
}

// Versions lists a secret's versions, oldest first, without counting as a
// call: tests read state through it.
func (e *Emulator) Versions(secretID string) []Version {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.resolve(secretID)
	if apiErr != nil {
		return nil
	}
	var out []Version
	for _, v := range s.sortedVersions() {
		out = append(out, s.view(v))
	}
	return out
}

// VersionByStage is the version carrying stage, if any.
func (e *Emulator) VersionByStage(secretID, stage string) (Version, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.resolve(secretID)
	if apiErr != nil {
		return Version{}, false
	}
	id, ok := s.labels[stage]
	if !ok {
		return Version{}, false
	}
	return s.view(s.versions[id]), true
}

func (s *secretEntry) view(v *version) Version {
	out := Version{VersionID: v.id, HasValue: v.hasValue(), Stages: s.stagesOf(v.id)}
	if v.str != nil {
		out.SecretString = *v.str
	}
	return out
}
