package grammar

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strings"
)

// Options tune how a schema becomes a grammar.
type Options struct {
	// Whitespace is the most whitespace bytes allowed at each place JSON
	// allows it: 0 forces compact output, negative takes
	// DefaultWhitespace. A bound keeps a model from emitting whitespace
	// forever.
	Whitespace int
	// NoExtraProperties treats an absent additionalProperties as false
	// (OpenAI's strict mode) instead of JSON Schema's true.
	NoExtraProperties bool
}

// DefaultWhitespace is the whitespace bound when Options.Whitespace < 0:
// enough for pretty-printed JSON a few levels deep.
const DefaultWhitespace = 24

// Limits of counted repetition: larger counts are not enforced (the keyword
// is reported in Grammar.Relaxed) rather than unrolled.
const (
	maxUnrollChars = 64
	maxUnrollItems = 128
	maxSchemaDepth = 64
)

// CompileSchema compiles a JSON Schema (draft 4 to 2020-12 keywords, local
// $refs) into a grammar over v: the sentences are the compact or lightly
// spaced JSON texts the schema accepts, objects with their properties in
// the order the schema lists them.
func CompileSchema(schema []byte, v *Vocab, opt Options) (*Grammar, error) {
	doc, err := parseJSON(schema)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return compileDoc(doc, v, opt)
}

// CompileJSON compiles the grammar of any JSON object (OpenAI's
// response_format json_object).
func CompileJSON(v *Vocab, opt Options) (*Grammar, error) {
	o := newObject()
	o.set("type", "object")
	return compileDoc(o, v, opt)
}

