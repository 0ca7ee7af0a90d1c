package tokenizer

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/builtins/methods"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// Python str and dict methods with Python's semantics where gonja's differ
// (default strip characters, split on whitespace runs, tuple prefixes,
// title case) or lose information (dict order).

// gonjaStrMethods are the str methods gonja implements well enough.
var gonjaStrMethods = []string{
	"casefold", "center", "count", "encode", "expandtabs", "find", "format", "format_map", "isalnum",
	"isalpha", "isascii", "isdecimal", "isdigit", "islower", "isnumeric", "isprintable", "isspace",
	"istitle", "isupper", "join", "ljust", "partition", "removeprefix", "removesuffix", "rfind",
	"rjust", "rpartition", "swapcase", "zfill", "index", "rindex", "splitlines",
}

func strMethodSet() *exec.MethodSet[string] {
	m := map[string]exec.Method[string]{
		"strip":      stripMethod(true, true),
		"lstrip":     stripMethod(true, false),
		"rstrip":     stripMethod(false, true),
		"split":      splitMethod(false),
		"rsplit":     splitMethod(true),
		"startswith": affixMethod(strings.HasPrefix),
		"endswith":   affixMethod(strings.HasSuffix),
		"title":      func(s string, _ *exec.Value, _ *exec.VarArgs) (any, error) { return pyTitle(s), nil },
		"capitalize": func(s string, _ *exec.Value, _ *exec.VarArgs) (any, error) { return pyCapitalize(s), nil },
		"upper":      func(s string, _ *exec.Value, _ *exec.VarArgs) (any, error) { return strings.ToUpper(s), nil },
		"lower":      func(s string, _ *exec.Value, _ *exec.VarArgs) (any, error) { return strings.ToLower(s), nil },
		"replace":    replaceMethod,
	}
	for _, name := range gonjaStrMethods {
		if fn, ok := methods.All.Str.Get(name); ok {
			m[name] = fn
		}
	}
	return exec.NewMethodSet(m)
}

func stripMethod(left, right bool) exec.Method[string] {
	return func(s string, _ *exec.Value, a *exec.VarArgs) (any, error) {
		args, err := callArgs(a, "chars")
		if err != nil {
			return nil, err
		}
		return pyStrip(s, args[0], left, right), nil
	}
}

// splitMethod is str.split/rsplit(sep=None, maxsplit=-1).
func splitMethod(fromRight bool) exec.Method[string] {
	return func(s string, _ *exec.Value, a *exec.VarArgs) (any, error) {
		args, err := callArgs(a, "sep", "maxsplit")
		if err != nil {
			return nil, err
		}
		limit := -1
		if !isNone(args[1]) {
			limit = args[1].Integer()
		}
		var parts []string
		if isNone(args[0]) {
			parts = splitSpace(s, limit, fromRight)
		} else {
			sep := args[0].String()
			if sep == "" {
				return nil, fmt.Errorf("empty separator")
			}
			switch {
			case limit < 0:
				parts = strings.Split(s, sep)
			case !fromRight:
				parts = strings.SplitN(s, sep, limit+1)
			default:
				parts = rsplitN(s, sep, limit)
			}
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	}
}

// rsplitN splits at the last limit occurrences of sep.
func rsplitN(s, sep string, limit int) []string {
	var rev []string
	for ; limit > 0; limit-- {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		rev = append(rev, s[i+len(sep):])
		s = s[:i]
	}
	out := []string{s}
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, rev[i])
	}
	return out
}

// splitSpace is str.split() without a separator: runs of whitespace
// separate, leading and trailing whitespace is dropped; with a limit the
// rest stays whole (stripped on the split side only).
func splitSpace(s string, limit int, fromRight bool) []string {
	if limit < 0 {
		return strings.FieldsFunc(s, pyIsSpace)
	}
	var parts []string
	if !fromRight {
		for len(parts) < limit {
			s = strings.TrimLeftFunc(s, pyIsSpace)
			i := strings.IndexFunc(s, pyIsSpace)
			if s == "" || i < 0 {
				break
			}
			parts = append(parts, s[:i])
			s = s[i:]
		}
		if s = strings.TrimLeftFunc(s, pyIsSpace); s != "" {
			parts = append(parts, s)
		}
		return parts
	}
	for len(parts) < limit {
		s = strings.TrimRightFunc(s, pyIsSpace)
		i := strings.LastIndexFunc(s, pyIsSpace)
		if s == "" || i < 0 {
			break
		}
		_, n := decodeRuneAt(s, i)
		parts = append([]string{s[i+n:]}, parts...)
		s = s[:i]
	}
	if s = strings.TrimRightFunc(s, pyIsSpace); s != "" {
		parts = append([]string{s}, parts...)
	}
	return parts
}

