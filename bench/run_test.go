package bench

import (
	"context"
	"math"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sotasystems/sota/bench/fakeoai"
)

// runFake runs cfg against a fake server over in-memory connections; call
// it inside a synctest bubble so the server's delays are exact.
func runFake(t *testing.T, fc fakeoai.Config, cfg Config) (*Outcome, *fakeoai.Server) {
	t.Helper()
	srv := fakeoai.New(fc)
	pipe := fakeoai.NewPipe(srv)
	defer pipe.Close()
	cfg.Client = pipe.Client()
	if len(cfg.Targets) == 0 {
		cfg.Targets = []Target{{Name: "fake", BaseURL: "http://fake", Endpoint: "/v1/chat/completions", Model: "m"}}
	}
	out, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out, srv
}

func prompts(n, outLen int) []Prompt {
	ps := make([]Prompt, n)
	for i := range ps {
		ps[i] = Prompt{Text: "hello there", InputLen: 2, OutputLen: outLen, IgnoreEOS: true}
	}
	return ps
}

// TestMeasuredLatencies: TTFT, ITL, E2E and TPOT equal the fake server's
// injected delays (exactly: synctest's clock only moves while everything
// waits).
func TestMeasuredLatencies(t *testing.T) {
	const ttft, itl = 50 * time.Millisecond, 10 * time.Millisecond
	tests := []struct {
		name      string
		fc        fakeoai.Config
		endpoint  string
		noStream  bool
		noUsage   bool
		wantTTFT  time.Duration
		wantITL   time.Duration // every gap
		wantGaps  int
		wantE2E   time.Duration
		wantTPOT  time.Duration
		wantSrc   Source
		wantInput int
	}{
		{name: "chat stream, usage", endpoint: "/v1/chat/completions",
			wantTTFT: ttft, wantITL: itl, wantGaps: 7, wantE2E: ttft + 7*itl, wantTPOT: itl, wantSrc: FromUsage, wantInput: 3},
		{name: "completions stream", endpoint: "/v1/completions",
			wantTTFT: ttft, wantITL: itl, wantGaps: 7, wantE2E: ttft + 7*itl, wantTPOT: itl, wantSrc: FromUsage, wantInput: 3},
		{name: "role chunk first is not the first token", endpoint: "/v1/chat/completions", fc: fakeoai.Config{RoleChunkFirst: true},
			wantTTFT: ttft, wantITL: itl, wantGaps: 7, wantE2E: ttft + 7*itl, wantTPOT: itl, wantSrc: FromUsage, wantInput: 3},
		{name: "no usage: tokens counted from chunks", endpoint: "/v1/chat/completions", fc: fakeoai.Config{NoUsage: true},
			wantTTFT: ttft, wantITL: itl, wantGaps: 7, wantE2E: ttft + 7*itl, wantTPOT: itl, wantSrc: FromChunks, wantInput: 2},
		{name: "usage not asked for", endpoint: "/v1/completions", noUsage: true,
			wantTTFT: ttft, wantITL: itl, wantGaps: 7, wantE2E: ttft + 7*itl, wantTPOT: itl, wantSrc: FromChunks, wantInput: 2},
		{name: "four tokens a chunk: ITL per chunk, TPOT per token", endpoint: "/v1/chat/completions", fc: fakeoai.Config{TokensPerChunk: 4},
			wantTTFT: ttft, wantITL: 4 * itl, wantGaps: 1, wantE2E: ttft + 4*itl, wantTPOT: 4 * itl / 7, wantSrc: FromUsage, wantInput: 3},
		{name: "not streamed", endpoint: "/v1/chat/completions", noStream: true,
			wantTTFT: ttft + 7*itl, wantGaps: 0, wantE2E: ttft + 7*itl, wantTPOT: itl, wantSrc: FromUsage, wantInput: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc.fc.TTFT, tc.fc.ITL = ttft, itl
				out, _ := runFake(t, tc.fc, Config{
					Targets: []Target{{BaseURL: "http://fake/v1", Endpoint: tc.endpoint, Model: "m"}},
					Prompts: prompts(3, 8), Stream: !tc.noStream, NoUsage: tc.noUsage, MaxConcurrency: 1,
				})
				for _, r := range out.Records[0] {
					if !r.OK {
						t.Fatalf("request failed: %s %s", r.Kind, r.Error)
					}
					if r.TTFT != tc.wantTTFT || r.E2E != tc.wantE2E || len(r.ITL) != tc.wantGaps {
						t.Errorf("TTFT %v E2E %v gaps %d, want %v %v %d", r.TTFT, r.E2E, len(r.ITL), tc.wantTTFT, tc.wantE2E, tc.wantGaps)
					}
					for _, g := range r.ITL {
						if g != tc.wantITL {
							t.Errorf("ITL gap %v, want %v", g, tc.wantITL)
						}
					}
					if r.OutputTokens != 8 || r.OutputSource != tc.wantSrc || r.InputTokens != tc.wantInput {
						t.Errorf("output %d from %s, input %d; want 8 from %s, input %d", r.OutputTokens, r.OutputSource, r.InputTokens, tc.wantSrc, tc.wantInput)
					}
					if !tc.noStream && r.TPOT() != tc.wantTPOT {
						t.Errorf("TPOT %v, want %v", r.TPOT(), tc.wantTPOT)
					}
				}
				s := Summarize("fake", out.Records[0], nil, out.Start, []float64{99}, nil)
				if s.Completed != 3 || s.Failed != 0 || s.TotalOutputTokens != 24 {
					t.Errorf("summary: %d completed, %d failed, %d tokens", s.Completed, s.Failed, s.TotalOutputTokens)
				}
				// One at a time: the run lasts three requests back to back.
				if s.Duration != 3*tc.wantE2E || s.MaxConcurrentRequests != 1 {
					t.Errorf("duration %v (want %v), peak %d (want 1)", s.Duration, 3*tc.wantE2E, s.MaxConcurrentRequests)
				}
				if tc.noStream && s.TPOT.Count != 0 {
					t.Errorf("non-streamed requests have a TPOT distribution: %+v", s.TPOT)
				}
			})
		})
	}
}

