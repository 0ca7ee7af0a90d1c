package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Job is an async job as stored: the request it runs, its state and, once
// finished, its result. Status is the jobs API's state name; the store only
// knows that Finished != 0 means the job reached a final state.
type Job struct {
	Seq       int64 // submission order (assigned on insert); the list cursor
	ID        string
	Tenant    string
	KeyID     string
	Principal []byte // JSON snapshot of who submitted it (tier included)
	Model     string
	Endpoint  string
	Body      []byte // the request body the job runs (seed included)
	Status    string
	Attempts  int
	Created   time.Time
	Started   time.Time // zero: never started
	Finished  time.Time // zero: not finished
	Deadline  time.Time // zero: none
	Partial   []byte    // JSON of the output so far (or at the end)
	// ResultStatus and Result are the HTTP status and body the endpoint
	// answered (the completion object, or its error).
	ResultStatus int
	Result       []byte
	WebhookURL   string
	BatchID      string
	CustomID     string
}

// JobUpdate is a job's mutable state, written whole.
type JobUpdate struct {
	ID           string
	Status       string
	Attempts     int
	Started      time.Time
	Finished     time.Time
	Partial      []byte
	ResultStatus int
	Result       []byte
}

// Delivery is one webhook notification to send (or sent).
type Delivery struct {
	ID         string
	JobID      string
	Tenant     string
	URL        string
	Event      string
	Payload    []byte
	Attempts   int
	NextAt     time.Time
	LastStatus int
	LastError  string
	Delivered  time.Time // zero: not yet
	Failed     bool      // gave up
	Created    time.Time
}

// JobWrite is one group of job writes committed in a single transaction.
type JobWrite struct {
	Inserts    []Job
	Updates    []JobUpdate
	Deliveries []Delivery // new webhook deliveries
}

const jobColumns = `seq, id, tenant, key_id, principal, model, endpoint, body, status, attempts, created, started,
finished, deadline, partial, result_status, result, webhook_url, batch_id, custom_id`

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// WriteJobs commits inserts, updates and deliveries in one transaction; on
// return the inserted jobs' Seq fields are set. An update of an unknown id is
// ErrNotFound (and nothing is written).
func (db *DB) WriteJobs(ctx context.Context, w *JobWrite) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		for i := range w.Inserts {
			j := &w.Inserts[i]
			if j.ID == "" || j.Tenant == "" {
				return fmt.Errorf("%w: job without id or tenant", ErrInvalid)
			}
			if j.Created.IsZero() {
				j.Created = now()
			}
			res, err := tx.ExecContext(ctx, `
INSERT INTO jobs (id, tenant, key_id, principal, model, endpoint, body, status, attempts, created, started,
	finished, deadline, partial, result_status, result, webhook_url, batch_id, custom_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				j.ID, j.Tenant, j.KeyID, nonNil(j.Principal), j.Model, j.Endpoint, nonNil(j.Body), j.Status, j.Attempts,
				nanos(j.Created), nanos(j.Started), nanos(j.Finished), nanos(j.Deadline), nonNil(j.Partial),
				j.ResultStatus, nonNil(j.Result), j.WebhookURL, j.BatchID, j.CustomID)
			if err != nil {
				if strings.Contains(err.Error(), "UNIQUE") {
					return fmt.Errorf("job %s: %w", j.ID, ErrExists)
				}
				return err
			}
			if j.Seq, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		for _, u := range w.Updates {
			res, err := tx.ExecContext(ctx, `
UPDATE jobs SET status = ?, attempts = ?, started = ?, finished = ?, partial = ?, result_status = ?, result = ?
WHERE id = ?`, u.Status, u.Attempts, nanos(u.Started), nanos(u.Finished), nonNil(u.Partial), u.ResultStatus,
				nonNil(u.Result), u.ID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return fmt.Errorf("job %s: %w", u.ID, ErrNotFound)
			}
		}
		for _, d := range w.Deliveries {
			if d.Created.IsZero() {
				d.Created = now()
			}
			if _, err := tx.ExecContext(ctx, `
INSERT INTO webhook_deliveries (id, job_id, tenant, url, event, payload, attempts, next_at, created)
VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`, d.ID, d.JobID, d.Tenant, d.URL, d.Event, nonNil(d.Payload),
				nanos(d.NextAt), nanos(d.Created)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write jobs: %w", err)
	}
	return nil
}

func scanJob(row interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var created, started, finished, deadline int64
	err := row.Scan(&j.Seq, &j.ID, &j.Tenant, &j.KeyID, &j.Principal, &j.Model, &j.Endpoint, &j.Body, &j.Status,
		&j.Attempts, &created, &started, &finished, &deadline, &j.Partial, &j.ResultStatus, &j.Result,
		&j.WebhookURL, &j.BatchID, &j.CustomID)
	j.Created, j.Started, j.Finished, j.Deadline = fromNanos(created), fromNanos(started), fromNanos(finished), fromNanos(deadline)
	return j, err
}

// Job reads one job of tenant's; another tenant's job is ErrNotFound.
func (db *DB) Job(ctx context.Context, tenant, id string) (Job, error) {
	j, err := scanJob(db.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ? AND tenant = ?`, id, tenant))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("job %s: %w", id, err)
	}
	return j, nil
}

// JobFilter selects jobs of one tenant for a listing.
type JobFilter struct {
	Tenant  string
	Before  int64  // only jobs with Seq < Before (0: no bound): newest first
	Limit   int    // at most this many (default 20)
	Status  string // only this status ("" = any)
	BatchID string // only this batch's jobs ("" = any), then oldest first from After
	After   int64  // with BatchID: only Seq > After
}

