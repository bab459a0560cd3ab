package secretsmanager

import (
	"maps"
	"testing"
)

func TestVersionsByLabel(t *testing.T) {
	versions := map[string][]string{
		"v0": {"AWSPREVIOUS"},
		"v1": {StageCurrent},
		"v2": {StagePending},
		"v3": {StageCurrent, StagePending}, // a rotation's version just promoted, its label not yet gone
	}
	if got := PendingVersion(map[string][]string{"v1": {StageCurrent}, "v2": {StagePending}}); got != "v2" {
		t.Errorf("PendingVersion = %q, want v2", got)
	}
	if got := PendingVersion(map[string][]string{"v3": {StageCurrent, StagePending}}); got != "" {
		t.Errorf("PendingVersion of a version that is also current = %q, want none", got)
	}
	if got := CurrentVersion(map[string][]string{"v0": {"AWSPREVIOUS"}, "v1": {StageCurrent}}); got != "v1" {
		t.Errorf("CurrentVersion = %q, want v1", got)
	}
	if got := CurrentVersion(nil); got != "" {
		t.Errorf("CurrentVersion(nil) = %q", got)
	}
	if got, want := PendingVersions(versions), map[string]bool{"v2": true, "v3": true}; !maps.Equal(got, want) {
		t.Errorf("PendingVersions = %v, want %v", got, want)
	}
}
