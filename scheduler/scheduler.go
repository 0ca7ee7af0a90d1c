package scheduler

import (
	"fmt"
	"slices"

	"github.com/sotasystems/sota/kvcache"
)

// Config sets the limits of every step.
type Config struct {
	MaxNumBatchedTokens int // token budget per step
	MaxNumSeqs          int // most running sequences
	MaxModelLen         int // context length: prompt plus output
	VocabSize           int // bounds token ids in requests (0: unchecked)
	EOSTokenIDs         []int32
	Policy              Policy // "" means FCFS
	// DisableChunkedPrefill makes a prompt wait until it fits one step's
	// budget whole (MaxNumBatchedTokens must then be >= MaxModelLen).
	DisableChunkedPrefill bool
	// LongPrefillTokens caps one sequence's prefill chunk per step so that
	// several prompts progress together (0: no cap beyond the budget).
	LongPrefillTokens int
	// InputWeight and OutputWeight weigh prompt and generated tokens in the
	// fair-share counters (0 means 1 and 2, as in the VTC paper).
	InputWeight, OutputWeight float64
}

// Validate checks the config against the pool it will run on.
func (c *Config) Validate(pool *kvcache.Pool) error {
	switch {
	case c.MaxNumBatchedTokens < 1:
		return fmt.Errorf("max-num-batched-tokens %d: must be positive", c.MaxNumBatchedTokens)
	case c.MaxNumSeqs < 1:
		return fmt.Errorf("max-num-seqs %d: must be positive", c.MaxNumSeqs)
	case c.MaxNumSeqs > c.MaxNumBatchedTokens:
		return fmt.Errorf("max-num-seqs %d exceeds max-num-batched-tokens %d: every running sequence needs a token per step",
			c.MaxNumSeqs, c.MaxNumBatchedTokens)
	case c.MaxModelLen < 2:
		return fmt.Errorf("max-model-len %d: must be at least 2", c.MaxModelLen)
	case c.DisableChunkedPrefill && c.MaxNumBatchedTokens < c.MaxModelLen:
		return fmt.Errorf("without chunked prefill max-num-batched-tokens (%d) must be at least max-model-len (%d)",
			c.MaxNumBatchedTokens, c.MaxModelLen)
	case c.LongPrefillTokens < 0:
		return fmt.Errorf("long-prefill-tokens %d: must be >= 0", c.LongPrefillTokens)
	case c.InputWeight < 0 || c.OutputWeight < 0:
		return fmt.Errorf("fair-share weights %v, %v: must be >= 0", c.InputWeight, c.OutputWeight)
	}
	if need := pool.BlocksFor(c.MaxModelLen); need > pool.Capacity() {
		return fmt.Errorf("max-model-len %d needs %d KV blocks of %d tokens, the cache has %d: "+
			"lower max-model-len or give the cache more memory",
			c.MaxModelLen, need, pool.BlockSize(), pool.Capacity())
	}
	if _, err := ParsePolicy(string(c.Policy)); c.Policy != "" && err != nil {
		return err
	}
	return nil
}

// Scheduler is the batching state machine. See the package doc.
type Scheduler struct {
	cfg      Config
	pool     *kvcache.Pool
	queue    *queue
	running  []*seq // ordered by priority then arrival (the preemption victim is last)
	requests map[RequestID]*request
	arrivals uint64
	pending  int // n > 1 siblings waiting for the first sequence
	plan     Plan
	events   []Event
	found    []int32 // admit's scratch: blocks of a prefix-cache hit
	stats    Stats
}

// Stats counts scheduler activity.
type Stats struct {
	Running, Waiting  int   // sequences now
	Preemptions       int64 // sequences preempted so far
	PromptTokens      int64 // prompt tokens computed (prefix-cache hits excluded, recomputation included)
	GenerationTokens  int64 // tokens sampled
	Steps             int64 // non-empty plans
	FinishedSequences int64
	// ConstraintViolations counts sampled tokens a sequence's constraint
	// rejected (a backend that ignored the mask); each ended its sequence.
	ConstraintViolations int64
}

// New returns a scheduler that hands out blocks of pool.
func New(cfg Config, pool *kvcache.Pool) (*Scheduler, error) {
	if err := cfg.Validate(pool); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if cfg.Policy == "" {
		cfg.Policy = FCFS
	}
	if cfg.InputWeight == 0 && cfg.OutputWeight == 0 {
		cfg.InputWeight, cfg.OutputWeight = 1, 2
	}
	cfg.EOSTokenIDs = slices.Clone(cfg.EOSTokenIDs)
	return &Scheduler{cfg: cfg, pool: pool, queue: newQueue(cfg.Policy), requests: map[RequestID]*request{}}, nil
}

