package metrics

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/gpu"
	"github.com/sotasystems/sota/scheduler"
)

// Counters read from engine.Stats never go down, also when the engine
// rebuilt its scheduler (after a panic) and its counts restarted from zero.
func TestStatsCountersStayMonotonic(t *testing.T) {
	reg, err := New(Options{NoGPU: true, NoRuntime: true})
	if err != nil {
		t.Fatal(err)
	}
	st := engine.Stats{Stats: scheduler.Stats{Preemptions: 7}, PrefixQueriedTokens: 100, PrefixHitTokens: 40}
	if _, err := reg.Engine(EngineOptions{Model: "m", Stats: func() engine.Stats { return st }}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Engine(EngineOptions{Model: "m"}); err == nil {
		t.Error("a model registered twice")
	}
	read := func(name string) float64 {
		t.Helper()
		fams, err := reg.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == name {
				return f.Metric[0].Counter.GetValue()
			}
		}
		t.Fatalf("no %s", name)
		return 0
	}
	if got := read("sota:num_preemptions_total"); got != 7 {
		t.Fatalf("preemptions %v, want 7", got)
	}
	st.Preemptions, st.PrefixQueriedTokens = 2, 10 // a fresh scheduler and pool
	if got := read("sota:num_preemptions_total"); got != 9 {
		t.Errorf("preemptions after a rebuild %v, want 7 + 2", got)
	}
	if got := read("sota:prefix_cache_queries_total"); got != 110 {
		t.Errorf("prefix queries after a rebuild %v, want 100 + 10", got)
	}
	st.Preemptions = 5
	if got := read("sota:num_preemptions_total"); got != 12 {
		t.Errorf("preemptions %v, want 7 + 5", got)
	}
}

func TestStatsLine(t *testing.T) {
	idle := engine.Stats{Stats: scheduler.Stats{PromptTokens: 50, GenerationTokens: 80}}
	if _, ok := StatsLine(idle, idle, 10*time.Second); ok {
		t.Error("a line for an idle interval")
	}
	cur := engine.Stats{Stats: scheduler.Stats{PromptTokens: 150, GenerationTokens: 1080, Running: 3, Waiting: 1, Preemptions: 2},
		KVUsage: 0.5, PrefixQueriedTokens: 200, PrefixHitTokens: 50}
	attrs, ok := StatsLine(idle, cur, 10*time.Second)
	if !ok {
		t.Fatal("no line after activity")
	}
	got := map[string]string{}
	for _, a := range attrs {
		got[a.Key] = a.Value.String()
	}
	want := map[string]string{"prompt_tokens_per_s": "10", "generation_tokens_per_s": "100", "running": "3", "waiting": "1",
		"kv_cache_usage_pct": "50", "prefix_cache_hit_rate_pct": "25", "preemptions": "2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("line %v, want %v", got, want)
	}
}

// Without a driver the GPU collector reports nothing and stops probing; with
// devices it reports their gauges.
func TestGPUCollector(t *testing.T) {
	calls := 0
	c := &gpuCollector{probe: func() ([]gpu.Device, error) {
		calls++
		return nil, fmt.Errorf("%w: test", gpu.ErrNoGPU)
	}}
	for range 3 {
		if n := testutil.CollectAndCount(c); n != 0 {
			t.Errorf("%d metrics without a GPU", n)
		}
	}
	if calls != 1 {
		t.Errorf("probed %d times without a GPU, want once", calls)
	}
	c = &gpuCollector{probe: func() ([]gpu.Device, error) {
		return []gpu.Device{{Index: 0, Name: "H200", UUID: "GPU-1", MemoryUsed: 1 << 30, UtilizationGPU: 75, SMClockMHz: 1980}}, nil
	}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 8 {
		t.Errorf("%d GPU metrics (err %v), want 8", n, err)
	}
	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == Prefix+"gpu_utilization_ratio" && f.Metric[0].Gauge.GetValue() != 0.75 {
			t.Errorf("utilization %v, want 0.75", f.Metric[0].Gauge.GetValue())
		}
	}
	c = &gpuCollector{probe: func() ([]gpu.Device, error) { return nil, errors.New("device lost") }}
	if n := testutil.CollectAndCount(c); n != 0 || c.none {
		t.Errorf("a transient NVML error: %d metrics, gave up %v", n, c.none)
	}
}

// The whole registry passes client_golang's pedantic consistency checks.
func TestRegistryIsConsistent(t *testing.T) {
	reg, err := New(Options{Compat: "vllm", NoGPU: true, NoRuntime: true})
	if err != nil {
		t.Fatal(err)
	}
	reg.Server(nil)
	if _, err := reg.Engine(EngineOptions{Model: "m", BlockSize: 16, NumBlocks: 10, Stats: func() engine.Stats { return engine.Stats{} }}); err != nil {
		t.Fatal(err)
	}
	if _, err := testutil.GatherAndLint(reg.Gatherer()); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Compat: "tgi"}); err == nil {
		t.Error("an unknown compat accepted")
	}
}
