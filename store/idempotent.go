package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MaxIdempotentSize bounds an idempotency record's header and body together.
const MaxIdempotentSize = 4 << 20

// Idempotent is the stored response to a request with an X-Request-Id, kept
// for replay to a retry with the same id.
type Idempotent struct {
	Tenant    string
	RequestID string
	BodyHash  [32]byte // SHA-256 of the request body: a retry must match it
	Status    int
	Header    []byte // JSON of the replayed response headers
	Body      []byte
	Created   time.Time
}

// PutIdempotent stores a response for (Tenant, RequestID). The first one
// stored wins: a second is ErrExists. Over MaxIdempotentSize is ErrTooLarge.
func (db *DB) PutIdempotent(ctx context.Context, r Idempotent) error {
	switch {
	case r.Tenant == "" || r.RequestID == "":
		return fmt.Errorf("put idempotent: %w: empty tenant or request id", ErrInvalid)
	case len(r.Header)+len(r.Body) > MaxIdempotentSize:
		return fmt.Errorf("put idempotent %s/%s: %w: %d bytes, limit %d",
			r.Tenant, r.RequestID, ErrTooLarge, len(r.Header)+len(r.Body), MaxIdempotentSize)
	}
	created := r.Created
	if created.IsZero() {
		created = now()
	}
	header, body := r.Header, r.Body
	if header == nil {
		header = []byte{}
	}
	if body == nil {
		body = []byte{}
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
INSERT INTO idempotent (tenant, request_id, body_hash, status, header, body, created)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, request_id) DO NOTHING`,
			r.Tenant, r.RequestID, r.BodyHash[:], r.Status, header, body, nanos(created))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrExists
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put idempotent %s/%s: %w", r.Tenant, r.RequestID, err)
	}
	return nil
}

// Idempotent reads the record for (tenant, requestID); ErrNotFound if none.
func (db *DB) Idempotent(ctx context.Context, tenant, requestID string) (Idempotent, error) {
	r := Idempotent{Tenant: tenant, RequestID: requestID}
	var hash []byte
	var created int64
	err := db.r.QueryRowContext(ctx, `
SELECT body_hash, status, header, body, created FROM idempotent WHERE tenant = ? AND request_id = ?`,
		tenant, requestID).Scan(&hash, &r.Status, &r.Header, &r.Body, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Idempotent{}, fmt.Errorf("idempotent %s/%s: %w", tenant, requestID, ErrNotFound)
	}
	if err != nil {
		return Idempotent{}, fmt.Errorf("idempotent %s/%s: %w", tenant, requestID, err)
	}
	if len(hash) != len(r.BodyHash) {
		return Idempotent{}, fmt.Errorf("idempotent %s/%s: stored body hash has %d bytes", tenant, requestID, len(hash))
	}
	copy(r.BodyHash[:], hash)
	r.Created = fromNanos(created)
	return r, nil
}

// PurgeIdempotent deletes the records created before before and returns how
// many it deleted.
func (db *DB) PurgeIdempotent(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotent WHERE created < ?`, nanos(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge idempotent records before %v: %w", before, err)
	}
	return n, nil
}
