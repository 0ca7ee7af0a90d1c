package responses

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// stream writes a Responses stream. Nothing is sent before the first text
// (or the end), so an error found before generation is a plain error
// response with its status; one after is a response.failed event.
type stream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	obj     *responseObject // completed by the time end runs
	created responseObject  // obj before generation, for response.created and in_progress

	mu      sync.Mutex
	seq     int
	started bool   // response.created sent
	open    bool   // the message item (output 0) is streaming
	failed  bool   // a write failed: the client is gone (or stalled)
	cancel  func() // aborts the generation, at a failed write
}

// event writes one SSE event; data gets its type and sequence number.
func (st *stream) event(typ string, data map[string]any) {
	if st.failed {
		return
	}
	data["type"] = typ
	data["sequence_number"] = st.seq
	st.seq++
	b, _ := json.Marshal(data)
	if _, err := fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", typ, b); err != nil {
		st.failed = true
		if st.cancel != nil {
			st.cancel()
		}
		return
	}
	_ = st.rc.Flush()
}

func (st *stream) start() {
	if st.started {
		return
	}
	st.started = true
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	st.w.WriteHeader(http.StatusOK)
	st.event("response.created", map[string]any{"response": &st.created})
	st.event("response.in_progress", map[string]any{"response": &st.created})
}

func emptyPart() outputText {
	return outputText{Type: "output_text", Text: "", Annotations: []any{}, Logprobs: []any{}}
}

// openMessage announces the message item at index i.
func (st *stream) openMessage(i int, id string) {
	st.event("response.output_item.added", map[string]any{"output_index": i,
		"item": outputItem{Type: "message", ID: id, Status: "in_progress", Role: "assistant", Content: &[]outputText{}}})
	st.event("response.content_part.added", map[string]any{"item_id": id, "output_index": i, "content_index": 0, "part": emptyPart()})
}

func (st *stream) delta(i int, id, t string) {
	st.event("response.output_text.delta", map[string]any{"item_id": id, "output_index": i, "content_index": 0, "delta": t, "logprobs": []any{}})
}

// text is the generator's progress callback: one text delta.
func (st *stream) text(t string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.start()
	if !st.open {
		st.open = true
		st.openMessage(0, st.obj.msgID)
	}
	st.delta(0, st.obj.msgID, t)
}

// end finishes the stream with the completed response, or its error.
func (st *stream) end(obj *responseObject, e *Error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if e != nil {
		if !st.started {
			writeError(st.w, e)
			return
		}
		failed := st.created
		failed.Status = "failed"
		code, _ := e.Code.(string)
		if code == "" {
			code = "server_error"
		}
		failed.Error = &responseError{Code: code, Message: e.Message}
		st.event("response.failed", map[string]any{"response": &failed})
		return
	}
	st.start()
	if st.open {
		// The streamed message was announced at index 0: it stays first
		// (with a reasoning parser its deltas held the reasoning too).
		for i, it := range obj.Output {
			if it.Type == "message" && i > 0 {
				copy(obj.Output[1:i+1], obj.Output[:i])
				obj.Output[0] = it
				break
			}
		}
	}
	for i, it := range obj.Output {
		switch it.Type {
		case "message":
			if !(i == 0 && st.open) {
				st.openMessage(i, it.ID)
				if t := (*it.Content)[0].Text; t != "" {
					st.delta(i, it.ID, t)
				}
			}
			part := (*it.Content)[0]
			st.event("response.output_text.done", map[string]any{"item_id": it.ID, "output_index": i, "content_index": 0,
				"text": part.Text, "logprobs": []any{}})
			st.event("response.content_part.done", map[string]any{"item_id": it.ID, "output_index": i, "content_index": 0, "part": part})
		case "reasoning":
			st.event("response.output_item.added", map[string]any{"output_index": i, "item": it})
		case "function_call":
			added := it
			added.Status = "in_progress"
			empty := ""
			added.Arguments = &empty
			st.event("response.output_item.added", map[string]any{"output_index": i, "item": added})
			st.event("response.function_call_arguments.delta", map[string]any{"item_id": it.ID, "output_index": i, "delta": *it.Arguments})
			st.event("response.function_call_arguments.done", map[string]any{"item_id": it.ID, "output_index": i,
				"name": it.Name, "arguments": *it.Arguments})
		}
		st.event("response.output_item.done", map[string]any{"output_index": i, "item": it})
	}
	last := "response.completed"
	if obj.Status == "incomplete" {
		last = "response.incomplete"
	}
	st.event(last, map[string]any{"response": obj})
}
