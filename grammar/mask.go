package grammar

import (
	"sync/atomic"
)

// nodeMask is what a consuming node allows regardless of the stack below
// its rule: tokens accepted for sure, and tokens that leave the rule part
// way through (they pop past the node's rule, so the rest of their bytes
// must be checked against the real stack at run time).
type nodeMask struct {
	dense  []uint64 // [words] accepted tokens, or nil when sparse holds them
	sparse []int32
	unc    []uncertain
}

// uncertain is a token that ends the node's rule after off bytes.
type uncertain struct {
	tok int32
	off uint16
}

// maskSlot holds a node's mask once computed; computing is idempotent, so
// concurrent fillers may race and either result is kept.
type maskSlot struct{ p atomic.Pointer[nodeMask] }

func (g *Grammar) nodeMask(n int32) *nodeMask {
	if m := g.masks[n].p.Load(); m != nil {
		return m
	}
	w, _ := g.walkers.Get().(*walker)
	if w == nil {
		w = &walker{g: g, p: newParser(g)}
	}
	m := w.build(n)
	g.walkers.Put(w)
	if g.masks[n].p.CompareAndSwap(nil, m) {
		g.computed.Add(1)
		return m
	}
	return g.masks[n].p.Load()
}

// walker computes node masks by walking the token trie.
type walker struct {
	g       *Grammar
	p       *parser
	arena   []config
	escapes []uint16
	acc     []int32
	unc     []uncertain
}

// build walks the trie from node n alone on an empty stack: a byte path
// that keeps a configuration alive accepts the tokens ending there; one
// that pops the empty stack (ends n's rule) after d bytes makes the tokens
// below it uncertain at offset d.
func (w *walker) build(n int32) *nodeMask {
	w.p.stacks.reset()
	w.acc, w.unc, w.escapes = w.acc[:0], w.unc[:0], w.escapes[:0]
	w.arena = append(w.arena[:0], config{n, 0})
	v := w.g.vocab
	for c := int32(1); c < v.trie[0].next; c = v.trie[c].next {
		w.visit(c, 0, 1)
	}
	m := &nodeMask{unc: append([]uncertain(nil), w.unc...)}
	words := v.Words()
	if len(w.acc)*4 < words*8 {
		m.sparse = append([]int32(nil), w.acc...)
	} else {
		m.dense = make([]uint64, words)
		for _, t := range w.acc {
			m.dense[t>>6] |= 1 << (t & 63)
		}
	}
	return m
}

// visit steps trie node i from the set arena[lo:hi].
func (w *walker) visit(i int32, lo, hi int) {
	v := w.g.vocab
	nd := &v.trie[i]
	start := len(w.arena)
	var esc bool
	w.arena, esc = w.p.step(w.arena, w.arena[lo:hi], nd.b)
	end := len(w.arena)
	alive := end > start
	own := v.toks[nd.tok:v.trie[i+1].tok]
	if alive || esc {
		w.acc = append(w.acc, own...)
	} else {
		w.addUncertain(own)
	}
	if esc {
		w.escapes = append(w.escapes, nd.depth)
	}
	switch {
	case alive:
		for c := i + 1; c < nd.next; c = v.trie[c].next {
			w.visit(c, start, end)
		}
	case len(w.escapes) > 0:
		w.addUncertain(v.toks[v.trie[i+1].tok:v.trie[nd.next].tok])
	}
	if esc {
		w.escapes = w.escapes[:len(w.escapes)-1]
	}
	w.arena = w.arena[:start]
}

func (w *walker) addUncertain(toks []int32) {
	for _, off := range w.escapes {
		for _, t := range toks {
			w.unc = append(w.unc, uncertain{t, off})
		}
	}
}

// Matcher follows one output through a Grammar: Allowed writes the mask of
// tokens that keep the output a prefix of a sentence of the grammar, and
// Accept advances past the token sampled. It is not safe for concurrent use
// (one per sequence); the Grammar it came from is shared.
type Matcher struct {
	g        *Grammar
	p        *parser
	cur      []config
	accept   bool // the output so far is complete: EOS is allowed
	done     bool // EOS was accepted
	bufA     []config
	bufB     []config
	popped   []config
	full     []uint64 // Allowed's scratch for a short mask
	numSteps int
}

// NewMatcher starts a matcher at the beginning of the output.
func (g *Grammar) NewMatcher() *Matcher {
	m := &Matcher{g: g, p: newParser(g)}
	m.cur, m.accept = m.p.start(nil, g.rules[g.root].entry, 0)
	return m
}

