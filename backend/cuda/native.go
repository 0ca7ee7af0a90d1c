package cuda

import (
	"github.com/sotasystems/sota/model"
)

// native is what libsota_cuda offers, in Go types. lib_cgo.go implements it
// over the dlopened library; tests use a fake, so everything above the C
// ABI is tested without a GPU.
type native interface {
	DeviceCount() (int, error)
	DeviceInfo(device int) (DeviceInfo, error)
	CreateModel(cfg *modelConfig, device int) (nativeModel, error)
	CopyBandwidth(device int, bytes int64, iters int) (float64, error)
}

// nativeModel is one sota_model.
type nativeModel interface {
	// Upload gives elements [offset, offset+count) of tensor name. data is
	// the little-endian bytes of those elements (len = count × dtype size).
	Upload(name string, dtype model.DType, shape []int, offset, count int64, data []byte) error
	RandomWeight(name string, seed uint64) error
	InitCache(o cacheOptions) (geometry, error)
	Forward(b *packed, out *results) error
	ForwardLogits(b *packed, logits []float32) error
	SampleLogits(b *packed, logits []float32, out *results) error
	TimeForward(b *packed, iters int) (float64, error)
	WeightBytes() int64
	DecodeWeightBytes() int64
	Destroy()
}

// DeviceInfo describes one CUDA device (sota_device_info).
type DeviceInfo struct {
	Name            string
	TotalMemory     int64 // bytes
	FreeMemory      int64 // bytes, when asked
	Major, Minor    int   // compute capability
	Multiprocessors int
	L2Bytes         int
	DriverVersion   int // e.g. 13000
	RuntimeVersion  int
}

// modelConfig mirrors sota_model_config.
type modelConfig struct {
	VocabSize, HiddenSize, IntermediateSize, NumLayers int
	NumHeads, NumKVHeads, HeadDim, MaxPositions        int
	RMSNormEps                                         float64
	TieWordEmbeddings, AttentionBias                   bool
	AttentionOutBias, MLPBias                          bool
	LayerWindows                                       []int32   // [layers]
	RopeInvFreq                                        []float32 // [head_dim/2]
}

// cacheOptions mirrors sota_cache_options.
type cacheOptions struct {
	BlockSize, NumBlocks    int
	GPUMemoryUtilization    float64
	MaxBatchTokens, MaxSeqs int
	MaxModelLen             int
}

// geometry mirrors sota_geometry.
type geometry struct {
	BlockSize, NumBlocks, MaxBatchTokens, MaxSeqs, MaxModelLen, VocabSize int
	KVCacheBytes, WorkspaceBytes                                          int64
}

// newModelConfig converts a model config into the library's.
func newModelConfig(c *model.Config) *modelConfig {
	mc := &modelConfig{
		VocabSize: c.VocabSize, HiddenSize: c.HiddenSize, IntermediateSize: c.IntermediateSize,
		NumLayers: c.NumLayers, NumHeads: c.NumHeads, NumKVHeads: c.NumKVHeads, HeadDim: c.HeadDim,
		MaxPositions: c.MaxPositionEmbeddings, RMSNormEps: c.RMSNormEps,
		TieWordEmbeddings: c.TieWordEmbeddings, AttentionBias: c.AttentionBias,
		AttentionOutBias: c.AttentionOutBias, MLPBias: c.MLPBias,
		LayerWindows: make([]int32, c.NumLayers),
	}
	for i := range mc.LayerWindows {
		mc.LayerWindows[i] = int32(c.Window(i))
	}
	inv := c.RopeInvFreq()
	mc.RopeInvFreq = make([]float32, len(inv))
	for i, f := range inv {
		mc.RopeInvFreq[i] = float32(f) // the CPU backend rounds the same way
	}
	return mc
}
