package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/sample"
)

// completions answers POST /v1/completions.
func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	m, e := s.requestModel(r, &req, &req.common)
	if e != nil {
		writeError(w, e)
		return
	}
	g, e := s.admit(w, r, m, req.Model, &req.common)
	if e != nil {
		writeError(w, e)
		return
	}
	defer g.release()
	texts, prompts, e := m.prompts(req.Prompt, skipSpecial(&req.common))
	if e != nil {
		writeError(w, e)
		return
	}
	if req.Suffix != nil && *req.Suffix != "" {
		writeError(w, invalid("suffix", "suffix (fill-in-the-middle) is not supported"))
		return
	}
	er, e := s.engineRequest(m, &req.common)
	if e != nil {
		writeError(w, e)
		return
	}
	if er.NewConstraint, e = s.structured(m, &req.common, req.ResponseFormat, nil, chatPrompt{}); e != nil {
		writeError(w, e)
		return
	}
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > sample.MaxTopLogprobs {
			writeError(w, invalid("logprobs", "logprobs = %d: must be in [0, %d]", *req.Logprobs, sample.MaxTopLogprobs))
			return
		}
		if req.Echo {
			writeError(w, invalid("echo", "echo with logprobs (prompt logprobs) is not supported"))
			return
		}
		er.Params.Logprobs, er.Params.TopLogprobs = true, *req.Logprobs
	}
	stops, e := req.stops()
	if e != nil {
		writeError(w, e)
		return
	}
	if e := s.checkSequences(len(prompts), max(er.N, 1)); e != nil {
		writeError(w, e)
		return
	}
	for _, p := range prompts {
		if e := m.fits(len(p), er.MaxTokens, "max_tokens"); e != nil {
			writeError(w, e)
			return
		}
	}
	g.apply(&er)
	ctx := r.Context()
	if checkOnly(ctx) {
		answerCheck(w, m, prompts, er.MaxTokens, "prompt")
		return
	}
	streams, err := m.generateAll(ctx, er, prompts)
	if err != nil {
		writeError(w, classify(err, "prompt"))
		return
	}
	c := &completionRun{s: s, m: m, name: servedName(m, req.Model), id: newID("cmpl-"), created: s.cfg.Now().Unix(), n: max(er.N, 1),
		echo: req.Echo, texts: texts, logprobs: er.Params.Logprobs}
	opts := make([]runOptions, len(prompts))
	for i, p := range prompts {
		opts[i] = runOptions{prompt: p, stops: stops, skipSpecial: skipSpecial(&req.common), logprobs: er.Params.Logprobs}
	}
	if req.Stream {
		c.stream(ctx, w, streams, opts, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	c.respond(ctx, w, streams, opts)
}

// fits checks that a prompt of n tokens leaves room for maxTokens (0: the
// rest of the context): a limit that does not fit names the limit's field,
// a prompt that fills the context is left to the engine (param: the prompt).
func (m *Model) fits(n, maxTokens int, param string) *Error {
	ctxLen := m.Engine.MaxModelLen()
	if n >= ctxLen || maxTokens <= ctxLen-n {
		return nil
	}
	return apiError(http.StatusBadRequest, "invalid_request_error", param, "context_length_exceeded",
		fmt.Sprintf("%s = %d does not fit: the prompt has %d tokens and the model's context %d, which leaves %d",
			param, maxTokens, n, ctxLen, ctxLen-n))
}

// servedName is the name responses carry: the one the client asked for
// (an alias stays an alias), else the model's.
func servedName(m *Model, requested string) string {
	if requested != "" {
		return requested
	}
	return m.Name
}

func skipSpecial(c *common) bool { return c.SkipSpecialTokens == nil || *c.SkipSpecialTokens }

// engineRequest turns the shared fields into an engine request (no prompt).
func (s *Server) engineRequest(m *Model, c *common) (engine.Request, *Error) {
	if e := c.checkStream(); e != nil {
		return engine.Request{}, e
	}
	n, e := c.n()
	if e != nil {
		return engine.Request{}, e
	}
	params, e := c.params(m.Defaults, m.Tokenizer.VocabSize(), s.cfg.Seed)
	if e != nil {
		return engine.Request{}, e
	}
	mt, e := maxTokens("max_tokens", c.MaxTokens)
	if e != nil {
		return engine.Request{}, e
	}
	return engine.Request{Params: params, N: n, MaxTokens: mt, StopTokenIDs: c.StopTokenIDs,
		IgnoreEOS: c.IgnoreEOS, Priority: c.Priority}, nil
}

// prompts reads "prompt": a string, a list of strings, a list of token ids
// or a list of such lists. texts are the prompt texts (for echo).
func (m *Model) prompts(raw json.RawMessage, skipSpecial bool) (texts []string, ids [][]int32, e *Error) {
	if isNull(raw) {
		return nil, nil, invalid("prompt", "prompt is required")
	}
	// Each form decodes into its own variable: a failed Unmarshal may leave
	// its target half filled.
	var one string
	var strs []string
	var tokens []int32
	var lists [][]int32
	var many []string
	var batches [][]int32
	if hasNull(raw) {
		return nil, nil, invalid("prompt", "prompt must not hold null")
	}
	switch {
	case json.Unmarshal(raw, &one) == nil:
		many = []string{one}
	case json.Unmarshal(raw, &strs) == nil:
		many = strs
	case json.Unmarshal(raw, &tokens) == nil:
		batches = [][]int32{tokens}
	case json.Unmarshal(raw, &lists) == nil:
		batches = lists
	default:
		return nil, nil, invalid("prompt", "prompt must be a string, an array of strings, an array of token ids or an array of such arrays")
	}
	for _, t := range many {
		if e := m.tooLongToTokenize(len(t), "prompt"); e != nil {
			return nil, nil, e
		}
		if e := m.tooManyTokens(t, "prompt"); e != nil {
			return nil, nil, e
		}
	}
	for _, t := range many {
		texts = append(texts, t)
		ids = append(ids, m.Tokenizer.Encode(t, true))
	}
	for _, b := range batches {
		texts = append(texts, m.Tokenizer.Decode(b, skipSpecial))
		ids = append(ids, b)
	}
	if len(ids) == 0 {
		return nil, nil, invalid("prompt", "prompt is empty")
	}
	vocab := m.Tokenizer.VocabSize()
	for _, p := range ids {
		if len(p) == 0 {
			return nil, nil, invalid("prompt", "a prompt has no tokens")
		}
		for _, id := range p {
			if id < 0 || int(id) >= vocab {
				return nil, nil, invalid("prompt", "prompt token id %d is outside the vocabulary [0, %d)", id, vocab)
			}
		}
	}
	return texts, ids, nil
}

// generateAll starts one engine request per prompt; on an error it cancels
// the ones started.
func (m *Model) generateAll(ctx context.Context, er engine.Request, prompts [][]int32) ([]*engine.Stream, error) {
	streams := make([]*engine.Stream, 0, len(prompts))
	for _, p := range prompts {
		er.Prompt = p
		st, err := m.Engine.Generate(ctx, er)
		if err != nil {
			for _, st := range streams {
				st.Cancel()
			}
			return nil, err
		}
		streams = append(streams, st)
		recordFrom(ctx).track(st)
	}
	return streams, nil
}

// completionRun is one /v1/completions response being built.
type completionRun struct {
	s        *Server
	m        *Model
	name     string // the model name the client used
	id       string
	created  int64
	n        int
	echo     bool
	texts    []string
	logprobs bool
}

func (c *completionRun) respond(ctx context.Context, w http.ResponseWriter, streams []*engine.Stream, opts []runOptions) {
	choices := make([]completionChoice, len(streams)*c.n)
	text := make([]strings.Builder, len(choices))
	offsets := make([]int, len(choices)) // characters before the next token
	for i := range choices {
		choices[i].Index = i
		if c.echo {
			text[i].WriteString(c.texts[i/c.n])
			offsets[i] = utf8.RuneCountInString(c.texts[i/c.n])
		}
		if c.logprobs {
			choices[i].Logprobs = &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float32{},
				TopLogprobs: []map[string]float32{}, TextOffset: []int{}}
		}
	}
	progress, deltas := progressFrom(ctx), deltaHook(ctx, c.m)
	u, err := runAll(ctx, c.m, streams, opts, func(p int, d delta) error {
		i := p*c.n + d.Seq
		if deltas != nil {
			deltas(i, d)
		}
		offsets[i] = c.addLogprobs(choices[i].Logprobs, d.Logprobs, offsets[i])
		text[i].WriteString(d.Text)
		if progress != nil && d.Text != "" {
			progress(i, d.Text)
		}
		if d.Finish != "" {
			f := d.Finish
			choices[i].FinishReason = &f
		}
		return nil
	})
	if err != nil {
		writeError(w, classify(err, "prompt"))
		return
	}
	for i := range choices {
		choices[i].Text = text[i].String()
	}
	writeJSON(w, http.StatusOK, completion{ID: c.id, Object: "text_completion", Created: c.created, SystemFingerprint: c.m.fingerprint,
		Model: c.name, Choices: choices, Usage: &u})
}

