package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// stream writes a Messages stream. Nothing is sent before the first text
// (or the end), so an error found before generation is a plain error
// response with its status; one after is an error event.
type stream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	model  string
	id     string
	buffer bool // with tools: the reply is parsed whole, then sent as blocks

	mu      sync.Mutex
	started bool   // message_start sent
	open    bool   // a text block is open at index 0
	failed  bool   // a write failed: the client is gone (or stalled)
	cancel  func() // aborts the generation, at a failed write
}

// event writes one SSE event.
func (st *stream) event(typ string, data map[string]any) {
	if st.failed {
		return
	}
	// "type" first, as Anthropic sends it.
	delete(data, "type")
	b, _ := json.Marshal(data)
	rest := ""
	if len(b) > 2 {
		rest = "," + string(b[1:len(b)-1])
	}
	if _, err := fmt.Fprintf(st.w, "event: %s\ndata: {\"type\":%q%s}\n\n", typ, typ, rest); err != nil {
		st.failed = true
		if st.cancel != nil {
			st.cancel()
		}
		return
	}
	_ = st.rc.Flush()
}

// start sends the headers and message_start. The prompt's token count is
// known only at the end: message_start says it only when it starts there
// (buffered), else 0; message_delta always has it.
func (st *stream) start(input int) {
	if st.started {
		return
	}
	st.started = true
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	st.w.WriteHeader(http.StatusOK)
	st.event("message_start", map[string]any{"message": map[string]any{"id": st.id, "type": "message", "role": "assistant",
		"model": st.model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": usage{InputTokens: input}}})
}

// text is the generator's progress callback: one text delta.
func (st *stream) text(t string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.start(0)
	if !st.open {
		st.open = true
		st.event("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	}
	st.event("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": t}})
}

// finish ends the stream with the generator's reply.
func (st *stream) finish(reply Reply) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if reply.Status != http.StatusOK {
		e := fromChat(reply.Status, reply.Body)
		if !st.started {
			writeError(st.w, e)
			return
		}
		st.event("error", map[string]any{"error": errorDetail{e.Type, e.Message}})
		return
	}
	msg, e := fromCompletion(reply.Body, st.model)
	if e != nil {
		if !st.started {
			writeError(st.w, e)
			return
		}
		st.event("error", map[string]any{"error": errorDetail{e.Type, e.Message}})
		return
	}
	st.start(msg.Usage.InputTokens)
	index := 0
	if st.open {
		st.event("content_block_stop", map[string]any{"index": 0})
		index = 1
	}
	for _, b := range msg.Content {
		switch {
		case (b.Type == "text" || b.Type == "thinking") && st.open:
			continue // streamed already (as text)
		case b.Type == "thinking":
			st.event("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "thinking", "thinking": "", "signature": ""}})
			st.event("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "thinking_delta", "thinking": *b.Thinking}})
		case b.Type == "text":
			st.event("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "text", "text": ""}})
			if *b.Text != "" {
				st.event("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "text_delta", "text": *b.Text}})
			}
		case b.Type == "tool_use":
			st.event("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "tool_use",
				"id": b.ID, "name": b.Name, "input": map[string]any{}}})
			st.event("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "input_json_delta",
				"partial_json": string(b.Input)}})
		}
		st.event("content_block_stop", map[string]any{"index": index})
		index++
	}
	st.event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": msg.StopReason, "stop_sequence": nil},
		"usage": msg.Usage})
	st.event("message_stop", map[string]any{})
}
