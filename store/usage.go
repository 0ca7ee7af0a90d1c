package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Usage is one finished (or refused) request.
type Usage struct {
	Time             time.Time // when the request arrived
	RequestID        string
	Tenant           string
	KeyID            string
	Model            string
	Priority         string // the applied class name
	User             string // the client's "user" field
	Endpoint         string // e.g. "/v1/chat/completions"
	PromptTokens     int
	CompletionTokens int
	QueueTime        time.Duration // waiting for a stream slot
	TTFT             time.Duration // arrival to first token; 0 if none was sent
	Duration         time.Duration // arrival to last byte
	Status           int           // HTTP status
}

// RecordUsage appends the records in one transaction.
func (db *DB) RecordUsage(ctx context.Context, us []Usage) error {
	if len(us) == 0 {
		return nil
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `
INSERT INTO usage (time, request_id, tenant, key_id, model, priority, user_name, endpoint,
	prompt_tokens, completion_tokens, queue_ns, ttft_ns, duration_ns, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range us {
			t := u.Time
			if t.IsZero() {
				t = now()
			}
			if _, err := stmt.ExecContext(ctx, nanos(t), u.RequestID, u.Tenant, u.KeyID, u.Model, u.Priority,
				u.User, u.Endpoint, u.PromptTokens, u.CompletionTokens,
				int64(u.QueueTime), int64(u.TTFT), int64(u.Duration), u.Status); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d usage records: %w", len(us), err)
	}
	return nil
}

// TenantUsage summarises one tenant's requests over a window.
type TenantUsage struct {
	Tenant   string
	Requests int
	// By status: 2xx, 408 (queue timeout), 429 (over capacity), anything else.
	OK, QueueTimeout, OverCapacity, Errors int
	PromptTokens, CompletionTokens         int64
	// Queue time over all requests (a refused one waited 0, a timed-out one
	// the whole wait).
	QueueMean, QueueP50, QueueP99 time.Duration
	// Time to first token over the requests that got one.
	TTFTMean, TTFTP50, TTFTP99 time.Duration
}

// UsageSummary summarises the requests that arrived at or after since, per
// tenant, ordered by tenant; tenant "" means all tenants.
func (db *DB) UsageSummary(ctx context.Context, since time.Time, tenant string) ([]TenantUsage, error) {
	q := `SELECT tenant, status, prompt_tokens, completion_tokens, queue_ns, ttft_ns FROM usage WHERE time >= ?`
	args := []any{nanos(since)}
	if tenant != "" {
		q += ` AND tenant = ?`
		args = append(args, tenant)
	}
	q += ` ORDER BY tenant`
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("usage summary: %w", err)
	}
	defer rows.Close()

	var out []TenantUsage
	var queue, ttft []time.Duration
	finish := func() {
		if len(out) == 0 {
			return
		}
		s := &out[len(out)-1]
		s.QueueMean, s.QueueP50, s.QueueP99 = durationStats(queue)
		s.TTFTMean, s.TTFTP50, s.TTFTP99 = durationStats(ttft)
		queue, ttft = queue[:0], ttft[:0]
	}
	for rows.Next() {
		var name string
		var status int
		var prompt, completion, queueNs, ttftNs int64
		if err := rows.Scan(&name, &status, &prompt, &completion, &queueNs, &ttftNs); err != nil {
			return nil, fmt.Errorf("usage summary: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Tenant != name {
			finish()
			out = append(out, TenantUsage{Tenant: name})
		}
		s := &out[len(out)-1]
		s.Requests++
		switch {
		case status >= 200 && status < 300:
			s.OK++
		case status == 408:
			s.QueueTimeout++
		case status == 429:
			s.OverCapacity++
		default:
			s.Errors++
		}
		s.PromptTokens += prompt
		s.CompletionTokens += completion
		queue = append(queue, time.Duration(queueNs))
		if ttftNs > 0 {
			ttft = append(ttft, time.Duration(ttftNs))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage summary: %w", err)
	}
	finish()
	return out, nil
}

// durationStats is the mean and the nearest-rank 50th and 99th percentiles
// of ds (zeros when empty); it sorts ds.
func durationStats(ds []time.Duration) (mean, p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	var sum float64
	for _, d := range ds {
		sum += float64(d)
	}
	return time.Duration(sum / float64(len(ds))), percentile(ds, 50), percentile(ds, 99)
}

// percentile is the nearest-rank p-th percentile of sorted, non-empty ds.
func percentile(ds []time.Duration, p int) time.Duration {
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 * n)
	return ds[max(rank, 1)-1]
}
