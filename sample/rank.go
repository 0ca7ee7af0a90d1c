package sample

import (
	"math"
	"slices"
)

// The ranking is the order of tokens by processed logit, largest first, ties
// by lower id. Top-k, top-p, min-p and the draw each cut a prefix of it, so
// the sampler never needs more of it sorted than the places where a cut or
// the draw falls. It is held in one of two forms:
//
//   - candidates (top-k with k <= maxHeapK): the k first tokens, selected by a
//     heap and sorted; one run.
//   - buckets (otherwise): every token is put in a bucket by its scaled logit
//     z = (x - max) / T: bucket floor(-z * bucketsPerUnit), or zeroBucket when
//     z <= -zRange (weight 0). Buckets are contiguous runs of the ranking with
//     known count and mass; a walk (walk.go) skips whole runs and looks
//     inside only the ones a cut falls into. A run it looks inside becomes a
//     node: its members are collected, and either sorted (at most refineMax
//     of them, or at the deepest level) or split by a finer key into fanout
//     child runs, so a flat distribution (high temperature, near-equal
//     logits) never sorts a large bucket.

const (
	maxHeapK       = 1024 // largest top-k served by the heap; larger k use buckets
	bucketsPerUnit = 32   // bucket width 1/32 in z
	zRange         = 88   // z <= -88 has weight 0 (e^-88 is below float32's normal range)
	zeroBucket     = zRange * bucketsPerUnit
	numBuckets     = zeroBucket + 1
	refineMax      = 512 // a node with more members is split rather than sorted
	fanout         = 256 // children of a split node, each 1/256 of its width
	maxDepth       = 2   // bucket, child, grandchild: width 1/(32·256²) in z at the bottom
)

// zOf is the temperature-scaled logit relative to the maximum m: <= 0.
func zOf(x, m, temp float32) float32 { return (x - m) / temp }

// bucketExp[b] = e^(-b/bucketsPerUnit).
var bucketExp = func() (t [zeroBucket]float64) {
	for b := range t {
		t[b] = math.Exp(-float64(b) / bucketsPerUnit)
	}
	return t
}()

// bucketWeight returns the bucket of a scaled logit z <= 0 and its weight
// w = float32(e^z), 0 in zeroBucket. With f = -32z (exact), b = floor(f) and
// d = (f - b)/32 in [0, 1/32) (exact), e^z = e^(-b/32) · e^(-d), the last by
// a degree-5 Taylor polynomial: relative error below 2e-12 before the
// rounding to float32. Small enough to be inlined into the vocabulary pass.
func bucketWeight(z float32) (int, float32) {
	if !(z > -zRange) {
		return zeroBucket, 0
	}
	f := max(-z*bucketsPerUnit, 0) // z <= 0 by construction; the clamp keeps b in range regardless
	b := int(f)                    // in [0, zeroBucket)
	d := float64(f-float32(b)) * (1.0 / bucketsPerUnit)
	p := 1 - d*(1-d*(1.0/2-d*(1.0/6-d*(1.0/24-d*(1.0/120)))))
	return b, float32(bucketExp[b] * p)
}

// weightOf is the weight of a token with scaled logit z <= 0.
func weightOf(z float32) float32 {
	_, w := bucketWeight(z)
	return w
}

// bucketStat is the count and mass (Σ w, float64) of one bucket.
type bucketStat struct {
	mass  float64
	count int32
}

// node is a run of the ranking whose members sit in pool[lo:hi]. In f = -32z
// units it covers [base, base+width); base is NaN for the candidate run,
// which has no bounds.
type node struct {
	lo, hi      int
	mass        float64
	base, width float64
	kids        int  // index in nodes of the first of fanout children; -1 for none
	sorted      bool // pool[lo:hi] is in ranking order
}

// opened maps a bucket to its node.
type opened struct{ b, node int }

// reset forgets the nodes of the previous draw.
func (s *Sampler) resetRanking() {
	s.pool, s.nodes, s.opened = s.pool[:0], s.nodes[:0], s.opened[:0]
}

