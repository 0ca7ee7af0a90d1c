//go:build !amd64 || purego

package cpu

// hasAVX512 and useAVX512: the portable build has no AVX-512 kernels.
const hasAVX512 = false

var useAVX512 = false

func lowpKernelName() string { return kernelName() }

func kernelBF16(m, k int, x []float32, ldx int, panel []uint16, out []float32, ldo int) {
	kernelBF16Go(m, k, x, ldx, panel, out, ldo)
}

func kernelQ8(m, k int, x []float32, ldx int, panel []int8, scales []float32, out []float32, ldo int) {
	kernelQ8Go(m, k, x, ldx, panel, scales, out, ldo)
}

func kernelWideBF16(k int, x []float32, panels []uint16, out []float32) bool { return false }

func kernelWideQ8(k int, x []float32, panels []int8, scales []float32, out []float32) bool {
	return false
}
