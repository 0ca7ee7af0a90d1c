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
type packedMatrix struct {
	n, k   int
	panels int
	data   []float32 // [panels][k][16]
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

// panel returns the packed data of panel p.
func (pm *packedMatrix) panel(p int) []float32 {
	size := pm.k * panelWidth
	return pm.data[p*size : (p+1)*size]
}

// bytes is the number of bytes a full pass over the matrix reads.
func (pm *packedMatrix) bytes() int64 { return int64(len(pm.data)) * 4 }

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
			if rows == 1 && p+1 < hi && (p+2)*panelWidth <= w.n &&
				kernelWide(w.k, x, w.data[p*w.k*panelWidth:(p+2)*w.k*panelWidth], out[p*panelWidth:]) {
				p++
				continue
			}
			panel := w.panel(p)
			col := p * panelWidth
			panelBytes := w.k * panelWidth * 4
			full := col+panelWidth <= w.n
			for r := 0; r < rows; r += maxKernelRows {
				m := min(maxKernelRows, rows-r)
				xr := x[r*ldx:]
				pf := panelBytes + (r/maxKernelRows%2)*64 // next panel, alternate lines per chunk
				if full {
					kernel(m, w.k, xr, ldx, panel, out[r*ldo+col:], ldo, pf)
					continue
				}
				// The last panel is partial: compute into a tile, copy the valid columns.
				kernel(m, w.k, xr, ldx, panel, tile[:], panelWidth, pf)
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
