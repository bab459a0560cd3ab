package main

import (
	"io"
	"maps"
	"strings"
	"testing"
	"time"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestConfigPassesTheRotatorSettingsOnly(t *testing.T) {
	env := map[string]string{
		"PREVIOUS_TOKEN_GRACE":   "5s",
		"ROTATE_BEFORE_EXPIRY":   "30s",
		"ROTATION_SAFETY_MARGIN": "2s",
		"SWEEP_CONCURRENCY":      "4",
		"SWEEP_TAG_KEY":          "",
		"ALLOWED_API_HOSTS":      "127.0.0.1",
		// The stack's own wiring and anything else stay out.
		"AIVEN_WEB_URL":                    "https://api.aiven.io",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://secretsmanager.us-east-1.amazonaws.com",
		"AIVEN_TOKEN":                      "not-for-the-function",
		"HOME":                             "/root",
	}
	cfg, err := config(nil, lookupIn(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PREVIOUS_TOKEN_GRACE": "5s", "ROTATE_BEFORE_EXPIRY": "30s", "ROTATION_SAFETY_MARGIN": "2s",
		"SWEEP_CONCURRENCY": "4", "SWEEP_TAG_KEY": "", "ALLOWED_API_HOSTS": "127.0.0.1",
	}
	if !maps.Equal(cfg.RotatorEnv, want) {
		t.Fatalf("RotatorEnv %v, want %v", cfg.RotatorEnv, want)
	}
	if cfg.SecretsManagerAddr != "127.0.0.1:4566" || cfg.AivenAddr != "127.0.0.1:4567" || cfg.Latency != 0 || !cfg.BackgroundRotation || cfg.SweepEvery != time.Minute {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestConfigLatencyFromFlagOrEnvironment(t *testing.T) {
	cfg, err := config(nil, lookupIn(map[string]string{"LOCALSTACK_LATENCY": "20ms"}), io.Discard)
	if err != nil || cfg.Latency != 20*time.Millisecond {
		t.Fatalf("env: %v %v", cfg.Latency, err)
	}
	cfg, err = config([]string{"-latency", "35ms"}, lookupIn(map[string]string{"LOCALSTACK_LATENCY": "20ms"}), io.Discard)
	if err != nil || cfg.Latency != 35*time.Millisecond {
		t.Fatalf("the flag wins: %v %v", cfg.Latency, err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"LOCALSTACK_LATENCY": "20"}, "LOCALSTACK_LATENCY"},
		{[]string{"-latency", "soon"}, nil, "-latency"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
	} {
		if _, err := config(c.args, lookupIn(c.env), io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want an error naming %s", c.args, c.env, err, c.want)
		}
	}
}

// The sweep runs every minute unless told otherwise, as EventBridge
// Scheduler would run it every 15; off (or 0) turns it off.
func TestConfigSweepSchedule(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want time.Duration
	}{
		{nil, nil, time.Minute},
		{nil, map[string]string{"LOCALSTACK_SWEEP_EVERY": "10s"}, 10 * time.Second},
		{[]string{"-sweep-every", "5s"}, map[string]string{"LOCALSTACK_SWEEP_EVERY": "10s"}, 5 * time.Second},
		{nil, map[string]string{"LOCALSTACK_SWEEP_EVERY": "off"}, 0},
		{[]string{"-sweep-every", "0"}, nil, 0},
	} {
		cfg, err := config(c.args, lookupIn(c.env), io.Discard)
		if err != nil || cfg.SweepEvery != c.want {
			t.Errorf("%v %v: SweepEvery %v (%v), want %v", c.args, c.env, cfg.SweepEvery, err, c.want)
		}
	}
	for _, bad := range []string{"soon", "-1m", "60"} {
		if _, err := config(nil, lookupIn(map[string]string{"LOCALSTACK_SWEEP_EVERY": bad}), io.Discard); err == nil || !strings.Contains(err.Error(), "LOCALSTACK_SWEEP_EVERY") {
			t.Errorf("LOCALSTACK_SWEEP_EVERY=%s: %v, want an error naming it", bad, err)
		}
	}
	if sweepLine(0) != "off" || sweepLine(time.Minute) != "1m0s" {
		t.Errorf("sweepLine: %q %q", sweepLine(0), sweepLine(time.Minute))
	}
}
