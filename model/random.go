package model

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
)

// RandomStd is the standard deviation of random matrices, embeddings and
// biases (transformers' initializer_range).
const RandomStd = 0.02

// Random makes a model of the given architecture whose tensors are generated
// on demand (--random-weights): matrices, embeddings and biases uniform with
// standard deviation RandomStd, norm weights 1. Element i of tensor name is
// a pure function of (seed, name, i), so the weights do not depend on the
// order or the chunking in which they are produced. The generation config
// carries the config's BOS and EOS ids.
func Random(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("random weights: %w", err)
	}
	cfg.EOSTokenIDs = slices.Clone(cfg.EOSTokenIDs)
	cfg.WindowLayers = slices.Clone(cfg.WindowLayers)
	if cfg.RopeScaling != nil {
		s := *cfg.RopeScaling
		cfg.RopeScaling = &s
	}
	specs := cfg.ExpectedTensors()
	byName := make(map[string]*Tensor, len(specs))
	for _, s := range specs {
		byName[s.Name] = randomTensor(s, seed)
	}
	return &Model{Config: cfg, Generation: generationFromConfig(&cfg), Weights: bind(&cfg, specs, byName)}, nil
}

// randomTensor is the generated tensor of one spec.
func randomTensor(s TensorSpec, seed uint64) *Tensor {
	shape := slices.Clone(s.Shape)
	if s.Kind == KindNorm {
		return NewGeneratedAt(s.Name, shape, func(dst []float32, _ int) {
			for i := range dst {
				dst[i] = 1
			}
		})
	}
	key := tensorKey(seed, s.Name)
	// uniform on [-a, a] has standard deviation a/sqrt(3)
	a := float32(RandomStd * math.Sqrt(3))
	return NewGeneratedAt(s.Name, shape, func(dst []float32, start int) {
		for i := range dst {
			u := uniform(key, uint64(start+i))
			dst[i] = (2*u - 1) * a
		}
	})
}

// tensorKey mixes the seed with a hash of the tensor's name.
func tensorKey(seed uint64, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return mix64(seed ^ mix64(h.Sum64()))
}

// golden is splitmix64's increment, 2^64/phi.
const golden = 0x9e3779b97f4a7c15

// mix64 is splitmix64's finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniform is element i of the splitmix64 stream keyed by key, as a float32
// in [0, 1): the stream's i-th output is a function of i alone, so any
// element can be computed without the ones before it.
func uniform(key, i uint64) float32 {
	return float32(mix64(key+(i+1)*golden)>>40) * (1.0 / (1 << 24))
}
