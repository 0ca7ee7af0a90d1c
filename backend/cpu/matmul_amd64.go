//go:build amd64 && !purego

package cpu

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels of matmul_amd64.s. Each computes m rows × 16 columns.
//
//go:noescape
func panel1x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int)

//go:noescape
func panel2x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int)

//go:noescape
func panel3x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int)

//go:noescape
func panel4x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int)

//go:noescape
func panel5x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int)

//go:noescape
func panel6x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int)

var asmKernels = [maxKernelRows + 1]func(k int, x *float32, ldx int, w *float32, out *float32, ldo int){
	nil, panel1x16, panel2x16, panel3x16, panel4x16, panel5x16, panel6x16,
}

// useAsm is fixed at start-up: every row of every step goes through the same
// kernel family, which keeps results batch-invariant.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernelName says which micro-kernels this process uses.
func kernelName() string {
	if useAsm {
		return "avx2-fma"
	}
	return "go"
}

// kernel computes m (1..6) rows × one 16-column panel. Slices must cover
// (m-1)*ldx+k activations, k*16 panel values and (m-1)*ldo+16 outputs.
func kernel(m, k int, x []float32, ldx int, panel []float32, out []float32, ldo int) {
	if !useAsm {
		kernelGo(m, k, x, ldx, panel, out, ldo)
		return
	}
	_ = x[(m-1)*ldx+k-1]
	_ = panel[k*panelWidth-1]
	_ = out[(m-1)*ldo+panelWidth-1]
	asmKernels[m](k, unsafe.SliceData(x), ldx, unsafe.SliceData(panel), unsafe.SliceData(out), ldo)
}

//go:noescape
func streamSum(x *float32, n int) float32

// sumStream adds up x as fast as memory allows (used to measure bandwidth).
func sumStream(x []float32) float32 {
	n := len(x) &^ 31
	var s float32
	if useAsm && n > 0 {
		s = streamSum(unsafe.SliceData(x), n)
	} else {
		n = 0
	}
	for _, v := range x[n:] {
		s += v
	}
	return s
}
