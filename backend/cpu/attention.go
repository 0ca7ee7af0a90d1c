package cpu

import (
	"math"

	"github.com/sotasystems/sota/backend"
)

// attention computes causal (optionally sliding-window) grouped-query
// attention for every token of b against the paged cache of layer li, which
// already holds this step's keys and values. Work is split over (token, head)
// pairs; each pair is computed entirely by one goroutine in a fixed order, so
// a token's output does not depend on the rest of the batch.
func (be *Backend) attention(b *backend.Batch, li, window int, qkv []float32, qkvDim int, out []float32) {
	cfg := &be.cfg
	heads, headDim := cfg.NumHeads, cfg.HeadDim
	group := heads / cfg.NumKVHeads
	scale := float32(1 / math.Sqrt(float64(headDim)))
	T := len(b.Tokens)
	seqOf := be.seqOf
	kc, vc := be.kv.k[li], be.kv.v[li]
	be.pool.run(T*heads, func(lo, hi int) {
		var scores []float32
		for item := lo; item < hi; item++ {
			t, h := item/heads, item%heads
			_, _, blocks := b.Seq(int(seqOf[t]))
			pos := int(b.Positions[t])
			first := 0
			if window > 0 {
				first = max(0, pos-window+1)
			}
			n := pos - first + 1
			if cap(scores) < n {
				scores = make([]float32, n)
			}
			scores = scores[:n]
			q := qkv[t*qkvDim+h*headDim : t*qkvDim+(h+1)*headDim]
			kvHead := h / group
			maxScore := float32(math.Inf(-1))
			for j := range n {
				off := be.kv.offset(blocks, first+j, kvHead)
				s := dot(q, kc[off:off+headDim]) * scale
				scores[j] = s
				maxScore = max(maxScore, s)
			}
			var sum float64
			for j, s := range scores {
				e := expf(s - maxScore)
				scores[j] = e
				sum += float64(e)
			}
			o := out[t*heads*headDim+h*headDim : t*heads*headDim+(h+1)*headDim]
			clear(o)
			inv := float32(1 / sum)
			for j, p := range scores {
				off := be.kv.offset(blocks, first+j, kvHead)
				axpy(o, p*inv, vc[off:off+headDim])
			}
		}
	})
}

func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyGo adds a*x to y (portable path).
func axpyGo(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
