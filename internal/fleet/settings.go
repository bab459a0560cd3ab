package fleet

// The sweep's settings checks (docs/fleet.md, "Settings checked before
// they bite"; issue 20 §3 and §4): settings that will cause an outage
// before they do. The rules are rotation's (rotation.Inspection.Settings,
// OrganizationAccess); the sweep reports what they find, and changes
// nothing for it.

import (
	"context"
	"fmt"
)

// maxReportedSetting clips one settings finding in a sweep entry.
const maxReportedSetting = 800

// sweptSettings is what the settings checks found for one secret, inlined
// into its entry; each finding names the secret, the two values compared
// (or the organization) and the fix.
type sweptSettings struct {
	// ExpiresBeforeRotation: the current token expires before the
	// secret's next rotation (NextRotationDate); the sweep still rotates
	// it ROTATE_BEFORE_EXPIRY before it expires.
	ExpiresBeforeRotation string `json:"expires_before_rotation,omitempty"`
	// GraceCutShort: the grace is as long as the interval between
	// rotations, so the next rotation revokes the previous token early.
	GraceCutShort string `json:"grace_cut_short,omitempty"`
	// AtRisk: the current token, a personal token, may not reach the
	// organization its value names (organization_id): an authentication
	// policy keeps it out, or likely so, and every consumer gets 403.
	AtRisk string `json:"at_risk,omitempty"`
}

// settingsCounts are the fleet's figures of the settings checks, inlined
// into the sweep's report.
type settingsCounts struct {
	ExpiresBeforeRotation int `json:"expires_before_rotation"`
	GraceCutShort         int `json:"grace_cut_short"`
	AtRisk                int `json:"at_risk"`
}

// settings checks the secret's settings: its token against the schedule
// ListSecrets gave (no call), then, when its value names an organization,
// that the token reaches it (one Aiven call, OrganizationGet; one more
// after a 403, to name the setting). It only reads: run twice, it finds
// the same.
func (s *secretSweep) settings(ctx context.Context) error {
	f := s.in.Settings(s.j.entry.LastRotated, s.j.entry.NextRotation)
	s.res.ExpiresBeforeRotation = clipSetting(f.ExpiresBeforeRotation)
	s.res.GraceCutShort = clipSetting(f.GraceCutShort)
	atRisk, err := s.in.OrganizationAccess(ctx)
	if err != nil {
		return fmt.Errorf("check that the token reaches its organization: %w", err)
	}
	s.res.AtRisk = clipSetting(atRisk)
	return nil
}

func clipSetting(s string) string {
	if len(s) > maxReportedSetting {
		return s[:maxReportedSetting] + "..."
	}
	return s
}

// any says whether a check found something.
func (st sweptSettings) any() bool { return st != sweptSettings{} }

// logAttrs are the findings for the secret's log line.
func (st sweptSettings) logAttrs() []any {
	var attrs []any
	if st.ExpiresBeforeRotation != "" {
		attrs = append(attrs, "expires_before_rotation", st.ExpiresBeforeRotation)
	}
	if st.GraceCutShort != "" {
		attrs = append(attrs, "grace_cut_short", st.GraceCutShort)
	}
	if st.AtRisk != "" {
		attrs = append(attrs, "at_risk", st.AtRisk)
	}
	return attrs
}

// add counts one secret's findings.
func (c *settingsCounts) add(st sweptSettings) {
	if st.ExpiresBeforeRotation != "" {
		c.ExpiresBeforeRotation++
	}
	if st.GraceCutShort != "" {
		c.GraceCutShort++
	}
	if st.AtRisk != "" {
		c.AtRisk++
	}
}