// TestRealNetwork: the same over real TCP and the real clock, within a
// tolerance that allows for a loaded machine (only late, never early).
func TestRealNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time test")
	}
	const ttft, itl = 40 * time.Millisecond, 8 * time.Millisecond
	ts := httptest.NewServer(fakeoai.New(fakeoai.Config{TTFT: ttft, ITL: itl}))
	defer ts.Close()
	out, err := Run(context.Background(), Config{
		Targets: []Target{{BaseURL: ts.URL, Endpoint: "/v1/completions", Model: "m"}},
		Prompts: prompts(4, 6), Stream: true, MaxConcurrency: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	const slack = 30 * time.Millisecond
	within := func(what string, got, want time.Duration) {
		if got < want-time.Millisecond || got > want+slack {
			t.Errorf("%s = %v, want %v (+%v)", what, got, want, slack)
		}
	}
	for _, r := range out.Records[0] {
		if !r.OK {
			t.Fatalf("request failed: %s", r.Error)
		}
		within("TTFT", r.TTFT, ttft)
		within("E2E", r.E2E, ttft+5*itl)
		s := Summarize("", []Record{r}, nil, r.Start, []float64{50}, nil)
		within("median ITL", time.Duration(s.ITL.Median*float64(time.Millisecond)), itl)
	}
}

// TestConcurrencyCap: at most MaxConcurrency requests are in flight at the
// server, and the run takes ceil(n/cap) request times.
func TestConcurrencyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out, srv := runFake(t, fakeoai.Config{TTFT: 20 * time.Millisecond, ITL: 10 * time.Millisecond},
			Config{Prompts: prompts(16, 5), Stream: true, MaxConcurrency: 4})
		if p := srv.PeakInFlight(); p != 4 {
			t.Errorf("peak in flight at the server %d, want 4", p)
		}
		s := Summarize("", out.Records[0], nil, out.Start, nil, nil)
		if s.MaxConcurrentRequests != 4 || s.Duration != 4*60*time.Millisecond {
			t.Errorf("peak %d, duration %v; want 4, 240ms", s.MaxConcurrentRequests, s.Duration)
		}
		if want := 16 / s.Duration.Seconds(); math.Abs(s.RequestThroughput-want) > 1e-9 {
			t.Errorf("request throughput %v, want %v", s.RequestThroughput, want)
		}
	})
}