func decodeRuneAt(s string, i int) (rune, int) {
	for _, r := range s[i:] {
		return r, len(string(r))
	}
	return 0, 0
}

// affixMethod is str.startswith/endswith(prefix or tuple of prefixes).
func affixMethod(has func(s, affix string) bool) exec.Method[string] {
	return func(s string, _ *exec.Value, a *exec.VarArgs) (any, error) {
		args, err := callArgs(a, "prefix", "start", "end")
		if err != nil {
			return nil, err
		}
		if isNone(args[0]) {
			return nil, fmt.Errorf("takes at least 1 argument")
		}
		if !isNone(args[1]) || !isNone(args[2]) {
			r := []rune(s)
			start, end := 0, len(r)
			if !isNone(args[1]) {
				start = clampIndex(args[1].Integer(), len(r))
			}
			if !isNone(args[2]) {
				end = clampIndex(args[2].Integer(), len(r))
			}
			if start > end {
				return false, nil
			}
			s = string(r[start:end])
		}
		if args[0].IsList() {
			for i := range args[0].Len() {
				if has(s, args[0].Index(i).String()) {
					return true, nil
				}
			}
			return false, nil
		}
		return has(s, args[0].String()), nil
	}
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

func replaceMethod(s string, _ *exec.Value, a *exec.VarArgs) (any, error) {
	args, err := callArgs(a, "old", "new", "count")
	if err != nil {
		return nil, err
	}
	if isNone(args[0]) || isNone(args[1]) {
		return nil, fmt.Errorf("replace takes at least 2 arguments")
	}
	n := -1
	if !isNone(args[2]) {
		n = args[2].Integer()
	}
	return strings.Replace(s, args[0].String(), args[1].String(), n), nil
}

func isCased(r rune) bool { return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) }

// pyTitle is str.title: a cased letter after a cased letter is lowered,
// any other is title-cased.
func pyTitle(s string) string {
	var b strings.Builder
	prev := false
	for _, r := range s {
		if prev {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(unicode.ToTitle(r))
		}
		prev = isCased(r)
	}
	return b.String()
}

// pyCapitalize is str.capitalize: first character title-cased, the rest
// lowered.
func pyCapitalize(s string) string {
	for i, r := range s {
		return string(unicode.ToTitle(r)) + strings.ToLower(s[i+len(string(r)):])
	}
	return s
}

// dictMethodSet gives dicts Python's items/keys/values/get, in key order.
func dictMethodSet() *exec.MethodSet[map[string]any] {
	return exec.NewMethodSet(map[string]exec.Method[map[string]any]{
		"items": func(_ map[string]any, self *exec.Value, a *exec.VarArgs) (any, error) {
			return dictItems(self), nil
		},
		"keys": func(_ map[string]any, self *exec.Value, a *exec.VarArgs) (any, error) {
			var keys []any
			for _, k := range self.Keys() {
				keys = append(keys, k.Interface())
			}
			return keys, nil
		},
		"values": func(_ map[string]any, self *exec.Value, a *exec.VarArgs) (any, error) {
			var vals []any
			for _, k := range self.Keys() {
				v, _ := self.GetItem(k.Interface())
				vals = append(vals, v.Interface())
			}
			return vals, nil
		},
		"get": func(_ map[string]any, self *exec.Value, a *exec.VarArgs) (any, error) {
			args, err := callArgs(a, "key", "default")
			if err != nil {
				return nil, err
			}
			if isNone(args[0]) {
				return nil, fmt.Errorf("get takes at least 1 argument")
			}
			if v, ok := self.GetItem(args[0].Interface()); ok {
				return v.Interface(), nil
			}
			if args[1] == nil {
				return nil, nil
			}
			return args[1].Interface(), nil
		},
	})
}
