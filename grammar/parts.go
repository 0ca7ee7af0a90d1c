package grammar

import (
	"fmt"
	"sort"
)

// Part is one piece of a structured output: literal text, or a JSON value
// matching Schema (JSON Schema bytes; empty means any JSON value).
type Part struct {
	Literal string
	Schema  []byte
	IsJSON  bool // the part is a JSON value (Schema), not Literal
}

// CompileParts compiles a choice of sequences of parts: for example a tool
// call that must be one of several functions, each a literal name, the
// arguments object of its schema and the literal that closes the call.
func CompileParts(alts [][]Part, v *Vocab, opt Options) (*Grammar, error) {
	if opt.Whitespace < 0 {
		opt.Whitespace = DefaultWhitespace
	}
	c := &compiler{opt: opt, rules: map[*object]int32{}, anyRule: -1, strRule: -1, relaxed: map[string]bool{}}
	root := c.b.newRule("root")
	var choices []*expr
	for i, parts := range alts {
		var seqParts []*expr
		for j, p := range parts {
			if !p.IsJSON {
				seqParts = append(seqParts, lit(p.Literal))
				continue
			}
			var doc any = true
			if len(p.Schema) > 0 {
				d, err := parseJSON(p.Schema)
				if err != nil {
					return nil, fmt.Errorf("%w: alternative %d part %d: %v", ErrInvalidSchema, i, j, err)
				}
				doc = d
			}
			c.root = doc // $refs resolve within their own document
			e, err := c.value(doc)
			if err != nil {
				return nil, fmt.Errorf("alternative %d part %d: %w", i, j, err)
			}
			seqParts = append(seqParts, e)
		}
		choices = append(choices, seq(seqParts...))
	}
	e := alt(choices...)
	if e.kind == exNone {
		return nil, fmt.Errorf("%w: nothing matches", ErrInvalidSchema)
	}
	c.b.define(root, e)
	g, err := c.b.finish(root)
	if err != nil {
		return nil, err
	}
	g.vocab = v
	for k := range c.relaxed {
		g.Relaxed = append(g.Relaxed, k)
	}
	sort.Strings(g.Relaxed)
	return g, nil
}
