package openai

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/metrics"
)

// BenchmarkObserveRequest is what a finished API request costs the server
// in metrics and its access-log line (text, to a discarding writer), with
// tracing off.
func BenchmarkObserveRequest(b *testing.B) {
	reg, err := metrics.New(metrics.Options{NoGPU: true, NoRuntime: true})
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil)), cfg: Config{Now: time.Now,
		Observe: Observability{Metrics: reg.Server(nil), AccessLog: true}}}
	r := httptest.NewRequest("POST", "/v1/completions", nil)
	r.Pattern = "/v1/completions"
	r.Header.Set("X-Request-Id", "0123456789abcdef01234567")
	t0 := time.Now()
	rec := &requestRecord{start: t0, now: time.Now, sw: &statusWriter{status: http.StatusOK},
		principal: admission.Principal{Tenant: "default"}, model: "stories260k", admitted: true,
		queued: time.Millisecond, firstToken: t0.Add(20 * time.Millisecond)}
	rec.usage.PromptTokens, rec.usage.CompletionTokens = 76, 64
	b.ReportAllocs()
	for b.Loop() {
		s.observe(r, rec)
	}
}
