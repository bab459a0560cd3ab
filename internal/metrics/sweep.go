package metrics

import (
	"math"
	"time"
)

// Sweep is the fleet's figures after one sweep. They stay few whatever the
// fleet's size: CloudWatch bills each metric and each dimension value, so
// per-secret figures belong in the sweep's log lines, not here.
type Sweep struct {
	// FunctionName is the one dimension: a value per deployed function,
	// so that two stacks in one account keep their figures apart.
	FunctionName string
	DryRun       bool // a property: a dry run's counts are what it would do

	SecretsSeen      int // secrets this function rotates, found by listing
	Healthy          int // whose current token authenticates
	TokenInvalid     int // whose current token Aiven refuses (401)
	Healed           int // of those, application tokens a rotation replaces
	RotationsStarted int // RotateSecret calls that started a rotation
	TokensRevoked    int // previous tokens past their grace, and orphans
	Errors           int // secrets the sweep could not finish
	NotReached       int // secrets left when the invocation's deadline neared
	// GraceDistrusted counts secrets whose value carries a grace record
	// the sweep did not honour: its previous token is left for a person.
	GraceDistrusted int
	// Stuck counts pending versions older than STUCK_ROTATION_AFTER:
	// rotations Secrets Manager gave up on (recovered, or in a dry run
	// only found).
	Stuck int

	// OldestTokenAge and SoonestExpiry are over the secrets whose token
	// reports them; HasOldest and HasSoonest say whether any did (the
	// metric is left out otherwise, rather than written as 0). A token
	// already expired gives a negative SoonestExpiry.
	OldestTokenAge time.Duration
	HasOldest      bool
	SoonestExpiry  time.Duration
	HasSoonest     bool
}

// Names of the sweep's metrics that template.yaml's alarms watch.
const (
	SweepTokenInvalidMetric  = "SweepTokenInvalid"
	SweepSoonestExpiryMetric = "SweepSoonestExpiry"
)

// Sweep writes one line for a finished sweep, dimension FunctionName.
// Calling it twice writes two lines, counted twice by CloudWatch.
func (e *Emitter) Sweep(s Sweep) error {
	if e == nil || e.w == nil {
		return nil
	}
	now := e.now()
	l := map[string]any{
		"level":        e.level,
		"timestamp":    now.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"FunctionName": s.FunctionName,
		"DryRun":       s.DryRun,
	}
	var defs []metricDef
	count := func(name string, v int) {
		defs = append(defs, metricDef{name, "Count"})
		l[name] = v
	}
	count("SweepSecretsSeen", s.SecretsSeen)
	count("SweepHealthy", s.Healthy)
	count(SweepTokenInvalidMetric, s.TokenInvalid)
	count("SweepHealed", s.Healed)
	count("SweepRotationsStarted", s.RotationsStarted)
	count("SweepTokensRevoked", s.TokensRevoked)
	count("SweepErrors", s.Errors)
	count("SweepNotReached", s.NotReached)
	count("SweepGraceDistrusted", s.GraceDistrusted)
	count("SweepStuck", s.Stuck)
	if s.HasOldest {
		defs = append(defs, metricDef{"SweepOldestTokenAge", "Seconds"})
		l["SweepOldestTokenAge"] = math.Floor(s.OldestTokenAge.Seconds())
	}
	if s.HasSoonest {
		defs = append(defs, metricDef{SweepSoonestExpiryMetric, "Seconds"})
		l[SweepSoonestExpiryMetric] = math.Floor(s.SoonestExpiry.Seconds())
	}
	l["_aws"] = metadata{
		Timestamp: now.UnixMilli(),
		CloudWatchMetrics: []directive{{
			Namespace:  Namespace,
			Dimensions: [][]string{{"FunctionName"}},
			Metrics:    defs,
		}},
	}
	return e.write(l)
}
