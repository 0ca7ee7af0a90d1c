package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/builtins/methods"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/logging"
)

// The template engine is gonja, set up like the Jinja2 environment of
// transformers' apply_chat_template (trim_blocks, lstrip_blocks, loop
// controls, tojson as json.dumps) and with the Python behaviour of the
// string and dict methods and filters that chat templates use.

var chatEnv = sync.OnceValue(func() *exec.Environment {
	logging.SetEnabled(false) // gonja logs type errors it then reports as values
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	for name, fn := range map[string]exec.FilterFunction{
		"tojson": filterToJSON,
		"trim":   filterTrim,
		"string": filterString,
		"items":  filterItems,
		"safe":   filterSafe,
	} {
		_ = filters.Replace(name, fn)
	}
	_ = filters.Register(pyAddFilter, filterPyAdd)
	tests := exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests)
	_ = tests.Replace("true", testIs(true))
	_ = tests.Replace("false", testIs(false))
	return &exec.Environment{
		Context:           exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables),
		Filters:           filters,
		Tests:             tests,
		ControlStructures: builtins.ControlStructures,
		Methods: exec.Methods{
			Bool:  methods.All.Bool,
			Int:   methods.All.Int,
			Float: methods.All.Float,
			Str:   strMethodSet(),
			Dict:  dictMethodSet(),
			List:  methods.All.List,
		},
	}
})

func chatConfig() *config.Config {
	c := config.New()
	c.TrimBlocks = true
	c.LeftStripBlocks = true
	return c
}

// compileTemplate parses a template source.
func compileTemplate(src string) (*exec.Template, error) {
	loader, err := loaders.NewFileSystemLoader("")
	if err != nil {
		return nil, err
	}
	const id = "chat_template"
	shifted, err := loaders.NewShiftedLoader(id, strings.NewReader(src), loader)
	if err != nil {
		return nil, err
	}
	tpl, err := exec.NewTemplate(id, chatConfig(), shifted, chatEnv())
	if err != nil {
		return nil, err
	}
	rewriteAdds(tpl.Root())
	return tpl, nil
}

// callArgs maps a call's positional and keyword arguments onto names; an
// absent argument is nil.
func callArgs(a *exec.VarArgs, names ...string) ([]*exec.Value, error) {
	if len(a.Args) > len(names) {
		return nil, fmt.Errorf("takes at most %d arguments (%d given)", len(names), len(a.Args))
	}
	out := make([]*exec.Value, len(names))
	copy(out, a.Args)
	for k, v := range a.KwArgs {
		i := indexOf(names, k)
		if i < 0 {
			return nil, fmt.Errorf("unexpected keyword argument %q", k)
		}
		out[i] = v
	}
	return out, nil
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

func isNone(v *exec.Value) bool { return v == nil || v.IsNil() }

func filterError(err error) *exec.Value { return exec.AsValue(err) }

// filterToJSON is transformers' tojson: json.dumps(x, ensure_ascii=False,
// indent=None, separators=None, sort_keys=False).
func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	args, err := callArgs(params, "ensure_ascii", "indent", "separators", "sort_keys")
	if err != nil {
		return filterError(fmt.Errorf("tojson: %w", err))
	}
	p := &pyJSON{itemSep: ", ", keySep: ": "}
	if !isNone(args[0]) {
		p.ensureASCII = args[0].IsTrue()
	}
	if ind := args[1]; !isNone(ind) {
		p.hasIndent = true
		p.itemSep = ","
		if ind.IsString() {
			p.indent = ind.String()
		} else {
			p.indent = strings.Repeat(" ", max(0, ind.Integer()))
		}
	}
	if sep := args[2]; !isNone(sep) {
		if !sep.IsList() || sep.Len() != 2 {
			return filterError(fmt.Errorf("tojson: separators must be a (item, key) pair"))
		}
		p.itemSep, p.keySep = sep.Index(0).String(), sep.Index(1).String()
	}
	if !isNone(args[3]) {
		p.sortKeys = args[3].IsTrue()
	}
	s, err := p.dumps(in)
	if err != nil {
		return filterError(fmt.Errorf("tojson: %w", err))
	}
	return exec.AsSafeValue(s)
}

// filterTrim is Jinja's trim(value, chars=None): Python's str.strip.
func filterTrim(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	args, err := callArgs(params, "chars")
	if err != nil {
		return filterError(fmt.Errorf("trim: %w", err))
	}
	return exec.AsValue(pyStrip(pyStr(in), args[0], true, true))
}

// filterString is Python's str(x).
func filterString(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	return exec.AsValue(pyStr(in))
}

// filterItems lists a mapping's (key, value) pairs in order.
func filterItems(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if isNone(in) {
		return exec.AsValue([]any{})
	}
	if !in.IsDict() {
		return filterError(fmt.Errorf("items: %s is not a mapping", pyRepr(in)))
	}
	return exec.AsValue(dictItems(in))
}

// dictItems returns [key, value] pairs in the mapping's order.
func dictItems(in *exec.Value) []any {
	var items []any
	for _, k := range in.Keys() {
		v, _ := in.GetItem(k.Interface())
		items = append(items, []any{k.Interface(), v.Interface()})
	}
	return items
}

// pyStr is Python's str(x): strings as they are, containers as repr.
func pyStr(v *exec.Value) string {
	if v.IsString() {
		return v.String()
	}
	return pyRepr(v)
}

// testIs is Jinja's "true"/"false" tests: the value is that bool.
func testIs(want bool) func(*exec.Context, *exec.Value, *exec.VarArgs) (bool, error) {
	return func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.IsBool() && in.Bool() == want, nil
	}
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

// pyStrip is str.strip/lstrip/rstrip(chars).
func pyStrip(s string, chars *exec.Value, left, right bool) string {
	cut := pyIsSpace
	if !isNone(chars) {
		set := chars.String()
		cut = func(r rune) bool { return strings.ContainsRune(set, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, cut)
	}
	if right {
		s = strings.TrimRightFunc(s, cut)
	}
	return s
}

// strftime formats t with Python's strftime directives (C locale).
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
