package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/metrics"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

// fakeAdmitter admits at once, reporting a fixed wait, or rejects with a
// full queue while reject is set; its Snapshot is a fixed tenant list.
type fakeAdmitter struct {
	wait    time.Duration
	reject  atomic.Bool
	tenants []admission.TenantState
}

func (a *fakeAdmitter) Admit(ctx context.Context, r admission.Request) (*admission.Ticket, error) {
	if a.reject.Load() {
		return nil, &admission.Rejection{Err: admission.ErrQueueFull, Tenant: r.Tenant, Limits: r.Limits, RetryAfter: time.Second}
	}
	return admission.NewTicket(func() {}, a.wait, r.Limits, 1), nil
}

func (a *fakeAdmitter) Snapshot() []admission.TenantState { return a.tenants }

// syncBuffer is a log destination safe from the handlers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type observedServer struct {
	*testServer
	reg   *metrics.Registry
	logs  *syncBuffer
	adm   *fakeAdmitter
	spans *tracetest.InMemoryExporter
}

// newObservedServer serves the demo tokenizer on a fake backend of
// geometry g, with metrics, a JSON access log, traces into memory and the
// fake admitter.
func newObservedServer(t *testing.T, g backend.Geometry, stepDelay time.Duration) *observedServer {
	t.Helper()
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := metrics.New(metrics.Options{Version: "test", NoGPU: true, NoRuntime: true, TopTenants: 3})
	if err != nil {
		t.Fatal(err)
	}
	g.VocabSize = tok.VocabSize()
	be := fake.New(g)
	be.CheckKV = true
	be.StepDelay = stepDelay
	obsEng, err := reg.Engine(metrics.EngineOptions{Model: "stories", BlockSize: g.BlockSize, NumBlocks: g.NumBlocks - 1})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(be, engine.Config{EOSTokenIDs: []int32{2}, EnablePrefixCaching: true, Logger: quiet, Observer: obsEng})
	if err != nil {
		t.Fatal(err)
	}
	reg.SetStats("stories", eng.Stats)
	tmpl, err := tokenizer.NewTemplate(map[string]string{"default": plainTemplate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{Name: "stories", Engine: eng, Tokenizer: tok, Template: tmpl, Defaults: sample.Defaults()}
	logs := &syncBuffer{}
	adm := &fakeAdmitter{wait: 5 * time.Millisecond}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	srv, err := New(Config{Models: []*Model{m}, Version: "test", Admission: adm,
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Observe: Observability{Metrics: reg.Server(adm), AccessLog: true, Tracer: tp.Tracer("test")}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler(""))
	mux.Handle("/", srv.Handler())
	hs := httptest.NewServer(mux)
	ts := &testServer{t: t, tok: tok, be: be, eng: eng, srv: srv, http: hs, model: m}
	t.Cleanup(func() {
		hs.Close()
		ts.assertIdle()
		eng.Close()
		_ = tp.Shutdown(context.Background())
	})
	return &observedServer{testServer: ts, reg: reg, logs: logs, adm: adm, spans: spans}
}

// scrape fetches /metrics and parses it with Prometheus's text parser.
func (os *observedServer) scrape() map[string]*dto.MetricFamily {
	os.t.Helper()
	code, body := os.get("/metrics")
	if code != http.StatusOK {
		os.t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		os.t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	return fams
}

// value finds the metric of family name whose labels include want
// (name=value pairs) and returns its counter or gauge value, or for a
// histogram its count and sum.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) (v, sum float64) {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), 0
		case m.Gauge != nil:
			return m.Gauge.GetValue(), 0
		case m.Histogram != nil:
			h := m.Histogram
			// The buckets are cumulative and end with the count.
			if b := h.Bucket; len(b) > 0 && b[len(b)-1].GetCumulativeCount() > h.GetSampleCount() {
				t.Errorf("%s: bucket count above the sample count", name)
			}
			return float64(h.GetSampleCount()), h.GetSampleSum()
		}
	}
	t.Fatalf("no metric %s with labels %v", name, want)
	return 0, 0
}

// completion posts a non-streamed /v1/completions and returns its usage.
func (os *observedServer) completion(body string, header ...string) (int, usage) {
	os.t.Helper()
	code, resp, _ := os.post("/v1/completions", body, header...)
	var out struct{ Usage usage }
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(resp), &out); err != nil {
			os.t.Fatal(err)
		}
	}
	return code, out.Usage
}

