package bench

import (
	"math"
	"testing"
	"time"
)

func chartSummary(name string, conc int) Summary {
	start := time.Unix(0, 0)
	recs := make([]Record, 20)
	for i := range recs {
		d := time.Duration(conc+i) * time.Millisecond
		recs[i] = Record{Tenant: i % 2, Start: start, End: start.Add(10 * d), TTFT: d, E2E: 10 * d, ITL: []time.Duration{d / 2, d},
			OutputTokens: 3, Chunks: 3, OK: true, Attempts: []Attempt{{Status: 200}}}
	}
	ts := []Tenant{{Name: "solo", APIKey: "a", Weight: 1}, {Name: "team", APIKey: "b", Weight: 3}}
	return Summarize(name, recs, ts, start, []float64{50, 99}, nil)
}

func TestWriteCharts(t *testing.T) {
	res := &Result{
		Targets: []TargetInfo{{Name: "sota"}, {Name: "peer"}},
		Tenants: []TenantInfo{{Name: "solo"}, {Name: "team"}},
		Sweep:   "max_concurrency",
	}
	for _, c := range []int{1, 16, 64} {
		res.Points = append(res.Points, Point{MaxConcurrency: c, RequestRate: Rate(math.Inf(1)),
			Targets: []Summary{chartSummary("sota", c), chartSummary("peer", 2*c)}})
	}
	dir := t.TempDir()
	paths, err := WriteCharts(dir, "run", res)
	if err != nil || len(paths) != 3 {
		t.Fatalf("WriteCharts = %v, %v; want three charts", paths, err)
	}
	// Unbounded rates only: no load axis, so only the tenant chart.
	res.Sweep = "request_rate"
	if paths, err := WriteCharts(dir, "rates", res); err != nil || len(paths) != 1 {
		t.Errorf("unbounded rates: %v, %v", paths, err)
	}
}
