package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sotasystems/sota/store"
)

type usageCmd struct {
	Since   time.Duration `help:"Window: requests that arrived this long ago or later." default:"24h"`
	Tenant  string        `help:"Only this tenant."`
	JSON    bool          `name:"json" help:"Print JSON instead of a table."`
	dbFlags `embed:""`
}

// usageJSON is a tenant's usage as `usage --json` prints it; times in seconds.
type usageJSON struct {
	Tenant           string  `json:"tenant"`
	Requests         int     `json:"requests"`
	OK               int     `json:"ok"`
	QueueTimeout     int     `json:"queue_timeout"`
	OverCapacity     int     `json:"over_capacity"`
	Errors           int     `json:"errors"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	QueueMean        float64 `json:"queue_time_mean_seconds"`
	QueueP50         float64 `json:"queue_time_p50_seconds"`
	QueueP99         float64 `json:"queue_time_p99_seconds"`
	TTFTMean         float64 `json:"ttft_mean_seconds"`
	TTFTP50          float64 `json:"ttft_p50_seconds"`
	TTFTP99          float64 `json:"ttft_p99_seconds"`
}

func (c *usageCmd) Run(rc *runContext) error {
	if c.Since <= 0 {
		return fmt.Errorf("--since %v: want a positive duration such as 24h", c.Since)
	}
	db, err := c.dbFlags.open()
	if err != nil {
		return err
	}
	defer db.Close()
	sum, err := db.UsageSummary(rc.ctx, time.Now().Add(-c.Since), c.Tenant)
	if err != nil {
		return err
	}
	if c.JSON {
		out := make([]usageJSON, 0, len(sum))
		for _, u := range sum {
			out = append(out, usageJSON{Tenant: u.Tenant, Requests: u.Requests, OK: u.OK,
				QueueTimeout: u.QueueTimeout, OverCapacity: u.OverCapacity, Errors: u.Errors,
				PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
				QueueMean: u.QueueMean.Seconds(), QueueP50: u.QueueP50.Seconds(), QueueP99: u.QueueP99.Seconds(),
				TTFTMean: u.TTFTMean.Seconds(), TTFTP50: u.TTFTP50.Seconds(), TTFTP99: u.TTFTP99.Seconds()})
		}
		return writeJSON(rc.stdout, out)
	}
	tw := newTable(rc.stdout, "TENANT", "REQUESTS", "2XX", "408", "429", "OTHER", "PROMPT TOK", "COMPL TOK",
		"QUEUE MEAN", "QUEUE P50", "QUEUE P99", "TTFT MEAN", "TTFT P50", "TTFT P99")
	for _, u := range sum {
		tw.row(u.Tenant, strconv.Itoa(u.Requests), strconv.Itoa(u.OK), strconv.Itoa(u.QueueTimeout),
			strconv.Itoa(u.OverCapacity), strconv.Itoa(u.Errors),
			strconv.FormatInt(u.PromptTokens, 10), strconv.FormatInt(u.CompletionTokens, 10),
			fmtDur(u.QueueMean), fmtDur(u.QueueP50), fmtDur(u.QueueP99), ttftText(u, u.TTFTMean),
			ttftText(u, u.TTFTP50), ttftText(u, u.TTFTP99))
	}
	if err := tw.flush(); err != nil {
		return err
	}
	if len(sum) == 0 {
		fmt.Fprintf(rc.stderr, "no requests in the last %v\n", c.Since)
	}
	return nil
}

// fmtDur rounds a latency for a table: milliseconds, or microseconds below one.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

// ttftText is "-" for a tenant none of whose requests got a first token.
func ttftText(u store.TenantUsage, d time.Duration) string {
	if u.TTFTMean == 0 {
		return "-"
	}
	return fmtDur(d)
}
