package scheduler

import (
	"errors"
	"slices"
	"testing"

	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/sample"
)

func TestChunkedPrefill(t *testing.T) {
	h := newHarness(t, setup{cfg: Config{MaxNumBatchedTokens: 32, MaxModelLen: 256}})
	h.add(Request{ID: 1, Prompt: prompt(1, 100), MaxTokens: 3})
	var chunks []int
	var sampled []int
	h.onPlan = func(p *Plan) {
		chunks = append(chunks, p.NumTokens())
		sampled = append(sampled, len(p.Batch.Samples))
	}
	h.run(100)
	if want := []int{32, 32, 32, 4, 1, 1}; !slices.Equal(chunks, want) {
		t.Fatalf("chunks %v, want %v", chunks, want)
	}
	if want := []int{0, 0, 0, 1, 1, 1}; !slices.Equal(sampled, want) {
		t.Fatalf("sampled rows %v, want %v", sampled, want)
	}
	if u := h.usage[1][0]; u.PromptTokens != 100 || u.OutputTokens != 3 || h.finish[1][0] != FinishLength {
		t.Fatalf("usage %+v finish %q", u, h.finish[1][0])
	}
}

func TestLongPrefillTokensCapsChunks(t *testing.T) {
	h := newHarness(t, setup{cfg: Config{MaxNumBatchedTokens: 64, LongPrefillTokens: 16}})
	h.add(Request{ID: 1, Prompt: prompt(1, 40), MaxTokens: 1})
	h.add(Request{ID: 2, Prompt: prompt(2, 40), MaxTokens: 1})
	var chunks []int
	h.onPlan = func(p *Plan) { chunks = append(chunks, p.NumTokens()) }
	h.run(100)
	// Both prompts progress together, 16 tokens each per step.
	if want := []int{32, 32, 16}; !slices.Equal(chunks, want) {
		t.Fatalf("chunks %v, want %v", chunks, want)
	}
}

func TestDisableChunkedPrefillWaitsForRoom(t *testing.T) {
	h := newHarness(t, setup{cfg: Config{MaxNumBatchedTokens: 128, MaxModelLen: 128, DisableChunkedPrefill: true}})
	h.add(Request{ID: 1, Prompt: prompt(1, 100), MaxTokens: 2})
	h.add(Request{ID: 2, Prompt: prompt(2, 100), MaxTokens: 2})
	var chunks []int
	h.onPlan = func(p *Plan) { chunks = append(chunks, p.NumTokens()) }
	h.run(100)
	// The second prompt does not fit beside the first's decode until it is done... it waits a step.
	if want := []int{100, 101, 1}; !slices.Equal(chunks, want) {
		t.Fatalf("chunks %v, want %v", chunks, want)
	}
}

// Running streams keep getting a token every step while a long prompt is
// prefilled in chunks beside them.
func TestDecodesAreNotStalledByPrefill(t *testing.T) {
	h := newHarness(t, setup{cfg: Config{MaxNumBatchedTokens: 16, MaxModelLen: 512}, blocks: 512})
	for id := RequestID(1); id <= 4; id++ {
		h.add(Request{ID: id, Prompt: prompt(int(id), 3), MaxTokens: 60})
	}
	h.step() // prefill the four short prompts
	h.add(Request{ID: 9, Prompt: prompt(9, 300), MaxTokens: 1})
	for range 30 {
		before := make([]int, 5)
		for id := 1; id <= 4; id++ {
			before[id] = len(h.out[RequestID(id)][0])
		}
		h.step()
		for id := 1; id <= 4; id++ {
			if len(h.out[RequestID(id)][0]) != before[id]+1 {
				t.Fatalf("step %d: request %d got no token while the long prompt was prefilled", h.steps, id)
			}
		}
	}
	h.run(1000)
}

func TestBudgetAndSequenceLimits(t *testing.T) {
	h := newHarness(t, setup{cfg: Config{MaxNumBatchedTokens: 20, MaxNumSeqs: 5}})
	for id := RequestID(1); id <= 30; id++ {
		h.add(Request{ID: id, Prompt: prompt(int(id), 1+int(id)%9), MaxTokens: 1 + int(id)%7})
	}
	maxSeqs := 0
	h.onPlan = func(p *Plan) { maxSeqs = max(maxSeqs, p.NumSeqs()) }
	h.run(1000) // the harness fails on any step over the limits
	if maxSeqs != 5 {
		t.Fatalf("at most %d sequences per step, want the limit 5 reached", maxSeqs)
	}
	for id := RequestID(1); id <= 30; id++ {
		if got, want := len(h.out[id][0]), 1+int(id)%7; got != want {
			t.Fatalf("request %d: %d tokens, want %d", id, got, want)
		}
	}
}

