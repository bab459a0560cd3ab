// Package smemulator is an in-memory emulator of AWS Secrets Manager
// speaking awsJson1.1, faithful on the operations the rotator and its users
// need (docs/local-stack-secretsmanager.md): the AWS SDK and the AWS CLI cannot tell it
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

// Invoker runs the rotation function once with the event's JSON.
// It has the method set of aws-lambda-go's lambda.Handler, so
// lambda.NewHandler(fn) is an Invoker.
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
	wallClock       func() time.Time
	clockOffset     atomic.Int64 // nanoseconds the emulator's clock runs ahead of wallClock
	arnSuffix       func(name string) string

	plan faults.Plan

	mu             sync.Mutex
	secrets        map[string]*secretEntry // by ARN, in every region
	names          map[nameKey]string      // (region, name) → ARN
	replicationLag time.Duration           // how long a replica takes to catch up (replication.go)
	stale          map[*replica]struct{}   // replicas with a catch-up due
	functions      map[string]Invoker
	rotations      []*RotationAttempt
	rotationTokens []string
	running        int           // rotations under way
	idle           chan struct{} // closed when running drops to zero
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithRegion sets the emulator's home region (default us-east-1): the
// region of a request whose SigV4 credential scope names none, and of the
// secrets the Go API and the control API name by name. A request signed
// for another region works on that region's secrets (replication.go).
func WithRegion(r string) Option { return func(e *Emulator) { e.region = r } }

// WithAccount sets the account in ARNs (default 000000000000).
func WithAccount(a string) Option { return func(e *Emulator) { e.account = a } }

// WithLogger logs one line per request: operation, status, error type,
// latency. Never a request body, so never a secret value or token.
func WithLogger(l *slog.Logger) Option { return func(e *Emulator) { e.log = l } }

// WithBackgroundRotation makes RotateSecret return at once and rotate in
// the background, as AWS does; by default it returns when the rotation
// has ended, which tests prefer. The response is the same either way.
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

// WithClock starts the emulator's clock at start instead of now; it then
// runs at the wall clock's pace. Every date the emulator stamps (a
// version's CreatedDate, LastChangedDate, the end of a recovery window,
// ...) is by this clock.
func WithClock(start time.Time) Option {
	return func(e *Emulator) { e.clockOffset.Store(int64(time.Until(start))) }
}

// New returns an emulator with no secrets.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		region: "us-east-1", account: "000000000000",
		maxAttempts: 3, functionTimeout: 60 * time.Second,
		wallClock:      time.Now,
		arnSuffix:      func(string) string { return randomSuffix() },
		secrets:        map[string]*secretEntry{},
		names:          map[nameKey]string{},
		stale:          map[*replica]struct{}{},
		replicationLag: defaultReplicationLag,
		functions:      map[string]Invoker{},
	}
	for _, o := range opts {
		o(e)
	}
	if e.maxAttempts < 1 {
		e.maxAttempts = 1
	}
	if e.functionTimeout <= 0 {
		e.functionTimeout = 60 * time.Second
	}
	return e
}

// Now is the emulator's clock.
func (e *Emulator) Now() time.Time { return e.now() }

func (e *Emulator) now() time.Time {
	return e.wallClock().Add(time.Duration(e.clockOffset.Load()))
}

// Advance moves the emulator's clock forward by d (never back: a negative
// d is ignored) and answers the new time. Versions made before look d
// older; a recovery window ends when the clock passes it.
func (e *Emulator) Advance(d time.Duration) time.Time {
	if d > 0 {
		e.clockOffset.Add(int64(d))
	}
	return e.now()
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
	// expected, when set, goes to the request log beside the error type:
	// why a healthy caller meets this error. It is never sent.
	expected string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func errOf(typ, format string, args ...any) *apiError {
	status := http.StatusBadRequest
	if typ == "InternalServiceError" {
		status = http.StatusInternalServerError
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &apiError{Type: typ, Message: msg, Status: status}
}

const contentType = "application/x-amz-json-1.1"

func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Type, e.Message})
}

func writeOK(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, errOf("InternalServiceError", "An error occurred on the server side."))
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// ServeHTTP answers awsJson1.1 calls on POST / and the control API under
// /_emulator/.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		e.serveControl(w, r)
		return
	}
	start := time.Now()
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	op, status, errType, expected := e.serveAPI(w, r)
	if e.log != nil {
		attrs := []slog.Attr{
			slog.String("operation", op), slog.Int("status", status),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if errType != "" {
			attrs = append(attrs, slog.String("error", errType))
		}
		if expected != "" {
			attrs = append(attrs, slog.String("expected", expected))
		}
		e.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}
}

