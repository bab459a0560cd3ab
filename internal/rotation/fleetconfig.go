package rotation

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults and bounds of the grace period and the sweep, from docs/rotation.md.
const (
	DefaultPreviousTokenGrace = 24 * time.Hour
	MaxPreviousTokenGrace     = 168 * time.Hour
	DefaultRotateBeforeExpiry = 168 * time.Hour
	// DefaultPreviousTokenIdle: a previous token used less than this ago is
	// in use (kept past its grace only with PREVIOUS_TOKEN_MAX_GRACE).
	DefaultPreviousTokenIdle = 15 * time.Minute
	DefaultSweepConcurrency  = 8
	// DefaultStuckRotationAfter: AWS documents no horizon for its retries
	// of a failed rotation, so a pending version is called stuck a day
	// after its creation, when no retry is plausibly still to come.
	DefaultStuckRotationAfter = 24 * time.Hour
	minStuckRotationAfter     = time.Hour
	maxSweepConcurrency       = 64
)

// FleetConfig is the grace period and the sweep's configuration. Its zero
// value revokes at once, rotates before expiry at the default, and sweeps
// DefaultSweepConcurrency secrets at a time.
type FleetConfig struct {
	// PreviousTokenGrace is how long the replaced token stays live after
	// promotion (PREVIOUS_TOKEN_GRACE; 0 revokes at once). A secret's
	// previous_token_grace may only shorten it.
	PreviousTokenGrace time.Duration
	// PreviousTokenMaxGrace is the hard limit up to which a previous
	// token still in use is kept past its grace
	// (PREVIOUS_TOKEN_MAX_GRACE; 0, or the grace itself: never kept). A
	// secret's previous_token_max_grace may only shorten it.
	PreviousTokenMaxGrace time.Duration
	// PreviousTokenIdle: a use of the previous token less than this ago
	// keeps it, up to the hard limit (PREVIOUS_TOKEN_IDLE; 0 takes the
	// default). A secret's previous_token_idle may only shorten it.
	PreviousTokenIdle time.Duration
	// RotateBeforeExpiry: the sweep starts a rotation when the current
	// token expires sooner (ROTATE_BEFORE_EXPIRY; 0 takes the default). A
	// secret's rotate_before_expiry may only shorten it.
	RotateBeforeExpiry time.Duration
	// SweepConcurrency is how many secrets the sweep works on at once
	// (SWEEP_CONCURRENCY; 0 takes the default).
	SweepConcurrency int
	// SweepTagKey, when set, narrows the sweep's listing to secrets
	// carrying this tag key (SWEEP_TAG_KEY).
	SweepTagKey string
	// StuckRotationAfter: the sweep recovers a rotation whose pending
	// version is older than this (STUCK_ROTATION_AFTER; 0 takes the
	// default, at least an hour).
	StuckRotationAfter time.Duration
}

// fleetConfigFromEnv reads the fleet's variables; unset ones take the
// defaults of docs/rotation.md, and a bad one is an error naming it.
func fleetConfigFromEnv(getenv func(string) string) (FleetConfig, error) {
	f := FleetConfig{
		PreviousTokenGrace: DefaultPreviousTokenGrace,
		RotateBeforeExpiry: DefaultRotateBeforeExpiry,
		SweepConcurrency:   DefaultSweepConcurrency,
		SweepTagKey:        strings.TrimSpace(getenv("SWEEP_TAG_KEY")),
		StuckRotationAfter: DefaultStuckRotationAfter,
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"PREVIOUS_TOKEN_GRACE", &f.PreviousTokenGrace}, {"ROTATE_BEFORE_EXPIRY", &f.RotateBeforeExpiry}, {"STUCK_ROTATION_AFTER", &f.StuckRotationAfter},
		{"PREVIOUS_TOKEN_MAX_GRACE", &f.PreviousTokenMaxGrace}, {"PREVIOUS_TOKEN_IDLE", &f.PreviousTokenIdle}} {
		v := strings.TrimSpace(getenv(d.name))
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil {
			return FleetConfig{}, fmt.Errorf("%s: %q is not a Go duration such as 24h or 90m", d.name, clip(v, 40))
		}
		*d.dst = parsed
	}
	if v := strings.TrimSpace(getenv("ROTATE_BEFORE_EXPIRY")); v != "" && f.RotateBeforeExpiry <= 0 {
		return FleetConfig{}, fmt.Errorf("ROTATE_BEFORE_EXPIRY: must be above zero")
	}
	if v := strings.TrimSpace(getenv("SWEEP_CONCURRENCY")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSweepConcurrency {
			return FleetConfig{}, fmt.Errorf("SWEEP_CONCURRENCY: %q is not a whole number from 1 to %d", clip(v, 40), maxSweepConcurrency)
		}
		f.SweepConcurrency = n
	}
	return f, f.validate()
}

