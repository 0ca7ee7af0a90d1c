package scheduler

import (
	"context"
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/kvcache"
)

// harness runs the Schedule → Forward → Update cycle on the fake backend,
// which checks every block table against its shadow KV cache.
type harness struct {
	t      *testing.T
	sc     *Scheduler
	be     *fake.Backend
	out    map[RequestID][][]int32 // tokens per request and sequence index
	finish map[RequestID][]FinishReason
	usage  map[RequestID][]Usage
	steps  int
	// per step observations
	onPlan func(p *Plan)
}

type setup struct {
	blocks, blockSize int
	caching           bool
	cfg               Config
	scripts           []fake.Script
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	if s.blockSize == 0 {
		s.blockSize = 4
	}
	if s.blocks == 0 {
		s.blocks = 256
	}
	if s.cfg.MaxNumBatchedTokens == 0 {
		s.cfg.MaxNumBatchedTokens = 64
	}
	if s.cfg.MaxNumSeqs == 0 {
		s.cfg.MaxNumSeqs = 16
	}
	if s.cfg.MaxModelLen == 0 {
		s.cfg.MaxModelLen = 128
	}
	if s.cfg.VocabSize == 0 {
		s.cfg.VocabSize = 512
	}
	pool, err := kvcache.New(s.blocks, s.blockSize, s.caching)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := New(s.cfg, pool)
	if err != nil {
		t.Fatal(err)
	}
	be := fake.New(backend.Geometry{
		BlockSize: s.blockSize, NumBlocks: s.blocks, MaxBatchTokens: s.cfg.MaxNumBatchedTokens,
		MaxSeqs: s.cfg.MaxNumSeqs, MaxModelLen: s.cfg.MaxModelLen, VocabSize: s.cfg.VocabSize,
	}, s.scripts...)
	be.CheckKV = true
	return &harness{t: t, sc: sc, be: be, out: map[RequestID][][]int32{},
		finish: map[RequestID][]FinishReason{}, usage: map[RequestID][]Usage{}}
}

func (h *harness) add(r Request) {
	h.t.Helper()
	if err := h.sc.Add(r); err != nil {
		h.t.Fatalf("add %d: %v", r.ID, err)
	}
	n := max(r.N, 1)
	h.out[r.ID] = make([][]int32, n)
	h.finish[r.ID] = make([]FinishReason, n)
	h.usage[r.ID] = make([]Usage, n)
}

// step runs one cycle and reports whether anything ran.
func (h *harness) step() bool {
	h.t.Helper()
	p := h.sc.Schedule()
	if err := h.sc.Pool().Check(); err != nil {
		h.t.Fatalf("step %d: after schedule: %v", h.steps, err)
	}
	if p.Empty() {
		return false
	}
	cfg := h.sc.Config()
	if p.NumTokens() > cfg.MaxNumBatchedTokens || p.NumSeqs() > cfg.MaxNumSeqs {
		h.t.Fatalf("step %d: %d tokens, %d sequences over the limits", h.steps, p.NumTokens(), p.NumSeqs())
	}
	if h.onPlan != nil {
		h.onPlan(p)
	}
	out, err := h.be.Forward(context.Background(), &p.Batch)
	if err != nil {
		h.t.Fatalf("step %d: %v", h.steps, err)
	}
	for _, ev := range h.sc.Update(p, out) {
		if h.finish[ev.Request][ev.Index] != "" {
			h.t.Fatalf("step %d: token after finish for request %d/%d", h.steps, ev.Request, ev.Index)
		}
		h.out[ev.Request][ev.Index] = append(h.out[ev.Request][ev.Index], ev.Token)
		if ev.Finish != "" {
			h.finish[ev.Request][ev.Index] = ev.Finish
			h.usage[ev.Request][ev.Index] = ev.Usage
		}
	}
	if err := h.sc.Pool().Check(); err != nil {
		h.t.Fatalf("step %d: after update: %v", h.steps, err)
	}
	h.steps++
	return true
}

// run steps until no work is left (failing after limit steps).
func (h *harness) run(limit int) {
	h.t.Helper()
	for h.sc.HasWork() {
		if !h.step() {
			h.t.Fatalf("stalled after %d steps with %d requests left", h.steps, h.sc.NumRequests())
		}
		if h.steps > limit {
			h.t.Fatalf("no end after %d steps", limit)
		}
	}
	h.assertEmpty()
}

func (h *harness) assertEmpty() {
	h.t.Helper()
	if used := h.sc.Pool().NumUsed(); used != 0 {
		h.t.Fatalf("%d KV blocks still in use", used)
	}
	if st := h.sc.Stats(); st.Running != 0 || st.Waiting != 0 {
		h.t.Fatalf("left running %d waiting %d", st.Running, st.Waiting)
	}
}

func prompt(seed, n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(3 + (seed*131+i*7)%500)
	}
	return p
}
