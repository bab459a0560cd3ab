package smemulator_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Every bad input is refused with the error type AWS gives, a message
// naming the member, never the secret value, and no state changed.
func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	e.newRotator("", 0)
	secret := strings.Repeat("S3CR3T", 11000) // 66000 bytes: over the limit
	big := base64.StdEncoding.EncodeToString([]byte(secret))
	for _, c := range []struct {
		name, op, body string
		typ, mention   string
	}{
		{"malformed JSON", "PutSecretValue", `{"SecretId":`, "SerializationException", ""},
		{"a JSON array", "PutSecretValue", `["SecretId"]`, "SerializationException", ""},
		{"SecretId missing", "PutSecretValue", `{"SecretString":"x"}`, "ValidationException", "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
		{"SecretId empty", "GetSecretValue", `{"SecretId":""}`, "ValidationException", "'secretId'"},
		{"SecretId of the wrong type", "PutSecretValue", `{"SecretId":5,"SecretString":"x"}`, "SerializationException", "SecretId"},
		{"VersionStages of the wrong type", "PutSecretValue", `{"SecretId":"s","SecretString":"x","VersionStages":"AWSCURRENT"}`, "SerializationException", "VersionStages"},
		{"SecretString over 65536 bytes", "PutSecretValue", `{"SecretId":"s","SecretString":"` + secret + `"}`, "ValidationException", "Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536"},
		{"SecretBinary over 65536 bytes", "PutSecretValue", `{"SecretId":"s","SecretBinary":"` + big + `"}`, "ValidationException", "'secretBinary'"},
		{"SecretBinary not base64", "PutSecretValue", `{"SecretId":"s","SecretBinary":"%%%"}`, "SerializationException", "SecretBinary"},
		{"SecretString empty", "PutSecretValue", `{"SecretId":"s","SecretString":""}`, "ValidationException", "greater than or equal to 1"},
		{"both values", "PutSecretValue", `{"SecretId":"s","SecretString":"x","SecretBinary":"eA=="}`, "InvalidParameterException", "binary"},
		{"no value", "PutSecretValue", `{"SecretId":"s"}`, "InvalidRequestException", "SecretString or SecretBinary"},
		{"ClientRequestToken short", "PutSecretValue", `{"SecretId":"s","SecretString":"x","ClientRequestToken":"short"}`, "ValidationException", "'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 32"},
		{"ClientRequestToken long", "PutSecretValue", `{"SecretId":"s","SecretString":"x","ClientRequestToken":"` + strings.Repeat("t", 65) + `"}`, "ValidationException", "less than or equal to 64"},
		{"VersionStages empty", "PutSecretValue", `{"SecretId":"s","SecretString":"x","VersionStages":[]}`, "ValidationException", "'versionStages'"},
		{"RotationToken malformed", "PutSecretValue", `{"SecretId":"s","SecretString":"x","RotationToken":"not a token!"}`, "ValidationException", "'rotationToken'"},
		{"two violations at once", "PutSecretValue", `{"SecretString":"x","ClientRequestToken":"short"}`, "ValidationException", "2 validation errors detected"},
		{"Description over 2048", "CreateSecret", `{"Name":"n","Description":"` + strings.Repeat("d", 2049) + `"}`, "ValidationException", "'description' failed to satisfy constraint: Member must have length less than or equal to 2048"},
		{"Name missing", "CreateSecret", `{"SecretString":"x"}`, "ValidationException", "'name'"},
		{"Name over 512", "CreateSecret", `{"Name":"` + strings.Repeat("n", 513) + `"}`, "ValidationException", "'name'"},
		{"Name with a bad character", "CreateSecret", `{"Name":"a name"}`, "ValidationException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"},
		{"CreateSecret over 65536", "CreateSecret", `{"Name":"n","SecretString":"` + secret + `"}`, "ValidationException", "'secretString'"},
		{"VersionId short", "GetSecretValue", `{"SecretId":"s","VersionId":"v1"}`, "ValidationException", "'versionId'"},
		{"VersionStage missing", "UpdateSecretVersionStage", `{"SecretId":"s","MoveToVersionId":"` + tokA + `"}`, "ValidationException", "'versionStage'"},
		{"MaxResults 0", "ListSecretVersionIds", `{"SecretId":"s","MaxResults":0}`, "ValidationException", "Value '0' at 'maxResults'"},
		{"MaxResults a string", "ListSecrets", `{"MaxResults":"ten"}`, "SerializationException", "MaxResults"},
		{"SortOrder unknown", "ListSecrets", `{"SortOrder":"sideways"}`, "ValidationException", "'sortOrder'"},
		{"AutomaticallyAfterDays 0", "RotateSecret", `{"SecretId":"s","RotationLambdaARN":"` + fnARN + `","RotationRules":{"AutomaticallyAfterDays":0}}`, "ValidationException", "'rotationRules.automaticallyAfterDays'"},
		{"Duration malformed", "RotateSecret", `{"SecretId":"s","RotationLambdaARN":"` + fnARN + `","RotationRules":{"ScheduleExpression":"rate(1 day)","Duration":"3d"}}`, "ValidationException", "'rotationRules.duration'"},
		{"both schedules", "RotateSecret", `{"SecretId":"s","RotationLambdaARN":"` + fnARN + `","RotationRules":{"AutomaticallyAfterDays":3,"ScheduleExpression":"rate(3 days)"}}`, "InvalidParameterException", "schedule expression"},
		{"a schedule under 4 hours", "RotateSecret", `{"SecretId":"s","RotationLambdaARN":"` + fnARN + `","RotationRules":{"ScheduleExpression":"rate(2 hours)"}}`, "InvalidParameterException", "4 hours"},
		{"RotateImmediately a string", "RotateSecret", `{"SecretId":"s","RotateImmediately":"no"}`, "SerializationException", "RotateImmediately"},
		{"RecoveryWindowInDays 3", "DeleteSecret", `{"SecretId":"s","RecoveryWindowInDays":3}`, "InvalidParameterException", "RecoveryWindowInDays"},
		{"Tags missing", "TagResource", `{"SecretId":"s"}`, "ValidationException", "'tags'"},
		{"a tag key over 128", "TagResource", `{"SecretId":"s","Tags":[{"Key":"` + strings.Repeat("k", 129) + `","Value":"v"}]}`, "ValidationException", "'tags.1.member.key'"},
		{"TagKeys missing", "UntagResource", `{"SecretId":"s"}`, "ValidationException", "'tagKeys'"},
		{"UpdateSecret without SecretId", "UpdateSecret", `{"SecretString":"x"}`, "ValidationException", "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
		{"UpdateSecret over 65536", "UpdateSecret", `{"SecretId":"s","SecretString":"` + secret + `"}`, "ValidationException", "'secretString'"},
		{"UpdateSecret Description over 2048", "UpdateSecret", `{"SecretId":"s","Description":"` + strings.Repeat("d", 2049) + `"}`, "ValidationException", "'description'"},
		{"UpdateSecret ClientRequestToken short", "UpdateSecret", `{"SecretId":"s","SecretString":"x","ClientRequestToken":"short"}`, "ValidationException", "'clientRequestToken'"},
		{"UpdateSecret both values", "UpdateSecret", `{"SecretId":"s","SecretString":"x","SecretBinary":"eA=="}`, "InvalidParameterException", "binary"},
		{"UpdateSecret SecretBinary not base64", "UpdateSecret", `{"SecretId":"s","SecretBinary":"%%%"}`, "SerializationException", "SecretBinary"},
		{"UpdateSecret Description a number", "UpdateSecret", `{"SecretId":"s","Description":5}`, "SerializationException", "Description"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			var a rawAnswer
			e.unchanged(c.name, func() { a = e.raw(c.op, c.body) })
			if a.status != 400 || a.typ != c.typ || a.header.Get("X-Amzn-ErrorType") != c.typ {
				t.Fatalf("%d %.300s; want 400 %s", a.status, a.body, c.typ)
			}
			if c.mention != "" && !strings.Contains(a.msg, c.mention) {
				t.Fatalf("message %q does not say %q", a.msg, c.mention)
			}
			if strings.Contains(a.body, "S3CR3T") || strings.Contains(a.body, "not a token") {
				t.Fatal("the error echoes a secret value")
			}
			if v, _ := e.get(arn, "", ""); v != "v1" {
				t.Fatal("the value changed")
			}
		})
	}
}