func compileDoc(doc any, v *Vocab, opt Options) (*Grammar, error) {
	if opt.Whitespace < 0 {
		opt.Whitespace = DefaultWhitespace
	}
	c := &compiler{opt: opt, root: doc, rules: map[*object]int32{}, anyRule: -1, strRule: -1, relaxed: map[string]bool{}}
	root := c.b.newRule("root")
	e, err := c.value(doc)
	if err != nil {
		return nil, err
	}
	if e.kind == exNone {
		return nil, fmt.Errorf("%w: the schema accepts nothing", ErrInvalidSchema)
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

type compiler struct {
	b        builder
	opt      Options
	root     any
	rules    map[*object]int32
	anyRule  int32
	strRule  int32
	relaxed  map[string]bool
	depth    int
	resolves int
}

func (c *compiler) relax(kw string) { c.relaxed[kw] = true }

func (c *compiler) ws() *expr {
	if c.opt.Whitespace == 0 {
		return nil
	}
	return rep(byteSet(byteRange{' ', ' '}, byteRange{'\n', '\n'}, byteRange{'\r', '\r'}, byteRange{'\t', '\t'}), 0, c.opt.Whitespace)
}

// sep is a comma between list members.
func (c *compiler) sep() *expr { return seq(c.ws(), oneByte(','), c.ws()) }

// value is the expression of a schema (a bool or an object) in place.
func (c *compiler) value(s any) (*expr, error) {
	switch t := s.(type) {
	case bool:
		if t {
			return ref(c.anyValue()), nil
		}
		return none(), nil
	case *object:
		if c.inline(t) {
			return c.schema(t)
		}
		return ref(c.ruleFor(t)), c.b.err
	}
	return nil, fmt.Errorf("%w: a schema must be an object or a boolean, got %T", ErrInvalidSchema, s)
}

// inline reports whether o is small enough to lay out in place rather
// than as a rule of its own.
func (c *compiler) inline(o *object) bool {
	for _, k := range o.keys {
		switch k {
		case "$ref", "allOf", "anyOf", "oneOf", "properties", "items", "prefixItems", "additionalProperties", "required", "pattern", "format":
			return false
		}
	}
	ts, _ := typeList(o)
	return len(ts) > 0 && !slices.Contains(ts, "object") && !slices.Contains(ts, "array")
}

// ruleFor returns the rule of schema o, compiling it on first use (a
// recursive schema reaches its own rule while it is being compiled).
func (c *compiler) ruleFor(o *object) int32 {
	if r, ok := c.rules[o]; ok {
		return r
	}
	r := c.b.newRule(fmt.Sprintf("schema%d", len(c.rules)))
	c.rules[o] = r
	e, err := c.schema(o)
	if err != nil {
		if c.b.err == nil {
			c.b.err = err
		}
		return r
	}
	if e.kind == exNone {
		e = none()
	}
	c.b.define(r, e)
	return r
}

// Keyword classes.
var (
	unsupportedKeywords = []string{"not", "if", "then", "else", "contains", "minContains", "maxContains",
		"propertyNames", "unevaluatedProperties", "unevaluatedItems", "dependentSchemas", "$dynamicRef", "$recursiveRef"}
	// assertion keywords: a $ref with any of these beside it is an allOf.
	assertionKeywords = []string{"type", "properties", "required", "additionalProperties", "patternProperties",
		"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems", "enum", "const",
		"anyOf", "oneOf", "allOf", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
		"exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minProperties", "maxProperties",
		"dependencies", "dependentRequired", "not", "if", "then", "else", "contains", "propertyNames"}
)

func hasAssertions(o *object, except ...string) bool {
	for _, k := range o.keys {
		if slices.Contains(assertionKeywords, k) && !slices.Contains(except, k) {
			return true
		}
	}
	return false
}

// without returns a copy of o without keys.
func without(o *object, keys ...string) *object {
	out := newObject()
	for _, k := range o.keys {
		if !slices.Contains(keys, k) {
			out.set(k, o.m[k])
		}
	}
	return out
}

// schema is the expression of schema object o.
func (c *compiler) schema(o *object) (*expr, error) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: schema nested deeper than %d (or a cycle of allOf/$ref)", ErrUnsupported, maxSchemaDepth)
	}
	for _, k := range unsupportedKeywords {
		if o.has(k) {
			return nil, fmt.Errorf("%w: keyword %q", ErrUnsupported, k)
		}
	}
	if pp, ok := o.get("patternProperties"); ok {
		if p, isObj := pp.(*object); !isObj || len(p.keys) > 0 {
			return nil, fmt.Errorf("%w: keyword %q", ErrUnsupported, "patternProperties")
		}
	}
	if r, ok := o.get("$ref"); ok {
		ref, isStr := r.(string)
		if !isStr {
			return nil, fmt.Errorf("%w: $ref must be a string", ErrInvalidSchema)
		}
		target, err := c.resolve(ref)
		if err != nil {
			return nil, err
		}
		if !hasAssertions(o) {
			return c.value(target)
		}
		m := without(o, "$ref")
		m.set("allOf", []any{target})
		return c.schema(m)
	}
	if all, ok := o.get("allOf"); ok {
		merged, err := c.mergeAllOf(o, all)
		if err != nil {
			return nil, err
		}
		return c.value(merged)
	}
	if o.has("anyOf") || o.has("oneOf") {
		return c.anyOf(o)
	}
	if b, ok := o.get("nullable"); ok && b == true { // OpenAPI
		if ts, ok := typeList(o); ok && !slices.Contains(ts, "null") {
			o = o.clone()
			o.set("type", append(slices.Clone(anyList(ts)), "null"))
		}
	}
	for _, k := range []string{"multipleOf", "dependencies", "dependentRequired"} {
		if o.has(k) {
			c.relax(k)
		}
	}
	if u, ok := o.get("uniqueItems"); ok && u == true {
		c.relax("uniqueItems")
	}
	if e, ok := o.get("const"); ok {
		return c.enum(o, []any{e})
	}
	if e, ok := o.get("enum"); ok {
		list, isList := e.([]any)
		if !isList {
			return nil, fmt.Errorf("%w: enum must be an array", ErrInvalidSchema)
		}
		return c.enum(o, list)
	}
	types, ok := typeList(o)
	if !ok {
		return nil, fmt.Errorf("%w: type must be a string or an array of strings", ErrInvalidSchema)
	}
	if len(types) == 0 {
		types = []string{"object", "array", "string", "number", "boolean", "null"}
	}
	if slices.Contains(types, "number") {
		types = slices.DeleteFunc(slices.Clone(types), func(t string) bool { return t == "integer" })
	}
	var parts []*expr
	for _, t := range types {
		e, err := c.typed(o, t)
		if err != nil {
			return nil, err
		}
		parts = append(parts, e)
	}
	return alt(parts...), nil
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// typeList reads "type"; ok is false when it is malformed.
func typeList(o *object) ([]string, bool) {
	t, present := o.get("type")
	if !present {
		return nil, true
	}
	switch v := t.(type) {
	case string:
		return []string{v}, true
	case []any:
		var out []string
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

func (c *compiler) typed(o *object, t string) (*expr, error) {
	switch t {
	case "null":
		return lit("null"), nil
	case "boolean":
		return alt(lit("true"), lit("false")), nil
	case "integer":
		return c.numberExpr(o, true)
	case "number":
		return c.numberExpr(o, false)
	case "string":
		return c.stringExpr(o)
	case "array":
		return c.arrayExpr(o)
	case "object":
		return c.objectExpr(o)
	}
	return nil, fmt.Errorf("%w: unknown type %q", ErrInvalidSchema, t)
}

// enum is the choice of the listed values (those of an allowed type).
func (c *compiler) enum(o *object, values []any) (*expr, error) {
	types, _ := typeList(o)
	var parts []*expr
	for _, v := range values {
		if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return valueHasType(v, t) }) {
			continue
		}
		parts = append(parts, litBytes(appendJSON(nil, v)))
	}
	return alt(parts...), nil
}

func valueHasType(v any, t string) bool {
	switch x := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case json.Number:
		if t == "number" {
			return true
		}
		f, err := x.Float64()
		return t == "integer" && err == nil && f == math.Trunc(f)
	case []any:
		return t == "array"
	case *object:
		return t == "object"
	}
	return false
}

