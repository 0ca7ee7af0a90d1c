package metrics

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/sotasystems/sota/engine"
)

// StatsLog logs one line per interval about an engine, like vLLM's "Avg
// prompt throughput …" line: running and waiting sequences, KV-cache
// usage, the prefix-cache hit rate and prompt and generation tokens per
// second over the interval. It logs only after an interval with activity
// (tokens computed, or sequences running or waiting), and returns when ctx
// ends.
func StatsLog(ctx context.Context, logger *slog.Logger, model string, interval time.Duration, stats func() engine.Stats) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	prev, at := stats(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur := stats()
			if line, ok := StatsLine(prev, cur, now.Sub(at)); ok {
				logger.LogAttrs(ctx, slog.LevelInfo, "engine stats", append([]slog.Attr{slog.String("model", model)}, line...)...)
			}
			prev, at = cur, now
		}
	}
}

// StatsLine is the stats line's fields for the interval from prev to cur
// (elapsed long); false when the engine was idle throughout.
func StatsLine(prev, cur engine.Stats, elapsed time.Duration) ([]slog.Attr, bool) {
	prompt := cur.PromptTokens - prev.PromptTokens
	gen := cur.GenerationTokens - prev.GenerationTokens
	if prompt < 0 || gen < 0 { // the scheduler was rebuilt
		prompt, gen = cur.PromptTokens, cur.GenerationTokens
	}
	if prompt == 0 && gen == 0 && cur.Running == 0 && cur.Waiting == 0 {
		return nil, false
	}
	secs := elapsed.Seconds()
	hitRate := 0.0
	if q := cur.PrefixQueriedTokens - prev.PrefixQueriedTokens; q > 0 {
		hitRate = float64(cur.PrefixHitTokens-prev.PrefixHitTokens) / float64(q)
	}
	round := func(v float64) float64 { return math.Round(v*10) / 10 }
	return []slog.Attr{
		slog.Float64("prompt_tokens_per_s", round(float64(prompt)/secs)),
		slog.Float64("generation_tokens_per_s", round(float64(gen)/secs)),
		slog.Int("running", cur.Running),
		slog.Int("waiting", cur.Waiting),
		slog.Float64("kv_cache_usage_pct", round(cur.KVUsage*100)),
		slog.Float64("prefix_cache_hit_rate_pct", round(hitRate*100)),
		slog.Int64("preemptions", cur.Preemptions-prev.Preemptions),
	}, true
}
