package grammar

import (
	"errors"
	"fmt"
	"slices"
)

// Errors of compilation, wrapped with detail.
var (
	// ErrUnsupported: the schema uses a keyword or form the compiler cannot
	// turn into an automaton (it never guesses a looser one silently).
	ErrUnsupported = errors.New("unsupported schema")
	// ErrInvalidSchema: the schema itself is malformed.
	ErrInvalidSchema = errors.New("invalid schema")
	// ErrTooLarge: the automaton would exceed the compiler's limits.
	ErrTooLarge = errors.New("grammar too large")
)

// maxNodes bounds the automaton of one grammar.
const maxNodes = 1 << 20

// edge is a byte transition.
type edge struct {
	lo, hi byte
	to     int32
}

// call enters rule and, when it ends, continues at ret.
type call struct{ rule, ret int32 }

// node is a position inside a rule. Its epsilon closure within the rule
// (computed once by finish) is what the parser uses: the consuming nodes
// it reaches, the calls it can make, and whether it can end the rule.
type node struct {
	edges []edge  // byte transitions, sorted by lo
	eps   []int32 // builder only
	calls []call  // builder only
	end   bool    // builder only: the rule's end

	cons   []int32 // consuming nodes (with edges) reachable by epsilon, itself included
	ccalls []call  // calls reachable by epsilon
	canEnd bool    // the rule's end is reachable by epsilon
}

// rule is a callable sub-automaton (a schema, the JSON string, ...).
type rule struct {
	name  string
	entry int32
	body  bool // defined
}

// builder assembles rules into a Grammar.
type builder struct {
	nodes  []node
	rules  []rule
	shared map[*expr][2]int32 // exShared: entry and end node
	err    error
}

func (b *builder) newNode() int32 {
	if len(b.nodes) >= maxNodes {
		if b.err == nil {
			b.err = fmt.Errorf("%w: more than %d automaton nodes", ErrTooLarge, maxNodes)
		}
		return 0
	}
	b.nodes = append(b.nodes, node{})
	return int32(len(b.nodes) - 1)
}

// newRule reserves a rule so that it can be called before it is defined
// (recursive schemas).
func (b *builder) newRule(name string) int32 {
	b.rules = append(b.rules, rule{name: name, entry: -1})
	return int32(len(b.rules) - 1)
}

// define gives rule r its body.
func (b *builder) define(r int32, e *expr) {
	entry := b.newNode()
	last := b.emit(e, entry)
	end := b.newNode()
	if b.err != nil {
		return
	}
	b.nodes[end].end = true
	b.nodes[last].eps = append(b.nodes[last].eps, end)
	b.rules[r].entry, b.rules[r].body = entry, true
}

// emit adds the nodes of e starting at from and returns the node where a
// match of e ends. It only adds edges leaving from, never entering it, so
// alternatives can share their start node.
func (b *builder) emit(e *expr, from int32) int32 {
	if b.err != nil {
		return from
	}
	switch e.kind {
	case exLit:
		cur := from
		for _, c := range e.lit {
			nxt := b.newNode()
			b.nodes[cur].edges = append(b.nodes[cur].edges, edge{c, c, nxt})
			cur = nxt
		}
		return cur
	case exSet:
		nxt := b.newNode()
		for _, r := range e.ranges {
			b.nodes[from].edges = append(b.nodes[from].edges, edge{r.lo, r.hi, nxt})
		}
		return nxt
	case exSeq:
		cur := from
		for _, s := range e.subs {
			cur = b.emit(s, cur)
		}
		return cur
	case exAlt:
		end := b.newNode()
		for _, s := range e.subs {
			t := b.emit(s, from)
			b.nodes[t].eps = append(b.nodes[t].eps, end)
		}
		return end
	case exRep:
		cur := from
		for range e.min {
			cur = b.emit(e.subs[0], cur)
		}
		if e.max < 0 {
			loop := b.newNode()
			b.nodes[cur].eps = append(b.nodes[cur].eps, loop)
			t := b.emit(e.subs[0], loop)
			b.nodes[t].eps = append(b.nodes[t].eps, loop)
			return loop
		}
		end := b.newNode()
		for range e.max - e.min {
			b.nodes[cur].eps = append(b.nodes[cur].eps, end)
			cur = b.emit(e.subs[0], cur)
		}
		b.nodes[cur].eps = append(b.nodes[cur].eps, end)
		return end
	case exRef:
		ret := b.newNode()
		b.nodes[from].calls = append(b.nodes[from].calls, call{e.rule, ret})
		return ret
	case exNone:
		return b.newNode() // unreachable end: nothing leads past it
	case exShared:
		if at, ok := b.shared[e]; ok {
			b.nodes[from].eps = append(b.nodes[from].eps, at[0])
			return at[1]
		}
		entry := b.newNode()
		b.nodes[from].eps = append(b.nodes[from].eps, entry)
		end := b.emit(e.subs[0], entry)
		if b.shared == nil {
			b.shared = map[*expr][2]int32{}
		}
		b.shared[e] = [2]int32{entry, end}
		return end
	}
	panic(fmt.Sprintf("grammar: unknown expr kind %d", e.kind))
}

