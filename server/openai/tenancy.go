package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/engine"
)

// Request headers of the tenancy layer.
const (
	headerClass = "X-Siati-Tier" // the priority class asked for
	headerUser  = "X-Siati-User" // the end user, for usage
)

// maxUserLen bounds the end-user id kept in usage records.
const maxUserLen = 256

// UsageRecord is what one API request cost, for billing and dashboards.
type UsageRecord struct {
	Time             time.Time // when the request arrived
	RequestID        string
	Tenant, KeyID    string
	Model, Endpoint  string
	Priority, User   string
	PromptTokens     int
	CompletionTokens int
	QueueTime, TTFT  time.Duration
	Duration         time.Duration
	Status           int
}

// UsageSink takes usage records; Add must not block the request.
type UsageSink interface{ Add(UsageRecord) }

// requestRecord follows one API request from authentication to its last
// byte; it travels in the request's context.
type requestRecord struct {
	principal admission.Principal
	start     time.Time
	now       func() time.Time
	sw        *statusWriter

	mu         sync.Mutex // consume may run once per prompt, concurrently
	model      string
	class      admission.Class
	user       string
	queued     time.Duration
	admitted   bool
	firstToken time.Time
	usage      usage
	obs        observed
}

type recordKey struct{}

func recordFrom(ctx context.Context) *requestRecord {
	r, _ := ctx.Value(recordKey{}).(*requestRecord)
	return r
}

// sawToken notes the time of the request's first generated token.
func (rec *requestRecord) sawToken() {
	if rec == nil {
		return
	}
	rec.mu.Lock()
	if rec.firstToken.IsZero() {
		rec.firstToken = rec.now()
	}
	rec.mu.Unlock()
}

// addUsage adds a finished stream's tokens.
func (rec *requestRecord) addUsage(u usage) {
	if rec == nil {
		return
	}
	rec.mu.Lock()
	rec.usage.add(u)
	rec.mu.Unlock()
}

