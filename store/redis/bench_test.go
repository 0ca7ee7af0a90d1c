package redisslots

import (
	"context"
	"slices"
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
