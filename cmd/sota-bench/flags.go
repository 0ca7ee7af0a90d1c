package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/sotasystems/sota/bench"
)

// cli holds the flags; names follow vllm bench serve where they mean the
// same (its defaults too, except where noted).
type cli struct {
	BaseURL  []string `name:"base-url" help:"Server to benchmark, [NAME=]URL (e.g. sota=http://127.0.0.1:8080); repeat for several, interleaved in one run. The first is the baseline of the ratios." sep:"none" placeholder:"[NAME=]URL"`
	Model    []string `help:"Model name sent in requests: one for every target, or one per --base-url in order." sep:"none"`
	Endpoint string   `help:"API path: /v1/completions or /v1/chat/completions (default: by --backend)."`
	Backend  string   `help:"Request shape as vllm names it: openai or vllm (completions), openai-chat (chat)." enum:"openai,vllm,openai-chat" default:"vllm"`
	APIKey   string   `name:"api-key" help:"Bearer token for every target (default: $OPENAI_API_KEY); tenants bring their own."`
	Header   []string `help:"Extra request header KEY=VALUE; repeat for several." sep:"none"`

	DatasetName               string  `help:"Workload: random (random words ≈ tokens), prefix_repetition (N system prompts × M questions; alias shared-prefix), sharegpt or custom (a JSON/JSONL file: ShareGPT conversations, {\"messages\":…} or {\"prompt\":…} lines)." enum:"random,prefix_repetition,shared-prefix,sharegpt,custom,jsonl" default:"random"`
	DatasetPath               string  `help:"The prompts file for sharegpt/custom."`
	NumPrompts                int     `help:"Requests per target (per sweep point)." default:"1000"`
	RandomInputLen            int     `help:"random: prompt length in tokens (words)." default:"1024"`
	RandomOutputLen           int     `help:"random: max_tokens (sent with ignore_eos)." default:"128"`
	RandomRangeRatio          float64 `help:"random: lengths uniform in [len·(1−r), len·(1+r)]." default:"0"`
	RandomPrefixLen           int     `help:"random: words of one prefix shared by every prompt." default:"0"`
	PrefixRepetitionPrefixLen int     `help:"prefix_repetition: words of each system prompt." default:"256"`
	PrefixRepetitionSuffixLen int     `help:"prefix_repetition: words of each question." default:"256"`
	PrefixRepetitionNumPrefix int     `name:"prefix-repetition-num-prefixes" help:"prefix_repetition: number of system prompts (N)." default:"10"`
	PrefixRepetitionOutputLen int     `help:"prefix_repetition: max_tokens (sent with ignore_eos)." default:"128"`
	SharegptOutputLen         int     `help:"sharegpt: max_tokens for every prompt (default: the reply's estimated length)."`
	CustomOutputLen           int     `help:"custom: max_tokens of prompts that give none." default:"256"`
	IgnoreEOS                 bool    `name:"ignore-eos" help:"File datasets: send ignore_eos (random and prefix_repetition always do)."`

	RequestRate    []string      `help:"Arrival rate per target in requests/s (Poisson), or inf for all at once; a comma list sweeps." default:"inf" sep:","`
	Burstiness     float64       `help:"Gamma shape of the arrival gaps: 1 is Poisson, < 1 burstier, > 1 steadier." default:"1"`
	MaxConcurrency []int         `help:"Most requests in flight per target; a comma list sweeps (default: no cap)." sep:","`
	Seed           int64         `help:"Seed of the workload and the arrival schedule." default:"0"`
	NumWarmups     int           `help:"Requests sent to each target first, one at a time, not measured." default:"0"`
	Stream         bool          `help:"Stream responses (SSE); --no-stream for whole responses (then TTFT = E2E)." default:"true" negatable:""`
	NoStreamUsage  bool          `help:"Do not send stream_options.include_usage (output tokens are then counted from chunks)."`
	Temperature    float64       `help:"Sampling temperature sent (vllm bench's default, greedy)." default:"0"`
	ExtraBody      string        `help:"JSON object merged into every request body (top_p, top_k, …)." placeholder:"JSON"`
	RequestTimeout time.Duration `help:"Per-request timeout." default:"30m"`

	Goodput           []string `help:"SLOs for goodput, vllm style: --goodput ttft:50 tpot:20 e2el:1000 (milliseconds)." sep:","`
	MetricPercentiles string   `help:"Percentiles reported, comma-separated (vllm's default is 99)." default:"50,90,95,99"`

	Tenant           []string      `help:"A tenant: name=solo,key=sk-…,weight=1[,share=1][,max-concurrency=30][,priority=fast]; repeat for several. Weights set the request mix, share the entitlement for Jain's index (default: the weight), max-concurrency caps a tenant's streams per target (flood at 10× a cap by setting 10× it)." sep:"none"`
	RetryAfter       string        `help:"On 429/503: ignore (the rejection is final) or honour (wait Retry-After, then retry)." enum:"ignore,honour,honor" default:"ignore"`
	MaxRetries       int           `help:"With --retry-after honour: retries per request." default:"3"`
	RetryDefaultWait time.Duration `help:"With --retry-after honour: wait when a rejection has no Retry-After." default:"1s"`
	RetryMaxWait     time.Duration `help:"With --retry-after honour: the longest wait honoured." default:"60s"`

	SaveResult     bool       `help:"Write the JSON result (implied by --result-filename)."`
	ResultDir      string     `help:"Folder for the result and charts." default:"."`
	ResultFilename string     `help:"JSON result file name (default: sota-bench-DATE.json)."`
	NoPlot         bool       `help:"Do not draw PNG charts next to the result."`
	Metadata       []string   `help:"KEY=VALUE pairs recorded in the result: --metadata server=sota notes=… (several after one flag, as vllm)." sep:","`
	Commit         string     `help:"Commit recorded in the result (default: git rev-parse HEAD of the working directory, when it is a checkout)."`
	DisableTqdm    bool       `name:"disable-tqdm" help:"No progress bar."`
	ServerPid      []int      `help:"Process ids of the servers (on this machine) whose CPU time each point records." sep:","`
	FailOnError    bool       `help:"Exit 1 when any request failed."`
	LogLevel       slog.Level `help:"Log level: debug, info, warn, error." default:"info"`
	Version        bool       `help:"Print the version."`
}