// TestInterleaved: with two targets each prompt goes to both, one right
// after the other; both see the same prompts in the same order, and their
// requests alternate.
func TestInterleaved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := prompts(6, 3)
		for i := range ps {
			ps[i].Text = string(rune('a' + i))
		}
		out, srv := runFake(t, fakeoai.Config{TTFT: 10 * time.Millisecond, ITL: 5 * time.Millisecond}, Config{
			Targets: []Target{
				{Name: "A", BaseURL: "http://a", Endpoint: "/v1/completions"},
				{Name: "B", BaseURL: "http://b", Endpoint: "/v1/completions"},
			},
			Prompts: ps, Stream: true, MaxConcurrency: 1, RequestRate: 1000, Seed: 3,
		})
		for t0 := range 2 {
			for i, r := range out.Records[t0] {
				if r.Seq != 2*i+t0 {
					t.Errorf("target %d prompt %d dispatched %d-th, want %d-th", t0, i, r.Seq, 2*i+t0)
				}
			}
		}
		var hosts, texts []string
		var at []time.Time
		for _, a := range srv.Arrivals() {
			hosts = append(hosts, a.Host)
			texts = append(texts, a.Body["prompt"].(string))
			at = append(at, a.At)
		}
		if len(hosts) != 12 {
			t.Fatalf("%d arrivals, want 12", len(hosts))
		}
		for i := 0; i < len(hosts); i += 2 {
			pair := map[string]bool{hosts[i]: true, hosts[i+1]: true}
			if !pair["a"] || !pair["b"] || texts[i] != texts[i+1] || !at[i].Equal(at[i+1]) {
				t.Errorf("arrivals %d,%d: hosts %s,%s prompts %s,%s at %v,%v: want one to each target, same prompt, same time",
					i, i+1, hosts[i], hosts[i+1], texts[i], texts[i+1], at[i], at[i+1])
			}
			if want := string(rune('a' + i/2)); texts[i] != want {
				t.Errorf("arrival pair %d has prompt %q, want %q (in workload order)", i/2, texts[i], want)
			}
		}
	})
}

// TestRequestRate: a Poisson run dispatches on its seeded schedule, so the
// achieved rate is the schedule's, and that is near the target.
func TestRequestRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, rate = 400, 50.0
		out, _ := runFake(t, fakeoai.Config{TTFT: time.Millisecond}, Config{Prompts: prompts(n, 1), Stream: true, RequestRate: rate, Seed: 7})
		want, _ := Arrivals(NewRand(7), n, rate, 1)
		for i, r := range out.Records[0] {
			if got := r.Dispatched.Sub(out.Start); got != want[i] {
				t.Fatalf("request %d dispatched at %v, want %v", i, got, want[i])
			}
		}
		achieved := float64(n-1) / want[n-1].Seconds()
		if math.Abs(achieved/rate-1) > 3/math.Sqrt(n) { // 3σ of the mean gap
			t.Errorf("achieved rate %.2f/s, want %.0f/s ± %.0f%%", achieved, rate, 300/math.Sqrt(n))
		}
	})
}

