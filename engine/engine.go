package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/kvcache"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/scheduler"
)

// Errors of the engine (wrapped with detail). Generate's validation errors
// wrap ErrInvalidRequest or ErrPromptTooLong (the scheduler's) or
// sample.ErrInvalidParams.
var (
	ErrInvalidRequest = scheduler.ErrInvalidRequest
	ErrPromptTooLong  = scheduler.ErrPromptTooLong

	ErrClosed    = errors.New("engine closed")
	ErrAborted   = errors.New("request aborted")
	ErrBackend   = errors.New("backend failed")
	ErrInternal  = errors.New("internal engine error")
	ErrUnhealthy = errors.New("engine unhealthy")
	// ErrOverloaded: the waiting queue holds MaxWaiting sequences already.
	ErrOverloaded = errors.New("engine overloaded")
)

// Client is what servers use.
type Client interface {
	// Generate queues req and returns its stream. Cancelling ctx aborts the
	// request.
	Generate(ctx context.Context, req Request) (*Stream, error)
	// Health is nil while the engine serves normally.
	Health() error
}

// Request is one generation request in token ids.
type Request struct {
	Prompt       []int32
	Params       sample.Params
	MaxTokens    int     // per sequence; 0 = the rest of the context
	N            int     // sequences; 0 = 1
	StopTokenIDs []int32 // stop ids besides the model's EOS ids
	IgnoreEOS    bool
	Tenant       string  // prefix-cache namespace and fair-share account
	CacheSalt    string  // an extra prefix-cache namespace within the tenant
	Priority     int     // smaller runs first (priority and fair policies)
	Weight       float64 // the tenant's fair-share weight; 0 = 1
	Tag          string  // the caller's request id, for logs
	// NewConstraint, when set, constrains each sequence (structured
	// outputs): called once per sequence on the loop; the constraint is
	// then used only by the loop. The backend must apply masks
	// (backend.Masker), else Generate fails with ErrInvalidRequest.
	NewConstraint func() sample.Constraint
}

// Config sets up an engine. Zero fields take the defaults noted.
type Config struct {
	// MaxNumBatchedTokens is the token budget per step (default: the
	// backend's MaxBatchTokens).
	MaxNumBatchedTokens int
	// MaxNumSeqs caps running sequences (default: the backend's MaxSeqs).
	MaxNumSeqs int
	// MaxModelLen is the context length (default: the backend's, lowered to
	// what the KV cache holds; an explicit value too large is an error).
	MaxModelLen         int
	EOSTokenIDs         []int32
	Policy              scheduler.Policy // default FCFS
	EnablePrefixCaching bool
	// LongPrefillTokens caps one prompt's chunk per step (0: the budget).
	LongPrefillTokens     int
	DisableChunkedPrefill bool
	Clock                 func() time.Time // default time.Now
	Logger                *slog.Logger     // default slog.Default()
	// MaxWaiting bounds the sequences waiting to run: a request that would
	// pass it is refused with ErrOverloaded (0: no bound). Checked against
	// the last step's count, so it is a soft bound.
	MaxWaiting int
	// Observer receives per-step and per-request measurements on the loop
	// goroutine (metrics); nil: none, at no cost.
	Observer Observer
}

// Stats is a snapshot of the engine's state and counters, for metrics.
type Stats struct {
	scheduler.Stats
	KVBlocksUsed, KVBlocksTotal int
	KVUsage                     float64
	PrefixQueriedTokens         int64
	PrefixHitTokens             int64
	Failed                      int64 // requests failed by backend errors or panics
	Healthy                     bool
}

// Engine is the step loop and its Client.
type Engine struct {
	be      backend.Backend
	cfg     Config
	schedCf scheduler.Config
	sched   *scheduler.Scheduler // loop only
	// validator checks requests on the callers' goroutines: Prepare reads
	// only the configuration, which never changes.
	validator *scheduler.Scheduler
	streams   map[scheduler.RequestID]*Stream
	clock     func() time.Time
	log       *slog.Logger
	nextID    atomic.Uint64
	failed    int64
	steps     int64     // steps begun (loop only)
	ss        StepStats // the observer's step, reused (loop only)

	mu      sync.Mutex
	inbox   []message
	closed  bool
	health  error
	stats   Stats
	wake    chan struct{}
	stop    context.CancelFunc
	stopped chan struct{}
}

var _ Client = (*Engine)(nil)

// message is one request from a caller to the loop.
type message struct {
	add    *Stream
	req    scheduler.Request
	ctx    context.Context
	abort  scheduler.RequestID
	reason error
	// stopSeq: end only sequence index of request abort (Stream.Stop).
	stopSeq bool
	index   int
}

