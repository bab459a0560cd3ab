// Command demo shows real rotations: `make demo`.
//
// It starts the local stack in process, creates an Aiven user, stores the
// user's token in a secret as a plain string (the bootstrap form), turns on
// rotation, rotates three times, and then proves the outcome: every earlier
// token is rejected with 401, the current one is accepted, and the user
// holds no token besides it. Then, on a second secret with a 3-second
// grace, the previous token keeps working until the sweep after its grace
// revokes it; and, with the Aiven emulator's clock moved 25 days on, the
// sweep rotates both tokens before they expire. Last, it rotates one
// application user's token, managed by an organization admin's token kept
// in another secret, and proves the same. It exits non-zero if any of
// that fails.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	aiven "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/applicationuser"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aivenemulator"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

const (
	secretName        = "aiven/demo-token"
	managerSecretName = "aiven/demo-manager"
	appSecretName     = "aiven/demo-ci"
	userEmail         = "demo@example.com"
	rotations         = 3
	// The secret with a grace period.
	graceSecret = "aiven/demo-grace"
	graceEmail  = "grace@example.com"
)

func main() {
	start := time.Now()
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	fmt.Printf("\nDemo passed in %s.\n", time.Since(start).Round(time.Millisecond))
}

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	stack, err := localstack.Start(ctx, localstack.Config{
		SecretsManagerAddr: "127.0.0.1:0",
		AivenAddr:          "127.0.0.1:0",
		// The stack keeps a replaced token 3 seconds (the fleet part shows
		// it); the first secret asks for none (a secret may shorten the
		// stack's grace, never lengthen it), so each replaced token dies in
		// finishSecret.
		RotatorEnv: map[string]string{"PREVIOUS_TOKEN_GRACE": "3s"},
	})
	if err != nil {
		return fmt.Errorf("start the local stack: %w", err)
	}
	defer stack.Close()
	fmt.Fprintf(out, "Local stack: Secrets Manager %s, Aiven %s\n", stack.SecretsManagerURL, stack.AivenURL)

	user, err := stack.Aiven.CreateUser(userEmail)
	if err != nil {
		return fmt.Errorf("create the Aiven user: %w", err)
	}
	fmt.Fprintf(out, "Aiven user %s holds token %s...\n", user.Email, user.TokenPrefix)

	sm := stack.SecretsManagerClient()
	first, _ := json.Marshal(map[string]string{"token": user.Token, "previous_token_grace": "0s"})
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(secretName),
		SecretString: aws.String(string(first)),
	})
	if err != nil {
		return fmt.Errorf("create the secret: %w", err)
	}
	fmt.Fprintf(out, "Secret %s stores it, with previous_token_grace 0s (no grace).\n\n", aws.ToString(created.ARN))

	tokens := []string{user.Token}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "rotation\tversion\tnew prefix\trevoked prefix\ttokens at Aiven\toutcome")
	for i := 1; i <= rotations; i++ {
		in := &secretsmanager.RotateSecretInput{SecretId: created.ARN}
		if i == 1 {
			in.RotationLambdaARN = aws.String(localstack.FunctionARN)
			in.RotationRules = &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(14 days)")}
		}
		rotated, err := sm.RotateSecret(ctx, in)
		if err != nil {
			return fmt.Errorf("rotation %d: %w", i, err)
		}
		version := aws.ToString(rotated.VersionId)
		outcome := lastOutcome(stack, version)

		current, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: created.ARN})
		if err != nil {
			return fmt.Errorf("rotation %d: read AWSCURRENT: %w", i, err)
		}
		value, err := secret.Parse(aws.ToString(current.SecretString))
		if err != nil {
			return fmt.Errorf("rotation %d: AWSCURRENT: %w", i, err)
		}
		live := liveTokens(stack, userEmail)
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\n", i, version, value.TokenPrefix, value.PreviousTokenPrefix, live, outcome)
		if aws.ToString(current.VersionId) != version {
			w.Flush()
			return fmt.Errorf("rotation %d: AWSCURRENT is version %s, want %s (outcome %s)", i, aws.ToString(current.VersionId), version, outcome)
		}
		tokens = append(tokens, value.Token.Reveal())
	}
	w.Flush()

	fmt.Fprintln(out, "\nProof:")
	for i, token := range tokens[:len(tokens)-1] {
		status := whoami(ctx, stack.AivenURL, token)
		fmt.Fprintf(out, "  token before rotation %d: HTTP %d\n", i+1, status)
		if status != 401 {
			return fmt.Errorf("an earlier token answered %d, want 401", status)
		}
	}
	status := whoami(ctx, stack.AivenURL, tokens[len(tokens)-1])
	fmt.Fprintf(out, "  current token: HTTP %d\n", status)
	if status != 200 {
		return fmt.Errorf("the current token answered %d, want 200", status)
	}
	live := liveTokens(stack, userEmail)
	fmt.Fprintf(out, "  live tokens the user holds at Aiven: %d\n", live)
	if live != 1 {
		return fmt.Errorf("the user holds %d live tokens, want 1", live)
	}
	if err := fleet(ctx, out, stack, sm); err != nil {
		return err
	}
	return runApplication(ctx, stack, out)
}

