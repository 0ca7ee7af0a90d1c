package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// anyValue is the rule of any JSON value.
func (c *compiler) anyValue() int32 {
	if c.anyRule >= 0 {
		return c.anyRule
	}
	r := c.b.newRule("any")
	c.anyRule = r
	v, s := ref(r), ref(c.stringRule())
	member := seq(s, c.ws(), oneByte(':'), c.ws(), v)
	obj := seq(oneByte('{'), c.ws(), opt(seq(member, star(seq(c.sep(), member)), c.ws())), oneByte('}'))
	arr := seq(oneByte('['), c.ws(), opt(seq(v, star(seq(c.sep(), v)), c.ws())), oneByte(']'))
	c.b.define(r, alt(obj, arr, s, number(), lit("true"), lit("false"), lit("null")))
	return r
}

// stringRule is the rule of any JSON string.
func (c *compiler) stringRule() int32 {
	if c.strRule >= 0 {
		return c.strRule
	}
	c.strRule = c.b.newRule("string")
	c.b.define(c.strRule, seq(oneByte('"'), star(stringChar()), oneByte('"')))
	return c.strRule
}

// member is one property of an object schema.
type member struct {
	key      *expr
	value    *expr
	required bool
}

// objectExpr lays out the properties in schema order, each optional one
// skippable, then any additional properties.
func (c *compiler) objectExpr(o *object) (*expr, error) {
	var props *object
	if p, ok := o.get("properties"); ok {
		if props, ok = p.(*object); !ok {
			return nil, fmt.Errorf("%w: properties must be an object", ErrInvalidSchema)
		}
	} else {
		props = newObject()
	}
	required := map[string]bool{}
	if r, ok := o.get("required"); ok {
		list, isList := r.([]any)
		if !isList {
			return nil, fmt.Errorf("%w: required must be an array", ErrInvalidSchema)
		}
		for _, x := range list {
			if s, isStr := x.(string); isStr {
				required[s] = true
			}
		}
	}
	var addl any = !c.opt.NoExtraProperties
	if a, ok := o.get("additionalProperties"); ok {
		addl = a
	}
	var members []member
	var keys []string
	addMember := func(k string, s any) error {
		keys = append(keys, k)
		if s == false {
			if required[k] {
				return errNothing
			}
			return nil
		}
		v, err := c.value(s)
		if err != nil {
			return err
		}
		members = append(members, member{key: litBytes(appendString(nil, k)), value: v, required: required[k]})
		return nil
	}
	for _, k := range props.keys {
		if err := addMember(k, props.m[k]); err == errNothing {
			return none(), nil
		} else if err != nil {
			return nil, err
		}
	}
	var extra []string
	for k := range required {
		if !props.has(k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		if err := addMember(k, addl); err == errNothing {
			return none(), nil
		} else if err != nil {
			return nil, err
		}
	}
	var more *expr // one additional property
	if addl != false {
		v, err := c.value(addl)
		if err != nil {
			return nil, err
		}
		more = seq(c.keyNotIn(keys), c.ws(), oneByte(':'), c.ws(), v)
	}
	c.checkPropertyCounts(o, members, more != nil)
	ws := c.ws()
	for i := range members {
		m := &members[i]
		m.value = seq(m.key, ws, oneByte(':'), ws, m.value)
	}
	// rest[i]: members i.. after at least one member was written.
	rest := make([]*expr, len(members)+1)
	if more != nil {
		rest[len(members)] = shared(star(seq(c.sep(), more)))
	} else {
		rest[len(members)] = lit("")
	}
	for i := len(members) - 1; i >= 0; i-- {
		with := seq(c.sep(), members[i].value, rest[i+1])
		if members[i].required {
			rest[i] = shared(with)
		} else {
			rest[i] = shared(alt(with, rest[i+1]))
		}
	}
	// first: members i.. when none was written yet; never empty.
	first := none()
	if more != nil {
		first = seq(more, rest[len(members)])
	}
	anyRequired := false
	for i := len(members) - 1; i >= 0; i-- {
		with := seq(members[i].value, rest[i+1])
		if members[i].required {
			first, anyRequired = with, true
		} else {
			first = alt(with, first)
		}
	}
	body := seq(first, c.ws())
	if !anyRequired {
		body = opt(body)
	}
	return seq(oneByte('{'), c.ws(), body, oneByte('}')), nil
}

var errNothing = fmt.Errorf("%w: nothing matches", ErrInvalidSchema)

// checkPropertyCounts relaxes minProperties/maxProperties unless the
// layout already implies them.
func (c *compiler) checkPropertyCounts(o *object, members []member, extra bool) {
	req := 0
	for _, m := range members {
		if m.required {
			req++
		}
	}
	if n, ok, _ := intOf(o, "minProperties"); ok && n > req {
		c.relax("minProperties")
	}
	if n, ok, _ := intOf(o, "maxProperties"); ok && (extra || n < len(members)) {
		c.relax("maxProperties")
	}
}

// keyNotIn matches a JSON string that is none of keys (compared as the
// grammar writes them; a key that differs from a listed one only at a
// non-ASCII or escaped character sharing its first byte is not allowed).
func (c *compiler) keyNotIn(keys []string) *expr {
	if len(keys) == 0 {
		return ref(c.stringRule())
	}
	root := &keyTrie{}
	for _, k := range keys {
		enc := appendString(nil, k)
		root.add(splitChars(enc[1 : len(enc)-1]))
	}
	return seq(oneByte('"'), root.notIn(), oneByte('"'))
}

type keyTrie struct {
	chars    []string
	kids     []*keyTrie
	terminal bool
}

func (t *keyTrie) add(chars []string) {
	if len(chars) == 0 {
		t.terminal = true
		return
	}
	i := slices.Index(t.chars, chars[0])
	if i < 0 {
		t.chars, t.kids = append(t.chars, chars[0]), append(t.kids, &keyTrie{})
		i = len(t.chars) - 1
	}
	t.kids[i].add(chars[1:])
}

// notIn matches string content that leads off the trie or stops at a
// non-terminal node.
func (t *keyTrie) notIn() *expr {
	var parts []*expr
	var taken [256]bool
	for i, ch := range t.chars {
		taken[ch[0]] = true
		parts = append(parts, seq(lit(ch), t.kids[i].notIn()))
	}
	parts = append(parts, seq(charExcept(&taken), star(stringChar())))
	if !t.terminal {
		parts = append(parts, lit(""))
	}
	return alt(parts...)
}

// charExcept matches one string character whose first byte is not taken.
func charExcept(taken *[256]bool) *expr {
	keep := func(lo, hi byte) []byteRange {
		var out []byteRange
		for b := int(lo); b <= int(hi); b++ {
			if taken[b] {
				continue
			}
			if n := len(out); n > 0 && int(out[n-1].hi) == b-1 {
				out[n-1].hi = byte(b)
			} else {
				out = append(out, byteRange{byte(b), byte(b)})
			}
		}
		return out
	}
	var ascii []byteRange
	for _, r := range plainASCII {
		ascii = append(ascii, keep(r.lo, r.hi)...)
	}
	var parts []*expr
	if len(ascii) > 0 {
		parts = append(parts, byteSet(ascii...))
	}
	if !taken['\\'] {
		parts = append(parts, escape())
	}
	cont := byteSet(rangeUTF8Cont)
	lead := func(lo, hi byte, rest ...*expr) {
		if r := keep(lo, hi); len(r) > 0 {
			parts = append(parts, seq(append([]*expr{byteSet(r...)}, rest...)...))
		}
	}
	lead(0xC2, 0xDF, cont)
	lead(0xE0, 0xE0, byteSet(byteRange{0xA0, 0xBF}), cont)
	lead(0xE1, 0xEC, cont, cont)
	lead(0xED, 0xED, byteSet(byteRange{0x80, 0x9F}), cont)
	lead(0xEE, 0xEF, cont, cont)
	lead(0xF0, 0xF0, byteSet(byteRange{0x90, 0xBF}), cont, cont)
	lead(0xF1, 0xF3, cont, cont, cont)
	lead(0xF4, 0xF4, byteSet(byteRange{0x80, 0x8F}), cont, cont)
	return alt(parts...)
}

// splitChars cuts encoded string content into characters (an escape
// sequence or one UTF-8 sequence each).
func splitChars(b []byte) []string {
	var out []string
	for i := 0; i < len(b); {
		n := 1
		switch {
		case b[i] == '\\' && i+1 < len(b) && b[i+1] == 'u':
			n = 6
		case b[i] == '\\':
			n = 2
		case b[i] >= 0xF0:
			n = 4
		case b[i] >= 0xE0:
			n = 3
		case b[i] >= 0xC0:
			n = 2
		}
		n = min(n, len(b)-i)
		out = append(out, string(b[i:i+n]))
		i += n
	}
	return out
}

// arrayExpr lays out prefixItems (or draft-4 tuple items), then the
// remaining items, within minItems..maxItems.
func (c *compiler) arrayExpr(o *object) (*expr, error) {
	var prefix []any
	var rest any = true
	if p, ok := o.get("prefixItems"); ok {
		list, isList := p.([]any)
		if !isList {
			return nil, fmt.Errorf("%w: prefixItems must be an array", ErrInvalidSchema)
		}
		prefix = list
		if it, ok := o.get("items"); ok {
			rest = it
		}
	} else if it, ok := o.get("items"); ok {
		if list, isList := it.([]any); isList {
			prefix = list
			if a, ok := o.get("additionalItems"); ok {
				rest = a
			}
		} else {
			rest = it
		}
	}
	lo, _, err := intOf(o, "minItems")
	if err != nil {
		return nil, err
	}
	hi, hasHi, err := intOf(o, "maxItems")
	if err != nil {
		return nil, err
	}
	if !hasHi {
		hi = -1
	}
	if rest == false && (hi < 0 || hi > len(prefix)) {
		hi = len(prefix)
	}
	if hi >= 0 && lo > hi {
		return none(), nil
	}
	if hi > maxUnrollItems && hi > len(prefix) {
		c.relax("maxItems")
		hi = -1
	}
	if lo > maxUnrollItems {
		c.relax("minItems")
		lo = maxUnrollItems
	}
	var restExpr *expr
	if rest != false {
		if restExpr, err = c.value(rest); err != nil {
			return nil, err
		}
	}
	item := func(i int) (*expr, error) {
		if i < len(prefix) {
			return c.value(prefix[i])
		}
		if restExpr == nil {
			return none(), nil
		}
		return restExpr, nil
	}
	// tail(i): items i.. after i items were written.
	var tail func(i int) (*expr, error)
	tail = func(i int) (*expr, error) {
		if hi >= 0 && i >= hi {
			return lit(""), nil
		}
		if hi < 0 && i >= len(prefix) && i >= lo {
			if restExpr == nil {
				return lit(""), nil
			}
			return star(seq(c.sep(), restExpr)), nil
		}
		it, err := item(i)
		if err != nil {
			return nil, err
		}
		t, err := tail(i + 1)
		if err != nil {
			return nil, err
		}
		x := seq(c.sep(), it, t)
		if i >= lo {
			return opt(x), nil
		}
		return x, nil
	}
	if hi == 0 {
		return seq(oneByte('['), c.ws(), oneByte(']')), nil
	}
	first, err := item(0)
	if err != nil {
		return nil, err
	}
	t, err := tail(1)
	if err != nil {
		return nil, err
	}
	body := seq(first, t, c.ws())
	if lo == 0 {
		body = opt(body)
	}
	return seq(oneByte('['), c.ws(), body, oneByte(']')), nil
}

// mergeAllOf folds allOf's branches (and o's other keywords) into one schema.
func (c *compiler) mergeAllOf(o *object, all any) (any, error) {
	list, ok := all.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: allOf must be an array", ErrInvalidSchema)
	}
	var acc any = without(o, "allOf")
	for _, br := range list {
		b, err := c.flatten(br, 0)
		if err != nil {
			return nil, err
		}
		if acc, err = c.merge(acc, b); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// flatten resolves $ref and allOf at the top of s.
func (c *compiler) flatten(s any, depth int) (any, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: allOf/$ref cycle", ErrUnsupported)
	}
	o, ok := s.(*object)
	if !ok {
		return s, nil
	}
	if r, ok := o.m["$ref"].(string); ok {
		t, err := c.resolve(r)
		if err != nil {
			return nil, err
		}
		t, err = c.flatten(t, depth+1)
		if err != nil {
			return nil, err
		}
		if !hasAssertions(o) {
			return t, nil
		}
		rest, err := c.flatten(without(o, "$ref"), depth+1)
		if err != nil {
			return nil, err
		}
		return c.merge(t, rest)
	}
	if all, ok := o.get("allOf"); ok {
		list, isList := all.([]any)
		if !isList {
			return nil, fmt.Errorf("%w: allOf must be an array", ErrInvalidSchema)
		}
		var acc any = without(o, "allOf")
		for _, br := range list {
			b, err := c.flatten(br, depth+1)
			if err != nil {
				return nil, err
			}
			if acc, err = c.merge(acc, b); err != nil {
				return nil, err
			}
		}
		return acc, nil
	}
	return o, nil
}

var annotationKeywords = []string{"title", "description", "default", "examples", "example", "$schema", "$id", "id",
	"$comment", "definitions", "$defs", "readOnly", "writeOnly", "deprecated", "$anchor"}

// merge is the conjunction of two flattened schemas, for the keywords it
// knows how to intersect.
func (c *compiler) merge(a, b any) (any, error) {
	if a == false || b == false {
		return false, nil
	}
	if a == true {
		return b, nil
	}
	if b == true {
		return a, nil
	}
	x, ok1 := a.(*object)
	y, ok2 := b.(*object)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: allOf of a non-schema", ErrInvalidSchema)
	}
	if x.m["additionalProperties"] == false && hasNewProps(x, y) || y.m["additionalProperties"] == false && hasNewProps(y, x) {
		c.relax("allOf with additionalProperties")
	}
	out := x.clone()
	for _, k := range y.keys {
		yv := y.m[k]
		xv, both := x.m[k]
		if !both {
			out.set(k, yv)
			continue
		}
		if slices.Contains(annotationKeywords, k) || jsonEqual(xv, yv) {
			continue
		}
		switch k {
		case "properties":
			px, ok1 := xv.(*object)
			py, ok2 := yv.(*object)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%w: properties must be an object", ErrInvalidSchema)
			}
			pm := px.clone()
			for _, pk := range py.keys {
				if pv, dup := px.m[pk]; dup {
					both := newObject()
					both.set("allOf", []any{pv, py.m[pk]})
					pm.set(pk, both)
				} else {
					pm.set(pk, py.m[pk])
				}
			}
			out.set(k, pm)
		case "required":
			lx, _ := xv.([]any)
			ly, _ := yv.([]any)
			u := slices.Clone(lx)
			for _, r := range ly {
				if !slices.ContainsFunc(u, func(v any) bool { return jsonEqual(v, r) }) {
					u = append(u, r)
				}
			}
			out.set(k, u)
		case "type":
			tx, ok1 := typeList(x)
			ty, ok2 := typeList(y)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%w: type must be a string or an array of strings", ErrInvalidSchema)
			}
			var both []any
			for _, t := range tx {
				switch {
				case slices.Contains(ty, t):
					both = append(both, t)
				case t == "integer" && slices.Contains(ty, "number"), t == "number" && slices.Contains(ty, "integer"):
					both = append(both, "integer")
				}
			}
			if len(both) == 0 {
				return false, nil
			}
			out.set(k, both)
		case "minimum", "minLength", "minItems", "minProperties":
			out.set(k, numMax(xv, yv, true))
		case "maximum", "maxLength", "maxItems", "maxProperties":
			out.set(k, numMax(xv, yv, false))
		case "enum":
			lx, _ := xv.([]any)
			ly, _ := yv.([]any)
			var both []any
			for _, v := range lx {
				if slices.ContainsFunc(ly, func(w any) bool { return jsonEqual(v, w) }) {
					both = append(both, v)
				}
			}
			out.set(k, both)
		case "additionalProperties", "items":
			if xv == false || yv == false {
				out.set(k, false)
			} else {
				both := newObject()
				both.set("allOf", []any{xv, yv})
				out.set(k, both)
			}
		default:
			return nil, fmt.Errorf("%w: allOf branches both set %q differently", ErrUnsupported, k)
		}
	}
	return out, nil
}

func hasNewProps(closed, other *object) bool {
	po, _ := other.m["properties"].(*object)
	if po == nil {
		return false
	}
	pc, _ := closed.m["properties"].(*object)
	for _, k := range po.keys {
		if pc == nil || !pc.has(k) {
			return true
		}
	}
	return false
}

func jsonEqual(a, b any) bool { return bytes.Equal(appendJSON(nil, a), appendJSON(nil, b)) }

// numMax returns the larger (or, with larger false, smaller) number.
func numMax(a, b any, larger bool) any {
	fa, ea := toFloat(a)
	fb, eb := toFloat(b)
	if !ea {
		return b
	}
	if !eb {
		return a
	}
	if (fa >= fb) == larger {
		return a
	}
	return b
}

func toFloat(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return math.NaN(), false
	}
	f, err := n.Float64()
	return f, err == nil
}
