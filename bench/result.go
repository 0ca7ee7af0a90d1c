package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// Rate is a request rate that writes +Inf as "inf" in JSON.
type Rate float64

func (r Rate) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(r), 1) || r == 0 {
		return []byte(`"inf"`), nil
	}
	return json.Marshal(float64(r))
}

func (r Rate) String() string {
	if math.IsInf(float64(r), 1) || r == 0 {
		return "inf"
	}
	return strconv.FormatFloat(float64(r), 'g', -1, 64)
}

// ParseRate reads a rate in requests/s, or "inf".
func ParseRate(s string) (Rate, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) {
		return 0, fmt.Errorf("%w: request rate %q: want a number > 0 or inf", ErrConfig, s)
	}
	return Rate(f), nil
}

// Machine is where the benchmark ran.
type Machine struct {
	CPUModel    string     `json:"cpu_model"`
	Cores       int        `json:"cores"`
	OS          string     `json:"os"`
	Arch        string     `json:"arch"`
	GoVersion   string     `json:"go_version"`
	LoadAverage [3]float64 `json:"load_average_at_start"` // 1, 5, 15 min: other work on the machine
}

// TargetInfo is a target as the result file shows it (no API key).
type TargetInfo struct {
	Name     string `json:"name"`
	BaseURL  string `json:"base_url"`
	Endpoint string `json:"endpoint"`
	Model    string `json:"model"`
}

// TenantInfo is a tenant as the result file shows it (no API key).
type TenantInfo struct {
	Name           string  `json:"name"`
	Weight         float64 `json:"weight"`
	Share          float64 `json:"share"`
	MaxConcurrency int     `json:"max_concurrency,omitempty"`
	Priority       string  `json:"priority,omitempty"`
}

// Ratio is a target's figures over the baseline's (the first target), in
// the same sweep point.
type Ratio struct {
	Target            string  `json:"target"`
	Baseline          string  `json:"baseline"`
	OutputThroughput  float64 `json:"output_throughput"`
	RequestThroughput float64 `json:"request_throughput"`
	MedianTTFT        float64 `json:"median_ttft"`
	P99TTFT           float64 `json:"p99_ttft,omitempty"`
	MedianTPOT        float64 `json:"median_tpot"`
	MedianITL         float64 `json:"median_itl"`
	P99ITL            float64 `json:"p99_itl,omitempty"`
}

// Point is one run of a sweep: every target's summary at one load.
type Point struct {
	MaxConcurrency int       `json:"max_concurrency"` // 0: no cap
	RequestRate    Rate      `json:"request_rate"`
	Start          time.Time `json:"start"`
	Targets        []Summary `json:"targets"`
	Ratios         []Ratio   `json:"ratios,omitempty"`
	// ClientCPU is the CPU time the benchmark process itself used during
	// the point, in seconds: on a shared machine it competes with the
	// server.
	ClientCPU float64 `json:"client_cpu_s,omitempty"`
	// ServerCPU is the CPU time of the processes given by --server-pid
	// during the point, in seconds, and per output token in microseconds.
	ServerCPU         float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerToken float64 `json:"server_cpu_us_per_output_token,omitempty"`
}

// Result is the JSON file a run writes (--result-filename).
type Result struct {
	Tool        string            `json:"tool"`
	Version     string            `json:"version"`
	Date        time.Time         `json:"date"`
	CommandLine []string          `json:"command_line"`
	Commit      string            `json:"commit,omitempty"`
	Machine     Machine           `json:"machine"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Settings    map[string]any    `json:"settings"` // the workload and client settings
	Targets     []TargetInfo      `json:"target_servers"`
	Tenants     []TenantInfo      `json:"tenants,omitempty"`
	Sweep       string            `json:"sweep,omitempty"` // "max_concurrency", "request_rate" or empty
	Percentiles []float64         `json:"percentiles"`
	Points      []Point           `json:"points"`
}

// Ratios compares every target with the first in the same point: for
// throughput above 1 is better, for latency below 1 is.
func Ratios(ss []Summary) []Ratio {
	if len(ss) < 2 {
		return nil
	}
	b := ss[0]
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	pct := func(d Dist, p float64) float64 { v, _ := d.Percentile(p); return v }
	var out []Ratio
	for _, s := range ss[1:] {
		out = append(out, Ratio{
			Target: s.Target, Baseline: b.Target,
			OutputThroughput:  div(s.OutputThroughput, b.OutputThroughput),
			RequestThroughput: div(s.RequestThroughput, b.RequestThroughput),
			MedianTTFT:        div(s.TTFT.Median, b.TTFT.Median),
			P99TTFT:           div(pct(s.TTFT, 99), pct(b.TTFT, 99)),
			MedianTPOT:        div(s.TPOT.Median, b.TPOT.Median),
			MedianITL:         div(s.ITL.Median, b.ITL.Median),
			P99ITL:            div(pct(s.ITL, 99), pct(b.ITL, 99)),
		})
	}
	return out
}

// WriteFile writes the result as indented JSON.
func (r *Result) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