// Jobs lists a tenant's jobs, newest first (a batch's: oldest first).
func (db *DB) Jobs(ctx context.Context, f JobFilter) ([]Job, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	q := `SELECT ` + jobColumns + ` FROM jobs WHERE tenant = ?`
	args := []any{f.Tenant}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	order := ` ORDER BY seq DESC`
	if f.BatchID != "" {
		q += ` AND batch_id = ? AND seq > ?`
		args = append(args, f.BatchID, f.After)
		order = ` ORDER BY seq ASC`
	} else if f.Before > 0 {
		q += ` AND seq < ?`
		args = append(args, f.Before)
	}
	q += order + ` LIMIT ?`
	args = append(args, f.Limit)
	return db.queryJobs(ctx, q, args...)
}

func (db *DB) queryJobs(ctx context.Context, q string, args ...any) ([]Job, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// UnfinishedJobs are all jobs not in a final state, oldest first: what a
// restarted server runs again.
func (db *DB) UnfinishedJobs(ctx context.Context) ([]Job, error) {
	return db.queryJobs(ctx, `SELECT `+jobColumns+` FROM jobs WHERE finished = 0 ORDER BY seq`)
}

// PurgeJobs deletes jobs that finished before cutoff, with their webhook
// deliveries; it returns how many jobs went.
func (db *DB) PurgeJobs(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
DELETE FROM webhook_deliveries WHERE job_id IN (SELECT id FROM jobs WHERE finished > 0 AND finished < ?)`,
			nanos(cutoff)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE finished > 0 AND finished < ?`, nanos(cutoff))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge jobs: %w", err)
	}
	return int(n), nil
}

// DueDeliveries are webhook deliveries neither delivered nor given up whose
// next attempt is due at now, oldest first.
func (db *DB) DueDeliveries(ctx context.Context, at time.Time, limit int) ([]Delivery, error) {
	rows, err := db.r.QueryContext(ctx, `
SELECT id, job_id, tenant, url, event, payload, attempts, next_at, last_status, last_error, created
FROM webhook_deliveries WHERE delivered = 0 AND failed = 0 AND next_at <= ? ORDER BY next_at LIMIT ?`,
		nanos(at), limit)
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var next, created int64
		if err := rows.Scan(&d.ID, &d.JobID, &d.Tenant, &d.URL, &d.Event, &d.Payload, &d.Attempts, &next,
			&d.LastStatus, &d.LastError, &created); err != nil {
			return nil, fmt.Errorf("due deliveries: %w", err)
		}
		d.NextAt, d.Created = fromNanos(next), fromNanos(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// NextDelivery is when the earliest pending delivery is due (zero: none).
func (db *DB) NextDelivery(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT MIN(next_at) FROM webhook_deliveries WHERE delivered = 0 AND failed = 0`).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next delivery: %w", err)
	}
	return fromNanos(next.Int64), nil
}

// RecordDelivery stores the outcome of one attempt of d (Attempts,
// LastStatus, LastError, NextAt, Delivered, Failed as d now holds them).
func (db *DB) RecordDelivery(ctx context.Context, d Delivery) error {
	failed := 0
	if d.Failed {
		failed = 1
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
UPDATE webhook_deliveries SET attempts = ?, next_at = ?, last_status = ?, last_error = ?, delivered = ?, failed = ?
WHERE id = ?`, d.Attempts, nanos(d.NextAt), d.LastStatus, d.LastError, nanos(d.Delivered), failed, d.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", d.ID, err)
	}
	return nil
}

// Deliveries lists a job's webhook deliveries, oldest first.
func (db *DB) Deliveries(ctx context.Context, jobID string) ([]Delivery, error) {
	rows, err := db.r.QueryContext(ctx, `
SELECT id, job_id, tenant, url, event, payload, attempts, next_at, last_status, last_error, delivered, failed, created
FROM webhook_deliveries WHERE job_id = ? ORDER BY created, id`, jobID)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", jobID, err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var next, delivered, created int64
		var failed int
		if err := rows.Scan(&d.ID, &d.JobID, &d.Tenant, &d.URL, &d.Event, &d.Payload, &d.Attempts, &next,
			&d.LastStatus, &d.LastError, &delivered, &failed, &created); err != nil {
			return nil, fmt.Errorf("deliveries of %s: %w", jobID, err)
		}
		d.NextAt, d.Delivered, d.Failed, d.Created = fromNanos(next), fromNanos(delivered), failed != 0, fromNanos(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// WebhookSecret is tenant's webhook signing secret, made (by newSecret) and
// stored on first use.
func (db *DB) WebhookSecret(ctx context.Context, tenant string, newSecret func() (string, error)) (string, error) {
	var secret string
	err := db.r.QueryRowContext(ctx, `SELECT secret FROM webhook_secrets WHERE tenant = ?`, tenant).Scan(&secret)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("webhook secret of %s: %w", tenant, err)
	}
	fresh, err := newSecret()
	if err != nil {
		return "", fmt.Errorf("webhook secret of %s: %w", tenant, err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_secrets (tenant, secret, created) VALUES (?, ?, ?)
ON CONFLICT (tenant) DO NOTHING`, tenant, fresh, nanos(now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT secret FROM webhook_secrets WHERE tenant = ?`, tenant).Scan(&secret)
	})
	if err != nil {
		return "", fmt.Errorf("webhook secret of %s: %w", tenant, err)
	}
	return secret, nil
}
