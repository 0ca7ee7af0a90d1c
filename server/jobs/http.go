package jobs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// Mount registers the jobs, files and batches routes on mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/{model}/generate", s.api(s.generate))
	mux.HandleFunc("POST /v1/{org}/{model}/generate", s.api(s.generate)) // model names with one '/'
	mux.HandleFunc("GET /v1/jobs", s.api(s.list))
	mux.HandleFunc("GET /v1/jobs/{id}", s.api(s.get))
	mux.HandleFunc("DELETE /v1/jobs/{id}", s.api(s.cancel))
	mux.HandleFunc("GET /v1/jobs/{id}/stream", s.api(s.stream))
	s.batches.mount(mux)
}

type principalKey struct{}

func principalFrom(r *http.Request) admission.Principal {
	p, _ := r.Context().Value(principalKey{}).(admission.Principal)
	return p
}

// api wraps a handler: X-Request-Id, authentication, body limit.
func (s *Service) api(h http.HandlerFunc) http.HandlerFunc { return s.apiLimit(s.cfg.MaxBodyBytes, h) }

// apiLimit is api with a body limit of its own.
func (s *Service) apiLimit(limit int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 256 {
			id = newJobID("req_")
		}
		w.Header().Set("X-Request-Id", id)
		p := s.cfg.OpenPrincipal
		if s.cfg.Auth != nil {
			key, err := admission.ParseBearer(r.Header.Get("Authorization"))
			if err == nil {
				p, err = s.cfg.Auth.Authenticate(r.Context(), key)
			}
			if errors.Is(err, admission.ErrUnauthorized) {
				writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", err.Error())
				return
			}
			if err != nil {
				s.log.Error("jobs: authentication failed", "req", id, "err", err)
				writeError(w, http.StatusServiceUnavailable, "service_unavailable", "", "authentication is unavailable; try again")
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h(w, r)
	}
}

// jobObject is a job as the API shows it.
type jobObject struct {
	ID         string          `json:"job_id"`
	Object     string          `json:"object"`
	Model      string          `json:"model"`
	Endpoint   string          `json:"endpoint"`
	Status     string          `json:"status"`
	CreatedAt  int64           `json:"created_at"`
	StartedAt  *int64          `json:"started_at"`
	FinishedAt *int64          `json:"finished_at"`
	ExpiresAt  *int64          `json:"expires_at"`
	Attempts   int             `json:"attempts"`
	Output     []string        `json:"output"` // each choice's text so far (or at the end)
	Result     json.RawMessage `json:"result"` // the endpoint's response object, once finished
	Error      json.RawMessage `json:"error"`  // the endpoint's error object, once failed
	WebhookURL string          `json:"webhook_url,omitempty"`
	BatchID    string          `json:"batch_id,omitempty"`
	CustomID   string          `json:"custom_id,omitempty"`
	RefreshURL string          `json:"refresh_job_url"`
	CancelURL  string          `json:"cancel_job_url"`
	StreamURL  string          `json:"stream_job_url"`
}

func unixPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.Unix()
	return &v
}

// jobObject builds the API view of rec (texts: the live output, else the
// stored one).
func (s *Service) jobObject(rec store.Job, texts []string) jobObject {
	o := jobObject{ID: rec.ID, Object: "job", Model: rec.Model, Endpoint: rec.Endpoint, Status: rec.Status,
		CreatedAt: rec.Created.Unix(), StartedAt: unixPtr(rec.Started), FinishedAt: unixPtr(rec.Finished),
		ExpiresAt: unixPtr(rec.Deadline), Attempts: rec.Attempts, Output: texts, WebhookURL: rec.WebhookURL,
		BatchID: rec.BatchID, CustomID: rec.CustomID,
		RefreshURL: "/v1/jobs/" + rec.ID, CancelURL: "/v1/jobs/" + rec.ID, StreamURL: "/v1/jobs/" + rec.ID + "/stream"}
	if final(rec.Status) {
		o.ExpiresAt = nil
	}
	if o.Output == nil {
		_ = json.Unmarshal(rec.Partial, &o.Output)
		if o.Output == nil {
			o.Output = []string{}
		}
	}
	if len(rec.Result) > 0 {
		if rec.ResultStatus == http.StatusOK {
			o.Result = rec.Result
		} else {
			var e struct {
				Error json.RawMessage `json:"error"`
			}
			if json.Unmarshal(rec.Result, &e) == nil && len(e.Error) > 0 {
				o.Error = e.Error
			} else {
				o.Error = rec.Result
			}
		}
	}
	return o
}

// lookup is a tenant's job: live from memory when unfinished, else from
// the store. ok is false for an unknown id or another tenant's job.
func (s *Service) lookup(ctx context.Context, tenant, id string) (jobObject, *job, error) {
	s.mu.Lock()
	if j := s.jobs[id]; j != nil && j.rec.Tenant == tenant {
		o := s.jobObject(j.rec, j.texts())
		s.mu.Unlock()
		return o, j, nil
	}
	s.mu.Unlock()
	rec, err := s.db.Job(ctx, tenant, id)
	if err != nil {
		return jobObject{}, nil, err
	}
	return s.jobObject(rec, nil), nil, nil
}

