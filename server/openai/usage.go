package openai

import (
	"context"
	"net/http"
	"time"

	"github.com/sotasystems/sota/store"
)

// UsageReader summarises recorded usage (a *store.DB is one).
type UsageReader interface {
	UsageSummary(ctx context.Context, since time.Time, tenant string) ([]store.TenantUsage, error)
}

// usageReply is GET /v1/usage: the caller's tenant's totals since a time,
// and its live streams.
type usageReply struct {
	Object           string       `json:"object"`
	Tenant           string       `json:"tenant"`
	Since            int64        `json:"since"` // unix seconds
	Requests         int          `json:"requests"`
	PromptTokens     int64        `json:"prompt_tokens"`
	CompletionTokens int64        `json:"completion_tokens"`
	Status           statusCounts `json:"status"`
	QueueTimeMS      latencyMS    `json:"queue_time_ms"`
	TTFTMS           latencyMS    `json:"ttft_ms"`
	Streams          streamsNow   `json:"streams"`
}

type statusCounts struct {
	OK           int `json:"ok"`
	QueueTimeout int `json:"queue_timeout"`
	OverCapacity int `json:"stream_capacity_exceeded"`
	Errors       int `json:"errors"`
}

type latencyMS struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
}

type streamsNow struct {
	Limit   int `json:"limit"`
	Running int `json:"running"`
	Queued  int `json:"queued"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// usage answers GET /v1/usage[?since=24h|RFC 3339 time]: the caller's own
// tenant only. Records reach the store within a second of a request's end.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	if s.cfg.UsageReader == nil {
		writeError(w, apiError(http.StatusNotFound, "invalid_request_error", "", "not_found",
			"usage is not recorded by this server (it has no database)"))
		return
	}
	now := s.cfg.Now()
	since := now.Add(-24 * time.Hour)
	if v := r.URL.Query().Get("since"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			since = t
		} else {
			writeError(w, invalid("since", "since %q: want a duration (24h) or an RFC 3339 time", v))
			return
		}
	}
	p := recordFrom(r.Context()).principal
	rows, err := s.cfg.UsageReader.UsageSummary(r.Context(), since, p.Tenant)
	if err != nil {
		s.log.Error("usage summary", "tenant", p.Tenant, "err", err)
		writeError(w, apiError(http.StatusServiceUnavailable, "service_unavailable", "", "", "usage is unavailable; try again"))
		return
	}
	out := usageReply{Object: "usage", Tenant: p.Tenant, Since: since.Unix(), Streams: streamsNow{Limit: p.Limits().Streams}}
	for _, u := range rows {
		if u.Tenant != p.Tenant {
			continue
		}
		out.Requests, out.PromptTokens, out.CompletionTokens = u.Requests, u.PromptTokens, u.CompletionTokens
		out.Status = statusCounts{OK: u.OK, QueueTimeout: u.QueueTimeout, OverCapacity: u.OverCapacity, Errors: u.Errors}
		out.QueueTimeMS = latencyMS{ms(u.QueueMean), ms(u.QueueP50), ms(u.QueueP99)}
		out.TTFTMS = latencyMS{ms(u.TTFTMean), ms(u.TTFTP50), ms(u.TTFTP99)}
	}
	if s.cfg.Admission != nil {
		for _, st := range s.cfg.Admission.Snapshot() {
			if st.Tenant == p.Tenant {
				out.Streams.Running, out.Streams.Queued = st.Running, st.Queued
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}
