// Package lambdaruntime runs a built Lambda binary the way Lambda does: as
// a child process that fetches its events from a Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html). It
// lets the local stack and the tests drive the very `bootstrap` that ships,
// not just its packages.
package lambdaruntime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"
)

const apiPrefix = "/2018-06-01/runtime/"

// Runtime API headers.
const (
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
)

// defaultTimeout bounds an invocation whose context has no deadline.
const defaultTimeout = 60 * time.Second

// FunctionError is what a function reported through /error or
// /init/error.
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *FunctionError) Error() string { return e.Message }

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	arn      string
	result   chan result
}

type result struct {
	body []byte
	err  error
}

// Function is a running Lambda binary behind a Runtime API. It serves one
// invocation at a time, as one Lambda execution environment does.
type Function struct {
	arn    string
	out    io.Writer
	cmd    *exec.Cmd
	ln     net.Listener
	srv    *http.Server
	events chan *invocation

	mu       sync.Mutex
	inflight map[string]*invocation
	ready    chan struct{} // closed at the first /next
	readyOne sync.Once
	initErr  *FunctionError
	exited   chan struct{} // closed when the process has exited
	state    *os.ProcessState
	invokeMu sync.Mutex
	closed   bool
}

// Option configures a Function.
type Option func(*Function)

// WithOutput sends the child's stdout and stderr to w (default: discarded).
func WithOutput(w io.Writer) Option { return func(f *Function) { f.out = w } }

// WithFunctionARN sets the invoked function ARN the child sees.
func WithFunctionARN(arn string) Option { return func(f *Function) { f.arn = arn } }

// Start launches the binary with AWS_LAMBDA_RUNTIME_API pointing at a
// Runtime API on 127.0.0.1 and waits until it asks for its first event.
// If it reports an init error or exits first, Start fails with the
// function's message and nothing is left running.
func Start(ctx context.Context, binaryPath string, env []string, opts ...Option) (*Function, error) {
	f := &Function{
		arn:      "arn:aws:lambda:us-east-1:000000000000:function:local",
		out:      io.Discard,
		events:   make(chan *invocation),
		inflight: map[string]*invocation{},
		ready:    make(chan struct{}),
		exited:   make(chan struct{}),
	}
	for _, o := range opts {
		o(f)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime API: %w", err)
	}
	f.ln = ln
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()

	name := "local"
	if i := strings.LastIndex(f.arn, ":"); i >= 0 {
		name = f.arn[i+1:]
	}
	f.cmd = exec.Command(binaryPath)
	f.cmd.Env = append(append([]string{}, env...),
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME="+name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
	)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	if err := f.cmd.Start(); err != nil {
		_ = f.srv.Close()
		return nil, fmt.Errorf("start %s: %w", binaryPath, err)
	}
	go func() {
		_ = f.cmd.Wait()
		f.mu.Lock()
		f.state = f.cmd.ProcessState
		f.mu.Unlock()
		close(f.exited)
	}()

	select {
	case <-f.ready:
		return f, nil
	case <-f.exited:
		err := f.deathError("before asking for its first event")
		_ = f.Close()
		return nil, err
	case <-ctx.Done():
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", binaryPath, ctx.Err())
	}
}

// deathError says why the process is gone: its init error, or its exit.
func (f *Function) deathError(when string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.initErr != nil {
		return fmt.Errorf("function init failed (%s): %w", f.initErr.Type, f.initErr)
	}
	if f.state != nil {
		return fmt.Errorf("function exited %s: %s", when, f.state)
	}
	return fmt.Errorf("function exited %s", when)
}

