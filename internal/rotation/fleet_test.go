package rotation

import (
	"strings"
	"testing"
	"time"
)

func TestFleetConfigFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := FleetConfig{PreviousTokenGrace: 24 * time.Hour, RotateBeforeExpiry: 168 * time.Hour, SweepConcurrency: 8, StuckRotationAfter: 24 * time.Hour}
	if c.Fleet != want {
		t.Fatalf("defaults %+v, want %+v (docs/rotation.md)", c.Fleet, want)
	}
	c, err = ConfigFromEnv(env(map[string]string{"PREVIOUS_TOKEN_GRACE": "0s", "ROTATE_BEFORE_EXPIRY": "72h", "SWEEP_CONCURRENCY": "16", "SWEEP_TAG_KEY": " aiven-token-rotator ", "STUCK_ROTATION_AFTER": "6h"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (FleetConfig{RotateBeforeExpiry: 72 * time.Hour, SweepConcurrency: 16, SweepTagKey: "aiven-token-rotator", StuckRotationAfter: 6 * time.Hour}); c.Fleet != want {
		t.Fatalf("set %+v, want %+v", c.Fleet, want)
	}
	// The opt-in to keep a previous token in use: off by default (the
	// limit is the grace), on from PREVIOUS_TOKEN_MAX_GRACE.
	if c.Fleet.maxGrace() != 0 || c.Fleet.idle() != DefaultPreviousTokenIdle {
		t.Fatalf("keep defaults: limit %s, idle %s", c.Fleet.maxGrace(), c.Fleet.idle())
	}
	c, err = ConfigFromEnv(env(map[string]string{"PREVIOUS_TOKEN_GRACE": "1h", "PREVIOUS_TOKEN_MAX_GRACE": "48h", "PREVIOUS_TOKEN_IDLE": "5m"}))
	if err != nil || c.Fleet.maxGrace() != 48*time.Hour || c.Fleet.idle() != 5*time.Minute {
		t.Fatalf("keep set: %v, %+v", err, c.Fleet)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"PREVIOUS_TOKEN_GRACE", "1d", "PREVIOUS_TOKEN_GRACE"},
		{"PREVIOUS_TOKEN_GRACE", "169h", "PREVIOUS_TOKEN_GRACE: must be from 0s to 168h0m0s"},
		{"PREVIOUS_TOKEN_GRACE", "-1s", "PREVIOUS_TOKEN_GRACE"},
		{"ROTATE_BEFORE_EXPIRY", "0s", "ROTATE_BEFORE_EXPIRY: must be above zero"},
		{"ROTATE_BEFORE_EXPIRY", "soon", "ROTATE_BEFORE_EXPIRY"},
		{"SWEEP_CONCURRENCY", "0", "SWEEP_CONCURRENCY"},
		{"SWEEP_CONCURRENCY", "65", "SWEEP_CONCURRENCY"},
		{"SWEEP_CONCURRENCY", "eight", "SWEEP_CONCURRENCY"},
		{"STUCK_ROTATION_AFTER", "30m", "STUCK_ROTATION_AFTER: must be at least 1h0m0s"},
		{"STUCK_ROTATION_AFTER", "a day", "STUCK_ROTATION_AFTER"},
		{"SWEEP_TAG_KEY", "aiven-token-rotator:manager", "SWEEP_TAG_KEY: must not be"},
		{"PREVIOUS_TOKEN_MAX_GRACE", "1h", "PREVIOUS_TOKEN_MAX_GRACE: must be from PREVIOUS_TOKEN_GRACE"}, // below the default 24h grace
		{"PREVIOUS_TOKEN_MAX_GRACE", "169h", "PREVIOUS_TOKEN_MAX_GRACE"},
		{"PREVIOUS_TOKEN_MAX_GRACE", "two days", "PREVIOUS_TOKEN_MAX_GRACE"},
		{"PREVIOUS_TOKEN_IDLE", "-1m", "PREVIOUS_TOKEN_IDLE"},
	} {
		_, err := ConfigFromEnv(env(map[string]string{tc.name: tc.value}))
		if err == nil || !strings.Contains(err.Error(), strings.Fields(tc.want)[0]) {
			t.Errorf("%s=%s: %v, want an error naming %s", tc.name, tc.value, err, tc.name)
		}
	}
}

// The previous token is due at the record, and never sooner than the
// grace after the rotation completed: a retried rotation may promote long
// after createSecret wrote the record.
func TestDueAtIsNeverSoonerThanTheGraceAfterPromotion(t *testing.T) {
	created := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	grace := 24 * time.Hour
	recorded := created.Add(grace)
	for _, tc := range []struct {
		name        string
		lastRotated time.Time
		want        time.Time
	}{
		{"promoted seconds later", created.Add(3 * time.Second), created.Add(3*time.Second + grace)},
		{"promoted by a retry hours later", created.Add(5 * time.Hour), created.Add(5*time.Hour + grace)},
		{"never rotated (a value written by hand)", time.Time{}, recorded},
		{"an older completion", created.Add(-time.Hour), recorded},
	} {
		if got := dueAt(recorded, tc.lastRotated, grace); !got.Equal(tc.want) {
			t.Errorf("%s: due %v, want %v", tc.name, got, tc.want)
		}
	}
}
