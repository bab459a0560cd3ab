package smemulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	sourceOnce sync.Once
	sourceText string // the package's non-test source, for checkQuotes
	violation  = regexp.MustCompile(`^Value (null |'-?[0-9]+' )?at '[A-Za-z0-9.]+' failed to satisfy constraint: Member must .+$`)
	validation = regexp.MustCompile(`^([0-9]+) validation errors? detected: (.+)$`)
	// invalidName is the one ValidationException that is not a model
	// violation: CreateSecret's check of the name's characters.
	invalidName = "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
)

func emulatorSource(t testing.TB) string {
	sourceOnce.Do(func() {
		files, err := filepath.Glob("*.go")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(src)
		}
		sourceText = b.String()
	})
	return sourceText
}

// stringValues are the strings of a JSON document, at any depth, keys
// included.
func stringValues(raw json.RawMessage) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// fuzzSigV4 is an Authorization header of the shape the emulator checks.
const fuzzSigV4 = "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0123456789abcdef"

// fuzzOps are the operations the fuzz target calls, by index (operations
// is filled by an init function, after package variables).
func fuzzOps() []string {
	ops := make([]string, 0, len(operations))
	for op := range operations {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

// FuzzRequestReader sends any body to any operation of an emulator that
// holds one secret: the answer is never a panic or a 500, every error is
// AWS-shaped JSON, a ValidationException lists well-formed violations and
// counts them right, and no validation or serialization error quotes a
// string the caller sent (only member paths, numbers and the model's own
// constraints), nor any error the SecretString.
func FuzzRequestReader(f *testing.F) {
	const arnish = "arn:aws:secretsmanager:us-east-1:000000000000:secret:fuzz"
	ops := fuzzOps()
	for _, seed := range []struct {
		op   string
		body string
	}{
		{"CreateSecret", `{"Name":"other","SecretString":"s3cr3t-value-0123","ClientRequestToken":"00000000-0000-4000-8000-000000000001"}`},
		{"CreateSecret", `{"Name":"","SecretBinary":"!!","Tags":[{"Key":""}],"Description":1}`},
		{"GetSecretValue", `{"SecretId":"fuzz","VersionStage":"AWSCURRENT"}`},
		{"GetSecretValue", `{"SecretId":"` + arnish + `","VersionId":"short"}`},
		{"PutSecretValue", `{"SecretId":"fuzz","SecretString":"value-that-must-not-echo","VersionStages":["AWSPENDING"],"ClientRequestToken":"00000000-0000-4000-8000-000000000002","RotationToken":"not a token!"}`},
		{"PutSecretValue", `{"SecretId":"fuzz","SecretString":"","SecretBinary":"AAAA"}`},
		{"UpdateSecret", `{"SecretId":"fuzz","SecretString":"value-that-must-not-echo","Description":"d","KmsKeyId":"alias/k","ClientRequestToken":"00000000-0000-4000-8000-000000000003"}`},
		{"UpdateSecret", `{"SecretId":"fuzz","SecretString":"","SecretBinary":"AAAA","Type":7}`},
		{"UpdateSecretVersionStage", `{"SecretId":"fuzz","VersionStage":"AWSCURRENT","MoveToVersionId":"x","RemoveFromVersionId":"y"}`},
		{"ListSecrets", `{"MaxResults":0,"NextToken":"zz","Filters":[{"Key":"name","Values":["f"]}]}`},
		{"ListSecretVersionIds", `{"SecretId":"fuzz","MaxResults":101,"IncludeDeprecated":"yes"}`},
		{"RotateSecret", `{"SecretId":"fuzz","RotationLambdaARN":"arn:aws:lambda:us-east-1:000000000000:function:f","RotationRules":{"AutomaticallyAfterDays":0,"ScheduleExpression":"rate(1 hours)","Duration":"1h"}}`},
		{"DeleteSecret", `{"SecretId":"fuzz","RecoveryWindowInDays":3,"ForceDeleteWithoutRecovery":true}`},
		{"TagResource", `{"SecretId":"fuzz","Tags":[{"Key":"k","Value":"v"}]}`},
		{"DescribeSecret", `[]`},
		{"DescribeSecret", `{"SecretId":null}`},
		{"CancelRotateSecret", `{"SecretId":` + strconv.Quote(strings.Repeat("x", 2049)) + `}`},
	} {
		f.Add(uint8(slices.Index(ops, seed.op)), []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, opIndex uint8, body []byte) {
		e := New()
		send := func(op string, body []byte) (int, string, string) {
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			req.Header.Set("X-Amz-Target", "secretsmanager."+op)
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Authorization", fuzzSigV4)
			req.Header.Set("X-Amz-Date", "20260101T000000Z")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			var out struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if rec.Code != http.StatusOK {
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
					t.Fatalf("%s: a %d whose body is not JSON: %q", op, rec.Code, rec.Body.String())
				}
				if out.Type == "" || out.Message == "" || rec.Header().Get("X-Amzn-ErrorType") != out.Type {
					t.Fatalf("%s: a %d without __type, message or X-Amzn-ErrorType: %q", op, rec.Code, rec.Body.String())
				}
			} else if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: a 200 whose body is not JSON: %q", op, rec.Body.String())
			}
			return rec.Code, out.Type, out.Message
		}
		if code, _, msg := send("CreateSecret", []byte(`{"Name":"fuzz","SecretString":"seed-value-0123456789"}`)); code != http.StatusOK {
			t.Fatalf("seeding the secret: %d %s", code, msg)
		}
		op := ops[int(opIndex)%len(ops)]
		code, typ, msg := send(op, body)
		switch {
		case code == http.StatusOK:
			return
		case code >= 500:
			t.Fatalf("%s: %d %s: %s", op, code, typ, msg)
		}
		if typ == "ValidationException" && msg == invalidName {
			return // AWS's own words for a name the model allows but the service refuses
		}
		if typ == "ValidationException" {
			m := validation.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("%s: ValidationException %q is not AWS-shaped", op, msg)
			}
			parts := strings.Split(m[2], "; ")
			if n, _ := strconv.Atoi(m[1]); n != len(parts) || (n == 1) != strings.HasPrefix(msg, "1 validation error detected") {
				t.Fatalf("%s: %q counts %s violations, lists %d", op, msg, m[1], len(parts))
			}
			for _, p := range parts {
				if !violation.MatchString(p) {
					t.Fatalf("%s: violation %q is not AWS-shaped", op, p)
				}
			}
		}
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(body, &fields)
		if s, ok := fields["SecretString"]; ok {
			var v string
			if json.Unmarshal(s, &v) == nil && len(v) >= 8 && strings.Contains(msg, v) {
				t.Fatalf("%s: %s echoes the SecretString: %q", op, typ, msg)
			}
		}
		if typ != "ValidationException" && typ != "SerializationException" {
			return
		}
		src := emulatorSource(t)
		for _, v := range stringValues(body) {
			if len(v) >= 8 && strings.Contains(msg, v) && !strings.Contains(src, v) {
				t.Fatalf("%s: %s quotes %q, which the caller sent: %q", op, typ, v, msg)
			}
		}
	})
}
