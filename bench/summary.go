package bench

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sotasystems/sota/bench/internal/stats"
)

// SLO is one goodput objective: a request is good when its metric is at most
// Limit (vllm's --goodput).
type SLO struct {
	Metric string // ttft, tpot or e2el
	Limit  time.Duration
}

// ParseSLOs reads vllm's "ttft:50 tpot:20 e2el:1000" (milliseconds), one
// "metric:ms" per item.
func ParseSLOs(items []string) ([]SLO, error) {
	var out []SLO
	for _, it := range items {
		for _, f := range strings.FieldsFunc(it, func(r rune) bool { return r == ' ' || r == ',' }) {
			m, v, ok := strings.Cut(f, ":")
			ms, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || ms < 0 {
				return nil, fmt.Errorf("%w: goodput %q: want metric:milliseconds", ErrConfig, f)
			}
			if m != "ttft" && m != "tpot" && m != "e2el" {
				return nil, fmt.Errorf("%w: goodput metric %q: want ttft, tpot or e2el", ErrConfig, m)
			}
			out = append(out, SLO{Metric: m, Limit: time.Duration(ms * float64(time.Millisecond))})
		}
	}
	return out, nil
}

// Good reports whether a completed request meets every SLO.
func Good(r *Record, slos []SLO) bool {
	for _, s := range slos {
		var v time.Duration
		switch s.Metric {
		case "ttft":
			v = r.TTFT
		case "tpot":
			v = r.TPOT()
		case "e2el":
			v = r.E2E
		}
		if v > s.Limit {
			return false
		}
	}
	return true
}

// Dist is a latency distribution in milliseconds.
type Dist struct {
	stats.Summary
	Ps []float64 // the percentiles Summary.Percentiles are at
}

// Percentile returns the p-th percentile if it was computed.
func (d Dist) Percentile(p float64) (float64, bool) {
	for i, q := range d.Ps {
		if q == p {
			return d.Percentiles[i], true
		}
	}
	return 0, false
}

func dist(ds []time.Duration, ps []float64) Dist {
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	return Dist{Summary: stats.Summarize(ms, ps), Ps: ps}
}

// flat writes the distribution as vllm's keys: mean_ttft_ms, median_ttft_ms,
// std_ttft_ms, p99_ttft_ms, … (plus min_ and max_).
func (d Dist) flat(m map[string]any, name string) {
	m["mean_"+name+"_ms"] = d.Mean
	m["median_"+name+"_ms"] = d.Median
	m["std_"+name+"_ms"] = d.Std
	m["min_"+name+"_ms"] = d.Min
	m["max_"+name+"_ms"] = d.Max
	for i, p := range d.Ps {
		m["p"+strconv.FormatFloat(p, 'f', -1, 64)+"_"+name+"_ms"] = d.Percentiles[i]
	}
}

// Summary is one target's results, in vllm bench serve's terms.
type Summary struct {
	Target                string
	Completed             int
	Failed                int
	Duration              time.Duration
	TotalInputTokens      int
	TotalOutputTokens     int
	RequestThroughput     float64 // completed requests / s
	RequestGoodput        float64 // good requests / s (with SLOs)
	HasGoodput            bool
	OutputThroughput      float64 // output tokens / s
	TotalTokenThroughput  float64 // (input + output tokens) / s
	MaxConcurrentRequests int     // the most requests in flight at once
	TTFT, TPOT, ITL, E2EL Dist
	Errors                map[string]int    // failed requests by kind ("429", "transport", …)
	ErrorSamples          map[string]string // one message per kind
	OutputTokensFrom      string            // usage, chunks, estimate, or a mix ("usage+chunks")
	InputTokensFrom       string
	Tenants               []TenantSummary
	Fairness              float64 // Jain's index over tenants' output tokens per share
}

