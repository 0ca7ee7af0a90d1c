package openai

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sotasystems/sota/admission"
)

// Config sets up a Server.
type Config struct {
	Models       []*Model
	MaxBodyBytes int64            // request body limit; default 32 MiB
	Logger       *slog.Logger     // default slog.Default()
	Now          func() time.Time // default time.Now
	Version      string
	// Seed draws the seed of a request that gives none (default: random).
	Seed func() uint64

	// Auth resolves API keys; nil is open mode: every request runs as
	// OpenPrincipal (whose zero Tier is admission.OpenTier()).
	Auth          admission.Authenticator
	OpenPrincipal admission.Principal
	// Admission caps each tenant's concurrent streams; nil: no caps.
	Admission admission.Admitter
	// Usage receives a record of every billed request; nil: none kept.
	Usage UsageSink
	// StreamStallTimeout aborts a response whose client accepts no bytes
	// for this long, freeing its slot; 0: never.
	StreamStallTimeout time.Duration
	// UsageReader answers GET /v1/usage; nil: 404.
	UsageReader UsageReader
	// AllowedHosts are the Host names requests may carry (the DNS-rebinding
	// guard); empty: any. "*" allows all.
	AllowedHosts []string
	// BodyReadTimeout bounds how long a client may take to send a request
	// body; 0: the default (30 s), < 0: none.
	BodyReadTimeout time.Duration
	// MaxSequencesPerRequest bounds prompts × n of one request; 0: 256.
	MaxSequencesPerRequest int
	// Idempotency keeps responses to requests with a client X-Request-Id
	// for replay to retries; nil: retries run again.
	Idempotency IdempotencyStore
	// Observe sets the metrics, access log and traces; zero: none.
	Observe Observability
}

// Server is the OpenAI-compatible HTTP API over a set of models.
type Server struct {
	cfg      Config
	models   []*Model
	byName   map[string]*Model
	log      *slog.Logger
	ready    atomic.Bool
	draining atomic.Bool
	inFlight sync.WaitGroup

	cutCtx  context.Context // ended by Cut
	cut     context.CancelCauseFunc
	running atomic.Int64 // API requests in handlers

	idemMu        sync.Mutex
	inflightByKey map[string]*inflight // idempotent requests in flight, by tenant and id
}

// New checks the models and builds the server; it starts ready.
func New(cfg Config) (*Server, error) {
	if len(cfg.Models) == 0 {
		return nil, errors.New("openai server: no models")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Seed == nil {
		cfg.Seed = rand.Uint64
	}
	if cfg.BodyReadTimeout == 0 {
		cfg.BodyReadTimeout = defaultBodyReadTimeout
	}
	if cfg.MaxSequencesPerRequest <= 0 {
		cfg.MaxSequencesPerRequest = defaultMaxSequences
	}
	if cfg.OpenPrincipal.Tier.Name == "" {
		cfg.OpenPrincipal.Tier = admission.OpenTier()
	}
	if cfg.OpenPrincipal.Tenant == "" {
		cfg.OpenPrincipal.Tenant = "default"
	}
	if err := cfg.OpenPrincipal.Tier.Validate(); err != nil {
		return nil, fmt.Errorf("openai server: open tier: %w", err)
	}
	s := &Server{cfg: cfg, models: cfg.Models, byName: map[string]*Model{}, log: cfg.Logger, inflightByKey: map[string]*inflight{}}
	s.cutCtx, s.cut = context.WithCancelCause(context.Background())
	for _, m := range cfg.Models {
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("openai server: %w", err)
		}
		if m.Created.IsZero() {
			m.Created = cfg.Now()
		}
		m.fingerprint = fingerprint(cfg.Version, m.Name, m.Backend)
		for _, name := range append([]string{m.Name}, m.Aliases...) {
			if _, dup := s.byName[name]; dup {
				return nil, fmt.Errorf("openai server: model name %q served twice", name)
			}
			s.byName[name] = m
		}
	}
	s.ready.Store(true)
	return s, nil
}

// SetReady marks the server ready (or loading: /health answers 503 and
// requests are refused).
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Drain stops accepting requests (503) while the ones in flight finish;
// Wait waits for them.
func (s *Server) Drain() { s.draining.Store(true) }

// Wait blocks until no request is in flight.
func (s *Server) Wait() { s.inFlight.Wait() }

// Handler routes the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", s.api(http.MethodPost, s.chat))
	mux.HandleFunc("/v1/completions", s.api(http.MethodPost, s.completions))
	mux.HandleFunc("/v1/models", s.api(http.MethodGet, s.listModels))
	mux.HandleFunc("/v1/usage", s.api(http.MethodGet, s.usage))
	mux.HandleFunc("/v1/models/{id...}", s.api(http.MethodGet, s.getModel))
	mux.HandleFunc("/tokenize", s.api(http.MethodPost, s.tokenize))
	mux.HandleFunc("/detokenize", s.api(http.MethodPost, s.detokenize))
	mux.HandleFunc("/health", s.health)
	mux.HandleFunc("/version", s.version)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, classify(fmt.Errorf("%w: %s %s", errNotFound, r.Method, r.URL.Path), ""))
	})
	return s.withRequestID(mux)
}