// New builds the scheduler for be's geometry and starts the loop.
func New(be backend.Backend, cfg Config) (*Engine, error) {
	g := be.Geometry()
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	sc := scheduler.Config{
		MaxNumBatchedTokens:   cmp(cfg.MaxNumBatchedTokens, g.MaxBatchTokens),
		MaxNumSeqs:            cmp(cfg.MaxNumSeqs, g.MaxSeqs),
		MaxModelLen:           cfg.MaxModelLen,
		VocabSize:             g.VocabSize,
		EOSTokenIDs:           cfg.EOSTokenIDs,
		Policy:                cfg.Policy,
		LongPrefillTokens:     cfg.LongPrefillTokens,
		DisableChunkedPrefill: cfg.DisableChunkedPrefill,
	}
	if sc.MaxNumBatchedTokens > g.MaxBatchTokens {
		return nil, fmt.Errorf("engine: max-num-batched-tokens %d exceeds the backend's limit of %d", sc.MaxNumBatchedTokens, g.MaxBatchTokens)
	}
	if sc.MaxNumSeqs > g.MaxSeqs {
		return nil, fmt.Errorf("engine: max-num-seqs %d exceeds the backend's limit of %d", sc.MaxNumSeqs, g.MaxSeqs)
	}
	sc.MaxNumSeqs = min(sc.MaxNumSeqs, sc.MaxNumBatchedTokens)
	fits := (g.NumBlocks - 1) * g.BlockSize // block 0 is the null block
	switch {
	case sc.MaxModelLen > g.MaxModelLen:
		return nil, fmt.Errorf("engine: max-model-len %d exceeds the backend's %d", sc.MaxModelLen, g.MaxModelLen)
	case sc.MaxModelLen == 0:
		sc.MaxModelLen = min(g.MaxModelLen, fits)
		if sc.MaxModelLen < g.MaxModelLen {
			cfg.Logger.Warn("context length lowered to fit the KV cache",
				"max_model_len", sc.MaxModelLen, "model_max", g.MaxModelLen, "kv_blocks", g.NumBlocks-1, "block_size", g.BlockSize)
		}
	}
	e := &Engine{
		be: be, cfg: cfg, schedCf: sc, clock: cfg.Clock, log: cfg.Logger,
		streams: map[scheduler.RequestID]*Stream{},
		wake:    make(chan struct{}, 1), stopped: make(chan struct{}),
	}
	if err := e.reset(); err != nil {
		return nil, err
	}
	e.validator = e.sched
	e.publish()
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go e.loop(ctx)
	return e, nil
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// reset builds a fresh scheduler and block pool.
func (e *Engine) reset() error {
	g := e.be.Geometry()
	pool, err := kvcache.New(g.NumBlocks, g.BlockSize, e.cfg.EnablePrefixCaching)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.sched, err = scheduler.New(e.schedCf, pool)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

// SchedulerConfig is the scheduler configuration in force.
func (e *Engine) SchedulerConfig() scheduler.Config { return e.validator.Config() }

// MaxModelLen is the context length requests are checked against.
func (e *Engine) MaxModelLen() int { return e.schedCf.MaxModelLen }

// Generate implements Client.
func (e *Engine) Generate(ctx context.Context, req Request) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sr := scheduler.Request{
		ID: scheduler.RequestID(e.nextID.Add(1)), Prompt: req.Prompt, Params: req.Params,
		MaxTokens: req.MaxTokens, N: req.N, StopTokenIDs: req.StopTokenIDs, IgnoreEOS: req.IgnoreEOS,
		Tenant: req.Tenant, CacheSalt: req.CacheSalt, Priority: req.Priority, Weight: req.Weight,
		NewConstraint: req.NewConstraint,
	}
	if req.NewConstraint != nil && !backend.AppliesMasks(e.be) {
		return nil, fmt.Errorf("%w: structured outputs are not supported by this backend", ErrInvalidRequest)
	}
	if err := e.validator.Prepare(&sr); err != nil {
		return nil, err
	}
	if limit := e.cfg.MaxWaiting; limit > 0 {
		e.mu.Lock()
		waiting := e.stats.Waiting
		e.mu.Unlock()
		if waiting+sr.N > limit {
			return nil, fmt.Errorf("%w: %d sequences wait to run, the most is %d", ErrOverloaded, waiting, limit)
		}
	}
	st := newStream(e, sr.ID, sr.N, len(sr.Prompt), e.clock())
	if !e.send(message{add: st, req: sr, ctx: ctx}) {
		return nil, ErrClosed
	}
	id := sr.ID
	st.watch(context.AfterFunc(ctx, func() {
		e.send(message{abort: id, reason: fmt.Errorf("%w: %w", ErrAborted, context.Cause(ctx))})
	}))
	return st, nil
}

// send queues a message for the loop; false after Close.
func (e *Engine) send(m message) bool {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false
	}
	e.inbox = append(e.inbox, m)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return true
}

// Health implements Client.
func (e *Engine) Health() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	return e.health
}

// Stats returns the latest snapshot (updated after every step).
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Close stops the loop, fails unfinished requests with ErrClosed and waits
// for the loop to exit. It does not close the backend.
func (e *Engine) Close() error {
	e.mu.Lock()
	already := e.closed
	e.closed = true
	e.mu.Unlock()
	if !already {
		e.stop()
	}
	<-e.stopped
	return nil
}
