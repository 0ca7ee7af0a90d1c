package cuda

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/model"
)

// Backend is the forward pass on one GPU. It is driven by one goroutine.
type Backend struct {
	cfg    model.Config
	geo    backend.Geometry
	device DeviceInfo
	m      nativeModel
	pk     packer
	res    results
	closed bool
}

var _ backend.Backend = (*Backend)(nil)

// New loads the library, uploads m's weights to the device (or generates
// them there with Options.RandomWeights) and allocates the KV cache. m may
// be closed afterwards. It fails with ErrLibraryNotFound when the library
// cannot be loaded and ErrNoGPU when there is no CUDA device.
func New(ctx context.Context, m *model.Model, opts Options) (*Backend, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	lib, err := loadLibrary(opts.Library)
	if err != nil {
		return nil, err
	}
	return newBackend(ctx, lib, m, opts)
}

func newBackend(ctx context.Context, lib native, m *model.Model, opts Options) (*Backend, error) {
	cfg := m.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cuda backend: %w", err)
	}
	if opts.MaxModelLen > cfg.MaxPositionEmbeddings {
		return nil, fmt.Errorf("cuda backend: max model length %d exceeds the model's max_position_embeddings %d",
			opts.MaxModelLen, cfg.MaxPositionEmbeddings)
	}
	n, err := lib.DeviceCount()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("cuda backend: %w: the CUDA driver sees no device", ErrNoGPU)
	}
	if opts.Device >= n {
		return nil, fmt.Errorf("cuda backend: %w: device %d of %d", ErrNoGPU, opts.Device, n)
	}
	info, err := lib.DeviceInfo(opts.Device)
	if err != nil {
		return nil, err
	}
	nm, err := lib.CreateModel(newModelConfig(&cfg), opts.Device)
	if err != nil {
		return nil, err
	}
	be := &Backend{cfg: cfg, device: info, m: nm}
	if err := be.loadWeights(ctx, m, &opts); err != nil {
		nm.Destroy()
		return nil, err
	}
	g, err := nm.InitCache(opts.cache())
	if err != nil {
		nm.Destroy()
		return nil, err
	}
	be.geo = backend.Geometry{
		BlockSize: g.BlockSize, NumBlocks: g.NumBlocks, MaxBatchTokens: g.MaxBatchTokens,
		MaxSeqs: g.MaxSeqs, MaxModelLen: g.MaxModelLen, VocabSize: g.VocabSize, KVDType: backend.BF16,
	}
	return be, nil
}

// uploadChunk is the most bytes one Upload call carries (progress granularity).
const uploadChunk = 256 << 20

// loadWeights gives the library every tensor of the config, in Hugging Face order.
func (be *Backend) loadWeights(ctx context.Context, m *model.Model, opts *Options) error {
	specs := be.cfg.ExpectedTensors()
	if opts.RandomWeights {
		for i, s := range specs {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("cuda backend: load weights: %w", err)
			}
			if err := be.m.RandomWeight(s.Name, opts.RandomSeed); err != nil {
				return err
			}
			if opts.Progress != nil {
				opts.Progress(int64(i+1), int64(len(specs)))
			}
		}
		return nil
	}
	byName := tensorsByName(&m.Weights)
	var total, done int64
	for _, s := range specs {
		t := byName[s.Name]
		if t == nil {
			return fmt.Errorf("cuda backend: load weights: %w: tensor %s missing from the model", ErrInvalid, s.Name)
		}
		total += t.NumBytes()
	}
	for _, s := range specs {
		t := byName[s.Name]
		if err := be.uploadTensor(ctx, t, func(n int64) {
			done += n
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}); err != nil {
			return err
		}
	}
	return nil
}

// tensorsByName indexes the non-nil tensors of w by name.
func tensorsByName(w *model.Weights) map[string]*model.Tensor {
	out := map[string]*model.Tensor{}
	add := func(ts ...*model.Tensor) {
		for _, t := range ts {
			if t != nil {
				out[t.Name] = t
			}
		}
	}
	add(w.Embed, w.Norm, w.LMHead)
	for _, l := range w.Layers {
		add(l.AttnNorm, l.Q, l.K, l.V, l.O, l.QBias, l.KBias, l.VBias, l.OBias,
			l.MLPNorm, l.Gate, l.Up, l.Down, l.GateBias, l.UpBias, l.DownBias)
	}
	return out
}

// uploadTensor sends t in chunks: stored bytes as they are (the library
// converts), generated tensors as float32 produced chunk by chunk.
func (be *Backend) uploadTensor(ctx context.Context, t *model.Tensor, advance func(int64)) error {
	n := int64(t.NumElements())
	if raw := t.Raw(); raw != nil {
		size := int64(t.DType.Size())
		step := max(uploadChunk/size, 1)
		for off := int64(0); off < n; off += step {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("cuda backend: load weights: %w", err)
			}
			cnt := min(step, n-off)
			if err := be.m.Upload(t.Name, t.DType, t.Shape, off, cnt, raw[off*size:(off+cnt)*size]); err != nil {
				return err
			}
			advance(cnt * size)
		}
		return nil
	}
	step := int64(uploadChunk / 4)
	buf := make([]float32, min(step, n))
	for off := int64(0); off < n; off += step {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cuda backend: load weights: %w", err)
		}
		cnt := min(step, n-off)
		chunk := buf[:cnt]
		if err := t.Float32At(chunk, int(off)); err != nil {
			return fmt.Errorf("cuda backend: load weights: %w", err)
		}
		bytes := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(chunk))), cnt*4)
		if err := be.m.Upload(t.Name, model.F32, t.Shape, off, cnt, bytes); err != nil {
			return err
		}
		advance(cnt * 4)
	}
	return nil
}

