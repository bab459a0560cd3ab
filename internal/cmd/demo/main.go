// Command demo shows a real rotation: `make demo`.
//
// It starts the local stack in process, creates an Aiven user, stores the
// user's token in a secret as a plain string (the bootstrap form), turns on
// rotation, rotates three times, and then proves the outcome: every earlier
// token is rejected with 401, the current one is accepted, and the user
// holds no token besides it. It exits non-zero if any of that fails.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	aiven "github.com/aiven/go-client-codegen"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

const (
	secretName = "aiven/demo-token"
	userEmail  = "demo@example.com"
	rotations  = 3
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
		// This part proves each replaced token dies in finishSecret: no
		// grace period.
		RotatorEnv: map[string]string{"PREVIOUS_TOKEN_GRACE": "0s"},
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
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(secretName),
		SecretString: aws.String(user.Token), // plain string: the bootstrap form
	})
	if err != nil {
		return fmt.Errorf("create the secret: %w", err)
	}
	fmt.Fprintf(out, "Secret %s stores it as a plain string.\n\n", aws.ToString(created.ARN))

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
