package lambdaservice

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

func testConfig() aws.Config {
	return aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
}

// InvokeAsync sends Lambda's Invoke as the API reference shapes it: POST
// /2015-03-31/functions/{FunctionName}/invocations, InvocationType Event,
// signed for the lambda service; 202 is success.
func TestInvokeAsyncSendsASignedEvent(t *testing.T) {
	const fn = "arn:aws:lambda:eu-west-1:111122223333:function:rotator:live"
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, body = r, string(b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c, err := New(testConfig(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.InvokeAsync(context.Background(), fn, []byte(`{"action":"sweep"}`)); err != nil {
		t.Fatal(err)
	}
	switch {
	case got.Method != http.MethodPost || got.URL.EscapedPath() != "/2015-03-31/functions/arn:aws:lambda:eu-west-1:111122223333:function:rotator:live/invocations":
		t.Errorf("%s %s", got.Method, got.URL.EscapedPath())
	case got.Header.Get("X-Amz-Invocation-Type") != "Event":
		t.Errorf("X-Amz-Invocation-Type %q", got.Header.Get("X-Amz-Invocation-Type"))
	case !strings.Contains(got.Header.Get("Authorization"), "/eu-west-1/lambda/aws4_request"):
		t.Errorf("Authorization %q: not signed for lambda in the region", got.Header.Get("Authorization"))
	case body != `{"action":"sweep"}`:
		t.Errorf("body %q", body)
	}
}

// An error answer names the status and Lambda's error type, never the
// payload or the URL.
func TestInvokeAsyncErrorsNameTheTypeOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException:http://internal/")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"Message":"not allowed to invoke with {\"secret\":\"payload\"}"}`)
	}))
	defer srv.Close()
	c, _ := New(testConfig(), srv.URL)
	err := c.InvokeAsync(context.Background(), "arn:aws:lambda:eu-west-1:1:function:f", []byte(`{"secret":"payload"}`))
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "AccessDeniedException") ||
		strings.Contains(err.Error(), "payload") || strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("error %v", err)
	}
	srv.Close()
	if err := c.InvokeAsync(context.Background(), "arn:aws:lambda:eu-west-1:1:function:f", nil); err == nil || strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("a refused connection: %v", err)
	}
	if err := c.InvokeAsync(context.Background(), "f", make([]byte, maxAsyncPayload+1)); err == nil {
		t.Fatal("a payload over Lambda's limit was sent")
	}
}
