package cpu

import (
	"context"
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

var bench110M struct {
	once sync.Once
	be   *Backend
	err  error
}

func backend110M(b *testing.B) *Backend {
	bench110M.once.Do(func() {
		m, err := model.Random(llama110M(), 1)
		if err != nil {
			bench110M.err = err
			return
		}
		bench110M.be, bench110M.err = New(m, Options{NumBlocks: 1024, MemoryAvailable: -1})
	})
	if bench110M.err != nil {
		b.Fatal(bench110M.err)
	}
	return bench110M.be
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
// weights: the streaming-read bandwidth of this machine, batch-1 decode
// tokens/s and the fraction of the bandwidth roofline it reaches (weight
// bytes per token × tokens/s ÷ bandwidth), and the speed-up of 16 sequences
// per step over one.
func BenchmarkDecodeRoofline(b *testing.B) {
	be := backend110M(b)
	buf := make([]float32, 256<<20) // 1 GiB, far past the caches
	for i := range buf {
		buf[i] = 1
	}
	var bw, one, sixteen float64
	for i := 0; i < b.N; i++ {
		bw += streamBandwidth(&be.pool, buf)
		one += decodeRate(b, be, 1, 16, 24)
		sixteen += decodeRate(b, be, 16, 16, 8)
	}
	n := float64(b.N)
	bw, one, sixteen = bw/n, one/n, sixteen/n
	bytesPerToken := float64(be.WeightBytesPerToken())
	b.ReportMetric(bw/1e9, "stream-GB/s")
	b.ReportMetric(one, "tok/s-batch1")
	b.ReportMetric(bytesPerToken*one/bw, "roofline-fraction")
	b.ReportMetric(sixteen, "tok/s-batch16")
	b.ReportMetric(sixteen/one, "batch16-speedup")
	b.ReportMetric(0, "ns/op")
}