// The same refusals reach the SDK as its typed errors (or, for the
// untyped ValidationException, with its code).
func TestBadInputThroughTheSDK(t *testing.T) {
	e := newEnv(t)
	arn := e.create("s", "v1")
	huge := strings.Repeat("x", 65537)
	var err error
	e.unchanged("oversized SecretString", func() {
		_, err = e.sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(huge)})
	})
	if code(err) != "ValidationException" || strings.Contains(err.Error(), "xxxxxxxx") {
		t.Fatalf("oversized: %v", err)
	}
	e.unchanged("a short token", func() {
		_, err = e.sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v"), ClientRequestToken: aws.String("short")})
	})
	if code(err) != "ValidationException" {
		t.Fatalf("short token: %v", err)
	}
	e.unchanged("both values", func() {
		_, err = e.sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v"), SecretBinary: []byte("v")})
	})
	if !isType[*types.InvalidParameterException](err) {
		t.Fatalf("both: %v", err)
	}
	e.unchanged("no value", func() {
		_, err = e.sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn)})
	})
	if !isType[*types.InvalidRequestException](err) || message(err) != "You must provide either SecretString or SecretBinary." {
		t.Fatalf("neither: %v", err)
	}
	e.unchanged("a long description", func() {
		_, err = e.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("n"), Description: aws.String(strings.Repeat("d", 2049))})
	})
	if code(err) != "ValidationException" || !strings.Contains(message(err), "description") {
		t.Fatalf("description: %v", err)
	}
}
