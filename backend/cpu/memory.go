package cpu

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/model"
)

// checkMemory refuses a model whose weights (in format f, the bytes the
// backend will hold) plus KV cache exceed the memory available, so a
// too-large model fails with a message instead of being killed by the kernel
// halfway through loading.
func checkMemory(cfg *model.Config, g backend.Geometry, f WeightFormat, available int64) error {
	if available < 0 {
		return nil
	}
	if available == 0 {
		available = memAvailable()
		if available == 0 {
			return nil
		}
	}
	weights := weightBytes(cfg, f)
	kv := int64(g.NumBlocks) * kvBytesPerBlock(cfg.NumLayers, g.BlockSize, cfg.NumKVHeads, cfg.HeadDim)
	if need := weights + kv; need > available {
		return fmt.Errorf("cpu backend: %w: %s weights (%s) and KV cache (%s) need %s, %s available",
			ErrOutOfMemory, f, gib(weights), gib(kv), gib(need), gib(available))
	}
	return nil
}

func gib(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30)) }

// memAvailable reads MemAvailable from /proc/meminfo; 0 when unknown.
func memAvailable() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemAvailable:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
