package cpu

import (
	"context"
	"fmt"
	"math"

	"github.com/sotasystems/sota/backend"
)

// scratch holds the step's activations; buffers grow to the largest batch
// seen and are reused.
type scratch struct {
	x, h, qkv, attn, tmp, act, gateUp []float32
	cos, sin                          []float32 // [tokens, headDim/2]
	logits, rows                      []float32
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// run executes the layers over every token of b and returns the logits of
// the tokens listed in rows ([len(rows), vocab], valid until the next call).
func (be *Backend) run(ctx context.Context, b *backend.Batch, rows []int) ([]float32, error) {
	cfg := &be.cfg
	T := len(b.Tokens)
	hidden, headDim := cfg.HiddenSize, cfg.HeadDim
	qDim, kvDim := cfg.NumHeads*headDim, cfg.NumKVHeads*headDim
	qkvDim, inter := qDim+2*kvDim, cfg.IntermediateSize
	s := &be.scratch
	s.x = grow(s.x, T*hidden)            // [T, hidden] residual stream
	s.h = grow(s.h, T*hidden)            // [T, hidden] normed input of a block
	s.qkv = grow(s.qkv, T*qkvDim)        // [T, q|k|v]
	s.attn = grow(s.attn, T*qDim)        // [T, heads*headDim]
	s.tmp = grow(s.tmp, T*hidden)        // [T, hidden] block output
	s.gateUp = grow(s.gateUp, T*2*inter) // [T, gate|up]
	s.act = grow(s.act, T*inter)         // [T, intermediate]
	s.cos = grow(s.cos, T*headDim/2)     // [T, headDim/2]
	s.sin = grow(s.sin, T*headDim/2)     // [T, headDim/2]

	for t, tok := range b.Tokens {
		be.w.embedRow(s.x[t*hidden:(t+1)*hidden], int(tok))
	}
	be.ropeTables(b.Positions)
	// seqOf maps each token to its sequence, for attention.
	be.seqOf = be.seqOf[:0]
	for i := 0; i < b.NumSeqs(); i++ {
		start, end, _ := b.Seq(i)
		for range end - start {
			be.seqOf = append(be.seqOf, int32(i))
		}
	}

	for li := range be.w.layers {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("forward: layer %d: %w", li, err)
		}
		l := &be.w.layers[li]
		rmsNorm(s.h, s.x, T, hidden, l.attnNorm, cfg.RMSNormEps)
		be.pool.matmul(s.qkv, qkvDim, s.h, hidden, T, l.qkv)
		addBias(s.qkv, T, qkvDim, l.qkvBias)
		be.ropeAndStore(b, li, s.qkv, qkvDim)
		be.attention(b, li, l.window, s.qkv, qkvDim, s.attn)
		be.pool.matmul(s.tmp, hidden, s.attn, qDim, T, l.o)
		addBias(s.tmp, T, hidden, l.oBias)
		addInto(s.x, s.tmp)

		rmsNorm(s.h, s.x, T, hidden, l.mlpNorm, cfg.RMSNormEps)
		be.pool.matmul(s.gateUp, 2*inter, s.h, hidden, T, l.gateUp)
		addBias(s.gateUp, T, 2*inter, l.gateUpBias)
		be.pool.swiglu(s.act, s.gateUp, T, inter)
		be.pool.matmul(s.tmp, hidden, s.act, inter, T, l.down)
		addBias(s.tmp, T, hidden, l.downBias)
		addInto(s.x, s.tmp)
	}

	// Only the requested rows go through the final norm and the LM head.
	R := len(rows)
	s.rows = grow(s.rows, R*hidden)
	for i, r := range rows {
		copy(s.rows[i*hidden:(i+1)*hidden], s.x[r*hidden:(r+1)*hidden])
	}
	rmsNorm(s.rows, s.rows, R, hidden, be.w.norm, cfg.RMSNormEps)
	vocab := cfg.VocabSize
	s.logits = grow(s.logits, R*vocab)
	be.pool.matmul(s.logits, vocab, s.rows, hidden, R, be.w.lmHead)
	return s.logits, nil
}

