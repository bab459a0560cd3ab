package rotation

// A sweep reads each manager secret once, whatever the number of
// application secrets it manages: the sweep's context carries the reads.

import (
	"context"
	"sync"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// managerCache holds each manager secret's read for one sweep, so that
// application secrets sharing a manager read it once.
type managerCache struct {
	mu    sync.Mutex
	reads map[string]*managerRead
}

type managerRead struct {
	once sync.Once
	desc secretsmanager.Description
	raw  string
	err  error
}

type managerCacheKey struct{}

// WithManagerCache is ctx with a cache of manager secret reads: under it,
// each manager secret is read once (readOnce).
func WithManagerCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, managerCacheKey{}, &managerCache{reads: map[string]*managerRead{}})
}

// readOnce is read's answer for id, from the sweep's cache when ctx has
// one (read runs once per id), else read itself.
func readOnce(ctx context.Context, id string, read func() (secretsmanager.Description, string, error)) (secretsmanager.Description, string, error) {
	c, _ := ctx.Value(managerCacheKey{}).(*managerCache)
	if c == nil {
		return read()
	}
	c.mu.Lock()
	e := c.reads[id]
	if e == nil {
		e = &managerRead{}
		c.reads[id] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.desc, e.raw, e.err = read() })
	return e.desc, e.raw, e.err
}
