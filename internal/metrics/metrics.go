// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines: one
// JSON object per rotation step and per sweep, which CloudWatch Logs turns
// into metrics.
//
// Every metric carries the dimension FunctionName, the name Lambda gives
// the function (AWS_LAMBDA_FUNCTION_NAME), so that the figures of two
// stacks in one account never share a series. A dry-run sweep writes no
// metric at all: what it would do must not feed the alarms.
//
// Lambda's log-level filtering reads every JSON line on stdout as a log
// record: a line whose "level" is missing or invalid counts as INFO, and so
// does one without a valid RFC 3339 "timestamp". At an application log level
// of WARN or above such a line is dropped before CloudWatch Logs sees it, and
// with it the metric. Each line therefore carries a timestamp and a level
// that passes the configured filter (see NewAtLevel).
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "AivenTokenRotator"

// FunctionNameVariable is the variable in which Lambda gives a function its
// own name (Lambda Developer Guide, "Defined runtime environment
// variables"): the value of the FunctionName dimension.
const FunctionNameVariable = "AWS_LAMBDA_FUNCTION_NAME"

// Dimension names.
const (
	FunctionNameDimension = "FunctionName"
	StepDimension         = "Step"
)

// Step is the outcome of one rotation step.
type Step struct {
	Name      string // the Step dimension: createSecret, setSecret, ...
	SecretARN string // a property, not a dimension: one secret per series would cost a metric each
	Succeeded bool
	Duration  time.Duration
	// TokensRevoked counts tokens this step revoked; OrphansRevoked those
	// of them left by an interrupted attempt.
	TokensRevoked  int
	OrphansRevoked int
	// PreviousTokenUnknown: createSecret could not tell the replaced
	// token's prefix, or finishSecret would not revoke by a stored one it
	// could not trust, so it stays live until revoked by hand.
	PreviousTokenUnknown bool
	// GraceRecordDistrusted: createSecret found a grace record in the
	// current value that it would not honour, so the token it names was
	// not revoked before a new one was made.
	GraceRecordDistrusted bool
	// ExpiresBeforeRotation: the token the step made (createSecret) or
	// tested (the configuration test, for a token that extends when used)
	// expires before the secret's next rotation.
	ExpiresBeforeRotation bool
}

// Emitter writes EMF lines to a writer, one Write per line.
type Emitter struct {
	mu    sync.Mutex
	w     io.Writer
	level string
	now   func() time.Time
	// function is the FunctionName dimension's value; empty outside
	// Lambda, where a step's line carries the Step dimension alone.
	function string
}

// levels are Lambda's application log levels, least severe first: a line
// passes Lambda's filter when its level is at or after the configured one.
var levels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// New is an emitter writing to w (os.Stdout in Lambda) at level INFO, which
// passes Lambda's filter at INFO and below; a nil w discards. Its lines name
// the function Lambda runs (FunctionNameVariable).
func New(w io.Writer) *Emitter {
	return newEmitter(w, os.Getenv(FunctionNameVariable))
}

// newEmitter is New with the function's name given.
func newEmitter(w io.Writer, function string) *Emitter {
	return &Emitter{w: w, level: "INFO", now: time.Now, function: function}
}

// NewAtLevel is an emitter whose lines pass Lambda's filter at the function's
// application log level (AWS_LAMBDA_LOG_LEVEL; empty when none is set, which
// filters nothing). Lines say INFO, their natural level, unless the filter
// is stricter; then they take the configured level itself, the least severe
// that still passes: WARN at WARN, FATAL at FATAL. An unknown level is an
// error naming it, so a typo cannot silently lose every metric.
func NewAtLevel(w io.Writer, applicationLogLevel string) (*Emitter, error) {
	return newAtLevel(w, applicationLogLevel, os.Getenv(FunctionNameVariable))
}

// newAtLevel is NewAtLevel with the function's name given.
func newAtLevel(w io.Writer, applicationLogLevel, function string) (*Emitter, error) {
	e := newEmitter(w, function)
	if applicationLogLevel == "" {
		return e, nil
	}
	configured := rank(applicationLogLevel)
	if configured < 0 {
		return nil, fmt.Errorf("application log level %q (AWS_LAMBDA_LOG_LEVEL): want one of %s", clip(applicationLogLevel, 20), strings.Join(levels, ", "))
	}
	if configured > rank(e.level) {
		e.level = levels[configured]
	}
	return e, nil
}

