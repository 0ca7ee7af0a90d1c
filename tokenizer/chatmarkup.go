package tokenizer

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
)

// Jinja2 marks the output of |safe as Markup, and Python's str + Markup
// escapes the plain string (MarkupSafe), even with autoescaping off. Real
// templates depend on it: Mistral's v3 template builds tool calls as
// '{"name": "' + name + '", "arguments": ' + (arguments|tojson|safe) + ...,
// which renders the quotes of the plain parts as &#34;. gonja has no Markup
// and its + drops the flag, so templates are rewritten after parsing: every
// a + b becomes a|__pyadd(b), a filter with Python's + semantics, and |safe
// returns a markup string.

// markup is a string Jinja2 would hold as Markup.
type markup string

const pyAddFilter = "__pyadd"

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")

// filterSafe is Jinja's |safe: strings become markup.
func filterSafe(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() || !in.IsString() {
		return in
	}
	return exec.AsValue(markup(in.String()))
}

// filterPyAdd is Python's left + right for template values.
func filterPyAdd(_ *exec.Evaluator, left *exec.Value, params *exec.VarArgs) *exec.Value {
	if left.IsError() {
		return left
	}
	if len(params.Args) != 1 {
		return filterError(fmt.Errorf("+ needs two operands"))
	}
	right := params.Args[0]
	isNum := func(v *exec.Value) bool { return v.IsNumber() || v.IsBool() }
	asInt := func(v *exec.Value) int {
		if v.IsBool() {
			if v.Bool() {
				return 1
			}
			return 0
		}
		return v.Integer()
	}
	asFloat := func(v *exec.Value) float64 {
		if v.IsFloat() {
			return v.Float()
		}
		return float64(asInt(v))
	}
	switch {
	case left.IsString() && right.IsString():
		_, lm := left.Interface().(markup)
		_, rm := right.Interface().(markup)
		l, r := left.String(), right.String()
		if !lm && !rm {
			return exec.AsValue(l + r)
		}
		if !lm {
			l = htmlEscaper.Replace(l)
		}
		if !rm {
			r = htmlEscaper.Replace(r)
		}
		return exec.AsValue(markup(l + r))
	case left.IsList() && right.IsList():
		out := make([]any, 0, left.Len()+right.Len())
		for _, v := range []*exec.Value{left, right} {
			for i := range v.Len() {
				out = append(out, v.Index(i).Interface())
			}
		}
		return exec.AsValue(out)
	case isNum(left) && isNum(right):
		if left.IsFloat() || right.IsFloat() {
			return exec.AsValue(asFloat(left) + asFloat(right))
		}
		return exec.AsValue(asInt(left) + asInt(right))
	}
	return filterError(fmt.Errorf("unsupported operand types for +: %s and %s", pyTypeName(left), pyTypeName(right)))
}

func pyTypeName(v *exec.Value) string {
	switch {
	case v.IsNil():
		return "NoneType"
	case v.IsString():
		return "str"
	case v.IsBool():
		return "bool"
	case v.IsInteger():
		return "int"
	case v.IsFloat():
		return "float"
	case v.IsList():
		return "list"
	case v.IsDict():
		return "dict"
	}
	return v.Val.Kind().String()
}

var binaryType = reflect.TypeFor[*nodes.BinaryExpression]()

// rewriteAdds replaces every a + b in the parsed template (including inside
// control structures, whose fields are unexported) with a|__pyadd(b).
func rewriteAdds(root *nodes.Template) {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem())
		case reflect.Interface:
			if v.IsNil() {
				return
			}
			e := v.Elem()
			walk(e)
			if e.Type() != binaryType || !v.CanSet() {
				return
			}
			bin := e.Interface().(*nodes.BinaryExpression)
			if bin.Operator == nil || bin.Operator.Token == nil || bin.Operator.Token.Val != "+" {
				return
			}
			v.Set(reflect.ValueOf(&nodes.FilteredExpression{Expression: bin.Left, Filters: []*nodes.FilterCall{{
				Token: bin.Operator.Token, Name: pyAddFilter, Args: []nodes.Expression{bin.Right}, Kwargs: map[string]nodes.Expression{},
			}}}))
		case reflect.Struct:
			for i := range v.NumField() {
				walk(settable(v.Field(i)))
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(settable(v.Index(i)))
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				walk(it.Value())
			}
		}
	}
	walk(reflect.ValueOf(root))
}

// settable makes an addressable value settable even when it was reached
// through unexported fields (the parser's nodes are ours to rewrite).
func settable(v reflect.Value) reflect.Value {
	if !v.CanAddr() || v.CanSet() {
		return v
	}
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}
