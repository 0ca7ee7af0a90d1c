package cuda

import (
	"fmt"

	"github.com/sotasystems/sota/model"
)

// fakeLib is a native without a GPU: it records calls and answers from a
// script, so the host side of the backend is tested everywhere.
type fakeLib struct {
	devices  int
	countErr error
	created  []*fakeModel
	cfg      *modelConfig
}

func (f *fakeLib) DeviceCount() (int, error) { return f.devices, f.countErr }
func (f *fakeLib) DeviceInfo(d int) (DeviceInfo, error) {
	return DeviceInfo{Name: fmt.Sprintf("Fake GPU %d", d), TotalMemory: 80 << 30, Major: 9}, nil
}
func (f *fakeLib) CreateModel(cfg *modelConfig, device int) (nativeModel, error) {
	f.cfg = cfg
	m := &fakeModel{uploaded: map[string]int64{}, random: map[string]uint64{}}
	f.created = append(f.created, m)
	return m, nil
}
func (f *fakeLib) CopyBandwidth(int, int64, int) (float64, error) { return 3000, nil }

type fakeModel struct {
	uploaded  map[string]int64 // elements received per tensor
	dtypes    map[string]model.DType
	random    map[string]uint64
	cache     cacheOptions
	lastBatch *packed
	forwardFn func(p *packed, r *results) error
	destroyed bool
}

func (m *fakeModel) Upload(name string, dtype model.DType, shape []int, offset, count int64, data []byte) error {
	if int64(len(data)) != count*int64(dtype.Size()) {
		return fmt.Errorf("fake: %s: %d bytes for %d elements", name, len(data), count)
	}
	if m.uploaded[name] != offset {
		return fmt.Errorf("fake: %s: piece at %d after %d elements", name, offset, m.uploaded[name])
	}
	m.uploaded[name] += count
	if m.dtypes == nil {
		m.dtypes = map[string]model.DType{}
	}
	m.dtypes[name] = dtype
	return nil
}
func (m *fakeModel) RandomWeight(name string, seed uint64) error { m.random[name] = seed; return nil }
func (m *fakeModel) InitCache(o cacheOptions) (geometry, error) {
	m.cache = o
	return geometry{BlockSize: 16, NumBlocks: 64, MaxBatchTokens: 2048, MaxSeqs: 8, MaxModelLen: 256, VocabSize: 512}, nil
}
func (m *fakeModel) Forward(p *packed, r *results) error {
	m.lastBatch = p
	if m.forwardFn != nil {
		return m.forwardFn(p, r)
	}
	for i := range r.Tokens {
		r.Tokens[i] = int32(100 + i)
	}
	return nil
}
func (m *fakeModel) ForwardLogits(p *packed, logits []float32) error {
	m.lastBatch = p
	return nil
}
func (m *fakeModel) SampleLogits(p *packed, logits []float32, r *results) error {
	m.lastBatch = p
	return nil
}
func (m *fakeModel) TimeForward(p *packed, iters int) (float64, error) { return 1.5, nil }
func (m *fakeModel) WeightBytes() int64                                { return 1 << 20 }
func (m *fakeModel) DecodeWeightBytes() int64                          { return 1 << 19 }
func (m *fakeModel) Destroy()                                          { m.destroyed = true }
