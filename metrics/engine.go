package metrics

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sotasystems/sota/engine"
)

// Buckets, in seconds (and tokens). Every latency histogram resolves
// milliseconds at the low end, where streaming latencies live.
var (
	// LatencyBuckets are for per-request latencies (TTFT, E2E, queue,
	// prefill, decode): 1 ms to 10 minutes.
	LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1,
		0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300, 600}
	// StepBuckets are for inter-token latency and step times: 0.5 ms to 5 s,
	// dense around a decode step's 5–50 ms.
	StepBuckets = []float64{0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.0125, 0.015, 0.0175,
		0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5}
	// TokenBuckets are for token counts per request (1-2-5 steps).
	TokenBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000,
		200000, 500000, 1000000}
	// IterationBuckets are vLLM's for tokens per step.
	IterationBuckets = []float64{1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}
	// BatchBuckets are for sequences per step.
	BatchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}
)

// FinishReasons label sota:request_success_total.
var FinishReasons = []engine.FinishReason{engine.FinishStop, engine.FinishLength, engine.FinishAbort, engine.FinishError}

// engineVecs are the observed engine metrics, one child per model.
type engineVecs struct {
	promptTokens, generationTokens, success *prometheus.CounterVec

	ttft, itl, e2e, queue, prefill, decode, inference *prometheus.HistogramVec
	reqPrompt, reqGeneration, iterTokens, batch       *prometheus.HistogramVec
	stepTime                                          *prometheus.HistogramVec
}

func newEngineVecs(reg prometheus.Registerer) *engineVecs {
	model := []string{"model_name"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + name, Help: help}, append(model, labels...))
		reg.MustRegister(v)
		return v
	}
	hist := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: Prefix + name, Help: help, Buckets: buckets},
			append(model, labels...))
		reg.MustRegister(v)
		return v
	}
	return &engineVecs{
		promptTokens:     counter("prompt_tokens_total", "Prompt tokens of requests that got their first token (each prompt once, prefix-cache hits included)."),
		generationTokens: counter("generation_tokens_total", "Tokens generated (stop tokens included)."),
		success:          counter("request_success_total", "Requests that ended, by finish reason (stop, length, abort, error).", "finished_reason"),
		ttft:             hist("time_to_first_token_seconds", "Time from a request's arrival at the engine to its first token.", LatencyBuckets),
		itl:              hist("inter_token_latency_seconds", "Time between a request's consecutive steps that gave it tokens.", StepBuckets),
		e2e:              hist("e2e_request_latency_seconds", "Time from a request's arrival at the engine to its end.", LatencyBuckets),
		queue:            hist("request_queue_time_seconds", "Time a request waited in the engine's queue before its first step (admission's wait is sota:admission_wait_seconds).", LatencyBuckets),
		prefill:          hist("request_prefill_time_seconds", "Time from a request's first step to its first token.", LatencyBuckets),
		decode:           hist("request_decode_time_seconds", "Time from a request's first token to its end.", LatencyBuckets),
		inference:        hist("request_inference_time_seconds", "Time from a request's first step to its end.", LatencyBuckets),
		reqPrompt:        hist("request_prompt_tokens", "Prompt tokens per ended request.", TokenBuckets),
		reqGeneration:    hist("request_generation_tokens", "Generated tokens per ended request (all its sequences).", TokenBuckets),
		iterTokens:       hist("iteration_tokens_total", "Tokens computed per engine step.", IterationBuckets),
		batch:            hist("engine_step_batch_size", "Sequences per engine step.", BatchBuckets),
		stepTime:         hist("engine_step_duration_seconds", "Engine step time (schedule, forward, update), by phase: prefill when a prompt chunk ran, else decode.", StepBuckets, "phase"),
	}
}

// EngineOptions describe one engine for its metrics.
type EngineOptions struct {
	Model string // the model_name label
	// Stats reads the engine's snapshot at scrape time (engine.Engine.Stats).
	Stats func() engine.Stats
	// BlockSize and NumBlocks are the KV cache's, for sota:cache_config_info.
	BlockSize, NumBlocks int
}