// rank is the index of level in levels, case-insensitively, or -1.
func rank(level string) int {
	for i, l := range levels {
		if strings.EqualFold(l, level) {
			return i
		}
	}
	return -1
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

type line struct {
	// Level and Timestamp are for Lambda's log-level filter; EMF keeps them
	// as properties of the line, not metrics or dimensions.
	Level          string   `json:"level"`
	Timestamp      string   `json:"timestamp"`
	AWS            metadata `json:"_aws"`
	FunctionName   string   `json:"FunctionName,omitempty"`
	Step           string   `json:"Step"`
	SecretARN      string   `json:"SecretArn,omitempty"`
	StepSucceeded  int      `json:"StepSucceeded"`
	StepFailed     int      `json:"StepFailed"`
	StepDuration   int64    `json:"StepDuration"`
	TokensRevoked  int      `json:"TokensRevoked"`
	OrphansRevoked int      `json:"OrphansRevoked"`
	// PreviousTokenUnknown is a count (0 or 1), so that an alarm can sum it.
	PreviousTokenUnknown int `json:"PreviousTokenUnknown"`
	// GraceRecordDistrusted is a count (0 or 1), like PreviousTokenUnknown.
	GraceRecordDistrusted int `json:"GraceRecordDistrusted"`
	// ExpiresBeforeRotation is a count (0 or 1), like PreviousTokenUnknown.
	ExpiresBeforeRotation int `json:"ExpiresBeforeRotation"`
}

// Names of the step metrics, for alarms and the dashboard.
const (
	StepFailedMetric            = "StepFailed"
	PreviousTokenUnknownMetric  = "PreviousTokenUnknown"
	GraceRecordDistrustedMetric = "GraceRecordDistrusted"
	// ExpiresBeforeRotationMetric: a warning, not a failure (the sweep
	// rotates the token before it expires), so not in Failures.
	ExpiresBeforeRotationMetric = "ExpiresBeforeRotation"
)

var definitions = []metricDef{
	{"StepSucceeded", "Count"},
	{StepFailedMetric, "Count"},
	{"StepDuration", "Milliseconds"},
	{"TokensRevoked", "Count"},
	{"OrphansRevoked", "Count"},
	{PreviousTokenUnknownMetric, "Count"},
	{GraceRecordDistrustedMetric, "Count"},
	{ExpiresBeforeRotationMetric, "Count"},
}

// Failures names the metrics any non-zero value of which needs a person:
// a failed step, a replaced token left live, a grace record not honoured,
// and the sweep's findings. Each has an alarm in template.yaml
// (internal/deploy checks it), StepFailed through Lambda's own Errors.
func Failures() []string {
	return []string{
		StepFailedMetric, PreviousTokenUnknownMetric, GraceRecordDistrustedMetric,
		SweepTokenInvalidMetric, SweepErrorsMetric, SweepNotReachedMetric, SweepGraceDistrustedMetric, SweepStuckMetric,
	}
}

// Step writes one line for a finished step, its metrics under two
// dimension sets: FunctionName and Step (the dashboard's per-step graphs),
// and FunctionName alone, the function's total over its steps (the alarms).
// Each set makes a metric of its own, and each key in a set is a member of
// the line with a string value (CloudWatch User Guide, "Specification:
// Embedded metric format", DimensionSet).
// Calling it twice writes two lines, counted twice by CloudWatch.
func (e *Emitter) Step(s Step) error {
	if e == nil || e.w == nil {
		return nil
	}
	now := e.now()
	dims := [][]string{{StepDimension}}
	if e.function != "" {
		dims = [][]string{{FunctionNameDimension, StepDimension}, {FunctionNameDimension}}
	}
	l := line{
		Level:     e.level,
		Timestamp: now.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		AWS: metadata{
			Timestamp: now.UnixMilli(),
			CloudWatchMetrics: []directive{{
				Namespace:  Namespace,
				Dimensions: dims,
				Metrics:    definitions,
			}},
		},
		FunctionName:   e.function,
		Step:           s.Name,
		SecretARN:      s.SecretARN,
		StepDuration:   s.Duration.Milliseconds(),
		TokensRevoked:  s.TokensRevoked,
		OrphansRevoked: s.OrphansRevoked,
	}
	if s.PreviousTokenUnknown {
		l.PreviousTokenUnknown = 1
	}
	if s.GraceRecordDistrusted {
		l.GraceRecordDistrusted = 1
	}
	if s.ExpiresBeforeRotation {
		l.ExpiresBeforeRotation = 1
	}
	if s.Succeeded {
		l.StepSucceeded = 1
	} else {
		l.StepFailed = 1
	}
	return e.write(l)
}

// write writes l as one JSON line, whole: lines from concurrent calls
// never interleave.
func (e *Emitter) write(l any) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.w.Write(b)
	return err
}
