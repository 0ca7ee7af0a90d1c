package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"
)

// RetryPolicy says what a client does with a 429 (or 503) rejection.
type RetryPolicy struct {
	// HonourRetryAfter waits the rejection's Retry-After (DefaultWait when
	// it has none, at most MaxWait) and sends again, up to MaxRetries
	// times; the request keeps its concurrency slot meanwhile, as a user
	// waiting to retry would. Otherwise a rejection is final.
	HonourRetryAfter bool
	MaxRetries       int
	DefaultWait      time.Duration
	MaxWait          time.Duration
}

// Config is one run: a workload sent to every target.
type Config struct {
	Targets []Target
	Prompts []Prompt
	// RequestRate is each target's arrival rate in requests per second;
	// +Inf (or 0) sends everything at once.
	RequestRate float64
	Burstiness  float64 // gamma shape of the gaps; 0 means 1 (Poisson)
	// MaxConcurrency caps each target's requests in flight; 0 = no cap.
	MaxConcurrency int
	Tenants        []Tenant // empty: one anonymous client (Target.APIKey)
	Stream         bool
	// NoUsage does not ask for stream_options.include_usage (for servers
	// that refuse it); output tokens are then counted from chunks.
	NoUsage        bool
	ExtraBody      map[string]any // merged into every request body (temperature, top_p, …)
	Retry          RetryPolicy
	RequestTimeout time.Duration // per attempt; 0 = none
	Seed           int64         // of the arrival schedule
	NumWarmups     int           // requests sent to each target first, not measured
	Client         *http.Client  // nil: a client sized for many streams
	// OnDone, when set, is called after each request, from its goroutine
	// (concurrently).
	OnDone func(Record)
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if len(c.Targets) == 0 {
		return fmt.Errorf("%w: no target", ErrConfig)
	}
	for _, t := range c.Targets {
		if err := t.Validate(); err != nil {
			return err
		}
	}
	if len(c.Prompts) == 0 {
		return fmt.Errorf("%w: no prompt", ErrConfig)
	}
	if c.RequestRate < 0 || math.IsNaN(c.RequestRate) || c.Burstiness < 0 || c.MaxConcurrency < 0 || c.NumWarmups < 0 {
		return fmt.Errorf("%w: request rate, burstiness, concurrency and warmups must be >= 0", ErrConfig)
	}
	for _, t := range c.Tenants {
		if t.APIKey == "" || !(t.Weight > 0) {
			return fmt.Errorf("%w: tenant %q needs a key and a weight > 0", ErrConfig, t.Name)
		}
	}
	if c.Retry.HonourRetryAfter && c.Retry.MaxRetries < 1 {
		return fmt.Errorf("%w: honouring Retry-After needs max retries >= 1", ErrConfig)
	}
	return nil
}

// Outcome is what a run measured.
type Outcome struct {
	Start   time.Time
	End     time.Time
	Records [][]Record // per target, per prompt
}

// NewClient returns an HTTP client for many concurrent streams to few
// hosts: no connection cap, enough idle connections to reuse them all, no
// compression (which would hide chunk timing).
func NewClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = 1 << 16
	tr.MaxConnsPerHost = 0
	tr.DisableCompression = true
	tr.ForceAttemptHTTP2 = false
	return &http.Client{Transport: tr}
}

