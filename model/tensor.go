package model

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is a tensor element type as safetensors names it.
type DType string

// Element types a checkpoint may store.
const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
)

// Size is the number of bytes of one element; 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case F16, BF16:
		return 2
	}
	return 0
}

// Tensor is a named, shaped array of weights. Its elements are either raw
// little-endian bytes (a view into a memory-mapped file or an in-memory copy)
// or produced on demand by a generator (random weights), so no tensor is held
// twice in memory.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	raw   []byte                         // little-endian elements; nil when gen is set
	gen   func([]float32)                // fills all elements (random weights)
	genAt func(dst []float32, start int) // fills elements [start, start+len(dst)); set with gen
}

// NewTensor wraps raw little-endian bytes; len(raw) must match shape and dtype.
func NewTensor(name string, dtype DType, shape []int, raw []byte) (*Tensor, error) {
	t := &Tensor{Name: name, DType: dtype, Shape: shape, raw: raw}
	if dtype.Size() == 0 {
		return nil, fmt.Errorf("tensor %s: unsupported dtype %q", name, dtype)
	}
	if want := int64(t.NumElements()) * int64(dtype.Size()); int64(len(raw)) != want {
		return nil, fmt.Errorf("tensor %s: %d bytes of data, shape %v of %s needs %d", name, len(raw), shape, dtype, want)
	}
	return t, nil
}

// NewGenerated makes an F32 tensor whose elements gen writes on demand.
func NewGenerated(name string, shape []int, gen func(dst []float32)) *Tensor {
	return &Tensor{Name: name, DType: F32, Shape: shape, gen: gen}
}

// NewGeneratedAt makes an F32 tensor whose elements gen writes on demand,
// any range at a time: gen(dst, start) writes elements [start, start+len(dst)),
// so big tensors can be produced in chunks (and in parallel by the caller).
func NewGeneratedAt(name string, shape []int, gen func(dst []float32, start int)) *Tensor {
	return &Tensor{Name: name, DType: F32, Shape: shape, genAt: gen, gen: func(dst []float32) { gen(dst, 0) }}
}

// Generated reports whether the elements are produced on demand.
func (t *Tensor) Generated() bool { return t.gen != nil }

// NumElements is the product of the shape.
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// NumBytes is the size of the tensor as stored (or as F32 when generated).
func (t *Tensor) NumBytes() int64 { return int64(t.NumElements()) * int64(t.DType.Size()) }

// Raw returns the stored little-endian bytes, or nil for a generated tensor.
func (t *Tensor) Raw() []byte { return t.raw }

// Float32 writes every element, converted to float32, into dst, which must
// have exactly NumElements entries.
func (t *Tensor) Float32(dst []float32) error {
	n := t.NumElements()
	if len(dst) != n {
		return fmt.Errorf("tensor %s: destination has %d elements, tensor has %d", t.Name, len(dst), n)
	}
	if t.gen != nil {
		t.gen(dst)
		return nil
	}
	return t.Float32At(dst, 0)
}

// Float32At writes elements [start, start+len(dst)), converted to float32,
// into dst: a chunk of the tensor, for callers that convert or upload big
// tensors piecewise.
func (t *Tensor) Float32At(dst []float32, start int) error {
	n := t.NumElements()
	if start < 0 || start > n || len(dst) > n-start {
		return fmt.Errorf("tensor %s: elements [%d, %d) out of range of %d", t.Name, start, start+len(dst), n)
	}
	switch {
	case t.genAt != nil:
		t.genAt(dst, start)
		return nil
	case t.gen != nil:
		all := make([]float32, n)
		t.gen(all)
		copy(dst, all[start:])
		return nil
	}
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("tensor %s: unsupported dtype %q", t.Name, t.DType)
	}
	if len(t.raw) < (start+len(dst))*size {
		return fmt.Errorf("tensor %s: %d bytes of data, elements up to %d need %d", t.Name, len(t.raw), start+len(dst), (start+len(dst))*size)
	}
	raw := t.raw[start*size:]
	switch t.DType {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
	return nil
}

// ToFloat32 returns a new slice with the elements converted to float32.
func (t *Tensor) ToFloat32() ([]float32, error) {
	dst := make([]float32, t.NumElements())
	if err := t.Float32(dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// BF16ToFloat32 widens a bfloat16 bit pattern exactly.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F16ToFloat32 widens an IEEE half-precision bit pattern exactly (subnormals,
// infinities and NaN included).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// subnormal: value = mant * 2^-24
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}
