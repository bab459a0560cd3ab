package smemulator

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"
)

// Rotation outcomes in the rotation log. All but AttemptFailed are
// CloudTrail's names for Secrets Manager's rotation events, with their
// meanings (AWS's "Log AWS Secrets Manager events with AWS CloudTrail").
//
// RotationAbandoned is not the end of an attempt but an entry of its own
// (abandonRotation).
const (
	// RotationStarted: an attempt of a rotation is running.
	RotationStarted = "RotationStarted"
	// RotationSucceeded: the rotation's steps all passed.
	RotationSucceeded = "RotationSucceeded"
	// RotationFailed: the rotation failed and Secrets Manager gave up: the
	// last attempt failed, or the rotation was cancelled (CancelRotateSecret,
	// a newer RotateSecret, DeleteSecret) after a failed attempt or during
	// one. AWSPENDING stays where it is. (Which event AWS records for a
	// cancelled rotation is not documented: RotationFailed is inferred.)
	RotationFailed = "RotationFailed"
	// AttemptFailed is the emulator's own, not a CloudTrail event: an
	// attempt failed and another, with the same tokens, follows.
	AttemptFailed = "AttemptFailed"
	// The configuration test of RotateSecret with RotateImmediately=false
	// (testSecret alone, on a throwaway AWSPENDING version) has events of
	// its own: started, succeeded, failed.
	TestRotationStarted   = "TestRotationStarted"
	TestRotationSucceeded = "TestRotationSucceeded"
	TestRotationFailed    = "TestRotationFailed"
	// RotationAbandoned: a version created by hand (UpdateSecret with a
	// value, PutSecretValue making a new AWSCURRENT) while a rotation's
	// AWSPENDING sat on another version; Secrets Manager removed AWSPENDING
	// from that version so that future rotations can succeed. The entry
	// names the abandoned version; it is no attempt (Attempt 0, no steps,
	// Started = Ended).
	RotationAbandoned = "RotationAbandoned"
)

// outcomeNames names the started, succeeded and failed outcomes of a rotation
// or of a configuration test.
func outcomeNames(configTest bool) (started, succeeded, failed string) {
	if configTest {
		return TestRotationStarted, TestRotationSucceeded, TestRotationFailed
	}
	return RotationStarted, RotationSucceeded, RotationFailed
}

// The rotation steps, in the order Secrets Manager invokes them.
var rotationSteps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// StepResult is one invocation of the rotation function.
type StepResult struct {
	SecretARN string `json:"secret_arn"`
	VersionID string `json:"version_id"`
	Attempt   int    `json:"attempt"`
	Step      string `json:"step"`
	// Error is the function's error message; empty when the step passed.
	Error string `json:"error,omitempty"`
}

// RotationAttempt is one run of the rotation sequence, as the rotation log
// records it.
type RotationAttempt struct {
	SecretARN string `json:"secret_arn"`
	VersionID string `json:"version_id"`
	Attempt   int    `json:"attempt"`
	// Steps are the steps invoked so far, the failing one included.
	Steps []string `json:"steps"`
	// Outcome is RotationStarted while the attempt runs, then
	// RotationSucceeded, AttemptFailed (another attempt follows) or
	// RotationFailed (the last attempt failed: Secrets Manager gave up).
	// A configuration test (RotateImmediately=false) is one attempt:
	// TestRotationStarted, then TestRotationSucceeded or TestRotationFailed.
	// RotationAbandoned marks no attempt but a rotation abandoned for a
	// version made by hand (Attempt 0, no steps).
	Outcome    string `json:"outcome"`
	FailedStep string `json:"failed_step,omitempty"`
	// Error is the failing step's error message, as the function gave it.
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
}

func (a *RotationAttempt) clone() RotationAttempt {
	c := *a
	c.Steps = slices.Clone(a.Steps)
	if c.Steps == nil {
		c.Steps = []string{}
	}
	return c
}

