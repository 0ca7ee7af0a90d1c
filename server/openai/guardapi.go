package openai

import (
	"net/http"
	"time"
)

// ErrorWriter answers an error in some API's own shape.
type ErrorWriter func(w http.ResponseWriter, status int, message string, retryAfter int)

// Guard wraps the handler of an API served beside this one (Anthropic
// Messages, Responses) in this server's request guard: readiness and
// draining (503), the Host guard, JSON-only request bodies (415), the body
// read deadline, and in-flight
// accounting, so Drain, Wait and Cut cover its requests too, and the
// stream stall timeout (a write to a client that reads nothing fails once
// it passes; the handler then aborts). Refusals are written by onError in
// that API's shape.
func (s *Server) Guard(next http.Handler, onError ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := s.unavailable(); e != nil {
			onError(w, e.Status, e.Message, e.RetryAfter)
			return
		}
		if e := s.checkHost(r); e != nil {
			onError(w, e.Status, e.Message, e.RetryAfter)
			return
		}
		if r.Method == http.MethodPost {
			if e := checkContentType(r); e != nil {
				onError(w, e.Status, e.Message, e.RetryAfter)
				return
			}
			s.withBodyDeadline(w, r)
		}
		s.inFlight.Add(1)
		defer s.inFlight.Done()
		s.running.Add(1)
		defer s.running.Add(-1)
		ctx, end := s.cutContext(r.Context())
		defer end()
		sw := &statusWriter{ResponseWriter: w, stall: s.cfg.StreamStallTimeout, rc: http.NewResponseController(w)}
		if sw.stall > 0 {
			// The deadline must not outlive this response on a kept-alive connection.
			defer func() { _ = sw.rc.SetWriteDeadline(time.Time{}) }()
		}
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}
