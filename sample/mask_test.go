package sample

import (
	"math"
	"testing"
)

func maskOf(vocab int, ids ...int32) []uint64 {
	m := make([]uint64, MaskWords(vocab))
	for _, id := range ids {
		m[id>>6] |= 1 << (id & 63)
	}
	return m
}

func TestSampleMasked(t *testing.T) {
	const vocab = 200
	row := func() []float32 {
		l := make([]float32, vocab)
		for i := range l {
			l[i] = float32(i%17) * 0.3
		}
		l[150] = 9 // the unconstrained argmax
		return l
	}
	cases := []struct {
		name    string
		p       Params
		mask    []uint64
		allowed []int32
	}{
		{"greedy picks the best allowed", Params{}, maskOf(vocab, 3, 70, 199), []int32{199}},
		{"greedy unconstrained", Params{}, nil, []int32{150}},
		{"draw stays inside", Params{Temperature: 1.5}, maskOf(vocab, 5, 64, 65, 128), []int32{5, 64, 65, 128}},
		{"top-k inside the mask", Params{Temperature: 1, TopK: 2}, maskOf(vocab, 1, 2, 3, 150), []int32{150, 3}},
		{"short mask disallows the rest", Params{}, []uint64{1 << 9}, []int32{9}},
	}
	var s Sampler
	for _, tc := range cases {
		for seed := range uint64(50) {
			tc.p.Seed = seed
			res, err := s.SampleMasked(row(), tc.p, nil, nil, tc.mask)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			ok := false
			for _, id := range tc.allowed {
				ok = ok || res.Token == id
			}
			if !ok {
				t.Fatalf("%s seed %d: token %d not in %v", tc.name, seed, res.Token, tc.allowed)
			}
		}
	}
}

func TestSampleMaskedLogprobsRaw(t *testing.T) {
	l := []float32{0, 1, 2, 3}
	var s Sampler
	res, err := s.SampleMasked(append([]float32(nil), l...), Params{Logprobs: true}, nil, nil, maskOf(4, 1))
	if err != nil {
		t.Fatal(err)
	}
	m, logZ, _ := logNormalizer(l)
	if want := float32(1 - m - logZ); res.Token != 1 || math.Abs(float64(res.Logprob-want)) > 1e-6 {
		t.Fatalf("got %d %v, want 1 %v (raw-row logprob)", res.Token, res.Logprob, want)
	}
}

func TestSampleMaskedEmpty(t *testing.T) {
	var s Sampler
	if _, err := s.SampleMasked([]float32{1, 2}, Params{}, nil, nil, []uint64{0}); err == nil {
		t.Fatal("empty mask sampled a token")
	}
}

func BenchmarkApplyMask(b *testing.B) {
	const vocab = 128256
	logits := make([]float32, vocab)
	mask := maskOf(vocab)
	for i := 0; i < vocab; i += 3 {
		mask[i>>6] |= 1 << (i & 63)
	}
	b.SetBytes(vocab * 4)
	for b.Loop() {
		ApplyMask(logits, mask)
	}
}
