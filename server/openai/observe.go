package openai

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/metrics"
)

// Observability is what the server reports about each API request; the
// zero value reports nothing and costs nothing.
type Observability struct {
	// Metrics counts requests by endpoint and status, admission rejections
	// and admission waits; nil: none.
	Metrics *metrics.Server
	// AccessLog logs one Info line per API request (never prompt or output
	// text).
	AccessLog bool
	// Tracer makes one span per API request, with admission, queue,
	// prefill and decode children, under the caller's W3C traceparent when
	// it sends one; nil: no traces.
	Tracer trace.Tracer
}

// observed is what a request's record keeps for its access log and trace.
type observed struct {
	asked   time.Time        // when it asked admission for a slot (zero: it never did)
	streams []*engine.Stream // its engine requests
}

// track adds an engine request of the API request's.
func (rec *requestRecord) track(st *engine.Stream) {
	if rec == nil {
		return
	}
	rec.mu.Lock()
	rec.obs.streams = append(rec.obs.streams, st)
	rec.mu.Unlock()
}

// traceContext reads W3C traceparent and tracestate.
var traceContext = propagation.TraceContext{}

// observe reports a finished API request: metrics, the access-log line and
// the trace, as configured.
func (s *Server) observe(r *http.Request, rec *requestRecord) {
	o := &s.cfg.Observe
	if o.Metrics == nil && !o.AccessLog && o.Tracer == nil {
		return
	}
	end := s.cfg.Now()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	status := rec.sw.status
	if status == 0 {
		status = 499 // the client went away before any byte
	}
	endpoint := r.Pattern // the route, not the path: bounded label values
	if _, path, ok := strings.Cut(endpoint, " "); ok {
		endpoint = path // "POST /v1/x" → "/v1/x"
	}
	if endpoint == "" {
		endpoint = r.URL.Path
	}
	if m := o.Metrics; m != nil {
		m.Request(endpoint, status)
		if reason := metrics.RejectReason(status); reason != "" && !rec.admitted {
			m.Rejected(reason)
		}
		if rec.admitted && s.cfg.Admission != nil {
			m.AdmissionWait(rec.queued.Seconds())
		}
	}
	var traceID string
	if o.Tracer != nil {
		traceID = s.trace(r, rec, endpoint, status, end)
	}
	if !o.AccessLog || !s.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	ttft := 0.0
	if !rec.firstToken.IsZero() {
		ttft = ms(rec.firstToken.Sub(rec.start))
	}
	attrs := []slog.Attr{
		slog.String("req", r.Header.Get("X-Request-Id")),
		slog.String("tenant", rec.principal.Tenant),
		slog.String("model", rec.model),
		slog.String("method", r.Method),
		slog.String("endpoint", r.URL.Path),
		slog.Int("status", status),
		slog.String("finish", string(rec.finish())),
		slog.Int("prompt_tokens", rec.usage.PromptTokens),
		slog.Int("completion_tokens", rec.usage.CompletionTokens),
		slog.Float64("queue_ms", ms(rec.queued)),
		slog.Float64("ttft_ms", ttft),
		slog.Float64("duration_ms", ms(end.Sub(rec.start))),
	}
	if rec.usage.PromptTokensDetails != nil && rec.usage.PromptTokensDetails.CachedTokens > 0 {
		attrs = append(attrs, slog.Int("cached_tokens", rec.usage.PromptTokensDetails.CachedTokens))
	}
	if rec.principal.KeyID != "" {
		attrs = append(attrs, slog.String("key", rec.principal.KeyID))
	}
	if rec.admitted || (s.cfg.Admission == nil && rec.model != "") {
		attrs = append(attrs, slog.String("priority", rec.class.String()))
	}
	if traceID != "" {
		attrs = append(attrs, slog.String("trace_id", traceID))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// finish is the request's finish reason: its first engine request's ("" when
// it made none). Call with rec.mu held, after the handler returned: an
// engine request still running then is being aborted (the handler cancelled
// it on its way out, and the engine has not yet taken the message).
func (rec *requestRecord) finish() engine.FinishReason {
	if len(rec.obs.streams) == 0 {
		return ""
	}
	if f := rec.obs.streams[0].FinishReason(); f != "" {
		return f
	}
	return engine.FinishAbort
}

// trace exports the request's span tree, built from the timestamps the
// record and its engine requests kept, and returns its trace id. Call with
// rec.mu held.
func (s *Server) trace(r *http.Request, rec *requestRecord, endpoint string, status int, end time.Time) string {
	ctx := traceContext.Extract(context.Background(), propagation.HeaderCarrier(r.Header))
	tr := s.cfg.Observe.Tracer
	ctx, root := tr.Start(ctx, r.Method+" "+endpoint, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(rec.start))
	root.SetAttributes(
		attribute.String("http.request.method", r.Method),
		attribute.String("http.route", endpoint),
		attribute.Int("http.response.status_code", status),
		attribute.String("sota.request_id", r.Header.Get("X-Request-Id")),
		attribute.String("sota.tenant", rec.principal.Tenant),
		attribute.String("gen_ai.request.model", rec.model),
		attribute.Int("gen_ai.usage.input_tokens", rec.usage.PromptTokens),
		attribute.Int("gen_ai.usage.output_tokens", rec.usage.CompletionTokens),
	)
	if f := rec.finish(); f != "" {
		root.SetAttributes(attribute.String("gen_ai.response.finish_reasons", string(f)))
	}
	if !rec.firstToken.IsZero() {
		root.SetAttributes(attribute.Float64("gen_ai.latency.time_to_first_token", rec.firstToken.Sub(rec.start).Seconds()))
	}
	if status >= 500 {
		root.SetStatus(codes.Error, http.StatusText(status))
	}
	child := func(name string, from, to time.Time, attrs ...attribute.KeyValue) {
		if from.IsZero() || to.IsZero() {
			return
		}
		_, sp := tr.Start(ctx, name, trace.WithTimestamp(from), trace.WithAttributes(attrs...))
		sp.End(trace.WithTimestamp(to))
	}
	if !rec.obs.asked.IsZero() {
		result := "admitted"
		if !rec.admitted {
			result = metrics.RejectReason(status)
		}
		child("admission", rec.obs.asked, rec.obs.asked.Add(rec.queued), attribute.String("sota.admission", result))
	}
	for i, st := range rec.obs.streams {
		t := st.Timings()
		finish := st.FinishReason()
		if t.Finished.IsZero() { // being aborted (see finish)
			t.Finished, finish = end, engine.FinishAbort
		}
		var attrs []attribute.KeyValue
		if len(rec.obs.streams) > 1 {
			attrs = append(attrs, attribute.Int("sota.prompt_index", i))
		}
		queued := t.Scheduled
		if queued.IsZero() {
			queued = t.Finished // it ended in the queue
		}
		child("queue", t.Arrival, queued, attrs...)
		child("prefill", t.Scheduled, t.FirstToken, attrs...)
		child("decode", t.FirstToken, t.Finished, append(attrs, attribute.String("sota.finish_reason", string(finish)))...)
	}
	root.End(trace.WithTimestamp(end))
	return root.SpanContext().TraceID().String()
}
