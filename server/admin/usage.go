package admin

import (
	"net/http"
	"time"

	"github.com/sotasystems/sota/admission"
)

// usageJSON is one tenant's usage over the window.
type usageJSON struct {
	Tenant           string    `json:"tenant"`
	Requests         int       `json:"requests"`
	OK               int       `json:"ok"`
	QueueTimeout     int       `json:"queue_timeout"`
	OverCapacity     int       `json:"stream_capacity_exceeded"`
	Errors           int       `json:"errors"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	QueueTimeMS      latencyMS `json:"queue_time_ms"`
	TTFTMS           latencyMS `json:"ttft_ms"`
}

type latencyMS struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type usageList struct {
	Object string      `json:"object"`
	Since  int64       `json:"since"` // unix seconds
	Data   []usageJSON `json:"data"`
}

// usage answers GET /admin/v1/usage[?since=24h|RFC 3339 time][&tenant=T]:
// every tenant's (or one tenant's) requests that arrived at or after since.
func (s *server) usage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.cfg.Now()
	since := now.Add(-24 * time.Hour)
	if v := q.Get("since"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			since = t
		} else {
			writeError(w, invalid("since", "since %q: want a positive duration (24h) or an RFC 3339 time", v))
			return
		}
	}
	tenant := q.Get("tenant")
	if tenant != "" {
		if err := admission.CheckTenantID(tenant); err != nil {
			writeError(w, invalid("tenant", "%v", err))
			return
		}
	}
	rows, err := s.cfg.DB.UsageSummary(r.Context(), since, tenant)
	if err != nil {
		writeError(w, s.storeError(r, "usage summary", err))
		return
	}
	out := usageList{Object: "list", Since: since.Unix(), Data: make([]usageJSON, 0, len(rows))}
	for _, u := range rows {
		out.Data = append(out.Data, usageJSON{Tenant: u.Tenant, Requests: u.Requests, OK: u.OK,
			QueueTimeout: u.QueueTimeout, OverCapacity: u.OverCapacity, Errors: u.Errors,
			PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
			QueueTimeMS: latencyMS{ms(u.QueueMean), ms(u.QueueP50), ms(u.QueueP99)},
			TTFTMS:      latencyMS{ms(u.TTFTMean), ms(u.TTFTP50), ms(u.TTFTP99)}})
	}
	writeJSON(w, http.StatusOK, out)
}

// liveTenantJSON is one live tenant's slots and queue.
type liveTenantJSON struct {
	Tenant       string `json:"tenant"`
	Running      int    `json:"running"`
	Queued       int    `json:"queued"`
	LimitStreams int    `json:"limit_streams"`
	QueueLimit   int    `json:"queue_limit"`
}

// live answers GET /admin/v1/live: the tenants with streams running or
// queued now, by name (none without an Admitter).
func (s *server) live(w http.ResponseWriter, r *http.Request) {
	out := list[liveTenantJSON]{Object: "list", Data: []liveTenantJSON{}}
	if s.cfg.Admission != nil {
		for _, st := range s.cfg.Admission.Snapshot() {
			out.Data = append(out.Data, liveTenantJSON{Tenant: st.Tenant, Running: st.Running, Queued: st.Queued,
				LimitStreams: st.Limits.Streams, QueueLimit: st.Limits.Queue})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
