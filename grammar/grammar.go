package grammar

import (
	"sync"
	"sync/atomic"
)

// Grammar is a compiled constraint bound to one Vocab: rules of byte
// automata that call each other, and the lazily filled per-node masks.
// It is safe for concurrent use; Matchers (one per output) are not.
type Grammar struct {
	vocab *Vocab
	nodes []node
	rules []rule
	root  int32

	masks    []maskSlot
	computed atomic.Int64
	walkers  sync.Pool // *walker

	// Relaxed lists the keywords the schema uses that the grammar accepts
	// but does not enforce (uniqueItems, multipleOf, ...): output under the
	// mask is valid JSON that may break those keywords.
	Relaxed []string
}

// Vocab is the vocabulary the grammar's masks are over.
func (g *Grammar) Vocab() *Vocab { return g.vocab }

// NumNodes is the size of the automaton.
func (g *Grammar) NumNodes() int { return len(g.nodes) }

// NumRules is the number of rules.
func (g *Grammar) NumRules() int { return len(g.rules) }

// MasksComputed counts the node masks computed so far (each is computed
// once per grammar, on first use).
func (g *Grammar) MasksComputed() int64 { return g.computed.Load() }
