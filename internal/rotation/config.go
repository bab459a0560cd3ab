package rotation

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
)

// Defaults, from docs/rotation.md.
const (
	DefaultAPIURL       = "https://api.aiven.io"
	DefaultAllowedHost  = "api.aiven.io"
	DefaultSafetyMargin = 3 * time.Second
)

// defaultNoDeadlineTimeout bounds an invocation whose context has no
// deadline (Lambda always sets one; tests and tools may not).
const defaultNoDeadlineTimeout = 5 * time.Minute

// Config is the rotator's configuration, read from the environment.
type Config struct {
	// DefaultAPIURL is the Aiven API base URL for secrets without api_url
	// (AIVEN_WEB_URL).
	DefaultAPIURL string
	// AllowedHosts are the hosts a token may be sent to (ALLOWED_API_HOSTS).
	AllowedHosts []string
	// AllowInsecureLoopback permits http:// to 127.0.0.0/8 and ::1
	// (AIVEN_ALLOW_INSECURE_LOOPBACK).
	AllowInsecureLoopback bool
	// SafetyMargin is kept free before the invocation's deadline, so that a
	// step fails with its own error before Lambda stops it
	// (ROTATION_SAFETY_MARGIN, a Go duration).
	SafetyMargin time.Duration
	// SecretsManagerEndpoint overrides the Secrets Manager endpoint
	// (AWS_ENDPOINT_URL_SECRETS_MANAGER); empty keeps the aws.Config's.
	SecretsManagerEndpoint string
	// LambdaEndpoint overrides Lambda's endpoint, for the sweep's
	// follow-up invocations (AWS_ENDPOINT_URL_LAMBDA); empty takes AWS's.
	LambdaEndpoint string
	// ManagerTagValue is the value of the tag key ManagerTagKey that marks
	// a secret as a manager of this stack's application tokens
	// (MANAGER_TAG_VALUE; template.yaml sets the stack's name). Empty: this
	// function accepts no manager secret.
	ManagerTagValue string
	// Fleet holds the grace period and the sweep's settings (fleetconfig.go).
	Fleet FleetConfig
}

func (c Config) policy() aiven.Policy {
	return aiven.Policy{AllowedHosts: c.AllowedHosts, AllowInsecureLoopback: c.AllowInsecureLoopback}
}

// validate checks the configuration as a whole; its errors name the
// environment variable to fix.
func (c Config) validate() error {
	if len(c.AllowedHosts) == 0 {
		return fmt.Errorf("ALLOWED_API_HOSTS: no host listed")
	}
	if _, err := c.policy().CheckBaseURL(c.DefaultAPIURL); err != nil {
		return fmt.Errorf("AIVEN_WEB_URL: %w", err)
	}
	if c.SafetyMargin < 0 {
		return fmt.Errorf("ROTATION_SAFETY_MARGIN: must not be negative")
	}
	return c.Fleet.validate()
}

// ConfigFromEnv reads the configuration through getenv (os.Getenv in
// Lambda). Its errors name the bad variable; unset variables take the
// defaults of docs/rotation.md.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DefaultAPIURL:          DefaultAPIURL,
		AllowedHosts:           []string{DefaultAllowedHost},
		SafetyMargin:           DefaultSafetyMargin,
		SecretsManagerEndpoint: strings.TrimSpace(getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")),
		ManagerTagValue:        strings.TrimSpace(getenv("MANAGER_TAG_VALUE")),
		LambdaEndpoint:         strings.TrimSpace(getenv("AWS_ENDPOINT_URL_LAMBDA")),
	}
	if v := strings.TrimSpace(getenv("AIVEN_WEB_URL")); v != "" {
		c.DefaultAPIURL = v
	}
	if v := getenv("ALLOWED_API_HOSTS"); strings.TrimSpace(v) != "" {
		c.AllowedHosts = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.AllowedHosts = append(c.AllowedHosts, h)
			}
		}
	}
	if v := strings.TrimSpace(getenv("AIVEN_ALLOW_INSECURE_LOOPBACK")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("AIVEN_ALLOW_INSECURE_LOOPBACK: %q is not a boolean (true or false)", v)
		}
		c.AllowInsecureLoopback = b
	}
	if v := strings.TrimSpace(getenv("ROTATION_SAFETY_MARGIN")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("ROTATION_SAFETY_MARGIN: %q is not a duration such as 3s", v)
		}
		c.SafetyMargin = d
	}
	if err := aiven.CheckEnv(getenv); err != nil {
		return Config{}, err
	}
	fleet, err := fleetConfigFromEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	c.Fleet = fleet
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
