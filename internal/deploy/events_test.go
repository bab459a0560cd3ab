package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/google/uuid"
)

// steps are the rotation events' samples, one file per step.
var steps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// actionEvents are the other samples: the sweep, its dry run, EventBridge's
// Scheduled Event, on-demand rotation and a break-glass one (docs/fleet.md,
// "Events and results").
var actionEvents = []string{"sweep", "sweep-dry-run", "scheduled-event", "rotate", "rotate-break-glass"}

// The events/ files are what `sam local invoke -e` and `aws lambda invoke
// --payload file://...` send; each must be the exact shape its sender
// sends, or a local run proves nothing.
func TestSampleEvents(t *testing.T) {
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	var first events.SecretsManagerSecretRotationEvent
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		got = append(got, name)
		if !slices.Contains(steps, name) {
			continue // TestSampleActionEvents
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			var ev events.SecretsManagerSecretRotationEvent
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("not a rotation event: %v", err)
			}
			if ev.Step != name {
				t.Errorf("Step = %q, want %q (the file's name)", ev.Step, name)
			}
			if first.SecretID == "" {
				first = ev
			}
			if ev.SecretID != first.SecretID || ev.ClientRequestToken != first.ClientRequestToken {
				t.Errorf("SecretId/ClientRequestToken = %q/%q, want the same as the other steps (%q/%q): one rotation",
					ev.SecretID, ev.ClientRequestToken, first.SecretID, first.ClientRequestToken)
			}
			if _, err := uuid.Parse(ev.ClientRequestToken); err != nil {
				t.Errorf("ClientRequestToken %q: %v", ev.ClientRequestToken, err)
			}
			a, err := arn.Parse(ev.SecretID)
			if err != nil || a.Service != "secretsmanager" || !strings.HasPrefix(a.Resource, "secret:") || len(a.AccountID) != 12 {
				t.Errorf("SecretId %q is not a secret ARN (%v)", ev.SecretID, err)
			}
			// A sample must never look like a real credential.
			if !strings.Contains(strings.ToLower(ev.RotationToken), "fake") {
				t.Errorf("RotationToken %q should be obviously fake", ev.RotationToken)
			}
		})
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(append(slices.Clone(steps), actionEvents...)))
	if !slices.Equal(got, want) {
		t.Errorf("events/ holds %v, want %v", got, want)
	}
}

// action is the shape of the function's own events, field for field:
// decoding with unknown fields refused, a sample with a stray field fails.
type action struct {
	Action         string   `json:"action"`
	DryRun         *bool    `json:"dry_run,omitempty"`
	SecretID       string   `json:"secret_id,omitempty"`
	RevokePrevious string   `json:"revoke_previous,omitempty"`
	RevokePrefixes []string `json:"revoke_prefixes,omitempty"`
}

func decodeStrict(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
}

func TestSampleActionEvents(t *testing.T) {
	t.Run("sweep", func(t *testing.T) {
		var a action
		decodeStrict(t, "sweep", &a)
		if a.Action != "sweep" || a.DryRun != nil || a.SecretID != "" || a.RevokePrevious != "" || a.RevokePrefixes != nil {
			t.Errorf("sweep.json = %+v, want exactly {action: sweep}: the payload of the template's SweepSchedule", a)
		}
		// The template's schedule sends the same event.
		target, _ := loadTemplate(t).Resources["SweepSchedule"].Properties["Target"].(map[string]any)
		var fromTemplate action
		if err := json.Unmarshal([]byte(target["Input"].(string)), &fromTemplate); err != nil || fromTemplate.Action != a.Action || fromTemplate.DryRun != nil || fromTemplate.SecretID != "" {
			t.Errorf("SweepSchedule Input %v (%v), want the sample's %+v", target["Input"], err, a)
		}
	})
	t.Run("sweep-dry-run", func(t *testing.T) {
		var a action
		decodeStrict(t, "sweep-dry-run", &a)
		if a.Action != "sweep" || a.DryRun == nil || !*a.DryRun || a.SecretID != "" {
			t.Errorf("sweep-dry-run.json = %+v, want {action: sweep, dry_run: true}", a)
		}
	})
	t.Run("rotate", func(t *testing.T) {
		var a action
		decodeStrict(t, "rotate", &a)
		if a.Action != "rotate" || a.DryRun != nil {
			t.Errorf("rotate.json = %+v, want {action: rotate, secret_id}", a)
		}
		var step events.SecretsManagerSecretRotationEvent
		decodeStrict(t, "createSecret", &step)
		if a.SecretID != step.SecretID {
			t.Errorf("secret_id %q, want the step samples' secret %q", a.SecretID, step.SecretID)
		}
	})
	t.Run("rotate-break-glass", func(t *testing.T) {
		var a action
		decodeStrict(t, "rotate-break-glass", &a)
		var step events.SecretsManagerSecretRotationEvent
		decodeStrict(t, "createSecret", &step)
		if a.Action != "rotate" || a.SecretID != step.SecretID || a.RevokePrevious != "now" || len(a.RevokePrefixes) == 0 {
			t.Errorf("rotate-break-glass.json = %+v, want {action: rotate, secret_id, revoke_previous: now, revoke_prefixes}", a)
		}
		// A sample names a token by its prefix only, and an obviously fake one.
		for _, p := range a.RevokePrefixes {
			if len(p) != 12 || !strings.Contains(strings.ToLower(p), "leaked") {
				t.Errorf("revoke_prefixes %q: want 12-character prefixes that are obviously fake", p)
			}
		}
	})
	t.Run("scheduled-event", func(t *testing.T) {
		// aws-lambda-go's type for EventBridge (CloudWatch Events) events.
		var ev events.CloudWatchEvent
		decodeStrict(t, "scheduled-event", &ev)
		if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Version != "0" {
			t.Errorf("detail-type/source/version = %q/%q/%q, want Scheduled Event/aws.events/0", ev.DetailType, ev.Source, ev.Version)
		}
		if _, err := uuid.Parse(ev.ID); err != nil {
			t.Errorf("id %q: %v", ev.ID, err)
		}
		if len(ev.AccountID) != 12 || ev.Region == "" || ev.Time.IsZero() {
			t.Errorf("account/region/time = %q/%q/%v", ev.AccountID, ev.Region, ev.Time)
		}
		if string(ev.Detail) != "{}" {
			t.Errorf("detail = %s, want {} (a schedule has none)", ev.Detail)
		}
		if len(ev.Resources) != 1 {
			t.Fatalf("resources = %v, want the rule's ARN", ev.Resources)
		}
		if a, err := arn.Parse(ev.Resources[0]); err != nil || a.Service != "events" || !strings.HasPrefix(a.Resource, "rule/") {
			t.Errorf("resources[0] %q is not an EventBridge rule ARN (%v)", ev.Resources[0], err)
		}
	})
}

// The sample ARN must be one the template accepts as SecretArn, so the
// samples and a deployment agree on what a secret ARN looks like.
func TestSampleSecretArnFitsTemplate(t *testing.T) {
	pattern, _ := loadTemplate(t).Parameters["SecretArn"]["AllowedPattern"].(string)
	re := regexp.MustCompile(pattern)
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "events", "createSecret.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SecretsManagerSecretRotationEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	if !re.MatchString(ev.SecretID) {
		t.Errorf("sample SecretId %q does not match SecretArn's AllowedPattern %q", ev.SecretID, pattern)
	}
}
