package metrics

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
	l, dims := e.functionLine(b.FunctionName)
	l[BreakGlassRevocationsMetric] = b.Revocations
	if b.SecretARN != "" {
		l["SecretArn"] = clip(b.SecretARN, 2048)
	}
	return e.writeMetrics(l, dims, []metricDef{{BreakGlassRevocationsMetric, "Count"}})
}