// Rotations returns the rotation log, oldest attempt first.
func (e *Emulator) Rotations() []RotationAttempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]RotationAttempt, 0, len(e.rotations))
	for _, a := range e.rotations {
		out = append(out, a.clone())
	}
	return out
}

// RotationTokensSent lists the RotationToken of every rotation started,
// so tests can recognise it wherever it turns up (a log line, say).
func (e *Emulator) RotationTokensSent() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.rotationTokens)
}

// WaitIdle waits until no rotation is running, or ctx ends.
func (e *Emulator) WaitIdle(ctx context.Context) error {
	e.mu.Lock()
	if e.running == 0 {
		e.mu.Unlock()
		return nil
	}
	idle := e.idle
	e.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	schedulePattern = regexp.MustCompile(`^[0-9A-Za-z\(\)#\?\*\-\/, ]+$`)
	durationPattern = regexp.MustCompile(`^[0-9]+h$`)
	scheduleForm    = regexp.MustCompile(`^(rate\(\d+ (hours?|days?)\)|cron\(.+\))$`)
)

// readRules reads RotationRules with the model's constraints, then the
// service's own.
func readRules(q *request) *rotationRules {
	if !q.has("RotationRules") {
		return nil
	}
	r := new(rotationRules)
	if !q.read("RotationRules", "a {AutomaticallyAfterDays, Duration, ScheduleExpression} object", r) {
		return nil
	}
	if r.AutomaticallyAfterDays != nil {
		q.rangeCheck("rotationRules.automaticallyAfterDays", *r.AutomaticallyAfterDays, 1, 1000)
	}
	if r.Duration != nil {
		q.length("rotationRules.duration", len(*r.Duration), 2, 3)
		q.pattern("rotationRules.duration", *r.Duration, durationPattern)
	}
	if r.ScheduleExpression != nil {
		q.length("rotationRules.scheduleExpression", len(*r.ScheduleExpression), 1, 256)
		q.pattern("rotationRules.scheduleExpression", *r.ScheduleExpression, schedulePattern)
	}
	switch {
	case r.AutomaticallyAfterDays != nil && r.ScheduleExpression != nil:
		// AWS documents the exclusion; the words are inferred (moto's).
		q.fail(errOf("InvalidParameterException", "You cannot specify both rotation frequency and schedule expression together."))
	case r.ScheduleExpression != nil && !scheduleForm.MatchString(*r.ScheduleExpression):
		// Inferred wording.
		q.fail(errOf("InvalidParameterException", "Invalid parameter: ScheduleExpression must be rate(N hours), rate(N days) or cron(...)."))
	case r.ScheduleExpression != nil:
		if m := ratePattern.FindStringSubmatch(*r.ScheduleExpression); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n < 1 || (strings.HasPrefix(m[2], "hour") && n < 4) {
				// "You can rotate a secret as often as every four hours."
				// Inferred wording.
				q.fail(errOf("InvalidParameterException", "Invalid parameter: ScheduleExpression can't rotate more often than every 4 hours."))
			}
		}
	}
	return r
}