func (c *completionRun) stream(ctx context.Context, w http.ResponseWriter, streams []*engine.Stream, opts []runOptions, includeUsage bool) {
	sse := newSSE(w)
	offsets := make([]int, len(streams)*c.n)
	var chunkUsage any
	if includeUsage {
		chunkUsage = nullUsage
	}
	chunk := func(i int, text string, lp *completionLogprobs, finish *string) error {
		return sse.send(completion{ID: c.id, Object: "text_completion", Created: c.created, SystemFingerprint: c.m.fingerprint, Model: c.name,
			Choices: []completionChoice{{Index: i, Text: text, Logprobs: lp, FinishReason: finish}}, Usage: chunkUsage})
	}
	if c.echo {
		for i := range offsets {
			if err := chunk(i, c.texts[i/c.n], nil, nil); err != nil {
				return
			}
			offsets[i] = utf8.RuneCountInString(c.texts[i/c.n])
		}
	}
	if len(streams) == 1 {
		// One consumer: it flushes when the engine has nothing more ready.
		sse.held = true
		opts = []runOptions{opts[0]}
		opts[0].flush = sse.flush
	}
	u, err := runAll(ctx, c.m, streams, opts, func(p int, d delta) error {
		i := p*c.n + d.Seq
		var lp *completionLogprobs
		if c.logprobs {
			lp = &completionLogprobs{}
			offsets[i] = c.addLogprobs(lp, d.Logprobs, offsets[i])
		}
		if d.Finish == "" {
			return chunk(i, d.Text, lp, nil)
		}
		// The last text goes with finish_reason null and the reason in a
		// chunk of its own, as the chat stream does: clients that keep text
		// only from unfinished chunks lose nothing.
		if d.Text != "" || lp != nil {
			if err := chunk(i, d.Text, lp, nil); err != nil {
				return err
			}
		}
		f := d.Finish
		return chunk(i, "", nil, &f)
	})
	if err != nil {
		sse.fail(classify(err, "prompt"))
		return
	}
	var final any
	if includeUsage {
		final = completion{ID: c.id, Object: "text_completion", Created: c.created, SystemFingerprint: c.m.fingerprint, Model: c.name,
			Choices: []completionChoice{}, Usage: &u}
	}
	sse.end(final)
}