// runApplication rotates one application user's token: an organization
// admin's personal token, in a manager secret, manages it.
func runApplication(ctx context.Context, stack *localstack.Stack, out io.Writer) error {
	const org = "demo-org"
	admin, err := stack.Aiven.CreateMember("demo-admin@example.com", org, []string{aivenemulator.RoleOrganizationAdmin})
	if err != nil {
		return fmt.Errorf("create the organization admin: %w", err)
	}
	app, err := stack.Aiven.CreateApplicationUser(org, "demo-ci", nil)
	if err != nil {
		return fmt.Errorf("create the application user: %w", err)
	}
	manager, err := aiven.NewClient(aiven.TokenOpt(admin.Token), aiven.HostOpt(stack.AivenURL), aiven.RetryMaxOpt(0), aiven.DebugOpt(false))
	if err != nil {
		return err
	}
	first, err := manager.ApplicationUserAccessTokenCreate(ctx, org, app.UserID, &applicationuser.ApplicationUserAccessTokenCreateIn{Description: "demo ci"})
	if err != nil {
		return fmt.Errorf("create the first application token: %w", err)
	}
	fmt.Fprintf(out, "\nApplication user %s of %s holds token %s...; admin %s manages it.\n", app.UserID, org, first.TokenPrefix, admin.Email)

	sm := stack.SecretsManagerClient()
	// The manager secret: the admin's token, tagged as the stack's manager,
	// binding the application user to the one secret that may hold its
	// tokens (docs/application-tokens.md, "The binding").
	managerValue, _ := json.Marshal(map[string]any{"token": admin.Token, "application_tokens": []any{
		map[string]any{"organization_id": org, "application_user_id": app.UserID, "secrets": []string{appSecretName}},
	}})
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(managerSecretName), SecretString: aws.String(string(managerValue)),
		Tags: []smtypes.Tag{{Key: aws.String(rotation.ManagerTagKey), Value: aws.String(localstack.StackName)}},
	}); err != nil {
		return fmt.Errorf("create the manager secret: %w", err)
	}
	value, _ := json.Marshal(map[string]string{
		"kind": "application", "token": first.FullToken, "organization_id": org,
		"application_user_id": app.UserID, "manager_secret_id": managerSecretName, "previous_token_grace": "0s",
	})
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(appSecretName), SecretString: aws.String(string(value))})
	if err != nil {
		return fmt.Errorf("create the application secret: %w", err)
	}
	rotated, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: created.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN),
		RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(14 days)")},
	})
	if err != nil {
		return fmt.Errorf("rotate the application secret: %w", err)
	}
	version := aws.ToString(rotated.VersionId)
	outcome := lastOutcome(stack, version)
	current, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: created.ARN})
	if err != nil {
		return fmt.Errorf("read the application secret: %w", err)
	}
	now, err := secret.Parse(aws.ToString(current.SecretString))
	if err != nil {
		return fmt.Errorf("the application secret: %w", err)
	}
	fmt.Fprintf(out, "Secret %s rotated: version %s, new prefix %s, revoked prefix %s, %s\n",
		appSecretName, version, now.TokenPrefix, now.PreviousTokenPrefix, outcome)
	if aws.ToString(current.VersionId) != version {
		return fmt.Errorf("application rotation: AWSCURRENT is version %s, want %s (outcome %s)", aws.ToString(current.VersionId), version, outcome)
	}

	fmt.Fprintln(out, "\nProof (application token):")
	status := whoami(ctx, stack.AivenURL, first.FullToken)
	fmt.Fprintf(out, "  first application token: HTTP %d\n", status)
	if status != 401 {
		return fmt.Errorf("the first application token answered %d, want 401", status)
	}
	status = whoami(ctx, stack.AivenURL, now.Token.Reveal())
	fmt.Fprintf(out, "  current application token: HTTP %d\n", status)
	if status != 200 {
		return fmt.Errorf("the current application token answered %d, want 200", status)
	}
	live := liveTokens(stack, app.Email)
	fmt.Fprintf(out, "  live tokens the application user holds at Aiven: %d\n", live)
	if live != 1 {
		return fmt.Errorf("the application user holds %d live tokens, want 1", live)
	}
	return nil
}