func (e *Emulator) rotateSecret(q *request) (any, *apiError) {
	id := q.secretID()
	token := q.clientToken()
	lambdaARN := q.text("RotationLambdaARN", false, 0, maxARNLength)
	rules := readRules(q)
	immediately := q.boolean("RotateImmediately")
	configTest := immediately != nil && !*immediately

	var (
		job   *rotationJob
		first *RotationAttempt
	)
	out, apiErr := e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		if lambdaARN == "" {
			lambdaARN = s.rotationLambdaARN
		}
		if lambdaARN == "" {
			// AWS documents the case under InvalidRequestException; the words
			// are inferred.
			return nil, errOf("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
		}
		if pending, ok := s.labels[StagePending]; ok && pending != s.labels[StageCurrent] {
			return nil, errOf("InvalidRequestException", "A previous rotation isn't complete. That rotation will be reattempted.")
		}
		if _, ok := s.labels[StageCurrent]; !ok {
			// Inferred: nothing to rotate from; AWS's own function would fail
			// at createSecret instead.
			return nil, errOf("InvalidRequestException", "You can't rotate a secret that has no AWSCURRENT version.")
		}
		fn, registered := e.functions[lambdaARN]
		if !registered {
			// AWS answers AccessDeniedException, recorded word for word, when
			// it cannot invoke the function (missing, or its policy does not
			// let Secrets Manager in); nothing is stored. The local stack adds
			// why.
			return nil, errOf("AccessDeniedException", "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com. (local stack: no function is registered for %s)", lambdaARN)
		}
		if token == "" {
			token = uuid.NewString() // the SDK and the CLI always send one
		}
		if _, exists := s.versions[token]; exists {
			// Inferred: a ClientRequestToken names a new version; reusing one
			// would rotate onto a version that already exists.
			return nil, errOf("ResourceExistsException", "A version with this ClientRequestToken already exists.")
		}

		now := e.now()
		s.rotationLambdaARN = lambdaARN
		if rules != nil {
			s.rules = rules
		}
		s.rotationConfigured, s.rotationEnabled, s.rotationSince = true, true, now
		s.rotationGen++
		s.stopReason = ""
		s.changed = now
		s.addVersion(&version{id: token, created: now})
		s.labels[StagePending] = token // taken from the current version if it still had it
		job = &rotationJob{
			secretARN: s.arn, version: token, lambdaARN: lambdaARN,
			rotationToken: newRotationToken(), fn: fn, configTest: configTest, gen: s.rotationGen,
		}
		e.rotationTokens = append(e.rotationTokens, job.rotationToken)
		// The first attempt is in the log before RotateSecret answers.
		started, _, _ := outcomeNames(configTest)
		first = &RotationAttempt{SecretARN: s.arn, VersionID: token, Attempt: 1, Outcome: started, Started: now}
		e.rotations = append(e.rotations, first)
		if e.running == 0 {
			e.idle = make(chan struct{})
		}
		e.running++
		return versionAnswer{ARN: s.arn, Name: s.name, VersionID: token}, nil
	})
	if apiErr != nil {
		return nil, apiErr
	}

	// The lock is released: the function calls back into the emulator.
	if e.background {
		go e.rotate(job, first)
	} else {
		e.rotate(job, first)
	}
	return out, nil
}

// newRotationToken is an opaque random value, fresh for each rotation and
// shaped as the model requires it back in PutSecretValue (36 to 256 of
// [a-zA-Z0-9-]).
func newRotationToken() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

type rotationJob struct {
	secretARN, version, lambdaARN, rotationToken string
	fn                                           Invoker
	configTest                                   bool
	gen                                          int
}

// rotate runs the rotation: every step in order, the whole sequence again
// after a failure, up to maxAttempts, with the same token and rotation
// token. The emulator's lock is never held while the function runs: it
// calls back into this emulator.
func (e *Emulator) rotate(job *rotationJob, first *RotationAttempt) {
	defer e.endRotation()
	steps, attempts := rotationSteps, e.maxAttempts
	if job.configTest {
		// RotateImmediately=false: Secrets Manager only tests the
		// configuration, with testSecret, on an empty AWSPENDING version
		// that it removes afterwards. One attempt (inferred).
		steps, attempts = []string{"testSecret"}, 1
	}
	started, succeeded, failed := outcomeNames(job.configTest)
	a := first
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			e.mu.Lock()
			if e.cancelledLocked(job) {
				// Cancelled between attempts: the failed attempt was the
				// last one, and the rotation failed.
				a.Outcome = failed
				e.mu.Unlock()
				return
			}
			a = &RotationAttempt{SecretARN: job.secretARN, VersionID: job.version, Attempt: attempt, Outcome: started, Started: e.now()}
			e.rotations = append(e.rotations, a)
			e.mu.Unlock()
		}
		var failedStep, failure string
		for _, step := range steps {
			if reason, stopped := e.stopped(job); stopped {
				failure = reason
				break
			}
			err := e.invoke(job, step)
			result := StepResult{SecretARN: job.secretARN, VersionID: job.version, Attempt: attempt, Step: step}
			e.mu.Lock()
			a.Steps = append(a.Steps, step)
			e.mu.Unlock()
			if err != nil {
				result.Error = err.Error()
				failedStep, failure = step, err.Error()
			}
			if e.stepHook != nil {
				e.stepHook(result)
			}
			if err != nil {
				break
			}
		}

		e.mu.Lock()
		a.Ended = e.now()
		more := failure != "" && attempt < attempts && !e.cancelledLocked(job)
		switch {
		case failure == "":
			a.Outcome = succeeded
			e.finishRotation(job)
		case more:
			a.Outcome, a.FailedStep, a.Error = AttemptFailed, failedStep, failure
		default:
			// Given up: AWSPENDING stays where it is.
			a.Outcome, a.FailedStep, a.Error = failed, failedStep, failure
			if job.configTest {
				e.dropPlaceholder(job)
			}
		}
		done := a.clone()
		e.mu.Unlock()
		if e.attemptHook != nil {
			e.attemptHook(done)
		}
		if !more {
			return
		}
	}
}