const targetPrefix = "secretsmanager."

// serveAPI answers one call; it reports the operation, the status sent (0
// for a dropped connection), the error type and, for an error a healthy
// caller meets, why it is expected, for the request log.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) (op string, status int, errType, expected string) {
	fail := func(apiErr *apiError) (string, int, string, string) {
		writeError(w, apiErr)
		return op, apiErr.Status, apiErr.Type, apiErr.expected
	}
	target := r.Header.Get("X-Amz-Target")
	op = strings.TrimPrefix(target, targetPrefix)
	if op == "" {
		op = "unknown"
	}
	// Authentication comes first, as at AWS's front door.
	if apiErr := checkSignature(r); apiErr != nil {
		return fail(apiErr)
	}
	handler, known := operations[op]
	if !known || !strings.HasPrefix(target, targetPrefix) || r.Method != http.MethodPost || r.URL.Path != "/" {
		// Coral's answer to a target it does not serve (message inferred).
		op = "unknown"
		return fail(errOf("UnknownOperationException", "The operation is not supported by this service."))
	}

	// Faults come before the operation, so a failed call changes nothing.
	if f, hit := e.plan.Observe(op); hit {
		f.Wait(r)
		if f.Drop {
			if !faults.DropConnection(w) {
				panic(http.ErrAbortHandler) // no hijack (HTTP/2): abort the stream instead
			}
			return op, 0, "dropped", ""
		}
		if f.Status != 0 {
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			}
			return fail(faultError(f.Status, f.RetryAfter))
		}
	}

	var fields map[string]json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&fields); err != nil {
		// Coral's answer to a body that is not a JSON object (message inferred).
		return fail(errOf("SerializationException", "The request body could not be read as a JSON object."))
	}
	out, apiErr := handler(e, &request{fields: fields, region: requestRegion(r, e.region)})
	if apiErr != nil {
		return fail(apiErr)
	}
	writeOK(w, out)
	return op, http.StatusOK, "", ""
}

// faultError renders an injected failure as Secrets Manager would answer
// it: a 5xx is InternalServiceError, a 429 (or a 400 that carries a
// Retry-After) is ThrottlingException, as AWS throttles with a 400, a 403
// AccessDeniedException, any other status InvalidRequestException. The
// rule's status is kept.
func faultError(status, retryAfter int) *apiError {
	switch {
	case status >= 500:
		return &apiError{Type: "InternalServiceError", Message: "An error occurred on the server side.", Status: status}
	case status == http.StatusTooManyRequests, status == http.StatusBadRequest && retryAfter > 0:
		return &apiError{Type: "ThrottlingException", Message: "Rate exceeded", Status: status}
	case status == http.StatusForbidden:
		return &apiError{Type: "AccessDeniedException", Message: "User is not authorized to perform this operation (injected fault).", Status: status}
	default:
		return &apiError{Type: "InvalidRequestException", Message: "The request failed (injected fault).", Status: status}
	}
}

// checkSignature accepts any credentials but insists the request is
// SigV4-signed in form, as every call from an SDK or the CLI is. The
// answers are Coral's: 400 MissingAuthenticationTokenException "Request is
// missing Authentication Token" without a header, 400
// IncompleteSignatureException naming what a malformed one lacks (the
// header itself is not echoed, as AWS does, since it may hold a token).
func checkSignature(r *http.Request) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &apiError{Type: "MissingAuthenticationTokenException", Message: "Request is missing Authentication Token", Status: http.StatusBadRequest}
	}
	var missing []string
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		missing = append(missing, "Authorization header requires the 'AWS4-HMAC-SHA256' algorithm.")
	}
	for _, part := range []string{"Credential", "Signature", "SignedHeaders"} {
		if !strings.Contains(auth, part+"=") {
			missing = append(missing, "Authorization header requires '"+part+"' parameter.")
		}
	}
	if r.Header.Get("X-Amz-Date") == "" && r.Header.Get("Date") == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return &apiError{Type: "IncompleteSignatureException", Message: strings.Join(missing, " "), Status: http.StatusBadRequest}
	}
	return nil
}

// epoch is a timestamp as awsJson1.1 sends it: seconds since the epoch,
// with milliseconds. The zero value is omitted by omitempty.
type epoch float64

func epochOf(t time.Time) epoch {
	if t.IsZero() {
		return 0
	}
	return epoch(float64(t.UnixMilli()) / 1000)
}
