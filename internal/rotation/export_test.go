package rotation

import "time"

// Test seams of Rotator, for the tests of this directory (package rotation
// and package rotation_test); they are not in the binary.

// SetClock replaces the rotator's clock.
func (r *Rotator) SetClock(now func() time.Time) { r.now = now }

// SetNoDeadlineTimeout replaces the bound of an invocation whose context
// has no deadline (default 5 minutes).
func (r *Rotator) SetNoDeadlineTimeout(d time.Duration) { r.noDeadlineTimeout = d }
