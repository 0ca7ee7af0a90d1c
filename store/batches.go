package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// File is an uploaded file (the OpenAI Files API), or a batch's output.
type File struct {
	ID       string
	Tenant   string
	Purpose  string
	Filename string
	Bytes    int64
	Created  time.Time
	Data     []byte // nil when listed
}

// PutFile stores a new file.
func (db *DB) PutFile(ctx context.Context, f File) error {
	if f.ID == "" || f.Tenant == "" {
		return fmt.Errorf("put file: %w: empty id or tenant", ErrInvalid)
	}
	if f.Created.IsZero() {
		f.Created = now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO files (id, tenant, purpose, filename, bytes, created, data)
VALUES (?, ?, ?, ?, ?, ?, ?)`, f.ID, f.Tenant, f.Purpose, f.Filename, len(f.Data), nanos(f.Created), nonNil(f.Data))
		return err
	})
	if err != nil {
		return fmt.Errorf("put file %s: %w", f.ID, err)
	}
	return nil
}

// File reads one of tenant's files; withData also reads its content.
func (db *DB) File(ctx context.Context, tenant, id string, withData bool) (File, error) {
	f := File{ID: id, Tenant: tenant}
	var created int64
	q := `SELECT purpose, filename, bytes, created FROM files WHERE id = ? AND tenant = ?`
	dest := []any{&f.Purpose, &f.Filename, &f.Bytes, &created}
	if withData {
		q = `SELECT purpose, filename, bytes, created, data FROM files WHERE id = ? AND tenant = ?`
		dest = append(dest, &f.Data)
	}
	err := db.r.QueryRowContext(ctx, q, id, tenant).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, fmt.Errorf("file %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return File{}, fmt.Errorf("file %s: %w", id, err)
	}
	f.Created = fromNanos(created)
	return f, nil
}

// Files lists tenant's files, newest first (without their content).
func (db *DB) Files(ctx context.Context, tenant string, limit int) ([]File, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, purpose, filename, bytes, created FROM files WHERE tenant = ?
ORDER BY created DESC, id DESC LIMIT ?`, tenant, limit)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		f := File{Tenant: tenant}
		var created int64
		if err := rows.Scan(&f.ID, &f.Purpose, &f.Filename, &f.Bytes, &created); err != nil {
			return nil, fmt.Errorf("list files: %w", err)
		}
		f.Created = fromNanos(created)
		out = append(out, f)
	}
	return out, rows.Err()
}

// DeleteFile deletes one of tenant's files; ErrNotFound if none.
func (db *DB) DeleteFile(ctx context.Context, tenant, id string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM files WHERE id = ? AND tenant = ?`, id, tenant)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete file %s: %w", id, err)
	}
	return nil
}

// Batch is a batch as stored: its API object as JSON, with the columns
// it is found by.
type Batch struct {
	ID      string
	Tenant  string
	Status  string
	Created time.Time
	Object  []byte
}

// PutBatch inserts or replaces a batch (Created is kept from the first).
func (db *DB) PutBatch(ctx context.Context, b Batch) error {
	if b.Created.IsZero() {
		b.Created = now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO batches (id, tenant, status, created, object) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET status = excluded.status, object = excluded.object`,
			b.ID, b.Tenant, b.Status, nanos(b.Created), nonNil(b.Object))
		return err
	})
	if err != nil {
		return fmt.Errorf("put batch %s: %w", b.ID, err)
	}
	return nil
}

func scanBatch(row interface{ Scan(...any) error }) (Batch, error) {
	var b Batch
	var created int64
	err := row.Scan(&b.ID, &b.Tenant, &b.Status, &created, &b.Object)
	b.Created = fromNanos(created)
	return b, err
}

// Batch reads one of tenant's batches.
func (db *DB) Batch(ctx context.Context, tenant, id string) (Batch, error) {
	b, err := scanBatch(db.r.QueryRowContext(ctx, `SELECT id, tenant, status, created, object FROM batches
WHERE id = ? AND tenant = ?`, id, tenant))
	if errors.Is(err, sql.ErrNoRows) {
		return Batch{}, fmt.Errorf("batch %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Batch{}, fmt.Errorf("batch %s: %w", id, err)
	}
	return b, nil
}

// Batches lists tenant's batches newest first, before the batch with id
// before ("" = from the newest).
func (db *DB) Batches(ctx context.Context, tenant, before string, limit int) ([]Batch, error) {
	q := `SELECT id, tenant, status, created, object FROM batches WHERE tenant = ?`
	args := []any{tenant}
	if before != "" {
		q += ` AND (created, id) < (SELECT created, id FROM batches WHERE id = ? AND tenant = ?)`
		args = append(args, before, tenant)
	}
	q += ` ORDER BY created DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return db.queryBatches(ctx, q, args...)
}

// BatchesIn lists every tenant's batches in one of the statuses.
func (db *DB) BatchesIn(ctx context.Context, statuses ...string) ([]Batch, error) {
	var out []Batch
	for _, s := range statuses {
		bs, err := db.queryBatches(ctx, `SELECT id, tenant, status, created, object FROM batches WHERE status = ?`, s)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	return out, nil
}

func (db *DB) queryBatches(ctx context.Context, q string, args ...any) ([]Batch, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, fmt.Errorf("list batches: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// BatchCounts counts a batch's jobs by status.
func (db *DB) BatchCounts(ctx context.Context, tenant, batchID string) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM jobs WHERE tenant = ? AND batch_id = ? GROUP BY status`,
		tenant, batchID)
	if err != nil {
		return nil, fmt.Errorf("batch %s counts: %w", batchID, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("batch %s counts: %w", batchID, err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

// finalBatchStatuses are the batch states nothing changes after.
const finalBatchStatuses = `'completed', 'failed', 'cancelled', 'expired'`

// PurgeBatches deletes finished batches created before cutoff, and files
// created before cutoff that no unfinished batch reads; it returns how many
// of each went.
func (db *DB) PurgeBatches(ctx context.Context, cutoff time.Time) (batches, files int, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM batches WHERE status IN (`+finalBatchStatuses+`) AND created < ?`,
			nanos(cutoff))
		if err != nil {
			return err
		}
		nb, err := res.RowsAffected()
		if err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `
DELETE FROM files WHERE created < ? AND id NOT IN (
	SELECT json_extract(object, '$.input_file_id') FROM batches
	WHERE status NOT IN (`+finalBatchStatuses+`) AND json_extract(object, '$.input_file_id') IS NOT NULL)`,
			nanos(cutoff))
		if err != nil {
			return err
		}
		nf, err := res.RowsAffected()
		batches, files = int(nb), int(nf)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("purge batches: %w", err)
	}
	return batches, files, nil
}