// Geometry implements backend.Backend.
func (be *Backend) Geometry() backend.Geometry { return be.geo }

// AppliesMasks implements backend.Masker: not yet (the native sampler takes no
// mask), so the engine refuses structured-output requests on this backend.
func (be *Backend) AppliesMasks() bool { return false }

// Device describes the GPU the backend runs on.
func (be *Backend) Device() DeviceInfo { return be.device }

// WeightBytesPerToken is the number of weight bytes one batch-1 decode step reads.
func (be *Backend) WeightBytesPerToken() int64 {
	if be.closed {
		return 0
	}
	return be.m.DecodeWeightBytes()
}

func (be *Backend) check(b *backend.Batch) error {
	if be.closed {
		return ErrClosed
	}
	if err := b.Validate(be.geo); err != nil {
		return fmt.Errorf("cuda backend: %w", err)
	}
	for k, s := range b.Samples {
		if s.Mask != nil { // the native sampler has no mask input yet; never sample unconstrained silently
			return fmt.Errorf("cuda backend: sample %d: %w: structured outputs (sampling masks) not supported on cuda yet", k, ErrUnsupported)
		}
	}
	return checkHistory(b.Samples, be.cfg.VocabSize)
}

// Forward implements backend.Backend: one native call runs the step and samples.
func (be *Backend) Forward(ctx context.Context, b *backend.Batch) (*backend.Output, error) {
	if err := be.check(b); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cuda backend: forward: %w", err)
	}
	p := be.pk.pack(b, be.cfg.VocabSize)
	be.res.resize(len(b.Samples))
	if err := be.m.Forward(p, &be.res); err != nil {
		return nil, err
	}
	return be.res.output(b.Samples), nil
}

// Logits runs the step like Forward (writing the cache) but returns the raw
// logits of every token, [len(b.Tokens), vocab], instead of sampling.
func (be *Backend) Logits(ctx context.Context, b *backend.Batch) ([]float32, error) {
	if err := be.check(b); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cuda backend: logits: %w", err)
	}
	logits := make([]float32, len(b.Tokens)*be.cfg.VocabSize)
	if err := be.m.ForwardLogits(be.pk.pack(b, be.cfg.VocabSize), logits); err != nil {
		return nil, err
	}
	return logits, nil
}

// SampleLogits samples rows of given logits ([len(rows), vocab]) with the GPU
// sampler: the check of the GPU sampler against sample.Sampler. Seq of each
// row is ignored.
func (be *Backend) SampleLogits(logits []float32, rows []backend.SampleRow) (*backend.Output, error) {
	if be.closed {
		return nil, ErrClosed
	}
	vocab := be.cfg.VocabSize
	if len(logits) != len(rows)*vocab || len(rows) > be.geo.MaxSeqs {
		return nil, fmt.Errorf("cuda backend: %w: %d logits for %d rows of %d (at most %d rows)",
			ErrInvalid, len(logits), len(rows), vocab, be.geo.MaxSeqs)
	}
	for i, r := range rows {
		if err := r.Params.Validate(vocab); err != nil {
			return nil, fmt.Errorf("cuda backend: sample row %d: %w", i, err)
		}
	}
	if err := checkHistory(rows, vocab); err != nil {
		return nil, err
	}
	be.pk.packSamples(rows, vocab)
	p := &be.pk.p
	p.Tokens, p.Positions, p.SeqStarts, p.BlockTables, p.BlockTableStarts = nil, nil, nil, nil, nil
	be.res.resize(len(rows))
	if err := be.m.SampleLogits(p, logits, &be.res); err != nil {
		return nil, err
	}
	return be.res.output(rows), nil
}

// TimeForward is the median GPU time of one step over b in milliseconds
// (iters timed runs after two warm-ups, CUDA events; writes the cache).
func (be *Backend) TimeForward(b *backend.Batch, iters int) (float64, error) {
	if err := be.check(b); err != nil {
		return 0, err
	}
	if iters < 1 {
		return 0, errors.New("cuda backend: iters must be positive")
	}
	return be.m.TimeForward(be.pk.pack(b, be.cfg.VocabSize), iters)
}

// Close implements backend.Backend: frees the device memory.
func (be *Backend) Close() error {
	if be.closed {
		return nil
	}
	be.closed = true
	be.m.Destroy()
	be.m = nil
	return nil
}

// Devices lists the CUDA devices the library sees (ErrLibraryNotFound, ErrNoGPU).
func Devices(library string) ([]DeviceInfo, error) {
	lib, err := loadLibrary(library)
	if err != nil {
		return nil, err
	}
	n, err := lib.DeviceCount()
	if err != nil {
		return nil, err
	}
	out := make([]DeviceInfo, 0, n)
	for i := range n {
		d, err := lib.DeviceInfo(i)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// CopyBandwidth measures device memory bandwidth in GB/s (bytes read plus
// written) with the library's copy kernel over buffers of bytes.
func CopyBandwidth(library string, device int, bytes int64, iters int) (float64, error) {
	lib, err := loadLibrary(library)
	if err != nil {
		return 0, err
	}
	return lib.CopyBandwidth(device, bytes, iters)
}
