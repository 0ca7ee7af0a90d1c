package cpu

import (
	"fmt"

	"github.com/sotasystems/sota/model"
)

// layerWeights are one decoder layer's weights in the backend's layout:
// matrices in the backend's WeightFormat, vectors float32, the q/k/v and
// gate/up projections fused so each is one matmul.
type layerWeights struct {
	attnNorm   []float32     // [hidden]
	qkv        *packedMatrix // [qDim+2*kvDim, hidden]
	qkvBias    []float32     // [qDim+2*kvDim] or nil
	o          *packedMatrix // [hidden, qDim]
	oBias      []float32     // [hidden] or nil
	mlpNorm    []float32     // [hidden]
	gateUp     *packedMatrix // [2*intermediate, hidden]: gate rows, then up rows
	gateUpBias []float32     // [2*intermediate] or nil
	down       *packedMatrix // [hidden, intermediate]
	downBias   []float32     // [hidden] or nil
	window     int           // sliding attention window in tokens; 0 = full
}

type weights struct {
	format    WeightFormat
	embed     []float32 // [vocab, hidden] for WeightsF32, row-gathered, never packed
	embedBF16 []uint16  // [vocab, hidden] for the other formats
	layers    []layerWeights
	norm      []float32     // [hidden]
	lmHead    *packedMatrix // [vocab, hidden]
}

// bytesPerToken is what one decode step reads from weights: every matrix
// once plus the embedding row and norms (a row of a [T, vocab] head is read
// in full, the embedding only one row).
func (w *weights) bytesPerToken() int64 {
	n := w.lmHead.bytes()
	for _, l := range w.layers {
		n += l.qkv.bytes() + l.o.bytes() + l.gateUp.bytes() + l.down.bytes()
	}
	return n
}

// embedRow writes token tok's embedding into dst ([hidden]).
func (w *weights) embedRow(dst []float32, tok int) {
	n := len(dst)
	if w.embedBF16 == nil {
		copy(dst, w.embed[tok*n:(tok+1)*n])
		return
	}
	for i, h := range w.embedBF16[tok*n : (tok+1)*n] {
		dst[i] = fromBF16(h)
	}
}

// bytes is what the converted weights occupy: what weightBytes predicts.
func (w *weights) bytes() int64 {
	n := int64(len(w.embed))*4 + int64(len(w.embedBF16))*2 + int64(len(w.norm))*4 + w.lmHead.bytes()
	for _, l := range w.layers {
		n += l.qkv.bytes() + l.o.bytes() + l.gateUp.bytes() + l.down.bytes()
		for _, v := range [][]float32{l.attnNorm, l.qkvBias, l.oBias, l.mlpNorm, l.gateUpBias, l.downBias} {
			n += int64(len(v)) * 4
		}
	}
	return n
}

// weightBytes is the memory the backend's weights of cfg take in format f,
// known before converting (the memory check): the packed matrices (the tied
// LM head packed separately), the embedding and the float32 vectors.
func weightBytes(cfg *model.Config, f WeightFormat) int64 {
	hidden, inter := cfg.HiddenSize, cfg.IntermediateSize
	qDim, kvDim := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	n := int64(cfg.VocabSize)*int64(hidden)*embedBytesPerElem(f) + matrixBytes(cfg.VocabSize, hidden, headFormat(f))
	n += int64(cfg.NumLayers) * (matrixBytes(qDim+2*kvDim, hidden, f) + matrixBytes(hidden, qDim, f) +
		matrixBytes(2*inter, hidden, f) + matrixBytes(hidden, inter, f))
	for _, s := range cfg.ExpectedTensors() {
		if len(s.Shape) == 1 {
			n += int64(s.Shape[0]) * 4
		}
	}
	return n
}

// headFormat is the LM head's format for weights in format f: int8 models
// keep a bfloat16 head (as GPTQ and AWQ keep theirs unquantized), since its
// error lands on the logits directly — on stories260k it decides about a
// third of int8's top-1 disagreements with float32.
func headFormat(f WeightFormat) WeightFormat { return min(f, WeightsBF16) }

// converter turns model tensors into float32, reporting progress in bytes of
// the stored tensors.
type converter struct {
	format      WeightFormat
	done, total int64
	progress    func(done, total int64)
}

func (c *converter) vector(t *model.Tensor) ([]float32, error) {
	if t == nil {
		return nil, nil
	}
	v, err := t.ToFloat32()
	if err != nil {
		return nil, err
	}
	c.advance(t)
	return v, nil
}

