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

// The events/ files are what `sam local invoke -e` sends; they must be the
// exact shape Secrets Manager sends, or a local run proves nothing.
func TestSampleEvents(t *testing.T) {
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}

	steps := []string{"createSecret", "setSecret", "testSecret", "finishSecret"}
	var got []string
	var first events.SecretsManagerSecretRotationEvent
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		got = append(got, name)
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
	want := slices.Sorted(slices.Values(steps))
	if !slices.Equal(got, want) {
		t.Errorf("events/ holds %v, want %v", got, want)
	}
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
