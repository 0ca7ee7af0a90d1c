package scheduler

import (
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/kvcache"
	"github.com/sotasystems/sota/sample"
)

const benchSeqs, benchPrompt = 256, 1000

// benchScheduler has benchSeqs sequences of benchPrompt-token prompts (eight
// tenants, fair share, prefix caching on) and a step function that feeds
// Update a made-up output. onFinish, if set, sees every finished request.
func benchScheduler(b *testing.B, maxTokens func(i int) int, onFinish func(sc *Scheduler, ev Event)) (*Scheduler, func() int) {
	pool, err := kvcache.New(benchSeqs*(2048/16)*2, 16, true)
	if err != nil {
		b.Fatal(err)
	}
	sc, err := New(Config{MaxNumBatchedTokens: 8192, MaxNumSeqs: benchSeqs, MaxModelLen: 2048, VocabSize: 32000, Policy: FairShare}, pool)
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchSeqs {
		if err := sc.Add(benchRequest(RequestID(i+1), i, maxTokens(i))); err != nil {
			b.Fatal(err)
		}
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
			if ev.Finish != "" && onFinish != nil {
				onFinish(sc, ev)
			}
		}
		return n
	}
	for sc.Stats().Running < benchSeqs || len(sc.plan.Batch.Samples) < benchSeqs {
		step()
	}
	return sc, step
}

func benchRequest(id RequestID, i, maxTokens int) Request {
	p := make([]int32, benchPrompt)
	for j := range p {
		p[j] = int32((i*7919 + j*31) % 32000)
	}
	return Request{ID: id, Prompt: p, Tenant: string(rune('a' + i%8)), MaxTokens: maxTokens}
}

// BenchmarkStep measures Schedule + Update of one step with 256 running
// sequences of 1000- to 2048-token contexts (no backend: the output is made
// up). "decode": every sequence decodes one token. "with-arrivals": finished
// sequences are replaced by new requests with the same prompt, so a step
// also admits, hashes and looks up prompts about every other step.
func BenchmarkStep(b *testing.B) {
	b.Run("decode", func(b *testing.B) {
		const steps = 64
		var sc *Scheduler
		var step func() int
		for i := 0; b.Loop(); i++ {
			if i%steps == 0 {
				b.StopTimer()
				sc, step = benchScheduler(b, func(int) int { return 1000 }, nil)
				_ = sc
				b.StartTimer()
			}
			if n := step(); n != benchSeqs {
				b.Fatalf("%d sequences in the step", n)
			}
		}
	})
	b.Run("with-arrivals", func(b *testing.B) {
		next := RequestID(benchSeqs)
		_, step := benchScheduler(b, func(i int) int { return 1048 - i*4 }, func(sc *Scheduler, ev Event) {
			next++
			i := int(ev.Request) % benchSeqs
			if err := sc.Add(benchRequest(next, i, 1048-i*4)); err != nil {
				b.Fatal(err)
			}
		})
		for b.Loop() {
			if n := step(); n != benchSeqs {
				b.Fatalf("%d sequences in the step", n)
			}
		}
	})
}
