package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Response is a stored Responses API response: its object as JSON and the
// conversation it ends (the chat messages a follow-up continues).
type Response struct {
	ID           string
	Tenant       string
	Created      time.Time
	Object       []byte
	Conversation []byte
}

// PutResponse inserts or replaces a response.
func (db *DB) PutResponse(ctx context.Context, r Response) error {
	if r.Created.IsZero() {
		r.Created = now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO responses (id, tenant, created, object, conversation) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET object = excluded.object, conversation = excluded.conversation`,
			r.ID, r.Tenant, nanos(r.Created), nonNil(r.Object), nonNil(r.Conversation))
		return err
	})
	if err != nil {
		return fmt.Errorf("put response %s: %w", r.ID, err)
	}
	return nil
}

// Response reads one of tenant's responses; ErrNotFound if none.
func (db *DB) Response(ctx context.Context, tenant, id string) (Response, error) {
	var r Response
	var created int64
	err := db.r.QueryRowContext(ctx, `SELECT id, tenant, created, object, conversation FROM responses
WHERE id = ? AND tenant = ?`, id, tenant).Scan(&r.ID, &r.Tenant, &created, &r.Object, &r.Conversation)
	if errors.Is(err, sql.ErrNoRows) {
		return Response{}, fmt.Errorf("response %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Response{}, fmt.Errorf("response %s: %w", id, err)
	}
	r.Created = fromNanos(created)
	return r, nil
}

// DeleteResponse deletes one of tenant's responses; ErrNotFound if none.
func (db *DB) DeleteResponse(ctx context.Context, tenant, id string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM responses WHERE id = ? AND tenant = ?`, id, tenant)
		if err != nil {
			return fmt.Errorf("delete response %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("response %s: %w", id, ErrNotFound)
		}
		return nil
	})
}

// PurgeResponses deletes responses created before cutoff.
func (db *DB) PurgeResponses(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM responses WHERE created < ?`, nanos(cutoff))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge responses: %w", err)
	}
	return n, nil
}
