package localstack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator"
)

// The fleet of issue 12's benchmark: 1,500 secrets, 1,000 of them rotated
// by this function, 250 by another function and 250 by none, with 20 ms
// on every call to either emulator.
const (
	fleetOwned   = 1000
	fleetOther   = 250
	fleetPlain   = 250
	fleetLatency = 20 * time.Millisecond
	otherRotator = "arn:aws:lambda:us-east-1:000000000000:function:someone-elses-rotator"
)

// sweepSummary is the part of the sweep's result the benchmark checks.
type sweepSummary struct {
	Action           string `json:"action"`
	Secrets          int    `json:"secrets"`
	Healthy          int    `json:"healthy"`
	RotationsStarted int    `json:"rotations_started"`
	TokensRevoked    int    `json:"tokens_revoked"`
	Errors           int    `json:"errors"`
	NotReached       int    `json:"not_reached"`
}

// passes is a rotation function that succeeds at every step: the other
// function the 250 secrets name, whose configuration test must pass.
type passes struct{}

func (passes) Invoke(context.Context, []byte) ([]byte, error) { return nil, nil }

// BenchmarkSweepFleet is a sweep with nothing to do, through the built
// binary: its wall time (ns/op), its Secrets Manager calls, its Aiven calls
// per secret and its peak resident memory.
func BenchmarkSweepFleet(b *testing.B) {
	bin := buildRotator(b)
	stack, err := localstack.Start(b.Context(), localstack.Config{
		SecretsManagerAddr: "127.0.0.1:0", AivenAddr: "127.0.0.1:0",
		RotatorEnv: map[string]string{"PREVIOUS_TOKEN_GRACE": "0s"},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer stack.Close()
	stack.SecretsManager.RegisterFunction(otherRotator, passes{})
	seedFleet(b, stack)

	// The sweep runs in the built binary, as in Lambda; the rotations
	// above ran in process, to keep the setup fast.
	fn, err := lambdaruntime.Start(b.Context(), bin, stack.RotatorEnv().List(),
		lambdaruntime.WithOutput(io.Discard), lambdaruntime.WithFunctionARN(localstack.FunctionARN))
	if err != nil {
		b.Fatal(err)
	}
	defer fn.Close()
	for _, p := range []interface{ SetLatency(time.Duration) error }{stack.SecretsManager.Faults(), stack.Aiven.Faults()} {
		if err := p.SetLatency(fleetLatency); err != nil {
			b.Fatal(err)
		}
	}

	var smCalls, aivenCalls int
	for b.Loop() {
		b.StopTimer()
		stack.SecretsManager.Faults().ResetCalls()
		stack.Aiven.Faults().ResetCalls()
		b.StartTimer()
		out, err := smemulator.Run(fn, localstack.FunctionARN, []byte(`{"action":"sweep"}`), 5*time.Minute)
		b.StopTimer()
		if err != nil {
			b.Fatalf("sweep: %v", err)
		}
		var got sweepSummary
		if err := json.Unmarshal(out, &got); err != nil {
			b.Fatalf("sweep result %.300s: %v", out, err)
		}
		if want := (sweepSummary{Action: "sweep", Secrets: fleetOwned, Healthy: fleetOwned}); got != want {
			b.Fatalf("sweep result %+v, want %+v: nothing to do", got, want)
		}
		smCalls, aivenCalls = total(stack.SecretsManager.Faults().Calls()), total(stack.Aiven.Faults().Calls())
		b.StartTimer()
	}
	kib, err := fn.PeakRSSKiB()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(smCalls), "sm-calls")
	b.ReportMetric(float64(aivenCalls)/fleetOwned, "aiven-calls/secret")
	b.ReportMetric(float64(kib)/1024, "sweep-peak-rss-MB")
}

// seedFleet makes the fleet: one Aiven user a secret this function
// rotates, each rotated once (so its value is in the JSON form), the other
// function's secrets configured without rotating, and plain ones.
func seedFleet(b *testing.B, stack *localstack.Stack) {
	sm := stack.SecretsManagerClient()
	ctx := b.Context()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	slots := make(chan struct{}, 16)
	for i := range fleetOwned + fleetOther + fleetPlain {
		wg.Add(1)
		slots <- struct{}{}
		seed := func() error {
			user, err := stack.Aiven.CreateUser(fmt.Sprintf("fleet-%04d@example.com", i))
			if err != nil {
				return err
			}
			created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name: aws.String(fmt.Sprintf("aiven/fleet/%04d", i)), SecretString: aws.String(user.Token),
			})
			if err != nil {
				return err
			}
			switch {
			case i < fleetOwned:
				_, err = sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
					SecretId: created.ARN, RotationLambdaARN: aws.String(localstack.FunctionARN),
				})
			case i < fleetOwned+fleetOther:
				_, err = sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
					SecretId: created.ARN, RotationLambdaARN: aws.String(otherRotator), RotateImmediately: aws.Bool(false),
				})
			}
			return err
		}
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := seed(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatalf("seed the fleet: %v", err)
	}
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// The account of issue 17's benchmark: 100,000 secrets, 1,000 of them
// rotated by this function, 20 ms on every call.
const largeAccountPlain = 99_000