func TestPreemptionAndResumption(t *testing.T) {
	// Reference: plenty of blocks.
	ref := newHarness(t, setup{blocks: 512})
	// Tight: 24 usable blocks of 4 tokens for 8 sequences that grow to 40 tokens.
	tight := newHarness(t, setup{blocks: 25, cfg: Config{MaxModelLen: 64}})
	for _, h := range []*harness{ref, tight} {
		for id := RequestID(1); id <= 8; id++ {
			h.add(Request{ID: id, Prompt: prompt(int(id), 8), MaxTokens: 32})
		}
		h.run(2000)
	}
	if tight.sc.Stats().Preemptions == 0 {
		t.Fatal("no preemption happened: the test does not exercise it")
	}
	if ref.sc.Stats().Preemptions != 0 {
		t.Fatal("preemption with plenty of blocks")
	}
	for id := RequestID(1); id <= 8; id++ {
		if !slices.Equal(ref.out[id][0], tight.out[id][0]) {
			t.Fatalf("request %d: tokens differ after preemption:\n%v\n%v", id, ref.out[id][0], tight.out[id][0])
		}
		if u := tight.usage[id][0]; u.OutputTokens != 32 || u.PromptTokens != 8 {
			t.Fatalf("request %d usage %+v", id, u)
		}
	}
	t.Logf("%d preemptions, %d steps (unconstrained: %d)", tight.sc.Stats().Preemptions, tight.steps, ref.steps)
}

func TestPreemptsLowestPriorityNewestFirst(t *testing.T) {
	// 4 usable blocks of 4 tokens: three sequences of 4-token prompts fill 3;
	// the first decode needs a 4th, the second decode forces a preemption.
	h := newHarness(t, setup{blocks: 5, cfg: Config{MaxModelLen: 16, Policy: PriorityFirst}})
	h.add(Request{ID: 1, Prompt: prompt(1, 4), MaxTokens: 8, Priority: 0})
	h.add(Request{ID: 2, Prompt: prompt(2, 4), MaxTokens: 8, Priority: 5})
	h.add(Request{ID: 3, Prompt: prompt(3, 4), MaxTokens: 8, Priority: 0})
	h.step()
	h.step()
	state := func(id RequestID) state { return h.sc.requests[id].seqs[0].state }
	if state(2) != stateWaiting || state(1) != stateRunning || state(3) != stateRunning {
		t.Fatalf("states 1:%d 2:%d 3:%d, want the priority-5 request preempted", state(1), state(2), state(3))
	}
	for i := 0; state(3) == stateRunning; i++ {
		if state(1) != stateRunning || i == 10 {
			t.Fatalf("states 1:%d 3:%d, want the newer of the equal-priority requests preempted next", state(1), state(3))
		}
		h.step()
	}
	if state(1) != stateRunning {
		t.Fatal("the oldest request was preempted")
	}
	h.run(200)
}

func TestAbortAtEveryStage(t *testing.T) {
	stages := []struct {
		name  string
		steps int // steps before the abort
	}{
		{"waiting", 0},
		{"mid prefill", 1},
		{"prefill done", 3},
		{"decoding", 6},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) {
			h := newHarness(t, setup{caching: true, cfg: Config{MaxNumBatchedTokens: 16}})
			h.add(Request{ID: 1, Prompt: prompt(1, 40), MaxTokens: 50, N: 3})
			h.add(Request{ID: 2, Prompt: prompt(2, 10), MaxTokens: 20})
			for range st.steps {
				h.step()
			}
			if !h.sc.Abort(1) {
				t.Fatal("abort of a live request reported false")
			}
			if h.sc.Abort(1) {
				t.Fatal("second abort reported true")
			}
			h.run(200)
			if len(h.out[2][0]) != 20 {
				t.Fatalf("the other request got %d tokens", len(h.out[2][0]))
			}
		})
	}
	h := newHarness(t, setup{})
	if h.sc.Abort(42) {
		t.Fatal("abort of an unknown request reported true")
	}
}

