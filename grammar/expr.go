package grammar

import "slices"

// exprKind says what an expr matches.
type exprKind uint8

const (
	exLit  exprKind = iota // the bytes of lit
	exSet                  // one byte in ranges
	exSeq                  // subs one after another
	exAlt                  // one of subs
	exRep                  // subs[0] between min and max times (max < 0: unbounded)
	exRef                  // a call of rule
	exNone                 // matches nothing (the false schema)
	// exShared is subs[0], laid out once however often it occurs: every
	// later occurrence jumps into the same nodes, so it must be followed by
	// the same continuation wherever it occurs (a tail of one rule).
	exShared
)

// byteRange is an inclusive range of bytes.
type byteRange struct{ lo, hi byte }

// expr is the body of a rule: a regular expression over bytes whose atoms
// may also be calls of other rules (so the whole is context-free).
type expr struct {
	kind     exprKind
	lit      []byte
	ranges   []byteRange
	subs     []*expr
	min, max int
	rule     int32
}

func lit(s string) *expr { return &expr{kind: exLit, lit: []byte(s)} }

func litBytes(b []byte) *expr { return &expr{kind: exLit, lit: slices.Clone(b)} }

func byteSet(r ...byteRange) *expr { return &expr{kind: exSet, ranges: r} }

func oneByte(c byte) *expr { return byteSet(byteRange{c, c}) }

func none() *expr { return &expr{kind: exNone} }

func ref(rule int32) *expr { return &expr{kind: exRef, rule: rule} }

// seq concatenates; nil parts are skipped.
func seq(parts ...*expr) *expr {
	out := make([]*expr, 0, len(parts))
	for _, p := range parts {
		switch {
		case p == nil:
		case p.kind == exNone:
			return none()
		case p.kind == exSeq:
			out = append(out, p.subs...)
		case p.kind == exLit && len(p.lit) == 0:
		default:
			out = append(out, p)
		}
	}
	switch len(out) {
	case 0:
		return lit("")
	case 1:
		return out[0]
	}
	return &expr{kind: exSeq, subs: out}
}

// alt is a choice; exNone alternatives are dropped.
func alt(parts ...*expr) *expr {
	out := make([]*expr, 0, len(parts))
	for _, p := range parts {
		switch {
		case p == nil || p.kind == exNone:
		case p.kind == exAlt:
			out = append(out, p.subs...)
		default:
			out = append(out, p)
		}
	}
	switch len(out) {
	case 0:
		return none()
	case 1:
		return out[0]
	}
	return &expr{kind: exAlt, subs: out}
}

func rep(e *expr, min, max int) *expr {
	if max == 0 || e.kind == exNone && min == 0 {
		return lit("")
	}
	if e.kind == exNone {
		return none()
	}
	return &expr{kind: exRep, subs: []*expr{e}, min: min, max: max}
}

func opt(e *expr) *expr  { return rep(e, 0, 1) }
func star(e *expr) *expr { return rep(e, 0, -1) }

// shared wraps e so that its occurrences share one copy of its nodes.
func shared(e *expr) *expr {
	if e.kind == exNone {
		return e
	}
	return &expr{kind: exShared, subs: []*expr{e}}
}
