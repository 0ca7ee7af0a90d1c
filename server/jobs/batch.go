package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sotasystems/sota/store"
)

// Batch states (OpenAI's names).
const (
	batchInProgress = "in_progress"
	batchFinalizing = "finalizing"
	batchCompleted  = "completed"
	batchFailed     = "failed"
	batchCancelling = "cancelling"
	batchCancelled  = "cancelled"
)

// batchObject is OpenAI's Batch.
type batchObject struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	Endpoint         string          `json:"endpoint"`
	Errors           *batchErrors    `json:"errors"`
	InputFileID      string          `json:"input_file_id"`
	CompletionWindow string          `json:"completion_window"`
	Status           string          `json:"status"`
	OutputFileID     *string         `json:"output_file_id"`
	ErrorFileID      *string         `json:"error_file_id"`
	CreatedAt        int64           `json:"created_at"`
	InProgressAt     *int64          `json:"in_progress_at"`
	ExpiresAt        *int64          `json:"expires_at"`
	FinalizingAt     *int64          `json:"finalizing_at"`
	CompletedAt      *int64          `json:"completed_at"`
	FailedAt         *int64          `json:"failed_at"`
	ExpiredAt        *int64          `json:"expired_at"`
	CancellingAt     *int64          `json:"cancelling_at"`
	CancelledAt      *int64          `json:"cancelled_at"`
	RequestCounts    requestCounts   `json:"request_counts"`
	Metadata         json.RawMessage `json:"metadata"`
}

type requestCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

type batchErrors struct {
	Object string       `json:"object"`
	Data   []batchError `json:"data"`
}

type batchError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
	Line    *int    `json:"line"`
}

// liveBatch is an unfinished batch in memory.
type liveBatch struct {
	tenant     string
	obj        batchObject
	remaining  int // unfinished jobs
	finalizing bool
}

// batches runs the OpenAI Batch API over the jobs: each input line is a
// job; when the last ends, the output and error files are written.
type batches struct {
	s    *Service
	live map[string]*liveBatch // under Service.mu
}

func newBatches(s *Service) *batches { return &batches{s: s, live: map[string]*liveBatch{}} }

// load reads the unfinished batches (before the jobs are recovered).
func (b *batches) load(ctx context.Context) error {
	rows, err := b.s.db.BatchesIn(ctx, batchInProgress, batchFinalizing, batchCancelling)
	if err != nil {
		return err
	}
	for _, row := range rows {
		lb := &liveBatch{tenant: row.Tenant}
		if err := json.Unmarshal(row.Object, &lb.obj); err != nil {
			return fmt.Errorf("batch %s: %w", row.ID, err)
		}
		counts, err := b.s.db.BatchCounts(ctx, row.Tenant, row.ID)
		if err != nil {
			return err
		}
		lb.obj.RequestCounts.Completed = counts[Finished]
		lb.obj.RequestCounts.Failed = counts[Failed] + counts[Timeout] + counts[Cancelled]
		b.live[row.ID] = lb
	}
	return nil
}

// finalizeIdle finalizes loaded batches none of whose jobs is left.
func (b *batches) finalizeIdle() {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	for _, lb := range b.live {
		if lb.remaining == 0 && !lb.finalizing {
			b.startFinalize(lb)
		}
	}
}

// track notes an unfinished job of a batch; under Service.mu.
func (b *batches) track(j *job) {
	if lb := b.live[j.rec.BatchID]; j.rec.BatchID != "" && lb != nil {
		lb.remaining++
	}
}

// jobDone notes a batch job's end; under Service.mu.
func (b *batches) jobDone(j *job) {
	lb := b.live[j.rec.BatchID]
	if j.rec.BatchID == "" || lb == nil {
		return
	}
	lb.remaining--
	if j.rec.Status == Finished {
		lb.obj.RequestCounts.Completed++
	} else {
		lb.obj.RequestCounts.Failed++
	}
	if lb.remaining == 0 && !lb.finalizing {
		b.startFinalize(lb)
	}
}

