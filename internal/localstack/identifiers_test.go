package localstack_test

// Defect 7 of the outside review: the identifiers of an application
// secret are written by whoever may write the secret's value, and reach
// Aiven URL paths (organization_id, application_user_id) and Secrets
// Manager's SecretId (manager_secret_id, which CloudTrail records). A value
// outside their shape fails the rotation naming the field, never quoting
// it, before any call is made with it.

import (
	"slices"
	"strings"
	"testing"
)

// A token pasted into manager_secret_id is never sent as a SecretId: the
// rotation fails naming the field, the Secrets Manager emulator sees no
// call with it, and no log line, error or result holds it.
func TestApplicationTokenAsManagerSecretIDIsNeverSent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token func(aw *appWorld) string
	}{
		{"the manager's token", func(aw *appWorld) string { return aw.admin.Token }},
		{"the application token itself", func(aw *appWorld) string { return aw.first }},
		{"a token as an ARN's name", func(aw *appWorld) string {
			return "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + aw.admin.Token
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pasted string
			aw := newAppWorld(t, func(aw *appWorld) map[string]any {
				pasted = tc.token(aw)
				return map[string]any{"kind": "application", "token": aw.first, "organization_id": appOrg,
					"application_user_id": aw.app.UserID, "manager_secret_id": pasted}
			})
			aw.stack.Aiven.Faults().ResetCalls()
			aw.appFailsCleanly("manager_secret_id", "token")
			for _, id := range aw.wire.sentSecretIDs() {
				if strings.Contains(id, pasted[len(pasted)-leakWindow:]) {
					t.Errorf("a Secrets Manager call carried the pasted token as its SecretId")
				}
				if id != aw.arn && id != appSecretName && id != aw.managerARN && id != managerSecretName {
					t.Errorf("a Secrets Manager call with SecretId %.40q, neither secret of this world", id)
				}
			}
			if calls := aw.stack.Aiven.Faults().Calls(); len(calls) != 0 {
				t.Errorf("Aiven calls %v, want none: the value is refused before any", calls)
			}
			aw.assertNoSecretsLeaked()
		})
	}
}

// An organization_id or application_user_id that is not an identifier's
// shape is refused before any Aiven call: a path segment such as "../x"
// or "org1/application-users" could otherwise address another resource.
func TestApplicationIdentifiersOutsideTheirShapeAreRefused(t *testing.T) {
	for _, tc := range []struct {
		field, value string
	}{
		{"organization_id", "../x"},
		{"organization_id", "org1/application-users"},
		{"organization_id", ".."},
		{"organization_id", "org1?x=1"},
		{"organization_id", "org1%2F.."},
		{"organization_id", strings.Repeat("o", 65)},
		{"application_user_id", "u2a000003/access-tokens"},
		{"application_user_id", ".."},
		{"application_user_id", "u2a000003 "},
		{"application_user_id", "u2a000003#"},
	} {
		t.Run(tc.field+"="+tc.value[:min(len(tc.value), 24)], func(t *testing.T) {
			aw := newAppWorld(t, func(aw *appWorld) map[string]any {
				v := map[string]any{"kind": "application", "token": aw.first, "organization_id": appOrg,
					"application_user_id": aw.app.UserID, "manager_secret_id": managerSecretName}
				v[tc.field] = tc.value
				return v
			})
			aw.stack.Aiven.Faults().ResetCalls()
			urls := len(aw.aivenWire.urls())
			aw.appFailsCleanly(tc.field)
			if calls := aw.stack.Aiven.Faults().Calls(); len(calls) != 0 {
				t.Errorf("Aiven calls %v, want none", calls)
			}
			if sent := aw.aivenWire.urls()[urls:]; len(sent) != 0 {
				t.Errorf("requests reached the Aiven emulator: %q", sent)
			}
			a := aw.lastAttempt(aw.rotationVersions()[0])
			if strings.Contains(a.Error, tc.value) && len(tc.value) > 2 {
				t.Errorf("the error quotes the value: %q", a.Error)
			}
		})
	}
}

// rotationVersions are the versions of the rotation log, latest first.
func (aw *appWorld) rotationVersions() []string {
	var out []string
	for _, a := range aw.stack.SecretsManager.Rotations() {
		out = append(out, a.VersionID)
	}
	slices.Reverse(out)
	return out
}
