package grammar

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/sotasystems/sota/tokenizer"
)

// Vocab is what a grammar needs to know of a tokenizer: the bytes each
// token stands for and the end-of-sequence ids, with the tokens arranged in
// a trie so that a mask is computed by one walk that skips every subtree
// the grammar rejects at its first byte. A Vocab is immutable and safe for
// concurrent use; build it once per tokenizer.
type Vocab struct {
	n    int      // ids are < n
	data []byte   // token bytes, concatenated
	off  []uint32 // [n+1]: token id is data[off[id]:off[id+1]]; empty = never allowed
	eos  []int32
	trie []trieNode // preorder; trie[0] is the root (no byte)
	toks []int32    // token ids in trie order: node k ends tokens toks[trie[k].tok:trie[k+1].tok]
}

// trieNode is one byte of the token trie.
type trieNode struct {
	b     byte
	depth uint16 // bytes from the root, this one included
	next  int32  // index past this node's subtree
	tok   int32  // first index into toks of this node's tokens (and subtree's)
}

// NewVocab reads the byte strings of every token of t (special tokens
// excluded: they are never allowed, except the EOS ids, which end the
// output where the grammar allows it).
func NewVocab(t *tokenizer.Tokenizer) (*Vocab, error) {
	n := t.VocabSize()
	toks := make([][]byte, n)
	for id := range n {
		if t.IsSpecial(int32(id)) {
			continue
		}
		b, ok := t.TokenBytes(int32(id))
		if ok {
			toks[id] = b
		}
	}
	return NewVocabBytes(toks, t.EOS())
}

// NewVocabBytes builds a Vocab from each token's bytes (nil or empty for a
// token that is never allowed) and the EOS ids.
func NewVocabBytes(toks [][]byte, eos []int32) (*Vocab, error) {
	v := &Vocab{n: len(toks), off: make([]uint32, len(toks)+1)}
	for id, b := range toks {
		if len(b) > 0xFFFF {
			return nil, fmt.Errorf("grammar: token %d has %d bytes", id, len(b))
		}
		v.data = append(v.data, b...)
		v.off[id+1] = uint32(len(v.data))
	}
	for _, id := range eos {
		if id < 0 || int(id) >= len(toks) {
			return nil, fmt.Errorf("grammar: EOS id %d outside the vocabulary of %d", id, len(toks))
		}
		if !slices.Contains(v.eos, id) {
			v.eos = append(v.eos, id)
		}
	}
	var ids []int32
	for id := range toks {
		if len(toks[id]) > 0 && !slices.Contains(v.eos, int32(id)) {
			ids = append(ids, int32(id))
		}
	}
	slices.SortFunc(ids, func(a, b int32) int {
		if c := bytes.Compare(v.Bytes(a), v.Bytes(b)); c != 0 {
			return c
		}
		return int(a - b)
	})
	v.toks = ids
	v.buildTrie()
	return v, nil
}

// buildTrie lays out the trie of the sorted tokens in preorder.
func (v *Vocab) buildTrie() {
	v.trie = append(v.trie[:0], trieNode{tok: 0})
	path := []int32{0} // path[d] = node at depth d
	var prev []byte
	for k, id := range v.toks {
		b := v.Bytes(id)
		common := 0
		for common < len(b) && common < len(prev) && b[common] == prev[common] {
			common++
		}
		if common == len(b) && len(b) == len(prev) { // duplicate bytes: same node
			continue
		}
		for d := len(path) - 1; d > common; d-- {
			v.trie[path[d]].next = int32(len(v.trie))
		}
		path = path[:common+1]
		for d := common; d < len(b); d++ {
			path = append(path, int32(len(v.trie)))
			v.trie = append(v.trie, trieNode{b: b[d], depth: uint16(d + 1), tok: int32(k)})
		}
		prev = b
	}
	for d := len(path) - 1; d >= 0; d-- {
		v.trie[path[d]].next = int32(len(v.trie))
	}
	v.trie = append(v.trie, trieNode{tok: int32(len(v.toks))}) // sentinel: trie[k+1].tok is always defined
	v.trie[0].next = int32(len(v.trie) - 1)
}

// Size is the number of token ids (a mask has Size bits or more).
func (v *Vocab) Size() int { return v.n }

// Words is the length of a mask of v in uint64 words.
func (v *Vocab) Words() int { return (v.n + 63) / 64 }

// EOS returns the end-of-sequence ids.
func (v *Vocab) EOS() []int32 { return slices.Clone(v.eos) }

// Bytes returns the bytes of token id (nil if it has none or is out of range).
func (v *Vocab) Bytes(id int32) []byte {
	if id < 0 || int(id) >= v.n {
		return nil
	}
	return v.data[v.off[id]:v.off[id+1]]
}

// isEOS reports whether id is an EOS id.
func (v *Vocab) isEOS(id int32) bool { return slices.Contains(v.eos, id) }

// TrieNodes is the number of nodes of the token trie (a measure of the
// worst-case cost of one mask walk).
func (v *Vocab) TrieNodes() int { return len(v.trie) - 2 }
