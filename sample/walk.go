package sample

import "math"

type walkKind uint8

const (
	toLimit     walkKind = iota // sum the mass of the first limit positions
	massAtLeast                 // stop at the first position whose running mass is >= target
	massAbove                   // stop at the first position whose running mass is > target
	weightBelow                 // stop at the first position whose weight is < thr
	toPosition                  // stop at position limit-1 (to read its token)
)

type walkResult struct {
	pos     int     // the stopping position, or the end of the walk when !found
	tok     int32   // token at pos when found (-1 for a stop decided per run)
	found   bool    // the condition held at some position < limit
	before  float64 // mass of the positions before pos
	through float64 // mass of the positions up to and including pos
}

// walker goes down the ranking, at most limit positions, accumulating mass
// in float64 (whole runs at once where it can skip them), until kind's
// condition holds.
type walker struct {
	kind   walkKind
	limit  int
	target float64
	thr    float32
	lnThr  float64
	pos    int
	cum    float64
}

type step uint8

const (
	skipRun  step = iota // the run was accounted for without looking inside
	stopHere             // the condition holds at the run's first position
	enterRun             // look inside
)

// visit decides what to do with the next run: count tokens, their mass, and
// their range [base, base+width) of f = -32z (base NaN: unknown). zero marks
// the zero bucket (all weights 0).
func (w *walker) visit(count int, mass, base, width float64, zero bool) step {
	if count == 0 {
		return skipRun
	}
	if mass == 0 && (w.kind == toLimit || w.kind == massAtLeast || w.kind == massAbove) {
		w.pos = min(w.pos+count, w.limit) // all weights 0: no mass condition can become true here
		return skipRun
	}
	if w.kind == weightBelow {
		// Weights lie in (e^-(base+width)/32, e^-base/32]; the 1e-6 margin in
		// log space exceeds the error of the computed weights (float32
		// rounding), so both answers are exact.
		if zero || -base/bucketsPerUnit < w.lnThr-1e-6 {
			return stopHere
		}
		if w.pos+count <= w.limit && -(base+width)/bucketsPerUnit >= w.lnThr+1e-6 {
			w.pos, w.cum = w.pos+count, w.cum+mass
			return skipRun
		}
		return enterRun
	}
	skip := false
	if w.pos+count <= w.limit {
		switch w.kind {
		case toLimit:
			skip = true
		case massAtLeast:
			skip = w.cum+mass < w.target
		case massAbove:
			skip = w.cum+mass <= w.target
		}
	}
	if w.kind == toPosition {
		skip = w.pos+count < w.limit
	}
	if skip {
		w.pos, w.cum = w.pos+count, w.cum+mass
		return skipRun
	}
	return enterRun
}

// scan walks the sorted members of a run one by one.
func (w *walker) scan(members []cand) (walkResult, bool) {
	for _, e := range members {
		if w.pos >= w.limit {
			break
		}
		v := float64(e.w)
		hit := false
		switch w.kind {
		case massAtLeast:
			hit = w.cum+v >= w.target
		case massAbove:
			hit = w.cum+v > w.target
		case weightBelow:
			if e.w < w.thr {
				return walkResult{pos: w.pos, tok: e.id, found: true, before: w.cum, through: w.cum}, true
			}
		case toPosition:
			hit = w.pos == w.limit-1
		}
		if hit {
			return walkResult{pos: w.pos, tok: e.id, found: true, before: w.cum, through: w.cum + v}, true
		}
		w.cum += v
		w.pos++
	}
	return walkResult{}, false
}

