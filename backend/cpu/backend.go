package cpu

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/model"
	"github.com/sotasystems/sota/sample"
)

// ErrClosed is returned by Forward after Close.
var ErrClosed = errors.New("cpu backend: closed")

// ErrOutOfMemory is returned by New when weights and cache would not fit.
var ErrOutOfMemory = errors.New("not enough memory")

// Options size the backend. Zero values take the documented defaults.
type Options struct {
	BlockSize      int   // tokens per KV block; default 16
	NumBlocks      int   // KV blocks; default: KVCacheBytes / bytes per block
	KVCacheBytes   int64 // KV memory when NumBlocks is 0; default DefaultKVCacheBytes, capped at MaxSeqs full contexts
	MaxModelLen    int   // longest context; default and upper bound: the config's max_position_embeddings
	MaxBatchTokens int   // most tokens per Forward; default 2048
	MaxSeqs        int   // most sequences per Forward; default 256
	Threads        int   // worker goroutines per Forward; default GOMAXPROCS
	// Weights is how weight matrices are stored; default WeightsF32.
	// Accumulation is float32 in every format.
	Weights WeightFormat
	// MemoryAvailable bounds weights + cache; 0 reads MemAvailable from
	// /proc/meminfo (no check where that is unreadable); < 0 disables the check.
	MemoryAvailable int64
	// Progress, if set, is called as weights are converted, with bytes of
	// stored tensors done and in total.
	Progress func(done, total int64)
}

// DefaultKVCacheBytes is the KV cache size when neither NumBlocks nor KVCacheBytes is given.
const DefaultKVCacheBytes = 1 << 30

// Backend is the pure-Go forward pass. It is driven by one goroutine.
type Backend struct {
	cfg     model.Config
	geo     backend.Geometry
	w       *weights
	kv      *kvCache
	pool    workers
	invFreq []float32
	sampler *sample.Sampler
	scratch scratch
	seqOf   []int32 // [tokens] sequence index of each token of the step
	closed  bool
}

var _ backend.Backend = (*Backend)(nil)

// New converts m's weights to the backend's float32 layout and allocates the
// KV cache. m may be closed afterwards: the backend keeps no reference to it.
func New(m *model.Model, opts Options) (*Backend, error) {
	cfg := m.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cpu backend: %w", err)
	}
	geo, err := geometry(&cfg, &opts)
	if err != nil {
		return nil, err
	}
	if opts.Weights > WeightsInt8 {
		return nil, fmt.Errorf("cpu backend: unknown weight format %v", opts.Weights)
	}
	if err := checkMemory(&cfg, geo, opts.Weights, opts.MemoryAvailable); err != nil {
		return nil, err
	}
	w, err := convertWeights(m, opts.Weights, opts.Progress)
	if err != nil {
		return nil, fmt.Errorf("cpu backend: convert weights: %w", err)
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	inv := cfg.RopeInvFreq()
	be := &Backend{
		cfg:     cfg,
		geo:     geo,
		w:       w,
		kv:      newKVCache(cfg.NumLayers, geo.NumBlocks, geo.BlockSize, cfg.NumKVHeads, cfg.HeadDim),
		pool:    workers{n: threads},
		invFreq: make([]float32, len(inv)),
		sampler: sample.NewSampler(),
	}
	for i, f := range inv {
		be.invFreq[i] = float32(f)
	}
	return be, nil
}