// Allowed sets in mask (a bitset: bit id%64 of word id/64, at least
// Vocab.Words long; extra words are cleared) the tokens allowed next. It
// never leaves the mask empty: a matcher with nothing left to match
// allows the EOS ids.
func (m *Matcher) Allowed(mask []uint64) {
	v := m.g.vocab
	if len(mask) < v.Words() { // a model vocabulary smaller than the tokenizer's
		if cap(m.full) < v.Words() {
			m.full = make([]uint64, v.Words())
		}
		m.allowed(m.full[:v.Words()])
		copy(mask, m.full)
		return
	}
	m.allowed(mask)
}

func (m *Matcher) allowed(mask []uint64) {
	clear(mask)
	v := m.g.vocab
	any := false
	if !m.done {
		for _, c := range m.cur {
			nm := m.g.nodeMask(c.node)
			if nm.dense != nil {
				for k, w := range nm.dense {
					mask[k] |= w
				}
				any = true
			}
			for _, t := range nm.sparse {
				mask[t>>6] |= 1 << (t & 63)
				any = true
			}
			if len(nm.unc) == 0 {
				continue
			}
			var popAcc bool
			m.popped = m.popped[:0]
			if c.stack == 0 {
				popAcc = true
			} else {
				st := m.p.stacks
				m.popped, popAcc = m.p.start(m.popped, st.ret[c.stack], st.parent[c.stack])
			}
			for _, u := range nm.unc {
				if mask[u.tok>>6]&(1<<(u.tok&63)) != 0 {
					continue
				}
				if m.suffixOK(m.popped, popAcc, v.Bytes(u.tok)[u.off:]) {
					mask[u.tok>>6] |= 1 << (u.tok & 63)
					any = true
				}
			}
		}
	}
	if m.accept || m.done || !any {
		for _, id := range v.eos {
			mask[id>>6] |= 1 << (id & 63)
		}
	}
}

// suffixOK reports whether bytes b can follow the closed set (set, acc).
func (m *Matcher) suffixOK(set []config, acc bool, b []byte) bool {
	if len(b) == 0 {
		return len(set) > 0 || acc
	}
	cur := set
	for i, c := range b {
		if len(cur) == 0 {
			return false
		}
		dst := &m.bufA
		if i%2 == 1 {
			dst = &m.bufB
		}
		*dst, acc = m.p.step((*dst)[:0], cur, c)
		cur = *dst
	}
	return len(cur) > 0 || acc
}

// Accept advances past token tok; it reports false, changing nothing, when
// the grammar does not allow tok here.
func (m *Matcher) Accept(tok int32) bool {
	v := m.g.vocab
	if m.done {
		return v.isEOS(tok)
	}
	if v.isEOS(tok) {
		if !m.accept {
			return false
		}
		m.done = true
		return true
	}
	b := v.Bytes(tok)
	if len(b) == 0 {
		return false
	}
	return m.AcceptBytes(b)
}

// AcceptBytes advances past the bytes b (which need not be whole tokens);
// it reports false, changing nothing, when they leave the grammar.
func (m *Matcher) AcceptBytes(b []byte) bool {
	if m.done {
		return len(b) == 0
	}
	cur, acc := m.cur, m.accept
	for i, c := range b {
		if len(cur) == 0 {
			return false
		}
		dst := &m.bufA
		if i%2 == 1 {
			dst = &m.bufB
		}
		*dst, acc = m.p.step((*dst)[:0], cur, c)
		cur = *dst
	}
	if len(cur) == 0 && !acc {
		return false
	}
	m.cur = append(m.cur[:0:0], cur...)
	m.accept = acc
	m.numSteps++
	return true
}

// CanEnd reports whether the output so far is a complete sentence.
func (m *Matcher) CanEnd() bool { return m.accept || m.done }

// Dead reports whether nothing but EOS may follow (the output is complete
// and cannot be extended, or EOS was accepted).
func (m *Matcher) Dead() bool { return m.done || len(m.cur) == 0 }

// Clone returns an independent matcher in the same state.
func (m *Matcher) Clone() *Matcher {
	c := &Matcher{g: m.g, p: newParser(m.g), accept: m.accept, done: m.done}
	// Stacks are interned per parser: copy the table so ids stay valid.
	st := m.p.stacks
	c.p.stacks = &stackTable{ret: append([]int32(nil), st.ret...), parent: append([]int32(nil), st.parent...),
		depth: append([]uint16(nil), st.depth...), index: make(map[uint64]int32, len(st.index))}
	for k, id := range st.index {
		c.p.stacks.index[k] = id
	}
	c.cur = append([]config(nil), m.cur...)
	return c
}
