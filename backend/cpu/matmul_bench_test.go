// Micro-benchmarks of the matmul kernels: in-cache throughput per thread and
// across threads, single-row streaming against the stream-read baseline, and
// 16-row throughput with weights in L3 and in DRAM. `make bench` runs only
// the end-to-end roofline benchmark; run these with -bench Matmul|Kernel|Matvec.
package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func BenchmarkMatvecVsStream(b *testing.B) {
	const n, k = 32000, 768 // 98 MB
	rng := rand.New(rand.NewPCG(1, 1))
	x := randSlice(rng, k)
	pms := make([]*packedMatrix, 4) // 393 MB, past the caches
	for i := range pms {
		pms[i] = packMatrix(randSlice(rng, n*k), n, k)
	}
	out := make([]float32, n)
	pool := &workers{n: 2}
	buf := make([]float32, 256<<20)
	var mv, st float64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for _, pm := range pms {
			pool.matmul(out, n, x, k, 1, pm)
		}
		mv += float64(4*n*k*4) / time.Since(start).Seconds()
		st += streamBandwidth(pool, buf)
	}
	b.ReportMetric(mv/float64(b.N)/1e9, "matvec-GB/s")
	b.ReportMetric(st/float64(b.N)/1e9, "stream-GB/s")
}

func BenchmarkKernelScaling(b *testing.B) {
	const k = 768
	rng := rand.New(rand.NewPCG(1, 1))
	for _, threads := range []int{1, 2} {
		b.Run(map[int]string{1: "one", 2: "two"}[threads], func(b *testing.B) {
			pool := &workers{n: threads}
			xs := [2][]float32{randSlice(rng, 6*k), randSlice(rng, 6*k)}
			ps := [2][]float32{randSlice(rng, 16*k), randSlice(rng, 16*k)}
			pool.run(threads, func(lo, hi int) {
				out := make([]float32, 96)
				for i := 0; i < b.N; i++ {
					kernel(6, k, xs[lo], k, ps[lo], out, 16, 0)
				}
			})
			b.ReportMetric(float64(threads)*float64(6*16*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

func BenchmarkMatmul16FromDRAM(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, shape := range [][2]int{{32000, 768}, {4096, 768}, {768, 2048}} {
		n, k := shape[0], shape[1]
		b.Run(fmt.Sprintf("%dx%d", n, k), func(b *testing.B) {
			copies := max(1, 400_000_000/(n*k*4))
			x := randSlice(rng, 16*k)
			pms := make([]*packedMatrix, copies)
			for i := range pms {
				pms[i] = packMatrix(randSlice(rng, n*k), n, k)
			}
			out := make([]float32, 16*n)
			pool := &workers{n: 2}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, pm := range pms {
					pool.matmul(out, n, x, k, 16, pm)
				}
			}
			b.ReportMetric(float64(copies*16*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

func BenchmarkMatmul16InL3(b *testing.B) {
	const n, k = 2048, 768 // 6 MB
	rng := rand.New(rand.NewPCG(1, 1))
	x := randSlice(rng, 16*k)
	pm := packMatrix(randSlice(rng, n*k), n, k)
	out := make([]float32, 16*n)
	pool := &workers{n: 2}
	for _, rows := range []int{6, 12, 16, 18} {
		b.Run(fmt.Sprint(rows), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				pool.matmul(out, n, x, k, min(rows, 16), pm)
			}
			b.ReportMetric(float64(min(rows, 16)*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}
