//go:build cuda

// GPU tests: run on a machine with a GPU and a built library, e.g.
//
//	go test -tags cuda -v ./backend/cuda/ -cuda-lib ../../build/libsota_cuda.so
//
// They compare the CUDA backend with the CPU backend (the numerical
// reference): logits of every tiny checkpoint within BF16 tolerance, top-1
// agreement, the GPU sampler against sample.Sampler, and the exact greedy
// text of stories260k.
package cuda

import (
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/cpu"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/model"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

var libFlag = flag.String("cuda-lib", "", "path of libsota_cuda.so (default: the search path)")

const blockSize = 16

func gpuBackend(t testing.TB, m *model.Model, opts Options) *Backend {
	t.Helper()
	opts.Library = *libFlag
	if opts.BlockSize == 0 {
		opts.BlockSize = blockSize
	}
	if opts.MaxSeqs == 0 {
		opts.MaxSeqs = 8
	}
	be, err := New(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

func cpuBackend(t testing.TB, m *model.Model) *cpu.Backend {
	t.Helper()
	be, err := cpu.New(m, cpu.Options{BlockSize: blockSize, NumBlocks: 256, MaxSeqs: 8, MemoryAvailable: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

// seqBatch is one sequence's tokens at positions [start, start+len) over blocks 0...
func seqBatch(tokens []int32, start int, firstBlock int32) *backend.Batch {
	b := &backend.Batch{Tokens: tokens, SeqStarts: []int32{0, int32(len(tokens))}}
	for i := range tokens {
		b.Positions = append(b.Positions, int32(start+i))
	}
	for blk := 0; blk <= (start+len(tokens)-1)/blockSize; blk++ {
		b.BlockTables = append(b.BlockTables, firstBlock+int32(blk))
	}
	b.BlockTableStarts = []int32{0, int32(len(b.BlockTables))}
	return b
}

// compare reports ‖g − c‖/‖c‖ and top-1 agreement over the rows.
func compare(g, c []float32, vocab int) (rel float64, agree, rows int) {
	var num, den float64
	for r := 0; r < len(c)/vocab; r++ {
		gr, cr := g[r*vocab:(r+1)*vocab], c[r*vocab:(r+1)*vocab]
		for i := range cr {
			d := float64(gr[i] - cr[i])
			num += d * d
			den += float64(cr[i]) * float64(cr[i])
		}
		if sample.Argmax(gr) == sample.Argmax(cr) {
			agree++
		}
		rows++
	}
	return math.Sqrt(num / den), agree, rows
}

func TestLogitsMatchCPU(t *testing.T) {
	for _, name := range []string{"llama-tiny", "mistral-tiny", "qwen2-tiny", "stories260k"} {
		t.Run(name, func(t *testing.T) {
			var m *model.Model
			var err error
			if name == "stories260k" {
				m, err = model.LoadFS(demo.FS())
			} else {
				m, err = model.Load(testmodels.Testdata(t, name))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			g, c := gpuBackend(t, m, Options{}), cpuBackend(t, m)
			vocab := m.Config.VocabSize
			rng := rand.New(rand.NewPCG(1, 2))
			prompt := make([]int32, 40) // longer than mistral-tiny's window of 16
			for i := range prompt {
				prompt[i] = int32(rng.IntN(vocab))
			}
			ctx := context.Background()
			worst, agree, rows := 0.0, 0, 0
			check := func(b *backend.Batch) []float32 {
				gl, err := g.Logits(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				cl, err := c.Logits(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				rel, a, n := compare(gl, cl, vocab)
				worst, agree, rows = max(worst, rel), agree+a, rows+n
				return cl
			}
			// Prefill in two chunks (chunked prefill over the paged cache), then decode.
			check(seqBatch(prompt[:24], 0, 0))
			cl := check(seqBatch(prompt[24:], 24, 0))
			pos := len(prompt)
			next := sample.Argmax(cl[len(cl)-vocab:])
			for range 30 {
				cl = check(seqBatch([]int32{next}, pos, 0))
				pos++
				next = sample.Argmax(cl)
			}
			t.Logf("%s: worst relative logit error %.2e, top-1 agreement %d/%d", name, worst, agree, rows)
			if worst > 3e-2 {
				t.Errorf("relative logit error %.2e exceeds the BF16 tolerance 3e-2", worst)
			}
			if float64(agree) < 0.95*float64(rows) {
				t.Errorf("top-1 agreement %d/%d below 95%%", agree, rows)
			}
		})
	}
}

// Two sequences in one step (a decode beside a prefill chunk) give the same
// logits as each alone: rows do not leak into each other.
func TestMixedBatch(t *testing.T) {
	m, err := model.Load(testmodels.Testdata(t, "mistral-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g := gpuBackend(t, m, Options{})
	vocab := m.Config.VocabSize
	ctx := context.Background()
	a := []int32{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}
	if _, err := g.Logits(ctx, seqBatch(a[:18], 0, 0)); err != nil {
		t.Fatal(err)
	}
	alone, err := g.Logits(ctx, seqBatch(a[18:], 18, 0))
	if err != nil {
		t.Fatal(err)
	}
	mixed := &backend.Batch{
		Tokens: []int32{a[18], 40, 41, 42, 43, 44}, Positions: []int32{18, 0, 1, 2, 3, 4},
		SeqStarts: []int32{0, 1, 6}, BlockTables: []int32{0, 1, 10}, BlockTableStarts: []int32{0, 2, 3},
	}
	got, err := g.Logits(ctx, mixed)
	if err != nil {
		t.Fatal(err)
	}
	if rel, _, _ := compare(got[:vocab], alone, vocab); rel > 1e-3 {
		t.Errorf("decode row beside a prefill differs from alone: %.2e", rel)
	}
}

func TestSamplerMatchesCPU(t *testing.T) {
	m, err := model.Load(testmodels.Testdata(t, "llama-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g := gpuBackend(t, m, Options{})
	vocab := m.Config.VocabSize
	rng := rand.New(rand.NewPCG(3, 4))
	params := []sample.Params{
		{},
		{Temperature: 1},
		{Temperature: 0.7, TopK: 20},
		{Temperature: 1.3, TopP: 0.8},
		{Temperature: 1, MinP: 0.1},
		{Temperature: 0.9, TopK: 300, TopP: 0.95, MinP: 0.02, Logprobs: true, TopLogprobs: 5},
		{Temperature: 1, RepetitionPenalty: 1.3, PresencePenalty: 0.5, FrequencyPenalty: 0.4,
			LogitBias: map[int32]float32{3: 4, 9: -100}, Logprobs: true},
		{Temperature: 0, RepetitionPenalty: 1.5, TopLogprobs: 3},
	}
	cpuS := sample.NewSampler()
	mismatches, total := 0, 0
	for trial := range 50 {
		rows := make([]backend.SampleRow, len(params))
		logits := make([]float32, len(params)*vocab)
		for i := range logits {
			logits[i] = float32(rng.NormFloat64() * (1 + float64(trial)/10))
		}
		for i, p := range params {
			p.Seed = uint64(trial*100 + i)
			out := make([]int32, rng.IntN(20))
			for j := range out {
				out[j] = int32(rng.IntN(vocab))
			}
			rows[i] = backend.SampleRow{Seq: int32(i), Params: p, PromptTokens: []int32{1, 2, 3, 2}, OutputTokens: out}
		}
		got, err := g.SampleLogits(append([]float32(nil), logits...), rows)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			want, err := cpuS.Sample(append([]float32(nil), logits[i*vocab:(i+1)*vocab]...), r.Params, r.PromptTokens, r.OutputTokens)
			if err != nil {
				t.Fatal(err)
			}
			total++
			gr := got.Samples[i]
			if gr.Token != want.Token {
				mismatches++
				t.Logf("trial %d row %d: GPU %d, CPU %d", trial, i, gr.Token, want.Token)
				continue
			}
			if math.Abs(float64(gr.Logprob-want.Logprob)) > 1e-4 {
				t.Errorf("trial %d row %d: logprob %v, CPU %v", trial, i, gr.Logprob, want.Logprob)
			}
			for k := range want.Top {
				if k >= len(gr.Top) || gr.Top[k].Token != want.Top[k].Token {
					t.Errorf("trial %d row %d: top logprobs %v, CPU %v", trial, i, gr.Top, want.Top)
					break
				}
			}
		}
	}
	// A draw may differ only when u lands within float64 rounding of a boundary.
	if mismatches > 0 {
		t.Errorf("%d of %d draws differ from the CPU sampler", mismatches, total)
	}
}

// The trained stories260k model reproduces the CPU's greedy text exactly for
// 100 tokens, sampling on the GPU.
func TestStoriesGreedyMatchesCPU(t *testing.T) {
	m, err := model.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	prompt := tok.Encode("Once upon a time", true)
	run := func(be backend.Backend) []int32 {
		ctx := context.Background()
		var out []int32
		b := seqBatch(prompt, 0, 0)
		pos := len(prompt)
		for range 100 {
			b.Samples = []backend.SampleRow{{Seq: 0, PromptTokens: prompt, OutputTokens: out}}
			res, err := be.Forward(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			next := res.Samples[0].Token
			out = append(out, next)
			b = seqBatch([]int32{next}, pos, 0)
			pos++
		}
		return out
	}
	gpuOut, cpuOut := run(gpuBackend(t, m, Options{})), run(cpuBackend(t, m))
	for i := range cpuOut {
		if gpuOut[i] != cpuOut[i] {
			t.Fatalf("token %d: GPU %d, CPU %d\nGPU: %q\nCPU: %q", i, gpuOut[i], cpuOut[i],
				tok.Decode(gpuOut, true), tok.Decode(cpuOut, true))
		}
	}
	t.Logf("100 greedy tokens identical: %q", tok.Decode(cpuOut, true))
}

// Random weights generated on the device equal model.Random's (after BF16
// rounding): the logits of both paths agree.
func TestRandomWeightsOnDeviceMatchHost(t *testing.T) {
	cfg, err := model.LoadConfigFile(testmodels.Testdata(t, "qwen2-tiny", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Random(cfg, 11)
	if err != nil {
		t.Fatal(err)
	}
	dev := gpuBackend(t, m, Options{RandomWeights: true, RandomSeed: 11})
	host := gpuBackend(t, m, Options{})
	b := seqBatch([]int32{1, 2, 3, 4, 5}, 0, 0)
	a, err := dev.Logits(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.Logits(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != h[i] {
			t.Fatalf("logit %d: device-generated %v, host-generated %v", i, a[i], h[i])
		}
	}
}

// BenchmarkDecodeLlama8B: batch-1 decode of a Llama-3.1-8B-shaped model with
// random weights at a 1024-token context, next to the bandwidth roofline
// (weight bytes ÷ copy-kernel bandwidth measured in the same run).
func BenchmarkDecodeLlama8B(b *testing.B) {
	cfg, err := model.LoadConfigFile(filepath.Join("testdata", "llama-3.1-8b-instruct.json"))
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.Random(cfg, 0)
	if err != nil {
		b.Fatal(err)
	}
	be := gpuBackend(b, m, Options{RandomWeights: true, MaxModelLen: 4096, MaxSeqs: 4})
	ctx := context.Background()
	const ctxLen = 1024
	prompt := make([]int32, ctxLen)
	for i := range prompt {
		prompt[i] = int32(i * 7 % cfg.VocabSize)
	}
	// Prefill without sampling: Logits would copy 1023 × vocab logits back.
	if _, err := be.Forward(ctx, seqBatch(prompt[:ctxLen-1], 0, 0)); err != nil {
		b.Fatal(err)
	}
	step := seqBatch(prompt[ctxLen-1:], ctxLen-1, 0)
	step.Samples = []backend.SampleRow{{Seq: 0}}
	gpuMS, err := be.TimeForward(step, 50)
	if err != nil {
		b.Fatal(err)
	}
	bw, err := CopyBandwidth(*libFlag, 0, 2<<30, 20)
	if err != nil {
		b.Fatal(err)
	}
	bytes := be.WeightBytesPerToken()
	roofline := float64(bytes) / (bw * 1e9) * 1e3
	b.ResetTimer()
	for b.Loop() {
		if _, err := be.Forward(ctx, step); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	wallMS := float64(b.Elapsed().Milliseconds()) / float64(b.N)
	b.ReportMetric(wallMS, "ms/token")
	b.ReportMetric(gpuMS, "gpu-ms/token")
	b.ReportMetric(roofline, "roofline-ms")
	b.ReportMetric(bw, "copy-GB/s")
	b.ReportMetric(roofline/gpuMS, "of-roofline")
	b.Logf("%s: batch-1 decode at context %d: %.3f ms/token wall, %.3f ms GPU; weights %.2f GB read per token; "+
		"copy bandwidth %.0f GB/s → roofline %.3f ms (%.0f%% of roofline)",
		be.Device().Name, ctxLen, wallMS, gpuMS, float64(bytes)/1e9, bw, roofline, 100*roofline/gpuMS)
}
