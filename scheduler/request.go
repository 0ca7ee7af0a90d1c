package scheduler

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sotasystems/sota/kvcache"
	"github.com/sotasystems/sota/sample"
)

// Errors Add returns (wrapped with detail).
var (
	ErrInvalidRequest = errors.New("invalid request")
	ErrPromptTooLong  = errors.New("prompt too long")
	ErrDuplicateID    = errors.New("duplicate request id")
)

// RequestID names a request; the caller chooses it and keeps it unique
// among live requests.
type RequestID uint64

// Request is one generation request: N sequences continuing Prompt.
type Request struct {
	ID     RequestID
	Prompt []int32
	Params sample.Params
	// MaxTokens caps the tokens generated per sequence; 0 means up to the
	// context length.
	MaxTokens    int
	N            int     // sequences to sample; 0 means 1
	StopTokenIDs []int32 // stop on these ids as well as the model's EOS ids
	IgnoreEOS    bool    // do not stop on the model's EOS ids
	Tenant       string  // prefix-cache namespace and fair-share account
	CacheSalt    string  // optional extra prefix-cache namespace within the tenant
	Priority     int     // smaller runs first under the Priority and FairShare policies
	Weight       float64 // fair-share weight of the tenant (0 means 1)
	// NewConstraint, when set, gives each sequence its own constraint
	// (structured outputs): every sampled step of the sequence carries its
	// mask and the sampled token is fed back to it.
	NewConstraint func() sample.Constraint
}

// FinishReason says why a sequence ended.
type FinishReason string

// Finish reasons.
const (
	FinishStop   FinishReason = "stop"   // an EOS or stop token id
	FinishLength FinishReason = "length" // MaxTokens or the context length
	FinishAbort  FinishReason = "abort"  // Abort
)

// state is where a sequence is.
type state uint8

const (
	stateWaiting state = iota
	stateRunning
	statePending // an n > 1 sibling waiting for the first sequence's prompt
	stateFinished
)

// request is a Request with the scheduler's bookkeeping.
type request struct {
	Request
	arrival uint64
	salt    kvcache.Salt
	tenant  *tenant // valid while the request is live (a tenant with live work is never dropped)
	seqs    []*seq
	live    int // sequences not finished
	stop    []int32
}

// seq is one sequence: the prompt followed by what it generated.
type seq struct {
	req         *request
	index       int     // 0..N-1 within the request
	tokens      []int32 // prompt ++ output
	numPrompt   int
	numComputed int // tokens whose K/V are in blocks
	numCached   int // prompt tokens found in the prefix cache at first admission
	admitted    bool
	blocks      []int32
	hashes      []kvcache.Hash // chain hashes of full computed blocks
	numCommit   int            // blocks committed to the prefix cache
	state       state
	params      sample.Params
	constraint  sample.Constraint // nil: unconstrained
}

// Prepare checks r against the scheduler's limits and fills its defaults
// (N, MaxTokens, Weight). It reads only the configuration, which never
// changes, so it is safe to call from any goroutine; Add calls it again.
func (sc *Scheduler) Prepare(r *Request) error {
	switch {
	case len(r.Prompt) == 0:
		return fmt.Errorf("%w: empty prompt", ErrInvalidRequest)
	case r.N < 0:
		return fmt.Errorf("%w: n = %d, want >= 1", ErrInvalidRequest, r.N)
	case r.MaxTokens < 0:
		return fmt.Errorf("%w: max_tokens = %d, want >= 1", ErrInvalidRequest, r.MaxTokens)
	case r.Weight < 0:
		return fmt.Errorf("%w: weight = %v, want > 0", ErrInvalidRequest, r.Weight)
	}
	if r.N == 0 {
		r.N = 1
	}
	if r.Weight == 0 {
		r.Weight = 1
	}
	if len(r.Prompt) >= sc.cfg.MaxModelLen {
		return fmt.Errorf("%w: %d tokens leave no room in the context of %d tokens",
			ErrPromptTooLong, len(r.Prompt), sc.cfg.MaxModelLen)
	}
	room := sc.cfg.MaxModelLen - len(r.Prompt)
	if r.MaxTokens == 0 {
		r.MaxTokens = room
	}
	if r.MaxTokens > room {
		return fmt.Errorf("%w: %d prompt tokens plus max_tokens %d exceed the context of %d tokens",
			ErrPromptTooLong, len(r.Prompt), r.MaxTokens, sc.cfg.MaxModelLen)
	}
	for i, t := range r.Prompt {
		if t < 0 || (sc.cfg.VocabSize > 0 && int(t) >= sc.cfg.VocabSize) {
			return fmt.Errorf("%w: prompt token %d is id %d, outside the vocabulary of %d",
				ErrInvalidRequest, i, t, sc.cfg.VocabSize)
		}
	}
	for _, t := range r.StopTokenIDs {
		if t < 0 || (sc.cfg.VocabSize > 0 && int(t) >= sc.cfg.VocabSize) {
			return fmt.Errorf("%w: stop token id %d outside the vocabulary of %d", ErrInvalidRequest, t, sc.cfg.VocabSize)
		}
	}
	if err := r.Params.Validate(sc.cfg.VocabSize); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if r.NewConstraint != nil && sc.cfg.VocabSize <= 0 {
		return fmt.Errorf("%w: a constrained request needs the vocabulary size in the scheduler config", ErrInvalidRequest)
	}
	return nil
}

// newRequest builds the request's sequences. The n-th sequence's seed is
// Seed+n so that the samples differ yet each is reproducible.
func newRequest(r Request, arrival uint64, eos []int32) *request {
	req := &request{Request: r, arrival: arrival, live: r.N}
	req.salt = kvcache.NewSalt(r.Tenant, r.CacheSalt)
	req.stop = slices.Clone(r.StopTokenIDs)
	if !r.IgnoreEOS {
		req.stop = append(req.stop, eos...)
	}
	req.seqs = make([]*seq, r.N)
	for i := range req.seqs {
		s := &seq{req: req, index: i, numPrompt: len(r.Prompt), params: r.Params}
		s.params.Seed += uint64(i)
		if r.NewConstraint != nil {
			s.constraint = r.NewConstraint()
		}
		s.tokens = make([]int32, len(r.Prompt), len(r.Prompt)+min(r.MaxTokens, 256))
		copy(s.tokens, r.Prompt)
		req.seqs[i] = s
	}
	return req
}
