package metrics

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
)

func benchEngine(b *testing.B) *Engine {
	reg, err := New(Options{NoGPU: true, NoRuntime: true})
	if err != nil {
		b.Fatal(err)
	}
	e, err := reg.Engine(EngineOptions{Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkObserveDecodeStep is the observer's cost of one decode step of
// 1,000 sequences (1,000 inter-token gaps); ns/token is that over the step's
// tokens.
func BenchmarkObserveDecodeStep(b *testing.B) {
	e := benchEngine(b)
	s := &engine.StepStats{Duration: 10 * time.Millisecond, Seqs: 1000, Tokens: 1000, GenerationTokens: 1000,
		ITL: make([]time.Duration, 1000)}
	for i := range s.ITL {
		s.ITL[i] = time.Duration(10+i%5) * time.Millisecond
	}
	b.ReportAllocs()
	for b.Loop() {
		e.ObserveStep(s)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/token")
}

// BenchmarkObserveRequest is the observer's cost of one ended request.
func BenchmarkObserveRequest(b *testing.B) {
	e := benchEngine(b)
	t0 := time.Now()
	r := &engine.RequestStats{N: 1, Finish: engine.FinishLength, Usage: engine.Usage{PromptTokens: 76, CompletionTokens: 64},
		Timings: engine.Timings{Arrival: t0, Scheduled: t0.Add(time.Millisecond), FirstToken: t0.Add(20 * time.Millisecond),
			Finished: t0.Add(700 * time.Millisecond)}}
	b.ReportAllocs()
	for b.Loop() {
		e.ObserveRequest(r)
	}
}

// BenchmarkEngineFake compares the engine loop's CPU per generated token
// with and without the metrics observer: 1,000 requests of 64 tokens at
// once on the fake backend (no step delay), so the loop itself is all that
// runs.
func BenchmarkEngineFake(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			var obs engine.Observer
			if mode == "on" {
				obs = benchEngine(b)
			}
			be := fake.New(backend.Geometry{BlockSize: 16, NumBlocks: 8192, MaxBatchTokens: 8192, MaxSeqs: 1024, MaxModelLen: 256})
			e, err := engine.New(be, engine.Config{Observer: obs, Logger: nil, MaxNumSeqs: 1000})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			const requests, tokens = 1000, 64
			streams := make([]*engine.Stream, requests)
			for b.Loop() {
				for i := range streams {
					if streams[i], err = e.Generate(context.Background(), engine.Request{Prompt: []int32{int32(3 + i%100), 4, 5, 6},
						MaxTokens: tokens, IgnoreEOS: true}); err != nil {
						b.Fatal(err)
					}
				}
				for _, s := range streams {
					for {
						if _, err := s.Recv(context.Background()); err == io.EOF {
							break
						} else if err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*requests*tokens), "ns/token")
		})
	}
}