func TestNSharesPromptBlocks(t *testing.T) {
	h := newHarness(t, setup{blockSize: 4, cfg: Config{MaxNumBatchedTokens: 64}})
	h.add(Request{ID: 1, Prompt: prompt(1, 18), MaxTokens: 5, N: 4})
	h.step() // the first sequence's prompt
	lead := h.sc.requests[1].seqs[0]
	if h.sc.Stats().Waiting != 3 {
		t.Fatalf("waiting %d, want the 3 siblings", h.sc.Stats().Waiting)
	}
	h.step() // siblings admitted, sharing the 4 full prompt blocks
	for i, s := range h.sc.requests[1].seqs {
		if s.state != stateRunning {
			t.Fatalf("sequence %d not running", i)
		}
		if !slices.Equal(s.blocks[:4], lead.blocks[:4]) {
			t.Fatalf("sequence %d blocks %v do not share %v", i, s.blocks, lead.blocks[:4])
		}
	}
	if rc := h.sc.Pool().RefCount(lead.blocks[0]); rc != 4 {
		t.Fatalf("reference count %d, want 4", rc)
	}
	h.run(100)
	// 18 prompt tokens once, then 2 per sibling (the partial last block).
	if got := h.sc.Stats().PromptTokens; got != 18+3*2 {
		t.Fatalf("computed %d prompt tokens, want %d", got, 18+3*2)
	}
	for i := range 4 {
		if u := h.usage[1][i]; u.OutputTokens != 5 || (i > 0 && u.CachedTokens != 16) {
			t.Fatalf("sequence %d usage %+v", i, u)
		}
	}
}

func TestNSiblingsGetDistinctSeeds(t *testing.T) {
	h := newHarness(t, setup{})
	h.add(Request{ID: 1, Prompt: prompt(1, 5), MaxTokens: 1, N: 3, Params: sample.Params{Temperature: 1, Seed: 10}})
	seeds := map[uint64]bool{}
	h.onPlan = func(p *Plan) {
		for _, s := range p.Batch.Samples {
			seeds[s.Params.Seed] = true
		}
	}
	h.run(20)
	if len(seeds) != 3 || !seeds[10] || !seeds[11] || !seeds[12] {
		t.Fatalf("seeds %v, want 10, 11, 12", seeds)
	}
}

func TestPrefixCacheWithinTenant(t *testing.T) {
	tests := []struct {
		name         string
		caching      bool
		tenant       string
		salt         string
		wantComputed int64
	}{
		{"same tenant", true, "a", "", 3},
		{"other tenant", true, "b", "", 43},
		{"same tenant other cache salt", true, "a", "x", 43},
		{"caching off", false, "a", "", 43},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, setup{caching: tc.caching})
			shared := prompt(7, 40)
			h.add(Request{ID: 1, Prompt: shared, MaxTokens: 2, Tenant: "a"})
			h.run(100)
			before := h.sc.Stats().PromptTokens
			second := append(slices.Clone(shared), 11, 12, 13)
			h.add(Request{ID: 2, Prompt: second, MaxTokens: 2, Tenant: tc.tenant, CacheSalt: tc.salt})
			h.run(100)
			if got := h.sc.Stats().PromptTokens - before; got != tc.wantComputed {
				t.Fatalf("second prompt computed %d tokens, want %d", got, tc.wantComputed)
			}
			if got := h.usage[2][0].CachedTokens; got != 43-int(tc.wantComputed) {
				t.Fatalf("cached tokens %d", got)
			}
			st := h.sc.Pool().Stats()
			if st.QueriedTokens != 0 && st.HitTokens != int64(43-tc.wantComputed) {
				t.Fatalf("pool stats %+v", st)
			}
		})
	}
}

func TestStopConditions(t *testing.T) {
	script := fake.Script{Prompt: []int32{50}, Output: []int32{60, 61, 62, 63, 64}, EOS: 2}
	tests := []struct {
		name      string
		req       Request
		maxLen    int
		want      []int32
		finish    FinishReason
		stopToken bool
	}{
		{"eos", Request{Prompt: []int32{50}}, 64, []int32{60, 61, 62, 63, 64, 2}, FinishStop, true},
		{"stop token id", Request{Prompt: []int32{50}, StopTokenIDs: []int32{62}}, 64, []int32{60, 61, 62}, FinishStop, true},
		{"max tokens", Request{Prompt: []int32{50}, MaxTokens: 2}, 64, []int32{60, 61}, FinishLength, false},
		{"ignore eos", Request{Prompt: []int32{50}, IgnoreEOS: true, MaxTokens: 8}, 64, []int32{60, 61, 62, 63, 64, 2, 2, 2}, FinishLength, false},
		{"context length", Request{Prompt: []int32{50, 9}}, 4, []int32{60, 61}, FinishLength, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, setup{scripts: []fake.Script{script}, cfg: Config{MaxModelLen: tc.maxLen, EOSTokenIDs: []int32{2}}, blocks: 64})
			tc.req.ID = 1
			var stopToken bool
			h.add(tc.req)
			for h.sc.HasWork() {
				p := h.sc.Schedule()
				out, err := h.be.Forward(t.Context(), &p.Batch)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range h.sc.Update(p, out) {
					h.out[1][0] = append(h.out[1][0], ev.Token)
					if ev.Finish != "" {
						h.finish[1][0], stopToken = ev.Finish, ev.StopToken
					}
				}
			}
			if !slices.Equal(h.out[1][0], tc.want) || h.finish[1][0] != tc.finish || stopToken != tc.stopToken {
				t.Fatalf("got %v %q stop token %v, want %v %q %v", h.out[1][0], h.finish[1][0], stopToken, tc.want, tc.finish, tc.stopToken)
			}
			h.assertEmpty()
		})
	}
}