// generateBody holds the jobs API's own fields of a generate request.
type generateBody struct {
	Async      *bool   `json:"async"`
	WebhookURL *string `json:"webhook_url"`
}

// jobFields are removed from the body before it runs.
var jobFields = []string{"async", "webhook_url", "stream", "stream_options"}

// generate answers POST /v1/{model}/generate.
func (s *Service) generate(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	model := r.PathValue("model")
	if org := r.PathValue("org"); org != "" {
		model = org + "/" + model
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", err.Error())
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", err.Error())
		return
	}
	var opts generateBody
	fields, endpoint, verr := s.parseRequest(raw, model, &opts)
	if verr != nil {
		writeValidation(w, verr)
		return
	}
	if opts.WebhookURL != nil {
		if verr := checkWebhookURL(*opts.WebhookURL); verr != nil {
			writeValidation(w, verr)
			return
		}
	}
	body, _ := json.Marshal(fields)
	if reply := s.cfg.Generator.Generate(r.Context(), Call{Principal: p, Endpoint: endpoint, Body: body, Check: true,
		Class: admission.Slow}); reply.Status != http.StatusNoContent {
		writeCheckFailure(w, reply)
		return
	}
	rec := store.Job{ID: newJobID("job_"), Model: model, Endpoint: endpoint, Body: body}
	if opts.WebhookURL != nil {
		rec.WebhookURL = *opts.WebhookURL
	}
	jobs, err := s.submit(r.Context(), p, []store.Job{rec})
	if err != nil {
		s.writeSubmitError(w, p, err)
		return
	}
	j := jobs[0]
	if opts.Async != nil && *opts.Async {
		s.mu.Lock()
		o := s.jobObject(j.rec, j.texts())
		s.mu.Unlock()
		w.Header().Set("Location", o.RefreshURL)
		writeJSON(w, http.StatusAccepted, o)
		return
	}
	// Sync: wait for the end; a client that goes away cancels its job.
	select {
	case <-j.done:
	case <-r.Context().Done():
		s.cancelJob(p.Tenant, j.rec.ID)
		return
	}
	o, _, err := s.lookup(context.WithoutCancel(r.Context()), p.Tenant, j.rec.ID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
		return
	}
	status := http.StatusOK
	switch o.Status {
	case Failed:
		status = http.StatusInternalServerError
		if j.rec.ResultStatus >= 400 && j.rec.ResultStatus < 600 {
			status = j.rec.ResultStatus
		}
	case Timeout:
		status = http.StatusGatewayTimeout
	case Cancelled:
		status = http.StatusConflict
	}
	writeJSON(w, status, o)
}

// parseRequest checks a generate body and returns its fields as the
// endpoint takes them (model from the path, a seed drawn when absent, the
// jobs' own fields removed), the endpoint, or the validation errors.
func (s *Service) parseRequest(raw []byte, model string, opts *generateBody) (map[string]json.RawMessage, string, []detail) {
	var fields map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &fields) != nil {
		return nil, "", []detail{{Loc: []any{"body"}, Msg: "the body must be a JSON object", Type: "json_invalid"}}
	}
	var errs []detail
	if v, ok := fields["async"]; ok && !isNull(v) {
		if json.Unmarshal(v, &opts.Async) != nil {
			errs = append(errs, detail{Loc: []any{"body", "async"}, Msg: "async must be a boolean", Type: "bool_type"})
		}
	}
	if v, ok := fields["webhook_url"]; ok && !isNull(v) {
		if json.Unmarshal(v, &opts.WebhookURL) != nil {
			errs = append(errs, detail{Loc: []any{"body", "webhook_url"}, Msg: "webhook_url must be a string", Type: "string_type"})
		}
	}
	if v, ok := fields["model"]; ok && !isNull(v) {
		var m string
		if json.Unmarshal(v, &m) != nil || m != model {
			errs = append(errs, detail{Loc: []any{"body", "model"}, Msg: fmt.Sprintf("model must be absent or %q (the path's)", model), Type: "value_error"})
		}
	}
	_, chat := fields["messages"]
	_, prompt := fields["prompt"]
	endpoint := EndpointCompletions
	switch {
	case chat && prompt:
		errs = append(errs, detail{Loc: []any{"body"}, Msg: "give messages (chat) or prompt (completions), not both", Type: "value_error"})
	case chat:
		endpoint = EndpointChat
	case !prompt:
		errs = append(errs, detail{Loc: []any{"body", "messages"}, Msg: "messages (chat) or prompt (completions) is required", Type: "missing"})
	}
	if len(errs) > 0 {
		return nil, "", errs
	}
	for _, f := range jobFields {
		delete(fields, f)
	}
	fields["model"], _ = json.Marshal(model)
	if v, ok := fields["seed"]; !ok || isNull(v) {
		fields["seed"], _ = json.Marshal(s.cfg.Seed())
	}
	return fields, endpoint, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func checkWebhookURL(raw string) []detail {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return []detail{{Loc: []any{"body", "webhook_url"}, Msg: "webhook_url must be an absolute http or https URL", Type: "url_parsing"}}
	}
	return nil
}

