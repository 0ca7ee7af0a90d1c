package cuda

import (
	"fmt"
	"os"
	"path/filepath"
)

// LibraryName is the file name of the native library.
const LibraryName = "libsota_cuda.so"

// DefaultGPUMemoryUtilization is vLLM's default share of GPU memory.
const DefaultGPUMemoryUtilization = 0.9

// Options size the backend. Zero values take the documented defaults.
type Options struct {
	// Library is the path of libsota_cuda.so; "" searches LibraryPaths("").
	Library string
	Device  int // CUDA device index; default 0

	// GPUMemoryUtilization is the share of the device's memory this model may
	// use, weights included; the KV cache takes what is left of it (default
	// 0.9). Ignored when NumBlocks is set.
	GPUMemoryUtilization float64
	BlockSize            int // tokens per KV block; default 16
	NumBlocks            int // KV blocks; default: from GPUMemoryUtilization, capped at MaxSeqs full contexts
	MaxBatchTokens       int // most tokens per Forward; default 2048
	MaxSeqs              int // most sequences per Forward; default 256
	MaxModelLen          int // longest context; default and upper bound: max_position_embeddings

	// RandomWeights generates every tensor on the device as
	// model.Random(cfg, RandomSeed) defines it, ignoring the model's tensors
	// (--random-weights without a trip through host memory).
	RandomWeights bool
	RandomSeed    uint64

	// Progress, if set, is called as weights are uploaded, with bytes done and in total.
	Progress func(done, total int64)
}

func (o *Options) validate() error {
	switch {
	case o.Device < 0:
		return fmt.Errorf("cuda backend: device %d, want >= 0", o.Device)
	case o.GPUMemoryUtilization < 0 || o.GPUMemoryUtilization > 1:
		return fmt.Errorf("cuda backend: gpu memory utilization %v, want in (0, 1]", o.GPUMemoryUtilization)
	case o.BlockSize < 0 || o.NumBlocks < 0 || o.MaxBatchTokens < 0 || o.MaxSeqs < 0 || o.MaxModelLen < 0:
		return fmt.Errorf("cuda backend: block size, blocks, batch tokens, sequences and model length must not be negative")
	case o.MaxBatchTokens > 65535 || o.MaxSeqs > 65535:
		return fmt.Errorf("cuda backend: at most 65535 batch tokens and sequences")
	}
	return nil
}

func (o *Options) cache() cacheOptions {
	c := cacheOptions{
		BlockSize: o.BlockSize, NumBlocks: o.NumBlocks, GPUMemoryUtilization: o.GPUMemoryUtilization,
		MaxBatchTokens: o.MaxBatchTokens, MaxSeqs: o.MaxSeqs, MaxModelLen: o.MaxModelLen,
	}
	if c.GPUMemoryUtilization == 0 {
		c.GPUMemoryUtilization = DefaultGPUMemoryUtilization
	}
	return c
}

// LibraryPaths lists where the library is looked for, in order: explicit
// alone when given; else beside the executable, in ../build and ../lib
// beside it (bin/sota of a checkout finds build/), in ./build, and finally
// the bare name for the dynamic loader's own search (LD_LIBRARY_PATH,
// ldconfig).
func LibraryPaths(explicit string) []string {
	if explicit != "" {
		return []string{explicit}
	}
	var paths []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dir := filepath.Dir(exe)
		paths = append(paths, filepath.Join(dir, LibraryName),
			filepath.Join(dir, "..", "build", LibraryName), filepath.Join(dir, "..", "lib", LibraryName))
	}
	if wd, err := os.Getwd(); err == nil {
		paths = append(paths, filepath.Join(wd, "build", LibraryName))
	}
	return append(paths, LibraryName)
}