// startFinalize writes the batch's files in the background; under mu.
func (b *batches) startFinalize(lb *liveBatch) {
	lb.finalizing = true
	b.s.wg.Add(1)
	go func() {
		defer b.s.wg.Done()
		if err := b.finalize(lb); err != nil && b.s.ctx.Err() == nil {
			b.s.log.Error("jobs: batch not finalized", "batch", lb.obj.ID, "err", err)
		}
	}()
}

// finalize writes the output file (the lines that succeeded) and the error
// file (the others), in input order, and completes the batch.
func (b *batches) finalize(lb *liveBatch) error {
	ctx := b.s.ctx
	b.s.mu.Lock()
	obj := lb.obj
	b.s.mu.Unlock()
	now := b.s.cfg.Now().Unix()
	if obj.Status != batchCancelling {
		obj.Status, obj.FinalizingAt = batchFinalizing, &now
		if err := b.put(ctx, lb.tenant, obj); err != nil {
			return err
		}
	}
	var out, errs bytes.Buffer
	counts := requestCounts{Total: obj.RequestCounts.Total}
	for after := int64(0); ; {
		rows, err := b.s.db.Jobs(ctx, store.JobFilter{Tenant: lb.tenant, BatchID: obj.ID, After: after, Limit: 1000})
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		for _, rec := range rows {
			after = rec.Seq
			line := map[string]any{"id": "batch_req_" + strings.TrimPrefix(rec.ID, "job_"), "custom_id": rec.CustomID,
				"response": map[string]any{"status_code": rec.ResultStatus, "request_id": rec.ID, "body": json.RawMessage(nonEmpty(rec.Result))},
				"error":    nil}
			dst := &errs
			if rec.Status == Finished {
				dst = &out
				counts.Completed++
			} else {
				counts.Failed++
				if rec.Status != Failed {
					line["error"] = map[string]string{"code": "batch_" + strings.ToLower(rec.Status), "message": "the request " + strings.ToLower(rec.Status)}
				}
			}
			b, _ := json.Marshal(line)
			dst.Write(b)
			dst.WriteByte('\n')
		}
	}
	for _, f := range []struct {
		buf  *bytes.Buffer
		name string
		id   **string
	}{{&out, "output", &obj.OutputFileID}, {&errs, "error", &obj.ErrorFileID}} {
		if f.buf.Len() == 0 {
			continue
		}
		id := newJobID("file-")
		if err := b.s.db.PutFile(ctx, store.File{ID: id, Tenant: lb.tenant, Purpose: "batch_output",
			Filename: obj.ID + "_" + f.name + ".jsonl", Data: f.buf.Bytes(), Created: b.s.cfg.Now()}); err != nil {
			return err
		}
		*f.id = &id
	}
	obj.RequestCounts = counts
	done := b.s.cfg.Now().Unix()
	if obj.Status == batchCancelling {
		obj.Status, obj.CancelledAt = batchCancelled, &done
	} else {
		obj.Status, obj.CompletedAt = batchCompleted, &done
	}
	if err := b.put(ctx, lb.tenant, obj); err != nil {
		return err
	}
	b.s.mu.Lock()
	delete(b.live, obj.ID)
	b.s.mu.Unlock()
	return nil
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}

func (b *batches) put(ctx context.Context, tenant string, obj batchObject) error {
	data, _ := json.Marshal(obj)
	return b.s.db.PutBatch(ctx, store.Batch{ID: obj.ID, Tenant: tenant, Status: obj.Status, Object: data})
}

func (b *batches) mount(mux *http.ServeMux) {
	s := b.s
	mux.HandleFunc("POST /v1/files", s.apiLimit(s.cfg.MaxFileBytes+1<<20, b.uploadFile))
	mux.HandleFunc("GET /v1/files", s.api(b.listFiles))
	mux.HandleFunc("GET /v1/files/{id}", s.api(b.getFile))
	mux.HandleFunc("GET /v1/files/{id}/content", s.api(b.fileContent))
	mux.HandleFunc("DELETE /v1/files/{id}", s.api(b.deleteFile))
	mux.HandleFunc("POST /v1/batches", s.api(b.create))
	mux.HandleFunc("GET /v1/batches", s.api(b.list))
	mux.HandleFunc("GET /v1/batches/{id}", s.api(b.get))
	mux.HandleFunc("POST /v1/batches/{id}/cancel", s.api(b.cancel))
}