// Engine is one engine's metrics; pass it as engine.Config.Observer.
type Engine struct {
	promptTokens, generationTokens prometheus.Counter
	success                        [4]prometheus.Counter // by FinishReasons
	ttft, itl, e2e, queue          prometheus.Observer
	prefill, decode, inference     prometheus.Observer
	reqPrompt, reqGeneration       prometheus.Observer
	iterTokens, batch              prometheus.Observer
	stepPrefill, stepDecode        prometheus.Observer
}

var _ engine.Observer = (*Engine)(nil)

// Engine registers the metrics of one engine (one model). Observe its
// steps and requests by passing the result as engine.Config.Observer; the
// gauges read opts.Stats, which may be set after the engine starts with
// SetStats.
func (r *Registry) Engine(opts EngineOptions) (*Engine, error) {
	if opts.Model == "" {
		return nil, fmt.Errorf("metrics: engine without a model name")
	}
	v, m := r.eng, opts.Model
	e := &Engine{
		promptTokens: v.promptTokens.WithLabelValues(m), generationTokens: v.generationTokens.WithLabelValues(m),
		ttft: v.ttft.WithLabelValues(m), itl: v.itl.WithLabelValues(m), e2e: v.e2e.WithLabelValues(m),
		queue: v.queue.WithLabelValues(m), prefill: v.prefill.WithLabelValues(m), decode: v.decode.WithLabelValues(m),
		inference: v.inference.WithLabelValues(m), reqPrompt: v.reqPrompt.WithLabelValues(m),
		reqGeneration: v.reqGeneration.WithLabelValues(m), iterTokens: v.iterTokens.WithLabelValues(m),
		batch: v.batch.WithLabelValues(m), stepPrefill: v.stepTime.WithLabelValues(m, "prefill"),
		stepDecode: v.stepTime.WithLabelValues(m, "decode"),
	}
	for i, reason := range FinishReasons {
		e.success[i] = v.success.WithLabelValues(m, string(reason))
	}
	if err := r.stats.add(opts); err != nil {
		return nil, err
	}
	return e, nil
}

// SetStats sets (or replaces) the stats source of model's gauges, for an
// engine built after its metrics.
func (r *Registry) SetStats(model string, stats func() engine.Stats) {
	r.stats.mu.Lock()
	defer r.stats.mu.Unlock()
	for _, s := range r.stats.engines {
		if s.opts.Model == model {
			s.opts.Stats = stats
		}
	}
}

// ObserveStep implements engine.Observer.
func (e *Engine) ObserveStep(s *engine.StepStats) {
	d := s.Duration.Seconds()
	if s.Prefill {
		e.stepPrefill.Observe(d)
	} else {
		e.stepDecode.Observe(d)
	}
	e.iterTokens.Observe(float64(s.Tokens))
	e.batch.Observe(float64(s.Seqs))
	if s.GenerationTokens > 0 {
		e.generationTokens.Add(float64(s.GenerationTokens))
	}
	if s.PromptTokens > 0 {
		e.promptTokens.Add(float64(s.PromptTokens))
	}
	for _, t := range s.TTFT {
		e.ttft.Observe(t.Seconds())
	}
	for _, t := range s.ITL {
		e.itl.Observe(t.Seconds())
	}
}

// ObserveRequest implements engine.Observer.
func (e *Engine) ObserveRequest(r *engine.RequestStats) {
	t := r.Timings
	for i, reason := range FinishReasons {
		if r.Finish == reason {
			e.success[i].Inc()
		}
	}
	e.e2e.Observe(t.Finished.Sub(t.Arrival).Seconds())
	e.reqPrompt.Observe(float64(r.Usage.PromptTokens))
	e.reqGeneration.Observe(float64(r.Usage.CompletionTokens))
	if t.Scheduled.IsZero() {
		return // ended in the queue
	}
	e.queue.Observe(t.Scheduled.Sub(t.Arrival).Seconds())
	e.inference.Observe(t.Finished.Sub(t.Scheduled).Seconds())
	if t.FirstToken.IsZero() {
		return
	}
	e.prefill.Observe(t.FirstToken.Sub(t.Scheduled).Seconds())
	e.decode.Observe(t.Finished.Sub(t.FirstToken).Seconds())
}

// statsCollector turns engines' Stats snapshots into gauges and counters
// at scrape time.
type statsCollector struct {
	lora bool // emit lora_requests_info (for vLLM's scrapers)
	now  func() time.Time

	mu      sync.Mutex
	engines []*engineStats
}

