package tokenizer

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and decodes ids to text. It is
// immutable after Load and safe for concurrent use.
type Tokenizer struct {
	normalizer   normalizer   // nil: none
	preTokenizer preTokenizer // nil: the whole segment is one word
	model        *bpe
	template     template
	decoder      decoder // nil: tokens joined with spaces
	decodeMode   int     // what tokens contribute to the bytes (stream.go)
	rawAdded     *matcher
	normAdded    *matcher

	tokens  []string         // id → token text; added tokens take precedence
	present []bool           // id → the id has a token
	special []bool           // id → special added token
	added   map[string]int32 // added token text → id

	// byteData and byteOff hold each token's bytes when the decoder is
	// ByteLevel alone, so Decode is a concatenation: token id stands for
	// byteData[byteOff[id]:byteOff[id+1]].
	byteData []byte
	byteOff  []uint32

	bos    int32
	hasBOS bool
	eos    []int32

	fromSentencePiece bool // loaded from tokenizer.model (spm.go)

	pool sync.Pool // *encodeState
}

// encodeState is the scratch space of one Encode call.
type encodeState struct {
	segs, normSegs []segment
	pieces         []piece
	sc             scratch
	bpe            bpeScratch
}

// scratch holds pre-tokenizer buffers.
type scratch struct {
	spans      []span
	seqA, seqB []piece
}

// maxPooledPieces bounds the buffers kept for reuse after a huge input.
const maxPooledPieces = 1 << 14

// Encode returns the ids of text, like tokenizers' encode(text,
// add_special_tokens=addSpecial). With addSpecial the post-processor's
// tokens (BOS for Llama) are added.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int32 {
	text = validUTF8(text)
	st := t.pool.Get().(*encodeState)
	defer t.release(st)
	ids := make([]int32, 0, len(text)/4+len(t.template.prefix)+len(t.template.suffix)+1)
	if addSpecial {
		ids = append(ids, t.template.prefix...)
	}
	st.segs = t.rawAdded.split(st.segs[:0], text, true)
	for _, sg := range st.segs {
		if sg.id >= 0 {
			ids = append(ids, sg.id)
			continue
		}
		s := sg.text
		if t.normalizer != nil {
			s = t.normalizer.normalize(s)
		}
		if t.normAdded == nil {
			ids = t.encodeText(ids, piece{s, sg.first}, st)
			continue
		}
		st.normSegs = t.normAdded.split(st.normSegs[:0], s, sg.first)
		for _, ns := range st.normSegs {
			if ns.id >= 0 {
				ids = append(ids, ns.id)
			} else {
				ids = t.encodeText(ids, piece{ns.text, ns.first}, st)
			}
		}
	}
	if addSpecial {
		ids = append(ids, t.template.suffix...)
	}
	return ids
}

// encodeText pre-tokenizes normalized text and runs the model on each piece.
func (t *Tokenizer) encodeText(ids []int32, p piece, st *encodeState) []int32 {
	if t.preTokenizer == nil {
		return t.model.encodeWord(ids, p.text, &st.bpe)
	}
	st.pieces = t.preTokenizer.preTokenize(st.pieces[:0], p, &st.sc)
	for _, w := range st.pieces {
		ids = t.model.encodeWord(ids, w.text, &st.bpe)
	}
	return ids
}

func (t *Tokenizer) release(st *encodeState) {
	if cap(st.pieces) > maxPooledPieces || cap(st.sc.spans) > maxPooledPieces ||
		cap(st.bpe.syms) > maxPooledPieces || cap(st.bpe.heap) > maxPooledPieces {
		return // let a huge state be collected
	}
	// Drop references to the text so the pool does not keep it alive.
	clear(st.segs)
	clear(st.normSegs)
	clear(st.pieces)
	clear(st.sc.seqA)
	clear(st.sc.seqB)
	t.pool.Put(st)
}

// Decode returns the text of ids, like tokenizers' decode(ids,
// skip_special_tokens=skipSpecial). Ids outside the vocabulary are skipped.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	if t.byteOff != nil {
		return t.decodeBytes(ids, skipSpecial)
	}
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if !t.known(id) || skipSpecial && t.special[id] {
			continue
		}
		toks = append(toks, t.tokens[id])
	}
	if t.decoder == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.decoder.decodeChain(toks), "")
}

// decodeBytes is Decode for a lone ByteLevel decoder.
func (t *Tokenizer) decodeBytes(ids []int32, skipSpecial bool) string {
	n := 0
	for _, id := range ids {
		if t.known(id) {
			n += int(t.byteOff[id+1] - t.byteOff[id])
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, id := range ids {
		if !t.known(id) || skipSpecial && t.special[id] {
			continue
		}
		sb.Write(t.byteData[t.byteOff[id]:t.byteOff[id+1]])
	}
	if s := sb.String(); utf8.ValidString(s) {
		return s
	}
	return string(appendLossy(make([]byte, 0, sb.Len()+8), []byte(sb.String())))
}

// buildByteTable fills byteData/byteOff when the decoder is ByteLevel alone:
// a token in the byte-level alphabet stands for its bytes, any other token
// for its own UTF-8 (as byteLevelDecoder does).
func (t *Tokenizer) buildByteTable() {
	if _, ok := t.decoder.(byteLevelDecoder); !ok {
		return
	}
	t.byteOff = make([]uint32, len(t.tokens)+1)
	for id, tok := range t.tokens {
		if b, ok := byteLevelToBytes(tok); ok {
			t.byteData = append(t.byteData, b...)
		} else {
			t.byteData = append(t.byteData, tok...)
		}
		t.byteOff[id+1] = uint32(len(t.byteData))
	}
}

func (t *Tokenizer) known(id int32) bool {
	return id >= 0 && int(id) < len(t.tokens) && t.present[id]
}

// BOS returns the beginning-of-sequence id: tokenizer_config.json's
// bos_token, else the first token the post-processor adds.
func (t *Tokenizer) BOS() (int32, bool) { return t.bos, t.hasBOS }

// EOS returns the end-of-sequence ids: tokenizer_config.json's eos_token
// followed by generation_config.json's eos_token_id entries.
func (t *Tokenizer) EOS() []int32 { return append([]int32(nil), t.eos...) }

// AddsBOS reports whether Encode with addSpecial starts with the BOS id.
func (t *Tokenizer) AddsBOS() bool {
	return t.hasBOS && len(t.template.prefix) > 0 && t.template.prefix[0] == t.bos
}

// VocabSize is one more than the largest token id (model and added tokens).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// TokenString returns the token text of id as written in tokenizer.json
// (byte-level tokens in their printable alphabet, SentencePiece pieces with ▁).
func (t *Tokenizer) TokenString(id int32) (string, bool) {
	if !t.known(id) {
		return "", false
	}
	return t.tokens[id], true
}

// TokenID returns the id of a token given its tokenizer.json text.
func (t *Tokenizer) TokenID(tok string) (int32, bool) {
	if id, ok := t.added[tok]; ok {
		return id, true
	}
	m := t.model
	if !m.byteLevel {
		id, ok := m.vocab[tok]
		return id, ok
	}
	if b, ok := byteLevelToBytes(tok); ok {
		id, ok := m.vocab[string(b)]
		return id, ok
	}
	id, ok := m.unreachable[tok]
	return id, ok
}

// IsSpecial reports whether id is a special added token (skipped by Decode
// with skipSpecial).
func (t *Tokenizer) IsSpecial(id int32) bool { return t.known(id) && t.special[id] }