// BenchmarkSweepLargeAccount is a sweep with nothing to do in an account of
// 100,000 secrets, 1,000 owned, through the built binary: the sweep keeps
// only owned secrets while it pages, so its memory follows the fleet, not
// the account. It reports the wall time (ns/op), the Secrets Manager calls
// and the peak resident memory.
func BenchmarkSweepLargeAccount(b *testing.B) {
	bin := buildRotator(b)
	stack, err := localstack.Start(b.Context(), localstack.Config{
		SecretsManagerAddr: "127.0.0.1:0", AivenAddr: "127.0.0.1:0",
		RotatorEnv: map[string]string{"PREVIOUS_TOKEN_GRACE": "0s"},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer stack.Close()
	stack.SecretsManager.RegisterFunction(otherRotator, passes{})
	seedFleet(b, stack)
	seedPlain(b, stack, largeAccountPlain)

	fn, err := lambdaruntime.Start(b.Context(), bin, stack.RotatorEnv().List(),
		lambdaruntime.WithOutput(io.Discard), lambdaruntime.WithFunctionARN(localstack.FunctionARN))
	if err != nil {
		b.Fatal(err)
	}
	defer fn.Close()
	for _, p := range []interface{ SetLatency(time.Duration) error }{stack.SecretsManager.Faults(), stack.Aiven.Faults()} {
		if err := p.SetLatency(fleetLatency); err != nil {
			b.Fatal(err)
		}
	}
	var smCalls int
	for b.Loop() {
		b.StopTimer()
		stack.SecretsManager.Faults().ResetCalls()
		b.StartTimer()
		out, err := smemulator.Run(fn, localstack.FunctionARN, []byte(`{"action":"sweep"}`), 14*time.Minute)
		b.StopTimer()
		if err != nil {
			b.Fatalf("sweep: %v", err)
		}
		var got sweepSummary
		if err := json.Unmarshal(out, &got); err != nil {
			b.Fatalf("sweep result %.300s: %v", out, err)
		}
		if want := (sweepSummary{Action: "sweep", Secrets: fleetOwned, Healthy: fleetOwned}); got != want {
			b.Fatalf("sweep result %+v, want %+v: nothing to do", got, want)
		}
		smCalls = total(stack.SecretsManager.Faults().Calls())
		b.StartTimer()
	}
	kib, err := fn.PeakRSSKiB()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(smCalls), "sm-calls")
	b.ReportMetric(float64(kib)/1024, "sweep-peak-rss-MB")
}

// seedPlain adds n secrets nobody rotates.
func seedPlain(b *testing.B, stack *localstack.Stack, n int) {
	sm := stack.SecretsManagerClient()
	var wg sync.WaitGroup
	next := make(chan int)
	var failed error
	var once sync.Once
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := sm.CreateSecret(b.Context(), &secretsmanager.CreateSecretInput{
					Name: aws.String(fmt.Sprintf("other/app-%06d", i)), SecretString: aws.String(`{"password":"not a token"}`),
				}); err != nil {
					once.Do(func() { failed = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if failed != nil {
		b.Fatalf("seed %d plain secrets: %v", n, failed)
	}
}
