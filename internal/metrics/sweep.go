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
	// so that two stacks in one account keep their figures apart. Empty:
	// the emitter's own (FunctionNameVariable).
	FunctionName string
	// DryRun: the sweep changed nothing, and its counts are what it would
	// do; no line is written, so that it cannot fire or clear an alarm.
	DryRun bool

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
	// Stragglers counts secrets whose previous token was used after its
	// replacement became current: a consumer not yet refreshed, or a
	// leaked token's user.
	Stragglers int
	// ReplicaLag counts secrets whose previous token waits for a replica
	// region that Failed, or has not caught up within the hard limit.
	ReplicaLag int
	// ExpiresBeforeRotation counts secrets whose current token expires
	// before their next rotation (NextRotationDate).
	ExpiresBeforeRotation int
	// AtRisk counts secrets whose personal token the organization they
	// name keeps out (an authentication policy, or likely so).
	AtRisk int

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
	// SweepSecretsSeenMetric is written by every sweep that could list
	// the secrets: its sample count is the sweep's heartbeat.
	SweepSecretsSeenMetric   = "SweepSecretsSeen"
	SweepTokenInvalidMetric  = "SweepTokenInvalid"
	SweepErrorsMetric        = "SweepErrors"
	SweepNotReachedMetric    = "SweepNotReached"
	SweepSoonestExpiryMetric = "SweepSoonestExpiry"
	// SweepGraceDistrustedMetric counts grace records not honoured.
	SweepGraceDistrustedMetric = "SweepGraceDistrusted"
	// SweepStuckMetric counts rotations found stuck.
	SweepStuckMetric = "SweepStuck"
	// SweepStragglersMetric counts previous tokens still in use.
	SweepStragglersMetric = "SweepStragglers"
	// SweepReplicaLagMetric counts replica regions failed or behind.
	SweepReplicaLagMetric = "SweepReplicaLag"
	// SweepExpiresBeforeRotationMetric counts tokens that expire before
	// their secret's next rotation.
	SweepExpiresBeforeRotationMetric = "SweepExpiresBeforeRotation"
	// SweepAtRiskMetric counts personal tokens their organization keeps
	// out.
	SweepAtRiskMetric = "SweepAtRisk"
)

// Sweep writes one line for a finished sweep, dimension FunctionName, and
// nothing for a dry run. Calling it twice writes two lines, counted twice
// by CloudWatch.
func (e *Emitter) Sweep(s Sweep) error {
	if e == nil || e.w == nil || s.DryRun {
		return nil
	}
	l, dims := e.functionLine(s.FunctionName)
	var defs []metricDef
	count := func(name string, v int) {
		defs = append(defs, metricDef{name, "Count"})
		l[name] = v
	}
	count(SweepSecretsSeenMetric, s.SecretsSeen)
	count("SweepHealthy", s.Healthy)
	count(SweepTokenInvalidMetric, s.TokenInvalid)
	count("SweepHealed", s.Healed)
	count("SweepRotationsStarted", s.RotationsStarted)
	count("SweepTokensRevoked", s.TokensRevoked)
	count(SweepErrorsMetric, s.Errors)
	count(SweepNotReachedMetric, s.NotReached)
	count(SweepGraceDistrustedMetric, s.GraceDistrusted)
	count(SweepStuckMetric, s.Stuck)
	count(SweepStragglersMetric, s.Stragglers)
	count(SweepReplicaLagMetric, s.ReplicaLag)
	count(SweepExpiresBeforeRotationMetric, s.ExpiresBeforeRotation)
	count(SweepAtRiskMetric, s.AtRisk)
	if s.HasOldest {
		defs = append(defs, metricDef{"SweepOldestTokenAge", "Seconds"})
		l["SweepOldestTokenAge"] = math.Floor(s.OldestTokenAge.Seconds())
	}
	if s.HasSoonest {
		defs = append(defs, metricDef{SweepSoonestExpiryMetric, "Seconds"})
		l[SweepSoonestExpiryMetric] = math.Floor(s.SoonestExpiry.Seconds())
	}
	return e.writeMetrics(l, dims, defs)
}

// functionLine is the start of a line whose one dimension is the function
// (function, else the emitter's own; none outside Lambda): its level,
// timestamp and dimension value, and its dimension set.
func (e *Emitter) functionLine(function string) (map[string]any, [][]string) {
	if function == "" {
		function = e.function
	}
	l := map[string]any{
		"level":     e.level,
		"timestamp": e.now().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
	}
	if function == "" {
		return l, [][]string{{}}
	}
	l[FunctionNameDimension] = function
	return l, [][]string{{FunctionNameDimension}}
}

// writeMetrics writes l with its EMF metadata: defs, under dims.
func (e *Emitter) writeMetrics(l map[string]any, dims [][]string, defs []metricDef) error {
	l["_aws"] = metadata{
		Timestamp:         e.now().UnixMilli(),
		CloudWatchMetrics: []directive{{Namespace: Namespace, Dimensions: dims, Metrics: defs}},
	}
	return e.write(l)
}