// statusWriter remembers the response status; Unwrap keeps Flush and
// write deadlines reachable through http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
	// stall, when set, is the rolling write deadline: a client that
	// accepts no bytes for this long fails the write, which aborts the
	// stream and frees its slot.
	stall    time.Duration
	rc       *http.ResponseController
	deadline time.Time // the write deadline last set
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.stall > 0 {
		// Deadlines are wall-clock instants of the socket: real time. The
		// deadline moves at most every stall/8, so a stalled client is cut
		// between 7/8 of the timeout and the timeout after its last read.
		if now := time.Now(); now.Add(w.stall).Sub(w.deadline) > w.stall/8 {
			w.deadline = now.Add(w.stall)
			_ = w.rc.SetWriteDeadline(w.deadline)
		}
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// authenticate finds the request's principal: from its API key, or the
// open principal when the server has no keys.
func (s *Server) authenticate(r *http.Request) (admission.Principal, *Error) {
	if s.cfg.Auth == nil {
		return s.cfg.OpenPrincipal, nil
	}
	key, err := admission.ParseBearer(r.Header.Get("Authorization"))
	if err == nil {
		var p admission.Principal
		if p, err = s.cfg.Auth.Authenticate(r.Context(), key); err == nil {
			return p, nil
		}
	}
	if errors.Is(err, admission.ErrUnauthorized) {
		return admission.Principal{}, classify(err, "")
	}
	s.log.Error("authentication failed", "req", r.Header.Get("X-Request-Id"), "err", err)
	return admission.Principal{}, apiError(http.StatusServiceUnavailable, "service_unavailable", "", "",
		"authentication is unavailable; try again")
}

// grant is a request's admission: its stream slot (if the server caps
// streams) and the priority class it runs at.
type grant struct {
	ticket *admission.Ticket
	class  admission.Class
	p      admission.Principal
}

// release frees the stream slot; safe on nil and more than once.
func (g *grant) release() {
	if g != nil && g.ticket != nil {
		g.ticket.Release()
	}
}

// apply sets the engine request's tenant, priority and fair-share weight.
func (g *grant) apply(er *engine.Request) {
	er.Tenant = g.p.Tenant
	er.Priority = g.class.EnginePriority()
	er.Weight = g.p.Tier.Weight
}

// admit checks the caller may use model m (named requested) and takes a
// stream slot of its tenant's, waiting in the tenant's queue when all are
// in use. It runs before any expensive work (template, tokenization).
func (s *Server) admit(w http.ResponseWriter, r *http.Request, m *Model, requested string, c *common) (*grant, *Error) {
	rec := recordFrom(r.Context())
	p := rec.principal
	name := servedName(m, requested)
	rec.mu.Lock()
	rec.model = name
	rec.user = endUser(r, c)
	rec.mu.Unlock()
	if !p.Tier.AllowsModel(name) && !p.Tier.AllowsModel(m.Name) {
		return nil, apiError(http.StatusForbidden, "permission_denied", "model", "permission_denied",
			fmt.Sprintf("the model %q is not in your tier (%s)", name, p.Tier.Name))
	}
	class := p.DefaultClass()
	if h := r.Header.Get(headerClass); h != "" {
		asked, err := admission.ParseClass(h)
		if err != nil {
			return nil, apiError(http.StatusBadRequest, "invalid_request_error", "", "invalid_priority",
				headerClass+": "+err.Error())
		}
		class = p.Tier.Clamp(asked)
	}
	w.Header().Set("X-Sota-Priority", class.String())
	rec.mu.Lock()
	rec.class = class
	rec.mu.Unlock()
	g := &grant{class: class, p: p}
	adm := s.admitter(r.Context())
	if adm == nil {
		return g, nil
	}
	lim := p.Limits()
	asked := s.cfg.Now()
	tk, err := adm.Admit(r.Context(), admission.Request{Tenant: p.Tenant, Limits: lim, Class: class})
	h := w.Header()
	h.Set("X-Ratelimit-Limit-Streams", strconv.Itoa(lim.Streams))
	if err != nil {
		h.Set("X-Ratelimit-Remaining-Streams", "0")
		rec.mu.Lock()
		rec.queued = s.cfg.Now().Sub(asked) // a timed-out request waited the whole limit
		rec.obs.asked = asked
		rec.mu.Unlock()
		return nil, classify(err, "")
	}
	g.ticket = tk
	h.Set("X-Ratelimit-Remaining-Streams", strconv.Itoa(max(0, lim.Streams-tk.InUse)))
	rec.mu.Lock()
	rec.admitted, rec.queued = true, tk.Waited
	rec.obs.asked = asked
	rec.mu.Unlock()
	return g, nil
}

// endUser is the end user a request names: X-Siati-User, else the body's
// user field, bounded.
func endUser(r *http.Request, c *common) string {
	u := strings.TrimSpace(r.Header.Get(headerUser))
	if u == "" {
		u = c.User
	}
	if len(u) > maxUserLen {
		u = u[:maxUserLen]
	}
	return u
}

// recordUsage sends a finished API request's usage to the sink. Requests
// that never named a model (bad JSON, unknown paths) are not billed.
func (s *Server) recordUsage(r *http.Request, rec *requestRecord) {
	if s.cfg.Usage == nil {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.model == "" {
		return
	}
	u := UsageRecord{Time: rec.start, RequestID: r.Header.Get("X-Request-Id"), Tenant: rec.principal.Tenant,
		KeyID: rec.principal.KeyID, Model: rec.model, Endpoint: r.URL.Path, User: rec.user,
		PromptTokens: rec.usage.PromptTokens, CompletionTokens: rec.usage.CompletionTokens,
		QueueTime: rec.queued, Duration: s.cfg.Now().Sub(rec.start), Status: rec.sw.status}
	if rec.admitted || s.cfg.Admission == nil {
		u.Priority = rec.class.String()
	}
	if !rec.firstToken.IsZero() {
		u.TTFT = rec.firstToken.Sub(rec.start)
	}
	if u.Status == 0 {
		u.Status = 499 // the client went away before any byte
	}
	s.cfg.Usage.Add(u)
}
