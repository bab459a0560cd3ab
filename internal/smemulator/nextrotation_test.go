package smemulator_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// NextRotationDate is the end of the window in which the next rotation
// falls due ("the latest date that rotation will occur"), for each kind of
// schedule AWS documents (schedule.go), read through the SDK from both
// DescribeSecret and ListSecrets. The configuration test
// (RotateImmediately=false) rotates nothing: the date counts from when
// rotation was configured.
func TestNextRotationDateIsTheEndOfTheNextWindow(t *testing.T) {
	// Configured on a Wednesday, 2025-01-15 10:30 UTC.
	start := time.Date(2025, 1, 15, 10, 30, 0, 0, time.UTC)
	day := func(d, h int) time.Time { return time.Date(2025, 1, d, h, 0, 0, 0, time.UTC) }
	for _, tt := range []struct {
		name  string
		rules types.RotationRulesType
		want  time.Time
	}{
		{"rate in days: the whole UTC day the interval ends in", types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)")}, day(26, 0)},
		{"rate in days with a Duration", types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)"), Duration: aws.String("3h")}, day(25, 3)},
		{"AutomaticallyAfterDays, as a rate in days", types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(7)}, day(23, 0)},
		{"rate in hours: an hour from the hour the interval ends in", types.RotationRulesType{ScheduleExpression: aws.String("rate(6 hours)")}, day(15, 17)},
		{"cron, daily at 16:00: to the end of the day", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 16 * * ? *)")}, day(16, 0)},
		{"cron, daily at 04:00, already past today", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 4 * * ? *)")}, day(17, 0)},
		{"cron with a Duration", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 16 1,15 * ? *)"), Duration: aws.String("2h")}, day(15, 18)},
		{"cron in hours: an hour", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 4/12 * * ? *)")}, day(15, 17)},
		{"cron, the last day of the month", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 8 L * ? *)")}, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"cron, the first Sunday of the month", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 0 ? * SUN#1 *)"), Duration: aws.String("4h")}, time.Date(2025, 2, 2, 4, 0, 0, 0, time.UTC)},
		{"cron, every Friday", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 9 ? * FRI *)"), Duration: aws.String("1h")}, day(17, 10)},
		{"cron, every other month", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 0 1 */2 ? *)")}, time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, smemulator.WithClock(start))
			e.newRotator("", 0)
			arn := e.create("s", "v1")
			if _, err := e.sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn),
				RotationLambdaARN: aws.String(fnARN), RotationRules: &tt.rules, RotateImmediately: aws.Bool(false)}); err != nil {
				t.Fatal(err)
			}
			d := e.describe(arn)
			if d.NextRotationDate == nil || !d.NextRotationDate.Equal(tt.want) {
				t.Fatalf("NextRotationDate %v, want %v", d.NextRotationDate, tt.want)
			}
			l, err := e.sm.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{})
			if err != nil || len(l.SecretList) != 1 || l.SecretList[0].NextRotationDate == nil || !l.SecretList[0].NextRotationDate.Equal(tt.want) {
				t.Fatalf("ListSecrets: %+v, %v", l, err)
			}
		})
	}
}

// After a rotation the interval runs from it; a value put by hand counts
// as a rotation for an interval (AutomaticallyAfterDays' reference) but
// moves no cron() window; rotation off, no date.
func TestNextRotationDateMovesWithRotationsAndEdits(t *testing.T) {
	start := time.Date(2025, 1, 15, 10, 30, 0, 0, time.UTC)
	e := newEnv(t, smemulator.WithClock(start))
	e.newRotator("", 0)
	arn := e.create("s", "v1")
	if _, err := e.sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn),
		RotationLambdaARN: aws.String(fnARN), RotationRules: &rotationRules10Days}); err != nil {
		t.Fatal(err)
	}
	next := func() time.Time {
		d := e.describe(arn)
		if d.NextRotationDate == nil {
			t.Fatal("no NextRotationDate")
		}
		return *d.NextRotationDate
	}
	if got := next(); !got.Equal(time.Date(2025, 1, 26, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("after a rotation on the 15th: %v", got)
	}
	e.emu.Advance(3 * 24 * time.Hour)
	e.mustPut(arn, tokB, "by hand")
	if got := next(); !got.Equal(time.Date(2025, 1, 29, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("after a value put by hand on the 18th: %v", got)
	}
	if _, err := e.sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn),
		RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("cron(0 16 * * ? *)")}, RotateImmediately: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if got := next(); !got.Equal(time.Date(2025, 1, 19, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("cron after an edit: %v", got)
	}
	if _, err := e.sm.CancelRotateSecret(t.Context(), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if d := e.describe(arn); d.NextRotationDate != nil {
		t.Fatalf("rotation off: NextRotationDate %v", d.NextRotationDate)
	}
}
