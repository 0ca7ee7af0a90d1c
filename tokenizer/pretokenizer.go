package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// A piece is a span of normalized text on its way to the model. first is
// set when the piece starts at offset 0 of the original input (Metaspace's
// "first" prepend scheme needs it).
type piece struct {
	text  string
	first bool
}

// A preTokenizer splits one piece into smaller ones, appending them to dst.
// Empty pieces are never appended.
type preTokenizer interface {
	preTokenize(dst []piece, p piece, sc *scratch) []piece
}

// span is a matched (or unmatched) range of a piece during a Split.
type span struct {
	start, end int
	match      bool
}

// Split delimiter behaviours, as tokenizers names them.
const (
	behaviorRemoved = iota
	behaviorIsolated
	behaviorMergedWithPrevious
	behaviorMergedWithNext
	behaviorContiguous
)

var behaviors = map[string]int{
	"Removed":            behaviorRemoved,
	"Isolated":           behaviorIsolated,
	"MergedWithPrevious": behaviorMergedWithPrevious,
	"MergedWithNext":     behaviorMergedWithNext,
	"Contiguous":         behaviorContiguous,
}

// splitPreTokenizer is tokenizers' Split: a pattern (a recognised regex run
// by its scanner, or a literal string) and a delimiter behaviour.
type splitPreTokenizer struct {
	scan     scanner // nil for a literal pattern
	literal  string
	behavior int
	invert   bool
}

// matches appends the spans of s, alternating unmatched and matched ranges.
func (sp *splitPreTokenizer) matches(dst []span, s string) []span {
	if sp.scan != nil {
		for i := 0; i < len(s); {
			e := sp.scan(s, i)
			if e <= i { // never happens for the recognised patterns
				e = len(s)
			}
			dst = append(dst, span{i, e, true})
			i = e
		}
		return dst
	}
	prev := 0
	if sp.literal != "" {
		for i := 0; i < len(s); {
			k := strings.Index(s[i:], sp.literal)
			if k < 0 {
				break
			}
			k += i
			if k > prev {
				dst = append(dst, span{prev, k, false})
			}
			prev = k + len(sp.literal)
			dst = append(dst, span{k, prev, true})
			i = prev
		}
	}
	if prev < len(s) {
		dst = append(dst, span{prev, len(s), false})
	}
	return dst
}

func (sp *splitPreTokenizer) preTokenize(dst []piece, p piece, sc *scratch) []piece {
	spans := sp.matches(sc.spans[:0], p.text)
	if sp.invert {
		for i := range spans {
			spans[i].match = !spans[i].match
		}
	}
	spans = applyBehavior(spans, sp.behavior)
	sc.spans = spans
	for _, m := range spans {
		if m.end > m.start {
			dst = append(dst, piece{p.text[m.start:m.end], p.first && m.start == 0})
		}
	}
	return dst
}

// applyBehavior merges or drops spans in place the way tokenizers'
// SplitDelimiterBehavior does. Spans dropped by Removed get start == end.
func applyBehavior(spans []span, behavior int) []span {
	switch behavior {
	case behaviorRemoved:
		for i := range spans {
			if spans[i].match {
				spans[i].end = spans[i].start
			}
		}
	case behaviorMergedWithPrevious:
		out, prevMatch := spans[:0], false
		for _, m := range spans {
			if m.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].end = m.end
			} else {
				out = append(out, m)
			}
			prevMatch = m.match
		}
		spans = out
	case behaviorMergedWithNext:
		// Walk backwards, folding each delimiter into the span after it.
		n, prevMatch := len(spans), false
		w := n
		for i := n - 1; i >= 0; i-- {
			m := spans[i]
			if m.match && !prevMatch && w < n {
				spans[w].start = m.start
			} else {
				w--
				spans[w] = m
			}
			prevMatch = m.match
		}
		spans = spans[w:]
	case behaviorContiguous:
		out, prevMatch := spans[:0], false
		for _, m := range spans {
			if m.match == prevMatch && len(out) > 0 {
				out[len(out)-1].end = m.end
			} else {
				out = append(out, m)
			}
			prevMatch = m.match
		}
		spans = out
	}
	return spans
}

// byteLevelPreTokenizer is tokenizers' ByteLevel pre-tokenizer. The mapping
// of bytes to the byte-level alphabet is not done here: a byte-level model
// looks raw bytes up directly (see bpe.go), which gives the same ids.
type byteLevelPreTokenizer struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b *byteLevelPreTokenizer) preTokenize(dst []piece, p piece, sc *scratch) []piece {
	s := p.text
	if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	if !b.useRegex {
		return append(dst, piece{s, p.first})
	}
	for i := 0; i < len(s); {
		e := scanGPT2(s, i)
		dst = append(dst, piece{s[i:e], p.first && i == 0})
		i = e
	}
	return dst
}

// metaspacePreTokenizer is tokenizers' Metaspace: spaces become the
// replacement rune, which is prepended according to the scheme, and the
// text is optionally split before each replacement rune.
type metaspacePreTokenizer struct {
	replacement string
	scheme      string // "always", "first" or "never"
	split       bool
}

