package localstack

// Lambda's Invoke REST API (restJson1, 2015-03-31), served beside the
// Secrets Manager emulator so that `aws lambda invoke --endpoint-url
// http://127.0.0.1:4566 --function-name aiven-token-rotator ...` runs the
// rotator as Lambda would. Only Invoke is served.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/google/uuid"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// invokePrefix starts every Invoke path:
// POST /2015-03-31/functions/{FunctionName}/invocations.
const invokePrefix = "/2015-03-31/functions/"

// Payload limits of Lambda's quotas: 6 MB for a synchronous invocation,
// 1 MB for an asynchronous one.
const (
	maxSyncPayload  = 6 * 1024 * 1024
	maxAsyncPayload = 1024 * 1024
)

// lambdaAPI serves Invoke for the functions registered with it. It is safe
// for concurrent use.
type lambdaAPI struct {
	region, account string
	timeout         time.Duration
	log             *slog.Logger // nil: no request log

	mu        sync.Mutex
	functions map[string]smemulator.Invoker // by unqualified ARN
	async     sync.WaitGroup                // Event invocations under way
}

func newLambdaAPI(region, account string, log *slog.Logger) *lambdaAPI {
	return &lambdaAPI{region: region, account: account, timeout: 60 * time.Second, log: log,
		functions: map[string]smemulator.Invoker{}}
}

// register makes fn the function with this unqualified ARN; registering
// again replaces it.
func (l *lambdaAPI) register(arn string, fn smemulator.Invoker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.functions[arn] = fn
}

