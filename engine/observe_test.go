package engine

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/scheduler"
)

// recorder keeps copies of what an Observer is given.
type recorder struct {
	mu    sync.Mutex
	steps []StepStats
	reqs  []RequestStats
}

func (r *recorder) ObserveStep(s *StepStats) {
	c := *s
	c.TTFT, c.ITL = slices.Clone(s.TTFT), slices.Clone(s.ITL)
	r.mu.Lock()
	r.steps = append(r.steps, c)
	r.mu.Unlock()
}

func (r *recorder) ObserveRequest(s *RequestStats) {
	r.mu.Lock()
	r.reqs = append(r.reqs, *s)
	r.mu.Unlock()
}

const ms = time.Millisecond

// Under synctest every step takes exactly the fake backend's 10 ms, so the
// observed latencies are exact.
func TestObserverSeesExactTimings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		e, be := newFake(t, backend.Geometry{}, Config{Observer: rec})
		be.StepDelay = 10 * ms
		start := time.Now()
		s, err := e.Generate(t.Context(), Request{Prompt: []int32{4, 5, 6}, MaxTokens: 4, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, reasons, err := collect(t, s); err != nil || reasons[0] != FinishLength {
			t.Fatalf("finish %v, err %v", reasons, err)
		}
		synctest.Wait()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.steps) != 4 {
			t.Fatalf("%d steps observed, want 4", len(rec.steps))
		}
		var prompt, gen int
		var ttft, itl []time.Duration
		for i, st := range rec.steps {
			wantTokens := 1
			if i == 0 {
				wantTokens = 3
			}
			if st.Duration != 10*ms || st.Seqs != 1 || st.Tokens != wantTokens || st.Prefill != (i == 0) {
				t.Errorf("step %d: %+v, want 10ms, 1 seq, %d tokens, prefill %v", i, st, wantTokens, i == 0)
			}
			prompt += st.PromptTokens
			gen += st.GenerationTokens
			ttft = append(ttft, st.TTFT...)
			itl = append(itl, st.ITL...)
		}
		if prompt != 3 || gen != 4 {
			t.Errorf("prompt tokens %d, generation tokens %d; want 3 and 4", prompt, gen)
		}
		if !slices.Equal(ttft, []time.Duration{10 * ms}) || !slices.Equal(itl, []time.Duration{10 * ms, 10 * ms, 10 * ms}) {
			t.Errorf("TTFT %v ITL %v, want [10ms] and 3 × 10ms", ttft, itl)
		}
		if len(rec.reqs) != 1 {
			t.Fatalf("%d requests observed, want 1", len(rec.reqs))
		}
		r := rec.reqs[0]
		tm := r.Timings
		if r.Finish != FinishLength || r.Usage.PromptTokens != 3 || r.Usage.CompletionTokens != 4 || r.N != 1 {
			t.Errorf("request %+v", r)
		}
		if tm.Arrival != start || tm.Scheduled != start || tm.FirstToken.Sub(start) != 10*ms || tm.Finished.Sub(start) != 40*ms {
			t.Errorf("timings %+v from %v: want scheduled at once, first token at 10ms, end at 40ms", tm, start)
		}
	})
}

// A request waiting behind a full batch has its queue time; an aborted one
// is observed once with "abort" and the tokens it had.
func TestObserverQueueAndAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		e, be := newFake(t, backend.Geometry{MaxSeqs: 1, MaxBatchTokens: 64}, Config{Observer: rec, Policy: scheduler.FCFS})
		be.StepDelay = 10 * ms
		start := time.Now()
		first, err := e.Generate(t.Context(), Request{Prompt: []int32{4, 5}, MaxTokens: 3, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		second, err := e.Generate(t.Context(), Request{Prompt: []int32{7}, MaxTokens: 50, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		collect(t, first)
		if _, err := second.Recv(t.Context()); err != nil {
			t.Fatal(err)
		}
		second.Cancel()
		collect(t, second)
		synctest.Wait()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.reqs) != 2 {
			t.Fatalf("%d requests observed, want 2", len(rec.reqs))
		}
		q := rec.reqs[1]
		if q.Finish != FinishAbort || q.Timings.Scheduled.Sub(start) != 30*ms || q.Usage.CompletionTokens < 1 {
			t.Errorf("second request %+v: want abort, scheduled after the first's 3 steps (30ms), >= 1 token", q)
		}
		var gen int
		for _, st := range rec.steps {
			gen += st.GenerationTokens
		}
		if want := 3 + q.Usage.CompletionTokens; gen != want {
			t.Errorf("generation tokens %d, want %d (3 + the aborted request's %d)", gen, want, q.Usage.CompletionTokens)
		}
		if got := second.FinishReason(); got != FinishAbort {
			t.Errorf("FinishReason %q, want abort", got)
		}
	})
}
