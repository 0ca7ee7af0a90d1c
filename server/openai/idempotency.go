package openai

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// StoredResponse is a finished response kept for replay to a retry that
// carries the same X-Request-Id.
type StoredResponse struct {
	Tenant, RequestID string
	BodyHash          [32]byte // of the request: a retry must send the same
	Status            int
	Header            http.Header // the replayed headers (Content-Type and ours)
	Body              []byte
	Created           time.Time
}

// IdempotencyStore keeps finished responses. Get returns ok false when there
// is none (or it is older than the store's window).
type IdempotencyStore interface {
	Get(ctx context.Context, tenant, requestID string) (StoredResponse, bool, error)
	Put(ctx context.Context, r StoredResponse) error
}

// maxReplayBytes bounds what a running request keeps for joiners and what
// is stored (the store's own limit is the same).
const maxReplayBytes = 4 << 20

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{"Content-Type", "Cache-Control", "X-Sota-Priority", "X-Accel-Buffering"}

// inflight is a running idempotent request: the bytes sent so far, for a
// retry that joins it.
type inflight struct {
	hash [32]byte

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every write and at the end
	status   int
	header   http.Header
	body     []byte
	overflow bool // body passed maxReplayBytes: joiners cannot replay it
	failed   bool // a write to the first client failed: the response is cut
	done     bool
}

// wake tells joiners something changed. Called with f.mu held.
func (f *inflight) wake() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// teeWriter sends the response to the client and into its inflight record.
type teeWriter struct {
	http.ResponseWriter
	f *inflight
}

func (w *teeWriter) WriteHeader(code int) {
	w.f.mu.Lock()
	if w.f.status == 0 {
		w.f.status = code
		w.f.header = http.Header{}
		for _, k := range replayedHeaders {
			if v := w.ResponseWriter.Header().Values(k); len(v) > 0 {
				w.f.header[k] = append([]string(nil), v...)
			}
		}
		w.f.wake()
	}
	w.f.mu.Unlock()
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK) // no-op once the status is set
	n, err := w.ResponseWriter.Write(b)
	w.f.mu.Lock()
	if err != nil {
		w.f.failed = true
	}
	if !w.f.overflow {
		if len(w.f.body)+len(b) > maxReplayBytes {
			w.f.overflow, w.f.body = true, nil
		} else {
			w.f.body = append(w.f.body, b...)
		}
	}
	w.f.wake()
	w.f.mu.Unlock()
	return n, err
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// idempotency applies X-Request-Id semantics to a POST from principal
// tenant: a replay (stored or joined) is written here and handled is true;
// otherwise it returns the writer the handler must use and a finish to call
// after it (nil when the request is not idempotent).
func (s *Server) idempotency(w http.ResponseWriter, r *http.Request, tenant string) (_ http.ResponseWriter, finish func(), handled bool) {
	if s.cfg.Idempotency == nil || !clientRequestID(r.Context()) {
		return w, nil, false
	}
	id := r.Header.Get("X-Request-Id")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, classify(fmt.Errorf("%w: %w", errBodyRead, err), ""))
		return w, nil, true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	hash := sha256.Sum256(append([]byte(r.URL.Path+"\x00"), body...))
	key := tenant + "\x00" + id

	s.idemMu.Lock()
	if f, ok := s.inflightByKey[key]; ok {
		s.idemMu.Unlock()
		if f.hash != hash {
			writeError(w, reused(id))
		} else {
			s.join(w, r, f)
		}
		return w, nil, true
	}
	stored, ok, err := s.cfg.Idempotency.Get(r.Context(), tenant, id)
	if err != nil {
		s.idemMu.Unlock()
		s.log.Error("idempotency lookup failed", "req", id, "tenant", tenant, "err", err)
		writeError(w, apiError(http.StatusServiceUnavailable, "service_unavailable", "", "", "idempotency store unavailable; try again"))
		return w, nil, true
	}
	if ok {
		s.idemMu.Unlock()
		if stored.BodyHash != hash {
			writeError(w, reused(id))
		} else {
			replay(w, stored.Status, stored.Header, stored.Body)
		}
		return w, nil, true
	}
	f := &inflight{hash: hash, changed: make(chan struct{})}
	s.inflightByKey[key] = f
	s.idemMu.Unlock()

	created := s.cfg.Now()
	finish = func() {
		f.mu.Lock()
		f.done = true
		f.wake()
		keep := storable(f.status) && !f.failed && !f.overflow && r.Context().Err() == nil
		resp := StoredResponse{Tenant: tenant, RequestID: id, BodyHash: hash, Status: f.status, Header: f.header,
			Body: f.body, Created: created}
		f.mu.Unlock()
		if keep {
			// Stored before it leaves the running set, so a retry finds one or the other.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.cfg.Idempotency.Put(ctx, resp); err != nil {
				s.log.Warn("storing an idempotent response", "req", id, "tenant", tenant, "err", err)
			}
			cancel()
		}
		s.idemMu.Lock()
		delete(s.inflightByKey, key)
		s.idemMu.Unlock()
	}
	return &teeWriter{ResponseWriter: w, f: f}, finish, false
}

// storable says whether a response is kept: refusals a retry may overcome
// (408, 429, 5xx) and aborted ones are not.
func storable(status int) bool {
	return status != 0 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests &&
		status != 499 && status < 500
}

func reused(id string) *Error {
	return apiError(http.StatusUnprocessableEntity, "invalid_request_error", "", "idempotency_key_reused",
		fmt.Sprintf("X-Request-Id %q was used for a different request body", id))
}

// replay writes a stored response byte for byte.
func replay(w http.ResponseWriter, status int, header http.Header, body []byte) {
	h := w.Header()
	for k, v := range header {
		h[k] = v
	}
	h.Set("Idempotent-Replayed", "true")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// join follows a running request: what it sent so far, then live, to its
// end. The joiner holds no stream slot.
func (s *Server) join(w http.ResponseWriter, r *http.Request, f *inflight) {
	rc := http.NewResponseController(w)
	sent, started := 0, false
	for {
		f.mu.Lock()
		status, header, overflow, done := f.status, f.header, f.overflow, f.done
		chunk := []byte(nil)
		if !overflow && len(f.body) > sent {
			chunk = f.body[sent:len(f.body):len(f.body)]
		}
		changed := f.changed
		f.mu.Unlock()
		if overflow && !started {
			writeError(w, apiError(http.StatusConflict, "invalid_request_error", "", "idempotency_in_progress",
				"a request with this X-Request-Id is still running and too large to replay; retry when it has finished"))
			return
		}
		if status != 0 && !started {
			h := w.Header()
			for k, v := range header {
				h[k] = v
			}
			h.Set("Idempotent-Replayed", "true")
			w.WriteHeader(status)
			started = true
		}
		if len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			_ = rc.Flush()
			sent += len(chunk)
		}
		if done && (overflow || sent == len(f.body)) {
			if !started {
				// The first attempt ended without a response (it was cancelled).
				writeError(w, apiError(http.StatusConflict, "invalid_request_error", "", "idempotency_in_progress",
					"the request with this X-Request-Id ended without a response; retry"))
			}
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// clientIDKey marks a request whose X-Request-Id the client sent.
type clientIDKey struct{}

func clientRequestID(ctx context.Context) bool {
	v, _ := ctx.Value(clientIDKey{}).(bool)
	return v
}
