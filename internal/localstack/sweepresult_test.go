package localstack_test

// Defect 4 of the outside review: the sweep's JSON result, which `aws
// lambda invoke` prints, quoted a stored token_prefix verbatim, so a value
// whose token_prefix holds a whole token had the sweep (and its dry run)
// print that token. Results now obey the rule log lines obey.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

func TestSweepResultsNeverQuoteAStoredTokenPrefix(t *testing.T) {
	w := newWorld(t)
	w.mustSucceed(w.rotate()) // aiven/e2e: healthy
	add := func(name, value string) {
		t.Helper()
		out, err := w.sm.CreateSecret(w.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		if err != nil {
			t.Fatal(err)
		}
		// Rotation configured whatever the configuration test finds.
		_, _ = w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN), RotateImmediately: aws.Bool(false)})
	}
	user := func(email string) (token string) {
		t.Helper()
		u, err := w.stack.Aiven.CreateUser(email)
		if err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		w.tokens[u.TokenPrefix] = u.Token
		w.mu.Unlock()
		return u.Token
	}
	// A dead token whose token_prefix is the whole token: token_invalid.
	dead := user("gone@example.com")
	if err := w.aivenAs(dead).AccessTokenRevoke(w.ctx, dead[:secret.PrefixLength]); err != nil {
		t.Fatal(err)
	}
	add("aiven/dead", fmt.Sprintf(`{"token":%q,"token_prefix":%q}`, dead, dead))
	// A live token whose token_prefix is the whole token, and a setting
	// that fails the secret before Aiven is asked: error.
	live := user("live@example.com")
	add("aiven/live-bad-setting", fmt.Sprintf(`{"token":%q,"token_prefix":%q,"rotate_before_expiry":"soon"}`, live, live))
	// A live token whose token_prefix is another live token.
	other := user("other@example.com")
	add("aiven/prefix-is-another-token", fmt.Sprintf(`{"token":%q,"token_prefix":%q,"api_url":"https://not-allowed.example"}`, live, other))

	for _, payload := range []string{`{"action":"sweep","dry_run":true}`, `{"action":"sweep"}`} {
		out, err := w.invokeAction(payload)
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		for name, tok := range map[string]string{"the dead token": dead, "the live token": live, "the other token": other} {
			if strings.Contains(string(out), tok[secret.PrefixLength:secret.PrefixLength+leakWindow]) {
				t.Errorf("%s: the result quotes %s", payload, name)
			}
		}
		res := w.sweep(payload)
		if res.Secrets != 4 || res.Healthy != 1 || res.TokenInvalid != 1 || res.Errors != 2 {
			t.Errorf("%s: figures %+v", payload, res)
		}
		for _, r := range res.Results {
			if p := r.TokenPrefix; p != "" && len(p) != secret.PrefixLength && !strings.HasPrefix(p, "[not a prefix") {
				t.Errorf("%s: %s shows token_prefix %.40q…, neither a prefix nor the placeholder", payload, r.Secret, p)
			}
		}
	}
	if logs := w.logs.String(); strings.Contains(logs, live[20:36]) || strings.Contains(logs, dead[20:36]) || strings.Contains(logs, other[20:36]) {
		t.Error("a log line quotes a token")
	}
	w.assertNoSecretsLeaked()
}
