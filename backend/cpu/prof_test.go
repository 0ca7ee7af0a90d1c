package cpu

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkKernel6x16InCache(b *testing.B) {
	const k = 768
	rng := rand.New(rand.NewPCG(1, 1))
	x := randSlice(rng, 6*k)
	panel := randSlice(rng, 16*k)
	out := make([]float32, 6*16)
	for i := 0; i < b.N; i++ {
		kernel(6, k, x, k, panel, out, 16)
	}
	b.ReportMetric(float64(6*16*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

func BenchmarkMatmul16Rows(b *testing.B) {
	const n, k = 4096, 768
	rng := rand.New(rand.NewPCG(1, 1))
	x := randSlice(rng, 16*k)
	pm := packMatrix(randSlice(rng, n*k), n, k)
	out := make([]float32, 16*n)
	pool := &workers{n: 2}
	for i := 0; i < b.N; i++ {
		pool.matmul(out, n, x, k, 16, pm)
	}
	b.ReportMetric(float64(16*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

func BenchmarkKernelTwoThreads(b *testing.B) {
	const k = 768
	rng := rand.New(rand.NewPCG(1, 1))
	pool := &workers{n: 2}
	xs := [2][]float32{randSlice(rng, 6*k), randSlice(rng, 6*k)}
	ps := [2][]float32{randSlice(rng, 16*k), randSlice(rng, 16*k)}
	pool.run(2, func(lo, hi int) {
		out := make([]float32, 96)
		for i := 0; i < b.N; i++ {
			kernel(6, k, xs[lo], k, ps[lo], out, 16)
		}
	})
	b.ReportMetric(2*float64(6*16*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}
