package openai

import (
	"encoding/json"
	"net/http"
)

// sseWriter writes server-sent events: "data: <json>\n\n", ending with
// "data: [DONE]\n\n".
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	// held: events are written but not flushed until flush (the stream's
	// consumer flushes when it has nothing more to send right now, so
	// events that piled up while the writer was busy leave in one write).
	held bool
	buf  []byte // the event being written
}

func newSSE(w http.ResponseWriter) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

func (s *sseWriter) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // no proxy buffering
	h.Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(http.StatusOK)
}

// send writes one event and flushes it to the client.
func (s *sseWriter) send(v any) error {
	s.start()
	buf := append(s.buf[:0], "data: "...)
	if b, ok := appendChunk(buf, v); ok {
		buf = b
	} else {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf = append(buf, b...)
	}
	buf = append(buf, '\n', '\n')
	s.buf = buf // reused: Write copies it
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	if s.held {
		return nil
	}
	return s.rc.Flush()
}

// flush sends what send wrote.
func (s *sseWriter) flush() error {
	if !s.started {
		return nil
	}
	return s.rc.Flush()
}

// end sends final (the usage chunk; nil for none), then [DONE].
func (s *sseWriter) end(final any) {
	if final != nil {
		if err := s.send(final); err != nil {
			return // the client is gone
		}
	}
	s.done()
}

// done writes the final [DONE] event.
func (s *sseWriter) done() {
	s.start()
	_, _ = s.w.Write([]byte("data: [DONE]\n\n"))
	_ = s.rc.Flush()
}

// fail reports an error: as a JSON error response when nothing was sent
// yet, else as a final error event followed by [DONE].
func (s *sseWriter) fail(e *Error) {
	if !s.started {
		writeError(s.w, e)
		return
	}
	_ = s.send(errorBody{e})
	s.done()
}
