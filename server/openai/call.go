package openai

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/engine"
)

// Endpoints a Call may run.
const (
	EndpointChat        = "/v1/chat/completions"
	EndpointCompletions = "/v1/completions"
	EndpointTokenize    = "/tokenize"
)

// Call is one request run from inside the process (the jobs runner): the
// same handler as over HTTP (decoding, validation, template, tokenization,
// admission, engine), answered into memory. Stream is ignored: the reply is
// the non-streamed object.
type Call struct {
	Principal admission.Principal
	Endpoint  string // EndpointChat, EndpointCompletions or EndpointTokenize
	Body      []byte
	RequestID string // for logs and usage
	Class     admission.Class
	// Check stops after validation, before the engine (and takes no stream
	// slot): the reply is 204 for a request that would run, else its error.
	Check bool
	// Admit, when set, replaces the server's admitter for this call (the
	// caller's own queueing policy around the same slots).
	Admit func(context.Context, admission.Request) (*admission.Ticket, error)
	// Progress, when set, receives each choice's text as it is generated
	// (from one goroutine at a time).
	Progress func(choice int, text string)
	// Deltas, when set, receives each choice's pieces as they are
	// generated, with token ids and logprobs (from one goroutine at a time).
	Deltas func(Delta)
	// Observe, when set, is the endpoint of another API shape the call
	// answers for (/v1/messages): usage is recorded under it, and the call
	// is observed (metrics, access log, trace) as a request to it.
	Observe string
}

// Reply is what the endpoint answered.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// callHooks travel in a Call's request context to the few places of the
// handlers that a call changes.
type callHooks struct {
	check    bool
	admit    admission.Admitter
	progress func(choice int, text string)
	deltas   func(Delta)
}

type callKey struct{}

func hooksFrom(ctx context.Context) *callHooks {
	h, _ := ctx.Value(callKey{}).(*callHooks)
	return h
}

// checkOnly reports whether the request only validates: the handler
// answers 204 where it would start generating.
func checkOnly(ctx context.Context) bool {
	h := hooksFrom(ctx)
	return h != nil && h.check
}

// answerCheck answers a checked request: 204, or the context-length error
// the engine would give (its other checks are the handler's own).
func answerCheck(w http.ResponseWriter, m *Model, prompts [][]int32, maxTokens int, param string) {
	limit := m.Engine.MaxModelLen()
	for _, p := range prompts {
		if len(p) >= limit || len(p)+maxTokens > limit {
			writeError(w, classify(fmt.Errorf("%w: %d prompt tokens plus max_tokens %d exceed the context of %d tokens",
				engine.ErrPromptTooLong, len(p), maxTokens, limit), param))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// progressFrom is the call's progress callback, nil for HTTP requests.
func progressFrom(ctx context.Context) func(choice int, text string) {
	if h := hooksFrom(ctx); h != nil {
		return h.progress
	}
	return nil
}

// admitter is the admitter a request's slot comes from: the call's own, a
// free slot for a check, else the server's.
func (s *Server) admitter(ctx context.Context) admission.Admitter {
	if h := hooksFrom(ctx); h != nil && h.admit != nil {
		return h.admit
	}
	return s.cfg.Admission
}

// admitFunc is an Admitter made of a function (Snapshot is empty).
type admitFunc func(context.Context, admission.Request) (*admission.Ticket, error)

func (f admitFunc) Admit(ctx context.Context, r admission.Request) (*admission.Ticket, error) {
	return f(ctx, r)
}
func (f admitFunc) Snapshot() []admission.TenantState { return nil }

// freeSlot admits at once without holding anything (a check runs nothing).
func freeSlot(_ context.Context, r admission.Request) (*admission.Ticket, error) {
	return admission.NewTicket(func() {}, 0, r.Limits, 0), nil
}

// memoryWriter is an http.ResponseWriter into memory.
type memoryWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *memoryWriter) Header() http.Header { return w.header }
func (w *memoryWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *memoryWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// Do runs c. Cancelling ctx aborts it (the reply is then a 499 error).
func (s *Server) Do(ctx context.Context, c Call) (reply Reply) {
	mw := &memoryWriter{header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("call panicked", "req", c.RequestID, "panic", v, "stack", string(debug.Stack()))
			mw = &memoryWriter{header: http.Header{}}
			writeError(mw, apiError(http.StatusInternalServerError, "internal_error", "", "", "internal error"))
		}
		reply = Reply{Status: mw.status, Header: mw.header, Body: mw.body.Bytes()}
	}()
	var h http.HandlerFunc
	switch c.Endpoint {
	case EndpointChat:
		h = s.chat
	case EndpointCompletions:
		h = s.completions
	case EndpointTokenize:
		h = s.tokenize
	default:
		writeError(mw, classify(fmt.Errorf("%w: endpoint %s", errNotFound, c.Endpoint), ""))
		return
	}
	hooks := &callHooks{check: c.Check, progress: c.Progress, deltas: c.Deltas}
	switch {
	case c.Check:
		hooks.admit = admitFunc(freeSlot)
	case c.Admit != nil:
		hooks.admit = admitFunc(c.Admit)
	}
	sw := &statusWriter{ResponseWriter: mw}
	sw.rc = http.NewResponseController(sw)
	rec := &requestRecord{principal: c.Principal, start: s.cfg.Now(), now: s.cfg.Now, sw: sw}
	ctx = context.WithValue(ctx, callKey{}, hooks)
	ctx = context.WithValue(ctx, recordKey{}, rec)
	path := c.Endpoint
	if c.Observe != "" {
		path = c.Observe
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(c.Body))
	if err != nil {
		writeError(mw, classify(err, ""))
		return
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(headerClass, c.Class.String())
	if c.RequestID != "" {
		r.Header.Set("X-Request-Id", c.RequestID)
	}
	if !c.Check {
		defer s.recordUsage(r, rec)
	}
	if c.Observe != "" {
		defer s.observe(r, rec)
	}
	h(sw, r)
	if mw.status == 0 {
		mw.status = http.StatusOK
	}
	return
}