// validate checks the bounds; its errors name the variable.
func (f FleetConfig) validate() error {
	switch {
	case f.PreviousTokenGrace < 0 || f.PreviousTokenGrace > MaxPreviousTokenGrace:
		return fmt.Errorf("PREVIOUS_TOKEN_GRACE: must be from 0s to %s", MaxPreviousTokenGrace)
	case f.PreviousTokenMaxGrace != 0 && (f.PreviousTokenMaxGrace < f.PreviousTokenGrace || f.PreviousTokenMaxGrace > MaxPreviousTokenGrace):
		return fmt.Errorf("PREVIOUS_TOKEN_MAX_GRACE: must be from PREVIOUS_TOKEN_GRACE (%s) to %s", f.PreviousTokenGrace, MaxPreviousTokenGrace)
	case f.PreviousTokenIdle < 0:
		return fmt.Errorf("PREVIOUS_TOKEN_IDLE: must not be negative")
	case f.RotateBeforeExpiry < 0:
		return fmt.Errorf("ROTATE_BEFORE_EXPIRY: must be above zero")
	case f.StuckRotationAfter != 0 && f.StuckRotationAfter < minStuckRotationAfter:
		return fmt.Errorf("STUCK_ROTATION_AFTER: must be at least %s (a rotation Secrets Manager still retries must not be taken for stuck)", minStuckRotationAfter)
	case f.SweepTagKey == ManagerTagKey:
		return fmt.Errorf("SWEEP_TAG_KEY: must not be %s, the manager tag key: being swept must never make a secret a manager", ManagerTagKey)
	case f.SweepConcurrency < 0 || f.SweepConcurrency > maxSweepConcurrency:
		return fmt.Errorf("SWEEP_CONCURRENCY: must be from 1 to %d", maxSweepConcurrency)
	}
	return nil
}

func (f FleetConfig) rotateBeforeExpiry() time.Duration {
	if f.RotateBeforeExpiry <= 0 {
		return DefaultRotateBeforeExpiry
	}
	return f.RotateBeforeExpiry
}

// maxGrace is the hard limit of a previous token still in use: never
// below the grace.
func (f FleetConfig) maxGrace() time.Duration {
	return max(f.PreviousTokenMaxGrace, f.PreviousTokenGrace)
}

// idle is how recent a use keeps a previous token in use.
func (f FleetConfig) idle() time.Duration {
	if f.PreviousTokenIdle <= 0 {
		return DefaultPreviousTokenIdle
	}
	return f.PreviousTokenIdle
}

// StuckAfter is how old a pending version must be for the sweep to take
// its rotation for stuck.
func (f FleetConfig) StuckAfter() time.Duration {
	if f.StuckRotationAfter <= 0 {
		return DefaultStuckRotationAfter
	}
	return f.StuckRotationAfter
}

// Concurrency is how many secrets the sweep works on at once.
func (f FleetConfig) Concurrency() int {
	if f.SweepConcurrency <= 0 {
		return DefaultSweepConcurrency
	}
	return f.SweepConcurrency
}