func (c *converter) advance(t *model.Tensor) {
	c.done += t.NumBytes()
	if c.progress != nil {
		c.progress(c.done, c.total)
	}
}

// matrix converts and stacks tensors (all [*, k]) into one packed matrix.
func (c *converter) matrix(ts ...*model.Tensor) (*packedMatrix, error) {
	k := ts[0].Shape[len(ts[0].Shape)-1]
	n := 0
	for _, t := range ts {
		if len(t.Shape) != 2 || t.Shape[1] != k {
			return nil, fmt.Errorf("tensor %s: shape %v cannot be stacked with %d columns", t.Name, t.Shape, k)
		}
		n += t.Shape[0]
	}
	dense := make([]float32, n*k)
	off := 0
	for _, t := range ts {
		size := t.NumElements()
		if err := t.Float32(dense[off : off+size]); err != nil {
			return nil, err
		}
		off += size
		c.advance(t)
	}
	return packMatrixAs(dense, n, k, c.format), nil
}

// biases concatenates optional bias vectors; nil when all are absent.
func (c *converter) biases(sizes []int, ts ...*model.Tensor) ([]float32, error) {
	present := false
	for _, t := range ts {
		present = present || t != nil
	}
	if !present {
		return nil, nil
	}
	var out []float32
	for i, t := range ts {
		if t == nil {
			out = append(out, make([]float32, sizes[i])...)
			continue
		}
		v, err := c.vector(t)
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}

func totalBytes(w *model.Weights) int64 {
	var n int64
	add := func(ts ...*model.Tensor) {
		for _, t := range ts {
			if t != nil {
				n += t.NumBytes()
			}
		}
	}
	add(w.Embed, w.Norm)
	if w.LMHead != w.Embed {
		add(w.LMHead)
	}
	for _, l := range w.Layers {
		add(l.AttnNorm, l.Q, l.K, l.V, l.O, l.QBias, l.KBias, l.VBias, l.OBias,
			l.MLPNorm, l.Gate, l.Up, l.Down, l.GateBias, l.UpBias, l.DownBias)
	}
	return n
}

// convertWeights builds the backend's weights from a loaded or random model,
// matrices in format f.
func convertWeights(m *model.Model, f WeightFormat, progress func(done, total int64)) (*weights, error) {
	cfg := &m.Config
	src := &m.Weights
	c := &converter{format: f, total: totalBytes(src), progress: progress}
	w := &weights{format: f, layers: make([]layerWeights, len(src.Layers))}
	embed, err := c.vector(src.Embed)
	if err != nil {
		return nil, err
	}
	if src.LMHead == nil || src.LMHead == src.Embed {
		w.lmHead = packMatrixAs(embed, cfg.VocabSize, cfg.HiddenSize, headFormat(f))
	}
	if f == WeightsF32 {
		w.embed = embed
	} else {
		w.embedBF16 = make([]uint16, len(embed))
		for i, v := range embed {
			w.embedBF16[i] = toBF16(v)
		}
	}
	qDim, kvDim := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	for i, l := range src.Layers {
		lw := &w.layers[i]
		lw.window = cfg.Window(i)
		steps := []func() error{
			func() (err error) { lw.attnNorm, err = c.vector(l.AttnNorm); return },
			func() (err error) { lw.qkv, err = c.matrix(l.Q, l.K, l.V); return },
			func() (err error) {
				lw.qkvBias, err = c.biases([]int{qDim, kvDim, kvDim}, l.QBias, l.KBias, l.VBias)
				return
			},
			func() (err error) { lw.o, err = c.matrix(l.O); return },
			func() (err error) { lw.oBias, err = c.vector(l.OBias); return },
			func() (err error) { lw.mlpNorm, err = c.vector(l.MLPNorm); return },
			func() (err error) { lw.gateUp, err = c.matrix(l.Gate, l.Up); return },
			func() (err error) {
				lw.gateUpBias, err = c.biases([]int{cfg.IntermediateSize, cfg.IntermediateSize}, l.GateBias, l.UpBias)
				return
			},
			func() (err error) { lw.down, err = c.matrix(l.Down); return },
			func() (err error) { lw.downBias, err = c.vector(l.DownBias); return },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
		}
	}
	if w.norm, err = c.vector(src.Norm); err != nil {
		return nil, err
	}
	if w.lmHead == nil {
		c.format = headFormat(f)
		if w.lmHead, err = c.matrix(src.LMHead); err != nil {
			return nil, err
		}
	}
	return w, nil
}