func (m *metaspacePreTokenizer) preTokenize(dst []piece, p piece, sc *scratch) []piece {
	s := strings.ReplaceAll(p.text, " ", m.replacement)
	if !strings.HasPrefix(s, m.replacement) && (m.scheme == "always" || m.scheme == "first" && p.first) {
		s = m.replacement + s
	}
	if !m.split {
		return append(dst, piece{s, p.first})
	}
	sp := splitPreTokenizer{literal: m.replacement, behavior: behaviorMergedWithNext}
	return sp.preTokenize(dst, piece{s, p.first}, sc)
}

// sequencePreTokenizer applies each pre-tokenizer to every piece the
// previous one produced.
type sequencePreTokenizer []preTokenizer

func (q sequencePreTokenizer) preTokenize(dst []piece, p piece, sc *scratch) []piece {
	cur := append(sc.seqA[:0], p)
	for _, pt := range q {
		next := sc.seqB[:0]
		for _, c := range cur {
			next = pt.preTokenize(next, c, sc)
		}
		sc.seqA, sc.seqB = next, cur
		cur = next
	}
	return append(dst, cur...)
}

// parsePreTokenizer builds the pre-tokenizer of tokenizer.json; nil means
// none. byteLevel reports that the last stage is ByteLevel, so the model
// works on bytes.
func parsePreTokenizer(raw json.RawMessage) (pt preTokenizer, byteLevel bool, err error) {
	if isNull(raw) {
		return nil, false, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, false, fmt.Errorf("pre_tokenizer: %w", err)
	}
	switch typ {
	case "Sequence":
		var v struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Sequence: %w: %v", ErrInvalid, err)
		}
		var seq sequencePreTokenizer
		for i, r := range v.PreTokenizers {
			p, bl, err := parsePreTokenizer(r)
			if err != nil {
				return nil, false, err
			}
			if bl && i != len(v.PreTokenizers)-1 {
				return nil, false, fmt.Errorf("pre_tokenizer Sequence: ByteLevel before other pre-tokenizers: %w", ErrUnsupported)
			}
			byteLevel = bl
			if inner, ok := p.(sequencePreTokenizer); ok {
				seq = append(seq, inner...) // flat: stages share the scratch buffers
			} else if p != nil {
				seq = append(seq, p)
			}
		}
		if len(seq) == 1 {
			return seq[0], byteLevel, nil
		}
		return seq, byteLevel, nil
	case "ByteLevel":
		v := struct {
			AddPrefixSpace bool `json:"add_prefix_space"`
			UseRegex       bool `json:"use_regex"`
		}{UseRegex: true}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer ByteLevel: %w: %v", ErrInvalid, err)
		}
		return &byteLevelPreTokenizer{v.AddPrefixSpace, v.UseRegex}, true, nil
	case "Split":
		var v struct {
			Pattern  json.RawMessage `json:"pattern"`
			Behavior string          `json:"behavior"`
			Invert   bool            `json:"invert"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Split: %w: %v", ErrInvalid, err)
		}
		b, ok := behaviors[v.Behavior]
		if !ok {
			return nil, false, fmt.Errorf("pre_tokenizer Split: behavior %q: %w", v.Behavior, ErrUnsupported)
		}
		sp := &splitPreTokenizer{behavior: b, invert: v.Invert}
		var pat struct {
			String *string `json:"String"`
			Regex  *string `json:"Regex"`
		}
		if err := json.Unmarshal(v.Pattern, &pat); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Split pattern: %w: %v", ErrInvalid, err)
		}
		switch {
		case pat.String != nil:
			sp.literal = *pat.String
		case pat.Regex != nil:
			scan, ok := knownPatterns[*pat.Regex]
			if !ok {
				return nil, false, fmt.Errorf("pre_tokenizer Split: regex %q is not one of the recognised patterns: %w", *pat.Regex, ErrUnsupported)
			}
			sp.scan = scan
		default:
			return nil, false, fmt.Errorf("pre_tokenizer Split: pattern has neither String nor Regex: %w", ErrInvalid)
		}
		return sp, false, nil
	case "Metaspace":
		v := struct {
			Replacement    string  `json:"replacement"`
			PrependScheme  *string `json:"prepend_scheme"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
			Split          *bool   `json:"split"`
		}{Replacement: "▁"}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Metaspace: %w: %v", ErrInvalid, err)
		}
		m, err := newMetaspace(v.Replacement, v.PrependScheme, v.AddPrefixSpace)
		if err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Metaspace: %w", err)
		}
		m.split = v.Split == nil || *v.Split
		return m, false, nil
	}
	return nil, false, fmt.Errorf("pre_tokenizer type %q: %w", typ, ErrUnsupported)
}

// newMetaspace resolves the prepend scheme from prepend_scheme or, in older
// files, add_prefix_space.
func newMetaspace(replacement string, scheme *string, addPrefixSpace *bool) (*metaspacePreTokenizer, error) {
	if len([]rune(replacement)) != 1 {
		return nil, fmt.Errorf("replacement %q is not one character: %w", replacement, ErrInvalid)
	}
	m := &metaspacePreTokenizer{replacement: replacement, scheme: "always"}
	switch {
	case scheme != nil:
		switch *scheme {
		case "always", "first", "never":
			m.scheme = *scheme
		default:
			return nil, fmt.Errorf("prepend_scheme %q: %w", *scheme, ErrUnsupported)
		}
	case addPrefixSpace != nil && !*addPrefixSpace:
		m.scheme = "never"
	}
	return m, nil
}