// withRequestID echoes X-Request-Id, or makes one, on every response.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 256 {
			id = newID("")
			r.Header.Set("X-Request-Id", id)
		} else {
			r = r.WithContext(context.WithValue(r.Context(), clientIDKey{}, true))
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r)
	})
}

// api wraps an endpoint: method check, readiness, draining, in-flight
// accounting, body limit and panic recovery.
func (s *Server) api(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, apiError(http.StatusMethodNotAllowed, "invalid_request_error", "", "method_not_allowed",
				fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, method)))
			return
		}
		if e := s.unavailable(); e != nil {
			writeError(w, e)
			return
		}
		if e := s.checkHost(r); e != nil {
			writeError(w, e)
			return
		}
		if method == http.MethodPost {
			if e := checkContentType(r); e != nil {
				writeError(w, e)
				return
			}
			s.withBodyDeadline(w, r)
		}
		s.inFlight.Add(1)
		defer s.inFlight.Done()
		s.running.Add(1)
		defer s.running.Add(-1)
		ctx, endCtx := s.cutContext(r.Context())
		defer endCtx()
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w, stall: s.cfg.StreamStallTimeout, rc: http.NewResponseController(w)}
		w = sw
		rec := &requestRecord{start: s.cfg.Now(), now: s.cfg.Now, sw: sw}
		defer func() {
			// A stall deadline must not outlive this response on a kept-alive connection.
			if sw.stall > 0 {
				_ = sw.rc.SetWriteDeadline(time.Time{})
			}
			s.observe(r, rec)
			s.recordUsage(r, rec)
		}()
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panicked", "req", r.Header.Get("X-Request-Id"), "panic", v, "stack", string(debug.Stack()))
				writeError(w, apiError(http.StatusInternalServerError, "internal_error", "", "", "internal error"))
			}
		}()
		p, e := s.authenticate(r)
		if e != nil {
			writeError(w, e)
			return
		}
		rec.principal = p
		r = r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if method == http.MethodPost {
			var finish func()
			var handled bool
			if w, finish, handled = s.idempotency(w, r, p.Tenant); handled {
				return
			}
			if finish != nil {
				defer finish()
			}
		}
		h(w, r)
	}
}

// unavailable is the 503 while the server drains or loads, else nil.
func (s *Server) unavailable() *Error {
	switch {
	case s.draining.Load():
		return classify(errDraining, "")
	case !s.ready.Load():
		return classify(errNotReady, "")
	}
	return nil
}

// health is 200 while the server is ready and every engine healthy.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if e := s.unavailable(); e != nil {
		writeError(w, e)
		return
	}
	for _, m := range s.models {
		if err := m.Engine.Health(); err != nil {
			writeError(w, apiError(http.StatusServiceUnavailable, "service_unavailable", "", "",
				fmt.Sprintf("model %s: %v", m.Name, err)))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": s.cfg.Version})
}

// model finds the model a request names.
func (s *Server) model(name string, tier admission.Tier) (*Model, *Error) {
	if name == "" {
		if len(s.models) == 1 {
			return s.models[0], nil
		}
		return nil, invalid("model", "model is required: this server serves several")
	}
	m, ok := s.byName[name]
	if !ok {
		return nil, classify(fmt.Errorf("%w: the model %q does not exist; this server serves %s",
			errModelMissing, name, s.servedNames(tier)), "")
	}
	return m, nil
}

// servedNames lists the model names a caller of tier may use, quoted.
func (s *Server) servedNames(tier admission.Tier) string {
	var names []string
	for _, m := range s.models {
		for _, n := range append([]string{m.Name}, m.Aliases...) {
			if tier.AllowsModel(n) || tier.AllowsModel(m.Name) {
				names = append(names, strconv.Quote(n))
			}
		}
	}
	if len(names) == 0 {
		return "no model your key may use"
	}
	return strings.Join(names, ", ")
}

// requestModel decodes the body into req (whose shared fields are c) and
// finds the model it names.
func (s *Server) requestModel(r *http.Request, req any, c *common) (*Model, *Error) {
	if e := readBody(r, req); e != nil {
		return nil, e
	}
	return s.model(c.Model, recordFrom(r.Context()).principal.Tier)
}

// readBody reads and decodes a request body into v.
func readBody(r *http.Request, v any) *Error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return classify(fmt.Errorf("%w: %w", errBodyRead, err), "")
	}
	if err := decodeBody(body, v); err != nil {
		return classify(err, "")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fingerprint is a response's system_fingerprint: it changes when the
// version, the model or the backend does, as OpenAI's does.
func fingerprint(version, model, backend string) string {
	h := sha256.Sum256([]byte(version + "\x00" + model + "\x00" + backend))
	return "fp_" + hex.EncodeToString(h[:5])
}

// newID returns prefix followed by 24 random hex digits.
func newID(prefix string) string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