// Config returns the configuration in force (defaults filled in).
func (sc *Scheduler) Config() Config { return sc.cfg }

// Pool returns the block pool.
func (sc *Scheduler) Pool() *kvcache.Pool { return sc.pool }

// Stats returns the counters.
func (sc *Scheduler) Stats() Stats {
	st := sc.stats
	st.Running, st.Waiting = len(sc.running), sc.queue.n+sc.pending
	return st
}

// HasWork reports whether any request is unfinished.
func (sc *Scheduler) HasWork() bool { return len(sc.requests) > 0 }

// NumRequests is the number of unfinished requests.
func (sc *Scheduler) NumRequests() int { return len(sc.requests) }

// Add queues a request. r.N defaults to 1 and r.MaxTokens to the rest of the
// context. The first sequence waits in the queue; with n > 1 the others wait
// for its prompt to be computed, then share its blocks.
func (sc *Scheduler) Add(r Request) error {
	if err := sc.Prepare(&r); err != nil {
		return err
	}
	if _, dup := sc.requests[r.ID]; dup {
		return fmt.Errorf("%w: %d", ErrDuplicateID, r.ID)
	}
	sc.arrivals++
	req := newRequest(r, sc.arrivals, sc.cfg.EOSTokenIDs)
	sc.requests[r.ID] = req
	t := sc.queue.tenant(r.Tenant)
	req.tenant = t
	sc.queue.activate(t)
	t.live += len(req.seqs)
	sc.queue.push(req.seqs[0])
	for _, s := range req.seqs[1:] {
		s.state = statePending
	}
	sc.pending += len(req.seqs) - 1
	return nil
}

// Abort ends every sequence of request id at once, freeing its blocks. It
// reports whether the request was live. Call it between steps (never
// between Schedule and Update).
func (sc *Scheduler) Abort(id RequestID) bool {
	req, ok := sc.requests[id]
	if !ok {
		return false
	}
	for _, s := range req.seqs {
		if s.state != stateFinished {
			sc.finish(s)
		}
	}
	return true
}

// FinishSeq ends one sequence of request id (a server found a stop string
// in its text) and returns its token counts. It reports false when the
// sequence had already ended. Like Abort, call it between steps.
func (sc *Scheduler) FinishSeq(id RequestID, index int) (Usage, bool) {
	req, ok := sc.requests[id]
	if !ok || index < 0 || index >= len(req.seqs) || req.seqs[index].state == stateFinished {
		return Usage{}, false
	}
	s := req.seqs[index]
	u := s.usage()
	sc.finish(s)
	return u, true
}

// finish removes s from wherever it is and frees its blocks.
func (sc *Scheduler) finish(s *seq) {
	switch s.state {
	case stateWaiting:
		sc.queue.remove(s)
	case statePending:
		sc.pending--
	case stateRunning:
		sc.freeBlocks(s)
		sc.running = slices.DeleteFunc(sc.running, func(o *seq) bool { return o == s })
	}
	s.state = stateFinished
	sc.stats.FinishedSequences++
	req := s.req
	req.live--
	t := req.tenant
	t.live--
	sc.queue.forget(t)
	if req.live == 0 {
		delete(sc.requests, req.ID)
		return
	}
	if s.index == 0 {
		sc.releaseSiblings(req)
	}
}

// releaseSiblings moves pending n > 1 siblings to the queue.
func (sc *Scheduler) releaseSiblings(req *request) {
	for _, o := range req.seqs[1:] {
		if o.state == statePending {
			sc.pending--
			sc.queue.push(o)
		}
	}
}

func (sc *Scheduler) freeBlocks(s *seq) {
	sc.pool.FreeReversed(s.blocks)
	s.blocks = s.blocks[:0]
	s.numComputed = 0
	s.numCommit = 0
}

// preempt frees a running sequence's blocks and queues it again; it resumes
// by recomputing its prompt and output.
func (sc *Scheduler) preempt(s *seq) {
	sc.freeBlocks(s)
	sc.running = slices.DeleteFunc(sc.running, func(o *seq) bool { return o == s })
	sc.queue.push(s)
	sc.stats.Preemptions++
	if s.index == 0 {
		sc.releaseSiblings(s.req)
	}
}

// insertRunning keeps running ordered by priority, then arrival.
func (sc *Scheduler) insertRunning(s *seq) {
	i, _ := slices.BinarySearchFunc(sc.running, s, func(a, b *seq) int {
		if a.req.Priority != b.req.Priority {
			return a.req.Priority - b.req.Priority
		}
		if a.req.arrival != b.req.arrival {
			return int(a.req.arrival) - int(b.req.arrival)
		}
		return a.index - b.index
	})
	sc.running = slices.Insert(sc.running, i, s)
	s.state = stateRunning
}
