//go:build amd64 && !purego

package cpu

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels of matmul_amd64.s. Each computes m rows × 16 columns.
//
//go:noescape
func panel1x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int, pf int)

//go:noescape
func panel2x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int, pf int)

//go:noescape
func panel3x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int, pf int)

//go:noescape
func panel4x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int, pf int)

//go:noescape
func panel5x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int, pf int)

//go:noescape
func panel6x16(k int, x *float32, ldx int, w *float32, out *float32, ldo int, pf int)

var asmKernels = [maxKernelRows + 1]func(k int, x *float32, ldx int, w *float32, out *float32, ldo int, pf int){
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
// (m-1)*ldx+k activations, k*16 panel values and (m-1)*ldo+16 outputs. pf is
// the byte offset from the panel at which to prefetch (see kernelgen).
func kernel(m, k int, x []float32, ldx int, panel []float32, out []float32, ldo int, pf int) {
	if !useAsm {
		kernelGo(m, k, x, ldx, panel, out, ldo)
		return
	}
	_ = x[(m-1)*ldx+k-1]
	_ = panel[k*panelWidth-1]
	_ = out[(m-1)*ldo+panelWidth-1]
	asmKernels[m](k, unsafe.SliceData(x), ldx, unsafe.SliceData(panel), unsafe.SliceData(out), ldo, pf)
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

//go:noescape
func panel1x32(k int, x *float32, w *float32, out *float32)

// kernelWide computes one row × two adjacent full panels (32 columns) with
// the same per-output arithmetic as kernel; it reports false when it does
// not apply (no assembly), and the caller falls back to kernel per panel.
func kernelWide(k int, x []float32, panels []float32, out []float32) bool {
	if !useAsm {
		return false
	}
	_ = x[k-1]
	_ = panels[2*k*panelWidth-1]
	_ = out[2*panelWidth-1]
	panel1x32(k, unsafe.SliceData(x), unsafe.SliceData(panels), unsafe.SliceData(out))
	return true
}

//go:noescape
func dotAVX(a, b *float32, n int) float32

//go:noescape
func axpyAVX(y *float32, a float32, x *float32, n int)

// dot is a·b over len(a) elements.
func dot(a, b []float32) float32 {
	n := len(a)
	if useAsm && n > 0 && n%8 == 0 {
		_ = b[n-1]
		return dotAVX(unsafe.SliceData(a), unsafe.SliceData(b), n)
	}
	return dotGo(a, b)
}

// axpy adds a*x to y.
func axpy(y []float32, a float32, x []float32) {
	n := len(y)
	if useAsm && n > 0 && n%8 == 0 {
		_ = x[n-1]
		axpyAVX(unsafe.SliceData(y), a, unsafe.SliceData(x), n)
		return
	}
	axpyGo(y, a, x)
}
