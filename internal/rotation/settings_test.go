package rotation

import (
	"testing"
	"time"
)

// nextAfter: DescribeSecret read during a rotation names that rotation's
// own date when it is the scheduled one; the next comes an interval later.
// An early (on-demand) rotation leaves the scheduled one to come. Never
// rotated, NextRotationDate is all there is.
func TestNextAfterAccountsForTheRotationUnderWay(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC) }
	for _, tt := range []struct {
		name   string
		s      schedule
		made   time.Time
		want   time.Time
		wantOK bool
	}{
		{"the scheduled rotation", schedule{last: day(1), next: day(15)}, day(15), day(29), true},
		{"an early rotation: the later of NextRotationDate and an interval after it", schedule{last: day(1), next: day(15)}, day(3), day(17), true},
		{"never rotated", schedule{next: day(15)}, day(3), day(15), true},
		{"no schedule", schedule{last: day(1)}, day(3), time.Time{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.s.nextAfter(tt.made)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Fatalf("nextAfter(%v) = %v, %v; want %v, %v", tt.made, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestGraceTooLongOnlyWithAKnownInterval(t *testing.T) {
	s := schedule{last: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), next: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)}
	// The window closes at NextRotationDate and may open half the
	// interval before it (at most a day): a 12h grace may be cut short.
	if !s.graceTooLong(24*time.Hour) || !s.graceTooLong(12*time.Hour) || s.graceTooLong(11*time.Hour) || s.graceTooLong(0) {
		t.Error("a grace against a one-day interval whose window may open 12h before it closes")
	}
	week := schedule{last: s.last, next: s.last.Add(7*24*time.Hour + 9*time.Hour)}
	if !week.graceTooLong(168*time.Hour) || week.graceTooLong(150*time.Hour) {
		t.Error("rate(7 days) with a 168h grace: the window opens a day before it closes")
	}
	if (schedule{next: s.next}).graceTooLong(48 * time.Hour) {
		t.Error("never rotated: no interval to compare with")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * time.Minute:              "1h30m0s",
		24 * time.Hour:                "1 day",
		30 * 24 * time.Hour:           "30 days",
		30*24*time.Hour + 5*time.Hour: "30 days 5h",
		48*time.Hour - time.Minute:    "2 days",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
