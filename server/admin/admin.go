package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// MinTokenLen is the shortest admin token New accepts, in bytes.
const MinTokenLen = 16

// maxBody bounds a request body; a longer one is a 413.
const maxBody = 1 << 20

// Config is what the admin API needs. Token, DB and Tiers are required.
type Config struct {
	// Token is the bearer token every request must carry (at least
	// MinTokenLen bytes). It is never logged.
	Token string
	// DB holds tenants, keys and usage.
	DB *store.DB
	// Tiers are the tiers tenants may be put in, by name.
	Tiers map[string]admission.Tier
	// Admission, when set, supplies the live streams and queues; nil
	// reports every tenant idle.
	Admission admission.Admitter
	// Logger receives one line per change (never a key or the token);
	// nil discards.
	Logger *slog.Logger
	// Now is the clock for usage windows; nil is time.Now.
	Now func() time.Time
}

// Validate checks the required fields.
func (c *Config) Validate() error {
	switch {
	case len(c.Token) < MinTokenLen:
		return fmt.Errorf("admin: token of %d bytes, want at least %d", len(c.Token), MinTokenLen)
	case strings.ContainsAny(c.Token, " \t\r\n"):
		return errors.New("admin: token contains white space")
	case c.DB == nil:
		return errors.New("admin: no database")
	case len(c.Tiers) == 0:
		return errors.New("admin: no tiers")
	}
	for name, t := range c.Tiers {
		if t.Name != name {
			return fmt.Errorf("admin: tier %q is named %q", name, t.Name)
		}
	}
	return nil
}

// server is the admin API's state.
type server struct {
	cfg       Config
	tokenHash [sha256.Size]byte
	log       *slog.Logger
	mux       *http.ServeMux
	// writeMu serialises the read-check-write sequences (create a key for a
	// maybe-new tenant, set a tenant) so that two admin calls in this
	// process cannot interleave between the check and the write.
	writeMu sync.Mutex
}

// New makes the admin API's handler. It serves paths under /admin/v1/ (mount
// it at /admin/); every request needs "Authorization: Bearer <Token>".
func New(cfg Config) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &server{cfg: cfg, tokenHash: sha256.Sum256([]byte(cfg.Token)), log: cfg.Logger, mux: http.NewServeMux()}
	s.cfg.Token = "" // only the hash is kept
	s.mux.HandleFunc("GET /admin/v1/keys", s.listKeys)
	s.mux.HandleFunc("POST /admin/v1/keys", s.createKey)
	s.mux.HandleFunc("DELETE /admin/v1/keys/{id}", s.revokeKey)
	s.mux.HandleFunc("GET /admin/v1/tenants", s.listTenants)
	s.mux.HandleFunc("GET /admin/v1/tenants/{id}", s.getTenant)
	s.mux.HandleFunc("PUT /admin/v1/tenants/{id}", s.setTenant)
	s.mux.HandleFunc("GET /admin/v1/usage", s.usage)
	s.mux.HandleFunc("GET /admin/v1/live", s.live)
	return s, nil
}

// ServeHTTP authenticates, then routes. Unknown paths and wrong methods get
// JSON errors (404; 405 with Allow) instead of the mux's plain text.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !s.authorized(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sota-admin"`)
		writeError(w, apiError(http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key",
			"missing or invalid admin token: send Authorization: Bearer <admin token>"))
		return
	}
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No route: let the mux decide between 404 and 405 (and the Allow
	// header), then answer in JSON.
	h, _ := s.mux.Handler(r)
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeError(w, apiError(http.StatusMethodNotAllowed, "invalid_request_error", "", "method_not_allowed",
			fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)))
		return
	}
	writeError(w, apiError(http.StatusNotFound, "invalid_request_error", "", "not_found",
		fmt.Sprintf("no admin endpoint %s", r.URL.Path)))
}

// authorized compares the bearer token with the configured one in constant
// time (over their SHA-256, so the length does not leak either).
func (s *server) authorized(header string) bool {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(h[:], s.tokenHash[:]) == 1
}

// recorder captures the status and headers of the mux's own 404/405.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return len(b), nil
}
