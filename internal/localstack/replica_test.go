package localstack_test

// Issue 19, section 3: no previous token is revoked while a replica
// region does not serve the replacing version as AWSCURRENT
// (docs/fleet.md, "Replica regions").

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

const replicaRegion = "eu-west-1"

// replicate adds a replica of the world's secret in replicaRegion, caught
// up at once until held.
func (w *world) replicate() {
	w.t.Helper()
	if err := w.stack.SecretsManager.SetReplicationLag(0); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.sm.ReplicateSecretToRegions(w.ctx, &secretsmanager.ReplicateSecretToRegionsInput{
		SecretId: aws.String(w.arn), AddReplicaRegions: []smtypes.ReplicaRegionType{{Region: aws.String(replicaRegion)}},
	}); err != nil {
		w.t.Fatal(err)
	}
}

// With PreviousTokenGrace 0s, finishSecret revokes the previous token at
// once; a replica region held behind (it still serves the previous value)
// keeps it, the sweeps wait while the replica lags, and the first sweep
// after it catches up revokes it. A replica whose replication Failed is
// an error line and SweepReplicaLag, and the token stays.
func TestReplicaBehindDelaysTheRevocation(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "0s"))
	w.replicate()
	if _, err := w.stack.SecretsManager.HoldReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(w.rotate())
	_, current := w.current()
	if !w.isLiveToken(w.user.Token) {
		t.Fatal("finishSecret revoked the previous token while the replica still serves it")
	}
	held := w.sweep(`{"action":"sweep"}`)
	entry := held.Results[0]
	if held.TokensRevoked != 0 || !strings.Contains(entry.ReplicaWait, replicaRegion) || entry.ReplicaOverdue || !w.isLiveToken(w.user.Token) {
		t.Fatalf("a sweep with the replica behind: %+v", entry)
	}
	if lines := w.logLinesWith("kept until every replica region serves"); len(lines) < 2 {
		t.Fatalf("want finishSecret's and the sweep's warning, got %v", lines)
	}

	if _, err := w.stack.SecretsManager.ReleaseReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	caught := w.sweep(`{"action":"sweep"}`)
	if caught.TokensRevoked != 1 || w.isLiveToken(w.user.Token) || !w.isLiveToken(current.Token.Reveal()) {
		t.Fatalf("the sweep after the replica caught up: %+v", caught.Results[0])
	}

	// The next rotation, with the replica held behind again, then failed:
	// the sweep reports it overdue, and the rotation after waits.
	if _, err := w.stack.SecretsManager.HoldReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(w.rotate())
	if !w.isLiveToken(current.Token.Reveal()) {
		t.Fatal("finishSecret revoked the previous token while the replica still serves it")
	}
	if _, err := w.stack.SecretsManager.FailReplica(w.arn, replicaRegion, ""); err != nil {
		t.Fatal(err)
	}
	failed := w.sweep(`{"action":"sweep"}`)
	if !failed.Results[0].ReplicaOverdue || failed.ReplicaLag != 1 || !w.isLiveToken(current.Token.Reveal()) {
		t.Fatalf("a sweep with the replica Failed: %+v", failed.Results[0])
	}
	if lines := w.logLinesWith("a replica region failed or has not caught up"); len(lines) != 1 || lines[0]["level"] != "ERROR" {
		t.Fatalf("no error line for the failed replica: %v", lines)
	}
	if !strings.Contains(w.logs.String(), `"SweepReplicaLag":1`) {
		t.Error("no sweep metric line with SweepReplicaLag 1")
	}
	version := w.rotate()
	if a := w.lastAttempt(version); a.Outcome == "RotationSucceeded" || !strings.Contains(a.Error, "replication Failed") {
		t.Fatalf("a rotation with the replica Failed: %+v", a)
	}
	if !w.isLiveToken(current.Token.Reveal()) {
		t.Fatal("the waiting rotation revoked the token the failed replica serves")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}

// The next rotation does not revoke the token kept for a grace while a
// replica still serves the version before the current one: createSecret
// fails, naming the region, making no third token; once the replica has
// caught up, the rotation goes on.
func TestNextRotationWaitsForAReplicaBehind(t *testing.T) {
	w := newWorld(t, withEnv("PREVIOUS_TOKEN_GRACE", "1h"))
	w.replicate()
	if _, err := w.stack.SecretsManager.HoldReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	w.mustSucceed(w.rotate()) // the replica still serves the seed's version
	_, first := w.current()
	live := len(w.liveTokens())

	version := w.rotate()
	if a := w.lastAttempt(version); a.Outcome == "RotationSucceeded" || !strings.Contains(a.Error, replicaRegion) || !strings.Contains(a.Error, "waits") {
		t.Fatalf("a rotation with a graced token and the replica behind: %+v", a)
	}
	if !w.isLiveToken(w.user.Token) || !w.isLiveToken(first.Token.Reveal()) || len(w.liveTokens()) != live {
		t.Fatalf("the waiting rotation revoked or made a token: live %v", prefixes(w.liveTokens()))
	}

	if _, err := w.stack.SecretsManager.ReleaseReplica(w.arn, replicaRegion); err != nil {
		t.Fatal(err)
	}
	// Secrets Manager's retry of the same rotation.
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		if err := w.invoke(step, version, ""); err != nil {
			t.Fatalf("the retry's %s: %v", step, err)
		}
	}
	if cur, _ := w.current(); cur != version {
		t.Fatalf("AWSCURRENT is %s after the retry, want %s", cur, version)
	}
	if w.isLiveToken(w.user.Token) {
		t.Fatal("the seed token outlived the rotation after the replica caught up")
	}
	w.checkProblems()
	w.assertNoSecretsLeaked()
}