func geometry(cfg *model.Config, opts *Options) (backend.Geometry, error) {
	g := backend.Geometry{
		BlockSize:      opts.BlockSize,
		NumBlocks:      opts.NumBlocks,
		MaxModelLen:    cfg.MaxPositionEmbeddings,
		MaxBatchTokens: opts.MaxBatchTokens,
		MaxSeqs:        opts.MaxSeqs,
		VocabSize:      cfg.VocabSize,
		KVDType:        backend.F32,
	}
	if g.BlockSize == 0 {
		g.BlockSize = 16
	}
	if opts.MaxModelLen > 0 {
		if opts.MaxModelLen > cfg.MaxPositionEmbeddings {
			return g, fmt.Errorf("cpu backend: max model length %d exceeds the model's max_position_embeddings %d",
				opts.MaxModelLen, cfg.MaxPositionEmbeddings)
		}
		g.MaxModelLen = opts.MaxModelLen
	}
	if g.MaxBatchTokens == 0 {
		g.MaxBatchTokens = 2048
	}
	if g.MaxSeqs == 0 {
		g.MaxSeqs = 256
	}
	if g.BlockSize < 1 || g.MaxBatchTokens < 1 || g.MaxSeqs < 1 || g.NumBlocks < 0 || opts.KVCacheBytes < 0 {
		return g, fmt.Errorf("cpu backend: block size, batch tokens, sequences and cache size must be positive (got %d, %d, %d, %d blocks, %d bytes)",
			g.BlockSize, g.MaxBatchTokens, g.MaxSeqs, g.NumBlocks, opts.KVCacheBytes)
	}
	if g.NumBlocks == 0 {
		perBlock := kvBytesPerBlock(cfg.NumLayers, g.BlockSize, cfg.NumKVHeads, cfg.HeadDim)
		budget := opts.KVCacheBytes
		if budget == 0 {
			budget = DefaultKVCacheBytes
		}
		g.NumBlocks = int(budget / perBlock)
		if opts.KVCacheBytes == 0 {
			// No point in more than every sequence at full length (plus
			// the engine's null block).
			g.NumBlocks = min(g.NumBlocks, g.MaxSeqs*((g.MaxModelLen+g.BlockSize-1)/g.BlockSize)+1)
		}
	}
	if need := (g.MaxModelLen + g.BlockSize - 1) / g.BlockSize; g.NumBlocks < 1 {
		return g, fmt.Errorf("cpu backend: KV cache holds no block (one full context needs %d blocks)", need)
	}
	return g, nil
}

// Geometry implements backend.Backend.
func (be *Backend) Geometry() backend.Geometry { return be.geo }

// AppliesMasks implements backend.Masker: the sampler applies structured-output masks.
func (be *Backend) AppliesMasks() bool { return true }

// KernelName says which matmul micro-kernels are in use ("avx2-fma" or "go").
func KernelName() string { return kernelName() }

// Kernels names the kernel family and weight format this backend runs, for
// startup summaries and benchmark results: "avx2-fma float32", "avx512 bfloat16".
func (be *Backend) Kernels() string { return kernelsOf(be.w.format) }

// kernelsOf names the kernel family and format f.
func kernelsOf(f WeightFormat) string {
	if f == WeightsF32 {
		return kernelName() + " " + f.String()
	}
	return lowpKernelName() + " " + f.String()
}

// WeightFormat is how this backend stores its weight matrices.
func (be *Backend) WeightFormat() WeightFormat { return be.w.format }

// WeightBytes is the memory the converted weights occupy.
func (be *Backend) WeightBytes() int64 { return be.w.bytes() }

// WeightBytesPerToken is the number of weight bytes one decode step reads.
func (be *Backend) WeightBytesPerToken() int64 { return be.w.bytesPerToken() }

// Forward implements backend.Backend.
func (be *Backend) Forward(ctx context.Context, b *backend.Batch) (*backend.Output, error) {
	if be.closed {
		return nil, ErrClosed
	}
	if err := b.Validate(be.geo); err != nil {
		return nil, fmt.Errorf("cpu backend: %w", err)
	}
	rows := make([]int, len(b.Samples))
	for i, s := range b.Samples {
		rows[i] = int(b.SeqStarts[s.Seq+1]) - 1
	}
	logits, err := be.run(ctx, b, rows)
	if err != nil {
		return nil, err
	}
	out := &backend.Output{Samples: make([]sample.Result, len(b.Samples))}
	vocab := be.cfg.VocabSize
	for i, s := range b.Samples {
		res, err := be.sampler.SampleMasked(logits[i*vocab:(i+1)*vocab], s.Params, s.PromptTokens, s.OutputTokens, s.Mask)
		if err != nil {
			return nil, fmt.Errorf("cpu backend: sample sequence %d: %w", s.Seq, err)
		}
		out.Samples[i] = res
	}
	return out, nil
}

// Logits runs the step like Forward (writing the cache) but returns the raw
// logits of every token of the batch, [len(b.Tokens), vocab], instead of
// sampling. It serves prompt log-probabilities and numerical tests.
func (be *Backend) Logits(ctx context.Context, b *backend.Batch) ([]float32, error) {
	if be.closed {
		return nil, ErrClosed
	}
	if err := b.Validate(be.geo); err != nil {
		return nil, fmt.Errorf("cpu backend: %w", err)
	}
	rows := make([]int, len(b.Tokens))
	for i := range rows {
		rows[i] = i
	}
	logits, err := be.run(ctx, b, rows)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), logits...), nil
}

// Close implements backend.Backend. It drops weights and cache.
func (be *Backend) Close() error {
	be.closed = true
	be.w, be.kv, be.scratch = nil, nil, scratch{}
	return nil
}
