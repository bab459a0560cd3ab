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
	if cfg.SecretsManagerAddr != "127.0.0.1:4566" || cfg.AivenAddr != "127.0.0.1:4567" || cfg.Latency != 0 || !cfg.BackgroundRotation {
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
