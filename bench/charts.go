package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/sotasystems/sota/bench/internal/chart"
)

// WriteCharts draws the result's charts into dir: PREFIX-latency.png (TTFT,
// ITL and E2E latency, p50 and p99, per target, against load),
// PREFIX-throughput.png (output tokens/s and requests/s against load) and,
// with tenants, PREFIX-tenants.png (each tenant's share of the output
// tokens at the last point, beside its entitled share). Load is the sweep's
// variable: the concurrency cap, or the request rate (unbounded rates are
// left out). It returns the paths written.
func WriteCharts(dir, prefix string, res *Result) ([]string, error) {
	if len(res.Points) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	var paths []string
	if xs, label, ok := loads(res); ok {
		p := filepath.Join(dir, prefix+"-latency.png")
		if err := chart.Lines(p, latencyPanels(res, xs, label), 16, 5); err != nil {
			return paths, err
		}
		paths = append(paths, p)
		p = filepath.Join(dir, prefix+"-throughput.png")
		if err := chart.Lines(p, throughputPanels(res, xs, label), 12, 5); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	if len(res.Tenants) > 0 {
		p := filepath.Join(dir, prefix+"-tenants.png")
		if err := chart.BarChart(p, tenantBars(res), 8, 5); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// loads is every point's x: its concurrency cap, or its rate when the sweep
// is over rates (or nothing is capped); NaN where unbounded.
func loads(res *Result) ([]float64, string, bool) {
	byRate := res.Sweep == "request_rate" || (res.Sweep == "" && res.Points[0].MaxConcurrency == 0)
	label := "max concurrency (per target)"
	if byRate {
		label = "request rate (req/s per target)"
	}
	xs := make([]float64, len(res.Points))
	ok := false
	for i, p := range res.Points {
		x := float64(p.MaxConcurrency)
		if byRate {
			x = float64(p.RequestRate)
		}
		if x <= 0 || math.IsInf(x, 0) {
			x = math.NaN()
		} else {
			ok = true
		}
		xs[i] = x
	}
	return xs, label, ok
}

func latencyPanels(res *Result, xs []float64, label string) []chart.Panel {
	metrics := []struct {
		title string
		get   func(s *Summary) Dist
	}{
		{"TTFT", func(s *Summary) Dist { return s.TTFT }},
		{"ITL", func(s *Summary) Dist { return s.ITL }},
		{"E2E latency", func(s *Summary) Dist { return s.E2EL }},
	}
	var panels []chart.Panel
	for _, m := range metrics {
		pn := chart.Panel{Title: m.title + " (p50 solid, p99 dashed)", XLabel: label, YLabel: "ms"}
		for t, tgt := range res.Targets {
			p50, p99 := make([]float64, len(xs)), make([]float64, len(xs))
			for i := range res.Points {
				d := m.get(&res.Points[i].Targets[t])
				p50[i] = d.Median
				p99[i] = math.NaN()
				if v, ok := d.Percentile(99); ok {
					p99[i] = v
				}
			}
			pn.Series = append(pn.Series,
				chart.Series{Name: tgt.Name + " p50", Color: t, X: xs, Y: p50},
				chart.Series{Name: tgt.Name + " p99", Color: t, Dashed: true, X: xs, Y: p99})
		}
		panels = append(panels, pn)
	}
	return panels
}

func throughputPanels(res *Result, xs []float64, label string) []chart.Panel {
	out := chart.Panel{Title: "Output token throughput", XLabel: label, YLabel: "tokens/s"}
	req := chart.Panel{Title: "Request throughput", XLabel: label, YLabel: "requests/s"}
	for t, tgt := range res.Targets {
		o, r := make([]float64, len(xs)), make([]float64, len(xs))
		for i := range res.Points {
			o[i], r[i] = res.Points[i].Targets[t].OutputThroughput, res.Points[i].Targets[t].RequestThroughput
		}
		out.Series = append(out.Series, chart.Series{Name: tgt.Name, Color: t, X: xs, Y: o})
		req.Series = append(req.Series, chart.Series{Name: tgt.Name, Color: t, X: xs, Y: r})
	}
	return []chart.Panel{out, req}
}

func tenantBars(res *Result) chart.Bars {
	last := res.Points[len(res.Points)-1]
	b := chart.Bars{Title: fmt.Sprintf("Share of output tokens by tenant (max concurrency %s, rate %s)", capString(last.MaxConcurrency), last.RequestRate), YLabel: "share"}
	entitled := make([]float64, len(res.Tenants))
	for _, tn := range res.Tenants {
		b.Groups = append(b.Groups, tn.Name)
	}
	for t, s := range last.Targets {
		vals := make([]float64, len(res.Tenants))
		for i := range vals {
			if i < len(s.Tenants) {
				vals[i], entitled[i] = s.Tenants[i].TokenShare, s.Tenants[i].EntitledShare
			}
		}
		b.Series = append(b.Series, chart.BarSeries{Name: fmt.Sprintf("%s (Jain %.3f)", s.Target, s.Fairness), Color: t, Values: vals})
	}
	b.Series = append(b.Series, chart.BarSeries{Name: "entitled share", Color: -1, Values: entitled})
	return b
}
