package localstack_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

// requestLine is one line of the local stack's request log.
type requestLine struct {
	Emulator  string `json:"emulator"`
	Operation string `json:"operation"`
	Status    int    `json:"status"`
	Error     string `json:"error"`
	Expected  string `json:"expected"`
}

func requestLines(t *testing.T, log *syncBuffer) []requestLine {
	t.Helper()
	var out []requestLine
	for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var line requestLine
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("request log line %q: %v", l, err)
		}
		out = append(out, line)
	}
	return out
}

// A healthy rotation meets no error in the request log: createSecret
// reads the pending version only when a token for it is listed. The
// configuration test (RotateSecret with RotateImmediately=false) meets one:
// testSecret's read of the AWSPENDING placeholder, which has no value. That
// line says it is expected; a miss that is not a pending read (an unknown
// secret) is not labelled.
func TestRequestLogLabelsThePendingCheckAsExpected(t *testing.T) {
	reqLog := &syncBuffer{}
	w := newWorld(t, func(c *localstack.Config) {
		c.RequestLog = slog.New(slog.NewJSONHandler(reqLog, nil))
	})
	w.mustSucceed(w.rotate())
	if lines := requestLines(t, reqLog); slices.ContainsFunc(lines, func(l requestLine) bool { return l.Error != "" }) {
		t.Fatalf("a healthy rotation met an error: %+v", lines)
	}

	if _, err := w.sm.RotateSecret(w.ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String(w.arn), RotationLambdaARN: aws.String(localstack.FunctionARN), RotateImmediately: aws.Bool(false),
	}); err != nil {
		t.Fatalf("the configuration test: %v", err)
	}
	_, err := w.sm.GetSecretValue(w.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("aiven/no-such-secret")})
	var notFound *smtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("GetSecretValue of an unknown secret: %v, want ResourceNotFoundException", err)
	}

	var expected, unexpected []requestLine
	for _, l := range requestLines(t, reqLog) {
		switch {
		case l.Expected != "":
			expected = append(expected, l)
		case l.Error != "":
			unexpected = append(unexpected, l)
		}
	}
	if len(expected) != 1 {
		t.Fatalf("%d lines labelled expected, want 1 (the configuration test's pending read): %+v", len(expected), expected)
	}
	got := expected[0]
	if got.Emulator != "secretsmanager" || got.Operation != "GetSecretValue" || got.Error != "ResourceNotFoundException" ||
		!strings.Contains(got.Expected, "the pending version has no value yet") {
		t.Errorf("labelled line %+v, want the pending read's miss with its reason", got)
	}
	if len(unexpected) != 1 || unexpected[0].Operation != "GetSecretValue" || unexpected[0].Error != "ResourceNotFoundException" {
		t.Errorf("unlabelled error lines %+v, want only the unknown secret's miss", unexpected)
	}
}