// config is the parsed, checked run.
type config struct {
	targets     []bench.Target
	tenants     []bench.Tenant
	rates       []bench.Rate
	concs       []int
	sweep       string
	base        bench.Config // Targets, Tenants and load are filled per point
	percentiles []float64
	slos        []bench.SLO
	dataset     func() ([]bench.Prompt, error)
	settings    map[string]any
	resultPath  string // empty: no result file
	plot        bool
	metadata    map[string]string
	commit      string
	progress    bool
	serverPids  []int
	args        []string
}

func (c *cli) config(getenv func(string) string) (*config, error) {
	cfg := &config{settings: map[string]any{}, metadata: map[string]string{}, progress: !c.DisableTqdm, commit: c.Commit, plot: !c.NoPlot, serverPids: c.ServerPid}
	if len(c.BaseURL) == 0 {
		return nil, fmt.Errorf("--base-url is required")
	}
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = "/v1/completions"
		if c.Backend == "openai-chat" {
			endpoint = "/v1/chat/completions"
		}
	}
	if len(c.Model) > 1 && len(c.Model) != len(c.BaseURL) {
		return nil, fmt.Errorf("--model: give one, or one per --base-url (%d)", len(c.BaseURL))
	}
	key := c.APIKey
	if key == "" {
		key = getenv("OPENAI_API_KEY")
	}
	headers := map[string]string{}
	for _, h := range c.Header {
		k, v, ok := strings.Cut(h, "=")
		if !ok {
			k, v, ok = strings.Cut(h, ":")
		}
		if !ok {
			return nil, fmt.Errorf("--header %q: want KEY=VALUE", h)
		}
		headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	for i, u := range c.BaseURL {
		t := bench.Target{BaseURL: u, Endpoint: endpoint, APIKey: key, Headers: headers}
		if name, rest, ok := strings.Cut(u, "="); ok && !strings.Contains(name, "/") {
			t.Name, t.BaseURL = name, rest
		}
		if len(c.Model) == 1 {
			t.Model = c.Model[0]
		} else if len(c.Model) > 1 {
			t.Model = c.Model[i]
		}
		if t.Name == "" {
			t.Name = t.DisplayName()
		}
		if err := t.Validate(); err != nil {
			return nil, err
		}
		cfg.targets = append(cfg.targets, t)
	}
	for i, spec := range c.Tenant {
		t, err := bench.ParseTenant(spec, i)
		if err != nil {
			return nil, err
		}
		cfg.tenants = append(cfg.tenants, t)
	}
	for _, r := range c.RequestRate {
		rate, err := bench.ParseRate(strings.TrimSpace(r))
		if err != nil {
			return nil, err
		}
		cfg.rates = append(cfg.rates, rate)
	}
	cfg.concs = c.MaxConcurrency
	if len(cfg.concs) == 0 {
		cfg.concs = []int{0}
	}
	for _, n := range cfg.concs {
		if n < 0 {
			return nil, fmt.Errorf("--max-concurrency %d: want >= 0", n)
		}
	}
	switch {
	case len(cfg.rates) > 1 && len(cfg.concs) > 1:
		return nil, fmt.Errorf("sweep either --request-rate or --max-concurrency, not both")
	case len(cfg.rates) > 1:
		cfg.sweep = "request_rate"
	case len(cfg.concs) > 1:
		cfg.sweep = "max_concurrency"
	}
	for _, p := range strings.Split(c.MetricPercentiles, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f > 100 {
			return nil, fmt.Errorf("--metric-percentiles %q: want numbers in 0..100", c.MetricPercentiles)
		}
		cfg.percentiles = append(cfg.percentiles, f)
	}
	slos, err := bench.ParseSLOs(c.Goodput)
	if err != nil {
		return nil, err
	}
	cfg.slos = slos
	for _, kv := range c.Metadata {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--metadata %q: want KEY=VALUE", kv)
		}
		cfg.metadata[k] = v
	}
	extra := map[string]any{"temperature": c.Temperature}
	if c.ExtraBody != "" {
		if err := json.Unmarshal([]byte(c.ExtraBody), &extra); err != nil {
			return nil, fmt.Errorf("--extra-body: %w", err)
		}
	}
	honour := c.RetryAfter != "ignore"
	cfg.base = bench.Config{
		Burstiness: c.Burstiness, Stream: c.Stream, NoUsage: c.NoStreamUsage, ExtraBody: extra,
		Retry:          bench.RetryPolicy{HonourRetryAfter: honour, MaxRetries: c.MaxRetries, DefaultWait: c.RetryDefaultWait, MaxWait: c.RetryMaxWait},
		RequestTimeout: c.RequestTimeout, Seed: c.Seed, NumWarmups: c.NumWarmups,
	}
	if err := c.dataset(cfg); err != nil {
		return nil, err
	}
	if c.ResultFilename != "" || c.SaveResult {
		name := c.ResultFilename
		if name == "" {
			name = "sota-bench-" + time.Now().Format("20060102-150405") + ".json"
		}
		if strings.ContainsRune(name, '/') {
			cfg.resultPath = name
		} else {
			cfg.resultPath = strings.TrimSuffix(c.ResultDir, "/") + "/" + name
		}
	}
	cfg.settings["endpoint"] = endpoint
	cfg.settings["stream"] = c.Stream
	cfg.settings["stream_usage_requested"] = c.Stream && !c.NoStreamUsage
	cfg.settings["num_prompts_per_target"] = c.NumPrompts
	cfg.settings["request_rates"] = cfg.rates
	cfg.settings["max_concurrency"] = cfg.concs
	cfg.settings["burstiness"] = c.Burstiness
	cfg.settings["seed"] = c.Seed
	cfg.settings["num_warmups"] = c.NumWarmups
	cfg.settings["extra_body"] = extra
	cfg.settings["retry_after"] = map[string]any{"honour": honour, "max_retries": c.MaxRetries, "default_wait_s": c.RetryDefaultWait.Seconds(), "max_wait_s": c.RetryMaxWait.Seconds()}
	if len(slos) > 0 {
		cfg.settings["goodput"] = c.Goodput
	}
	return cfg, nil
}

