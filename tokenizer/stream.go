package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Decoder turns a stream of ids into text incrementally. It decodes a short
// window of recent ids and emits what the window's text gained over the
// previous chunk, holding ids back while their bytes end inside a UTF-8
// sequence. Decoding from the start of the previous chunk keeps context such
// as the SentencePiece leading space right mid-stream. A Decoder belongs to
// one stream and one goroutine.
type Decoder struct {
	t           *Tokenizer
	skipSpecial bool
	ids         []int32 // window: ids[:prefixN] were emitted, the rest are pending
	prefixN     int
	prefix      string // Decode(ids[:prefixN])
}

// maxPending bounds how many ids a Decoder holds back for an incomplete
// UTF-8 sequence (valid UTF-8 never needs more than 4 byte tokens); ids that
// add no text are held up to 4*maxPending. Both bound the window's cost.
const maxPending = 16

// NewDecoder starts an incremental decoder; skipSpecial is as for Decode.
func (t *Tokenizer) NewDecoder(skipSpecial bool) *Decoder {
	return &Decoder{t: t, skipSpecial: skipSpecial}
}

// Add feeds one id and returns the newly completed text, possibly "".
func (d *Decoder) Add(id int32) string {
	if !d.t.known(id) || d.skipSpecial && d.t.special[id] {
		return "" // Decode drops these ids, so they cannot change the text
	}
	d.ids = append(d.ids, id)
	pending := len(d.ids) - d.prefixN
	if pending < maxPending && d.t.tailIncomplete(d.ids, d.skipSpecial) {
		return ""
	}
	text := d.t.Decode(d.ids, d.skipSpecial)
	if len(text) <= len(d.prefix) && pending < 4*maxPending {
		// Nothing new yet (a token that decodes to nothing here may still
		// matter as context, e.g. for the stripped leading space).
		return ""
	}
	out := d.diff(text)
	// The pending ids become the context of the next chunk.
	d.ids = append(d.ids[:0], d.ids[d.prefixN:]...)
	d.prefixN = len(d.ids)
	d.prefix = d.t.Decode(d.ids, d.skipSpecial)
	return out
}

// Flush returns any text still held back and resets the Decoder.
func (d *Decoder) Flush() string {
	var out string
	if len(d.ids) > d.prefixN {
		if text := d.t.Decode(d.ids, d.skipSpecial); len(text) > len(d.prefix) {
			out = d.diff(text)
		}
	}
	d.ids, d.prefixN, d.prefix = d.ids[:0], 0, ""
	return out
}

// diff returns what text adds to the emitted prefix. Decoding is
// prefix-stable except when a run of byte-fallback tokens turns out not to
// be UTF-8: the reference then replaces every byte of the run with U+FFFD,
// including bytes already emitted as valid characters. Those cannot be taken
// back, so diff skips the replacement characters standing for them and the
// stream reads as if each ill-formed sequence alone were replaced.
func (d *Decoder) diff(text string) string {
	if strings.HasPrefix(text, d.prefix) {
		return text[len(d.prefix):]
	}
	common := 0
	for common < len(text) && common < len(d.prefix) && text[common] == d.prefix[common] {
		common++
	}
	for common > 0 && !utf8.RuneStart(text[common]) {
		common--
	}
	rest := text[common:]
	if d.t.decodeMode == modeByteFallback {
		for k := len(d.prefix) - common; k > 0 && strings.HasPrefix(rest, "\uFFFD"); k-- {
			rest = rest[len("\uFFFD"):]
		}
		return rest
	}
	i := len(d.prefix) - common
	for i < len(rest) && !utf8.RuneStart(rest[i]) {
		i++
	}
	return rest[min(i, len(rest)):]
}

// Decoding modes, by what a token contributes to the final bytes.
const (
	modeText         = iota // tokens are text: never an incomplete tail
	modeByteFallback        // <0xNN> tokens are single bytes
	modeByteLevel           // tokens are byte-level strings
)

// decodeMode classifies the decoder pipeline for tailIncomplete.
func decodeMode(d decoder) int {
	mode := modeText
	var walk func(decoder)
	walk = func(d decoder) {
		switch d := d.(type) {
		case sequenceDecoder:
			for _, x := range d {
				walk(x)
			}
		case byteLevelDecoder:
			mode = modeByteLevel
		case byteFallbackDecoder:
			if mode == modeText {
				mode = modeByteFallback
			}
		}
	}
	if d != nil {
		walk(d)
	}
	return mode
}

// tailIncomplete reports whether the bytes ids decode to end with a proper
// prefix of a UTF-8 sequence, which a later token could complete.
func (t *Tokenizer) tailIncomplete(ids []int32, skipSpecial bool) bool {
	if t.decodeMode == modeText {
		return false
	}
	var buf [4]byte
	n := 0 // bytes collected at the end of buf
	for i := len(ids) - 1; i >= 0 && n < len(buf); i-- {
		id := ids[i]
		if !t.known(id) || skipSpecial && t.special[id] {
			continue
		}
		b, text := t.tokenTail(id)
		if text {
			break // a text token ends on a rune boundary
		}
		k := min(len(b), len(buf)-n)
		copy(buf[len(buf)-n-k:], b[len(b)-k:])
		n += k
	}
	return incompleteTail(buf[len(buf)-n:])
}

// tokenTail returns the bytes a token stands for, or text set when the
// token decodes to its own (valid UTF-8) text.
func (t *Tokenizer) tokenTail(id int32) (b []byte, text bool) {
	tok := t.tokens[id]
	switch t.decodeMode {
	case modeByteLevel:
		if t.byteOff != nil {
			return t.byteData[t.byteOff[id]:t.byteOff[id+1]], false
		}
		if b, ok := byteLevelToBytes(tok); ok {
			return b, false
		}
	case modeByteFallback:
		if c, ok := parseByteToken(tok); ok {
			return []byte{c}, false
		}
	}
	return nil, true
}

// incompleteTail reports whether b ends with a valid but unfinished UTF-8
// sequence.
func incompleteTail(b []byte) bool {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return false
		}
		if c < 0xC0 {
			continue // continuation byte: look further back
		}
		need := 0
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 2
		case c >= 0xE0 && c <= 0xEF:
			need = 3
		case c >= 0xF0 && c <= 0xF4:
			need = 4
		}
		return need > k && maximalSubpart(b[len(b)-k:]) == k
	}
	return false
}

// primeContext is how many trailing ids of the prompt Prime keeps as context:
// enough to finish a multi-byte character split across byte tokens.
const primeContext = 8

// Prime gives the Decoder the ids that precede the stream (the prompt), as
// already-emitted context, so that the first generated token decodes as it
// would in the middle of a text (keeping, e.g., SentencePiece's leading
// space) instead of as the start of one.
func (d *Decoder) Prime(context []int32) {
	d.ids = d.ids[:0]
	for _, id := range context[max(0, len(context)-primeContext):] {
		if d.t.known(id) && !(d.skipSpecial && d.t.special[id]) {
			d.ids = append(d.ids, id)
		}
	}
	d.prefixN = len(d.ids)
	d.prefix = d.t.Decode(d.ids, d.skipSpecial)
}
