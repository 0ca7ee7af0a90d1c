package fakeoai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Decision is the admission hook's answer for one request.
type Decision struct {
	Status     int // 0 or 200 serves the request; 429 or 408 rejects it
	RetryAfter int // seconds, sent as Retry-After and error.retry_after when > 0
	Wait       time.Duration
	// Wait is how long the request is held before the answer (a queue).
}

// Config is the fake server's behaviour.
type Config struct {
	TTFT time.Duration // from the request to the first token
	ITL  time.Duration // between tokens
	// TokensPerChunk > 1 coalesces tokens into fewer, larger chunks.
	TokensPerChunk int
	NoUsage        bool // never send usage, even when asked
	// RoleChunkFirst sends the chat role chunk (empty content) at once,
	// before the first token, as some servers do.
	RoleChunkFirst bool
	// Admit, when set, decides each request by its API key (the bearer
	// token) and the number of requests seen before it.
	Admit func(key string, n int) Decision
}

// Arrival is one request the server received.
type Arrival struct {
	At        time.Time
	Host      string
	Path      string
	Key       string
	Header    http.Header
	Body      map[string]any
	MaxTokens int
}

// Server is an http.Handler.
type Server struct {
	cfg      Config
	mu       sync.Mutex
	arrivals []Arrival
	inFlight int
	peak     int
}

// New returns a server with the given behaviour.
func New(cfg Config) *Server {
	if cfg.TokensPerChunk < 1 {
		cfg.TokensPerChunk = 1
	}
	return &Server{cfg: cfg}
}

// Arrivals returns a copy of the requests received so far, in order.
func (s *Server) Arrivals() []Arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Arrival(nil), s.arrivals...)
}

// PeakInFlight is the largest number of requests served at once.
func (s *Server) PeakInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	chat := strings.HasSuffix(r.URL.Path, "/chat/completions")
	if !chat && !strings.HasSuffix(r.URL.Path, "/completions") {
		writeError(w, http.StatusNotFound, "not found", 0)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "bad json: "+err.Error(), 0)
		return
	}
	maxTokens := 16
	if v, ok := body["max_tokens"].(float64); ok {
		maxTokens = int(v)
	}
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	n := len(s.arrivals)
	s.arrivals = append(s.arrivals, Arrival{At: time.Now(), Host: r.Host, Path: r.URL.Path, Key: key, Header: r.Header.Clone(), Body: body, MaxTokens: maxTokens})
	s.mu.Unlock()

	if s.cfg.Admit != nil {
		d := s.cfg.Admit(key, n)
		if !sleep(r, d.Wait) {
			return
		}
		if d.Status != 0 && d.Status != http.StatusOK {
			writeError(w, d.Status, "rejected", d.RetryAfter)
			return
		}
	}
	s.mu.Lock()
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	stream, _ := body["stream"].(bool)
	usage := false
	if so, ok := body["stream_options"].(map[string]any); ok {
		usage, _ = so["include_usage"].(bool)
	}
	if !stream {
		if !sleep(r, s.cfg.TTFT+time.Duration(maxTokens-1)*s.cfg.ITL) {
			return
		}
		text := strings.Repeat("tok ", maxTokens)
		resp := map[string]any{"id": "x", "object": "text_completion"}
		if chat {
			resp["choices"] = []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "length"}}
		} else {
			resp["choices"] = []any{map[string]any{"index": 0, "text": text, "finish_reason": "length"}}
		}
		if !s.cfg.NoUsage {
			resp["usage"] = map[string]any{"prompt_tokens": 3, "completion_tokens": maxTokens, "total_tokens": 3 + maxTokens}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		_ = rc.Flush()
	}
	choice := func(text string, finish any) map[string]any {
		if chat {
			return map[string]any{"index": 0, "delta": map[string]any{"content": text}, "finish_reason": finish}
		}
		return map[string]any{"index": 0, "text": text, "finish_reason": finish}
	}
	if chat && s.cfg.RoleChunkFirst {
		send(map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": ""}}}})
	}
	if !sleep(r, s.cfg.TTFT) {
		return
	}
	for sent := 0; sent < maxTokens; {
		k := min(s.cfg.TokensPerChunk, maxTokens-sent)
		if sent > 0 {
			if !sleep(r, time.Duration(k)*s.cfg.ITL) {
				return
			}
		}
		sent += k
		var finish any
		if sent == maxTokens {
			finish = "length"
		}
		send(map[string]any{"choices": []any{choice(strings.Repeat("tok ", k), finish)}})
	}
	if usage && !s.cfg.NoUsage {
		send(map[string]any{"choices": []any{}, "usage": map[string]any{"prompt_tokens": 3, "completion_tokens": maxTokens, "total_tokens": 3 + maxTokens}})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

// writeError writes the OpenAI error shape.
func writeError(w http.ResponseWriter, status int, msg string, retryAfter int) {
	e := map[string]any{"message": msg, "type": http.StatusText(status), "param": nil, "code": status}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		e["retry_after"] = retryAfter
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// sleep waits d, or until the client goes away (false).
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
