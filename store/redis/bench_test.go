package redisslots

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sotasystems/sota/admission"
)

// BenchmarkAdmitRelease is one admission decision and its release through
// a redis-server on loopback (two scripts, two round trips); it reports
// the p50 and p99 of the Admit alone.
func BenchmarkAdmitRelease(b *testing.B) {
	s := startRedis(b)
	a := replica(b, s, nil)
	r := admission.Request{Tenant: "bench", Limits: lim(4, 4, time.Minute)}
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		tk, err := a.Admit(ctx, r)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		tk.Release()
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkAdmitReleaseParallel is the same from two replicas at once
// (GOMAXPROCS goroutines each way, 8 tenants with room): the decision's
// cost when Redis serialises many callers.
func BenchmarkAdmitReleaseParallel(b *testing.B) {
	s := startRedis(b)
	as := []*Admitter{replica(b, s, nil), replica(b, s, nil)}
	var mu sync.Mutex
	var lat []time.Duration
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := n.Add(1)
		a := as[i%2]
		r := admission.Request{Tenant: "t" + strconv.Itoa(int(i%8)), Limits: lim(1000, 0, time.Minute)}
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			tk, err := a.Admit(context.Background(), r)
			mine = append(mine, time.Since(start))
			if err != nil {
				b.Error(err)
				return
			}
			tk.Release()
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}