// TenantSummary is one tenant's part of a target's results.
type TenantSummary struct {
	Name              string
	Weight            float64
	EntitledShare     float64 // its share / all shares
	Requests          int
	Completed         int
	Failed            int
	Attempts          int
	Statuses          map[string]int // every attempt by HTTP status ("200", "429", "408", …; "transport")
	WithRetryAfter    int            // rejections that carried Retry-After
	Retries           int            // attempts after a rejection
	RetriedThenOK     int            // requests that succeeded after at least one retry
	RetryWait         time.Duration  // total time waited before retries
	OutputTokens      int
	TokenShare        float64 // its output tokens / all tenants'
	OutputThroughput  float64
	TTFT, E2EL        Dist
	Reject            Dist // time to a 429/408 answer
	RequestThroughput float64
}

// Summarize computes a target's summary from its records, at percentiles ps
// (e.g. 50, 90, 95, 99), with goodput when slos are given. Records never sent
// are left out.
func Summarize(name string, recs []Record, tenants []Tenant, start time.Time, ps []float64, slos []SLO) Summary {
	s := Summary{Target: name, Errors: map[string]int{}, ErrorSamples: map[string]string{}}
	var ttft, tpot, itl, e2el []time.Duration
	end := start
	outSrc, inSrc := map[Source]bool{}, map[Source]bool{}
	good := 0
	type span struct{ at, delta int64 }
	var spans []span
	for i := range recs {
		r := &recs[i]
		if len(r.Attempts) == 0 {
			continue
		}
		if r.End.After(end) {
			end = r.End
		}
		spans = append(spans, span{r.Start.UnixNano(), 1}, span{r.End.UnixNano(), -1})
		if !r.OK {
			s.Failed++
			s.Errors[r.Kind]++
			if _, ok := s.ErrorSamples[r.Kind]; !ok {
				s.ErrorSamples[r.Kind] = r.Error
			}
			continue
		}
		s.Completed++
		s.TotalInputTokens += r.InputTokens
		s.TotalOutputTokens += r.OutputTokens
		outSrc[r.OutputSource], inSrc[r.InputSource] = true, true
		ttft = append(ttft, r.TTFT)
		e2el = append(e2el, r.E2E)
		if r.OutputTokens > 1 && r.Chunks > 0 { // streamed: non-streamed requests have no TPOT
			tpot = append(tpot, r.TPOT())
		}
		itl = append(itl, r.ITL...)
		if len(slos) > 0 && Good(r, slos) {
			good++
		}
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].at != spans[j].at {
			return spans[i].at < spans[j].at
		}
		return spans[i].delta < spans[j].delta // an end before a start at the same instant
	})
	cur := 0
	for _, sp := range spans {
		cur += int(sp.delta)
		s.MaxConcurrentRequests = max(s.MaxConcurrentRequests, cur)
	}
	s.Duration = end.Sub(start)
	if sec := s.Duration.Seconds(); sec > 0 {
		s.RequestThroughput = float64(s.Completed) / sec
		s.OutputThroughput = float64(s.TotalOutputTokens) / sec
		s.TotalTokenThroughput = float64(s.TotalInputTokens+s.TotalOutputTokens) / sec
		if len(slos) > 0 {
			s.RequestGoodput = float64(good) / sec
		}
	}
	s.HasGoodput = len(slos) > 0
	s.TTFT, s.TPOT, s.ITL, s.E2EL = dist(ttft, ps), dist(tpot, ps), dist(itl, ps), dist(e2el, ps)
	s.OutputTokensFrom, s.InputTokensFrom = sources(outSrc), sources(inSrc)
	if len(tenants) > 0 {
		s.Tenants, s.Fairness = summarizeTenants(recs, tenants, s.Duration, ps)
	}
	return s
}

func sources(m map[Source]bool) string {
	var ss []string
	for k := range m {
		ss = append(ss, string(k))
	}
	slices.Sort(ss)
	return strings.Join(ss, "+")
}