type engineStats struct {
	opts EngineOptions
	// Counters made monotonic across scheduler rebuilds: the latest value
	// read and what earlier lives of the scheduler had counted.
	last, base [4]int64
}

func (c *statsCollector) add(opts EngineOptions) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.engines {
		if s.opts.Model == opts.Model {
			return fmt.Errorf("metrics: model %q registered twice", opts.Model)
		}
	}
	c.engines = append(c.engines, &engineStats{opts: opts})
	return nil
}

var (
	descRunning = prometheus.NewDesc(Prefix+"num_requests_running", "Sequences in the engine's running batch.", []string{"model_name"}, nil)
	descWaiting = prometheus.NewDesc(Prefix+"num_requests_waiting", "Sequences waiting in the engine's queue (admission's queue is sota:tenant_queue_depth).", []string{"model_name"}, nil)
	descKVUsage = prometheus.NewDesc(Prefix+"kv_cache_usage_perc", "Fraction of KV-cache blocks in use (1 = full).", []string{"model_name"}, nil)
	descKVUsed  = prometheus.NewDesc(Prefix+"kv_cache_blocks_used", "KV-cache blocks in use.", []string{"model_name"}, nil)
	descKVTotal = prometheus.NewDesc(Prefix+"kv_cache_blocks_total", "KV-cache blocks.", []string{"model_name"}, nil)
	descHealthy = prometheus.NewDesc(Prefix+"engine_healthy", "1 while the engine serves normally, 0 after a failure made it unhealthy.", []string{"model_name"}, nil)
	descConfig  = prometheus.NewDesc(Prefix+"cache_config_info", "Always 1; the labels are the KV cache's geometry.", []string{"model_name", "block_size", "num_gpu_blocks"}, nil)
	descLoRA    = prometheus.NewDesc(Prefix+"lora_requests_info", "vLLM's LoRA adapters in use (sota serves none); the value is the scrape time.", []string{"model_name", "running_lora_adapters", "waiting_lora_adapters", "max_lora"}, nil)
	// Scheduler and pool counters, in engineStats.last order.
	descCounters = [4]*prometheus.Desc{
		prometheus.NewDesc(Prefix+"prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", []string{"model_name"}, nil),
		prometheus.NewDesc(Prefix+"prefix_cache_hits_total", "Prompt tokens found in the prefix cache.", []string{"model_name"}, nil),
		prometheus.NewDesc(Prefix+"num_preemptions_total", "Sequences preempted (their KV blocks freed, to be recomputed).", []string{"model_name"}, nil),
		prometheus.NewDesc(Prefix+"engine_failed_requests_total", "Requests failed by backend errors or engine panics.", []string{"model_name"}, nil),
	}
)

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRunning, descWaiting, descKVUsage, descKVUsed, descKVTotal, descHealthy, descConfig, descLoRA} {
		ch <- d
	}
	for _, d := range descCounters {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.engines {
		m := s.opts.Model
		if s.opts.BlockSize > 0 {
			ch <- prometheus.MustNewConstMetric(descConfig, prometheus.GaugeValue, 1, m,
				fmt.Sprint(s.opts.BlockSize), fmt.Sprint(s.opts.NumBlocks))
		}
		if c.lora {
			ch <- prometheus.MustNewConstMetric(descLoRA, prometheus.GaugeValue, float64(c.now().Unix()), m, "", "", "0")
		}
		if s.opts.Stats == nil {
			continue
		}
		st := s.opts.Stats()
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, m)
		}
		gauge(descRunning, float64(st.Running))
		gauge(descWaiting, float64(st.Waiting))
		gauge(descKVUsage, st.KVUsage)
		gauge(descKVUsed, float64(st.KVBlocksUsed))
		gauge(descKVTotal, float64(st.KVBlocksTotal))
		healthy := 0.0
		if st.Healthy {
			healthy = 1
		}
		gauge(descHealthy, healthy)
		for i, v := range [4]int64{st.PrefixQueriedTokens, st.PrefixHitTokens, st.Preemptions, st.Failed} {
			if v < s.last[i] { // the scheduler was rebuilt: carry what it had counted
				s.base[i] += s.last[i]
			}
			s.last[i] = v
			ch <- prometheus.MustNewConstMetric(descCounters[i], prometheus.CounterValue, float64(s.base[i]+v), m)
		}
	}
}