// addLogprobs appends tokens' logprobs in the completions shape; offset is
// the character offset of the first token in the choice's text, and the
// offset after the last is returned.
func (c *completionRun) addLogprobs(dst *completionLogprobs, lps []tokenLogprob, offset int) int {
	if dst == nil {
		return offset
	}
	for _, lp := range lps {
		tok, _ := c.m.tokenText(lp.Token)
		dst.Tokens = append(dst.Tokens, tok)
		dst.TokenLogprobs = append(dst.TokenLogprobs, lp.Logprob)
		dst.TextOffset = append(dst.TextOffset, offset)
		offset += utf8.RuneCountInString(tok)
		var top map[string]float32
		if len(lp.Top) > 0 {
			top = make(map[string]float32, len(lp.Top))
			for _, t := range lp.Top {
				s, _ := c.m.tokenText(t.Token)
				if _, dup := top[s]; !dup {
					top[s] = t.Logprob
				}
			}
		}
		dst.TopLogprobs = append(dst.TopLogprobs, top)
	}
	return offset
}

// runAll consumes several streams at once, calling emit (from one
// goroutine at a time) with the stream's index, and sums the usage.
func runAll(ctx context.Context, m *Model, streams []*engine.Stream, opts []runOptions, emit func(p int, d delta) error) (usage, error) {
	if len(streams) == 1 {
		return m.consume(ctx, streams[0], opts[0], func(d delta) error { return emit(0, d) })
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type item struct {
		p int
		d delta
	}
	type result struct {
		u   usage
		err error
	}
	items := make(chan item)
	results := make(chan result, len(streams))
	for p, st := range streams {
		go func() {
			u, err := m.consume(ctx, st, opts[p], func(d delta) error {
				select {
				case items <- item{p, d}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			results <- result{u, err}
		}()
	}
	var total usage
	var firstErr error
	for pending := len(streams); pending > 0; {
		select {
		case it := <-items:
			if firstErr == nil {
				if err := emit(it.p, it.d); err != nil {
					firstErr = err
					cancel()
				}
			}
		case r := <-results:
			pending--
			if r.err != nil && firstErr == nil {
				firstErr = r.err
				cancel()
			}
			total.add(r.u)
		}
	}
	return total, firstErr
}