// anyOf is the choice of the branches, each with o's other keywords.
func (c *compiler) anyOf(o *object) (*expr, error) {
	if o.has("anyOf") && o.has("oneOf") {
		return nil, fmt.Errorf("%w: anyOf together with oneOf", ErrUnsupported)
	}
	key := "anyOf"
	if o.has("oneOf") {
		key = "oneOf"
		c.relax("oneOf")
	}
	list, ok := o.m[key].([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("%w: %s must be a non-empty array", ErrInvalidSchema, key)
	}
	rest := without(o, key)
	var parts []*expr
	for _, br := range list {
		if !hasAssertions(rest) {
			e, err := c.value(br)
			if err != nil {
				return nil, err
			}
			parts = append(parts, e)
			continue
		}
		m := rest.clone()
		m.set("allOf", []any{br})
		e, err := c.schema(m)
		if err != nil {
			return nil, err
		}
		parts = append(parts, e)
	}
	return alt(parts...), nil
}

// numberExpr is an integer or number with its bounds.
func (c *compiler) numberExpr(o *object, isInt bool) (*expr, error) {
	lo, loEx, hasLo := bound(o, "minimum", "exclusiveMinimum")
	hi, hiEx, hasHi := bound(o, "maximum", "exclusiveMaximum")
	if !hasLo && !hasHi {
		if isInt {
			return integer(), nil
		}
		return number(), nil
	}
	if isInt {
		var lp, hp *big.Int
		if hasLo {
			l, frac := intBound(o, loKey(o, "minimum", "exclusiveMinimum", loEx), lo, true)
			if loEx && !frac {
				l.Add(l, big.NewInt(1))
			}
			lp = l
		}
		if hasHi {
			h, frac := intBound(o, loKey(o, "maximum", "exclusiveMaximum", hiEx), hi, false)
			if hiEx && !frac {
				h.Sub(h, big.NewInt(1))
			}
			hp = h
		}
		return intRange(lp, hp), nil
	}
	// Non-integer bounds: only the sign is enforced exactly.
	c.relax("minimum/maximum (number)")
	if hasLo && lo >= 0 {
		return seq(alt(oneByte('0'), seq(digit19, star(digit))), opt(seq(oneByte('.'), rep(digit, 1, -1))),
			opt(seq(byteSet(byteRange{'e', 'e'}, byteRange{'E', 'E'}), opt(byteSet(byteRange{'+', '+'}, byteRange{'-', '-'})), rep(digit, 1, -1)))), nil
	}
	return number(), nil
}

// loKey names the keyword a bound came from (draft 6+ numeric exclusive
// bounds live under the exclusive keyword).
func loKey(o *object, inclusive, exclusive string, excl bool) string {
	if _, isNum := o.m[exclusive].(json.Number); isNum && excl {
		return exclusive
	}
	return inclusive
}

// intBound is an integer bound, read from the number's text so that large
// bounds stay exact; a fractional bound rounds inward (ceiling for a lower
// bound, floor for an upper one; frac reports it: an exclusive bound then
// excludes nothing more).
func intBound(o *object, key string, f float64, lower bool) (v *big.Int, frac bool) {
	n, _ := o.m[key].(json.Number)
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		r = new(big.Rat).SetFloat64(f)
		if r == nil {
			r = new(big.Rat)
		}
	}
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int)) // floor division (Euclidean, denominator > 0)
	if m.Sign() != 0 {
		if lower {
			q.Add(q, big.NewInt(1))
		}
		return q, true
	}
	return q, false
}