// walkNode walks inside node n at the given depth.
func (s *Sampler) walkNode(w *walker, n, depth int) (walkResult, bool) {
	nd := s.nodes[n]
	if nd.kids < 0 && (nd.sorted || nd.hi-nd.lo <= refineMax || depth >= maxDepth || allEqual(s.pool[nd.lo:nd.hi])) {
		return w.scan(s.sortNode(n))
	}
	if nd.kids < 0 {
		s.split(n)
	}
	kids := s.nodes[n].kids
	for j := 0; j < fanout && w.pos < w.limit; j++ {
		c := s.nodes[kids+j]
		switch w.visit(c.hi-c.lo, c.mass, c.base, c.width, false) {
		case stopHere:
			return walkResult{pos: w.pos, tok: -1, found: true, before: w.cum, through: w.cum}, true
		case enterRun:
			if r, ok := s.walkNode(w, kids+j, depth+1); ok {
				return r, true
			}
		}
	}
	return walkResult{}, false
}

// walk runs one walker over the current ranking.
func (s *Sampler) walk(kind walkKind, limit int, target float64, thr float32) walkResult {
	w := walker{kind: kind, limit: limit, target: target, thr: thr}
	if kind == weightBelow {
		w.lnThr = math.Log(float64(thr))
	}
	if !s.bucketed {
		root := s.nodes[0]
		switch w.visit(root.hi-root.lo, root.mass, root.base, 0, false) {
		case stopHere:
			return walkResult{pos: w.pos, tok: -1, found: true}
		case enterRun:
			if r, ok := s.walkNode(&w, 0, maxDepth); ok {
				return r
			}
		}
		return walkResult{pos: w.pos, tok: -1, before: w.cum, through: w.cum}
	}
	for b := 0; b < numBuckets && w.pos < w.limit; b++ {
		st := s.buckets[b]
		switch w.visit(int(st.count), st.mass, float64(b), 1, b == zeroBucket) {
		case stopHere:
			return walkResult{pos: w.pos, tok: -1, found: true, before: w.cum, through: w.cum}
		case enterRun:
			if r, ok := s.walkNode(&w, s.openBucket(b), 0); ok {
				return r
			}
		}
	}
	return walkResult{pos: w.pos, tok: -1, before: w.cum, through: w.cum}
}

// draw runs step 4 of the package doc for Temperature > 0 on processed
// logits: rank, cut by top-k, top-p and min-p, then pick by inverse CDF.
func (s *Sampler) draw(logits []float32, p Params, n int) (int32, error) {
	s.resetRanking()
	defer func() { s.logits = nil }()
	k := p.TopK
	if k <= 0 || k >= len(logits) {
		k = 0 // off
	}
	var ok bool
	if k > 0 && k <= maxHeapK {
		ok = s.useCandidates(logits, k, p.Temperature)
		k = 0 // already applied
	} else {
		ok = s.useBuckets(logits, p.Temperature)
	}
	if !ok {
		return -1, ErrNoCandidates
	}

	// L is the length of the kept prefix and zL its mass.
	limit := len(logits)
	if k > 0 {
		limit = k
	}
	r := s.walk(toLimit, limit, 0, 0)
	L, zL := r.pos, r.before
	if p.TopP > 0 && p.TopP < 1 {
		if r := s.walk(massAtLeast, L, float64(p.TopP)*zL, 0); r.found {
			L, zL = r.pos+1, r.through
		}
	}
	if p.MinP > 0 {
		if r := s.walk(weightBelow, L, 0, p.MinP); r.found && r.pos > 0 {
			L, zL = r.pos, r.before
		}
	}
	return s.pick(L, Uniform(p.Seed, n)*zL)
}

// pick returns the token at the first of the L first positions whose
// running mass is > target. When there is none (rounding can leave u·zL at
// or above the walked mass) it returns the last of them with a positive
// weight.
func (s *Sampler) pick(L int, target float64) (int32, error) {
	if r := s.walk(massAbove, L, target, 0); r.found {
		return r.tok, nil
	}
	last := L - 1
	if r := s.walk(weightBelow, L, 0, math.SmallestNonzeroFloat32); r.found {
		last = r.pos - 1
	}
	if r := s.walk(toPosition, max(last, 0)+1, 0, 0); r.found {
		return r.tok, nil
	}
	return -1, ErrNoCandidates
}
