package fake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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
	out := &backend.Output{Samples: make([]sample.Result, len(b.Samples))}
	for i, s := range b.Samples {
		out.Samples[i] = sample.Result{Token: f.next(s), Logprob: 0}
	}
	f.mu.Lock()
	f.stats.Steps++
	f.stats.Tokens += len(b.Tokens)
	f.stats.SampledTokens += len(b.Samples)
	f.stats.MaxBatchSeqs = max(f.stats.MaxBatchSeqs, b.NumSeqs())
	f.mu.Unlock()
	return out, nil
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
	h := uint32(2166136261)
	for _, t := range s.PromptTokens {
		h = (h ^ uint32(t)) * 16777619
	}
	h = (h ^ uint32(n)) * 16777619
	return int32(3 + h%uint32(f.geo.VocabSize-3))
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