// bound reads a lower or upper bound in draft 4 (boolean exclusive) or
// later (numeric exclusive) form; the tighter wins when both are given.
func bound(o *object, inclusive, exclusive string) (v float64, excl, ok bool) {
	if n, isNum := o.m[inclusive].(json.Number); isNum {
		if f, err := n.Float64(); err == nil {
			v, ok = f, true
		}
	}
	switch x := o.m[exclusive].(type) {
	case bool:
		excl = x && ok
	case json.Number:
		if f, err := x.Float64(); err == nil {
			lower := inclusive == "minimum"
			if !ok || (lower && f >= v) || (!lower && f <= v) {
				v, excl, ok = f, true, true
			}
		}
	}
	return v, excl, ok
}

// intOf reads a non-negative integer keyword.
func intOf(o *object, k string) (int, bool, error) {
	v, ok := o.get(k)
	if !ok {
		return 0, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return 0, false, fmt.Errorf("%w: %s must be a number", ErrInvalidSchema, k)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) {
		return 0, false, fmt.Errorf("%w: %s must be a non-negative integer", ErrInvalidSchema, k)
	}
	if f > math.MaxInt32 {
		f = math.MaxInt32
	}
	return int(f), true, nil
}

// resolve follows a local $ref ("#", "#/json/pointer", or an $id/$anchor
// in the document).
func (c *compiler) resolve(ref string) (any, error) {
	c.resolves++
	if c.resolves > 1<<16 {
		return nil, fmt.Errorf("%w: too many $ref resolutions", ErrTooLarge)
	}
	frag, isLocal := strings.CutPrefix(ref, "#")
	if !isLocal {
		if t := findID(c.root, ref); t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("%w: non-local $ref %q", ErrUnsupported, ref)
	}
	if frag == "" {
		return c.root, nil
	}
	if !strings.HasPrefix(frag, "/") {
		if t := findID(c.root, ref); t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("%w: $ref anchor %q", ErrUnsupported, ref)
	}
	cur := c.root
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = unescapePointer(tok)
		switch t := cur.(type) {
		case *object:
			v, ok := t.get(tok)
			if !ok {
				return nil, fmt.Errorf("%w: $ref %q: no %q", ErrInvalidSchema, ref, tok)
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(t) {
				return nil, fmt.Errorf("%w: $ref %q: bad index %q", ErrInvalidSchema, ref, tok)
			}
			cur = t[i]
		default:
			return nil, fmt.Errorf("%w: $ref %q goes through a scalar", ErrInvalidSchema, ref)
		}
	}
	return cur, nil
}

func unescapePointer(s string) string {
	if strings.Contains(s, "%") {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '%' && i+2 < len(s) {
				var x byte
				if _, err := fmt.Sscanf(s[i+1:i+3], "%02x", &x); err == nil {
					b.WriteByte(x)
					i += 2
					continue
				}
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// findID finds the subschema whose $id, id or $anchor names ref.
func findID(doc any, ref string) any {
	var found any
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if found != nil || depth > maxJSONDepth {
			return
		}
		switch t := v.(type) {
		case *object:
			for _, k := range []string{"$id", "id"} {
				if id, ok := t.m[k].(string); ok && (id == ref || "#"+strings.TrimPrefix(id, "#") == ref) {
					found = t
					return
				}
			}
			if a, ok := t.m["$anchor"].(string); ok && "#"+a == ref {
				found = t
				return
			}
			for _, k := range t.keys {
				walk(t.m[k], depth+1)
			}
		case []any:
			for _, x := range t {
				walk(x, depth+1)
			}
		}
	}
	walk(doc, 0)
	return found
}