// Run sends every prompt to every target on the arrival schedule and
// returns the records. A cancelled ctx stops dispatching, aborts requests
// in flight and returns what was measured with ctx's error.
func Run(ctx context.Context, cfg Config) (*Outcome, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.Client
	if client == nil {
		client = NewClient()
	}
	rate := cfg.RequestRate
	if rate == 0 {
		rate = math.Inf(1)
	}
	burst := cfg.Burstiness
	if burst == 0 {
		burst = 1
	}
	arrivals, err := Arrivals(NewRand(cfg.Seed), len(cfg.Prompts), rate, burst)
	if err != nil {
		return nil, err
	}
	urls := make([]string, len(cfg.Targets))
	for i, t := range cfg.Targets {
		urls[i], _ = t.URL() // validated
	}
	q := &requester{client: client, stream: cfg.Stream, noUsage: cfg.NoUsage, extraBody: cfg.ExtraBody, timeout: cfg.RequestTimeout}

	if err := warmup(ctx, q, &cfg, urls, log); err != nil {
		return nil, err
	}

	tenantOf := AssignTenants(len(cfg.Prompts), cfg.Tenants)
	nt := len(cfg.Targets)
	targetSem := make([]*fifo, nt)
	tenantSem := make([][]*fifo, nt)
	out := &Outcome{Records: make([][]Record, nt)}
	for t := range nt {
		targetSem[t] = newFIFO(cfg.MaxConcurrency)
		tenantSem[t] = make([]*fifo, len(cfg.Tenants))
		for k, ten := range cfg.Tenants {
			tenantSem[t][k] = newFIFO(ten.MaxConcurrency)
		}
		out.Records[t] = make([]Record, len(cfg.Prompts))
		for i := range out.Records[t] {
			out.Records[t][i] = Record{Target: t, Prompt: i, Tenant: -1, Seq: -1}
		}
	}

	var wg sync.WaitGroup
	out.Start = time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	seq := 0
dispatch:
	for i, at := range arrivals {
		if wait := time.Until(out.Start.Add(at)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break dispatch
			}
		} else if ctx.Err() != nil {
			break
		}
		now := time.Now()
		for t := range nt {
			rec := &out.Records[t][i]
			rec.Seq, rec.Dispatched = seq, now
			seq++
			var tenant *Tenant
			var tsem *fifo
			if tenantOf != nil {
				rec.Tenant = tenantOf[i]
				tenant = &cfg.Tenants[rec.Tenant]
				tsem = tenantSem[t][rec.Tenant]
			}
			// Enqueue now, in dispatch order, unless a tenant cap must
			// be passed first.
			var tgrant <-chan struct{}
			if tsem == nil {
				tgrant = targetSem[t].acquire()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if tsem != nil {
					if !tsem.wait(ctx, tsem.acquire()) {
						return
					}
					defer tsem.release()
					tgrant = targetSem[t].acquire()
				}
				if !targetSem[t].wait(ctx, tgrant) {
					return
				}
				defer targetSem[t].release()
				send(ctx, q, urls[t], cfg.Targets[t], cfg.Prompts[i], tenant, cfg.Retry, rec)
				if cfg.OnDone != nil {
					cfg.OnDone(*rec)
				}
			}()
		}
	}
	wg.Wait()
	out.End = time.Now()
	return out, ctx.Err()
}

// send runs a request's attempts: one, or more while rejections are
// retried.
func send(ctx context.Context, q *requester, url string, t Target, p Prompt, tenant *Tenant, pol RetryPolicy, rec *Record) {
	for {
		a := q.attempt(ctx, url, t, p, tenant, rec)
		rec.Attempts = append(rec.Attempts, a)
		retryable := a.Status == http.StatusTooManyRequests || a.Status == http.StatusServiceUnavailable
		if rec.OK || !retryable || !pol.HonourRetryAfter || len(rec.Attempts) > pol.MaxRetries {
			return
		}
		wait := pol.DefaultWait
		if a.HasRetryAfter {
			wait = a.RetryAfter
		}
		if pol.MaxWait > 0 {
			wait = min(wait, pol.MaxWait)
		}
		rec.Attempts[len(rec.Attempts)-1].Waited = wait
		tm := time.NewTimer(wait)
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return
		}
	}
}

// warmup sends the first NumWarmups prompts to each target, one at a time.
func warmup(ctx context.Context, q *requester, cfg *Config, urls []string, log *slog.Logger) error {
	for t, tgt := range cfg.Targets {
		for i := range min(cfg.NumWarmups, len(cfg.Prompts)) {
			var rec Record
			var tenant *Tenant
			if len(cfg.Tenants) > 0 {
				tenant = &cfg.Tenants[0]
			}
			q.attempt(ctx, urls[t], tgt, cfg.Prompts[i], tenant, &rec)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !rec.OK {
				log.Warn("warmup request failed", "target", tgt.DisplayName(), "kind", rec.Kind, "err", rec.Error)
			}
		}
	}
	return nil
}

// fifo is a counting semaphore that grants in the order of acquire calls;
// a nil *fifo has no limit.
type fifo struct {
	mu    sync.Mutex
	free  int
	queue []chan struct{}
}

var granted = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func newFIFO(n int) *fifo {
	if n <= 0 {
		return nil
	}
	return &fifo{free: n}
}

// acquire joins the queue; the channel is closed when the slot is granted.
func (s *fifo) acquire() <-chan struct{} {
	if s == nil {
		return granted
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.free > 0 && len(s.queue) == 0 {
		s.free--
		return granted
	}
	c := make(chan struct{})
	s.queue = append(s.queue, c)
	return c
}

// wait blocks until grant is closed (true) or ctx ends (false: the place
// in the queue, or the slot if it came meanwhile, is given up).
func (s *fifo) wait(ctx context.Context, grant <-chan struct{}) bool {
	select {
	case <-grant:
		return true
	case <-ctx.Done():
	}
	if s == nil {
		return false
	}
	s.mu.Lock()
	for i, c := range s.queue {
		if c == grant {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.mu.Unlock()
			return false
		}
	}
	s.mu.Unlock()
	s.release() // granted while we gave up
	return false
}

func (s *fifo) release() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		close(s.queue[0])
		s.queue = s.queue[1:]
		return
	}
	s.free++
}