// finish computes the epsilon closures, prunes nothing, and checks that no
// rule can call itself without consuming a byte (left recursion, which the
// parser could not expand).
func (b *builder) finish(root int32) (*Grammar, error) {
	if b.err != nil {
		return nil, b.err
	}
	for i, r := range b.rules {
		if !r.body {
			return nil, fmt.Errorf("%w: rule %q is never defined", ErrInvalidSchema, r.name)
		}
		_ = i
	}
	seen := make([]uint32, len(b.nodes))
	stamp := uint32(0)
	var stack []int32
	for i := range b.nodes {
		stamp++
		stack = append(stack[:0], int32(i))
		seen[i] = stamp
		n := &b.nodes[i]
		for len(stack) > 0 {
			m := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			mn := &b.nodes[m]
			if len(mn.edges) > 0 {
				n.cons = append(n.cons, m)
			}
			n.ccalls = append(n.ccalls, mn.calls...)
			if mn.end {
				n.canEnd = true
			}
			for _, t := range mn.eps {
				if seen[t] != stamp {
					seen[t] = stamp
					stack = append(stack, t)
				}
			}
		}
		slices.Sort(n.cons)
	}
	for i := range b.nodes {
		n := &b.nodes[i]
		slices.SortFunc(n.edges, func(x, y edge) int { return int(x.lo) - int(y.lo) })
		n.eps, n.calls = nil, nil
	}
	g := &Grammar{nodes: b.nodes, rules: b.rules, root: root}
	if !g.prune() {
		return nil, fmt.Errorf("%w: the schema accepts nothing", ErrInvalidSchema)
	}
	if err := g.checkLeftRecursion(); err != nil {
		return nil, err
	}
	g.masks = make([]maskSlot, len(g.nodes))
	return g, nil
}

// checkLeftRecursion fails when a rule can reach a call of itself from its
// entry without consuming a byte.
func (g *Grammar) checkLeftRecursion() error {
	// nullable[r]: rule r can end without consuming (fixed point).
	nullable := make([]bool, len(g.rules))
	for changed := true; changed; {
		changed = false
		for r := range g.rules {
			if !nullable[r] && g.nullableFrom(g.rules[r].entry, nullable, map[int32]bool{}) {
				nullable[r], changed = true, true
			}
		}
	}
	// first[r]: rules callable from r's entry before any byte.
	state := make([]uint8, len(g.rules)) // 0 new, 1 on stack, 2 done
	var visit func(r int32) error
	visit = func(r int32) error {
		state[r] = 1
		for _, c := range g.leadingCalls(g.rules[r].entry, nullable) {
			switch state[c] {
			case 1:
				return fmt.Errorf("%w: rule %q is left-recursive (it can call itself without consuming input)", ErrUnsupported, g.rules[c].name)
			case 0:
				if err := visit(c); err != nil {
					return err
				}
			}
		}
		state[r] = 2
		return nil
	}
	for r := range g.rules {
		if state[r] == 0 {
			if err := visit(int32(r)); err != nil {
				return err
			}
		}
	}
	return nil
}

// nullableFrom: the rule of n can end from n without consuming, given which
// rules are nullable.
func (g *Grammar) nullableFrom(n int32, nullable []bool, seen map[int32]bool) bool {
	if seen[n] {
		return false
	}
	seen[n] = true
	nd := &g.nodes[n]
	if nd.canEnd {
		return true
	}
	for _, c := range nd.ccalls {
		if nullable[c.rule] && g.nullableFrom(c.ret, nullable, seen) {
			return true
		}
	}
	return false
}

// leadingCalls lists the rules callable from n before any byte is consumed.
func (g *Grammar) leadingCalls(n int32, nullable []bool) []int32 {
	var out []int32
	seen := map[int32]bool{}
	var walk func(n int32)
	walk = func(n int32) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, c := range g.nodes[n].ccalls {
			if !slices.Contains(out, c.rule) {
				out = append(out, c.rule)
			}
			if nullable[c.rule] {
				walk(c.ret)
			}
		}
	}
	walk(n)
	return out
}

// prune removes every transition into a dead end (a node from which its
// rule cannot end, say the value of a property whose schema accepts
// nothing), so that a matcher never walks into a state with no way out.
// It reports whether the root rule accepts anything.
func (g *Grammar) prune() bool {
	live := make([]bool, len(g.nodes))
	productive := make([]bool, len(g.rules))
	liveNode := func(n int32) bool {
		nd := &g.nodes[n]
		if nd.canEnd {
			return true
		}
		for _, m := range nd.cons {
			for _, e := range g.nodes[m].edges {
				if live[e.to] {
					return true
				}
			}
		}
		for _, c := range nd.ccalls {
			if productive[c.rule] && live[c.ret] {
				return true
			}
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for i := len(g.nodes) - 1; i >= 0; i-- {
			if !live[i] && liveNode(int32(i)) {
				live[i], changed = true, true
			}
		}
		for r := range g.rules {
			if !productive[r] && live[g.rules[r].entry] {
				productive[r], changed = true, true
			}
		}
	}
	for i := range g.nodes {
		nd := &g.nodes[i]
		nd.edges = slices.DeleteFunc(nd.edges, func(e edge) bool { return !live[e.to] })
		nd.ccalls = slices.DeleteFunc(nd.ccalls, func(c call) bool { return !productive[c.rule] || !live[c.ret] })
	}
	for i := range g.nodes {
		nd := &g.nodes[i]
		nd.cons = slices.DeleteFunc(nd.cons, func(m int32) bool { return len(g.nodes[m].edges) == 0 })
	}
	return productive[g.root]
}