// ropeTables fills cos/sin for each token's position. Angles are formed in
// float32 (position × inverse frequency), as the reference implementation does.
func (be *Backend) ropeTables(positions []int32) {
	half := be.cfg.HeadDim / 2
	s := &be.scratch
	for t, p := range positions {
		for i := 0; i < half; i++ {
			angle := float64(float32(p) * be.invFreq[i])
			s.cos[t*half+i] = float32(math.Cos(angle))
			s.sin[t*half+i] = float32(math.Sin(angle))
		}
	}
}

// rotate applies rotate-half RoPE to one head vector in place.
func rotate(v, cos, sin []float32) {
	half := len(cos)
	for i := 0; i < half; i++ {
		a, b := v[i], v[i+half]
		v[i] = a*cos[i] - b*sin[i]
		v[i+half] = b*cos[i] + a*sin[i]
	}
}

// ropeAndStore rotates q and k of every token and writes k and v into the
// paged cache of layer li.
func (be *Backend) ropeAndStore(b *backend.Batch, li int, qkv []float32, qkvDim int) {
	cfg := &be.cfg
	headDim, half := cfg.HeadDim, cfg.HeadDim/2
	qDim, kvDim := cfg.NumHeads*headDim, cfg.NumKVHeads*headDim
	s := &be.scratch
	for i := 0; i < b.NumSeqs(); i++ {
		start, end, blocks := b.Seq(i)
		for t := start; t < end; t++ {
			row := qkv[t*qkvDim : (t+1)*qkvDim]
			cos, sin := s.cos[t*half:(t+1)*half], s.sin[t*half:(t+1)*half]
			for h := 0; h < cfg.NumHeads; h++ {
				rotate(row[h*headDim:(h+1)*headDim], cos, sin)
			}
			pos := int(b.Positions[t])
			for h := 0; h < cfg.NumKVHeads; h++ {
				k := row[qDim+h*headDim : qDim+(h+1)*headDim]
				rotate(k, cos, sin)
				off := be.kv.offset(blocks, pos, h)
				copy(be.kv.k[li][off:off+headDim], k)
				copy(be.kv.v[li][off:off+headDim], row[qDim+kvDim+h*headDim:qDim+kvDim+(h+1)*headDim])
			}
		}
	}
}

// rmsNorm writes out[t] = x[t] / rms(x[t]) * weight for each of T rows; out may alias x.
func rmsNorm(out, x []float32, T, n int, weight []float32, eps float64) {
	for t := 0; t < T; t++ {
		row := x[t*n : (t+1)*n]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		scale := float32(1 / math.Sqrt(ss/float64(n)+eps))
		o := out[t*n : (t+1)*n]
		for i, v := range row {
			o[i] = weight[i] * (v * scale)
		}
	}
}

func addBias(x []float32, T, n int, bias []float32) {
	if bias == nil {
		return
	}
	for t := 0; t < T; t++ {
		row := x[t*n : (t+1)*n]
		for i := range row {
			row[i] += bias[i]
		}
	}
}

func addInto(dst, src []float32) {
	for i := range dst {
		dst[i] += src[i]
	}
}

// swiglu writes act[t] = silu(gate[t]) * up[t] from the fused [T, gate|up]
// rows, split across the workers (exp dominates, so it is worth it).
func (pool *workers) swiglu(act, gateUp []float32, T, inter int) {
	pool.run(T*inter, func(lo, hi int) {
		for i := lo; i < hi; {
			t, j := i/inter, i%inter
			end := min(hi-i+j, inter) // stay within row t
			g := gateUp[t*2*inter+j : t*2*inter+end]
			u := gateUp[t*2*inter+inter+j : t*2*inter+inter+end]
			a := act[t*inter+j : t*inter+end]
			for k := range a {
				a[k] = g[k] / (1 + expf(-g[k])) * u[k]
			}
			i += end - j
		}
	})
}
