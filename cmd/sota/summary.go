package main

import (
	"fmt"
	"log/slog"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/cpu"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
)

// modelSummary is what vLLM's startup lines tell about a loaded model, as
// log attributes: the model id and where it came from, its architecture,
// parameters and weight dtype, the device and kernels, the KV cache in
// blocks, tokens and bytes, the longest context and how many requests of
// that length fit at once.
func modelSummary(name string, src modelSource, l *loaded, be backend.Backend, eng *engine.Engine, device string) []any {
	cfg := &l.m.Config
	g := be.Geometry()
	blocks := g.NumBlocks - 1 // block 0 is the engine's null block
	tokens := blocks * g.BlockSize
	maxLen := eng.MaxModelLen()
	kvBytes := int64(tokens) * int64(2*cfg.NumLayers*cfg.NumKVHeads*cfg.HeadDim) * int64(dtypeSize(g.KVDType))
	source := src.Dir
	if source == "" {
		source = "built-in"
	}
	attrs := []any{
		"model", name, "source", source, "arch", cfg.Architecture, "params", humanCount(cfg.NumParams()),
		"weights_dtype", weightsDType(src, l), "device", deviceName(device, be), "kernels", kernelsOf(be),
	}
	if c, ok := be.(*cpu.Backend); ok {
		// What the weights take in the CPU's own format, not the checkpoint's.
		attrs = append(attrs, "weights_memory", fmt.Sprintf("%.2f GiB %s", float64(c.WeightBytes())/(1<<30), c.WeightFormat()))
	}
	attrs = append(attrs, "kv_blocks", blocks, "block_size", g.BlockSize, "kv_tokens", tokens)
	if _, isFake := be.(*fake.Backend); !isFake {
		attrs = append(attrs, "kv_cache", fmt.Sprintf("%.2f GiB %s", float64(kvBytes)/(1<<30), g.KVDType))
	}
	attrs = append(attrs, "max_model_len", maxLen,
		"max_concurrency", fmt.Sprintf("%.2fx at %d tokens", float64(tokens)/float64(max(maxLen, 1)), maxLen),
		"max_num_seqs", eng.SchedulerConfig().MaxNumSeqs)
	return attrs
}

// storedDType is the checkpoint's weight dtype: its embedding's (F32, BF16,
// F16), or the config's torch_dtype for generated weights.
func storedDType(l *loaded) string {
	if e := l.m.Weights.Embed; e != nil && !e.Generated() {
		return string(e.DType)
	}
	return l.m.Config.TorchDType
}

// weightsDType is how the checkpoint stores the weights (the backend's own
// format is in kernels and weights_memory).
func weightsDType(src modelSource, l *loaded) string {
	stored := storedDType(l)
	switch {
	case src.RandomWeights:
		stored = "random"
	case src.MetaOnly && src.Dir != "":
		return stored + " (not read: fake backend)"
	}
	return stored
}

func deviceName(device string, be backend.Backend) string {
	switch be.(type) {
	case *cpu.Backend:
		return "cpu"
	case *fake.Backend:
		return "none (fake backend)"
	}
	return device
}

func kernelsOf(be backend.Backend) string {
	if c, ok := be.(*cpu.Backend); ok {
		return c.Kernels() + " weights, float32 accumulation"
	}
	if _, ok := be.(*fake.Backend); ok {
		return "none"
	}
	return "cuda (bf16, cuBLASLt)"
}

func dtypeSize(d backend.DType) int {
	switch d {
	case backend.F16, backend.BF16:
		return 2
	}
	return 4
}

// humanCount prints a parameter count as vLLM and Hugging Face do: 494.03M, 8.03B.
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// logModelReady logs the summary at Info.
func logModelReady(logger *slog.Logger, attrs ...any) {
	logger.Info("model ready", attrs...)
}
