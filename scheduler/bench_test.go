package scheduler

import (
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/kvcache"
	"github.com/sotasystems/sota/sample"
)

// BenchmarkStep measures Schedule + Update for one decode step of 256
// running sequences with 1000- to 2048-token contexts, prefix caching on (no
// backend: the output is made up). A finished sequence is replaced by a new
// request with the same prompt (a prefix-cache hit), so the step stays full.
func BenchmarkStep(b *testing.B) {
	const seqs, promptLen = 256, 1000
	pool, err := kvcache.New(seqs*(2048/16)*2, 16, true)
	if err != nil {
		b.Fatal(err)
	}
	sc, err := New(Config{MaxNumBatchedTokens: 8192, MaxNumSeqs: seqs, MaxModelLen: 2048, VocabSize: 32000, Policy: FairShare}, pool)
	if err != nil {
		b.Fatal(err)
	}
	prompts := make([][]int32, seqs)
	next := RequestID(0)
	add := func(i int) {
		next++
		if err := sc.Add(Request{ID: next, Prompt: prompts[i], Tenant: string(rune('a' + i%8)),
			MaxTokens: 1048 - i*4}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range seqs {
		prompts[i] = make([]int32, promptLen)
		for j := range prompts[i] {
			prompts[i][j] = int32((i*7919 + j*31) % 32000)
		}
		add(i)
	}
	out := &backend.Output{}
	step := func() int {
		p := sc.Schedule()
		out.Samples = out.Samples[:0]
		for range p.Batch.Samples {
			out.Samples = append(out.Samples, sample.Result{Token: 17})
		}
		n := p.NumSeqs()
		for _, ev := range sc.Update(p, out) {
			if ev.Finish != "" {
				add(int(ev.Request-1) % seqs)
			}
		}
		return n
	}
	for sc.Stats().Running < seqs || len(sc.plan.Batch.Samples) < seqs {
		step()
	}
	b.ResetTimer()
	for b.Loop() {
		if n := step(); n != seqs {
			b.Fatalf("%d sequences in the step", n)
		}
	}
}
