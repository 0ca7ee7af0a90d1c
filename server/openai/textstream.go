package openai

import (
	"strings"

	"github.com/sotasystems/sota/tokenizer"
)

// textStream turns one sequence's tokens into text deltas and ends it at the
// first stop string. Text that could be the start of a stop string is held
// back until the next tokens show whether it is; a stop string and what
// follows it are never emitted.
type textStream struct {
	dec     *tokenizer.Decoder
	stops   []string
	held    string
	stopped bool // a stop string was found
	tokens  int  // tokens consumed (including the one that completed a stop string)
}

func newTextStream(tok *tokenizer.Tokenizer, prompt []int32, skipSpecial bool, stops []string) *textStream {
	dec := tok.NewDecoder(skipSpecial)
	dec.Prime(prompt)
	return &textStream{dec: dec, stops: stops}
}

// add feeds one token and returns the text now safe to emit; done reports
// that a stop string ended the sequence. A stop token (EOS or a stop id)
// counts but adds no text.
func (t *textStream) add(id int32, stopToken bool) (text string, done bool) {
	if t.stopped {
		return "", true
	}
	t.tokens++
	if stopToken {
		return "", false
	}
	return t.push(t.dec.Add(id))
}

// flush returns the text still held at the end of the sequence.
func (t *textStream) flush() string {
	if t.stopped {
		return ""
	}
	text, done := t.push(t.dec.Flush())
	if done {
		return text
	}
	text += t.held
	t.held = ""
	return text
}

// push adds decoded text and applies the stop strings.
func (t *textStream) push(delta string) (string, bool) {
	if len(t.stops) == 0 {
		return delta, false
	}
	t.held += delta
	cut := -1
	for _, s := range t.stops {
		if i := strings.Index(t.held, s); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		out := t.held[:cut]
		t.held, t.stopped = "", true
		return out, true
	}
	keep := 0
	for _, s := range t.stops {
		keep = max(keep, overlap(t.held, s))
	}
	out := t.held[:len(t.held)-keep]
	t.held = t.held[len(t.held)-keep:]
	return out, false
}

// overlap is the length of the longest suffix of text that is a proper
// prefix of stop. Such a suffix starts with stop's first byte, so cutting
// there never splits a UTF-8 sequence.
func overlap(text, stop string) int {
	for k := min(len(text), len(stop)-1); k > 0; k-- {
		if strings.HasSuffix(text, stop[:k]) {
			return k
		}
	}
	return 0
}
