// Package metrics owns sota's Prometheus collectors: the engine's (vLLM's
// metric names under the sota: prefix, labelled model_name), the server's
// (admission rejections, per-tenant streams and queues with bounded
// cardinality, requests by endpoint and status), build info, the Go runtime
// and process, and NVIDIA GPUs through NVML when present. Handler serves
// them in the Prometheus text format; with Options.Compat "vllm" the vLLM
// names are exported a second time under vllm:, for scrapers that know only
// those (the Kubernetes Gateway API Inference Extension).
//
// Cost: the engine's gauges and scheduler counters are read from
// engine.Stats at scrape time; what must be seen per step or per request
// (token counts, latencies) arrives through engine.Observer on the engine's
// loop goroutine and costs a few atomic adds each (client_golang's
// histograms and counters are lock-free); a step allocates nothing. The
// vllm: copies are made at scrape time, not observed twice.
//
// Concurrency: everything here is safe from any goroutine. Counters read
// from engine.Stats stay monotonic when the engine rebuilds its scheduler
// after a panic (which restarts them from zero).
package metrics
