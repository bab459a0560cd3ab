package metrics

import "encoding/json"

// BreakGlassRevocationsMetric counts the tokens break-glass requests
// revoked (the rotate action's revoke_previous and revoke_prefixes).
const BreakGlassRevocationsMetric = "BreakGlassRevocations"

// BreakGlass is what one break-glass request revoked.
type BreakGlass struct {
	// FunctionName is the one dimension (the emitter's when empty).
	FunctionName string
	// SecretARN is a property, not a dimension, as for a step.
	SecretARN string
	// Revocations counts the tokens it revoked; 0 still writes the line:
	// the request itself is worth seeing.
	Revocations int
}

// BreakGlass writes one line for a break-glass request, dimension
// FunctionName. Calling it twice writes two lines, counted twice by
// CloudWatch.
func (e *Emitter) BreakGlass(b BreakGlass) error {
	if e == nil || e.w == nil {
		return nil
	}
	now := e.now()
	function := b.FunctionName
	if function == "" {
		function = e.function
	}
	l := map[string]any{
		"level":                     e.level,
		"timestamp":                 now.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		BreakGlassRevocationsMetric: b.Revocations,
	}
	if b.SecretARN != "" {
		l["SecretArn"] = clip(b.SecretARN, 2048)
	}
	dims := [][]string{{}}
	if function != "" {
		l[FunctionNameDimension] = function
		dims = [][]string{{FunctionNameDimension}}
	}
	l["_aws"] = metadata{
		Timestamp: now.UnixMilli(),
		CloudWatchMetrics: []directive{{
			Namespace:  Namespace,
			Dimensions: dims,
			Metrics:    []metricDef{{BreakGlassRevocationsMetric, "Count"}},
		}},
	}
	out, err := json.Marshal(l)
	if err != nil {
		return err
	}
	out = append(out, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.w.Write(out)
	return err
}
