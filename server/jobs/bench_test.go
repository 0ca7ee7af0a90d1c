package jobs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTenThousandJobs submits 10,000 async jobs (16 tokens each, the
// fake backend with no step time, open mode, 256 at once) from 32 clients
// and waits for all to finish; the baseline is the same 10,000 requests
// made to /v1/completions directly by 32 clients in the same run.
//
//	go test -run '^$' -bench TenThousandJobs -benchtime 1x ./server/jobs/
func BenchmarkTenThousandJobs(b *testing.B) {
	const jobs, clients = 10000, 32
	for range b.N {
		h := newBenchHarness(b)
		body := func(i int) string {
			return fmt.Sprintf(`{"prompt": "benchmark job %d", "max_tokens": 16, "async": true}`, i)
		}
		// Baseline: the interactive endpoint.
		start := time.Now()
		runClients(b, clients, jobs, func(i int) {
			resp, err := http.Post(h.http.URL+EndpointCompletions, "application/json",
				strings.NewReader(strings.Replace(body(i), `"async": true`, `"model": "stories"`, 1)))
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("direct %d: %v %v", i, err, resp)
			}
			resp.Body.Close()
		})
		direct := time.Since(start)

		var lat []time.Duration
		var mu sync.Mutex
		ids := make([]string, jobs)
		start = time.Now()
		runClients(b, clients, jobs, func(i int) {
			t0 := time.Now()
			resp, err := http.Post(h.http.URL+"/v1/stories/generate", "application/json", strings.NewReader(body(i)))
			if err != nil || resp.StatusCode != http.StatusAccepted {
				b.Fatalf("submit %d: %v %v", i, err, resp)
			}
			var o jobObject
			_ = json.NewDecoder(resp.Body).Decode(&o)
			resp.Body.Close()
			d := time.Since(t0)
			mu.Lock()
			lat = append(lat, d)
			ids[i] = o.ID
			mu.Unlock()
		})
		submitted := time.Since(start)
		for {
			h.svc.mu.Lock()
			left := len(h.svc.jobs)
			h.svc.mu.Unlock()
			if left == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		all := time.Since(start)
		slices.Sort(lat)
		var finished atomic.Int64
		runClients(b, clients, 200, func(i int) { // spot check: finished, with a result
			resp, err := http.Get(h.http.URL + "/v1/jobs/" + ids[i*jobs/200])
			if err != nil {
				b.Fatal(err)
			}
			var o jobObject
			_ = json.NewDecoder(resp.Body).Decode(&o)
			resp.Body.Close()
			if o.Status == Finished && len(o.Result) > 0 {
				finished.Add(1)
			}
		})
		if finished.Load() != 200 {
			b.Fatalf("%d of 200 sampled jobs finished", finished.Load())
		}
		b.ReportMetric(float64(jobs)/submitted.Seconds(), "submits/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "submit_p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "submit_p99_ms")
		b.ReportMetric(float64(jobs)/all.Seconds(), "jobs/s")
		b.ReportMetric(float64(jobs)/direct.Seconds(), "direct_req/s")
		b.ReportMetric(all.Seconds()/direct.Seconds(), "jobs/direct_time")
		h.stop()
		h.eng.Close()
	}
}

// newBenchHarness is an open-mode harness (no keys, no admission: jobs are
// bounded by Concurrency) with room for 10,000 queued jobs.
func newBenchHarness(b *testing.B) *harness {
	return newHarness(b, withConfig(func(c *Config) {
		c.Auth, c.Admission, c.Queue, c.Concurrency, c.FlushInterval = nil, nil, 10000, 256, 100*time.Millisecond
	}))
}

func runClients(b *testing.B, clients, n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
