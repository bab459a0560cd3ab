// Package runtimeapi is the one piece of Lambda's Runtime API the rotator
// speaks itself: reporting an initialisation error. aws-lambda-go speaks
// the rest (next invocation, response, invocation error) once lambda.Start
// runs, but offers no way to report a failure that happens before it.
// The API is documented at
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html.
package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrorTypeConfig is the errorType of an init error caused by the
// function's configuration; Lambda shows it in the failed invocation.
const ErrorTypeConfig = "Runtime.ConfigError"

// reportTimeout bounds the report: a Runtime API that does not answer
// must not keep a failed init alive.
const reportTimeout = 5 * time.Second

// maxMessage clips the message: Lambda truncates what it shows anyway, and
// an init error is a sentence, not a dump.
const maxMessage = 4096

// initError is the body of POST /runtime/init/error.
type initError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

// ReportInitError tells Lambda, through the Runtime API at runtimeAPI (the
// host:port in AWS_LAMBDA_RUNTIME_API), that initialisation failed with
// err, of errorType. Lambda then fails the pending invocation with that
// message instead of a bare "Runtime exited". Lambda accepts one init error
// per initialisation; calling it twice gets an error from the second call.
func ReportInitError(ctx context.Context, runtimeAPI, errorType string, err error) error {
	if runtimeAPI == "" {
		return fmt.Errorf("report init error: AWS_LAMBDA_RUNTIME_API is not set")
	}
	msg := err.Error()
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	body, merr := json.Marshal(initError{Message: msg, Type: errorType})
	if merr != nil {
		return fmt.Errorf("report init error: %w", merr)
	}
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+runtimeAPI+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if rerr != nil {
		return fmt.Errorf("report init error: %w", rerr)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	resp, rerr := http.DefaultClient.Do(req)
	if rerr != nil {
		return fmt.Errorf("report init error: %w", rerr)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("report init error: the Runtime API answered %s", resp.Status)
	}
	return nil
}
