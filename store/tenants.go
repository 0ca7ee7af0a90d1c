package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Tenant is one customer: the tier it buys (by name) and an optional
// override of that tier's concurrent-stream cap.
type Tenant struct {
	ID      string
	Tier    string
	Streams int // concurrent-stream override; 0 = the tier's
	Created time.Time
}

func (t Tenant) check() error {
	switch {
	case t.ID == "":
		return fmt.Errorf("%w: tenant with an empty id", ErrInvalid)
	case t.Tier == "":
		return fmt.Errorf("%w: tenant %s with an empty tier", ErrInvalid, t.ID)
	case t.Streams < 0:
		return fmt.Errorf("%w: tenant %s: streams = %d, want >= 0", ErrInvalid, t.ID, t.Streams)
	}
	return nil
}

// SetTenant creates the tenant or updates its tier and stream override,
// keeping the Created time of an existing one (a zero Created on a new one
// means now).
func (db *DB) SetTenant(ctx context.Context, t Tenant) error {
	if err := t.check(); err != nil {
		return fmt.Errorf("set tenant: %w", err)
	}
	created := t.Created
	if created.IsZero() {
		created = now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO tenants (id, tier, streams, created) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET tier = excluded.tier, streams = excluded.streams`,
			t.ID, t.Tier, t.Streams, nanos(created))
		return err
	})
	if err != nil {
		return fmt.Errorf("set tenant %s: %w", t.ID, err)
	}
	return nil
}

// Tenant reads one tenant; ErrNotFound if there is none with that id.
func (db *DB) Tenant(ctx context.Context, id string) (Tenant, error) {
	t, err := scanTenant(db.r.QueryRowContext(ctx,
		`SELECT id, tier, streams, created FROM tenants WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant %s: %w", id, err)
	}
	return t, nil
}

// Tenants lists all tenants by id.
func (db *DB) Tenants(ctx context.Context) ([]Tenant, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, tier, streams, created FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	defer rows.Close()
	var ts []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("tenants: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	return ts, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanTenant(s scanner) (Tenant, error) {
	var t Tenant
	var created int64
	if err := s.Scan(&t.ID, &t.Tier, &t.Streams, &created); err != nil {
		return Tenant{}, err
	}
	t.Created = fromNanos(created)
	return t, nil
}