// dataset sets the workload builder and records its settings.
func (c *cli) dataset(cfg *config) error {
	s := cfg.settings
	s["dataset_name"] = c.DatasetName
	rng := func() *rand.Rand { return bench.NewRand(c.Seed) }
	switch c.DatasetName {
	case "random":
		rc := bench.RandomConfig{NumPrompts: c.NumPrompts, InputLen: c.RandomInputLen, OutputLen: c.RandomOutputLen, RangeRatio: c.RandomRangeRatio, PrefixLen: c.RandomPrefixLen}
		s["random_input_len"], s["random_output_len"], s["random_range_ratio"], s["random_prefix_len"] = rc.InputLen, rc.OutputLen, rc.RangeRatio, rc.PrefixLen
		s["prompt_tokens_note"] = "random prompts are words that are one token each in common BPE vocabularies: input lengths are approximate unless counted from usage"
		cfg.dataset = func() ([]bench.Prompt, error) { return bench.Random(rng(), rc) }
	case "prefix_repetition", "shared-prefix":
		pc := bench.SharedPrefixConfig{NumPrompts: c.NumPrompts, NumPrefixes: c.PrefixRepetitionNumPrefix, PrefixLen: c.PrefixRepetitionPrefixLen, SuffixLen: c.PrefixRepetitionSuffixLen, OutputLen: c.PrefixRepetitionOutputLen}
		s["prefix_len"], s["suffix_len"], s["num_prefixes"], s["output_len"] = pc.PrefixLen, pc.SuffixLen, pc.NumPrefixes, pc.OutputLen
		cfg.dataset = func() ([]bench.Prompt, error) { return bench.SharedPrefix(rng(), pc) }
	default: // sharegpt, custom, jsonl
		if c.DatasetPath == "" {
			return fmt.Errorf("--dataset-name %s needs --dataset-path", c.DatasetName)
		}
		fc := bench.FileConfig{Path: c.DatasetPath, NumPrompts: c.NumPrompts, IgnoreEOS: c.IgnoreEOS, DefaultOutputLen: c.CustomOutputLen,
			Shuffle: c.DatasetName == "sharegpt"}
		if c.DatasetName == "sharegpt" {
			fc.OutputLen = c.SharegptOutputLen
		}
		s["dataset_path"], s["ignore_eos"] = c.DatasetPath, c.IgnoreEOS
		cfg.dataset = func() ([]bench.Prompt, error) { return bench.File(rng(), fc) }
	}
	return nil
}
