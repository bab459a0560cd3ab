// Package lambdaservice calls AWS Lambda's Invoke API for the one thing
// the rotator needs of it: to hand the rest of a sweep to a follow-up
// invocation of itself, asynchronously. It signs the request with the
// function's own credentials (Signature Version 4, service "lambda") and
// sends it with net/http, rather than linking the whole Lambda SDK client
// into the function for one call.
package lambdaservice

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxAsyncPayload is the largest payload Lambda accepts for an
// asynchronous invocation: "For asynchronous invocations, the maximum
// payload size is 1 MB" (AWS Lambda API Reference, Invoke).
const maxAsyncPayload = 1024 * 1024

// maxAnswer bounds what is read of an answer: Invoke's Event answer is
// empty, and an error answer is a short JSON object.
const maxAnswer = 64 * 1024

// Client invokes functions through Lambda's Invoke API.
type Client struct {
	endpoint string // scheme://host, without a trailing slash
	region   string
	creds    aws.CredentialsProvider
	http     *http.Client
	signer   *v4.Signer
	now      func() time.Time
}

// New is a client for cfg's region and credentials. endpoint overrides
// Lambda's (AWS_ENDPOINT_URL_LAMBDA, the local stack); empty takes
// https://lambda.<region>.amazonaws.com.
func New(cfg aws.Config, endpoint string) (*Client, error) {
	if endpoint == "" {
		if cfg.Region == "" {
			return nil, errors.New("lambda: no region to invoke in")
		}
		endpoint = "https://lambda." + cfg.Region + ".amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("lambda: the endpoint is not an http(s) URL")
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	return &Client{endpoint: strings.TrimRight(endpoint, "/"), region: cfg.Region, creds: cfg.Credentials,
		http: hc, signer: v4.NewSigner(), now: time.Now}, nil
}

// InvokeAsync queues an asynchronous invocation of functionARN with
// payload (POST /2015-03-31/functions/{FunctionName}/invocations with
// X-Amz-Invocation-Type: Event; AWS Lambda API Reference, Invoke): Lambda
// answers 202 once it has queued the event, and may deliver an event more
// than once, which a sweep tolerates. Each call queues one more invocation: calling it twice runs
// the function twice. Its errors name the operation and Lambda's error
// type, never the payload.
func (c *Client) InvokeAsync(ctx context.Context, functionARN string, payload []byte) error {
	if len(payload) > maxAsyncPayload {
		return fmt.Errorf("lambda Invoke: a payload of %d bytes is over the %d of an asynchronous invocation", len(payload), maxAsyncPayload)
	}
	u := c.endpoint + "/2015-03-31/functions/" + url.PathEscape(functionARN) + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return errors.New("lambda Invoke: cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	if c.creds == nil {
		return errors.New("lambda Invoke: no credentials")
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("lambda Invoke: credentials: %w", err)
	}
	sum := sha256.Sum256(payload)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", c.region, c.now()); err != nil {
		return fmt.Errorf("lambda Invoke: sign: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Not err itself: *url.Error quotes the URL.
		return fmt.Errorf("lambda Invoke: POST %s: no answer (%s)", req.URL.Host, reason(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode == http.StatusAccepted {
		return nil
	}
	kind := resp.Header.Get("X-Amzn-Errortype")
	if i := strings.IndexByte(kind, ':'); i >= 0 {
		kind = kind[:i]
	}
	if kind == "" {
		kind = "unknown error"
	}
	_ = body // an error body may quote the request; it is not repeated
	return fmt.Errorf("lambda Invoke: HTTP %d (%s)", resp.StatusCode, clip(kind, 80))
}

func reason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return "timeout"
	}
	return "connection failed"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
