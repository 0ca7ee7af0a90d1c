package cpu

import (
	"fmt"
	"math"
)

// WeightFormat is how the backend stores weight matrices. Decode reads every
// matrix once per step, so its speed is bytes per token: bfloat16 halves
// them and int8 with per-block scales nearly quarters them. Activations,
// accumulators, norms, biases and the KV cache stay float32 in every format.
type WeightFormat uint8

const (
	// WeightsF32 stores float32: the numerical reference.
	WeightsF32 WeightFormat = iota
	// WeightsBF16 stores bfloat16 (round to nearest even; exact for
	// bfloat16 checkpoints) and widens to float32 in the kernels.
	WeightsBF16
	// WeightsInt8 stores symmetric int8 with one float32 scale per output
	// row and block of q8Block inputs, made at load; the kernels multiply
	// each weight by its scale in float32 before accumulating.
	WeightsInt8
)

// q8Block is the number of inputs (k) that share one int8 scale per output.
// It must match kernelgen's quantBlock.
const q8Block = 32

// String is the name --dtype and --quantization use.
func (f WeightFormat) String() string {
	switch f {
	case WeightsF32:
		return "float32"
	case WeightsBF16:
		return "bfloat16"
	case WeightsInt8:
		return "int8"
	}
	return fmt.Sprintf("WeightFormat(%d)", uint8(f))
}

// ParseWeightFormat reads float32, bfloat16 or int8.
func ParseWeightFormat(s string) (WeightFormat, error) {
	for _, f := range []WeightFormat{WeightsF32, WeightsBF16, WeightsInt8} {
		if s == f.String() {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown weight format %q (want float32, bfloat16 or int8)", s)
}

// matrixBytes is what a packed [n, k] matrix of format f occupies (panels
// padded to 16 rows; int8 adds its scales).
func matrixBytes(n, k int, f WeightFormat) int64 {
	panels := int64((n + panelWidth - 1) / panelWidth)
	elems := panels * int64(k) * panelWidth
	switch f {
	case WeightsBF16:
		return elems * 2
	case WeightsInt8:
		blocks := int64((k + q8Block - 1) / q8Block)
		return elems + panels*blocks*panelWidth*4
	}
	return elems * 4
}

// embedBytesPerElem is the embedding table's storage: float32 for float32
// weights, bfloat16 otherwise (it is gathered a row at a time, so its size
// matters for memory, not speed, and int8 would cost accuracy for nothing).
func embedBytesPerElem(f WeightFormat) int64 {
	if f == WeightsF32 {
		return 4
	}
	return 2
}

// toBF16 rounds f to bfloat16, to nearest even; NaNs stay NaN.
func toBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// fromBF16 widens a bfloat16 to float32 (exact).
func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// quantizeBlock writes q[i] = round(w[i]/scale) with scale = max|w|/127, and
// returns scale (0 for an all-zero block, whose q are then 0).
func quantizeBlock(q []int8, w []float32) float32 {
	var amax float32
	for _, v := range w {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	if amax == 0 {
		clear(q)
		return 0
	}
	scale := amax / 127
	for i, v := range w {
		r := math.Round(float64(v / scale))
		q[i] = int8(max(-127, min(127, r)))
	}
	return scale
}
