package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/sotasystems/sota/bench"
)

// benchmark runs every sweep point, prints its table, and writes the result
// and charts. It returns the number of failed requests.
func benchmark(ctx context.Context, cfg *config, log *slog.Logger, stdout, stderr io.Writer) (int, error) {
	prompts, err := cfg.dataset()
	if err != nil {
		return 0, err
	}
	res := &bench.Result{
		Tool: "sota-bench", Version: version, Date: time.Now().UTC(), CommandLine: cfg.args,
		Commit: cfg.commit, Machine: detectMachine(), Metadata: cfg.metadata, Settings: cfg.settings,
		Sweep: cfg.sweep, Percentiles: cfg.percentiles,
	}
	if res.Commit == "" {
		res.Commit = gitCommit(ctx)
	}
	for _, t := range cfg.targets {
		res.Targets = append(res.Targets, bench.TargetInfo{Name: t.Name, BaseURL: t.BaseURL, Endpoint: t.Endpoint, Model: t.Model})
	}
	for _, t := range cfg.tenants {
		res.Tenants = append(res.Tenants, bench.TenantInfo{Name: t.Name, Weight: t.Weight, Share: t.EntitledShare(), MaxConcurrency: t.MaxConcurrency, Priority: t.Priority})
	}
	log.Info("benchmark", "targets", len(cfg.targets), "prompts", len(prompts), "dataset", cfg.settings["dataset_name"],
		"endpoint", cfg.targets[0].Endpoint, "stream", cfg.base.Stream, "sweep", cfg.sweep)
	failed := 0
	for _, rate := range cfg.rates {
		for _, conc := range cfg.concs {
			point, err := runPoint(ctx, cfg, prompts, rate, conc, stderr)
			if point != nil {
				res.Points = append(res.Points, *point)
				if werr := bench.WriteTable(stdout, *point); werr != nil {
					return failed, werr
				}
				for _, s := range point.Targets {
					failed += s.Failed
					for kind, msg := range s.ErrorSamples {
						log.Warn("requests failed", "target", s.Target, "kind", kind, "count", s.Errors[kind], "example", msg)
					}
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					log.Warn("interrupted: writing what was measured")
					return failed, writeOutputs(cfg, res, log)
				}
				return failed, err
			}
		}
	}
	return failed, writeOutputs(cfg, res, log)
}

func runPoint(ctx context.Context, cfg *config, prompts []bench.Prompt, rate bench.Rate, conc int, stderr io.Writer) (*bench.Point, error) {
	rc := cfg.base
	rc.Targets, rc.Tenants, rc.Prompts = cfg.targets, cfg.tenants, prompts
	rc.RequestRate, rc.MaxConcurrency = float64(rate), conc
	rc.Client = bench.NewClient()
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); cfg.progress && ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(len(prompts)*len(cfg.targets), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("concurrency %s, rate %s", capOrNone(conc), rate)),
			progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		rc.OnDone = func(bench.Record) { _ = bar.Add(1) }
	}
	cpu0, srv0 := cpuTime(), processCPU(cfg.serverPids)
	start := time.Now()
	out, err := bench.Run(ctx, rc)
	if bar != nil {
		_ = bar.Finish()
	}
	if out == nil {
		return nil, err
	}
	p := &bench.Point{MaxConcurrency: conc, RequestRate: rate, Start: start.UTC(), ClientCPU: (cpuTime() - cpu0).Seconds()}
	tokens := 0
	for t, tgt := range cfg.targets {
		s := bench.Summarize(tgt.Name, out.Records[t], cfg.tenants, out.Start, cfg.percentiles, cfg.slos)
		tokens += s.TotalOutputTokens
		p.Targets = append(p.Targets, s)
	}
	if len(cfg.serverPids) > 0 {
		p.ServerCPU = (processCPU(cfg.serverPids) - srv0).Seconds()
		if tokens > 0 {
			p.ServerCPUPerToken = p.ServerCPU / float64(tokens) * 1e6
		}
	}
	p.Ratios = bench.Ratios(p.Targets)
	return p, err
}

func capOrNone(n int) string {
	if n <= 0 {
		return "none"
	}
	return fmt.Sprint(n)
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeOutputs(cfg *config, res *bench.Result, log *slog.Logger) error {
	if cfg.resultPath == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.resultPath), 0o755); err != nil {
		return fmt.Errorf("result folder: %w", err)
	}
	if err := res.WriteFile(cfg.resultPath); err != nil {
		return err
	}
	log.Info("result written", "path", cfg.resultPath)
	if !cfg.plot {
		return nil
	}
	prefix := strings.TrimSuffix(filepath.Base(cfg.resultPath), filepath.Ext(cfg.resultPath))
	paths, err := bench.WriteCharts(filepath.Dir(cfg.resultPath), prefix, res)
	if err != nil {
		return err
	}
	for _, p := range paths {
		log.Info("chart written", "path", p)
	}
	return nil
}
