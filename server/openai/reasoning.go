package openai

import (
	"fmt"
	"strings"
)

// ReasoningParser names how a model marks its reasoning in the output.
type ReasoningParser string

// Reasoning formats (vLLM's parser names).
const (
	ReasoningNone ReasoningParser = ""
	// ReasoningQwen3: reasoning is "<think>…</think>" at the start of the
	// output; without it (enable_thinking off) everything is content.
	ReasoningQwen3 ReasoningParser = "qwen3"
	// ReasoningDeepSeekR1: the prompt opens <think>, so the output starts
	// inside the reasoning and "</think>" ends it.
	ReasoningDeepSeekR1 ReasoningParser = "deepseek_r1"
)

const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
)

// ParseReasoningParser accepts the names above.
func ParseReasoningParser(s string) (ReasoningParser, error) {
	switch p := ReasoningParser(s); p {
	case ReasoningNone, ReasoningQwen3, ReasoningDeepSeekR1:
		return p, nil
	}
	return "", fmt.Errorf("unknown reasoning parser %q (want qwen3 or deepseek_r1)", s)
}

// reasoningSplitter separates streamed text into reasoning and content.
type reasoningSplitter struct {
	p       ReasoningParser
	held    string
	state   int // 0: start (undecided), 1: in reasoning, 2: content
	started bool
}

func newReasoningSplitter(p ReasoningParser) *reasoningSplitter {
	r := &reasoningSplitter{p: p}
	switch p {
	case ReasoningNone:
		r.state = 2
	case ReasoningDeepSeekR1:
		r.state = 1 // an opening <think> in the output is skipped below
	}
	return r
}

// push takes new text and returns the reasoning and content now safe to
// send (text that may be part of a tag is held back).
func (r *reasoningSplitter) push(text string) (reasoning, content string) {
	if r.state == 2 && r.held == "" {
		return "", text
	}
	r.held += text
	for {
		switch r.state {
		case 0: // Qwen3: is there a <think> at the start?
			t := strings.TrimLeft(r.held, " \t\r\n")
			if strings.HasPrefix(t, thinkOpen) {
				r.held, r.state = t[len(thinkOpen):], 1
				continue
			}
			if t == "" || strings.HasPrefix(thinkOpen, t) {
				return reasoning, content // undecided
			}
			r.state = 2
			content += r.held
			r.held = ""
			return reasoning, content
		case 1:
			if !r.started {
				// DeepSeek-R1 may still write the opening tag; skip it.
				t := strings.TrimLeft(r.held, " \t\r\n")
				if strings.HasPrefix(thinkOpen, t) && t != thinkOpen {
					return reasoning, content
				}
				if strings.HasPrefix(t, thinkOpen) {
					r.held = t[len(thinkOpen):]
				}
				r.started = true
			}
			if i := strings.Index(r.held, thinkClose); i >= 0 {
				reasoning += r.held[:i]
				r.held, r.state = r.held[i+len(thinkClose):], 2
				continue
			}
			keep := overlap(r.held, thinkClose)
			reasoning += r.held[:len(r.held)-keep]
			r.held = r.held[len(r.held)-keep:]
			return reasoning, content
		default:
			content += r.held
			r.held = ""
			return reasoning, content
		}
	}
}

// finish returns what is still held at the end of the output. Qwen3 text
// whose reasoning never closed is reasoning (cut short by max_tokens).
func (r *reasoningSplitter) finish() (reasoning, content string) {
	rest := r.held
	r.held = ""
	if r.state == 1 {
		return rest, ""
	}
	return "", rest
}

// split separates a whole output.
func (p ReasoningParser) split(text string) (reasoning, content string) {
	r := newReasoningSplitter(p)
	a, b := r.push(text)
	c, d := r.finish()
	return a + c, b + d
}
