package sample

import (
	"math"
	"testing"
)

// The golden values come from an independent Python implementation of the
// formula in Uniform's comment; the CUDA sampler is checked against them too.
func TestUniformGolden(t *testing.T) {
	tests := []struct {
		seed uint64
		n    int
		want float64
	}{
		{0, 0, 0.8833108082136426},
		{0, 1, 0.43152799704850997},
		{1, 0, 0.7497482413580301},
		{42, 7, 0.15289334222649975},
		{math.MaxUint64, 1000000, 0.21614837616462668},
	}
	for _, tc := range tests {
		if got := Uniform(tc.seed, tc.n); got != tc.want {
			t.Errorf("Uniform(%d, %d) = %v, want %v", tc.seed, tc.n, got, tc.want)
		}
	}
}

func TestUniformStreams(t *testing.T) {
	const n = 100000
	tests := []struct {
		name string
		at   func(i int) float64
	}{
		{"over n, seed 7", func(i int) float64 { return Uniform(7, i) }},
		{"over seeds, n 0", func(i int) float64 { return Uniform(uint64(i), 0) }},
		{"over seeds, n 5", func(i int) float64 { return Uniform(uint64(i), 5) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sum, sumSq float64
			var bins [10]int
			for i := range n {
				u := tc.at(i)
				if !(u >= 0 && u < 1) {
					t.Fatalf("draw %d = %v, outside [0, 1)", i, u)
				}
				sum += u
				sumSq += u * u
				bins[int(u*10)]++
			}
			// Mean of n uniforms has sd sqrt(1/12/n) ≈ 9.1e-4; 5 sd is 4.6e-3.
			if mean := sum / n; math.Abs(mean-0.5) > 4.6e-3 {
				t.Errorf("mean %v, want 0.5 ± 4.6e-3", mean)
			}
			if v := sumSq/n - (sum/n)*(sum/n); math.Abs(v-1.0/12) > 2e-3 {
				t.Errorf("variance %v, want 1/12", v)
			}
			// Each decile count has sd sqrt(n·0.1·0.9) ≈ 95; allow 5 sd.
			for b, c := range bins {
				if math.Abs(float64(c)-n/10) > 475 {
					t.Errorf("decile %d holds %d draws, want %d ± 475", b, c, n/10)
				}
			}
		})
	}
}

func TestUniformDistinct(t *testing.T) {
	// Streams of different seeds do not share draws (index by index), and a
	// stream does not repeat over n: 53-bit values collide with probability
	// ~1e-11 here, so any equality means a broken mix.
	seen := make(map[float64]bool)
	for seed := range uint64(64) {
		for n := range 256 {
			u := Uniform(seed, n)
			if seen[u] {
				t.Fatalf("Uniform(%d, %d) = %v repeats an earlier draw", seed, n, u)
			}
			seen[u] = true
			if u != Uniform(seed, n) {
				t.Fatal("Uniform is not a pure function")
			}
		}
	}
}
