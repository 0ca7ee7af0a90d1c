package fake

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/sample"
)

// ErrClosed is returned by Forward after Close.
var ErrClosed = errors.New("fake backend: closed")

// Backend is the scripted backend.
type Backend struct {
	geo     backend.Geometry
	scripts []Script
	// Fail, if set, is consulted before each step; a non-nil error fails the step.
	Fail func(b *backend.Batch) error
	// CheckKV makes the backend keep a shadow KV cache (the token and
	// position written into each slot) and fail a step whose sampled
	// sequence's block table does not hold exactly its prompt and output, or
	// that writes one slot twice or writes the null block 0. It catches
	// block-table, prefix-cache and preemption bugs above the backend.
	CheckKV bool
	// StepDelay makes every Forward take this long (waiting on Sleep), to
	// simulate a model's step time in capacity tests.
	StepDelay time.Duration
	// Sleep waits d or until ctx ends; nil uses a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	kv    []int64 // [NumBlocks*BlockSize] token | position<<32, 0 = never written

	mu     sync.Mutex
	stats  Stats
	closed bool
}

// Script makes every sequence whose prompt starts with Prompt produce Output,
// one token per step, then EOS forever after.
type Script struct {
	Prompt []int32
	Output []int32
	EOS    int32
}

// Stats counts what the backend was asked to do.
type Stats struct {
	Steps         int
	Tokens        int // tokens processed (prefill + decode)
	SampledTokens int
	MaxBatchSeqs  int
}

var _ backend.Backend = (*Backend)(nil)

// New returns a fake backend with geometry g (zero fields get small defaults).
func New(g backend.Geometry, scripts ...Script) *Backend {
	if g.BlockSize == 0 {
		g.BlockSize = 16
	}
	if g.NumBlocks == 0 {
		g.NumBlocks = 1024
	}
	if g.MaxBatchTokens == 0 {
		g.MaxBatchTokens = 2048
	}
	if g.MaxSeqs == 0 {
		g.MaxSeqs = 256
	}
	if g.MaxModelLen == 0 {
		g.MaxModelLen = 4096
	}
	if g.VocabSize == 0 {
		g.VocabSize = 512
	}
	if g.KVDType == "" {
		g.KVDType = backend.F32
	}
	return &Backend{geo: g, scripts: scripts}
}

// Geometry implements backend.Backend.
func (f *Backend) Geometry() backend.Geometry { return f.geo }

// AppliesMasks implements backend.Masker: a masked row gets its scripted
// token when the mask allows it, else an allowed token chosen by the same
// hash as unscripted rows.
func (f *Backend) AppliesMasks() bool { return true }

// Forward implements backend.Backend.
func (f *Backend) Forward(ctx context.Context, b *backend.Batch) (*backend.Output, error) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fake backend: %w", err)
	}
	if err := b.Validate(f.geo); err != nil {
		return nil, fmt.Errorf("fake backend: %w", err)
	}
	if f.Fail != nil {
		if err := f.Fail(b); err != nil {
			return nil, err
		}
	}
	if f.StepDelay > 0 {
		sleep := f.Sleep
		if sleep == nil {
			sleep = timerSleep
		}
		if err := sleep(ctx, f.StepDelay); err != nil {
			return nil, fmt.Errorf("fake backend: %w", err)
		}
	}
	if f.CheckKV {
		if err := f.checkKV(b); err != nil {
			return nil, fmt.Errorf("fake backend: %w", err)
		}
	}
	out := &backend.Output{Samples: make([]sample.Result, len(b.Samples))}
	for i, s := range b.Samples {
		out.Samples[i] = f.result(s)
		if s.Mask != nil && !allowed(s.Mask, out.Samples[i].Token) {
			tok, ok := pickAllowed(s.Mask, f.hash(s), f.geo.VocabSize)
			if !ok {
				return nil, fmt.Errorf("fake backend: sample %d: %w", i, sample.ErrNoCandidates)
			}
			out.Samples[i].Token = tok
		}
	}
	f.mu.Lock()
	f.stats.Steps++
	f.stats.Tokens += len(b.Tokens)
	f.stats.SampledTokens += len(b.Samples)
	f.stats.MaxBatchSeqs = max(f.stats.MaxBatchSeqs, b.NumSeqs())
	f.mu.Unlock()
	return out, nil
}