func summarizeTenants(recs []Record, tenants []Tenant, dur time.Duration, ps []float64) ([]TenantSummary, float64) {
	out := make([]TenantSummary, len(tenants))
	ttft := make([][]time.Duration, len(tenants))
	e2el := make([][]time.Duration, len(tenants))
	reject := make([][]time.Duration, len(tenants))
	shares := 0.0
	for _, t := range tenants {
		shares += t.EntitledShare()
	}
	for k, t := range tenants {
		out[k] = TenantSummary{Name: t.Name, Weight: t.Weight, EntitledShare: t.EntitledShare() / shares, Statuses: map[string]int{}}
	}
	total := 0
	for i := range recs {
		r := &recs[i]
		if r.Tenant < 0 || len(r.Attempts) == 0 {
			continue
		}
		ts := &out[r.Tenant]
		ts.Requests++
		ts.Attempts += len(r.Attempts)
		ts.Retries += len(r.Attempts) - 1
		for _, a := range r.Attempts {
			st := "transport"
			if a.Status != 0 {
				st = strconv.Itoa(a.Status)
			}
			ts.Statuses[st]++
			if a.HasRetryAfter {
				ts.WithRetryAfter++
			}
			ts.RetryWait += a.Waited
			if a.Status == 429 || a.Status == 408 {
				reject[r.Tenant] = append(reject[r.Tenant], a.Latency)
			}
		}
		if !r.OK {
			ts.Failed++
			continue
		}
		ts.Completed++
		if len(r.Attempts) > 1 {
			ts.RetriedThenOK++
		}
		ts.OutputTokens += r.OutputTokens
		total += r.OutputTokens
		ttft[r.Tenant] = append(ttft[r.Tenant], r.TTFT)
		e2el[r.Tenant] = append(e2el[r.Tenant], r.E2E)
	}
	perShare := make([]float64, len(tenants))
	for k := range out {
		ts := &out[k]
		if total > 0 {
			ts.TokenShare = float64(ts.OutputTokens) / float64(total)
		}
		if sec := dur.Seconds(); sec > 0 {
			ts.OutputThroughput = float64(ts.OutputTokens) / sec
			ts.RequestThroughput = float64(ts.Completed) / sec
		}
		ts.TTFT, ts.E2EL, ts.Reject = dist(ttft[k], ps), dist(e2el[k], ps), dist(reject[k], ps)
		perShare[k] = float64(ts.OutputTokens) / tenants[k].EntitledShare()
	}
	return out, stats.Jain(perShare)
}

// MarshalJSON writes vllm bench serve's flat keys (completed,
// request_throughput, mean_ttft_ms, p99_itl_ms, …) plus ours.
func (s Summary) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"target":                  s.Target,
		"completed":               s.Completed,
		"failed":                  s.Failed,
		"duration":                s.Duration.Seconds(),
		"total_input_tokens":      s.TotalInputTokens,
		"total_output_tokens":     s.TotalOutputTokens,
		"request_throughput":      s.RequestThroughput,
		"output_throughput":       s.OutputThroughput,
		"total_token_throughput":  s.TotalTokenThroughput,
		"max_concurrent_requests": s.MaxConcurrentRequests,
		"errors":                  s.Errors,
		"error_samples":           s.ErrorSamples,
		"output_tokens_from":      s.OutputTokensFrom,
		"input_tokens_from":       s.InputTokensFrom,
	}
	if s.HasGoodput {
		m["request_goodput"] = s.RequestGoodput
	}
	s.TTFT.flat(m, "ttft")
	s.TPOT.flat(m, "tpot")
	s.ITL.flat(m, "itl")
	s.E2EL.flat(m, "e2el")
	if len(s.Tenants) > 0 {
		m["tenants"] = s.Tenants
		m["jain_fairness"] = s.Fairness
	}
	return json.Marshal(m)
}

// MarshalJSON writes a tenant's results with snake_case keys.
func (t TenantSummary) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"name":               t.Name,
		"weight":             t.Weight,
		"entitled_share":     t.EntitledShare,
		"requests":           t.Requests,
		"completed":          t.Completed,
		"failed":             t.Failed,
		"attempts":           t.Attempts,
		"statuses":           t.Statuses,
		"with_retry_after":   t.WithRetryAfter,
		"retries":            t.Retries,
		"retried_then_ok":    t.RetriedThenOK,
		"retry_wait_s":       t.RetryWait.Seconds(),
		"output_tokens":      t.OutputTokens,
		"token_share":        t.TokenShare,
		"output_throughput":  t.OutputThroughput,
		"request_throughput": t.RequestThroughput,
	}
	t.TTFT.flat(m, "ttft")
	t.E2EL.flat(m, "e2el")
	t.Reject.flat(m, "reject")
	return json.Marshal(m)
}
