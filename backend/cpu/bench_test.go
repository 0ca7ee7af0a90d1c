package cpu

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/model"
)

// llama110M is the 110M-parameter Llama shape of the roofline target
// (TinyStories-110M: dim 768, 12 layers, 12 heads, FFN 2048, vocab 32000).
func llama110M() model.Config {
	return model.Config{
		Architecture: "LlamaForCausalLM", Arch: model.Llama,
		HiddenSize: 768, IntermediateSize: 2048, NumLayers: 12, NumHeads: 12, NumKVHeads: 12, HeadDim: 64,
		VocabSize: 32000, MaxPositionEmbeddings: 1024, RMSNormEps: 1e-5, RopeTheta: 10000,
		BOSTokenID: 1, EOSTokenIDs: []int32{2}, TorchDType: "float32",
	}
}

// bench110M holds one 110M backend at a time (each holds ~1.2 GB of KV
// cache besides its weights, and the machine is shared).
var bench110M struct {
	mu     sync.Mutex
	format WeightFormat
	be     *Backend
}

func backend110M(b *testing.B, f WeightFormat) *Backend {
	bench110M.mu.Lock()
	defer bench110M.mu.Unlock()
	if bench110M.be != nil && bench110M.format == f {
		return bench110M.be
	}
	if bench110M.be != nil {
		bench110M.be.Close()
		bench110M.be = nil
	}
	m, err := model.Random(llama110M(), 1)
	if err != nil {
		b.Fatal(err)
	}
	be, err := New(m, Options{NumBlocks: 1024, MemoryAvailable: -1, Weights: f})
	if err != nil {
		b.Fatal(err)
	}
	bench110M.be, bench110M.format = be, f
	return be
}

// streamBandwidth measures bytes/s of reading a buffer far larger than the
// caches with every worker, the way the matmuls read weights.
func streamBandwidth(pool *workers, buf []float32) float64 {
	var sink [64]float32
	start := time.Now()
	pool.run(pool.n, func(lo, hi int) {
		for part := lo; part < hi; part++ {
			n := len(buf) / pool.n
			sink[part] = sumStream(buf[part*n : (part+1)*n])
		}
	})
	_ = sink
	return float64(len(buf)*4) / time.Since(start).Seconds()
}

// decodeRate prefills `seqs` sequences of promptLen tokens, then times steps
// of one new token per sequence, and returns sequence-tokens per second.
func decodeRate(b *testing.B, be *Backend, seqs, promptLen, steps int) float64 {
	ctx := context.Background()
	bs := be.Geometry().BlockSize
	perSeq := (promptLen + steps + bs - 1) / bs
	specs := make([]seqSpec, seqs)
	for i := range specs {
		prompt := make([]int32, promptLen)
		for j := range prompt {
			prompt[j] = int32(1 + (i*7919+j*104729)%31999)
		}
		specs[i] = seqSpec{tokens: prompt, blocks: seqBlocks(i*perSeq, 1, perSeq), sample: true}
	}
	run := func(bt *backend.Batch) {
		if _, err := be.Forward(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	run(makeBatch(specs...))
	start := time.Now()
	for s := 0; s < steps; s++ {
		for i := range specs {
			specs[i].pos = promptLen + s
			specs[i].tokens = []int32{int32(3 + (i+s)%500)}
		}
		run(makeBatch(specs...))
	}
	return float64(seqs*steps) / time.Since(start).Seconds()
}

// BenchmarkDecodeRoofline reports, for the 110M Llama shape with random
// weights stored in each format (sub-benchmarks named after the kernels, e.g.
// avx2-fma-bfloat16): the streaming-read bandwidth of this machine, batch-1
// decode tokens/s and the fraction of the bandwidth roofline it reaches
// (that format's weight bytes per token × tokens/s ÷ bandwidth), and the
// speed-up of 16 sequences per step over one.
//
// The bandwidth of a shared machine drifts by tens of percent within seconds,
// so each ratio is formed from adjacent measurements (stream read right
// before and after a batch-1 run; batch-1 runs right before and after a
// batch-16 run) and the median over iterations is reported.
func BenchmarkDecodeRoofline(b *testing.B) {
	buf := make([]float32, 256<<20) // 1 GiB, far past the caches
	for i := range buf {
		buf[i] = 1
	}
	saved := useAVX512
	defer func() { useAVX512 = saved }()
	for _, f := range []WeightFormat{WeightsF32, WeightsBF16, WeightsInt8} {
		// Where the CPU has AVX-512, its bfloat16 and int8 kernels run
		// beside the AVX2 ones, so the two compare in the same run.
		families := []bool{hasAVX512}
		if hasAVX512 && f != WeightsF32 {
			families = []bool{false, true}
		}
		for _, z := range families {
			useAVX512 = z
			b.Run(strings.ReplaceAll(kernelsOf(f), " ", "-"), func(b *testing.B) { decodeRoofline(b, backend110M(b, f), buf) })
		}
	}
}

func decodeRoofline(b *testing.B, be *Backend, buf []float32) {
	bytesPerToken := float64(be.WeightBytesPerToken())
	var bws, ones, sixteens, fractions, speedups []float64
	for i := 0; i < b.N; i++ {
		bw1 := streamBandwidth(&be.pool, buf)
		one := decodeRate(b, be, 1, 16, 24)
		bw2 := streamBandwidth(&be.pool, buf)
		sixteen := decodeRate(b, be, 16, 16, 8)
		oneAfter := decodeRate(b, be, 1, 16, 24)
		bw := (bw1 + bw2) / 2
		bws, ones, sixteens = append(bws, bw), append(ones, one), append(sixteens, sixteen)
		fractions = append(fractions, bytesPerToken*one/bw)
		speedups = append(speedups, sixteen/((one+oneAfter)/2))
	}
	b.ReportMetric(median(bws)/1e9, "stream-GB/s")
	b.ReportMetric(median(ones), "tok/s-batch1")
	b.ReportMetric(median(fractions), "roofline-fraction")
	b.ReportMetric(median(sixteens), "tok/s-batch16")
	b.ReportMetric(median(speedups), "batch16-speedup")
	b.ReportMetric(bytesPerToken/1e6, "weight-MB/token")
	b.ReportMetric(0, "ns/op")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
