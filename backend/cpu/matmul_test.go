package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// naiveMatmul is the float64 reference for y = x·Wᵀ.
func naiveMatmul(x []float32, rows, k int, w []float32, n int) []float64 {
	y := make([]float64, rows*n)
	for t := 0; t < rows; t++ {
		for o := 0; o < n; o++ {
			var s float64
			for j := 0; j < k; j++ {
				s += float64(x[t*k+j]) * float64(w[o*k+j])
			}
			y[t*n+o] = s
		}
	}
	return y
}

func TestMatmulMatchesReference(t *testing.T) {
	cases := []struct{ rows, n, k int }{
		{1, 16, 8}, {1, 17, 3}, {2, 5, 64}, {3, 48, 64}, {6, 64, 100},
		{7, 33, 17}, {13, 100, 64}, {16, 768, 96}, {1, 1, 1}, {40, 31, 5},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("rows%d_n%d_k%d_t%d", c.rows, c.n, c.k, threads), func(t *testing.T) {
				x := randSlice(rng, c.rows*c.k)
				w := randSlice(rng, c.n*c.k)
				pm := packMatrix(w, c.n, c.k)
				out := make([]float32, c.rows*c.n)
				pool := &workers{n: threads}
				pool.matmul(out, c.n, x, c.k, c.rows, pm)
				want := naiveMatmul(x, c.rows, c.k, w, c.n)
				tol := 1e-5 * math.Sqrt(float64(c.k)) * 4
				for i := range out {
					if d := math.Abs(float64(out[i]) - want[i]); d > tol {
						t.Fatalf("out[%d] = %v, want %v (diff %g > %g)", i, out[i], want[i], d, tol)
					}
				}
			})
		}
	}
}

// TestMatmulRowInvariance: a row's result is bit-identical whatever rows share
// its call, and whatever the worker count.
func TestMatmulRowInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, k, rows = 70, 130, 23
	x := randSlice(rng, rows*k)
	pm := packMatrix(randSlice(rng, n*k), n, k)
	all := make([]float32, rows*n)
	(&workers{n: 2}).matmul(all, n, x, k, rows, pm)
	for r := 0; r < rows; r++ {
		one := make([]float32, n)
		(&workers{n: 1}).matmul(one, n, x[r*k:], k, 1, pm)
		for o := 0; o < n; o++ {
			if one[o] != all[r*n+o] {
				t.Fatalf("row %d col %d: alone %v, batched %v", r, o, one[o], all[r*n+o])
			}
		}
	}
}

// TestKernelGoMatchesAsm checks the portable kernel against the one in use,
// for odd and even k (the assembly pairs k-steps).
func TestKernelGoMatchesAsm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for m := 1; m <= maxKernelRows; m++ {
		for _, k := range []int{77, 78, 1, 2} {
			x := randSlice(rng, m*k)
			panel := randSlice(rng, k*panelWidth)
			got := make([]float32, m*panelWidth)
			want := make([]float32, m*panelWidth)
			kernel(m, k, x, k, panel, got, panelWidth, 0)
			kernelGo(m, k, x, k, panel, want, panelWidth)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
					t.Fatalf("m=%d k=%d [%d]: %s kernel %v, go kernel %v", m, k, i, kernelName(), got[i], want[i])
				}
			}
		}
	}
}

func TestVectorKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{8, 16, 24, 64, 128, 5} {
		a, b := randSlice(rng, n), randSlice(rng, n)
		if d := math.Abs(float64(dot(a, b) - dotGo(a, b))); d > 1e-4 {
			t.Fatalf("n=%d: dot %v, portable %v", n, dot(a, b), dotGo(a, b))
		}
		y1, y2 := randSlice(rng, n), make([]float32, n)
		copy(y2, y1)
		axpy(y1, 0.37, a)
		axpyGo(y2, 0.37, a)
		for i := range y1 {
			if math.Abs(float64(y1[i]-y2[i])) > 1e-5 {
				t.Fatalf("n=%d: axpy[%d] %v, portable %v", n, i, y1[i], y2[i])
			}
		}
	}
}
