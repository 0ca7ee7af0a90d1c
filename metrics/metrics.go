package metrics

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Prefix is the namespace of sota's own metric names.
const Prefix = "sota:"

// Options configure a Registry.
type Options struct {
	// Compat "vllm" also exports the vLLM metric names under vllm: (""
	// exports only sota:).
	Compat string
	// Version is the build's version, for sota:build_info.
	Version string
	// TopTenants is how many tenants get a label of their own in the
	// per-tenant gauges; the rest add up under "other" (default 20).
	TopTenants int
	// NoGPU leaves the NVML GPU gauges out (they are off by themselves
	// where there is no NVIDIA driver).
	NoGPU bool
	// NoRuntime leaves the Go runtime and process collectors out (tests).
	NoRuntime bool
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch o.Compat {
	case "", "none", "vllm":
	default:
		return fmt.Errorf("metrics compat %q: want vllm or none", o.Compat)
	}
	if o.TopTenants < 0 {
		return fmt.Errorf("top tenants %d: must be >= 0", o.TopTenants)
	}
	return nil
}

// Registry holds every collector of one process.
type Registry struct {
	opts  Options
	reg   *prometheus.Registry
	stats *statsCollector
	eng   *engineVecs

	mu     sync.Mutex
	server *Server
}

// New builds the registry with build info (and, unless opts say otherwise,
// the Go runtime, process and GPU collectors).
func New(opts Options) (*Registry, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.TopTenants == 0 {
		opts.TopTenants = 20
	}
	r := &Registry{opts: opts, reg: prometheus.NewRegistry(), stats: &statsCollector{lora: opts.Compat == "vllm", now: time.Now}}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: Prefix + "build_info",
		Help: "Always 1; the labels are the build's version and Go version."}, []string{"version", "go_version"})
	info.WithLabelValues(opts.Version, runtime.Version()).Set(1)
	r.reg.MustRegister(info, r.stats)
	r.eng = newEngineVecs(r.reg)
	if !opts.NoRuntime {
		r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if !opts.NoGPU {
		r.reg.MustRegister(newGPUCollector())
	}
	return r, nil
}

// Registerer is where other packages may add collectors of their own.
func (r *Registry) Registerer() prometheus.Registerer { return r.reg }

// Gatherer gathers every metric, with the vllm: copies when asked for.
func (r *Registry) Gatherer() prometheus.Gatherer {
	if r.opts.Compat != "vllm" {
		return r.reg
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		fams, err := r.reg.Gather()
		if err != nil {
			return fams, err
		}
		out := fams
		for _, f := range fams {
			name, ok := strings.CutPrefix(f.GetName(), Prefix)
			if !ok || !vllmNames[name] {
				continue
			}
			vname := "vllm:" + name
			out = append(out, &dto.MetricFamily{Name: &vname, Help: f.Help, Type: f.Type, Unit: f.Unit, Metric: f.Metric})
			if name == "kv_cache_usage_perc" { // the name vLLM used before 0.10, which older scrapers read
				old := "vllm:gpu_cache_usage_perc"
				out = append(out, &dto.MetricFamily{Name: &old, Help: f.Help, Type: f.Type, Unit: f.Unit, Metric: f.Metric})
			}
		}
		slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return out, nil
	})
}

// vllmNames are the metrics whose names and meaning are vLLM's (the rest
// are sota's own and have no vllm: copy).
var vllmNames = map[string]bool{
	"num_requests_running": true, "num_requests_waiting": true, "kv_cache_usage_perc": true,
	"prefix_cache_queries_total": true, "prefix_cache_hits_total": true, "num_preemptions_total": true,
	"prompt_tokens_total": true, "generation_tokens_total": true, "request_success_total": true,
	"time_to_first_token_seconds": true, "inter_token_latency_seconds": true, "e2e_request_latency_seconds": true,
	"request_queue_time_seconds": true, "request_prefill_time_seconds": true, "request_decode_time_seconds": true,
	"request_inference_time_seconds": true, "request_prompt_tokens": true, "request_generation_tokens": true,
	"iteration_tokens_total": true, "cache_config_info": true, "lora_requests_info": true,
}

// Handler serves the metrics in the Prometheus text format. A non-empty
// token requires "Authorization: Bearer <token>" (401 otherwise).
func (r *Registry) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(r.Gatherer(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	})
}
