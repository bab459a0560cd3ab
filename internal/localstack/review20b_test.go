package localstack_test

// An outside review of issue 19 §4 (break-glass) and issue 20 §3/§4
// (settings checked before they bite, the organization's policy named):
// each test here fails on the code as reviewed, and names the defect.

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aiven/go-client-codegen/handler/user"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

// A grace exactly as long as the rotation schedule's period (the issue's
// own case: "a grace as long as the interval (so the next rotation cuts it
// short)") is not reported. The check compares the grace with
// NextRotationDate - LastRotatedDate, which is the period plus the rest of
// the rotation window (the latest the next rotation comes); but Secrets
// Manager "rotates your secret at any time during the rotation window",
// which for rate(7 days) opens at midnight of the seventh day: the next
// rotation can come up to a day before the 7-day grace ends, and createSecret
// then revokes the previous token early. The earliest next rotation (the
// window's opening) is what a grace must be shorter than.
func TestReviewGraceAsLongAsTheRateIsReported(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "168h"))
	w.mustSucceed(w.rotateWith(rate("rate(7 days)"), true))
	d, err := w.sm.DescribeSecret(w.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(w.arn)})
	if err != nil {
		t.Fatal(err)
	}
	last, next := aws.ToTime(d.LastRotatedDate), aws.ToTime(d.NextRotationDate)
	windowOpens := next.Add(-24 * time.Hour) // rate() in days, no Duration: the whole UTC day
	if !windowOpens.Before(last.Add(168 * time.Hour)) {
		t.Fatalf("setup: the next window opens at %v, not before the grace ends at %v", windowOpens, last.Add(168*time.Hour))
	}
	res := w.sweepSettings()
	if res.GraceCutShort != 1 || res.Results[0].GraceCutShort == "" {
		t.Errorf("a 7-day grace on rate(7 days) (last rotation %v, window %v to %v): grace_cut_short %d, want 1: the next rotation may come %v before the grace ends",
			last.UTC(), windowOpens.UTC(), next.UTC(), res.GraceCutShort, last.Add(168*time.Hour).Sub(windowOpens))
	}
	if n := len(w.linesWithMsg("settings: the grace is as long as the interval between rotations")); n == 0 {
		t.Log("createSecret did not warn either")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// A break-glass request revokes the current token of another secret this
// function owns when that secret's value does not parse as the rotator's
// (here max_age_seconds written as a string, which only its own rotation
// refuses; every consumer still reads "token") and the token in it is
// JSON-escaped (a "\/" as PHP's json_encode writes every "/" of a base64
// token, or any \u escape): Protect skips a value secret.Parse refuses and
// falls back to token shapes in the raw text, where the escape splits the
// token's first 12 characters. The docs promise "the current token ... of
// any secret this function owns" is refused; a value that cannot be
// parsed should protect like one that cannot be read.
func TestReviewBreakGlassSparesATokenInAValueThatDoesNotParse(t *testing.T) {
	g := newGlassWorld(t)
	hand := g.currentOf(g.handMade).Token.Reveal()
	escaped := fmt.Sprintf(`\u%04x`, hand[0]) + hand[1:]
	if _, err := g.sm.PutSecretValue(g.ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(g.handMade),
		SecretString: aws.String(`{"token":"` + escaped + `","max_age_seconds":"2592000"}`),
	}); err != nil {
		t.Fatal(err)
	}
	var consumer struct{ Token string }
	v, _ := g.stack.SecretsManager.VersionByStage(g.handMade, "AWSCURRENT")
	if err := json.Unmarshal([]byte(v.SecretString), &consumer); err != nil || consumer.Token != hand {
		t.Fatalf("setup: a consumer does not read the token from the value: %v", err)
	}
	g.mu.Lock()
	g.leaked = append(g.leaked, hand) // I2: the world's own parse of that value fails too
	g.mu.Unlock()
	payload := fmt.Sprintf(`{"action":"rotate","secret_id":"aiven/e2e","revoke_prefixes":[%q]}`, prefixOf(hand))
	res := g.breakGlass(payload, time.Minute)
	g.mustSucceed(res.VersionID)
	outcome, reason := res.named(t, prefixOf(hand))
	if outcome != "refused" || !g.isLiveToken(hand) {
		t.Errorf("the current token of secret %s, which this function owns: %s (%s), live %v; want refused and live",
			g.handMade, outcome, reason, g.isLiveToken(hand))
	}
	g.assertNoSecretsLeaked()
}

// A break-glass request on a personal secret of the person whose token
// is the stack's manager (the manager secret, which "may itself be a
// personal-token secret that this same function rotates", here is not)
// revokes the manager's token when named: Protect knows only the secrets
// this function owns, not the manager secrets their values name
// (manager_secret_id) and the function reads. Every application secret
// of the stack then can neither rotate nor heal: "another outage", which
// the refusal rules exist to prevent. The manager secret's current token
// should be refused like an owned secret's. (The admin holds two tokens
// here, the manager's and a personal secret's: adminTokens says so to
// the world's I2 check.)
func TestReviewBreakGlassSparesTheManagersToken(t *testing.T) {
	aw := newAppWorld(t, nil, func(_ *appWorld, c *localstack.Config) {
		c.RotatorEnv = map[string]string{"PREVIOUS_TOKEN_GRACE": "0s"}
	})
	aw.mustSucceed(aw.rotateARN(aw.arn)) // the application secret, owned
	aw.adminTokens = 2                   // the manager's token, and the admin's personal secret's
	// The admin's own personal secret, rotated by this function too.
	made, err := aw.aivenAs(aw.admin.Token).AccessTokenCreate(aw.ctx, &user.AccessTokenCreateIn{Description: "admin laptop"})
	if err != nil {
		t.Fatal(err)
	}
	aw.mu.Lock()
	aw.tokens[made.TokenPrefix] = made.FullToken
	aw.mu.Unlock()
	personal := aw.createSecret("aiven/admin-personal", made.FullToken, false)
	aw.mustSucceed(aw.rotateARN(personal))
	aw.recordAll()

	manager := aw.admin.Token
	payload := fmt.Sprintf(`{"action":"rotate","secret_id":%q,"revoke_prefixes":[%q]}`, personal, prefixOf(manager))
	res := aw.breakGlass(payload, time.Minute)
	aw.mustSucceed(res.VersionID)
	outcome, reason := res.named(t, prefixOf(manager))
	if outcome != "refused" || !aw.isLiveToken(manager) {
		t.Errorf("the token of manager secret %s, which application secret %s names: %s (%s), live %v; want refused and live",
			aw.managerARN, aw.arn, outcome, reason, aw.isLiveToken(manager))
	}
	if a := aw.lastAttempt(aw.rotateARN(aw.arn)); a.Outcome != "RotationSucceeded" {
		t.Errorf("the application secret's next rotation: %s (%s)", a.Outcome, a.Error)
	}
}
