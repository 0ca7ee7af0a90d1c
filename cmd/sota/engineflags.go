package main

import (
	"cmp"
	"fmt"
	"log/slog"

	"github.com/dustin/go-humanize"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/cpu"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/scheduler"
)

// engineFlags configure the KV cache and the scheduler; the names follow
// vLLM's where they mean the same.
type engineFlags struct {
	BlockSize           int    `help:"Tokens per KV-cache block." default:"16" env:"SOTA_BLOCK_SIZE"`
	NumKVBlocks         int    `name:"num-kv-blocks" help:"KV-cache blocks (0: as many as --kv-cache-memory holds)." default:"0" env:"SOTA_NUM_KV_BLOCKS"`
	KVCacheMemory       string `name:"kv-cache-memory" help:"KV-cache memory when --num-kv-blocks is 0, e.g. 512MiB, 4GiB (default: 1GiB, at most what --max-num-seqs full contexts need)." default:"" env:"SOTA_KV_CACHE_MEMORY"`
	MaxNumBatchedTokens int    `help:"Token budget of one step (prefill chunks and decodes together)." default:"2048" env:"SOTA_MAX_NUM_BATCHED_TOKENS"`
	MaxNumSeqs          int    `help:"Most sequences running at once." default:"256" env:"SOTA_MAX_NUM_SEQS"`
	EnablePrefixCaching bool   `help:"Reuse the KV cache of prompt prefixes a tenant has computed before." default:"true" negatable:"" env:"SOTA_ENABLE_PREFIX_CACHING"`
	SchedulingPolicy    string `help:"Order of waiting requests: fcfs, priority, or fair (fair share of tokens across tenants); auto: fair when serving API keys' tenants, else fcfs." enum:"auto,fcfs,priority,fair" default:"auto" env:"SOTA_SCHEDULING_POLICY"`
	LongPrefillTokens   int    `name:"long-prefill-token-threshold" help:"Cap on one prompt's chunk per step, so several prompts prefill together (0: the step budget)." default:"0" env:"SOTA_LONG_PREFILL_TOKEN_THRESHOLD"`

	// autoPolicy is what --scheduling-policy auto means for the command
	// ("" = fcfs); serve sets fair in multi-tenant mode.
	autoPolicy string
	// observer, when set, gets the next engine's measurements (metrics).
	observer engine.Observer
	// maxWaiting bounds the engine's waiting sequences (0: none); serve sets it.
	maxWaiting int
}

// cpuOptions turns the flags into CPU backend options.
func (f *engineFlags) cpuOptions(threads, maxModelLen int) (cpu.Options, error) {
	opts := cpu.Options{
		BlockSize: f.BlockSize, NumBlocks: f.NumKVBlocks, Threads: threads, MaxModelLen: maxModelLen,
		MaxBatchTokens: f.MaxNumBatchedTokens, MaxSeqs: f.MaxNumSeqs,
	}
	if f.BlockSize < 1 {
		return opts, fmt.Errorf("--block-size %d: must be positive", f.BlockSize)
	}
	if f.NumKVBlocks < 0 {
		return opts, fmt.Errorf("--num-kv-blocks %d: must be >= 0", f.NumKVBlocks)
	}
	if f.NumKVBlocks == 0 && f.KVCacheMemory != "" {
		n, err := humanize.ParseBytes(f.KVCacheMemory)
		if err != nil || n == 0 {
			return opts, fmt.Errorf("--kv-cache-memory %q: want a size such as 512MiB or 4GiB", f.KVCacheMemory)
		}
		opts.KVCacheBytes = int64(n)
	}
	if f.MaxNumBatchedTokens < 1 || f.MaxNumSeqs < 1 {
		return opts, fmt.Errorf("--max-num-batched-tokens (%d) and --max-num-seqs (%d) must be positive",
			f.MaxNumBatchedTokens, f.MaxNumSeqs)
	}
	return opts, nil
}

// newEngine starts the engine on be. maxModelLen 0 means the backend's.
func (f *engineFlags) newEngine(be backend.Backend, eos []int32, maxModelLen int, logger *slog.Logger) (*engine.Engine, error) {
	name := f.SchedulingPolicy
	if name == "auto" {
		name = cmp.Or(f.autoPolicy, "fcfs")
	}
	policy, err := scheduler.ParsePolicy(name)
	if err != nil {
		return nil, err
	}
	g := be.Geometry()
	cfg := engine.Config{
		MaxNumBatchedTokens: min(f.MaxNumBatchedTokens, g.MaxBatchTokens),
		MaxNumSeqs:          min(f.MaxNumSeqs, g.MaxSeqs),
		MaxModelLen:         maxModelLen,
		EOSTokenIDs:         eos,
		Policy:              policy,
		EnablePrefixCaching: f.EnablePrefixCaching,
		LongPrefillTokens:   f.LongPrefillTokens,
		MaxWaiting:          f.maxWaiting,
		Logger:              logger,
		Observer:            f.observer,
	}
	e, err := engine.New(be, cfg)
	if err != nil {
		return nil, err
	}
	logger.Debug("engine started", "kv_blocks", g.NumBlocks-1, "block_size", g.BlockSize,
		"max_model_len", e.MaxModelLen(), "max_num_batched_tokens", cfg.MaxNumBatchedTokens,
		"max_num_seqs", cfg.MaxNumSeqs, "prefix_caching", cfg.EnablePrefixCaching, "policy", policy)
	return e, nil
}
