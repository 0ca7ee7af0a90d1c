package cpu

// Packing and portable kernels of the bfloat16 and int8 formats. The panel
// layout is float32's ([panels][k][16]) with narrower elements; int8 keeps
// its scales apart ([panels][blocks][16] float32, one per output lane and
// block of q8Block k-steps), so both arrays stream linearly.

// packMatrixAs packs w ([n, k] row-major) in format f.
func packMatrixAs(w []float32, n, k int, f WeightFormat) *packedMatrix {
	switch f {
	case WeightsBF16:
		return packBF16(w, n, k)
	case WeightsInt8:
		return packQ8(w, n, k)
	}
	return packMatrix(w, n, k)
}

func packBF16(w []float32, n, k int) *packedMatrix {
	pm := &packedMatrix{n: n, k: k, panels: (n + panelWidth - 1) / panelWidth, format: WeightsBF16}
	pm.bf16 = make([]uint16, pm.panels*k*panelWidth)
	for row := 0; row < n; row++ {
		p, lane := row/panelWidth, row%panelWidth
		base := p * k * panelWidth
		for j, v := range w[row*k : (row+1)*k] {
			pm.bf16[base+j*panelWidth+lane] = toBF16(v)
		}
	}
	return pm
}

func packQ8(w []float32, n, k int) *packedMatrix {
	pm := &packedMatrix{n: n, k: k, panels: (n + panelWidth - 1) / panelWidth, format: WeightsInt8}
	blocks := (k + q8Block - 1) / q8Block
	pm.q8 = make([]int8, pm.panels*k*panelWidth)
	pm.scales = make([]float32, pm.panels*blocks*panelWidth)
	var q [q8Block]int8
	for row := 0; row < n; row++ {
		p, lane := row/panelWidth, row%panelWidth
		base := p * k * panelWidth
		src := w[row*k : (row+1)*k]
		for b := 0; b < blocks; b++ {
			lo, hi := b*q8Block, min((b+1)*q8Block, k)
			pm.scales[(p*blocks+b)*panelWidth+lane] = quantizeBlock(q[:hi-lo], src[lo:hi])
			for j := lo; j < hi; j++ {
				pm.q8[base+j*panelWidth+lane] = q[j-lo]
			}
		}
	}
	return pm
}

// dequantized is the float32 matrix an int8 or bfloat16 matrix stands for,
// [n, k] row-major: the weights its kernels multiply by.
func (pm *packedMatrix) dequantized() []float32 {
	out := make([]float32, pm.n*pm.k)
	blocks := (pm.k + q8Block - 1) / q8Block
	for row := 0; row < pm.n; row++ {
		p, lane := row/panelWidth, row%panelWidth
		base := p * pm.k * panelWidth
		for j := 0; j < pm.k; j++ {
			i := base + j*panelWidth + lane
			switch pm.format {
			case WeightsBF16:
				out[row*pm.k+j] = fromBF16(pm.bf16[i])
			case WeightsInt8:
				out[row*pm.k+j] = float32(pm.q8[i]) * pm.scales[(p*blocks+j/q8Block)*panelWidth+lane]
			default:
				out[row*pm.k+j] = pm.data[i]
			}
		}
	}
	return out
}

// kernelBF16Go is the portable bfloat16 kernel: float32's arithmetic on the
// widened weights.
func kernelBF16Go(m, k int, x []float32, ldx int, panel []uint16, out []float32, ldo int) {
	var acc [maxKernelRows][panelWidth]float32
	var w [panelWidth]float32
	for j := 0; j < k; j++ {
		src := (*[panelWidth]uint16)(panel[j*panelWidth : (j+1)*panelWidth])
		for l, h := range src {
			w[l] = fromBF16(h)
		}
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

// kernelQ8Go is the portable int8 kernel: each weight times its block's
// scale in float32, then float32's arithmetic.
func kernelQ8Go(m, k int, x []float32, ldx int, panel []int8, scales []float32, out []float32, ldo int) {
	var acc [maxKernelRows][panelWidth]float32
	var w [panelWidth]float32
	for j := 0; j < k; j++ {
		src := (*[panelWidth]int8)(panel[j*panelWidth : (j+1)*panelWidth])
		sc := (*[panelWidth]float32)(scales[j/q8Block*panelWidth:])
		for l, q := range src {
			w[l] = float32(q) * sc[l]
		}
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
