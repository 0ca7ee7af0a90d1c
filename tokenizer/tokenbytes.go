package tokenizer

import "strings"

// TokenBytes returns the bytes token id adds to the text when it appears in
// the middle of a sequence (a SentencePiece "▁x" keeps its space, a
// <0xNN> byte-fallback token is that one byte, a byte-level token is its
// raw bytes, which may be part of a UTF-8 sequence). Structured-output
// masks match these bytes against a grammar. ok is false for ids outside
// the vocabulary and for tokens that add no text.
func (t *Tokenizer) TokenBytes(id int32) (b []byte, ok bool) {
	if !t.known(id) {
		return nil, false
	}
	if raw, text := t.tokenTail(id); !text {
		return append([]byte(nil), raw...), len(raw) > 0
	}
	if t.decodeMode == modeByteFallback {
		if c, isByte := parseByteToken(t.tokens[id]); isByte {
			return []byte{c}, true
		}
	}
	// Decode after a context token, so that decoders that strip a leading
	// space from the first token (SentencePiece) keep this one's.
	ctx := t.Encode("a", false)
	before := t.Decode(ctx, false)
	after := t.Decode(append(ctx, id), false)
	s, cut := strings.CutPrefix(after, before)
	if !cut {
		s = t.Decode([]int32{id}, false)
	}
	return []byte(s), s != ""
}
