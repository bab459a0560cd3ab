package localstack_test

// Regression tests of the third review (issue 17): whoever may write one
// secret's value gains nothing beyond that secret's own token.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
)

// tokensOfUser counts every token Aiven ever made for the user (live,
// revoked or expired): a token made and revoked at once still counts.
func (aw *appWorld) tokensOfUser(email string) int {
	n := 0
	for _, tok := range aw.stack.Aiven.Tokens() {
		if tok.User == email {
			n++
		}
	}
	return n
}

// Defect 1: the writer of application secret A puts a dead token in it and
// names application user B, an organization admin whom the manager binds to
// another secret. Neither a rotation of A nor the sweep (which would heal
// A's dead token) may create a token of B.
func TestWritingASecretCannotMintAnotherApplicationUsersToken(t *testing.T) {
	const otherSecret = "aiven/deployer-token"
	aw := newAppWorld(t, nil)
	admin, err := aw.stack.Aiven.CreateApplicationUser(appOrg, "deployer", []string{aivenemulator.RoleOrganizationAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aw.aivenAs(aw.admin.Token).ApplicationUserAccessTokenCreate(aw.ctx, appOrg, admin.UserID,
		&applicationuser.ApplicationUserAccessTokenCreateIn{Description: "deployer"}); err != nil {
		t.Fatal(err)
	}
	// The manager's owner binds ci to A, and the admin user to another secret.
	raw, _ := json.Marshal(map[string]any{"token": aw.admin.Token, "application_tokens": []any{
		map[string]any{"organization_id": appOrg, "application_user_id": aw.app.UserID, "secrets": []string{appSecretName}},
		map[string]any{"organization_id": appOrg, "application_user_id": admin.UserID, "secrets": []string{otherSecret}},
	}})
	aw.putManager(string(raw))
	aw.mustSucceed(aw.rotateARN(aw.arn)) // A is rotated by this function from now on

	// The writer of A: a dead token, B's id, and user fields that claim B.
	hostile := map[string]any{"kind": "application", "token": strings.Repeat("Zm9vYmFy", 20), "organization_id": appOrg,
		"application_user_id": admin.UserID, "user_id": admin.UserID, "user": admin.Email, "manager_secret_id": managerSecretName}
	value, _ := json.Marshal(hostile)
	if _, err := aw.sm.PutSecretValue(aw.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(aw.arn), SecretString: aws.String(string(value))}); err != nil {
		t.Fatal(err)
	}
	aw.healing.Store(true) // A's current token is dead on purpose
	aw.recordAll()
	before := aw.tokensOfUser(admin.Email)

	res := aw.sweep(`{"action":"sweep"}`)
	if res.Healed != 0 || res.RotationsStarted != 0 {
		t.Errorf("the sweep healed A for user B: %+v", res)
	}
	found := false
	for _, r := range res.Results {
		if r.Secret == aw.arn {
			found = true
			if r.Outcome != "error" || !strings.Contains(r.Error, "does not bind application user "+admin.UserID) || r.RotationStarted != "" {
				t.Errorf("sweep of A: outcome %q, error %q, rotation %q; want an error naming the missing binding and no rotation", r.Outcome, r.Error, r.RotationStarted)
			}
		}
	}
	if !found {
		t.Fatalf("the sweep did not visit A: %+v", res)
	}

	version := aw.rotateARN(aw.arn)
	a := aw.lastAttempt(version)
	if a.Outcome != "RotationFailed" || !strings.Contains(a.Error, "does not bind application user "+admin.UserID) {
		t.Errorf("rotation of A for user B: %s %q, want RotationFailed naming the missing binding", a.Outcome, a.Error)
	}
	if after := aw.tokensOfUser(admin.Email); after != before {
		t.Fatalf("Aiven made %d token(s) of application user B for the writer of secret A", after-before)
	}
	aw.assertNoSecretsLeaked()
}
