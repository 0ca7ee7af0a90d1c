package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Key is an API key as stored: its SHA-256 hash and a display prefix, never
// the key itself.
type Key struct {
	ID       string
	Tenant   string
	Prefix   string // the part of the key safe to show ("sk-sota-abcdef…")
	Priority string // default priority class name; "" = the tier's default
	Hash     [32]byte
	Created  time.Time
	LastUsed time.Time // zero = never
	Revoked  time.Time // zero = not revoked
}

// NewKeyID makes a key id: "key_" and 12 random hex digits.
func NewKeyID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new key id: %w", err)
	}
	return "key_" + hex.EncodeToString(b[:]), nil
}

// CreateKey stores a new key for an existing tenant and returns it with its
// ID (generated when empty) and Created (now when zero) filled in. The
// tenant must exist (ErrNotFound otherwise); a hash or id already stored is
// ErrExists.
func (db *DB) CreateKey(ctx context.Context, k Key) (Key, error) {
	if k.Tenant == "" {
		return Key{}, fmt.Errorf("create key: %w: empty tenant", ErrInvalid)
	}
	if k.Hash == ([32]byte{}) {
		return Key{}, fmt.Errorf("create key for %s: %w: zero hash", k.Tenant, ErrInvalid)
	}
	if k.ID == "" {
		id, err := NewKeyID()
		if err != nil {
			return Key{}, fmt.Errorf("create key for %s: %w", k.Tenant, err)
		}
		k.ID = id
	}
	if k.Created.IsZero() {
		k.Created = now()
	}
	k.Created = k.Created.UTC()
	err := db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE id = ?`, k.Tenant).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("tenant %s: %w (create it first)", k.Tenant, ErrNotFound)
		}
		if err != nil {
			return err
		}
		var dup string
		err = tx.QueryRowContext(ctx, `SELECT id FROM keys WHERE id = ? OR hash = ?`, k.ID, k.Hash[:]).Scan(&dup)
		if err == nil {
			return fmt.Errorf("key %s: %w (same id or hash)", dup, ErrExists)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `
INSERT INTO keys (id, tenant, hash, prefix, priority, created, last_used, revoked)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Tenant, k.Hash[:], k.Prefix, k.Priority, nanos(k.Created), nanos(k.LastUsed), nanos(k.Revoked))
		return err
	})
	if err != nil {
		return Key{}, fmt.Errorf("create key for %s: %w", k.Tenant, err)
	}
	return k, nil
}

const keyColumns = `k.id, k.tenant, k.hash, k.prefix, k.priority, k.created, k.last_used, k.revoked`

func scanKey(s scanner, extra ...any) (Key, error) {
	var k Key
	var hash []byte
	var created, lastUsed, revoked int64
	dest := append([]any{&k.ID, &k.Tenant, &hash, &k.Prefix, &k.Priority, &created, &lastUsed, &revoked}, extra...)
	if err := s.Scan(dest...); err != nil {
		return Key{}, err
	}
	if len(hash) != len(k.Hash) {
		return Key{}, fmt.Errorf("key %s: stored hash has %d bytes", k.ID, len(hash))
	}
	copy(k.Hash[:], hash)
	k.Created, k.LastUsed, k.Revoked = fromNanos(created), fromNanos(lastUsed), fromNanos(revoked)
	return k, nil
}

// KeyByHash finds the key with that hash and its tenant. An unknown hash is
// ErrNotFound; a revoked key is ErrRevoked, returned with the key and tenant
// (for logging; the key must not be honoured).
func (db *DB) KeyByHash(ctx context.Context, hash [32]byte) (Key, Tenant, error) {
	var t Tenant
	var tCreated int64
	row := db.r.QueryRowContext(ctx, `
SELECT `+keyColumns+`, t.id, t.tier, t.streams, t.created
FROM keys k JOIN tenants t ON t.id = k.tenant
WHERE k.hash = ?`, hash[:])
	k, err := scanKey(row, &t.ID, &t.Tier, &t.Streams, &tCreated)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, Tenant{}, fmt.Errorf("key by hash: %w", ErrNotFound)
	}
	if err != nil {
		return Key{}, Tenant{}, fmt.Errorf("key by hash: %w", err)
	}
	t.Created = fromNanos(tCreated)
	if !k.Revoked.IsZero() {
		return k, t, fmt.Errorf("key %s: %w", k.ID, ErrRevoked)
	}
	return k, t, nil
}

// Keys lists the keys of one tenant, or of all tenants when tenant is "",
// ordered by tenant, then creation.
func (db *DB) Keys(ctx context.Context, tenant string) ([]Key, error) {
	q := `SELECT ` + keyColumns + ` FROM keys k`
	var args []any
	if tenant != "" {
		q += ` WHERE k.tenant = ?`
		args = append(args, tenant)
	}
	q += ` ORDER BY k.tenant, k.created, k.id`
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer rows.Close()
	var ks []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return ks, nil
}

// RevokeKey revokes the key with that id (ErrNotFound if there is none).
// Revoking a revoked key is a no-op that keeps the first revocation time.
func (db *DB) RevokeKey(ctx context.Context, id string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT revoked FROM keys WHERE id = ?`, id).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || revoked != 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE keys SET revoked = ? WHERE id = ?`, nanos(now()), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	return nil
}

// TouchKeys records last-used times (key id → time) in one transaction; a
// time older than the stored one is ignored, and so is an unknown id.
func (db *DB) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE keys SET last_used = max(last_used, ?) WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, t := range used {
			if _, err := stmt.ExecContext(ctx, nanos(t), id); err != nil {
				return fmt.Errorf("key %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("touch %d keys: %w", len(used), err)
	}
	return nil
}

// ActiveKeyCount is the number of keys not revoked.
func (db *DB) ActiveKeyCount(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM keys WHERE revoked = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("active key count: %w", err)
	}
	return n, nil
}
