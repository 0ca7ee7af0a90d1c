package metrics

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sotasystems/sota/admission"
)

// Rejection reasons of sota:admission_rejected_total.
const (
	RejectQueueFull    = "queue_full"    // 429: the tenant's queue was full
	RejectQueueTimeout = "queue_timeout" // 408: the wait exceeded the limit
	RejectUnauthorized = "unauthorized"  // 401: no valid API key
	RejectForbidden    = "forbidden"     // 403: the model is not in the tier
)

// RejectReasons are every reason, in a fixed order.
var RejectReasons = []string{RejectQueueFull, RejectQueueTimeout, RejectUnauthorized, RejectForbidden}

// OtherTenant labels the tenants beyond the top ones.
const OtherTenant = "other"

// Server is the API server's metrics.
type Server struct {
	requests *prometheus.CounterVec
	rejected map[string]prometheus.Counter
	wait     prometheus.Histogram

	mu   sync.Mutex
	code map[reqKey]prometheus.Counter // resolved children, so a request hashes no labels
}

type reqKey struct {
	endpoint string
	status   int
}

// Server registers the server's metrics (once; later calls return the
// same); a non-nil admitter adds the per-tenant gauges, read from its
// Snapshot at scrape time.
func (r *Registry) Server(a admission.Admitter) *Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.server != nil {
		return r.server
	}
	s := &Server{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "http_requests_total",
			Help: "API requests by endpoint and status (499: the client left before any byte)."}, []string{"endpoint", "code"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: Prefix + "admission_wait_seconds",
			Help: "Time admitted requests waited in their tenant's queue for a stream slot.", Buckets: LatencyBuckets}),
		rejected: map[string]prometheus.Counter{},
		code:     map[reqKey]prometheus.Counter{},
	}
	rej := prometheus.NewCounterVec(prometheus.CounterOpts{Name: Prefix + "admission_rejected_total",
		Help: "Requests refused by admission, by reason (queue_full 429, queue_timeout 408, unauthorized 401, forbidden 403)."},
		[]string{"reason"})
	for _, reason := range RejectReasons {
		s.rejected[reason] = rej.WithLabelValues(reason)
	}
	r.reg.MustRegister(s.requests, s.wait, rej)
	if a != nil {
		r.reg.MustRegister(&tenantCollector{a: a, top: r.opts.TopTenants})
	}
	r.server = s
	return s
}

// Request counts one API request that ended with status.
func (s *Server) Request(endpoint string, status int) {
	k := reqKey{endpoint, status}
	s.mu.Lock()
	c, ok := s.code[k]
	if !ok {
		c = s.requests.WithLabelValues(endpoint, strconv.Itoa(status))
		s.code[k] = c
	}
	s.mu.Unlock()
	c.Inc()
}

// Rejected counts an admission rejection (one of RejectReasons).
func (s *Server) Rejected(reason string) {
	if c, ok := s.rejected[reason]; ok {
		c.Inc()
	}
}

// AdmissionWait records an admitted request's wait for its slot.
func (s *Server) AdmissionWait(seconds float64) { s.wait.Observe(seconds) }

// RejectReason is the admission rejection an API status means, or "".
func RejectReason(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return RejectQueueFull
	case http.StatusRequestTimeout:
		return RejectQueueTimeout
	case http.StatusUnauthorized:
		return RejectUnauthorized
	case http.StatusForbidden:
		return RejectForbidden
	}
	return ""
}

var (
	descTenantStreams = prometheus.NewDesc(Prefix+"tenant_streams_active",
		`Streams a tenant holds now (the busiest tenants by name, the rest added up as "other").`, []string{"tenant"}, nil)
	descTenantQueue = prometheus.NewDesc(Prefix+"tenant_queue_depth",
		`Requests waiting in a tenant's admission queue (the busiest tenants by name, the rest as "other").`, []string{"tenant"}, nil)
)

// tenantCollector reads admission's per-tenant state at scrape time,
// bounding the label's cardinality to the top tenants plus "other".
type tenantCollector struct {
	a   admission.Admitter
	top int
}

func (c *tenantCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTenantStreams
	ch <- descTenantQueue
}

func (c *tenantCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range TopTenants(c.a.Snapshot(), c.top) {
		ch <- prometheus.MustNewConstMetric(descTenantStreams, prometheus.GaugeValue, float64(t.Running), t.Tenant)
		ch <- prometheus.MustNewConstMetric(descTenantQueue, prometheus.GaugeValue, float64(t.Queued), t.Tenant)
	}
}

// TopTenants keeps the n busiest tenants (by running plus queued, then by
// name) and adds the rest up as one "other" entry (present only when there
// are more than n; a tenant really named "other" joins it).
func TopTenants(states []admission.TenantState, n int) []admission.TenantState {
	ts := slices.Clone(states)
	slices.SortFunc(ts, func(a, b admission.TenantState) int {
		if c := cmp.Compare(b.Running+b.Queued, a.Running+a.Queued); c != 0 {
			return c
		}
		return cmp.Compare(a.Tenant, b.Tenant)
	})
	var other *admission.TenantState
	out := ts[:0]
	for _, t := range ts {
		if len(out) < n && t.Tenant != OtherTenant {
			out = append(out, t)
			continue
		}
		if other == nil {
			other = &admission.TenantState{Tenant: OtherTenant}
		}
		other.Running += t.Running
		other.Queued += t.Queued
	}
	if other != nil {
		out = append(out, *other)
	}
	return out
}
