package engine

import (
	"testing"
	"time"

	"github.com/sotasystems/sota/backend/cpu"
	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/model"
)

// BenchmarkThroughput110M compares generated tokens per second of 16
// requests (16-token prompts, 32 new tokens each) run one at a time with the
// same 16 run together, on the CPU backend at the 110M Llama shape with
// random weights. The ratio is what continuous batching buys on this machine.
func BenchmarkThroughput110M(b *testing.B) {
	cfg, err := model.LoadConfigFile(testmodels.Testdata(b, "shapes", "llama-110m.json"))
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.Random(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	be, err := cpu.New(m, cpu.Options{NumBlocks: 256, MaxSeqs: 16, MemoryAvailable: -1})
	m.Close()
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	e, err := New(be, Config{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const requests, promptLen, newTokens = 16, 16, 32
	reqs := make([]Request, requests)
	for i := range reqs {
		p := make([]int32, promptLen)
		for j := range p {
			p[j] = int32(100 + i*promptLen + j)
		}
		reqs[i] = Request{Prompt: p, MaxTokens: newTokens, IgnoreEOS: true}
	}
	drain := func(b *testing.B, s *Stream) {
		if _, _, err := collect(b, s); err != nil {
			b.Fatal(err)
		}
	}
	var rates [2]float64
	for i, mode := range []string{"one-at-a-time", "together"} {
		b.Run(mode, func(b *testing.B) {
			var elapsed time.Duration
			for b.Loop() {
				start := time.Now()
				if mode == "together" {
					streams := make([]*Stream, requests)
					for k, r := range reqs {
						if streams[k], err = e.Generate(b.Context(), r); err != nil {
							b.Fatal(err)
						}
					}
					for _, s := range streams {
						drain(b, s)
					}
				} else {
					for _, r := range reqs {
						s, err := e.Generate(b.Context(), r)
						if err != nil {
							b.Fatal(err)
						}
						drain(b, s)
					}
				}
				elapsed += time.Since(start)
			}
			rates[i] = float64(b.N*requests*newTokens) / elapsed.Seconds()
			b.ReportMetric(rates[i], "tok/s")
		})
	}
	if rates[0] > 0 && rates[1] > 0 {
		b.Logf("together / one-at-a-time = %.2f", rates[1]/rates[0])
	}
}