// get answers GET /v1/jobs/{id}.
func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	o, _, err := s.lookup(r.Context(), principalFrom(r).Tenant, r.PathValue("id"))
	if err != nil {
		s.writeLookupError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// cancel answers DELETE /v1/jobs/{id}: an unfinished job is cancelled; a
// finished one is answered as it is.
func (s *Service) cancel(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	id := r.PathValue("id")
	if j, ok := s.cancelJob(p.Tenant, id); ok {
		t := time.NewTimer(10 * time.Second)
		select {
		case <-j.done:
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	s.get(w, r)
}

// list answers GET /v1/jobs?limit=&after=&status=: newest first, after
// the cursor a previous page gave.
func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeValidation(w, []detail{{Loc: []any{"query", "limit"}, Msg: "limit must be an integer in [1, 100]", Type: "value_error"}})
			return
		}
		limit = n
	}
	var before int64
	if v := q.Get("after"); v != "" {
		var err error
		if before, err = decodeCursor(v); err != nil {
			writeValidation(w, []detail{{Loc: []any{"query", "after"}, Msg: "after is not a cursor this API gave", Type: "value_error"}})
			return
		}
	}
	status := strings.ToUpper(q.Get("status"))
	if status != "" && !final(status) && status != Pending && status != Queued && status != Processing && status != Streaming {
		writeValidation(w, []detail{{Loc: []any{"query", "status"}, Msg: "status must be a job state", Type: "enum"}})
		return
	}
	rows, err := s.db.Jobs(r.Context(), store.JobFilter{Tenant: p.Tenant, Before: before, Limit: limit + 1, Status: status})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
		return
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	page := struct {
		Object  string      `json:"object"`
		Data    []jobObject `json:"data"`
		HasMore bool        `json:"has_more"`
		Next    *string     `json:"next_cursor"`
	}{Object: "list", Data: make([]jobObject, 0, len(rows)), HasMore: more}
	s.mu.Lock()
	for _, rec := range rows {
		if j := s.jobs[rec.ID]; j != nil {
			page.Data = append(page.Data, s.jobObject(j.rec, j.texts()))
		} else {
			page.Data = append(page.Data, s.jobObject(rec, nil))
		}
	}
	s.mu.Unlock()
	if more {
		c := encodeCursor(rows[len(rows)-1].Seq)
		page.Next = &c
	}
	writeJSON(w, http.StatusOK, page)
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("jobs:" + strconv.FormatInt(seq, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, err
	}
	v, ok := strings.CutPrefix(string(b), "jobs:")
	if !ok {
		return 0, errors.New("bad cursor")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, errors.New("bad cursor")
	}
	return n, nil
}

// detail is one validation error in the jobs API's 422 shape.
type detail struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

func writeValidation(w http.ResponseWriter, d []detail) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": d})
}

// writeCheckFailure answers a request the endpoint refused: its
// validation errors as 422 details, other errors (404 model, 403 tier,
// 503) as the endpoint answered them.
func writeCheckFailure(w http.ResponseWriter, reply Reply) {
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
		} `json:"error"`
	}
	_ = json.Unmarshal(reply.Body, &e)
	if reply.Status == http.StatusBadRequest || reply.Status == http.StatusUnprocessableEntity {
		loc := []any{"body"}
		if e.Error.Param != nil && *e.Error.Param != "" {
			loc = append(loc, *e.Error.Param)
		}
		typ := "value_error"
		switch {
		case strings.Contains(e.Error.Message, ": expected "):
			typ = "type_error"
		case strings.Contains(e.Error.Message, "is required"):
			typ = "missing"
		case strings.Contains(e.Error.Message, "malformed JSON"):
			typ = "json_invalid"
		}
		writeValidation(w, []detail{{Loc: loc, Msg: e.Error.Message, Type: typ}})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.Status)
	_, _ = w.Write(reply.Body)
}

func (s *Service) writeSubmitError(w http.ResponseWriter, p admission.Principal, err error) {
	switch {
	case errors.Is(err, errQueueFull):
		retry := max(1, int(p.Tier.RetryAfter.Seconds()))
		if p.Tier.RetryAfter == 0 {
			retry = 5
		}
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{"message": err.Error(),
			"type": "job_queue_exceeded", "param": nil, "code": http.StatusTooManyRequests, "retry_after": retry}})
	case errors.Is(err, errDraining):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "service_unavailable", "", err.Error())
	default:
		s.log.Error("jobs: submit failed", "tenant", p.Tenant, "err", err)
		writeError(w, http.StatusInternalServerError, "internal_error", "", "the job could not be stored")
	}
}

func (s *Service) writeLookupError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "not_found", "no job "+r.PathValue("id"))
		return
	}
	writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
}

// errorJSON is an OpenAI-shaped error body.
func errorJSON(typ, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
	return b
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	var c any
	if code != "" {
		c = code
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": c}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
