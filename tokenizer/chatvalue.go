package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Template data: JSON decoded into the values the template engine works
// on, with objects as *exec.Dict so that they keep their key order (Python
// dicts do, and templates iterate and serialize them).

// decodeOrdered decodes one JSON value: objects become *exec.Dict, arrays
// []any, integers int, other numbers float64, null nil.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			d := exec.NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				dictSet(d, key, v)
			}
			_, err := dec.Token()
			return d, err
		case '[':
			list := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		return nil, fmt.Errorf("unexpected %v", tok)
	case json.Number:
		if i, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
			return int(i), nil
		}
		f, err := tok.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return tok, nil // string, bool or nil
}

// dictSet sets key in d, keeping the position of an existing key (Python
// dict semantics; JSON's last duplicate wins).
func dictSet(d *exec.Dict, key string, v any) {
	for _, p := range d.Pairs {
		if p.Key.String() == key {
			p.Value = exec.AsValue(v)
			return
		}
	}
	d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(key), Value: exec.AsValue(v)})
}

// dictGet returns the value of key in d.
func dictGet(d *exec.Dict, key string) (any, bool) {
	for _, p := range d.Pairs {
		if p.Key.IsString() && p.Key.String() == key {
			return p.Value.Interface(), true
		}
	}
	return nil, false
}

// toValue converts any Go value to template data by way of JSON, so that a
// json.RawMessage keeps its key order and structs use their JSON names.
func toValue(x any) (any, error) {
	if x == nil {
		return nil, nil
	}
	data, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return decodeOrdered(data)
}

// pyJSON is Python's json.dumps(x, ensure_ascii, indent, separators,
// sort_keys) over template values.
type pyJSON struct {
	ensureASCII bool
	indent      string // "" with hasIndent: newlines without indentation
	hasIndent   bool
	itemSep     string
	keySep      string
	sortKeys    bool
}

func (p *pyJSON) dumps(v *exec.Value) (string, error) {
	var b strings.Builder
	if err := p.write(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (p *pyJSON) newline(b *strings.Builder, depth int) {
	b.WriteByte('\n')
	for range depth {
		b.WriteString(p.indent)
	}
}

func (p *pyJSON) write(b *strings.Builder, v *exec.Value, depth int) error {
	if v == nil || v.IsNil() {
		b.WriteString("null")
		return nil
	}
	switch x := v.Interface().(type) {
	case *exec.Dict:
		return p.writeDict(b, x.Pairs, depth)
	case exec.Dict:
		return p.writeDict(b, x.Pairs, depth)
	}
	switch {
	case v.IsBool():
		if v.Bool() {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case v.IsInteger():
		b.WriteString(strconv.FormatInt(int64(v.Integer()), 10))
	case v.IsFloat():
		b.WriteString(pyFloat(v.Float(), true))
	case v.IsString():
		p.writeString(b, v.String())
	case v.IsList():
		n := v.Len()
		if n == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteString(p.itemSep)
			}
			if p.hasIndent {
				p.newline(b, depth+1)
			}
			if err := p.write(b, v.Index(i), depth+1); err != nil {
				return err
			}
		}
		if p.hasIndent {
			p.newline(b, depth)
		}
		b.WriteByte(']')
	case v.IsDict():
		var pairs []*exec.Pair
		for _, k := range v.Keys() {
			item, _ := v.GetItem(k.Interface())
			pairs = append(pairs, &exec.Pair{Key: k, Value: item})
		}
		return p.writeDict(b, pairs, depth)
	default:
		return fmt.Errorf("object of type %s is not JSON serializable", v.Val.Kind())
	}
	return nil
}

func (p *pyJSON) writeDict(b *strings.Builder, pairs []*exec.Pair, depth int) error {
	if len(pairs) == 0 {
		b.WriteString("{}")
		return nil
	}
	if p.sortKeys {
		pairs = append([]*exec.Pair(nil), pairs...)
		sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].Key.String() < pairs[j].Key.String() })
	}
	b.WriteByte('{')
	for i, pr := range pairs {
		if i > 0 {
			b.WriteString(p.itemSep)
		}
		if p.hasIndent {
			p.newline(b, depth+1)
		}
		k := pr.Key
		switch {
		case k.IsString():
			p.writeString(b, k.String())
		case k.IsBool() || k.IsNumber() || k.IsNil():
			var kb strings.Builder
			if err := p.write(&kb, k, 0); err != nil {
				return err
			}
			p.writeString(b, kb.String())
		default:
			return fmt.Errorf("keys must be str, int, float, bool or None, not %s", k.Val.Kind())
		}
		b.WriteString(p.keySep)
		if err := p.write(b, pr.Value, depth+1); err != nil {
			return err
		}
	}
	if p.hasIndent {
		p.newline(b, depth)
	}
	b.WriteByte('}')
	return nil
}

// writeString writes s as Python's json module does.
func (p *pyJSON) writeString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&15])
		b.WriteByte(hex[r>>8&15])
		b.WriteByte(hex[r>>4&15])
		b.WriteByte(hex[r&15])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				u4(r)
			case r < 0x7f || !p.ensureASCII:
				b.WriteRune(r)
			case r < 0x10000:
				u4(r)
			default:
				r1, r2 := utf16.EncodeRune(r)
				u4(r1)
				u4(r2)
			}
		}
	}
	b.WriteByte('"')
}

// pyFloat formats f like Python's repr (json=true: like json.dumps, which
// writes NaN and Infinity).
func pyFloat(f float64, json bool) string {
	switch {
	case math.IsNaN(f):
		if json {
			return "NaN"
		}
		return "nan"
	case math.IsInf(f, 1):
		if json {
			return "Infinity"
		}
		return "inf"
	case math.IsInf(f, -1):
		if json {
			return "-Infinity"
		}
		return "-inf"
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	e, _ := strconv.Atoi(exp)
	if e < -4 || e >= 16 {
		sign := "+"
		if e < 0 {
			sign, e = "-", -e
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, e)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyRepr is Python's repr of a template value (what {{ x }} prints for a
// list or dict, and str(x) for containers).
func pyRepr(v *exec.Value) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v *exec.Value) {
	if v == nil || v.IsNil() {
		b.WriteString("None")
		return
	}
	var pairs []*exec.Pair
	switch x := v.Interface().(type) {
	case *exec.Dict:
		pairs = x.Pairs
	case exec.Dict:
		pairs = x.Pairs
	default:
		switch {
		case v.IsString():
			b.WriteString(pyStrRepr(v.String()))
		case v.IsBool():
			b.WriteString(map[bool]string{true: "True", false: "False"}[v.Bool()])
		case v.IsFloat():
			b.WriteString(pyFloat(v.Float(), false))
		case v.IsList():
			b.WriteByte('[')
			for i := range v.Len() {
				if i > 0 {
					b.WriteString(", ")
				}
				writeRepr(b, v.Index(i))
			}
			b.WriteByte(']')
		case v.IsDict():
			for _, k := range v.Keys() {
				item, _ := v.GetItem(k.Interface())
				pairs = append(pairs, &exec.Pair{Key: k, Value: item})
			}
			writeReprPairs(b, pairs)
		default:
			b.WriteString(v.String())
		}
		return
	}
	writeReprPairs(b, pairs)
}

func writeReprPairs(b *strings.Builder, pairs []*exec.Pair) {
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		writeRepr(b, p.Key)
		b.WriteString(": ")
		writeRepr(b, p.Value)
	}
	b.WriteByte('}')
}

// pyStrRepr quotes s the way Python's repr(str) does.
func pyStrRepr(s string) string {
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == utf8.RuneError:
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}
