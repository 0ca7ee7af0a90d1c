package cpu

//go:generate go run ./internal/kernelgen

// panelWidth is the number of output columns one micro-kernel call computes.
const panelWidth = 16

// maxKernelRows is the most activation rows one micro-kernel call takes.
const maxKernelRows = 6

// packedMatrix is a weight matrix W [n, k] (Hugging Face [out, in] layout)
// stored as ceil(n/16) panels of [k][16]: panel p holds rows 16p..16p+15 of W
// interleaved by k, zero-padded past n. A kernel then streams one panel
// linearly while broadcasting activations, and y = x·Wᵀ needs no transpose.
// Exactly one of data, bf16 and q8 (with scales) is set, by format.
type packedMatrix struct {
	n, k   int
	panels int
	format WeightFormat
	data   []float32 // WeightsF32: [panels][k][16]
	bf16   []uint16  // WeightsBF16: [panels][k][16]
	q8     []int8    // WeightsInt8: [panels][k][16]
	scales []float32 // WeightsInt8: [panels][ceil(k/q8Block)][16]
}

// packMatrix packs w ([n, k] row-major).
func packMatrix(w []float32, n, k int) *packedMatrix {
	pm := &packedMatrix{n: n, k: k, panels: (n + panelWidth - 1) / panelWidth}
	pm.data = make([]float32, pm.panels*k*panelWidth)
	for row := 0; row < n; row++ {
		p, lane := row/panelWidth, row%panelWidth
		base := p * k * panelWidth
		src := w[row*k : (row+1)*k]
		for j, v := range src {
			pm.data[base+j*panelWidth+lane] = v
		}
	}
	return pm
}

// bytes is the number of bytes a full pass over the matrix reads.
func (pm *packedMatrix) bytes() int64 { return matrixBytes(pm.n, pm.k, pm.format) }

// kernel computes m rows × panel p into out (row stride ldo) with the
// format's micro-kernel; pf is float32's prefetch offset (see kernelgen).
func (pm *packedMatrix) kernel(m, p int, x []float32, ldx int, out []float32, ldo, pf int) {
	size := pm.k * panelWidth
	switch pm.format {
	case WeightsBF16:
		kernelBF16(m, pm.k, x, ldx, pm.bf16[p*size:(p+1)*size], out, ldo)
	case WeightsInt8:
		ss := (pm.k + q8Block - 1) / q8Block * panelWidth
		kernelQ8(m, pm.k, x, ldx, pm.q8[p*size:(p+1)*size], pm.scales[p*ss:(p+1)*ss], out, ldo)
	default:
		kernel(m, pm.k, x, ldx, pm.data[p*size:(p+1)*size], out, ldo, pf)
	}
}

// wide computes one row × panels p and p+1 (both full) with the same
// per-output arithmetic as kernel; false when the CPU has no such kernel.
func (pm *packedMatrix) wide(p int, x []float32, out []float32) bool {
	size := pm.k * panelWidth
	switch pm.format {
	case WeightsBF16:
		return kernelWideBF16(pm.k, x, pm.bf16[p*size:(p+2)*size], out)
	case WeightsInt8:
		ss := (pm.k + q8Block - 1) / q8Block * panelWidth
		return kernelWideQ8(pm.k, x, pm.q8[p*size:(p+2)*size], pm.scales[p*ss:(p+2)*ss], out)
	}
	return kernelWide(pm.k, x, pm.data[p*size:(p+2)*size], out)
}

// matmul computes out[t, :n] = x[t, :k] · Wᵀ for t < rows, where x has row
// stride ldx and out has row stride ldo (both in elements). Panels are split
// across the pool's workers; each output element is computed by exactly one
// kernel call, so results do not depend on the number of workers or rows.
func (pool *workers) matmul(out []float32, ldo int, x []float32, ldx int, rows int, w *packedMatrix) {
	if rows == 0 {
		return
	}
	pool.run(w.panels, func(lo, hi int) {
		var tile [maxKernelRows * panelWidth]float32
		for p := lo; p < hi; p++ {
			// A lone row takes two full panels per call when it can.
			if rows == 1 && p+1 < hi && (p+2)*panelWidth <= w.n && w.wide(p, x, out[p*panelWidth:]) {
				p++
				continue
			}
			col := p * panelWidth
			panelBytes := w.k * panelWidth * 4
			full := col+panelWidth <= w.n
			for r := 0; r < rows; r += maxKernelRows {
				m := min(maxKernelRows, rows-r)
				xr := x[r*ldx:]
				pf := panelBytes + (r/maxKernelRows%2)*64 // next panel, alternate lines per chunk
				if full {
					w.kernel(m, p, xr, ldx, out[r*ldo+col:], ldo, pf)
					continue
				}
				// The last panel is partial: compute into a tile, copy the valid columns.
				w.kernel(m, p, xr, ldx, tile[:], panelWidth, pf)
				for i := 0; i < m; i++ {
					copy(out[(r+i)*ldo+col:(r+i)*ldo+w.n], tile[i*panelWidth:i*panelWidth+w.n-col])
				}
			}
		}
	})
}

// kernelGo is the portable micro-kernel: the same arithmetic as the assembly
// (one multiply-add chain per output over k), written in Go.
func kernelGo(m, k int, x []float32, ldx int, panel []float32, out []float32, ldo int) {
	var acc [maxKernelRows][panelWidth]float32
	for j := 0; j < k; j++ {
		w := (*[panelWidth]float32)(panel[j*panelWidth : (j+1)*panelWidth])
		for r := 0; r < m; r++ {
			xv := x[r*ldx+j]
			a := &acc[r]
			for l := range a {
				a[l] += xv * w[l]
			}
		}
	}
	for r := 0; r < m; r++ {
		copy(out[r*ldo:r*ldo+panelWidth], acc[r][:])
	}
}