// Invoke delivers payload as one event and waits for the function's answer.
// The deadline is ctx's (60 s when it has none); the request id is the
// lambdacontext's when ctx carries one. A function error comes back as a
// *FunctionError. Invocations are served one at a time.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.invokeMu.Lock()
	defer f.invokeMu.Unlock()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultTimeout)
	}
	inv := &invocation{id: uuid.NewString(), payload: payload, deadline: deadline, arn: f.arn, result: make(chan result, 1)}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		if lc.AwsRequestID != "" {
			inv.id = lc.AwsRequestID
		}
		if lc.InvokedFunctionArn != "" {
			inv.arn = lc.InvokedFunctionArn
		}
	}
	budget := time.Until(deadline)
	timer := time.NewTimer(budget)
	defer timer.Stop()

	select {
	case f.events <- inv:
	case <-f.exited:
		return nil, f.deathError("before this invocation")
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, fmt.Errorf("the function did not ask for the event before its deadline")
	}
	select {
	case r := <-inv.result:
		return r.body, r.err
	case <-f.exited:
		return nil, f.deathError("during the invocation")
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		//lint:ignore ST1005 Lambda's own message, word for word
		return nil, fmt.Errorf("Task timed out after %.2f seconds", budget.Seconds())
	}
}

// Close stops the child (SIGTERM, then SIGKILL after a second) and the
// Runtime API. Closing twice is harmless.
func (f *Function) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	if f.cmd != nil && f.cmd.Process != nil {
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.exited:
		case <-time.After(time.Second):
			_ = f.cmd.Process.Kill()
			<-f.exited
		}
	}
	return f.srv.Close()
}

// Kill ends the process at once with SIGKILL, as Lambda's sandbox ends a
// function that runs out of memory or time: no signal handler runs, no
// deferred call, no buffered write. An invocation in flight then fails
// with the death error ("function exited during the invocation: signal:
// killed"), and the Function serves nothing more; start another for the
// next event, as Lambda starts a fresh execution environment. Kill returns
// once the process is gone; killing a process already gone is harmless.
func (f *Function) Kill() error {
	if err := f.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill: %w", err)
	}
	<-f.exited
	return nil
}

// Exited is closed once the process has exited, for whatever reason.
func (f *Function) Exited() <-chan struct{} { return f.exited }

// PeakRSSKiB is the running child's peak resident memory so far, from
// VmHWM in /proc (Linux only). The exit status's rusage is no use here:
// its high-water mark can include the parent's memory at fork time.
func (f *Function) PeakRSSKiB() (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", f.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: VmHWM %q: %w", rest, err)
			}
			return kib, nil
		}
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc status")
}

// serve is the Runtime API.
func (f *Function) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, apiPrefix)
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		f.readyOne.Do(func() { close(f.ready) })
		select {
		case inv := <-f.events:
			f.mu.Lock()
			f.inflight[inv.id] = inv
			f.mu.Unlock()
			h := w.Header()
			h.Set(headerRequestID, inv.id)
			h.Set(headerDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			h.Set(headerFunctionARN, inv.arn)
			h.Set(headerTraceID, "Root=1-00000000-000000000000000000000000;Sampled=0")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	case r.Method == http.MethodPost && path == "init/error":
		fe := readError(r)
		f.mu.Lock()
		f.initErr = fe
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		id, kind, _ := strings.Cut(strings.TrimPrefix(path, "invocation/"), "/")
		f.mu.Lock()
		inv, ok := f.inflight[id]
		delete(f.inflight, id)
		f.mu.Unlock()
		if !ok || (kind != "response" && kind != "error") {
			http.Error(w, `{"errorMessage":"unknown invocation","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		if kind == "response" {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20))
			inv.result <- result{body: body}
		} else {
			inv.result <- result{err: readError(r)}
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func readError(r *http.Request) *FunctionError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fe := &FunctionError{}
	if json.Unmarshal(body, fe) != nil || fe.Message == "" {
		fe.Message = strings.TrimSpace(string(body))
	}
	if fe.Type == "" {
		fe.Type = r.Header.Get(headerErrorType)
	}
	return fe
}

// OpenFiles is how many file descriptors the running child holds now
// (its sockets included), from /proc (Linux only).
func (f *Function) OpenFiles() (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", f.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("open files: %w", err)
	}
	return len(entries), nil
}