// whoami calls GET /v1/me with token through Aiven's own client and returns
// the HTTP status.
func whoami(ctx context.Context, apiURL, token string) int {
	client, err := aiven.NewClient(aiven.TokenOpt(token), aiven.HostOpt(apiURL), aiven.RetryMaxOpt(0), aiven.DebugOpt(false))
	if err != nil {
		return 0
	}
	if _, err := client.UserInfo(ctx); err != nil {
		var apiErr aiven.Error
		if errors.As(err, &apiErr) {
			return apiErr.Status
		}
		return 0
	}
	return 200
}

// lastOutcome is the outcome of the rotation log's last attempt for version,
// with the failing step's error when there is one.
func lastOutcome(stack *localstack.Stack, version string) string {
	outcome := "not logged"
	for _, a := range stack.SecretsManager.Rotations() {
		if a.VersionID == version {
			outcome = a.Outcome
			if a.Error != "" {
				outcome += " (" + a.FailedStep + ": " + a.Error + ")"
			}
		}
	}
	return outcome
}

func liveTokens(stack *localstack.Stack, email string) int {
	n := 0
	for _, t := range stack.Aiven.Tokens() {
		if t.User == email && t.State == "live" {
			n++
		}
	}
	return n
}

// sweepResult is the part of the sweep's JSON result the demo shows.
type sweepResult struct {
	Results []struct {
		Secret          string   `json:"secret"`
		Outcome         string   `json:"outcome"`
		TokenPrefix     string   `json:"token_prefix"`
		ExpiresInS      *int64   `json:"expires_in_s"`
		GraceUntil      string   `json:"previous_token_grace_until"`
		Revoked         []string `json:"revoked"`
		RotationStarted string   `json:"rotation_started"`
		Error           string   `json:"error"`
		Straggler       *struct {
			LastUsedTime  string `json:"last_used_time"`
			LastIP        string `json:"last_ip"`
			LastUserAgent string `json:"last_user_agent"`
		} `json:"straggler"`
	} `json:"results"`
}

// sweep invokes the rotator with {"action":"sweep"}, as EventBridge
// Scheduler does, and prints one line per secret.
func sweep(out io.Writer, stack *localstack.Stack) (sweepResult, error) {
	raw, err := smemulator.Run(stack.Rotator, localstack.FunctionARN, []byte(`{"action":"sweep"}`), time.Minute)
	if err != nil {
		return sweepResult{}, fmt.Errorf("sweep: %w", err)
	}
	var res sweepResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return sweepResult{}, fmt.Errorf("sweep result: %w", err)
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "  secret\toutcome\ttoken\texpires in\tgrace until\trevoked\trotation started")
	for _, r := range res.Results {
		expires := "-"
		if r.ExpiresInS != nil {
			expires = fmt.Sprintf("%.1f days", float64(*r.ExpiresInS)/86400)
		}
		name := r.Secret[strings.LastIndex(r.Secret, ":")+1:]
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%v\t%s\n", name, r.Outcome, r.TokenPrefix, expires, orDash(r.GraceUntil), r.Revoked, orDash(r.RotationStarted))
		if r.Error != "" {
			fmt.Fprintf(w, "  \terror: %s\n", r.Error)
		}
		if s := r.Straggler; s != nil {
			fmt.Fprintf(w, "  \tstraggler: the previous token was used at %s from %s (%s) after the rotation\n", s.LastUsedTime, s.LastIP, s.LastUserAgent)
		}
	}
	w.Flush()
	return res, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fleet shows the grace period and the sweep on a second secret, then an
