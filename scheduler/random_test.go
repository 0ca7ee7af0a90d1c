package scheduler

import (
	"math/rand/v2"
	"testing"
)

// TestRandomWorkloads drives the scheduler with random arrivals, aborts,
// sizes, n, tenants and policies on small caches. The harness checks the
// block pool's invariants after every Schedule and Update, and the fake
// backend checks every block table against its shadow KV cache, so a prefix
// hit, a sibling share or a resumption that points at the wrong blocks fails.
func TestRandomWorkloads(t *testing.T) {
	var preemptions, hits int64
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		policy := []Policy{FCFS, PriorityFirst, FairShare}[seed%3]
		blockSize := 1 + rng.IntN(8)
		h := newHarness(t, setup{
			blocks: (48+blockSize-1)/blockSize + 1 + rng.IntN(30), blockSize: blockSize, caching: seed%2 == 0,
			cfg: Config{MaxNumBatchedTokens: 8 + rng.IntN(64), MaxNumSeqs: 1 + rng.IntN(8), MaxModelLen: 48,
				Policy: policy, LongPrefillTokens: rng.IntN(3) * 8},
		})
		next := RequestID(0)
		var live []RequestID
		for step := 0; step < 400; step++ {
			if rng.IntN(3) == 0 {
				next++
				// Shared prefixes across requests: prompts start from one of a few stems.
				p := prompt(rng.IntN(3), 1+rng.IntN(30))
				h.add(Request{ID: next, Prompt: p, MaxTokens: 1 + rng.IntN(47-len(p)), N: 1 + rng.IntN(3),
					Tenant: string(rune('a' + rng.IntN(2))), Priority: rng.IntN(3)})
				live = append(live, next)
			}
			if len(live) > 0 && rng.IntN(10) == 0 {
				i := rng.IntN(len(live))
				h.sc.Abort(live[i])
				live = append(live[:i], live[i+1:]...)
			}
			h.step()
		}
		h.run(5000)
		preemptions += h.sc.Stats().Preemptions
		hits += h.sc.Pool().Stats().HitTokens
	}
	if preemptions == 0 || hits == 0 {
		t.Fatalf("%d preemptions, %d prefix-hit tokens: the workloads do not exercise both", preemptions, hits)
	}
}
