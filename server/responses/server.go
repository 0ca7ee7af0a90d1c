package responses

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// Call is one chat completions request for a Generator.
type Call struct {
	Principal admission.Principal
	Class     admission.Class
	Body      []byte // a chat completions body
	RequestID string
	// Progress, when set, receives the generated text as it comes.
	Progress func(text string)
}

// Reply is the chat endpoint's answer: a chat.completion object, or an
// error in OpenAI's shape with its status.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Generator runs a chat completions request in process.
type Generator interface {
	Chat(ctx context.Context, c Call) Reply
}

// Store keeps responses per tenant; *store.DB is one. Misses are
// store.ErrNotFound.
type Store interface {
	PutResponse(ctx context.Context, r store.Response) error
	Response(ctx context.Context, tenant, id string) (store.Response, error)
	DeleteResponse(ctx context.Context, tenant, id string) error
}

// Config sets up a Server.
type Config struct {
	Generator Generator
	// Store keeps stored responses; nil: a memory store of the latest
	// MemoryResponses (default 1024).
	Store           Store
	MemoryResponses int
	// Auth resolves API keys (Bearer); nil is open mode (every request
	// runs as OpenPrincipal, whose zero Tier is admission.OpenTier()).
	Auth          admission.Authenticator
	OpenPrincipal admission.Principal
	MaxBodyBytes  int64 // default 32 MiB
	Logger        *slog.Logger
	Now           func() time.Time
}

// Server is the Responses API.
type Server struct {
	cfg Config
	log *slog.Logger
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Generator == nil {
		return nil, errors.New("responses server: no generator")
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
	if cfg.OpenPrincipal.Tier.Name == "" {
		cfg.OpenPrincipal.Tier = admission.OpenTier()
	}
	if cfg.OpenPrincipal.Tenant == "" {
		cfg.OpenPrincipal.Tenant = "default"
	}
	if cfg.Store == nil {
		if cfg.MemoryResponses <= 0 {
			cfg.MemoryResponses = 1024
		}
		cfg.Store = newMemory(cfg.MemoryResponses)
	}
	return &Server{cfg: cfg, log: cfg.Logger}, nil
}

// Mount adds the API's routes to mux.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/responses", s.create)
	mux.HandleFunc("GET /v1/responses/{id}", s.get)
	mux.HandleFunc("DELETE /v1/responses/{id}", s.delete)
	notServed := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusNotFound, "", fmt.Sprintf("%s %s is not served", r.Method, r.URL.Path)))
	}
	mux.HandleFunc("/v1/responses", notServed)
	mux.HandleFunc("/v1/responses/", notServed)
}

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
		return admission.Principal{}, newError(http.StatusUnauthorized, "", err.Error())
	}
	s.log.Error("authentication failed", "req", r.Header.Get("X-Request-Id"), "err", err)
	return admission.Principal{}, newError(http.StatusServiceUnavailable, "", "authentication is unavailable; try again")
}

func requestID(w http.ResponseWriter, r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 256 {
		id = newID("req_")
	}
	w.Header().Set("X-Request-Id", id)
	return id
}

