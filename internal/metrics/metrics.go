// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines: one
// JSON object per rotation step, which CloudWatch Logs turns into metrics.
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "AivenTokenRotator"

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
	// token's prefix, so it stays live until revoked by hand.
	PreviousTokenUnknown bool
}

// Emitter writes EMF lines to a writer, one Write per line.
type Emitter struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// New is an emitter writing to w (os.Stdout in Lambda); a nil w discards.
func New(w io.Writer) *Emitter {
	return &Emitter{w: w, now: time.Now}
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
	AWS            metadata `json:"_aws"`
	Step           string   `json:"Step"`
	SecretARN      string   `json:"SecretArn,omitempty"`
	StepSucceeded  int      `json:"StepSucceeded"`
	StepFailed     int      `json:"StepFailed"`
	StepDuration   int64    `json:"StepDuration"`
	TokensRevoked  int      `json:"TokensRevoked"`
	OrphansRevoked int      `json:"OrphansRevoked"`
	// PreviousTokenUnknown is a count (0 or 1), so that an alarm can sum it.
	PreviousTokenUnknown int `json:"PreviousTokenUnknown"`
}

var definitions = []metricDef{
	{"StepSucceeded", "Count"},
	{"StepFailed", "Count"},
	{"StepDuration", "Milliseconds"},
	{"TokensRevoked", "Count"},
	{"OrphansRevoked", "Count"},
	{"PreviousTokenUnknown", "Count"},
}

// Step writes one line for a finished step. Calling it twice writes two
// lines, counted twice by CloudWatch.
func (e *Emitter) Step(s Step) error {
	if e == nil || e.w == nil {
		return nil
	}
	l := line{
		AWS: metadata{
			Timestamp: e.now().UnixMilli(),
			CloudWatchMetrics: []directive{{
				Namespace:  Namespace,
				Dimensions: [][]string{{"Step"}},
				Metrics:    definitions,
			}},
		},
		Step:           s.Name,
		SecretARN:      s.SecretARN,
		StepDuration:   s.Duration.Milliseconds(),
		TokensRevoked:  s.TokensRevoked,
		OrphansRevoked: s.OrphansRevoked,
	}
	if s.PreviousTokenUnknown {
		l.PreviousTokenUnknown = 1
	}
	if s.Succeeded {
		l.StepSucceeded = 1
	} else {
		l.StepFailed = 1
	}
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
