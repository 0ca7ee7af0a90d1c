package model

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

func TestRandomDeterministic(t *testing.T) {
	cfgJSON := tinyConfigJSON("Qwen2ForCausalLM")
	cfg := mustParseConfig(t, cfgJSON)
	a, err := Random(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Random(cfg, 1)
	c, _ := Random(cfg, 2)
	for _, pick := range []func(m *Model) *Tensor{
		func(m *Model) *Tensor { return m.Weights.Embed },
		func(m *Model) *Tensor { return m.Weights.Layers[1].Q },
		func(m *Model) *Tensor { return m.Weights.Layers[0].KBias },
		func(m *Model) *Tensor { return m.Weights.LMHead },
	} {
		ta, tb, tc := pick(a), pick(b), pick(c)
		va, _ := ta.ToFloat32()
		vb, _ := tb.ToFloat32()
		vc, _ := tc.ToFloat32()
		if !slices.Equal(va, vb) {
			t.Errorf("%s: same seed, different values", ta.Name)
		}
		if slices.Equal(va, vc) {
			t.Errorf("%s: seeds 1 and 2 give the same values", ta.Name)
		}
		if !ta.Generated() || ta.Raw() != nil {
			t.Errorf("%s is not generated", ta.Name)
		}
	}
	// different tensors of the same shape differ
	k0, _ := a.Weights.Layers[0].K.ToFloat32()
	k1, _ := a.Weights.Layers[1].K.ToFloat32()
	if slices.Equal(k0, k1) {
		t.Error("layers 0 and 1 have the same k_proj")
	}
	norm, _ := a.Weights.Layers[0].AttnNorm.ToFloat32()
	if slices.ContainsFunc(norm, func(f float32) bool { return f != 1 }) {
		t.Error("norm weights are not 1")
	}
	if a.Weights.Layers[0].OBias != nil || !slices.Equal(a.Generation.EOSTokenIDs, []int32{2}) || a.Generation.BOSTokenID != 1 {
		t.Errorf("o bias %v generation %+v", a.Weights.Layers[0].OBias, a.Generation)
	}
}

func TestRandomIndependentOfOrderAndChunking(t *testing.T) {
	cfg := mustParseConfig(t, tinyConfigJSON("LlamaForCausalLM"))
	specs := cfg.ExpectedTensors()
	// a tensor made on its own equals the same tensor in a full model
	m, _ := Random(cfg, 42)
	alone := randomTensor(specs[len(specs)-2], 42) // model.norm.weight
	last := randomTensor(specs[3], 42)             // layer 0 k_proj
	full, _ := m.Weights.Layers[0].K.ToFloat32()
	solo, _ := last.ToFloat32()
	if !slices.Equal(full, solo) || alone.Name != "model.norm.weight" {
		t.Error("a tensor generated alone differs from the one in the model")
	}
	// chunks equal the whole
	for _, start := range []int{0, 1, 7, 100, len(full) - 3} {
		chunk := make([]float32, min(29, len(full)-start))
		if err := m.Weights.Layers[0].K.Float32At(chunk, start); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(chunk, full[start:start+len(chunk)]) {
			t.Errorf("chunk at %d differs", start)
		}
	}
	if err := m.Weights.Layers[0].K.Float32At(make([]float32, 2), len(full)-1); err == nil {
		t.Error("chunk past the end accepted")
	}
}

func TestRandomStatistics(t *testing.T) {
	cfg := mustParseConfig(t, tinyConfigJSON("LlamaForCausalLM"))
	m, _ := Random(cfg, 3)
	v := make([]float32, 1<<16)
	big := NewGeneratedAt("x", []int{len(v)}, randomTensor(TensorSpec{Name: "x", Shape: []int{len(v)}}, 3).genAt)
	if err := big.Float32(v); err != nil {
		t.Fatal(err)
	}
	var sum, sq float64
	for _, f := range v {
		sum += float64(f)
		sq += float64(f) * float64(f)
	}
	mean := sum / float64(len(v))
	std := math.Sqrt(sq/float64(len(v)) - mean*mean)
	if math.Abs(mean) > 0.001 || math.Abs(std-RandomStd) > 0.001 {
		t.Errorf("mean %v std %v, want 0 and %v", mean, std, RandomStd)
	}
	if m.Config.NumParams() != cfg.NumParams() {
		t.Error("Random changed the config")
	}
}

func TestRandomRealConfig(t *testing.T) {
	cfg, err := LoadConfigFile(filepath.Join(testmodels.Shared(t, "configs"), "llama-3.1-8b-instruct.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Random(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	count := func(x *Tensor) {
		if x != nil {
			n += int64(x.NumElements())
		}
	}
	count(m.Weights.Embed)
	count(m.Weights.Norm)
	count(m.Weights.LMHead)
	for _, l := range m.Weights.Layers {
		for _, x := range []*Tensor{l.AttnNorm, l.Q, l.K, l.V, l.O, l.MLPNorm, l.Gate, l.Up, l.Down} {
			count(x)
		}
	}
	if n != cfg.NumParams() {
		t.Errorf("tensors hold %d elements, NumParams %d", n, cfg.NumParams())
	}
	chunk := make([]float32, 8)
	if err := m.Weights.LMHead.Float32At(chunk, 128256*4096-8); err != nil || chunk[0] == 0 {
		t.Errorf("last chunk of lm_head: %v %v", chunk, err)
	}
	if _, err := Random(Config{}, 0); err == nil {
		t.Error("Random accepted an empty config")
	}
}

func BenchmarkRandomFloat32(b *testing.B) {
	x := randomTensor(TensorSpec{Name: "m", Shape: []int{1024, 1024}, Kind: KindMatrix}, 1)
	dst := make([]float32, x.NumElements())
	b.SetBytes(int64(4 * len(dst)))
	for b.Loop() {
		if err := x.Float32(dst); err != nil {
			b.Fatal(err)
		}
	}
}