// A scripted mix — streams that preempt each other on a small KV cache,
// plain successes, a client that leaves mid-stream, 400s before and at the
// engine, a 429 from admission — leaves every counter and histogram count
// at exactly its expected value.
func TestMetricsCountAScriptedMix(t *testing.T) {
	// 19 usable blocks of 4 tokens: two 45-token sequences cannot both fit.
	os := newObservedServer(t, backend.Geometry{BlockSize: 4, NumBlocks: 20, MaxModelLen: 64, MaxBatchTokens: 64, MaxSeqs: 8},
		time.Millisecond)
	ids := func(n, first int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprint(first + i)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	promptTokens, okTokens, ok := 0, 0, 0

	// Six concurrent streams of 40 tokens on a cache that holds one and a half.
	var wg sync.WaitGroup
	results := make(chan int, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, _ := os.post("/v1/completions", `{"prompt":`+ids(5, 10+i*7)+`,"max_tokens":40,"ignore_eos":true,"stream":true}`)
			if !strings.HasSuffix(body, "data: [DONE]\n\n") {
				code = -code
			}
			results <- code
		}()
	}
	wg.Wait()
	close(results)
	for code := range results {
		if code != http.StatusOK {
			t.Fatalf("stream: status %d (negative: no [DONE])", code)
		}
	}
	promptTokens, okTokens, ok = promptTokens+6*5, okTokens+6*40, ok+6

	// Two plain successes, one of text (its words must stay out of the log).
	for _, body := range []string{`{"prompt":` + ids(3, 40) + `,"max_tokens":3,"ignore_eos":true}`,
		`{"prompt":"zebra whispers secretly","max_tokens":2,"ignore_eos":true}`} {
		code, u := os.completion(body)
		if code != http.StatusOK {
			t.Fatalf("completion: %d", code)
		}
		promptTokens, okTokens, ok = promptTokens+u.PromptTokens, okTokens+u.CompletionTokens, ok+1
	}

	// A client that leaves after the first token of a long stream.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", os.http.URL+"/v1/completions",
		strings.NewReader(`{"prompt":`+ids(4, 60)+`,"max_tokens":59,"ignore_eos":true,"stream":true}`))
	req.Header.Set("X-Request-Id", "leaver")
	resp, err := os.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	promptTokens += 4
	waitFor(t, func() bool {
		return os.eng.Stats().Running == 0 && strings.Contains(os.logs.String(), `"req":"leaver"`)
	})

	// 400s: bad JSON (before admission), a bad parameter and a prompt
	// beyond the context (after admission, never in the engine).
	for _, body := range []string{`{"prompt":`, `{"prompt":[3,4],"temperature":-1}`, `{"prompt":[3,4],"max_tokens":500}`} {
		if code, _ := os.completion(body); code != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", body, code)
		}
	}
	// A 429 from admission.
	os.adm.reject.Store(true)
	if code, _ := os.completion(`{"prompt":[3,4]}`); code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", code)
	}
	os.adm.reject.Store(false)

	st := os.eng.Stats()
	if st.Preemptions == 0 {
		t.Fatal("no preemption: the cache is not small enough to test it")
	}
	f := os.scrape()
	m := []string{"model_name", "stories"}
	aborted := int(st.GenerationTokens) - okTokens
	if aborted < 1 {
		t.Fatalf("the leaving client's request generated %d tokens", aborted)
	}
	requests := ok + 1
	exact := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sota:request_success_total", append(m, "finished_reason", "length"), float64(ok)},
		{"sota:request_success_total", append(m, "finished_reason", "abort"), 1},
		{"sota:request_success_total", append(m, "finished_reason", "stop"), 0},
		{"sota:request_success_total", append(m, "finished_reason", "error"), 0},
		{"sota:prompt_tokens_total", m, float64(promptTokens)},
		{"sota:generation_tokens_total", m, float64(st.GenerationTokens)},
		{"sota:num_preemptions_total", m, float64(st.Preemptions)},
		{"sota:prefix_cache_queries_total", m, float64(st.PrefixQueriedTokens)},
		{"sota:prefix_cache_hits_total", m, float64(st.PrefixHitTokens)},
		{"sota:num_requests_running", m, 0},
		{"sota:num_requests_waiting", m, 0},
		{"sota:engine_healthy", m, 1},
		{"sota:time_to_first_token_seconds", m, float64(requests)},
		{"sota:e2e_request_latency_seconds", m, float64(requests)},
		{"sota:request_queue_time_seconds", m, float64(requests)},
		{"sota:request_prefill_time_seconds", m, float64(requests)},
		{"sota:request_decode_time_seconds", m, float64(requests)},
		{"sota:request_inference_time_seconds", m, float64(requests)},
		{"sota:request_prompt_tokens", m, float64(requests)},
		{"sota:request_generation_tokens", m, float64(requests)},
		// n = 1: every token after a request's first is one inter-token gap.
		{"sota:inter_token_latency_seconds", m, float64(int(st.GenerationTokens) - requests)},
		{"sota:iteration_tokens_total", m, float64(st.Steps)},
		{"sota:engine_step_batch_size", m, float64(st.Steps)},
		{"sota:http_requests_total", []string{"endpoint", "/v1/completions", "code", "200"}, float64(requests)},
		{"sota:http_requests_total", []string{"endpoint", "/v1/completions", "code", "400"}, 3},
		{"sota:http_requests_total", []string{"endpoint", "/v1/completions", "code", "429"}, 1},
		{"sota:admission_rejected_total", []string{"reason", "queue_full"}, 1},
		{"sota:admission_rejected_total", []string{"reason", "queue_timeout"}, 0},
		// Admitted: the successes, the leaver and the two 400s after admission.
		{"sota:admission_wait_seconds", nil, float64(requests + 2)},
		{"sota:build_info", []string{"version", "test"}, 1},
		{"sota:cache_config_info", append(m, "block_size", "4", "num_gpu_blocks", "19"), 1},
	}
	for _, c := range exact {
		if got, _ := value(t, f, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, sum := value(t, f, "sota:request_prompt_tokens", m...); sum != float64(promptTokens) {
		t.Errorf("request_prompt_tokens sum %v, want %d", sum, promptTokens)
	}
	if _, sum := value(t, f, "sota:request_generation_tokens", m...); sum != float64(st.GenerationTokens) {
		t.Errorf("request_generation_tokens sum %v, want %d", sum, st.GenerationTokens)
	}
	bs := os.be.Stats()
	if n, sum := value(t, f, "sota:iteration_tokens_total", m...); sum != float64(bs.Tokens) || n != float64(bs.Steps) {
		t.Errorf("iteration tokens: %v steps computing %v tokens, the backend saw %d and %d", n, sum, bs.Steps, bs.Tokens)
	}
	pre, _ := value(t, f, "sota:engine_step_duration_seconds", append(m, "phase", "prefill")...)
	dec, _ := value(t, f, "sota:engine_step_duration_seconds", append(m, "phase", "decode")...)
	if pre+dec != float64(st.Steps) || pre == 0 || dec == 0 {
		t.Errorf("step durations: %v prefill + %v decode, want %d steps of both kinds", pre, dec, st.Steps)
	}
	if _, sum := value(t, f, "sota:admission_wait_seconds"); sum < 0.005*float64(requests+2)-1e-9 || sum > 0.005*float64(requests+2)+1e-9 {
		t.Errorf("admission wait sum %v, want %d × 5 ms", sum, requests+2)
	}
	if f["vllm:num_requests_waiting"] != nil {
		t.Error("vllm: names exported without --metrics-compat vllm")
	}

	// The access log: one line per API request (the 400 of bad JSON and
	// the 429 included), fields set, no prompt text.
	logs := os.logs.String()
	if strings.Contains(logs, "zebra") || strings.Contains(logs, "whispers") {
		t.Errorf("prompt text in the Info log:\n%s", logs)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if v["msg"] == "request" {
			lines = append(lines, v)
		}
	}
	if want := requests + 3 + 1; len(lines) != want {
		t.Fatalf("%d access-log lines, want %d:\n%s", len(lines), want, logs)
	}
	var leaver map[string]any
	for _, l := range lines {
		for _, k := range []string{"req", "tenant", "model", "status", "finish", "prompt_tokens", "completion_tokens", "queue_ms", "ttft_ms", "duration_ms"} {
			if _, ok := l[k]; !ok {
				t.Errorf("access-log line without %s: %v", k, l)
			}
		}
		if l["req"] == "leaver" {
			leaver = l
		}
	}
	if leaver == nil || leaver["finish"] != "abort" || leaver["tenant"] != "default" || leaver["model"] != "stories" ||
		leaver["queue_ms"] != 5.0 || leaver["ttft_ms"].(float64) <= 0 || leaver["level"] != "INFO" {
		t.Errorf("the leaving client's line: %v", leaver)
	}
	ok200 := 0
	for _, l := range lines {
		if l["status"] == 200.0 && l["finish"] == "length" && l["completion_tokens"].(float64) > 0 {
			ok200++
		}
	}
	if ok200 != ok {
		t.Errorf("%d access-log lines of finished 200s, want %d", ok200, ok)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
	}
}

// The per-tenant gauges keep the top tenants and add the rest up as other;
// --metrics-compat vllm adds the vllm: copies.
func TestMetricsTenantsAndCompat(t *testing.T) {
	reg, err := metrics.New(metrics.Options{Compat: "vllm", NoGPU: true, NoRuntime: true, TopTenants: 2})
	if err != nil {
		t.Fatal(err)
	}
	adm := &fakeAdmitter{tenants: []admission.TenantState{{Tenant: "a", Running: 1}, {Tenant: "b", Running: 3, Queued: 2},
		{Tenant: "c", Running: 2}, {Tenant: "d", Queued: 1}, {Tenant: "other", Running: 4}}}
	reg.Server(adm)
	if _, err := reg.Engine(metrics.EngineOptions{Model: "m", Stats: func() engine.Stats {
		return engine.Stats{KVUsage: 0.25}
	}}); err != nil {
		t.Fatal(err)
	}
	rr := httptest.NewRecorder()
	reg.Handler("").ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	f, err := p.TextToMetricFamilies(rr.Body)
	if err != nil {
		t.Fatal(err)
	}
	// Busiest: "other" (4, folded), b (5), c (2); then a, d, other → other.
	for tenant, want := range map[string][2]float64{"b": {3, 2}, "c": {2, 0}, "other": {1 + 4, 1}} {
		run, _ := value(t, f, "sota:tenant_streams_active", "tenant", tenant)
		q, _ := value(t, f, "sota:tenant_queue_depth", "tenant", tenant)
		if run != want[0] || q != want[1] {
			t.Errorf("tenant %s: %v running %v queued, want %v", tenant, run, q, want)
		}
	}
	if n := len(f["sota:tenant_streams_active"].Metric); n != 3 {
		t.Errorf("%d tenant series, want 3 (top 2 + other)", n)
	}
	for _, name := range []string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sota:kv_cache_usage_perc"} {
		if v, _ := value(t, f, name, "model_name", "m"); v != 0.25 {
			t.Errorf("%s = %v, want 0.25", name, v)
		}
	}
	for _, name := range []string{"vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:lora_requests_info",
		"vllm:e2e_request_latency_seconds", "vllm:request_success_total"} {
		if f[name] == nil {
			t.Errorf("no %s with --metrics-compat vllm", name)
		}
	}
	if f["vllm:tenant_streams_active"] != nil || f["vllm:admission_rejected_total"] != nil {
		t.Error("sota's own metrics copied under vllm:")
	}

	// The bearer token.
	h := reg.Handler("s3cret")
	for auth, want := range map[string]int{"": 401, "Bearer nope": 401, "Bearer s3cret": 200} {
		rr := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(rr, req)
		if rr.Code != want {
			t.Errorf("Authorization %q: %d, want %d", auth, rr.Code, want)
		}
	}
	_, _ = io.Copy(io.Discard, rr.Body)
}

