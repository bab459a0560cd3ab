package rotation

// Unit tests of unexported rules that no outside world is needed for; the
// regression tests of issue 7 that need one run against the emulators
// (limits_test.go) or, for the concurrency ones, in internal/localstack.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// Defect 5: the one rule every sweep applies to a secret's tokens.
func TestSweepRule(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	marked := func(version string) string {
		m, _ := secret.NewMarker(testARN, version)
		return secret.Describe("bot", m)
	}
	other, _ := secret.NewMarker("arn:aws:secretsmanager:us-east-1:000000000000:secret:other-XyZ123", "v1")
	rule := sweepRule{
		secretHash:  secret.SecretHash(testARN),
		keepPrefix:  "KEEP00000000",
		ownVersion:  "v3",
		pending:     map[string]bool{"v3": true, "v4": true},
		now:         now,
		minStaleAge: staleAge,
	}
	old, young := now.Add(-staleAge-time.Second), now.Add(-staleAge+time.Second)
	tests := []struct {
		name string
		tok  aiven.Token
		want bool
	}{
		{"no marker, old", aiven.Token{Prefix: "P1", Description: "hand made", CreateTime: old}, false},
		{"another secret's marker, old", aiven.Token{Prefix: "P2", Description: secret.Describe("", other), CreateTime: old}, false},
		{"the token kept", aiven.Token{Prefix: "KEEP00000000", Description: marked("v3"), CreateTime: old}, false},
		{"the caller's token", aiven.Token{Prefix: "P3", Description: marked("v1"), CreateTime: old, CurrentlyActive: true}, false},
		{"own version's orphan, young", aiven.Token{Prefix: "P4", Description: marked("v3"), CreateTime: now}, true},
		{"a pending version's token, old", aiven.Token{Prefix: "P5", Description: marked("v4"), CreateTime: old}, false},
		{"an earlier version's token, young", aiven.Token{Prefix: "P6", Description: marked("v1"), CreateTime: young}, false},
		{"an earlier version's token, creation time unknown", aiven.Token{Prefix: "P7", Description: marked("v1")}, false},
		{"an earlier version's token, old", aiven.Token{Prefix: "P8", Description: marked("v1"), CreateTime: old}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rule.revocable(tt.tok); got != tt.want {
				t.Errorf("revocable = %v, want %v", got, tt.want)
			}
		})
	}
	fleet := rule
	fleet.ownVersion, fleet.keepPrefix = "", "KEEP00000000"
	if fleet.revocable(aiven.Token{Prefix: "P9", Description: marked("v3"), CreateTime: old}) {
		t.Error("without a version of its own, the rule revoked a pending version's token")
	}
}

func TestRedactIsTheLastLineOfDefence(t *testing.T) {
	err := redact(errors.New("boom: AVNU_secretvalue123 leaked"), []secret.Token{secret.NewToken("AVNU_secretvalue123")})
	if strings.Contains(err.Error(), "secretvalue") || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("got %q", err)
	}
}
