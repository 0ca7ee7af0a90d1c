package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints one sweep point as vllm bench serve's result block, a
// column per target, then the per-tenant table when there are tenants.
func WriteTable(w io.Writer, p Point) error {
	tw := &grid{}
	title := fmt.Sprintf(" Serving Benchmark Result (max concurrency %s, request rate %s) ", capString(p.MaxConcurrency), p.RequestRate)
	fmt.Fprintln(w, strings.Repeat("=", 10)+title+strings.Repeat("=", 10))
	row := func(label string, f func(s Summary) string) {
		cells := []string{label}
		for _, s := range p.Targets {
			cells = append(cells, f(s))
		}
		tw.rows = append(tw.rows, cells)
	}
	num := func(f func(s Summary) float64) func(Summary) string {
		return func(s Summary) string { return strconv.FormatFloat(f(s), 'f', 2, 64) }
	}
	integer := func(f func(s Summary) int) func(Summary) string {
		return func(s Summary) string { return strconv.Itoa(f(s)) }
	}
	row("", func(s Summary) string { return s.Target })
	row("Successful requests:", integer(func(s Summary) int { return s.Completed }))
	row("Failed requests:", integer(func(s Summary) int { return s.Failed }))
	row("Benchmark duration (s):", num(func(s Summary) float64 { return s.Duration.Seconds() }))
	row("Total input tokens:", integer(func(s Summary) int { return s.TotalInputTokens }))
	row("Total generated tokens:", integer(func(s Summary) int { return s.TotalOutputTokens }))
	row("Tokens counted from:", func(s Summary) string { return "in " + s.InputTokensFrom + ", out " + s.OutputTokensFrom })
	row("Request throughput (req/s):", num(func(s Summary) float64 { return s.RequestThroughput }))
	if len(p.Targets) > 0 && p.Targets[0].HasGoodput {
		row("Request goodput (req/s):", num(func(s Summary) float64 { return s.RequestGoodput }))
	}
	row("Output token throughput (tok/s):", num(func(s Summary) float64 { return s.OutputThroughput }))
	row("Total token throughput (tok/s):", num(func(s Summary) float64 { return s.TotalTokenThroughput }))
	row("Peak concurrent requests:", integer(func(s Summary) int { return s.MaxConcurrentRequests }))
	metric := func(title string, get func(s Summary) Dist) {
		tw.rows = append(tw.rows, []string{"---- " + title + " ----"})
		row("Mean (ms):", num(func(s Summary) float64 { return get(s).Mean }))
		row("Median (ms):", num(func(s Summary) float64 { return get(s).Median }))
		row("Std (ms):", num(func(s Summary) float64 { return get(s).Std }))
		if len(p.Targets) > 0 {
			for i, q := range get(p.Targets[0]).Ps {
				if q == 50 {
					continue // the median
				}
				row("P"+strconv.FormatFloat(q, 'f', -1, 64)+" (ms):", num(func(s Summary) float64 { return get(s).Percentiles[i] }))
			}
		}
	}
	metric("Time to First Token", func(s Summary) Dist { return s.TTFT })
	metric("Time per Output Token (excl. 1st token)", func(s Summary) Dist { return s.TPOT })
	metric("Inter-token Latency", func(s Summary) Dist { return s.ITL })
	metric("End-to-end Latency", func(s Summary) Dist { return s.E2EL })
	var kinds []string
	for _, s := range p.Targets {
		for k := range s.Errors {
			if !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	slices.Sort(kinds)
	if len(kinds) > 0 {
		tw.rows = append(tw.rows, []string{"---- Errors by kind ----"})
		for _, k := range kinds {
			row(k+":", integer(func(s Summary) int { return s.Errors[k] }))
		}
	}
	if err := tw.flush(w); err != nil {
		return err
	}
	if p.ClientCPU > 0 {
		fmt.Fprintf(w, "CPU time: this client %.2f s", p.ClientCPU)
		if p.ServerCPU > 0 {
			fmt.Fprintf(w, ", the servers %.2f s (%.2f µs per output token)", p.ServerCPU, p.ServerCPUPerToken)
		}
		fmt.Fprintln(w)
	}
	for _, r := range p.Ratios {
		fmt.Fprintf(w, "%s / %s: output tok/s ×%.2f, median TTFT ×%.2f, median TPOT ×%.2f, p99 ITL ×%.2f\n",
			r.Target, r.Baseline, r.OutputThroughput, r.MedianTTFT, r.MedianTPOT, r.P99ITL)
	}
	for _, s := range p.Targets {
		if len(s.Tenants) > 0 {
			if err := writeTenants(w, s); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(w, strings.Repeat("=", 20+len(title)))
	return nil
}

func writeTenants(w io.Writer, s Summary) error {
	fmt.Fprintf(w, "Tenants of %s (Jain's fairness index over output tokens per share: %.3f)\n", s.Target, s.Fairness)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tenant\tshare\treqs\tok\t200\t408\t429\tother\tretries\tretried ok\ttokens\ttoken share\tTTFT p50 ms\tTTFT p99 ms\treject p99 ms\t")
	for _, t := range s.Tenants {
		other := t.Attempts - t.Statuses["200"] - t.Statuses["408"] - t.Statuses["429"]
		p99 := func(d Dist) float64 { v, _ := d.Percentile(99); return v }
		fmt.Fprintf(tw, "%s\t%.2f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.3f\t%.2f\t%.2f\t%.2f\t\n",
			t.Name, t.EntitledShare, t.Requests, t.Completed, t.Statuses["200"], t.Statuses["408"], t.Statuses["429"], other,
			t.Retries, t.RetriedThenOK, t.OutputTokens, t.TokenShare, t.TTFT.Median, p99(t.TTFT), p99(t.Reject))
	}
	return tw.Flush()
}

func capString(n int) string {
	if n <= 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

// grid renders rows with the first column left-aligned and the others
// right-aligned; a one-cell row is a section heading.
type grid struct{ rows [][]string }

func (g *grid) flush(w io.Writer) error {
	var widths []int
	for _, r := range g.rows {
		if len(r) == 1 {
			continue
		}
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, r := range g.rows {
		for i, c := range r {
			pad := 0
			if i < len(widths) {
				pad = widths[i] - len([]rune(c))
			}
			switch {
			case len(r) == 1:
				b.WriteString(c)
			case i == 0:
				b.WriteString(c + strings.Repeat(" ", pad))
			default:
				b.WriteString("  " + strings.Repeat(" ", pad) + c)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