func (e *Emulator) endRotation() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.running--
	if e.running == 0 {
		close(e.idle)
	}
}

// stopped says whether the job's rotation was cancelled, superseded or
// abandoned, and why.
func (e *Emulator) stopped(job *rotationJob) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.cancelledLocked(job) {
		return "", false
	}
	if s, ok := e.secrets[job.secretARN]; ok && s.stopReason != "" {
		return s.stopReason, true
	}
	return "The rotation was cancelled by CancelRotateSecret.", true
}

// cancelledLocked says whether the job's rotation was cancelled or
// superseded, or its secret deleted. Callers hold e.mu.
func (e *Emulator) cancelledLocked(job *rotationJob) bool {
	s, ok := e.secrets[job.secretARN]
	return !ok || s.rotationGen != job.gen || !s.deleted.IsZero()
}

// finishRotation tidies up after a successful rotation: AWSPENDING leaves
// the new current version, and LastRotatedDate is set. Callers hold e.mu.
func (e *Emulator) finishRotation(job *rotationJob) {
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
	e.changed(s)
}

// dropPlaceholder removes a configuration test's empty version. Callers
// hold e.mu.
func (e *Emulator) dropPlaceholder(job *rotationJob) {
	s, ok := e.secrets[job.secretARN]
	if !ok {
		return
	}
	if s.labels[StagePending] == job.version {
		delete(s.labels, StagePending)
	}
	if v, ok := s.versions[job.version]; ok && !v.hasValue() && len(s.stagesOf(job.version)) == 0 {
		s.dropVersion(job.version)
	}
	e.changed(s)
}

// invoke runs one step as Lambda runs a synchronous invocation (Run).
func (e *Emulator) invoke(job *rotationJob, step string) error {
	payload, err := json.Marshal(struct {
		Step               string `json:"Step"`
		SecretID           string `json:"SecretId"`
		ClientRequestToken string `json:"ClientRequestToken"`
		RotationToken      string `json:"RotationToken"`
	}{step, job.secretARN, job.version, job.rotationToken})
	if err != nil {
		return err
	}
	_, err = Run(job.fn, job.lambdaARN, payload, e.functionTimeout)
	return err
}

// TimeoutError is an invocation that outlived its deadline; its text is
// Lambda's own message.
type TimeoutError struct{ Timeout time.Duration }

func (t *TimeoutError) Error() string {
	return fmt.Sprintf("Task timed out after %.2f seconds", t.Timeout.Seconds())
}

// PanicError is an invocation that panicked; its text is the panic value.
type PanicError struct{ Value any }

func (p *PanicError) Error() string { return fmt.Sprintf("%v", p.Value) }