// TestRequestRateReal: the same with the real clock: dispatch keeps to the
// schedule (late by at most the slack) and the achieved rate is near the
// target.
func TestRequestRateReal(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time test")
	}
	ts := httptest.NewServer(fakeoai.New(fakeoai.Config{}))
	defer ts.Close()
	const n, rate = 200, 400.0
	out, err := Run(context.Background(), Config{
		Targets: []Target{{BaseURL: ts.URL, Endpoint: "/v1/completions"}},
		Prompts: prompts(n, 2), Stream: true, RequestRate: rate, Seed: 11,
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Arrivals(NewRand(11), n, rate, 1)
	last := out.Records[0][n-1].Dispatched.Sub(out.Start)
	if late := last - want[n-1]; late < 0 || late > 50*time.Millisecond {
		t.Errorf("last dispatch at %v, scheduled %v", last, want[n-1])
	}
	achieved := float64(n-1) / last.Seconds()
	if math.Abs(achieved/rate-1) > 0.25 {
		t.Errorf("achieved %.1f req/s, want %.0f ± 25%%", achieved, rate)
	}
	if s := Summarize("", out.Records[0], nil, out.Start, nil, nil); s.Completed != n {
		t.Errorf("%d of %d completed: %v", s.Completed, n, s.ErrorSamples)
	}
}

// TestTenants: per-tenant counts of 200/408/429, Retry-After ignored or
// honoured, and Jain's index.
func TestTenants(t *testing.T) {
	tenants := []Tenant{
		{Name: "solo", APIKey: "k-solo", Weight: 2, Share: 1},
		{Name: "team", APIKey: "k-team", Weight: 1},
		{Name: "late", APIKey: "k-late", Weight: 1},
	}
	// solo's first attempt of every request is refused with Retry-After 2;
	// late's requests wait 300ms in a queue and get 408.
	admit := func() func(string, int) fakeoai.Decision {
		refused := map[string]bool{}
		return func(key string, _ int) fakeoai.Decision {
			switch key {
			case "k-solo":
				// Arrivals of the same request share nothing we can see,
				// so alternate: odd-numbered solo arrivals are retries.
				refused[key] = !refused[key]
				if refused[key] {
					return fakeoai.Decision{Status: 429, RetryAfter: 2}
				}
			case "k-late":
				return fakeoai.Decision{Status: 408, Wait: 300 * time.Millisecond}
			}
			return fakeoai.Decision{}
		}
	}
	for _, honour := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			// One at a time, so a solo retry directly follows its refusal.
			out, _ := runFake(t, fakeoai.Config{TTFT: 10 * time.Millisecond, ITL: 10 * time.Millisecond, Admit: admit()}, Config{
				Prompts: prompts(8, 4), Stream: true, Tenants: tenants, MaxConcurrency: 1,
				Retry: RetryPolicy{HonourRetryAfter: honour, MaxRetries: 3, DefaultWait: time.Second, MaxWait: time.Minute},
			})
			s := Summarize("fake", out.Records[0], tenants, out.Start, []float64{99}, nil)
			solo, team, late := s.Tenants[0], s.Tenants[1], s.Tenants[2]
			if solo.Requests != 4 || team.Requests != 2 || late.Requests != 2 {
				t.Fatalf("requests by tenant %d/%d/%d, want 4/2/2 (weights 2:1:1)", solo.Requests, team.Requests, late.Requests)
			}
			if late.Statuses["408"] != 2 || late.Completed != 0 || late.Reject.Median != 300 {
				t.Errorf("late: %v, %d completed, reject median %v ms; want two 408s after 300 ms", late.Statuses, late.Completed, late.Reject.Median)
			}
			if team.Statuses["200"] != 2 || team.Completed != 2 || team.OutputTokens != 8 {
				t.Errorf("team: %v, %d completed, %d tokens", team.Statuses, team.Completed, team.OutputTokens)
			}
			if !honour {
				// Every other solo request is refused for good.
				if solo.Statuses["429"] != 2 || solo.Statuses["200"] != 2 || solo.Retries != 0 || solo.WithRetryAfter != 2 || s.Errors["429"] != 2 {
					t.Errorf("ignore: solo %+v, errors %v", solo, s.Errors)
				}
			} else {
				// Each refused solo request waits 2 s and then succeeds.
				if solo.Statuses["429"] != 4 || solo.Statuses["200"] != 4 || solo.Completed != 4 || solo.Retries != 4 ||
					solo.RetriedThenOK != 4 || solo.RetryWait != 8*time.Second {
					t.Errorf("honour: solo %+v", solo)
				}
			}
			// Jain over tokens per share (1, 1, 1): late got nothing.
			shares := []float64{float64(solo.OutputTokens), float64(team.OutputTokens), 0}
			sum, sq := shares[0]+shares[1], shares[0]*shares[0]+shares[1]*shares[1]
			if want := sum * sum / (3 * sq); math.Abs(s.Fairness-want) > 1e-9 {
				t.Errorf("Jain %v, want %v", s.Fairness, want)
			}
		})
	}
}

// TestCancel: cancelling stops the run; requests in flight end and nothing
// leaks (synctest fails on goroutines left behind).
func TestCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := fakeoai.New(fakeoai.Config{TTFT: time.Second, ITL: time.Second})
		pipe := fakeoai.NewPipe(srv)
		defer pipe.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		out, err := Run(ctx, Config{Client: pipe.Client(), Targets: []Target{{BaseURL: "http://x", Endpoint: "/v1/completions"}},
			Prompts: prompts(10, 5), Stream: true, MaxConcurrency: 2, RequestRate: 2})
		if err != context.DeadlineExceeded {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		sent := 0
		for _, r := range out.Records[0] {
			if len(r.Attempts) > 0 {
				sent++
			}
		}
		if sent == 0 || sent == 10 {
			t.Errorf("%d of 10 sent before the deadline", sent)
		}
	})
}
