package engine

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/sotasystems/sota/backend/cpu"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/model"
	"github.com/sotasystems/sota/sample"
)

// storiesEngine runs the built-in stories260K model on the CPU backend.
func storiesEngine(t *testing.T, numBlocks int, cfg Config) *Engine {
	t.Helper()
	m, err := model.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	be, err := cpu.New(m, cpu.Options{NumBlocks: numBlocks, MaxBatchTokens: 256, MaxSeqs: 64, MemoryAvailable: -1})
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = quiet
	cfg.EOSTokenIDs = []int32{2}
	e, err := New(be, cfg)
	if err != nil {
		be.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		assertIdleSoon(t, e)
		e.Close()
		be.Close()
	})
	return e
}

// assertIdleSoon waits for the loop to publish its idle state: the last
// stream can end a moment before the snapshot is stored. It blocks on a
// request round trip, not on time.
func assertIdleSoon(t *testing.T, e *Engine) {
	t.Helper()
	s, err := e.Generate(context.Background(), Request{Prompt: []int32{1}, MaxTokens: 1})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := s.Recv(context.Background()); err != nil {
			break
		}
	}
	assertIdle(t, e)
}

type job struct {
	prompt    []int32
	maxTokens int
}

func mixedJobs(n int) []job {
	rng := rand.New(rand.NewPCG(3, 4))
	jobs := make([]job, n)
	for i := range jobs {
		p := make([]int32, 1+rng.IntN(180))
		p[0] = 1 // BOS
		for j := 1; j < len(p); j++ {
			p[j] = int32(3 + rng.IntN(509))
		}
		jobs[i] = job{prompt: p, maxTokens: 5 + rng.IntN(60)}
	}
	return jobs
}

func run(t *testing.T, e *Engine, j job) []int32 {
	t.Helper()
	s, err := e.Generate(t.Context(), Request{Prompt: j.prompt, MaxTokens: j.maxTokens})
	if err != nil {
		t.Fatal(err)
	}
	toks, _, err := collect(t, s)
	if err != nil {
		t.Fatal(err)
	}
	return toks[0]
}

// 64 prompts of mixed lengths run concurrently (chunked, batched, and on a
// cache so small that sequences are preempted and recomputed) give exactly
// the greedy tokens each gives alone.
func TestConcurrentEqualsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CPU model about 200 times")
	}
	jobs := mixedJobs(64)
	alone := storiesEngine(t, 64, Config{MaxNumSeqs: 1})
	want := make([][]int32, len(jobs))
	for i, j := range jobs {
		want[i] = run(t, alone, j)
	}
	tests := []struct {
		name       string
		blocks     int
		cfg        Config
		preemption bool
	}{
		{"batched with prefix caching", 1024, Config{EnablePrefixCaching: true, MaxNumBatchedTokens: 128}, false},
		{"small cache preempts", 40, Config{MaxModelLen: 512, MaxNumBatchedTokens: 256, Policy: "fair"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := storiesEngine(t, tc.blocks, tc.cfg)
			streams := make([]*Stream, len(jobs))
			for i, j := range jobs {
				s, err := e.Generate(t.Context(), Request{Prompt: j.prompt, MaxTokens: j.maxTokens, Tenant: string(rune('a' + i%4))})
				if err != nil {
					t.Fatal(err)
				}
				streams[i] = s
			}
			for i, s := range streams {
				toks, _, err := collect(t, s)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(toks[0], want[i]) {
					t.Fatalf("prompt %d (%d tokens): concurrent %v\nalone %v", i, len(jobs[i].prompt), toks[0], want[i])
				}
			}
			assertIdleSoon(t, e)
			st := e.Stats()
			if (st.Preemptions > 0) != tc.preemption {
				t.Fatalf("%d preemptions, want some: %v", st.Preemptions, tc.preemption)
			}
			if st.Steps >= int64(len(jobs)*30) {
				t.Fatalf("%d steps: the requests did not run together", st.Steps)
			}
			t.Logf("%d steps, %d preemptions, %d prompt tokens computed", st.Steps, st.Preemptions, st.PromptTokens)
		})
	}
}

// The second request with a shared prefix computes only its new tokens, and
// the same prompt from another tenant computes everything.
func TestPrefixCacheOnCPU(t *testing.T) {
	e := storiesEngine(t, 256, Config{EnablePrefixCaching: true})
	prefix := mixedJobs(1)[0].prompt[:100] // 6 full blocks of 16 and 4 tokens
	first := job{prompt: prefix, maxTokens: 8}
	second := job{prompt: append(slices.Clone(prefix[:96]), 7, 8, 9, 10, 11), maxTokens: 8}
	tests := []struct {
		name, tenant string
		j            job
		computed     int64
		cached       int
	}{
		{"first", "alice", first, 100, 0},
		{"same tenant, shared prefix", "alice", second, 5, 96},
		{"other tenant, same prompt", "bob", second, 101, 0},
	}
	var before Stats
	for _, tc := range tests {
		s, err := e.Generate(t.Context(), Request{Prompt: tc.j.prompt, MaxTokens: tc.j.maxTokens, Tenant: tc.tenant})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := collect(t, s); err != nil {
			t.Fatal(err)
		}
		assertIdleSoon(t, e)
		st := e.Stats()
		// assertIdleSoon's own one-token request computes 1 prompt token.
		if got := st.PromptTokens - before.PromptTokens - 1; got != tc.computed {
			t.Errorf("%s: computed %d prompt tokens, want %d", tc.name, got, tc.computed)
		}
		if u := s.Usage(); u.CachedTokens != tc.cached {
			t.Errorf("%s: usage reports %d cached tokens, want %d", tc.name, u.CachedTokens, tc.cached)
		}
		before = st
	}
	if st := e.Stats(); st.PrefixHitTokens < 96 || st.PrefixQueriedTokens == 0 {
		t.Errorf("prefix counters: queried %d hit %d", st.PrefixQueriedTokens, st.PrefixHitTokens)
	}
}

// The engine reproduces the reference greedy generations of stories260K
// (made with transformers) token for token.
func TestStoriesReference(t *testing.T) {
	data, err := os.ReadFile(testmodels.Shared(t, "stories260k", "reference", "greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			InputIDs  []int32 `json:"input_ids"`
			NewTokens int     `json:"new_tokens"`
			GreedyIDs []int32 `json:"greedy_ids"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	e := storiesEngine(t, 256, Config{EnablePrefixCaching: true})
	streams := make([]*Stream, len(ref.Cases))
	for i, c := range ref.Cases {
		// Reference runs ignore EOS; greedy Params are the zero value.
		s, err := e.Generate(t.Context(), Request{Prompt: c.InputIDs, MaxTokens: c.NewTokens, IgnoreEOS: true, Params: sample.Params{}})
		if err != nil {
			t.Fatal(err)
		}
		streams[i] = s
	}
	for i, s := range streams {
		toks, _, err := collect(t, s)
		if err != nil {
			t.Fatal(err)
		}
		want := ref.Cases[i].GreedyIDs
		if len(want) > len(ref.Cases[i].InputIDs) && slices.Equal(want[:len(ref.Cases[i].InputIDs)], ref.Cases[i].InputIDs) {
			want = want[len(ref.Cases[i].InputIDs):]
		}
		if !slices.Equal(toks[0], want) {
			t.Errorf("case %d: %v\nwant %v", i, toks[0], want)
		}
	}
}
