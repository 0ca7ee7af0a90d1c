package openai

import (
	"context"
	"io"

	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/sample"
)

// tokenLogprob is one generated token's log-probability and alternatives.
type tokenLogprob struct {
	Token   int32
	Logprob float32
	Top     []sample.TokenLogprob
}

// delta is what one sequence adds at one step: text (possibly empty), the
// logprobs of the tokens that produced it, and a finish reason at its end.
type delta struct {
	Seq      int
	Text     string
	Logprobs []tokenLogprob
	Finish   string  // "", "stop" or "length"
	Tokens   []int32 // the tokens behind Text, only for a Call's Deltas
}

// runOptions say how to turn a stream's tokens into text.
type runOptions struct {
	prompt      []int32
	stops       []string
	skipSpecial bool
	logprobs    bool
	// flush, when set, is called whenever the stream has nothing ready,
	// before waiting: emit need not flush each delta itself.
	flush func() error
}

// consume reads stream s to its end, turning each sequence's tokens into
// text deltas (stop strings applied: a sequence that hits one is stopped in
// the engine) and passing them to emit. It returns the usage, with
// completion tokens counted up to each sequence's stop.
func (m *Model) consume(ctx context.Context, s *engine.Stream, o runOptions, emit func(delta) error) (usage, error) {
	n := s.N()
	rec, seen := recordFrom(ctx), false
	texts := make([]*textStream, n)
	done := make([]bool, n)
	for i := range texts {
		texts[i] = newTextStream(m.Tokenizer, o.prompt, o.skipSpecial, o.stops)
	}
	var pending [][]int32 // token ids not yet in a delta, per sequence
	if wantsTokenIDs(ctx) {
		pending = make([][]int32, n)
	}
	for {
		if o.flush != nil && !s.Ready() {
			if err := o.flush(); err != nil {
				s.Cancel() // the client is gone
				rec.addUsage(m.usage(s, o, texts))
				return usage{}, err
			}
		}
		c, err := s.Recv(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			err = cause(ctx, err)
			// The engine aborts on the context's end by itself; asking here too
			// means the abort is queued before this handler returns.
			s.Cancel()
			rec.addUsage(m.usage(s, o, texts))
			return usage{}, err
		}
		if done[c.Index] {
			continue // already stopped by a stop string; tokens in flight
		}
		if !seen {
			rec.sawToken()
			seen = true
		}
		d := delta{Seq: c.Index}
		var stopped bool
		d.Text, stopped = texts[c.Index].add(c.Token, c.StopToken)
		if o.logprobs && !c.StopToken {
			d.Logprobs = []tokenLogprob{{Token: c.Token, Logprob: c.Logprob, Top: c.Top}}
		}
		switch {
		case stopped:
			s.Stop(c.Index)
			d.Finish = "stop"
		case c.Finish != "":
			d.Text += texts[c.Index].flush()
			d.Finish = string(c.Finish)
		}
		done[c.Index] = d.Finish != ""
		if pending != nil && !c.StopToken {
			pending[c.Index] = append(pending[c.Index], c.Token)
		}
		if d.Text == "" && d.Logprobs == nil && d.Finish == "" {
			continue
		}
		if pending != nil {
			d.Tokens, pending[c.Index] = pending[c.Index], nil
		}
		if err := emit(d); err != nil {
			s.Cancel() // the client is gone
			rec.addUsage(m.usage(s, o, texts))
			return usage{}, err
		}
	}
	out := m.usage(s, o, texts)
	rec.addUsage(out)
	return out, nil
}

// usage counts a stream's tokens so far: completion tokens up to each
// sequence's stop (a cancelled stream is billed for what it generated).
func (m *Model) usage(s *engine.Stream, o runOptions, texts []*textStream) usage {
	u := s.Usage()
	out := usage{PromptTokens: len(o.prompt), PromptTokensDetails: &promptDetails{CachedTokens: u.CachedTokens}}
	for _, t := range texts {
		out.CompletionTokens += t.tokens
	}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	return out
}
