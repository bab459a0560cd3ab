package fleet

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/tokentest"
)

// Every field of every action's result leaves the function scrubbed as a
// log line is: names, strings, strings in lists, member names; the
// structure, the member order, numbers and booleans are kept, and
// prefixes, ARNs and version ids survive.
func TestScrubResultCutsTokensFromEveryField(t *testing.T) {
	tok, avnu := tokentest.AivenShaped(t, false), tokentest.AivenShaped(t, true)
	age, expiry := int64(3600), int64(-5)
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/api-token-AbCdEf"
	sweep := &sweepReport{Action: actionSweep, DryRun: true, Secrets: 2, Healthy: 1, Errors: 1, OldestTokenAgeS: &age, SoonestExpiryS: &expiry,
		Results: []sweptSecret{
			{Secret: arn, Name: "aiven/api-token", Outcome: sweptHealthy, TokenPrefix: tok[:12], TokenAgeS: &age, ExpiresInS: &expiry,
				WouldRevoke: []string{"AVNU_abcdefg"}, WouldRotate: true, RotationStarted: "00000000-0000-4000-8000-000000000001"},
			{Secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + tok, Name: tok, Outcome: sweptError,
				TokenPrefix: tok, Revoked: []string{avnu, "ABCDEFGHIJKL"}, Error: "upstream said " + avnu + " and %2F" + tok[40:80]},
		}}
	rotate := &rotateReport{Action: actionRotate, SecretID: arn, Name: tok, VersionID: "00000000-0000-4000-8000-000000000002", Started: true, Message: tok}
	for name, v := range map[string]any{"sweep": sweep, "rotate": rotate, "a map with a token as a key": map[string]any{tok: 1.5, "k": []any{nil, true, tok}}} {
		raw, err := scrub.Result(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := string(raw)
		for _, s := range []string{tok, avnu} {
			if slice, ok := tokentest.Leaks(out, s); ok {
				t.Errorf("%s: the result holds %q of a token: %s", name, slice, out)
			}
		}
		var back any
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("%s: not JSON: %v: %s", name, err, out)
		}
		orig, _ := json.Marshal(v)
		if secret.Scrub(string(orig)) == string(orig) {
			t.Fatalf("%s: the fixture holds no token", name)
		}
		// Nothing else changed: the original, scrubbed as a whole, reads
		// the same here (the fixture's strings hold no JSON escapes).
		if want := secret.Scrub(string(orig)); out != want {
			t.Errorf("%s:\n got %s\nwant %s", name, out, want)
		}
	}
	raw, _ := scrub.Result(sweep)
	for _, kept := range []string{`"token_prefix":"` + tok[:12] + `"`, `"would_revoke":["AVNU_abcdefg"]`, `"secret":"` + arn + `"`,
		`"rotation_started":"00000000-0000-4000-8000-000000000001"`, `"oldest_token_age_s":3600`, `"soonest_expiry_s":-5`, `"dry_run":true`} {
		if !strings.Contains(string(raw), kept) {
			t.Errorf("the scrubbed result lost %s: %s", kept, raw)
		}
	}
}
