package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// An addedToken is an entry of tokenizer.json's added_tokens: text that is
// cut out of the input before normalization and mapped to one id.
type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// matcher finds added tokens in text: leftmost match, longest at that
// position (Aho-Corasick's leftmost-longest semantics, as the reference
// library uses). Candidate positions are found with a fast byte search for
// the patterns' first bytes, then a byte trie gives the longest match.
type matcher struct {
	nodes  []trieNode // nodes[0] is the root
	toks   []*addedToken
	starts string // the distinct first bytes, when all are ASCII
	first  [256]bool
}

type trieNode struct {
	edges []trieEdge // sorted by byte
	tok   int32      // index into toks of the pattern ending here, or -1
}

type trieEdge struct {
	b    byte
	node int32
}

func newMatcher(pats []string, toks []*addedToken) *matcher {
	m := &matcher{nodes: []trieNode{{tok: -1}}, toks: toks}
	ascii := true
	for i, p := range pats {
		if p == "" {
			continue
		}
		if !m.first[p[0]] {
			m.first[p[0]] = true
			if p[0] >= utf8.RuneSelf {
				ascii = false
			}
			m.starts += p[:1]
		}
		n := int32(0)
		for k := 0; k < len(p); k++ {
			n = m.child(n, p[k])
		}
		m.nodes[n].tok = int32(i) // a later duplicate wins, as in the reference
	}
	if !ascii {
		m.starts = ""
	}
	return m
}

// child returns the child of node n on byte b, creating it.
func (m *matcher) child(n int32, b byte) int32 {
	edges := m.nodes[n].edges
	k := sort.Search(len(edges), func(i int) bool { return edges[i].b >= b })
	if k < len(edges) && edges[k].b == b {
		return edges[k].node
	}
	c := int32(len(m.nodes))
	m.nodes = append(m.nodes, trieNode{tok: -1})
	edges = append(edges, trieEdge{})
	copy(edges[k+1:], edges[k:])
	edges[k] = trieEdge{b, c}
	m.nodes[n].edges = edges
	return c
}

// longest returns the index of the longest pattern that prefixes s and its
// length, or -1.
func (m *matcher) longest(s string) (tok int32, n int) {
	tok, node := -1, int32(0)
	for i := 0; i < len(s); i++ {
		edges := m.nodes[node].edges
		next := int32(-1)
		for _, e := range edges {
			if e.b == s[i] {
				next = e.node
				break
			}
			if e.b > s[i] {
				break
			}
		}
		if next < 0 {
			break
		}
		node = next
		if t := m.nodes[node].tok; t >= 0 {
			tok, n = t, i+1
		}
	}
	return tok, n
}

// next returns the first position >= i where a pattern may start, or -1.
func (m *matcher) next(s string, i int) int {
	if m.starts != "" {
		var k int
		if len(m.starts) == 1 {
			k = strings.IndexByte(s[i:], m.starts[0])
		} else {
			k = strings.IndexAny(s[i:], m.starts)
		}
		if k < 0 {
			return -1
		}
		return i + k
	}
	for ; i < len(s); i++ {
		if m.first[s[i]] {
			return i
		}
	}
	return -1
}

// segment is a piece of the input: either an added token (id >= 0) or text
// to normalize and tokenize.
type segment struct {
	text  string
	id    int32 // -1 for plain text
	first bool  // starts at offset 0 of the original input
}

// split cuts s into plain and added-token segments, appending them to dst,
// following tokenizers' AddedVocabulary::find_matches (including its
// single_word, lstrip and rstrip rules). Empty segments are dropped.
func (m *matcher) split(dst []segment, s string, first bool) []segment {
	if m == nil {
		return appendSegment(dst, s, -1, first)
	}
	prev := 0
	for i := 0; i < len(s); {
		if i = m.next(s, i); i < 0 {
			break
		}
		k, n := m.longest(s[i:])
		if k < 0 {
			i++
			continue
		}
		start, stop := i, i+n
		i = stop
		tok := m.toks[k]
		if tok.SingleWord && (endsWithWordChar(s[:start]) || startsWithWordChar(s[stop:])) {
			continue
		}
		if tok.LStrip {
			start = max(len(strings.TrimRightFunc(s[:start], unicode.IsSpace)), prev)
		}
		if tok.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
		}
		if prev < start {
			dst = appendSegment(dst, s[prev:start], -1, first && prev == 0)
		}
		dst = appendSegment(dst, s[start:stop], tok.ID, first && start == 0)
		prev = stop
	}
	if prev < len(s) {
		dst = appendSegment(dst, s[prev:], -1, first && prev == 0)
	}
	return dst
}

func appendSegment(dst []segment, s string, id int32, first bool) []segment {
	if s == "" {
		return dst
	}
	return append(dst, segment{s, id, first})
}

// isWordChar is the \w class of Rust's regex crate: alphabetic, marks,
// decimal digits, connector punctuation and the joiners.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

func endsWithWordChar(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}
