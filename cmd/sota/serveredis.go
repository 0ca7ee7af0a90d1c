package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sotasystems/sota/admission"
	redisslots "github.com/sotasystems/sota/store/redis"
)

// redisFlags share the stream caps of keys mode across replicas.
type redisFlags struct {
	RedisURL             string        `name:"redis-url" help:"Share tenants' stream slots and queues with every replica on this Redis (redis://[user:pass@]host:port/db, rediss:// for TLS); unset: this process alone." env:"SOTA_REDIS_URL" placeholder:"URL"`
	RedisLeaseTTL        time.Duration `name:"redis-lease-ttl" help:"How long a dead replica's stream slots stay taken; leases are renewed every third of it." default:"15s" env:"SOTA_REDIS_LEASE_TTL"`
	RedisFallbackStreams int           `name:"redis-fallback-streams" help:"Each tenant's stream cap in THIS replica while Redis is out of reach (at most the tenant's own)." default:"1" env:"SOTA_REDIS_FALLBACK_STREAMS"`
}

// admitter is keys mode's admission: shared on Redis with --redis-url,
// else this process's own controller. An unreachable Redis at startup is
// not fatal: the Admitter starts in its fallback and recovers (logged).
func (f *redisFlags) admitter(ctx context.Context, rc *runContext) (admission.Admitter, func(), error) {
	if f.RedisURL == "" {
		return admission.NewController(nil), func() {}, nil
	}
	if f.RedisLeaseTTL < 30*time.Millisecond || f.RedisFallbackStreams < 1 {
		return nil, nil, errors.New("--redis-lease-ttl must be >= 30ms and --redis-fallback-streams >= 1")
	}
	opt, err := redis.ParseURL(f.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--redis-url: %w", err)
	}
	// go-redis logs every failed redial (pub/sub reconnects included); the
	// Admitter logs an outage once at Error, so these go to Debug.
	redis.SetLogger(redisLogger{rc.logger})
	if opt.MaxRetries == 0 && !strings.Contains(f.RedisURL, "max_retries") {
		// One retry, not go-redis's three: an admission waits on it, and a
		// Redis that is out of reach should switch to the fallback quickly.
		opt.MaxRetries = 1
	}
	client := redis.NewClient(opt)
	a, err := redisslots.New(ctx, redisslots.Options{Client: client, LeaseTTL: f.RedisLeaseTTL,
		FallbackStreams: f.RedisFallbackStreams, Logger: rc.logger})
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	rc.logger.Info("admission: stream slots shared on Redis", "redis", opt.Addr, "lease_ttl", f.RedisLeaseTTL,
		"fallback_streams", f.RedisFallbackStreams, "degraded", a.Degraded())
	return a, func() {
		if err := a.Close(); err != nil {
			rc.logger.Warn("admission: closing the Redis admitter", "err", err)
		}
		_ = client.Close()
	}, nil
}

// redisLogger sends go-redis's internal log lines to slog at Debug.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client: "+strings.TrimSpace(fmt.Sprintf(format, v...)))
}
