package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/cpu"
	cudabackend "github.com/sotasystems/sota/backend/cuda"
	"github.com/sotasystems/sota/gpu"
	"github.com/sotasystems/sota/model"
)

// Devices --device accepts.
const (
	deviceCPU  = "cpu"
	deviceCUDA = "cuda"
)

// backendOptions are the settings of every backend, parsed once from flags.
// The sizes in CPU (BlockSize, MaxModelLen, MaxBatchTokens, MaxSeqs) and its
// Progress apply to the CUDA backend too; the KV cache size does not (the
// GPU's comes from GPUMemoryUtilization).
type backendOptions struct {
	CPU cpu.Options

	CUDALibrary          string  // --cuda-lib: path of libsota_cuda.so; "" searches beside the binary and build/
	CUDADevice           int     // --cuda-device
	GPUMemoryUtilization float64 // --gpu-memory-utilization; 0 = 0.9

	// RandomWeights makes the CUDA backend generate the weights on the GPU
	// (the same values as model.Random(cfg, WeightsSeed)) instead of copying
	// the generated host tensors.
	RandomWeights bool
	WeightsSeed   uint64

	Logger *slog.Logger // nil: slog.Default()
}

// openBackend builds the backend for --device. For "cuda" it says which of
// the two is missing when it cannot run: the library (libsota_cuda.so, built
// by 'make cuda') or the GPU (no NVIDIA driver or device).
func openBackend(ctx context.Context, device string, m *model.Model, opts backendOptions) (backend.Backend, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	switch device {
	case deviceCPU, "":
		return cpu.New(m, opts.CPU)
	case deviceCUDA:
		return openCUDA(ctx, m, opts, logger)
	}
	return nil, fmt.Errorf("unknown device %q (want %s or %s)", device, deviceCPU, deviceCUDA)
}

func openCUDA(ctx context.Context, m *model.Model, opts backendOptions, logger *slog.Logger) (backend.Backend, error) {
	co := cudabackend.Options{
		Library: opts.CUDALibrary, Device: opts.CUDADevice, GPUMemoryUtilization: opts.GPUMemoryUtilization,
		BlockSize: opts.CPU.BlockSize, MaxBatchTokens: opts.CPU.MaxBatchTokens, MaxSeqs: opts.CPU.MaxSeqs,
		MaxModelLen: opts.CPU.MaxModelLen, RandomWeights: opts.RandomWeights, RandomSeed: opts.WeightsSeed,
		Progress: opts.CPU.Progress,
	}
	be, err := cudabackend.New(ctx, m, co)
	switch {
	case err == nil:
		d, g := be.Device(), be.Geometry()
		logger.Info("cuda backend", "gpu", d.Name, "compute_capability", fmt.Sprintf("%d.%d", d.Major, d.Minor),
			"memory_gib", float64(d.TotalMemory)/(1<<30), "kv_blocks", g.NumBlocks, "block_size", g.BlockSize)
		gpu.LogStartup(logger)
		return be, nil
	case errors.Is(err, cudabackend.ErrLibraryNotFound):
		if _, gerr := gpu.Probe(); gerr != nil {
			return nil, fmt.Errorf("--device cuda: %w; and %v", err, gerr)
		}
		return nil, fmt.Errorf("--device cuda: an NVIDIA GPU is present but %w", err)
	case errors.Is(err, cudabackend.ErrNoGPU):
		return nil, fmt.Errorf("--device cuda: the CUDA library loaded but %w", err)
	}
	return nil, fmt.Errorf("--device cuda: %w", err)
}
