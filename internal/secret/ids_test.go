package secret

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// aivenLikeToken is 372 characters of standard base64, as Aiven's tokens.
func aivenLikeToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 279)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestCheckAivenID(t *testing.T) {
	for _, id := range []string{
		"org1a2b3c4d5e6", "u2a000003", "u1abc2345678", "org1", "org-nope", "u_x", "a",
		strings.Repeat("a", maxAivenIDLength),
	} {
		if err := CheckAivenID("organization_id", id); err != nil {
			t.Errorf("CheckAivenID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{
		"", "../x", "..", ".", "org1/application-users", "org1%2F..", "org1?x=1", "org1#x",
		"org1 ", " org1", "org1\n", "org1\x00", "orgé", "org1.x", "org+1", "org=1", "org@1",
		strings.Repeat("a", maxAivenIDLength+1),
	} {
		err := CheckAivenID("organization_id", id)
		if err == nil {
			t.Errorf("CheckAivenID(%q) = nil, want a refusal", id)
			continue
		}
		if err.Field != "organization_id" || !strings.Contains(err.Error(), `"organization_id"`) {
			t.Errorf("CheckAivenID(%q) = %v, want it to name the field", id, err)
		}
		if len(id) > 2 && strings.Contains(err.Error(), id) {
			t.Errorf("CheckAivenID(%q) quotes the value: %v", id, err)
		}
	}
}

func TestCheckSecretIDAcceptsNamesAndARNs(t *testing.T) {
	// A long name AWS allows, with separators every few characters.
	long := strings.Repeat("team-a/", maxSecretNameLength/7) + "x"
	for _, id := range []string{
		"aiven/manager-token", "aiven/manager", "a", "my.secret@prod", "path/to+x=y_z-1",
		"AVNU_manager", // five letters after "AVNU_" are not a token's
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/manager-token-AbCdEf",
		"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:aiven/manager-token-AbCdEf",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:aiven/manager-token", // partial ARN
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven/manager-XyZ123",
		long[:maxSecretNameLength],
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:" + long[:maxSecretNameLength] + "-AbCdEf",
		// 31 base64 characters with every class: short of the scrubber's 32.
		"Abcdefghijklmnopqrstuvwxyz01234",
	} {
		if err := CheckSecretID("manager_secret_id", id); err != nil {
			t.Errorf("CheckSecretID(%.60q) = %v, want nil", id, err)
		}
	}
}

func TestCheckSecretIDRefusesTokensAndNonNames(t *testing.T) {
	tok := aivenLikeToken(t)
	tokens := map[string]string{
		"a token":                 tok,
		"a new-style token":       "AVNU_" + tok,
		"a token in an ARN":       "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + tok,
		"a token after a path":    "aiven/" + tok,
		"a token's first 40":      tok[:40] + "Aa1", // mixed classes: one in 250 random runs lacks a digit
		"AVNU_ and 8 more":        "AVNU_abcdefgh",
		"72 characters, one case": strings.Repeat("a", 72),
	}
	for name, id := range tokens {
		err := CheckSecretID("manager_secret_id", id)
		if err == nil {
			t.Errorf("%s: CheckSecretID = nil, want a refusal", name)
			continue
		}
		if !strings.Contains(err.Error(), `"manager_secret_id"`) || !strings.Contains(err.Error(), "token") {
			t.Errorf("%s: %v, want it to name the field and say it looks like a token", name, err)
		}
		if strings.Contains(err.Error(), id[max(0, len(id)-16):]) {
			t.Errorf("%s: the error quotes the value: %v", name, err)
		}
	}
	for _, id := range []string{
		"", "aiven manager", "aiven/manager\n", "aiven:manager", "aiven/%2F", "aiven/é", "aiven/*",
		strings.Repeat("ab-", maxSecretNameLength/3+1),
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:" + strings.Repeat("ab-", maxSecretIDLength/3),
	} {
		err := CheckSecretID("manager_secret_id", id)
		if err == nil {
			t.Errorf("CheckSecretID(%.60q) = nil, want a refusal", id)
			continue
		}
		if !strings.Contains(err.Error(), `"manager_secret_id"`) {
			t.Errorf("CheckSecretID(%.60q) = %v, want it to name the field", id, err)
		}
	}
}

func TestCheckApplicationIDs(t *testing.T) {
	tok := aivenLikeToken(t)
	value := func(org, user, manager string) *Value {
		t.Helper()
		v, err := Parse(fmt.Sprintf(`{"kind":"application","token":%q,"organization_id":%q,"application_user_id":%q,"manager_secret_id":%q}`,
			tok, org, user, manager))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if err := value("org1a2b3c4d5e6", "u2a000003", "aiven/manager-token").CheckApplicationIDs(); err != nil {
		t.Fatalf("a valid application secret: %v", err)
	}
	for _, tc := range []struct{ field, org, user, manager string }{
		{"organization_id", "../x", "u2a000003", "aiven/manager-token"},
		{"application_user_id", "org1", "u2a000003/..", "aiven/manager-token"},
		{"manager_secret_id", "org1", "u2a000003", tok},
	} {
		err := value(tc.org, tc.user, tc.manager).CheckApplicationIDs()
		if err == nil || !strings.Contains(err.Error(), `"`+tc.field+`"`) {
			t.Errorf("%s: %v, want an error naming it", tc.field, err)
		}
		if err != nil && strings.Contains(err.Error(), tok[20:36]) {
			t.Errorf("%s: the error quotes the token", tc.field)
		}
	}
}