// batchLine is one request of a batch's input file.
type batchLine struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// create answers POST /v1/batches: every input line becomes a job.
func (b *batches) create(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	var req struct {
		InputFileID      string          `json:"input_file_id"`
		Endpoint         string          `json:"endpoint"`
		CompletionWindow string          `json:"completion_window"`
		Metadata         json.RawMessage `json:"metadata"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		invalidParam(w, http.StatusBadRequest, "", "malformed JSON body: "+err.Error())
		return
	}
	switch {
	case req.Endpoint != EndpointChat && req.Endpoint != EndpointCompletions:
		invalidParam(w, http.StatusBadRequest, "endpoint", "endpoint must be /v1/chat/completions or /v1/completions")
		return
	case req.CompletionWindow != "24h":
		invalidParam(w, http.StatusBadRequest, "completion_window", "completion_window must be 24h")
		return
	}
	f, err := b.s.db.File(r.Context(), p.Tenant, req.InputFileID, true)
	if err != nil {
		invalidParam(w, http.StatusBadRequest, "input_file_id", "no file "+req.InputFileID)
		return
	}
	now := b.s.cfg.Now()
	created, expires := now.Unix(), now.Add(b.s.cfg.Timeout).Unix()
	obj := batchObject{ID: newJobID("batch_"), Object: "batch", Endpoint: req.Endpoint, InputFileID: req.InputFileID,
		CompletionWindow: req.CompletionWindow, Status: batchInProgress, CreatedAt: created, InProgressAt: &created,
		ExpiresAt: &expires, Metadata: req.Metadata}
	if isNull(obj.Metadata) {
		obj.Metadata = nil
	}
	recs, lineErrs := b.parse(f.Data, req.Endpoint, obj.ID)
	if len(lineErrs) > 0 {
		obj.Status, obj.FailedAt, obj.InProgressAt, obj.ExpiresAt = batchFailed, &created, nil, nil
		obj.Errors = &batchErrors{Object: "list", Data: lineErrs}
		if err := b.put(r.Context(), p.Tenant, obj); err != nil {
			writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, obj)
		return
	}
	obj.RequestCounts.Total = len(recs)
	if q := b.s.queueFor(p); len(recs) > q {
		b.s.writeSubmitError(w, p, fmt.Errorf("%w: the batch has %d requests, the tenant's job queue holds %d", errQueueFull, len(recs), q))
		return
	}
	if err := b.put(r.Context(), p.Tenant, obj); err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
		return
	}
	b.s.mu.Lock()
	b.live[obj.ID] = &liveBatch{tenant: p.Tenant, obj: obj}
	b.s.mu.Unlock()
	if _, err := b.s.submit(r.Context(), p, recs); err != nil {
		b.s.mu.Lock()
		delete(b.live, obj.ID)
		b.s.mu.Unlock()
		obj.Status, obj.FailedAt, obj.InProgressAt = batchFailed, &created, nil
		msg := err.Error()
		obj.Errors = &batchErrors{Object: "list", Data: []batchError{{Code: "submit_failed", Message: msg}}}
		_ = b.put(context.WithoutCancel(r.Context()), p.Tenant, obj)
		b.s.writeSubmitError(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, b.view(obj))
}

// parse turns an input file into jobs, or the lines' errors.
func (b *batches) parse(data []byte, endpoint, batchID string) ([]store.Job, []batchError) {
	var recs []store.Job
	var errs []batchError
	seen := map[string]bool{}
	fail := func(n int, code, param, msg string) {
		if len(errs) < 100 {
			line := n
			e := batchError{Code: code, Message: msg, Line: &line}
			if param != "" {
				e.Param = &param
			}
			errs = append(errs, e)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var l batchLine
		if err := json.Unmarshal(raw, &l); err != nil {
			fail(n, "invalid_json_line", "", "line is not a JSON object: "+err.Error())
			continue
		}
		var fields map[string]json.RawMessage
		switch {
		case l.CustomID == "":
			fail(n, "missing_required_parameter", "custom_id", "custom_id is required")
		case seen[l.CustomID]:
			fail(n, "duplicate_custom_id", "custom_id", "custom_id "+l.CustomID+" is used twice")
		case l.Method != "POST":
			fail(n, "invalid_method", "method", "method must be POST")
		case l.URL != endpoint:
			fail(n, "mismatched_endpoint", "url", fmt.Sprintf("url %q is not the batch's endpoint %s", l.URL, endpoint))
		case json.Unmarshal(l.Body, &fields) != nil || fields == nil:
			fail(n, "invalid_request", "body", "body must be a JSON object")
		}
		if len(errs) > 0 || fields == nil {
			seen[l.CustomID] = true
			continue
		}
		seen[l.CustomID] = true
		var model string
		_ = json.Unmarshal(fields["model"], &model)
		delete(fields, "stream")
		delete(fields, "stream_options")
		if v, ok := fields["seed"]; !ok || isNull(v) {
			fields["seed"], _ = json.Marshal(b.s.cfg.Seed())
		}
		body, _ := json.Marshal(fields)
		recs = append(recs, store.Job{ID: newJobID("job_"), Model: model, Endpoint: endpoint, Body: body,
			BatchID: batchID, CustomID: l.CustomID})
	}
	if err := sc.Err(); err != nil {
		fail(n+1, "invalid_file", "", err.Error())
	}
	if len(errs) == 0 && len(recs) == 0 {
		fail(0, "empty_file", "input_file_id", "the input file has no requests")
	}
	if len(recs) > b.s.cfg.BatchLines {
		fail(0, "too_many_requests", "input_file_id", fmt.Sprintf("a batch holds at most %d requests", b.s.cfg.BatchLines))
	}
	return recs, errs
}

// view is a batch with its live counts (unfinished batches are in memory).
func (b *batches) view(obj batchObject) batchObject {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if lb := b.live[obj.ID]; lb != nil {
		return lb.obj
	}
	return obj
}

func (b *batches) load1(r *http.Request) (batchObject, error) {
	row, err := b.s.db.Batch(r.Context(), principalFrom(r).Tenant, r.PathValue("id"))
	if err != nil {
		return batchObject{}, err
	}
	var obj batchObject
	if err := json.Unmarshal(row.Object, &obj); err != nil {
		return batchObject{}, err
	}
	return b.view(obj), nil
}

func (b *batches) get(w http.ResponseWriter, r *http.Request) {
	obj, err := b.load1(r)
	if err != nil {
		b.notFound(w, "batch", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

// cancel answers POST /v1/batches/{id}/cancel: its unfinished requests are
// cancelled; the batch ends cancelled, with files of what had finished.
func (b *batches) cancel(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	obj, err := b.load1(r)
	if err != nil {
		b.notFound(w, "batch", r.PathValue("id"))
		return
	}
	b.s.mu.Lock()
	lb := b.live[obj.ID]
	var ids []string
	if lb != nil && lb.obj.Status == batchInProgress {
		now := b.s.cfg.Now().Unix()
		lb.obj.Status, lb.obj.CancellingAt = batchCancelling, &now
		obj = lb.obj
		for id, j := range b.s.jobs {
			if j.rec.BatchID == obj.ID {
				ids = append(ids, id)
			}
		}
	}
	b.s.mu.Unlock()
	if lb == nil {
		writeJSON(w, http.StatusOK, obj)
		return
	}
	if err := b.put(r.Context(), p.Tenant, obj); err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
		return
	}
	for _, id := range ids {
		b.s.cancelJob(p.Tenant, id)
	}
	writeJSON(w, http.StatusOK, b.view(obj))
}

func (b *batches) list(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			invalidParam(w, http.StatusBadRequest, "limit", "limit must be an integer in [1, 100]")
			return
		}
		limit = n
	}
	rows, err := b.s.db.Batches(r.Context(), principalFrom(r).Tenant, r.URL.Query().Get("after"), limit+1)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
		return
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	data := make([]batchObject, 0, len(rows))
	for _, row := range rows {
		var obj batchObject
		if json.Unmarshal(row.Object, &obj) == nil {
			data = append(data, b.view(obj))
		}
	}
	page := map[string]any{"object": "list", "data": data, "has_more": more, "first_id": nil, "last_id": nil}
	if len(data) > 0 {
		page["first_id"], page["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}
