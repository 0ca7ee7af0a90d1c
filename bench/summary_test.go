package bench

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// fixed builds a completed streamed record starting at start+at.
func fixed(start time.Time, at, ttft, e2e float64, tokens int, itl ...float64) Record {
	r := Record{Tenant: -1, Start: start.Add(ms(at)), TTFT: ms(ttft), E2E: ms(e2e), OutputTokens: tokens, OutputSource: FromUsage,
		InputTokens: 10, InputSource: FromEstimate, OK: true, Status: 200, Chunks: tokens, Attempts: []Attempt{{Status: 200}}}
	r.End = r.Start.Add(r.E2E)
	for _, g := range itl {
		r.ITL = append(r.ITL, ms(g))
	}
	return r
}

func TestSummarizeFixed(t *testing.T) {
	start := time.Unix(1000, 0)
	recs := []Record{
		fixed(start, 0, 100, 500, 5, 100, 100, 100, 100), // TPOT 100
		fixed(start, 0, 200, 400, 3, 100, 100),           // TPOT 100
		fixed(start, 100, 50, 50, 1),                     // one token: no TPOT
		fixed(start, 600, 300, 1400, 12, 100),            // TPOT 100, ends at 2000 ms
		{Tenant: -1, Start: start.Add(ms(10)), End: start.Add(ms(20)), Kind: "429", Error: "http 429: busy", Status: 429, Attempts: []Attempt{{Status: 429}}},
		{Tenant: -1, Seq: -1}, // never sent
	}
	slos, err := ParseSLOs([]string{"ttft:150 tpot:100"})
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize("x", recs, nil, start, []float64{50, 99}, slos)
	if s.Completed != 4 || s.Failed != 1 || s.Errors["429"] != 1 || s.ErrorSamples["429"] != "http 429: busy" {
		t.Fatalf("completed %d failed %d errors %v", s.Completed, s.Failed, s.Errors)
	}
	if s.Duration != 2*time.Second || s.TotalOutputTokens != 21 || s.TotalInputTokens != 40 {
		t.Errorf("duration %v, tokens %d in %d", s.Duration, s.TotalOutputTokens, s.TotalInputTokens)
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	near("request throughput", s.RequestThroughput, 2)
	near("output throughput", s.OutputThroughput, 10.5)
	near("total token throughput", s.TotalTokenThroughput, 30.5)
	// Good: ttft <= 150 and tpot <= 100: the first (100, 100) and the
	// one-token one (50, 0): 2 good over 2 s.
	near("goodput", s.RequestGoodput, 1)
	// TTFT 50, 100, 200, 300: mean 162.5, median 150, p99 297.
	near("mean TTFT", s.TTFT.Mean, 162.5)
	near("median TTFT", s.TTFT.Median, 150)
	near("p99 TTFT", s.TTFT.Percentiles[1], 297)
	near("std TTFT", s.TTFT.Std, math.Sqrt((112.5*112.5+62.5*62.5+37.5*37.5+137.5*137.5)/4))
	if s.TPOT.Count != 3 {
		t.Errorf("TPOT count %d, want 3 (one-token requests have none)", s.TPOT.Count)
	}
	near("median TPOT", s.TPOT.Median, 100)
	if s.ITL.Count != 7 {
		t.Errorf("ITL count %d, want 7", s.ITL.Count)
	}
	near("median E2E", s.E2EL.Median, 450)
	// In flight: [0,500], [0,400], [100,150], [10,20], [600,2000] → 3 at 10-20 and 100-150 ms.
	if s.MaxConcurrentRequests != 3 {
		t.Errorf("peak concurrency %d, want 3", s.MaxConcurrentRequests)
	}
	if s.OutputTokensFrom != "usage" || s.InputTokensFrom != "estimate" {
		t.Errorf("sources %q %q", s.OutputTokensFrom, s.InputTokensFrom)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, want := range map[string]float64{"completed": 4, "request_throughput": 2, "median_ttft_ms": 150, "p99_ttft_ms": 297, "request_goodput": 1, "p50_tpot_ms": 100} {
		if got, ok := m[k].(float64); !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("JSON %s = %v, want %v", k, m[k], want)
		}
	}
}

func TestGood(t *testing.T) {
	r := fixed(time.Unix(0, 0), 0, 40, 230, 20) // TPOT 10
	tests := []struct {
		slos string
		want bool
	}{
		{"ttft:50", true}, {"ttft:40", true}, {"ttft:39", false},
		{"tpot:10", true}, {"tpot:9.9", false}, {"e2el:230 ttft:50", true}, {"e2el:229", false},
		{"ttft:50,tpot:20", true},
	}
	for _, tc := range tests {
		slos, err := ParseSLOs([]string{tc.slos})
		if err != nil {
			t.Fatal(err)
		}
		if got := Good(&r, slos); got != tc.want {
			t.Errorf("Good(%s) = %v, want %v", tc.slos, got, tc.want)
		}
	}
	for _, bad := range []string{"ttft", "itl:5", "ttft:x", "ttft:-1"} {
		if _, err := ParseSLOs([]string{bad}); err == nil {
			t.Errorf("ParseSLOs(%q) accepted", bad)
		}
	}
}

func TestRatios(t *testing.T) {
	a := Summary{Target: "a", OutputThroughput: 100, TTFT: dist([]time.Duration{ms(10)}, []float64{99})}
	b := Summary{Target: "b", OutputThroughput: 250, TTFT: dist([]time.Duration{ms(5)}, []float64{99})}
	r := Ratios([]Summary{a, b})
	if len(r) != 1 || r[0].OutputThroughput != 2.5 || r[0].MedianTTFT != 0.5 || r[0].P99TTFT != 0.5 || r[0].Baseline != "a" {
		t.Errorf("Ratios = %+v", r)
	}
}
