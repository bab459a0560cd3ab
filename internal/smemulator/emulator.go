// Package smemulator is an in-memory emulator of AWS Secrets Manager
// speaking awsJson1.1, faithful on the operations the rotator and its users
// need (spec/local-stack.md): the AWS SDK and the AWS CLI cannot tell it
// from the service on those calls, error types and messages included. It
// runs rotations itself, invoking a registered function step by step as
// Secrets Manager invokes a rotation Lambda.
//
// Where AWS's behaviour is not documented the emulator picks the strictest
// plausible answer and says so in a comment marked "inferred".
package smemulator

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

// Invoker runs the rotation function once with the event's JSON. It has
// the method set of aws-lambda-go's lambda.Handler, so lambda.NewHandler(fn)
// is an Invoker.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Emulator is the Secrets Manager emulator: an http.Handler, safe for
// concurrent use.
type Emulator struct {
	region, account string
	log             *slog.Logger
	background      bool
	maxAttempts     int
	functionTimeout time.Duration
	stepHook        func(StepResult)
	attemptHook     func(RotationAttempt)
	now             func() time.Time
	arnSuffix       func(name string) string

	plan faults.Plan

	mu             sync.Mutex
	secrets        map[string]*secretEntry // by ARN
	functions      map[string]Invoker
	rotations      []*RotationAttempt
	rotationTokens []string
	running        sync.WaitGroup
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithRegion sets the region in ARNs (default us-east-1).
func WithRegion(r string) Option { return func(e *Emulator) { e.region = r } }

// WithAccount sets the account in ARNs (default 000000000000).
func WithAccount(a string) Option { return func(e *Emulator) { e.account = a } }

// WithLogger logs one line per request: operation, status, latency.
func WithLogger(l *slog.Logger) Option { return func(e *Emulator) { e.log = l } }

// WithBackgroundRotation makes RotateSecret return at once and rotate in
// the background, as AWS does; by default it returns when the rotation
// has ended, which tests prefer.
func WithBackgroundRotation(on bool) Option { return func(e *Emulator) { e.background = on } }

// WithMaxAttempts sets how many times a failed rotation is tried in all
// (default 3; AWS does not document its count).
func WithMaxAttempts(n int) Option { return func(e *Emulator) { e.maxAttempts = n } }

// WithFunctionTimeout sets each invocation's deadline (default 60s).
func WithFunctionTimeout(d time.Duration) Option { return func(e *Emulator) { e.functionTimeout = d } }

// WithStepHook is called after every invocation of the rotation function,
// outside the emulator's lock.
func WithStepHook(f func(StepResult)) Option { return func(e *Emulator) { e.stepHook = f } }

// WithAttemptHook is called after every rotation attempt, outside the
// emulator's lock.
func WithAttemptHook(f func(RotationAttempt)) Option { return func(e *Emulator) { e.attemptHook = f } }

// WithARNSuffix replaces the random six characters that end a new
// secret's ARN, for fixtures that name a secret by a known ARN (the sample
// events in events/, for one).
func WithARNSuffix(f func(name string) string) Option { return func(e *Emulator) { e.arnSuffix = f } }

// New returns an emulator with no secrets.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		region: "us-east-1", account: "000000000000",
		maxAttempts: 3, functionTimeout: 60 * time.Second,
		now:       time.Now,
		arnSuffix: func(string) string { return randomSuffix() },
		secrets:   map[string]*secretEntry{},
		functions: map[string]Invoker{},
	}
	for _, o := range opts {
		o(e)
	}
	if e.maxAttempts < 1 {
		e.maxAttempts = 1
	}
	return e
}

// Faults is the emulator's fault plan and call counter.
func (e *Emulator) Faults() *faults.Plan { return &e.plan }

// RegisterFunction makes fn the rotation function with this ARN.
// Registering an ARN again replaces the function.
func (e *Emulator) RegisterFunction(arn string, fn Invoker) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.functions[arn] = fn
}

// apiError is an error answer in awsJson1.1's shape.
type apiError struct {
	Type    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func errOf(typ, format string, args ...any) *apiError {
	status := http.StatusBadRequest
	if typ == "InternalServiceError" {
		status = http.StatusInternalServerError
	}
	return &apiError{Type: typ, Message: fmt.Sprintf(format, args...), Status: status}
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Type, "message": e.Message})
}

func writeOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP answers awsJson1.1 calls on POST / and the control API under
// /_emulator/.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		e.serveControl(w, r)
		return
	}
	start := time.Now()
	op, status := e.serveAPI(w, r)
	if e.log != nil {
		e.log.Info("request", "operation", op, "status", status, "latency_ms", float64(time.Since(start).Microseconds())/1000)
	}
}

const targetPrefix = "secretsmanager."

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) (string, int) {
	target := r.Header.Get("X-Amz-Target")
	op := strings.TrimPrefix(target, targetPrefix)
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, errOf("UnknownOperationException", "Unknown operation: %s %s", r.Method, r.URL.Path))
		return "unknown", http.StatusBadRequest
	}
	if apiErr := checkSignature(r); apiErr != nil {
		writeError(w, apiErr)
		return op, apiErr.Status
	}
	handler, known := operations[op]
	if !known || !strings.HasPrefix(target, targetPrefix) {
		writeError(w, errOf("UnknownOperationException", "Unknown operation %q", target))
		return "unknown", http.StatusBadRequest
	}

	if f, hit := e.plan.Observe(op); hit {
		f.Wait(r)
		if f.Drop && faults.DropConnection(w) {
			return op, 0
		}
		if f.Status != 0 {
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
			}
			apiErr := faultError(f.Status)
			writeError(w, apiErr)
			return op, apiErr.Status
		}
	}

	var body map[string]json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&body); err != nil {
		apiErr := errOf("SerializationException", "The request body is not a JSON object")
		writeError(w, apiErr)
		return op, apiErr.Status
	}
	out, apiErr := handler(e, &request{fields: body})
	if apiErr != nil {
		writeError(w, apiErr)
		return op, apiErr.Status
	}
	writeOK(w, out)
	return op, http.StatusOK
}

// faultError renders an injected failure as Secrets Manager would answer.
func faultError(status int) *apiError {
	switch {
	case status == http.StatusTooManyRequests:
		return &apiError{Type: "ThrottlingException", Message: "Rate exceeded", Status: status}
	case status >= 500:
		return &apiError{Type: "InternalServiceError", Message: "An error occurred on the server side.", Status: status}
	default:
		return &apiError{Type: "InvalidRequestException", Message: "Injected fault.", Status: status}
	}
}

// checkSignature accepts any credentials but insists the request is
// SigV4-signed in form, as every real call from an SDK or the CLI is.
func checkSignature(r *http.Request) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &apiError{Type: "MissingAuthenticationTokenException", Message: "Missing Authentication Token", Status: http.StatusBadRequest}
	}
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") ||
		!strings.Contains(auth, "Credential=") || !strings.Contains(auth, "SignedHeaders=") || !strings.Contains(auth, "Signature=") {
		return &apiError{Type: "IncompleteSignatureException", Message: "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.", Status: http.StatusBadRequest}
	}
	return nil
}

// request is a decoded call body with typed accessors. A read that finds a
// field of the wrong type records an error that names the field and
// returns the zero value; the operation checks err once, after its reads,
// so the first problem is the one reported.
type request struct {
	fields map[string]json.RawMessage
	err    *apiError
}

// fail records apiErr unless an earlier problem was recorded.
func (q *request) fail(apiErr *apiError) {
	if q.err == nil {
		q.err = apiErr
	}
}

func (q *request) has(name string) bool {
	raw, ok := q.fields[name]
	return ok && string(raw) != "null"
}

// read decodes the field into v, when present, recording a
// SerializationException naming it and what was expected otherwise.
func (q *request) read(name, expected string, v any) bool {
	if !q.has(name) {
		return false
	}
	if err := json.Unmarshal(q.fields[name], v); err != nil {
		q.fail(errOf("SerializationException", "Invalid type for parameter %s%s", name, expected))
		return false
	}
	return true
}

func (q *request) str(name string) string {
	var s string
	q.read(name, ": expected a string", &s)
	return s
}

func (q *request) required(name string) string {
	s := q.str(name)
	if s == "" {
		q.fail(errOf("InvalidParameterException", "Invalid parameter: %s is required and must not be empty.", name))
	}
	return s
}

func (q *request) boolean(name string) *bool {
	var b bool
	if !q.read(name, ": expected a boolean", &b) {
		return nil
	}
	return &b
}

func (q *request) integer(name string) *int64 {
	var n int64
	if !q.read(name, ": expected an integer", &n) {
		return nil
	}
	return &n
}

func (q *request) strings(name string) []string {
	var s []string
	q.read(name, ": expected a list of strings", &s)
	return s
}

func (q *request) decode(name string, v any) { q.read(name, "", v) }

// epoch renders a time as awsJson1.1 does: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
