package localstack

import (
	"context"
	"errors"
	"sync"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
)

// environments runs a built bootstrap as Lambda scales a function out: an
// execution environment serves one invocation at a time, and an
// invocation that finds none idle gets a new one, up to a limit (the
// function's concurrency), else waits for one. A request that waits for a
// rotation (the rotate action's revoke_previous) needs a second one: the
// rotation's steps are invocations of the same function.
type environments struct {
	start func() (*lambdaruntime.Function, error)
	slots chan struct{}

	mu   sync.Mutex
	idle []*lambdaruntime.Function
	all  []*lambdaruntime.Function
}

func newEnvironments(first *lambdaruntime.Function, limit int, start func() (*lambdaruntime.Function, error)) *environments {
	return &environments{start: start, slots: make(chan struct{}, limit), idle: []*lambdaruntime.Function{first}, all: []*lambdaruntime.Function{first}}
}

// Invoke runs the invocation in an idle environment, or a new one.
func (e *environments) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.slots }()
	fn, err := e.take()
	if err != nil {
		return nil, err
	}
	defer func() {
		e.mu.Lock()
		e.idle = append(e.idle, fn)
		e.mu.Unlock()
	}()
	return fn.Invoke(ctx, payload)
}

// take is an idle environment whose process still runs, or a new one.
func (e *environments) take() (*lambdaruntime.Function, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.idle) > 0 {
		fn := e.idle[len(e.idle)-1]
		e.idle = e.idle[:len(e.idle)-1]
		select {
		case <-fn.Exited():
			continue
		default:
			return fn, nil
		}
	}
	fn, err := e.start()
	if err != nil {
		return nil, err
	}
	e.all = append(e.all, fn)
	return fn, nil
}

// Close ends every environment's process.
func (e *environments) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, fn := range e.all {
		errs = append(errs, fn.Close())
	}
	return errors.Join(errs...)
}
