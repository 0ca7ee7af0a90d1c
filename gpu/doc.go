// Package gpu reads NVIDIA GPU telemetry through NVML (github.com/NVIDIA/go-nvml):
// device name, memory, utilisation, power, temperature and SM clock, for the
// startup log and, later, the GPU gauges on /metrics.
//
// NVML is dlopened by go-nvml, so nothing here needs a GPU to build or run:
// without a driver (or in a binary built with CGO_ENABLED=0) Probe fails
// softly with ErrNoGPU, and LogStartup logs a notice instead of failing.
//
// Concurrency: Probe may be called from any goroutine; each call initialises
// and shuts down NVML (reference-counted by go-nvml). It starts no goroutine.
package gpu