// One span per request under the caller's traceparent, with admission,
// queue, prefill and decode children in order.
func TestTraceSpanTree(t *testing.T) {
	os := newObservedServer(t, backend.Geometry{BlockSize: 16, NumBlocks: 64, MaxModelLen: 256}, time.Millisecond)
	os.adm.wait = 0
	const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	code, _ := os.completion(`{"prompt":[5,6,7],"max_tokens":4,"ignore_eos":true}`,
		"traceparent", "00-"+traceID+"-"+parent+"-01", "X-Request-Id", "traced")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if code, _ := os.completion(`{"prompt":[5,6],"max_tokens":2}`); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	spans := os.spans.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != traceID {
			if s.Name == "POST /v1/completions" {
				roots = append(roots, s)
			}
			continue
		}
		if _, dup := byName[s.Name]; dup {
			t.Errorf("two %q spans in the trace", s.Name)
		}
		byName[s.Name] = s
	}
	root, ok := byName["POST /v1/completions"]
	if !ok {
		t.Fatalf("no request span under the caller's trace; spans: %v", spans)
	}
	if got := root.Parent.SpanID().String(); got != parent || !root.Parent.IsRemote() {
		t.Errorf("request span's parent %s (remote %v), want the caller's %s", got, root.Parent.IsRemote(), parent)
	}
	attrs := map[string]string{}
	for _, a := range root.Attributes {
		attrs[string(a.Key)] = a.Value.String()
	}
	if attrs["sota.request_id"] != "traced" || attrs["http.response.status_code"] != "200" || attrs["gen_ai.usage.output_tokens"] != "4" ||
		attrs["sota.tenant"] != "default" || attrs["gen_ai.response.finish_reasons"] != "length" {
		t.Errorf("request span attributes %v", attrs)
	}
	order := []string{"admission", "queue", "prefill", "decode"}
	for i, name := range order {
		s, ok := byName[name]
		if !ok {
			t.Fatalf("no %s span", name)
		}
		if s.Parent.SpanID() != root.SpanContext.SpanID() {
			t.Errorf("%s span's parent is not the request span", name)
		}
		if s.StartTime.Before(root.StartTime) || s.EndTime.After(root.EndTime) || s.EndTime.Before(s.StartTime) {
			t.Errorf("%s span [%v, %v] outside the request's [%v, %v]", name, s.StartTime, s.EndTime, root.StartTime, root.EndTime)
		}
		if i > 1 && !s.StartTime.Equal(byName[order[i-1]].EndTime) {
			t.Errorf("%s does not start where %s ended", name, order[i-1])
		}
	}
	if !byName["queue"].StartTime.After(byName["admission"].EndTime) && !byName["queue"].StartTime.Equal(byName["admission"].EndTime) {
		t.Error("the engine queue starts before admission ended")
	}
	if len(byName) != 5 {
		t.Errorf("%d spans in the trace, want 5", len(byName))
	}
	// A request without traceparent starts its own trace.
	if len(roots) != 1 || roots[0].Parent.IsValid() {
		t.Errorf("untraced request: %d root spans (parent valid: %v), want 1 without a parent", len(roots), len(roots) == 1 && roots[0].Parent.IsValid())
	}
}