// create answers POST /v1/responses.
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	reqID := requestID(w, r)
	p, e := s.authenticate(r)
	if e != nil {
		writeError(w, e)
		return
	}
	cl := p.DefaultClass()
	if h := r.Header.Get("X-Siati-Tier"); h != "" {
		c, err := admission.ParseClass(h)
		if err != nil {
			writeError(w, invalid("", "X-Siati-Tier: "+err.Error()))
			return
		}
		cl = p.Tier.Clamp(c)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, newError(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the body exceeds %d bytes", s.cfg.MaxBodyBytes)))
			return
		}
		writeError(w, invalid("", "reading the body: "+err.Error()))
		return
	}
	req, e := decode(raw)
	if e != nil {
		writeError(w, e)
		return
	}
	var conv []chatMessage
	if req.PreviousResponseID != nil && *req.PreviousResponseID != "" {
		prev, err := s.cfg.Store.Response(r.Context(), p.Tenant, *req.PreviousResponseID)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, newError(http.StatusNotFound, "previous_response_id",
				fmt.Sprintf("previous response with id %q not found", *req.PreviousResponseID)))
			return
		}
		if err != nil {
			s.log.Error("read response", "req", reqID, "err", err)
			writeError(w, newError(http.StatusInternalServerError, "", "the response store failed"))
			return
		}
		if err := json.Unmarshal(prev.Conversation, &conv); err != nil {
			writeError(w, newError(http.StatusInternalServerError, "", "the stored conversation is unreadable"))
			return
		}
	}
	input, e := req.inputMessages()
	if e != nil {
		writeError(w, e)
		return
	}
	conv = append(conv, input...)
	body, e := req.chatBody(conv)
	if e != nil {
		writeError(w, e)
		return
	}
	obj := s.newObject(req)
	call := Call{Principal: p, Class: cl, Body: body, RequestID: reqID}
	finish := func(reply Reply) (*responseObject, *Error) {
		if reply.Status != http.StatusOK {
			return nil, fromChat(reply.Status, reply.Body)
		}
		msg, e := obj.complete(reply.Body, s.cfg.Now())
		if e != nil {
			return nil, e
		}
		if req.stored() {
			s.save(r.Context(), p.Tenant, reqID, obj, append(conv, msg))
		}
		return obj, nil
	}
	if !req.Stream {
		if _, e := finish(s.cfg.Generator.Chat(r.Context(), call)); e != nil {
			writeError(w, e)
			return
		}
		writeJSON(w, http.StatusOK, obj)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &stream{w: w, rc: http.NewResponseController(w), obj: obj, created: *obj, cancel: cancel}
	st.created.Output = []outputItem{}
	if len(req.Tools) == 0 {
		call.Progress = st.text
	}
	reply := s.cfg.Generator.Chat(ctx, call)
	done, e := finish(reply)
	st.end(done, e)
}

// save stores a response with its conversation; a failure is logged (the
// client has its answer).
func (s *Server) save(ctx context.Context, tenant, reqID string, obj *responseObject, conv []chatMessage) {
	o, err := json.Marshal(obj)
	if err == nil {
		var c []byte
		if c, err = json.Marshal(conv); err == nil {
			err = s.cfg.Store.PutResponse(context.WithoutCancel(ctx), store.Response{ID: obj.ID, Tenant: tenant,
				Created: time.Unix(obj.CreatedAt, 0), Object: o, Conversation: c})
		}
	}
	if err != nil {
		s.log.Error("store response", "req", reqID, "tenant", tenant, "id", obj.ID, "err", err)
	}
}

// get answers GET /v1/responses/{id}.
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	requestID(w, r)
	p, e := s.authenticate(r)
	if e != nil {
		writeError(w, e)
		return
	}
	id := r.PathValue("id")
	got, err := s.cfg.Store.Response(r.Context(), p.Tenant, id)
	if err != nil {
		writeError(w, s.storeError(id, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(got.Object)
}

// delete answers DELETE /v1/responses/{id}.
func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	requestID(w, r)
	p, e := s.authenticate(r)
	if e != nil {
		writeError(w, e)
		return
	}
	id := r.PathValue("id")
	if err := s.cfg.Store.DeleteResponse(r.Context(), p.Tenant, id); err != nil {
		writeError(w, s.storeError(id, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "response.deleted", "deleted": true})
}

func (s *Server) storeError(id string, err error) *Error {
	if errors.Is(err, store.ErrNotFound) {
		return newError(http.StatusNotFound, "", fmt.Sprintf("response with id %q not found", id))
	}
	s.log.Error("response store", "id", id, "err", err)
	return newError(http.StatusInternalServerError, "", "the response store failed")
}

// newID returns prefix followed by 24 random hex digits.
func newID(prefix string) string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