func TestAddRejectsBadRequests(t *testing.T) {
	h := newHarness(t, setup{cfg: Config{MaxModelLen: 16, VocabSize: 100}})
	h.add(Request{ID: 7, Prompt: []int32{1}})
	tests := []struct {
		name string
		req  Request
		want error
	}{
		{"empty prompt", Request{ID: 1}, ErrInvalidRequest},
		{"token outside vocabulary", Request{ID: 1, Prompt: []int32{100}}, ErrInvalidRequest},
		{"negative token", Request{ID: 1, Prompt: []int32{-1}}, ErrInvalidRequest},
		{"stop id outside vocabulary", Request{ID: 1, Prompt: []int32{1}, StopTokenIDs: []int32{100}}, ErrInvalidRequest},
		{"negative n", Request{ID: 1, Prompt: []int32{1}, N: -1}, ErrInvalidRequest},
		{"negative max tokens", Request{ID: 1, Prompt: []int32{1}, MaxTokens: -1}, ErrInvalidRequest},
		{"bad sampling params", Request{ID: 1, Prompt: []int32{1}, Params: sample.Params{Temperature: -1}}, sample.ErrInvalidParams},
		{"prompt fills the context", Request{ID: 1, Prompt: make([]int32, 16)}, ErrPromptTooLong},
		{"max tokens past the context", Request{ID: 1, Prompt: make([]int32, 10), MaxTokens: 7}, ErrPromptTooLong},
		{"duplicate id", Request{ID: 7, Prompt: []int32{1}}, ErrDuplicateID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.sc.Add(tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if h.sc.NumRequests() != 1 {
		t.Fatalf("%d requests after rejections", h.sc.NumRequests())
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"zero budget", Config{MaxNumSeqs: 1, MaxModelLen: 16}},
		{"zero seqs", Config{MaxNumBatchedTokens: 16, MaxModelLen: 16}},
		{"seqs over budget", Config{MaxNumBatchedTokens: 4, MaxNumSeqs: 8, MaxModelLen: 16}},
		{"context over cache", Config{MaxNumBatchedTokens: 16, MaxNumSeqs: 1, MaxModelLen: 2000}},
		{"no chunking, small budget", Config{MaxNumBatchedTokens: 8, MaxNumSeqs: 1, MaxModelLen: 16, DisableChunkedPrefill: true}},
		{"unknown policy", Config{MaxNumBatchedTokens: 16, MaxNumSeqs: 1, MaxModelLen: 16, Policy: "lottery"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := newHarness(t, setup{}).sc.Pool() // 255 blocks of 4
			if _, err := New(tc.cfg, pool); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestDeterministicPlans(t *testing.T) {
	trace := func() []int32 {
		h := newHarness(t, setup{blocks: 30, caching: true, cfg: Config{MaxNumBatchedTokens: 24, MaxModelLen: 64, Policy: FairShare}})
		for id := RequestID(1); id <= 12; id++ {
			h.add(Request{ID: id, Prompt: prompt(int(id)%4, 5+int(id)), MaxTokens: 10, N: 1 + int(id)%3, Tenant: string(rune('a' + id%3))})
		}
		var tr []int32
		h.onPlan = func(p *Plan) { tr = append(append(tr, p.Batch.BlockTables...), -1) }
		h.run(1000)
		return tr
	}
	if a, b := trace(), trace(); !slices.Equal(a, b) {
		t.Fatal("two identical runs planned differently")
	}
}

func TestFinishSeqEndsOneSequence(t *testing.T) {
	h := newHarness(t, setup{})
	h.add(Request{ID: 1, Prompt: prompt(1, 6), MaxTokens: 10, N: 2})
	h.step()
	h.step()
	u, ok := h.sc.FinishSeq(1, 0)
	if !ok || u.OutputTokens != 2 || u.PromptTokens != 6 {
		t.Fatalf("FinishSeq: %+v %v", u, ok)
	}
	if _, ok := h.sc.FinishSeq(1, 0); ok {
		t.Fatal("second FinishSeq of the same sequence reported true")
	}
	for _, bad := range []int{-1, 2} {
		if _, ok := h.sc.FinishSeq(1, bad); ok {
			t.Fatalf("FinishSeq of index %d reported true", bad)
		}
	}
	h.run(100)
	if len(h.out[1][1]) != 10 {
		t.Fatalf("the other sequence got %d tokens", len(h.out[1][1]))
	}
}
