package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/server/admin"
	"github.com/sotasystems/sota/server/openai"
	"github.com/sotasystems/sota/server/tenancy"
	"github.com/sotasystems/sota/store"
)

// tenancyFlags are serve's API-key, tier and admission flags.
type tenancyFlags struct {
	dbFlags    `embed:""`
	tiersFlags `embed:""`
	redisFlags `embed:""`

	APIKey               []string      `name:"api-key" help:"A static API key (repeatable): a single-tenant server with no database, as vLLM's --api-key." env:"SOTA_API_KEY" placeholder:"KEY"`
	AllowUnauthenticated bool          `help:"Serve without API keys on an address other than loopback." env:"SOTA_ALLOW_UNAUTHENTICATED"`
	StreamStallTimeout   time.Duration `help:"Abort a response whose client accepts no bytes for this long, freeing its stream slot (0: never)." default:"30s" env:"SOTA_STREAM_STALL_TIMEOUT"`
	KeyCacheTTL          time.Duration `help:"How long an API key lookup is trusted: revocations and tier changes apply within it." default:"5s" env:"SOTA_KEY_CACHE_TTL"`
	IdempotencyWindow    time.Duration `help:"How long a response to a request with X-Request-Id is kept for replay to retries (0: off)." default:"24h" env:"SOTA_IDEMPOTENCY_WINDOW"`
	AdminToken           string        `help:"Bearer token of the admin API under /admin/v1 (keys, tenants, usage, live streams); unset: no admin API." env:"SOTA_ADMIN_TOKEN" placeholder:"TOKEN"`
}

// tenancySetup is what serve hands the API server, and what to close after.
type tenancySetup struct {
	mode      string // "keys", "static" or "open"
	auth      admission.Authenticator
	admission admission.Admitter
	usage     openai.UsageSink
	idem      openai.IdempotencyStore
	usageDB   openai.UsageReader
	admin     http.Handler // nil: no admin API
	db        *store.DB    // nil: none open (open mode without a database file)
	closers   []func()
}

// goRun runs fn until close cancels its context, and waits for it then.
func (t *tenancySetup) goRun(fn func(ctx context.Context)) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { fn(ctx); close(done) }()
	t.closers = append(t.closers, func() { stop(); <-done })
}

func (t *tenancySetup) close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
}

// usageSink writes the server's usage records to the store's log.
type usageSink struct{ log *store.UsageLog }

func (u usageSink) Add(r openai.UsageRecord) {
	u.log.Add(store.Usage{Time: r.Time, RequestID: r.RequestID, Tenant: r.Tenant, KeyID: r.KeyID, Model: r.Model,
		Priority: r.Priority, User: r.User, Endpoint: r.Endpoint, PromptTokens: r.PromptTokens,
		CompletionTokens: r.CompletionTokens, QueueTime: r.QueueTime, TTFT: r.TTFT, Duration: r.Duration, Status: r.Status})
}

// setup picks the mode: static keys (--api-key), keys from the database
// (when it holds any), else open mode, which listens on loopback only
// unless --allow-unauthenticated.
func (f *tenancyFlags) setup(ctx context.Context, rc *runContext, host string) (*tenancySetup, error) {
	ts := &tenancySetup{}
	if f.StreamStallTimeout < 0 || f.KeyCacheTTL < 0 || f.IdempotencyWindow < 0 {
		return nil, errors.New("--stream-stall-timeout, --key-cache-ttl and --idempotency-window must be >= 0")
	}
	if len(f.APIKey) > 0 {
		if f.DB != "" || f.Tiers != "" || f.RedisURL != "" || f.AdminToken != "" {
			return nil, errors.New("--api-key serves one tenant with static keys: it takes no --db, --tiers, --redis-url or --admin-token")
		}
		keys, err := admission.NewStaticKeys(splitKeys(f.APIKey), admission.Principal{Tenant: "default", Tier: admission.OpenTier()})
		if err != nil {
			return nil, fmt.Errorf("--api-key: %w", err)
		}
		ts.mode, ts.auth = "static", keys
		rc.logger.Info("API keys: static (--api-key), one tenant", "keys", len(f.APIKey))
		return ts, nil
	}
	tiers, err := f.tiersFlags.load()
	if err != nil {
		return nil, err
	}
	path, err := f.dbFlags.path()
	if err != nil {
		return nil, err
	}
	var db *store.DB
	if _, serr := os.Stat(path); serr == nil || f.DB != "" || f.AdminToken != "" {
		if db, err = store.Open(path); err != nil {
			return nil, err
		}
		ts.closers = append(ts.closers, func() { _ = db.Close() })
	}
	active := 0
	if db != nil {
		if active, err = db.ActiveKeyCount(ctx); err != nil {
			ts.close()
			return nil, err
		}
		ts.db = db
		ulog := store.NewUsageLog(db, rc.logger)
		ts.closers = append(ts.closers, ulog.Close)
		ts.usage, ts.usageDB = usageSink{ulog}, db
		if f.IdempotencyWindow > 0 {
			ts.idem = idempotencyStore{db: db, window: f.IdempotencyWindow}
			ts.goRun(func(ctx context.Context) { purgeIdempotent(ctx, db, f.IdempotencyWindow, time.Hour, rc.logger) })
		}
	}
	if active == 0 {
		if f.RedisURL != "" {
			rc.logger.Warn("--redis-url has no effect in open mode: there are no stream caps to share")
		}
		if !isLoopback(host) && !f.AllowUnauthenticated {
			ts.close()
			return nil, fmt.Errorf("no API keys in %s: serving %s without keys needs --allow-unauthenticated (or create keys with 'sota keys create', or give --api-key)", path, host)
		}
		ts.mode = "open"
		if err := ts.mountAdmin(f.AdminToken, db, tiers, rc); err != nil {
			ts.close()
			return nil, err
		}
		rc.logger.Warn("open mode: no API keys, every request runs as one tenant with no stream cap; create keys with 'sota keys create' and restart to enforce tiers", "db", path)
		return ts, nil
	}
	keys := tenancy.NewKeys(db, tiers, tenancy.KeysOptions{TTL: f.KeyCacheTTL, Logger: rc.logger})
	ts.goRun(func(ctx context.Context) { keys.Run(ctx, 10*time.Second) })
	adm, closeAdm, err := f.redisFlags.admitter(ctx, rc)
	if err != nil {
		ts.close()
		return nil, err
	}
	ts.closers = append(ts.closers, closeAdm)
	ts.mode, ts.auth, ts.admission = "keys", keys, adm
	if err := ts.mountAdmin(f.AdminToken, db, tiers, rc); err != nil {
		ts.close()
		return nil, err
	}
	rc.logger.Info("API keys: multi-tenant", "db", path, "keys", active,
		"tiers", strings.Join(slices.Sorted(maps.Keys(tiers)), ","))
	return ts, nil
}

// mountAdmin builds the admin API when a token is given.
func (t *tenancySetup) mountAdmin(token string, db *store.DB, tiers map[string]admission.Tier, rc *runContext) error {
	if token == "" {
		return nil
	}
	h, err := admin.New(admin.Config{Token: token, DB: db, Tiers: tiers, Admission: t.admission, Logger: rc.logger})
	if err != nil {
		return fmt.Errorf("--admin-token: %w", err)
	}
	t.admin = h
	rc.logger.Info("admin API on /admin/v1")
	return nil
}

// splitKeys allows SOTA_API_KEY to hold several comma-separated keys.
func splitKeys(in []string) []string {
	var out []string
	for _, k := range in {
		for _, p := range strings.Split(k, ",") {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
