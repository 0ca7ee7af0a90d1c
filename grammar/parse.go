package grammar

// The parser runs a Grammar over bytes. Its state is a set of
// configurations, each a consuming node and the stack of return nodes that
// got there (the set is how alternatives that share a prefix, anyOf
// branches for instance, run side by side). After every byte the set is
// closed: epsilon moves within a rule, calls (push) and rule ends (pop) are
// followed until only consuming nodes remain. Reaching the end of the
// bottom rule with an empty stack sets the set's accept flag.

// config is one parser thread: at consuming node node with return stack stack.
type config struct{ node, stack int32 }

// maxStackDepth bounds nesting (a recursive schema generating ever deeper
// arrays, say); deeper pushes are dropped.
const maxStackDepth = 512

// maxConfigs bounds one closed set; larger sets are cut (the parser then
// forgets some alternatives, never accepts more).
const maxConfigs = 1 << 14

// stackTable interns return stacks as (top, rest) pairs; id 0 is the empty stack.
type stackTable struct {
	ret, parent []int32
	depth       []uint16
	index       map[uint64]int32
}

func newStackTable() *stackTable {
	return &stackTable{ret: []int32{-1}, parent: []int32{-1}, depth: []uint16{0}, index: map[uint64]int32{}}
}

func (t *stackTable) reset() {
	t.ret, t.parent, t.depth = t.ret[:1], t.parent[:1], t.depth[:1]
	clear(t.index)
}

// push returns the stack ret:parent; ok is false beyond maxStackDepth.
func (t *stackTable) push(ret, parent int32) (int32, bool) {
	key := uint64(uint32(ret))<<32 | uint64(uint32(parent))
	if id, ok := t.index[key]; ok {
		return id, true
	}
	d := t.depth[parent] + 1
	if d > maxStackDepth {
		return 0, false
	}
	id := int32(len(t.ret))
	t.ret, t.parent, t.depth = append(t.ret, ret), append(t.parent, parent), append(t.depth, d)
	t.index[key] = id
	return id, true
}

// seenSet is a set of uint64 keys cleared in O(1) by bumping a generation.
type seenSet struct {
	keys []uint64
	gens []uint32
	gen  uint32
	n    int
}

func (s *seenSet) reset() {
	s.gen++
	s.n = 0
	if s.gen == 0 {
		clear(s.gens)
		s.gen = 1
	}
	if len(s.keys) == 0 {
		s.keys, s.gens = make([]uint64, 64), make([]uint32, 64)
	}
}

// add reports whether k was new.
func (s *seenSet) add(k uint64) bool {
	if 2*(s.n+1) > len(s.keys) {
		s.grow()
	}
	mask := uint64(len(s.keys) - 1)
	h := (k * 0x9E3779B97F4A7C15) >> 20
	for i := h & mask; ; i = (i + 1) & mask {
		if s.gens[i] != s.gen {
			s.keys[i], s.gens[i] = k, s.gen
			s.n++
			return true
		}
		if s.keys[i] == k {
			return false
		}
	}
}

func (s *seenSet) grow() {
	oldK, oldG, gen := s.keys, s.gens, s.gen
	s.keys, s.gens = make([]uint64, 2*len(oldK)), make([]uint32, 2*len(oldK))
	s.gen, s.n = 1, 0
	for i, k := range oldK {
		if oldG[i] == gen {
			s.add(k)
		}
	}
}

// parser holds the scratch of closing and stepping sets for one grammar.
type parser struct {
	g      *Grammar
	stacks *stackTable
	seen   seenSet
	work   []config
}

func newParser(g *Grammar) *parser { return &parser{g: g, stacks: newStackTable()} }

// close appends to dst the consuming configurations reachable from p.work
// and reports whether the bottom rule can end. p.work is consumed.
func (p *parser) close(dst []config) ([]config, bool) {
	p.seen.reset()
	accept := false
	g := p.g
	base := len(dst)
	for len(p.work) > 0 {
		c := p.work[len(p.work)-1]
		p.work = p.work[:len(p.work)-1]
		if !p.seen.add(uint64(uint32(c.node))<<32 | uint64(uint32(c.stack))) {
			continue
		}
		nd := &g.nodes[c.node]
		for _, m := range nd.cons {
			if p.seen.add(1<<63|uint64(uint32(m))<<32|uint64(uint32(c.stack))) && len(dst)-base < maxConfigs {
				dst = append(dst, config{m, c.stack})
			}
		}
		for _, cl := range nd.ccalls {
			if s, ok := p.stacks.push(cl.ret, c.stack); ok {
				p.work = append(p.work, config{g.rules[cl.rule].entry, s})
			}
		}
		if nd.canEnd {
			if c.stack == 0 {
				accept = true
			} else {
				p.work = append(p.work, config{p.stacks.ret[c.stack], p.stacks.parent[c.stack]})
			}
		}
	}
	return dst, accept
}

// step appends to dst the closed set after byte b from src.
func (p *parser) step(dst, src []config, b byte) ([]config, bool) {
	g := p.g
	p.work = p.work[:0]
	for _, c := range src {
		for _, e := range g.nodes[c.node].edges {
			if e.lo > b {
				break
			}
			if b <= e.hi {
				p.work = append(p.work, config{e.to, c.stack})
			}
		}
	}
	if len(p.work) == 0 {
		return dst, false
	}
	return p.close(dst)
}

// start appends to dst the closed set of node n with stack s.
func (p *parser) start(dst []config, n, s int32) ([]config, bool) {
	p.work = append(p.work[:0], config{n, s})
	return p.close(dst)
}
