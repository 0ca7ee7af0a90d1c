package sample

import (
	"cmp"
	"math"
	"slices"
)

var negInf = float32(math.Inf(-1))

// readLogit applies the reading rule used everywhere in this package: NaN
// counts as -Inf and +Inf as the largest finite float32.
func readLogit(v float32) float32 {
	if v <= math.MaxFloat32 { // finite or -Inf
		return v
	}
	if v != v {
		return negInf
	}
	return math.MaxFloat32
}

// Argmax returns the id of the largest logit, the lowest id among equals,
// reading NaN as -Inf and +Inf as the largest finite float32. It returns -1
// when logits is empty or holds no value above -Inf. One pass over logits
// (a second one only when some logit is +Inf).
func Argmax(logits []float32) int32 {
	// Four lanes break the compare dependency; each keeps its first maximum
	// (strict >), and the merge prefers the lower id on equal values.
	b := [4]float32{negInf, negInf, negInf, negInf}
	at := [4]int{-1, -1, -1, -1}
	i := 0
	for ; i+4 <= len(logits); i += 4 {
		s := logits[i : i+4 : i+4]
		if s[0] > b[0] {
			b[0], at[0] = s[0], i
		}
		if s[1] > b[1] {
			b[1], at[1] = s[1], i+1
		}
		if s[2] > b[2] {
			b[2], at[2] = s[2], i+2
		}
		if s[3] > b[3] {
			b[3], at[3] = s[3], i+3
		}
	}
	for ; i < len(logits); i++ { // the tail has the highest ids, so lane 0 stays first-wins
		if logits[i] > b[0] {
			b[0], at[0] = logits[i], i
		}
	}
	best, idx := negInf, -1
	for l := range 4 {
		if at[l] >= 0 && (b[l] > best || (b[l] == best && at[l] < idx)) {
			best, idx = b[l], at[l]
		}
	}
	if best > math.MaxFloat32 { // +Inf reads as MaxFloat32: the first such value wins
		for j, v := range logits {
			if v >= math.MaxFloat32 {
				return int32(j)
			}
		}
	}
	return int32(idx)
}

// logNormalizer returns the largest read logit m and log Σ exp(x - m), both
// accumulated in float64; ok is false when no logit is above -Inf.
func logNormalizer(logits []float32) (m, logZ float64, ok bool) {
	idx := Argmax(logits)
	if idx < 0 {
		return 0, 0, false
	}
	m = float64(readLogit(logits[idx]))
	// Four partial sums break the add dependency; d <= 0 as m is the maximum.
	var s [4]float64
	i := 0
	for ; i+4 <= len(logits); i += 4 {
		v := logits[i : i+4 : i+4]
		if d := float64(readLogit(v[0])) - m; d >= -708 {
			s[0] += expCore(d)
		}
		if d := float64(readLogit(v[1])) - m; d >= -708 {
			s[1] += expCore(d)
		}
		if d := float64(readLogit(v[2])) - m; d >= -708 {
			s[2] += expCore(d)
		}
		if d := float64(readLogit(v[3])) - m; d >= -708 {
			s[3] += expCore(d)
		}
	}
	for ; i < len(logits); i++ {
		s[0] += expNeg(float64(readLogit(logits[i])) - m)
	}
	return m, math.Log((s[0] + s[1]) + (s[2] + s[3])), true
}

// LogSoftmax writes log-softmax(logits) into dst (grown when too short; it
// may be logits itself) and returns it. NaN reads as -Inf and +Inf as the
// largest finite float32; sums are accumulated in float64. It fails with
// ErrEmptyLogits or ErrNoCandidates (no logit above -Inf).
func LogSoftmax(dst, logits []float32) ([]float32, error) {
	if len(logits) == 0 {
		return dst, ErrEmptyLogits
	}
	m, logZ, ok := logNormalizer(logits)
	if !ok {
		return dst, ErrNoCandidates
	}
	if cap(dst) < len(logits) {
		dst = make([]float32, len(logits))
	}
	dst = dst[:len(logits)]
	for i, v := range logits {
		dst[i] = float32(float64(readLogit(v)) - m - logZ)
	}
	return dst, nil
}

// exp2Frac[j] = 2^(j/64), for expNeg.
var exp2Frac = func() (t [64]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 64)
	}
	return t
}()

// expNeg returns e^x for x <= 0 with a relative error below 1e-13 (measured
// 6e-14): x = (64k + j + r)·ln2/64 with |r| <= 1/2, so e^x = 2^k · 2^(j/64) ·
// e^(r·ln2/64), the last by a degree-4 Taylor polynomial (|r·ln2/64| <=
// 0.0055). NaN, -Inf and x < -708 give 0. It is several times faster than
// math.Exp, which would dominate a pass over a 150k vocabulary.
func expNeg(x float64) float64 {
	if !(x >= -708) {
		return 0
	}
	if x > 0 {
		return math.Exp(x)
	}
	return expCore(x)
}

// expCore is expNeg for x in [-708, 0], small enough to be inlined into the
// hot loops.
func expCore(x float64) float64 {
	t := x * (64 * math.Log2E)
	n := int64(t - 0.5) // truncation of a value <= 0: round to nearest
	y := (t - float64(n)) * (math.Ln2 / 64)
	p := 1 + y*(1+y*(1.0/2+y*(1.0/6+y*(1.0/24))))
	return p * exp2Frac[n&63] * math.Float64frombits(uint64((n>>6)+1023)<<52)
}

// cand is one token of the ranking.
type cand struct {
	x  float32 // processed logit, read with readLogit
	w  float32 // unnormalised probability exp((x - max) / T); 1 for the most likely token
	id int32
}

// cmpRank orders the ranking: larger logit first, then lower id.
func cmpRank(a, b cand) int {
	switch {
	case a.x > b.x:
		return -1
	case a.x < b.x:
		return 1
	}
	return cmp.Compare(a.id, b.id)
}

// ranksAfter reports whether a comes after b in the ranking.
func ranksAfter(a, b cand) bool { return a.x < b.x || (a.x == b.x && a.id > b.id) }

// selectTop returns the first k tokens of the ranking of logits (read with
// readLogit), sorted, reusing dst. A heap keeps the k best seen so far with
// the one ranking last at its root, so one pass costs O(len + k log k) on
// unordered logits.
func selectTop(dst []cand, logits []float32, k int) []cand {
	k = min(k, len(logits))
	h := dst[:0]
	if k <= 0 {
		return h
	}
	for i, v := range logits[:k] {
		h = append(h, cand{x: readLogit(v), id: int32(i)})
	}
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	rootX := h[0].x
	for i, v := range logits[k:] {
		// Equal values never enter: a later id ranks after everything held.
		if !(v > rootX) {
			continue
		}
		if v > math.MaxFloat32 {
			if v = math.MaxFloat32; !(v > rootX) {
				continue
			}
		}
		h[0] = cand{x: v, id: int32(k + i)}
		siftDown(h, 0)
		rootX = h[0].x
	}
	slices.SortFunc(h, cmpRank)
	return h
}

// siftDown restores the heap (root ranks last) below i.
func siftDown(h []cand, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && ranksAfter(h[r], h[l]) {
			c = r
		}
		if !ranksAfter(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