// expiry-driven rotation of both.
func fleet(ctx context.Context, out io.Writer, stack *localstack.Stack, sm *secretsmanager.Client) error {
	fmt.Fprintln(out, "\nGrace period: a second secret keeps its previous token for 3 seconds (the stack's PREVIOUS_TOKEN_GRACE).")
	user, err := stack.Aiven.CreateUser(graceEmail)
	if err != nil {
		return fmt.Errorf("create the second Aiven user: %w", err)
	}
	value, _ := json.Marshal(map[string]string{"token": user.Token})
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(graceSecret), SecretString: aws.String(string(value))})
	if err != nil {
		return fmt.Errorf("create the second secret: %w", err)
	}
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: created.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN),
		RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(14 days)")},
	}); err != nil {
		return fmt.Errorf("rotate the second secret: %w", err)
	}
	fmt.Fprintf(out, "  rotated; the previous token %s...: HTTP %d (still valid, within its grace)\n", user.TokenPrefix, whoami(ctx, stack.AivenURL, user.Token))
	if status := whoami(ctx, stack.AivenURL, user.Token); status != 200 {
		return fmt.Errorf("the previous token answered %d within its grace, want 200", status)
	}

	// Five minutes on: the rotation completed that long ago by Secrets
	// Manager's clock, and Aiven's clock moves on as much.
	if err := stack.SecretsManager.AgeRotation(aws.ToString(created.ARN), 5*time.Minute); err != nil {
		return fmt.Errorf("age the rotation: %w", err)
	}
	stack.Aiven.Advance(5 * time.Minute)
	fmt.Fprintln(out, "  five minutes on, a consumer that never re-read the secret still calls Aiven with the previous token")
	if status := whoami(ctx, stack.AivenURL, user.Token); status != 200 {
		return fmt.Errorf("the previous token answered %d within its grace, want 200", status)
	}

	fmt.Fprintln(out, "\nSweep now (as EventBridge Scheduler would run it): the straggler is named before the cut")
	res, err := sweep(out, stack)
	if err != nil {
		return err
	}
	named := false
	for _, r := range res.Results {
		named = named || r.Straggler != nil
	}
	if !named {
		return errors.New("the sweep did not name the previous token's straggler")
	}
	until := time.Now().Add(3 * time.Second)
	for _, r := range res.Results {
		if r.GraceUntil != "" {
			if t, err := time.Parse(time.RFC3339, r.GraceUntil); err == nil {
				until = t
			}
		}
	}
	wait := time.Until(until) + 200*time.Millisecond
	fmt.Fprintf(out, "\nWaiting %s for the grace to end...\n", wait.Round(100*time.Millisecond))
	time.Sleep(wait)
	fmt.Fprintln(out, "Sweep again:")
	if _, err := sweep(out, stack); err != nil {
		return err
	}
	status := whoami(ctx, stack.AivenURL, user.Token)
	fmt.Fprintf(out, "  the previous token now: HTTP %d\n", status)
	if status != 401 {
		return fmt.Errorf("the previous token answered %d after its grace and a sweep, want 401", status)
	}

	moved := stack.Aiven.Advance(25 * 24 * time.Hour)
	fmt.Fprintf(out, "\nExpiry: Aiven's clock moves 25 days on (%s): each token has 5 days left, under ROTATE_BEFORE_EXPIRY (168h).\nSweep:\n", moved.Format(time.DateOnly))
	res, err = sweep(out, stack)
	if err != nil {
		return err
	}
	for _, r := range res.Results {
		if r.RotationStarted == "" {
			return fmt.Errorf("the sweep started no rotation of %s, 5 days from expiry", r.Secret)
		}
		current, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.Secret)})
		if err != nil {
			return fmt.Errorf("read %s: %w", r.Secret, err)
		}
		if aws.ToString(current.VersionId) != r.RotationStarted {
			return fmt.Errorf("%s: AWSCURRENT is %s, want the rotation's %s (%s)", r.Secret, aws.ToString(current.VersionId), r.RotationStarted, lastOutcome(stack, r.RotationStarted))
		}
	}
	fmt.Fprintln(out, "\nSweep after those rotations:")
	res, err = sweep(out, stack)
	if err != nil {
		return err
	}
	for _, r := range res.Results {
		if r.Outcome != "healthy" || r.ExpiresInS == nil || *r.ExpiresInS < 29*86400 {
			return fmt.Errorf("%s after the expiry rotation: %s, expires in %v s", r.Secret, r.Outcome, r.ExpiresInS)
		}
	}
	return nil
}
