package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/metrics"
	"github.com/sotasystems/sota/server/openai"
)

// observeFlags set what serve reports: Prometheus metrics, access logs,
// the periodic engine stats line and OpenTelemetry traces.
type observeFlags struct {
	Metrics            bool          `help:"Serve Prometheus metrics on GET /metrics of the API port (no API key needed, like vLLM)." default:"true" negatable:"" env:"SOTA_METRICS"`
	MetricsCompat      string        `help:"vllm: also export the vLLM-named metrics under vllm: (what the Kubernetes Gateway API Inference Extension and vLLM dashboards scrape); none: only sota:." enum:"none,vllm" default:"none" env:"SOTA_METRICS_COMPAT"`
	MetricsToken       string        `help:"Require 'Authorization: Bearer TOKEN' on /metrics (unset: open)." env:"SOTA_METRICS_TOKEN" placeholder:"TOKEN"`
	AccessLog          bool          `help:"Log one Info line per API request (request id, tenant, model, status, finish reason, tokens, queue time, TTFT, duration; never prompt or output text)." default:"true" negatable:"" env:"SOTA_ACCESS_LOG"`
	StatsInterval      time.Duration `help:"Log an engine stats line (running, waiting, KV-cache usage, prefix-cache hit rate, tokens/s) this often after activity; 0: never." default:"10s" env:"SOTA_STATS_INTERVAL"`
	OTLPTracesEndpoint string        `name:"otlp-traces-endpoint" help:"Export one trace per request (admission, queue, prefill and decode spans; W3C traceparent honoured) over OTLP/HTTP to this collector, e.g. http://localhost:4318; unset: no tracing." env:"SOTA_OTLP_TRACES_ENDPOINT" placeholder:"URL"`
}

// observability is serve's metrics registry and tracer, built from the flags.
type observability struct {
	f      *observeFlags
	rc     *runContext
	reg    *metrics.Registry // nil: metrics off
	tp     *sdktrace.TracerProvider
	ctx    context.Context
	cancel context.CancelFunc
}

func (f *observeFlags) setup(rc *runContext) (*observability, error) {
	o := &observability{f: f, rc: rc}
	o.ctx, o.cancel = context.WithCancel(rc.ctx)
	if f.StatsInterval < 0 {
		return nil, fmt.Errorf("--stats-interval %v: must be >= 0", f.StatsInterval)
	}
	if f.MetricsToken != "" && !f.Metrics {
		return nil, errors.New("--metrics-token needs the metrics on")
	}
	if f.Metrics {
		reg, err := metrics.New(metrics.Options{Compat: f.MetricsCompat, Version: version})
		if err != nil {
			return nil, err
		}
		o.reg = reg
	}
	if f.OTLPTracesEndpoint != "" {
		tp, err := newTracerProvider(rc.ctx, f.OTLPTracesEndpoint)
		if err != nil {
			return nil, err
		}
		o.tp = tp
	}
	return o, nil
}

// newTracerProvider exports batches of spans over OTLP/HTTP to endpoint
// (a URL; a bare host:port means http).
func newTracerProvider(ctx context.Context, endpoint string) (*sdktrace.TracerProvider, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--otlp-traces-endpoint %q: want http(s)://HOST:PORT[/PATH]", endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if u.Path != "" && u.Path != "/" {
		opts = append(opts, otlptracehttp.WithURLPath(u.Path))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("--otlp-traces-endpoint: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "sota"), attribute.String("service.version", version))
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// engineObserver is the metrics observer for the engine of model name (nil
// with metrics off).
func (o *observability) engineObserver(name string, blockSize, numBlocks int) (engine.Observer, error) {
	if o.reg == nil {
		return nil, nil
	}
	m, err := o.reg.Engine(metrics.EngineOptions{Model: name, BlockSize: blockSize, NumBlocks: numBlocks})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// started wires a running engine's stats into the gauges and the stats line.
func (o *observability) started(name string, e *engine.Engine) {
	if o.reg != nil {
		o.reg.SetStats(name, e.Stats)
	}
	if o.f.StatsInterval > 0 {
		go metrics.StatsLog(o.ctx, o.rc.logger, name, o.f.StatsInterval, e.Stats)
	}
}

// server is the API server's observability.
func (o *observability) server(a admission.Admitter) openai.Observability {
	obs := openai.Observability{AccessLog: o.f.AccessLog}
	if o.reg != nil {
		obs.Metrics = o.reg.Server(a)
	}
	if o.tp != nil {
		obs.Tracer = o.tp.Tracer("github.com/sotasystems/sota/server/openai")
	}
	return obs
}

// mount serves /metrics beside h.
func (o *observability) mount(h http.Handler) http.Handler {
	if o.reg == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.reg.Handler(o.f.MetricsToken))
	mux.Handle("/", h)
	return mux
}

// close stops the stats line and flushes the traces.
func (o *observability) close() {
	o.cancel()
	if o.tp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.tp.Shutdown(ctx); err != nil {
			o.rc.logger.Warn("flushing traces", "err", err)
		}
	}
}