// useCandidates ranks the first k tokens only (k in [1, len(logits))): one
// sorted root node.
func (s *Sampler) useCandidates(logits []float32, k int, temp float32) bool {
	s.pool = selectTop(s.pool, logits, k)
	m := s.pool[0].x
	if m == negInf {
		return false
	}
	var mass float64
	for i := range s.pool {
		w := weightOf(zOf(s.pool[i].x, m, temp))
		s.pool[i].w = w
		mass += float64(w)
	}
	s.nodes = append(s.nodes, node{lo: 0, hi: len(s.pool), mass: mass, base: math.NaN(), kids: -1, sorted: true})
	s.bucketed = false
	return true
}

// useBuckets ranks the whole vocabulary: Argmax finds the maximum (one
// fast pass), then a second pass rewrites logits with readLogit and computes
// every token's bucket and weight.
func (s *Sampler) useBuckets(logits []float32, temp float32) bool {
	top := Argmax(logits)
	if top < 0 {
		return false
	}
	m := readLogit(logits[top])
	clear(s.buckets[:])
	buckets := s.buckets[:]
	s.key = grow(s.key, len(logits))
	keys := s.key[:len(logits)]
	for i, v := range logits {
		if !(v <= math.MaxFloat32) { // NaN or +Inf: rare
			v = readLogit(v)
			logits[i] = v
		}
		b, w := bucketWeight(zOf(v, m, temp))
		keys[i] = uint16(b)
		buckets[b].mass += float64(w)
		buckets[b].count++
	}
	s.bucketed, s.maxX, s.temp, s.logits = true, m, temp, logits
	return true
}

// openBucket returns the node of bucket b, collecting its members (in id
// order) on first use.
func (s *Sampler) openBucket(b int) int {
	for _, o := range s.opened {
		if o.b == b {
			return o.node
		}
	}
	lo := len(s.pool)
	key := uint16(b)
	var mass float64
	for i, k := range s.key[:len(s.logits)] {
		if k == key {
			x := s.logits[i]
			w := weightOf(zOf(x, s.maxX, s.temp))
			s.pool = append(s.pool, cand{x: x, w: w, id: int32(i)})
			mass += float64(w)
		}
	}
	s.nodes = append(s.nodes, node{lo: lo, hi: len(s.pool), mass: mass, base: float64(b), width: 1, kids: -1})
	s.opened = append(s.opened, opened{b: b, node: len(s.nodes) - 1})
	return len(s.nodes) - 1
}

// sortNode puts a node's members in ranking order. Members of a node not
// yet sorted are in id order (collected in id order, split stably), so equal
// logits need no sort.
func (s *Sampler) sortNode(n int) []cand {
	nd := &s.nodes[n]
	members := s.pool[nd.lo:nd.hi]
	if !nd.sorted {
		if !allEqual(members) {
			slices.SortFunc(members, cmpRank)
		}
		nd.sorted = true
	}
	return members
}

// allEqual reports whether all members have the same logit.
func allEqual(members []cand) bool {
	for i := 1; i < len(members); i++ {
		if members[i].x != members[0].x {
			return false
		}
	}
	return true
}

// split divides node n into fanout children by the finer key
// floor((f - base) · fanout / width), f = -32z, reordering its members
// (stably) so each child's members are contiguous. All of it is exact: f,
// base and the scaled difference are representable.
func (s *Sampler) split(n int) {
	nd := s.nodes[n]
	members := s.pool[nd.lo:nd.hi]
	scale := fanout / nd.width
	var count [fanout]int32
	var mass [fanout]float64
	s.sub = grow(s.sub, len(members))
	sub := s.sub[:len(members)]
	for i, c := range members {
		f := float64(max(-zOf(c.x, s.maxX, s.temp)*bucketsPerUnit, 0))
		j := min(max(int((f-nd.base)*scale), 0), fanout-1)
		sub[i] = uint8(j)
		count[j]++
		mass[j] += float64(c.w)
	}
	var start [fanout]int
	for j, at := 1, 0; j < fanout; j++ {
		at += int(count[j-1])
		start[j] = at
	}
	s.tmp = grow(s.tmp, len(members))
	tmp := s.tmp[:len(members)]
	next := start
	for i, c := range members {
		tmp[next[sub[i]]] = c
		next[sub[i]]++
	}
	copy(members, tmp)
	kids := len(s.nodes)
	for j := range fanout {
		s.nodes = append(s.nodes, node{
			lo: nd.lo + start[j], hi: nd.lo + start[j] + int(count[j]), mass: mass[j],
			base: nd.base + float64(j)/scale, width: nd.width / fanout, kids: -1,
		})
	}
	s.nodes[n].kids = kids
}
