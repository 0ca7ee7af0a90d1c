package openai

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

// toolChoice is a parsed tool_choice.
type toolChoice struct {
	mode string // "none", "auto", "required" or "function"
	name string // with "function"
}

// chatPrompt is a rendered and tokenized chat request.
type chatPrompt struct {
	ids     []int32
	parser  ToolParser // "" when tool calls are not parsed
	prefill string     // text appended to the prompt to force a call
}

// chat answers POST /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
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
	cp, e := s.renderChat(m, &req)
	if e != nil {
		writeError(w, e)
		return
	}
	er, e := s.engineRequest(m, &req.common)
	if e != nil {
		writeError(w, e)
		return
	}
	if er.NewConstraint, e = s.structured(m, &req.common, req.ResponseFormat, req.Tools, cp); e != nil {
		writeError(w, e)
		return
	}
	if er.MaxTokens, e = maxTokens("max_completion_tokens", req.MaxTokens, req.MaxCompletionTokens); e != nil {
		writeError(w, e)
		return
	}
	if req.Logprobs != nil && *req.Logprobs {
		er.Params.Logprobs = true
	}
	if req.TopLogprobs != nil {
		if *req.TopLogprobs < 0 || *req.TopLogprobs > sample.MaxTopLogprobs {
			writeError(w, invalid("top_logprobs", "top_logprobs = %d: must be in [0, %d]", *req.TopLogprobs, sample.MaxTopLogprobs))
			return
		}
		if *req.TopLogprobs > 0 && !er.Params.Logprobs {
			writeError(w, invalid("top_logprobs", "top_logprobs needs logprobs: true"))
			return
		}
		er.Params.TopLogprobs = *req.TopLogprobs
	}
	stops, e := req.stops()
	if e != nil {
		writeError(w, e)
		return
	}
	er.Prompt = cp.ids
	limit := "max_tokens"
	if req.MaxCompletionTokens != nil {
		limit = "max_completion_tokens"
	}
	if e := s.checkSequences(1, max(er.N, 1)); e != nil {
		writeError(w, e)
		return
	}
	if e := m.fits(len(cp.ids), er.MaxTokens, limit); e != nil {
		writeError(w, e)
		return
	}
	g.apply(&er)
	ctx := r.Context()
	if checkOnly(ctx) {
		answerCheck(w, m, [][]int32{er.Prompt}, er.MaxTokens, "messages")
		return
	}
	st, err := m.Engine.Generate(ctx, er)
	if err != nil {
		writeError(w, classify(err, "messages"))
		return
	}
	recordFrom(ctx).track(st)
	skip := skipSpecial(&req.common)
	if cp.parser == ToolParserMistral {
		skip = false // [TOOL_CALLS] is a special token
	}
	run := &chatRun{s: s, m: m, name: servedName(m, req.Model), id: newID("chatcmpl-"), created: s.cfg.Now().Unix(), n: st.N(), cp: cp,
		opts: runOptions{prompt: cp.ids, stops: stops, skipSpecial: skip, logprobs: er.Params.Logprobs}}
	if req.Stream {
		run.stream(ctx, w, st, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	run.respond(ctx, w, st)
}

// renderChat validates messages, tools and tool_choice, renders the chat
// template and tokenizes the prompt.
func (s *Server) renderChat(m *Model, req *chatRequest) (chatPrompt, *Error) {
	var cp chatPrompt
	if m.Template == nil {
		return cp, classify(tokenizer.ErrNoChatTemplate, "")
	}
	if e := checkResponseFormat(req.ResponseFormat); e != nil {
		return cp, e
	}
	if req.ContinueFinalMessage && req.AddGenerationPrompt != nil && *req.AddGenerationPrompt {
		return cp, invalid("continue_final_message", "continue_final_message and add_generation_prompt exclude each other")
	}
	msgs, e := normalizeMessages(req.Messages)
	if e != nil {
		return cp, e
	}
	tools, names, e := parseTools(req.Tools)
	if e != nil {
		return cp, e
	}
	choice, e := parseToolChoice(req.ToolChoice, names)
	if e != nil {
		return cp, e
	}
	if choice.mode == "none" {
		tools = nil
	} else if len(names) > 0 {
		if m.ToolParser == ToolParserNone {
			return cp, invalid("tools", "model %s has no tool-call parser (serve it with --tool-call-parser)", m.Name)
		}
		cp.parser = m.ToolParser
	}
	opts := tokenizer.RenderOptions{AddGenerationPrompt: !req.ContinueFinalMessage && (req.AddGenerationPrompt == nil || *req.AddGenerationPrompt),
		Kwargs: req.ChatTemplateKwargs, Now: s.cfg.Now}
	if !isNull(req.Documents) {
		opts.Documents = req.Documents
	}
	text, err := m.Template.RenderJSON(msgs, tools, opts)
	if err != nil {
		return cp, classify(err, "messages")
	}
	if req.ContinueFinalMessage {
		if text, e = continueFinal(text, msgs); e != nil {
			return cp, e
		}
	}
	switch choice.mode {
	case "required":
		cp.prefill = cp.parser.prefill("")
	case "function":
		cp.prefill = cp.parser.prefill(choice.name)
	}
	if e := m.tooLongToTokenize(len(text), "messages"); e != nil {
		return cp, e
	}
	if e := m.tooManyTokens(text, "messages"); e != nil {
		return cp, e
	}
	cp.ids = m.Tokenizer.Encode(text+cp.prefill, false)
	if len(cp.ids) == 0 {
		return cp, invalid("messages", "the rendered prompt has no tokens")
	}
	return cp, nil
}

// continueFinal cuts the rendering right after the final message's
// content, so the model continues that message instead of starting a new
// one (as transformers' continue_final_message: templates that trim
// messages are matched on the trimmed content).
func continueFinal(text string, msgs json.RawMessage) (string, *Error) {
	var list []struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(msgs, &list); err != nil || len(list) == 0 || list[len(list)-1].Content == nil ||
		*list[len(list)-1].Content == "" {
		return "", invalid("continue_final_message", "continue_final_message needs a final message with text content")
	}
	final := *list[len(list)-1].Content
	for _, f := range []string{final, strings.TrimSpace(final)} {
		if i := strings.LastIndex(text, f); i >= 0 && f != "" {
			return text[:i+len(f)], nil
		}
	}
	return "", invalid("continue_final_message", "the chat template does not render the final message's content")
}

// parseTools checks the tools list and returns it with the function names.
func parseTools(raw json.RawMessage) (json.RawMessage, []string, *Error) {
	if isNull(raw) {
		return nil, nil, nil
	}
	var tools []struct {
		Type     string `json:"type"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &tools); err != nil {
		return nil, nil, invalid("tools", "tools must be an array of {type: function, function: {name, parameters}}")
	}
	names := make([]string, 0, len(tools))
	for i, t := range tools {
		if t.Type != "function" || t.Function == nil || t.Function.Name == "" {
			return nil, nil, invalid("tools", "tools[%d] must be {type: function, function: {name, ...}}", i)
		}
		names = append(names, t.Function.Name)
	}
	if len(names) == 0 {
		return nil, nil, nil
	}
	return raw, names, nil
}

func parseToolChoice(raw json.RawMessage, names []string) (toolChoice, *Error) {
	if isNull(raw) {
		if len(names) == 0 {
			return toolChoice{mode: "none"}, nil
		}
		return toolChoice{mode: "auto"}, nil
	}
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		switch mode {
		case "none", "auto", "required":
			if mode != "none" && len(names) == 0 {
				return toolChoice{}, invalid("tool_choice", "tool_choice %q needs tools", mode)
			}
			return toolChoice{mode: mode}, nil
		}
		return toolChoice{}, invalid("tool_choice", "tool_choice must be none, auto, required or a function")
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &named); err != nil || named.Type != "function" {
		return toolChoice{}, invalid("tool_choice", "tool_choice must be none, auto, required or {type: function, function: {name}}")
	}
	for _, n := range names {
		if n == named.Function.Name {
			return toolChoice{mode: "function", name: n}, nil
		}
	}
	return toolChoice{}, invalid("tool_choice", "tool_choice names function %q, which is not in tools", named.Function.Name)
}

// chatRun is one /v1/chat/completions response being built.
type chatRun struct {
	s       *Server
	m       *Model
	name    string // the model name the client used
	id      string
	created int64
	n       int
	cp      chatPrompt
	opts    runOptions
}

func (c *chatRun) respond(ctx context.Context, w http.ResponseWriter, st *engine.Stream) {
	text := make([]strings.Builder, c.n)
	choices := make([]chatChoice, c.n)
	for i := range choices {
		choices[i].Index = i
		text[i].WriteString(c.cp.prefill)
		if c.opts.logprobs {
			choices[i].Logprobs = &chatLogprobs{Content: []chatTokenLogprob{}}
		}
	}
	progress, deltas := progressFrom(ctx), deltaHook(ctx, c.m)
	u, err := c.m.consume(ctx, st, c.opts, func(d delta) error {
		if deltas != nil {
			deltas(d.Seq, d)
		}
		text[d.Seq].WriteString(d.Text)
		if progress != nil && d.Text != "" {
			progress(d.Seq, d.Text)
		}
		if lp := choices[d.Seq].Logprobs; lp != nil {
			lp.Content = append(lp.Content, c.logprobs(d.Logprobs)...)
		}
		if d.Finish != "" {
			choices[d.Seq].FinishReason = d.Finish
		}
		return nil
	})
	if err != nil {
		writeError(w, classify(err, "messages"))
		return
	}
	for i := range choices {
		msg := chatMessage{Role: "assistant"}
		content := text[i].String()
		if c.cp.prefill == "" && c.m.ReasoningParser != ReasoningNone {
			var reasoning string
			if reasoning, content = c.m.ReasoningParser.split(content); reasoning != "" {
				msg.ReasoningContent = &reasoning
			}
		}
		if c.cp.parser != ToolParserNone {
			if rest, calls, ok := c.cp.parser.parse(content); ok {
				content = rest
				msg.ToolCalls = toolCallsJSON(calls, false)
				if choices[i].FinishReason == "stop" {
					choices[i].FinishReason = "tool_calls"
				}
			}
		}
		if content != "" || msg.ToolCalls == nil {
			msg.Content = &content
		}
		choices[i].Message = msg
	}
	writeJSON(w, http.StatusOK, chatCompletion{ID: c.id, Object: "chat.completion", Created: c.created, SystemFingerprint: c.m.fingerprint,
		Model: c.name, Choices: choices, Usage: &u})
}

func (c *chatRun) stream(ctx context.Context, w http.ResponseWriter, st *engine.Stream, includeUsage bool) {
	sse := newSSE(w)
	sse.held = true // consume flushes whenever the engine has nothing more ready
	var chunkUsage any
	if includeUsage {
		chunkUsage = nullUsage
	}
	chunk := func(ch chatChunkChoice) error {
		return sse.send(chatChunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.name, SystemFingerprint: c.m.fingerprint,
			Choices: []chatChunkChoice{ch}, Usage: chunkUsage})
	}
	filters := make([]*toolFilter, c.n)
	thinking := make([]*reasoningSplitter, c.n)
	for i := range filters {
		filters[i] = newToolFilter(c.cp.parser, c.cp.prefill)
		thinking[i] = newReasoningSplitter(c.m.ReasoningParser)
		if c.cp.prefill != "" {
			thinking[i] = newReasoningSplitter(ReasoningNone) // a forced call has no reasoning
		}
		empty := ""
		if err := chunk(chatChunkChoice{Index: i, Delta: chatDelta{Role: "assistant", Content: &empty}}); err != nil {
			return
		}
	}
	opts := c.opts
	opts.flush = sse.flush
	u, err := c.m.consume(ctx, st, opts, func(d delta) error {
		f := filters[d.Seq]
		reasoning, content := thinking[d.Seq].push(d.Text)
		if d.Finish != "" {
			r, c := thinking[d.Seq].finish()
			reasoning, content = reasoning+r, content+c
		}
		text := f.push(content)
		var lp *chatLogprobs
		if c.opts.logprobs && len(d.Logprobs) > 0 {
			lp = &chatLogprobs{Content: c.logprobs(d.Logprobs)}
		}
		if text != "" || reasoning != "" || lp != nil {
			ch := chatChunkChoice{Index: d.Seq, Logprobs: lp}
			if reasoning != "" {
				ch.Delta.ReasoningContent = &reasoning
			}
			if text != "" || reasoning == "" {
				ch.Delta.Content = &text
			}
			if err := chunk(ch); err != nil {
				return err
			}
		}
		if d.Finish == "" {
			return nil
		}
		finish := d.Finish
		rest, calls := f.finish()
		if rest != "" {
			if err := chunk(chatChunkChoice{Index: d.Seq, Delta: chatDelta{Content: &rest}}); err != nil {
				return err
			}
		}
		if len(calls) > 0 {
			if err := chunk(chatChunkChoice{Index: d.Seq, Delta: chatDelta{ToolCalls: toolCallsJSON(calls, true)}}); err != nil {
				return err
			}
			if finish == "stop" {
				finish = "tool_calls"
			}
		}
		return chunk(chatChunkChoice{Index: d.Seq, FinishReason: &finish})
	})
	if err != nil {
		sse.fail(classify(err, "messages"))
		return
	}
	var final any
	if includeUsage {
		final = chatChunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.name, SystemFingerprint: c.m.fingerprint,
			Choices: []chatChunkChoice{}, Usage: &u}
	}
	sse.end(final)
}

// logprobs converts tokens' logprobs to the chat shape.
func (c *chatRun) logprobs(lps []tokenLogprob) []chatTokenLogprob {
	out := make([]chatTokenLogprob, 0, len(lps))
	for _, lp := range lps {
		tok, b := c.m.tokenText(lp.Token)
		e := chatTokenLogprob{Token: tok, Logprob: lp.Logprob, Bytes: b, TopLogprobs: []chatTopLogprob{}}
		for _, t := range lp.Top {
			ts, tb := c.m.tokenText(t.Token)
			e.TopLogprobs = append(e.TopLogprobs, chatTopLogprob{Token: ts, Logprob: t.Logprob, Bytes: tb})
		}
		out = append(out, e)
	}
	return out
}

func toolCallsJSON(calls []toolCall, indexed bool) []toolCallJSON {
	out := make([]toolCallJSON, len(calls))
	for i, c := range calls {
		out[i] = toolCallJSON{ID: newID("call_"), Type: "function", Function: functionJSON(c)}
		if indexed {
			idx := i
			out[i].Index = &idx
		}
	}
	return out
}

// toolFilter holds back streamed text once a tool call starts, so the call
// is sent as tool_calls, not as content.
type toolFilter struct {
	p       ToolParser
	held    string // text not yet sent: a possible start of a call
	call    string // text of the call, once one started
	inCall  bool
	decided bool // Llama-3.1: the first non-space character was seen
}

func newToolFilter(p ToolParser, prefill string) *toolFilter {
	f := &toolFilter{p: p}
	if prefill != "" {
		f.inCall, f.call, f.decided = true, prefill, true
	}
	return f
}

// push takes new text and returns what can be sent as content now.
func (f *toolFilter) push(text string) string {
	if f.p == ToolParserNone {
		return text
	}
	if f.inCall {
		f.call += text
		return ""
	}
	f.held += text
	if f.p == ToolParserLlama3 {
		if !f.decided {
			t := strings.TrimLeft(f.held, " \t\r\n")
			if t == "" || strings.HasPrefix("<|python_tag|>", t) {
				return ""
			}
			f.decided = true
			if f.p.startsCall(f.held) == 0 {
				f.inCall, f.call, f.held = true, f.held, ""
				return ""
			}
		}
		out := f.held
		f.held = ""
		return out
	}
	if at := f.p.startsCall(f.held); at >= 0 {
		out := f.held[:at]
		f.inCall, f.call, f.held = true, f.held[at:], ""
		return out
	}
	keep := overlap(f.held, f.p.marker())
	out := f.held[:len(f.held)-keep]
	f.held = f.held[len(f.held)-keep:]
	return out
}

// finish returns the content still held and the parsed calls, if any. A
// call that does not parse is returned as content.
func (f *toolFilter) finish() (string, []toolCall) {
	rest := f.held
	f.held = ""
	if !f.inCall {
		return rest, nil
	}
	if _, calls, ok := f.p.parse(f.call); ok {
		return rest, calls
	}
	return rest + f.call, nil
}