// Run invokes fn once as Lambda runs a synchronous invocation: the event
// as JSON bytes, a deadline timeout away, a Lambda context with a fresh
// request id and functionARN. It returns the function's result or its
// error; a function that outlives its deadline is abandoned with a
// *TimeoutError, a panic is a *PanicError. Each call is independent.
func Run(fn Invoker, functionARN string, payload []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       uuid.NewString(),
		InvokedFunctionArn: functionARN,
	})
	type answer struct {
		out []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- answer{err: &PanicError{Value: p}}
			}
		}()
		out, err := fn.Invoke(ctx, payload)
		done <- answer{out, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, &TimeoutError{Timeout: timeout}
	}
	return a.out, a.err
}

func (e *Emulator) cancelRotateSecret(q *request) (any, *apiError) {
	id := q.secretID()
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		// AWS turns rotation off and cancels a rotation in progress (no
		// further steps or attempts here), but leaves the labels as they are:
		// "You might need to remove the staging label AWSPENDING from the
		// partially created version." Function and rules stay configured.
		s.rotationEnabled = false
		s.rotationGen++
		s.stopReason = ""
		s.changed = e.now()
		out := versionAnswer{ARN: s.arn, Name: s.name}
		if pending, ok := s.labels[StagePending]; ok && pending != s.labels[StageCurrent] {
			// "The unique identifier of the version of the secret created
			// during the rotation."
			out.VersionID = pending
		}
		return out, nil
	})
}

// Version is a secret version as the emulator holds it.
type Version struct {
	VersionID    string
	SecretString string
	HasValue     bool
	Stages       []string
	Created      time.Time // CreatedDate, by the emulator's clock
}

// Versions lists a secret's versions, oldest first, without counting as a
// call: tests read state through it.
func (e *Emulator) Versions(secretID string) []Version {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.catchUp()
	s, apiErr := e.resolve(secretID)
	if apiErr != nil {
		return nil
	}
	var out []Version
	for _, id := range s.order {
		out = append(out, s.view(s.versions[id]))
	}
	return out
}

// VersionByStage is the version carrying stage, if any.
func (e *Emulator) VersionByStage(secretID, stage string) (Version, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.catchUp()
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
	out := Version{VersionID: v.id, HasValue: v.hasValue(), Stages: s.stagesOf(v.id), Created: v.created}
	if v.str != nil {
		out.SecretString = *v.str
	}
	return out
}

// AgeVersion backdates a version so that it looks age old by the
// emulator's clock: its CreatedDate becomes Now() - age. The version is
// named by id or, with versionID empty, by the stage it carries (a stuck
// rotation's AWSPENDING, say). Nothing else changes and no call is
// counted: it is a test's way to a version older than the emulator has
// been running.
func (e *Emulator) AgeVersion(secretID, versionID, stage string, age time.Duration) (Version, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.resolve(secretID)
	if apiErr != nil {
		return Version{}, apiErr
	}
	if versionID == "" {
		id, ok := s.labels[stage]
		if !ok {
			return Version{}, fmt.Errorf("no version carries the stage %q", stage)
		}
		versionID = id
	}
	v, ok := s.versions[versionID]
	if !ok {
		return Version{}, fmt.Errorf("no version %q", versionID)
	}
	if age < 0 {
		return Version{}, errors.New("the age must not be negative")
	}
	v.created = e.now().Add(-age)
	return s.view(v), nil
}

// AgeRotation moves the secret's LastRotatedDate age back, as if its last
// rotation had completed that long before: with the Aiven emulator's
// clock moved on by as much, a test stands that long after a promotion.
// Test control only; no AWS call does this.
func (e *Emulator) AgeRotation(secretID string, age time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, apiErr := e.resolve(secretID)
	if apiErr != nil {
		return apiErr
	}
	if age < 0 {
		return errors.New("the age must not be negative")
	}
	if s.rotated.IsZero() {
		return errors.New("the secret was never rotated")
	}
	s.rotated = s.rotated.Add(-age)
	return nil
}
