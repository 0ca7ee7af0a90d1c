package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// Keys authenticates API keys stored (hashed) in a store.DB.
type Keys struct {
	db    *store.DB
	tiers map[string]admission.Tier
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	cache   map[admission.KeyHash]cached
	touched map[string]time.Time // key id → last use not yet written
}

type cached struct {
	p       admission.Principal
	err     error // a cached refusal (unknown or revoked key)
	expires time.Time
}

// maxCached bounds the cache (refusals of random keys included).
const maxCached = 100_000

// KeysOptions tune Keys; zero values take the defaults.
type KeysOptions struct {
	TTL    time.Duration    // how long a lookup is trusted; default 5s
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

// NewKeys authenticates against db, resolving tenants' tiers in tiers.
func NewKeys(db *store.DB, tiers map[string]admission.Tier, o KeysOptions) *Keys {
	if o.TTL <= 0 {
		o.TTL = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Keys{db: db, tiers: tiers, ttl: o.TTL, now: o.Now, log: o.Logger,
		cache: map[admission.KeyHash]cached{}, touched: map[string]time.Time{}}
}

// Authenticate implements admission.Authenticator.
func (k *Keys) Authenticate(ctx context.Context, key string) (admission.Principal, error) {
	h := admission.HashKey(key)
	now := k.now()
	k.mu.Lock()
	c, ok := k.cache[h]
	k.mu.Unlock()
	if !ok || now.After(c.expires) {
		var err error
		c, err = k.lookup(ctx, h, now)
		if err != nil {
			return admission.Principal{}, err // the store failed: not cached
		}
		k.mu.Lock()
		if len(k.cache) >= maxCached {
			clear(k.cache)
		}
		k.cache[h] = c
		k.mu.Unlock()
	}
	if c.err != nil {
		return admission.Principal{}, c.err
	}
	k.mu.Lock()
	k.touched[c.p.KeyID] = now
	k.mu.Unlock()
	return c.p, nil
}

// lookup reads a key and its tenant. Unknown and revoked keys are cached
// refusals; a tenant whose tier this server does not define is refused.
func (k *Keys) lookup(ctx context.Context, h admission.KeyHash, now time.Time) (cached, error) {
	c := cached{expires: now.Add(k.ttl)}
	key, tenant, err := k.db.KeyByHash(ctx, h)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.err = fmt.Errorf("%w: invalid API key", admission.ErrUnauthorized)
		return c, nil
	case errors.Is(err, store.ErrRevoked):
		c.err = fmt.Errorf("%w: this API key was revoked", admission.ErrUnauthorized)
		return c, nil
	case err != nil:
		return c, fmt.Errorf("authenticate: %w", err)
	}
	tier, ok := k.tiers[tenant.Tier]
	if !ok {
		k.log.Error("tenant's tier is not configured", "tenant", tenant.ID, "tier", tenant.Tier)
		c.err = fmt.Errorf("%w: the tier %q of this key's tenant is not configured on this server", admission.ErrUnauthorized, tenant.Tier)
		return c, nil
	}
	p := admission.Principal{Tenant: tenant.ID, KeyID: key.ID, Tier: tier, Streams: tenant.Streams}
	if key.Priority != "" {
		if cl, err := admission.ParseClass(key.Priority); err == nil {
			p.Class = &cl
		}
	}
	c.p = p
	return c, nil
}

// Run writes last-used times every interval until ctx ends, then once more.
func (k *Keys) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			k.flush(context.Background())
			return
		case <-t.C:
			k.flush(ctx)
		}
	}
}

func (k *Keys) flush(ctx context.Context) {
	k.mu.Lock()
	used := k.touched
	k.touched = map[string]time.Time{}
	k.mu.Unlock()
	if len(used) == 0 {
		return
	}
	if err := k.db.TouchKeys(ctx, used); err != nil {
		k.log.Warn("recording keys' last use", "err", err)
	}
}
