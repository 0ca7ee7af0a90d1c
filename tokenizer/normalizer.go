package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A normalizer rewrites the text of one segment (the text between added
// tokens) before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

type prependNormalizer struct{ prefix string }

// normalize prepends the prefix to non-empty text (Llama 2's "▁").
func (p prependNormalizer) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

type replaceNormalizer struct{ old, new string }

func (r replaceNormalizer) normalize(s string) string {
	if r.old == "" {
		return s
	}
	return strings.ReplaceAll(s, r.old, r.new)
}

// unicodeNormalizer applies a Unicode normalization form the way the
// reference library does. Its tables are older than Go's: the code points in
// opaqueRunes are unassigned there, so they have no decomposition and
// combining class 0 (they block reordering and composition). The input is
// therefore normalized in runs between them.
type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(s string) string {
	var b strings.Builder
	start := 0
	for i := 0; i < len(s); {
		if s[i] < 0xDF { // every opaque rune is at least U+07FD (DF BD)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if isOpaque(r) {
			b.WriteString(u.segment(s[start:i]))
			b.WriteString(s[i : i+n])
			start = i + n
		}
		i += n
	}
	if start == 0 {
		return u.segment(s)
	}
	b.WriteString(u.segment(s[start:]))
	return b.String()
}

// segment normalizes text free of opaque runes. Composition can still
// produce one (U+11935 U+11930 → U+11938), which the reference never does,
// so such composites are decomposed again.
func (u unicodeNormalizer) segment(s string) string {
	out := u.form.String(s)
	if u.form != norm.NFC && u.form != norm.NFKC {
		return out
	}
	var b strings.Builder
	start := 0
	for i := 0; i < len(out); {
		if out[i] < 0xDF {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(out[i:])
		if isOpaque(r) {
			b.WriteString(out[start:i])
			b.WriteString(norm.NFD.String(out[i : i+n]))
			start = i + n
		}
		i += n
	}
	if start == 0 {
		return out
	}
	b.WriteString(out[start:])
	return b.String()
}

func isOpaque(r rune) bool {
	if r < 0x7fd || r > 0x1dfa && r < 0x32ff || r > 0x32ff && r < 0xa7f2 || r > 0xab69 && r < 0x10781 || r > 0x1fbf9 {
		return false
	}
	return unicode.Is(opaqueRunes, r)
}

// opaqueRunes are the code points that Go's normalization tables decompose
// or give a non-zero combining class but the reference library's tables
// leave alone (found by comparing the two over all code points).
var opaqueRunes = &unicode.RangeTable{
	R16: []unicode.Range16{
		{0x7fd, 0x7fd, 1}, {0x898, 0x89f, 1}, {0x8ca, 0x8d3, 1}, {0x9fe, 0x9fe, 1}, {0xc3c, 0xc3c, 1},
		{0xd3b, 0xd3c, 1}, {0xeba, 0xeba, 1}, {0x1715, 0x1715, 1}, {0x1abf, 0x1ace, 1}, {0x1df6, 0x1dfa, 1},
		{0x32ff, 0x32ff, 1}, {0xa7f2, 0xa7f4, 1}, {0xa82c, 0xa82c, 1}, {0xab69, 0xab69, 1},
	},
	R32: []unicode.Range32{
		{0x10781, 0x10785, 1}, {0x10787, 0x107b0, 1}, {0x107b2, 0x107ba, 1}, {0x10d24, 0x10d27, 1},
		{0x10eab, 0x10eac, 1}, {0x10efd, 0x10eff, 1}, {0x10f46, 0x10f50, 1}, {0x10f82, 0x10f85, 1},
		{0x11070, 0x11070, 1}, {0x1133b, 0x1133b, 1}, {0x1145e, 0x1145e, 1}, {0x11839, 0x1183a, 1},
		{0x11938, 0x11938, 1}, {0x1193d, 0x1193e, 1}, {0x11943, 0x11943, 1}, {0x119e0, 0x119e0, 1},
		{0x11a34, 0x11a34, 1}, {0x11a47, 0x11a47, 1}, {0x11a99, 0x11a99, 1}, {0x11d42, 0x11d42, 1},
		{0x11d44, 0x11d45, 1}, {0x11d97, 0x11d97, 1}, {0x11f41, 0x11f42, 1}, {0x16ff0, 0x16ff1, 1},
		{0x1e030, 0x1e06d, 1}, {0x1e08f, 0x1e08f, 1}, {0x1e130, 0x1e136, 1}, {0x1e2ae, 0x1e2ae, 1},
		{0x1e2ec, 0x1e2ef, 1}, {0x1e4ec, 0x1e4ef, 1}, {0x1f16c, 0x1f16c, 1}, {0x1fbf0, 0x1fbf9, 1},
	},
}

type sequenceNormalizer []normalizer

func (q sequenceNormalizer) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// componentType reads the "type" field of a component object.
func componentType(raw json.RawMessage) (string, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return head.Type, nil
}

// isNull reports whether a component is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// stringPattern reads a {"String": "..."} pattern; a Regex pattern is
// unsupported where only literal replacement is implemented.
func stringPattern(raw json.RawMessage, where string) (string, error) {
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("%s pattern: %w: %v", where, ErrInvalid, err)
	}
	switch {
	case p.String != nil:
		return *p.String, nil
	case p.Regex != nil:
		return "", fmt.Errorf("%s: regex pattern %q: %w", where, *p.Regex, ErrUnsupported)
	}
	return "", fmt.Errorf("%s: pattern has neither String nor Regex: %w", where, ErrInvalid)
}

// parseNormalizer builds the normalizer of tokenizer.json; nil means none.
func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch typ {
	case "Sequence":
		var v struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("normalizer Sequence: %w: %v", ErrInvalid, err)
		}
		var seq sequenceNormalizer
		for _, r := range v.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	case "Prepend":
		var v struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("normalizer Prepend: %w: %v", ErrInvalid, err)
		}
		return prependNormalizer{v.Prepend}, nil
	case "Replace":
		var v struct {
			Pattern json.RawMessage `json:"pattern"`
			Content string          `json:"content"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w: %v", ErrInvalid, err)
		}
		old, err := stringPattern(v.Pattern, "normalizer Replace")
		if err != nil {
			return nil, err
		}
		return replaceNormalizer{old, v.Content}, nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	}
	return nil, fmt.Errorf("normalizer type %q: %w", typ, ErrUnsupported)
}
