package openai

import "context"

// Delta is one piece of one choice's output, passed to a Call's Deltas
// hook as it is generated: the same pieces a streamed response sends.
type Delta struct {
	Choice   int
	Text     string
	TokenIDs []int32 // the tokens behind Text (stop tokens left out)
	Logprobs []Logprob
	Finish   string // "", "stop" or "length" on the choice's last piece
}

// Logprob is a sampled token's log-probability and its alternatives.
type Logprob struct {
	TokenID int32
	Token   string // its text as logprobs show it
	Logprob float32
	Top     []TopLogprob
}

// TopLogprob is one alternative to a sampled token.
type TopLogprob struct {
	TokenID int32
	Token   string
	Logprob float32
}

// deltaHook is the call's Deltas hook as a function of the handlers'
// deltas (choice i's), or nil when the request has none.
func deltaHook(ctx context.Context, m *Model) func(i int, d delta) {
	h := hooksFrom(ctx)
	if h == nil || h.deltas == nil {
		return nil
	}
	return func(i int, d delta) {
		out := Delta{Choice: i, Text: d.Text, TokenIDs: d.Tokens, Finish: d.Finish}
		if len(d.Logprobs) > 0 {
			out.Logprobs = make([]Logprob, len(d.Logprobs))
			for j, lp := range d.Logprobs {
				tok, _ := m.tokenText(lp.Token)
				l := Logprob{TokenID: lp.Token, Token: tok, Logprob: lp.Logprob}
				if len(lp.Top) > 0 {
					l.Top = make([]TopLogprob, len(lp.Top))
					for k, t := range lp.Top {
						s, _ := m.tokenText(t.Token)
						l.Top[k] = TopLogprob{TokenID: t.Token, Token: s, Logprob: t.Logprob}
					}
				}
				out.Logprobs[j] = l
			}
		}
		h.deltas(out)
	}
}

// wantsTokenIDs reports whether the request's deltas must carry token ids.
func wantsTokenIDs(ctx context.Context) bool {
	h := hooksFrom(ctx)
	return h != nil && h.deltas != nil
}