// result is the scripted token with made-up log-probabilities: -0.5 for
// the chosen token, which also heads the alternatives, then -1, -2, ...
func (f *Backend) result(s backend.SampleRow) sample.Result {
	r := sample.Result{Token: f.next(s)}
	if s.Params.Logprobs || s.Params.TopLogprobs > 0 {
		r.Logprob = -0.5
	}
	for k := range s.Params.TopLogprobs {
		tok, lp := r.Token, float32(-0.5)
		if k > 0 {
			tok, lp = int32((int(r.Token)+k)%f.geo.VocabSize), -float32(k)
		}
		r.Top = append(r.Top, sample.TokenLogprob{Token: tok, Logprob: lp})
	}
	return r
}

// next is the scripted token for a sample row.
func (f *Backend) next(s backend.SampleRow) int32 {
	n := len(s.OutputTokens)
	for _, sc := range f.scripts {
		if len(s.PromptTokens) >= len(sc.Prompt) && slices.Equal(s.PromptTokens[:len(sc.Prompt)], sc.Prompt) {
			if n < len(sc.Output) {
				return sc.Output[n]
			}
			return sc.EOS
		}
	}
	// Unscripted: a deterministic function of the prompt and position, never 0..2
	// (commonly special ids).
	return int32(3 + f.hash(s)%uint32(f.geo.VocabSize-3))
}

// hash mixes the prompt and the output length (FNV-1a).
func (f *Backend) hash(s backend.SampleRow) uint32 {
	h := uint32(2166136261)
	for _, t := range s.PromptTokens {
		h = (h ^ uint32(t)) * 16777619
	}
	h = (h ^ uint32(len(s.OutputTokens))) * 16777619
	return h
}

func allowed(mask []uint64, tok int32) bool {
	return int(tok>>6) < len(mask) && mask[tok>>6]&(1<<(tok&63)) != 0
}

// pickAllowed returns the (h mod count)-th allowed token.
func pickAllowed(mask []uint64, h uint32, vocab int) (int32, bool) {
	count := 0
	for _, w := range mask {
		count += bits.OnesCount64(w)
	}
	if count == 0 {
		return 0, false
	}
	k := int(h % uint32(count))
	for i, w := range mask {
		c := bits.OnesCount64(w)
		if k >= c {
			k -= c
			continue
		}
		for ; ; w &= w - 1 {
			if k == 0 {
				tok := int32(i*64 + bits.TrailingZeros64(w))
				return tok, int(tok) < vocab
			}
			k--
		}
	}
	return 0, false
}

// Stats returns the counters so far.
func (f *Backend) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Close implements backend.Backend.
func (f *Backend) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func timerSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func kvEntry(tok, pos int32) int64 { return int64(uint32(tok)) | int64(pos+1)<<32 }

// checkKV writes b's tokens into the shadow cache and checks every sampled
// sequence's history against it.
func (f *Backend) checkKV(b *backend.Batch) error {
	bs := f.geo.BlockSize
	if f.kv == nil {
		f.kv = make([]int64, f.geo.NumBlocks*bs)
	}
	written := map[int]int{}
	for i := range b.NumSeqs() {
		start, end, table := b.Seq(i)
		for j := start; j < end; j++ {
			pos := int(b.Positions[j])
			blk := int(table[pos/bs])
			if blk == 0 {
				return fmt.Errorf("sequence %d writes position %d into the null block", i, pos)
			}
			slot := blk*bs + pos%bs
			if other, ok := written[slot]; ok {
				return fmt.Errorf("sequences %d and %d write the same slot %d of block %d", other, i, pos%bs, blk)
			}
			written[slot] = i
			f.kv[slot] = kvEntry(b.Tokens[j], int32(pos))
		}
	}
	for _, s := range b.Samples {
		_, end, table := b.Seq(int(s.Seq))
		n := len(s.PromptTokens) + len(s.OutputTokens)
		if last := int(b.Positions[end-1]); last != n-1 {
			return fmt.Errorf("sequence %d is sampled at position %d but its history has %d tokens", s.Seq, last, n)
		}
		for pos := range n {
			want := int32(0)
			if pos < len(s.PromptTokens) {
				want = s.PromptTokens[pos]
			} else {
				want = s.OutputTokens[pos-len(s.PromptTokens)]
			}
			blk := int(table[pos/bs])
			if got := f.kv[blk*bs+pos%bs]; got != kvEntry(want, int32(pos)) {
				return fmt.Errorf("sequence %d position %d: block %d slot %d holds token %d at position %d, history says %d",
					s.Seq, pos, blk, pos%bs, int32(uint32(got)), got>>32-1, want)
			}
		}
	}
	return nil
}