// wait waits for the Event invocations under way, or ctx's end.
func (l *lambdaAPI) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { l.async.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lambdaError is an error answer in Lambda's shape: the type in
// X-Amzn-ErrorType, {"Type": "User", "message": ...} in the body.
type lambdaError struct {
	status  int
	typ     string
	message string
}

func (l *lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	name, status, errType := l.serve(w, r)
	if l.log != nil {
		attrs := []slog.Attr{
			slog.String("operation", "Invoke"), slog.String("function", name), slog.Int("status", status),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if errType != "" {
			attrs = append(attrs, slog.String("error", errType))
		}
		l.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}
}

// serve answers one call; it reports the function, the status sent and
// the error type (a function error's type, or the API error's), for the
// request log. Neither the payload nor the result is ever logged.
func (l *lambdaAPI) serve(w http.ResponseWriter, r *http.Request) (name string, status int, errType string) {
	fail := func(e *lambdaError) (string, int, string) {
		writeLambdaError(w, e)
		return name, e.status, e.typ
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), invokePrefix)
	escaped, ok2 := strings.CutSuffix(rest, "/invocations")
	if !ok || !ok2 || strings.Contains(escaped, "/") {
		return fail(&lambdaError{http.StatusNotFound, "UnknownOperationException", "Unknown operation: " + r.Method + " " + r.URL.Path + " (the local stack serves Lambda's Invoke only)"})
	}
	if r.Method != http.MethodPost {
		return fail(&lambdaError{http.StatusMethodNotAllowed, "UnknownOperationException", "Invoke takes POST"})
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		// Any credentials, but SigV4-signed in form, as every SDK and CLI
		// call is (the answer is API Gateway's, inferred for Lambda).
		return fail(&lambdaError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"})
	}
	name, err := url.PathUnescape(escaped)
	if err != nil {
		return fail(&lambdaError{http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'functionName' failed to satisfy constraint: Member must be a valid function name or ARN"})
	}
	arn, fn, lerr := l.find(name, r.URL.Query().Get("Qualifier"))
	if lerr != nil {
		return fail(lerr)
	}

	invocation := r.Header.Get("X-Amz-Invocation-Type")
	limit := maxSyncPayload
	switch invocation {
	case "", "RequestResponse", "DryRun":
	case "Event":
		limit = maxAsyncPayload
	default:
		return fail(&lambdaError{http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"})
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	switch {
	case err != nil:
		return fail(&lambdaError{http.StatusBadRequest, "InvalidRequestContentException", "Could not read the request body."})
	case len(payload) > limit:
		return fail(&lambdaError{http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request must be smaller than " + strconv.Itoa(limit) + " bytes for the Invoke operation"})
	case len(payload) == 0:
		payload = []byte("{}") // Lambda hands a function {} when invoked without a payload
	case !json.Valid(payload):
		// Lambda's words begin so; the rest (a Jackson message) is
		// inferred. The payload is never quoted.
		return fail(&lambdaError{http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: the payload is not valid JSON."})
	}

	switch invocation {
	case "DryRun":
		// "Validate parameter values and verify that the user or role has
		// permission to invoke the function."
		w.WriteHeader(http.StatusNoContent)
		return name, http.StatusNoContent, ""
	case "Event":
		l.async.Add(1)
		go func() {
			defer l.async.Done()
			// Lambda retries a failed asynchronous invocation twice; the
			// local stack runs it once and logs the outcome (inferred
			// simplification).
			_, err := smemulator.Run(fn, arn, payload, l.timeout)
			if l.log != nil {
				attrs := []slog.Attr{slog.String("operation", "Invoke"), slog.String("function", name), slog.String("invocation", "Event")}
				if err != nil {
					attrs = append(attrs, slog.String("function_error", functionError(err).Type))
				}
				l.log.LogAttrs(context.Background(), slog.LevelInfo, "async invocation ended", attrs...)
			}
		}()
		w.WriteHeader(http.StatusAccepted)
		return name, http.StatusAccepted, ""
	}

	out, err := smemulator.Run(fn, arn, payload, l.timeout)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", "$LATEST")
	if err != nil {
		fe := functionError(err)
		h.Set("X-Amz-Function-Error", "Unhandled")
		body, _ := json.Marshal(fe)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return name, http.StatusOK, fe.Type
	}
	if out == nil {
		out = []byte("null")
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return name, http.StatusOK, ""
}

// find resolves a FunctionName as Lambda takes it: a name, a partial ARN
// (account:function:name) or a full ARN, each with an optional
// ":qualifier", and the Qualifier parameter. Only $LATEST is a version
// here: the local stack publishes no versions or aliases.
func (l *lambdaAPI) find(name, qualifier string) (string, smemulator.Invoker, *lambdaError) {
	base, qual := name, ""
	parts := strings.Split(name, ":")
	switch {
	case strings.HasPrefix(name, "arn:") && (len(parts) == 7 || len(parts) == 8):
		if parts[2] != "lambda" || parts[5] != "function" {
			return "", nil, invalidName()
		}
		base = strings.Join(parts[:7], ":")
		if len(parts) == 8 {
			qual = parts[7]
		}
	case len(parts) == 3 || len(parts) == 4:
		if parts[1] != "function" {
			return "", nil, invalidName()
		}
		base = "arn:aws:lambda:" + l.region + ":" + strings.Join(parts[:3], ":")
		if len(parts) == 4 {
			qual = parts[3]
		}
	case len(parts) == 1 || len(parts) == 2:
		base = "arn:aws:lambda:" + l.region + ":" + l.account + ":function:" + parts[0]
		if len(parts) == 2 {
			qual = parts[1]
		}
	default:
		return "", nil, invalidName()
	}
	if qual != "" && qualifier != "" && qual != qualifier {
		return "", nil, &lambdaError{http.StatusBadRequest, "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."}
	}
	if qual == "" {
		qual = qualifier
	}
	l.mu.Lock()
	fn, ok := l.functions[base]
	l.mu.Unlock()
	if !ok || (qual != "" && qual != "$LATEST") {
		shown := base
		if qual != "" {
			shown += ":" + qual
		}
		return "", nil, &lambdaError{http.StatusNotFound, "ResourceNotFoundException", "Function not found: " + shown}
	}
	return base, fn, nil
}

func invalidName() *lambdaError {
	return &lambdaError{http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"}
}

func writeLambdaError(w http.ResponseWriter, e *lambdaError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.typ)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(struct {
		Type    string `json:"Type"`
		Message string `json:"message"`
	}{"User", e.message})
}

// functionError renders a function's failure as Lambda's payload
// {"errorMessage", "errorType"}: the type as aws-lambda-go names it (the
// error's Go type, or the type a Runtime API function reported), a timeout
// as Lambda's Sandbox.Timedout.
func functionError(err error) messages.InvokeResponse_Error {
	var (
		reported *lambdaruntime.FunctionError
		timeout  *smemulator.TimeoutError
		panicked *smemulator.PanicError
		ive      messages.InvokeResponse_Error
		ivp      *messages.InvokeResponse_Error
	)
	switch {
	case errors.As(err, &ive):
		return messages.InvokeResponse_Error{Message: ive.Message, Type: ive.Type}
	case errors.As(err, &ivp):
		return messages.InvokeResponse_Error{Message: ivp.Message, Type: ivp.Type}
	case errors.As(err, &reported):
		return messages.InvokeResponse_Error{Message: reported.Message, Type: reported.Type}
	case errors.As(err, &timeout):
		return messages.InvokeResponse_Error{Message: timeout.Error(), Type: "Sandbox.Timedout"}
	case errors.As(err, &panicked):
		return messages.InvokeResponse_Error{Message: panicked.Error(), Type: typeName(panicked.Value)}
	}
	return messages.InvokeResponse_Error{Message: err.Error(), Type: typeName(err)}
}

// typeName is aws-lambda-go's errorType: the Go type's name, less a
// pointer.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "error"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return fmt.Sprint(t)
	}
	return t.Name()
}
