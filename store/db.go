package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Errors callers match with errors.Is.
var (
	// ErrNotFound: no tenant, key or record with that identity.
	ErrNotFound = errors.New("not found")
	// ErrRevoked: the key exists but was revoked.
	ErrRevoked = errors.New("key revoked")
	// ErrExists: a record with that identity is already stored.
	ErrExists = errors.New("already exists")
	// ErrTooLarge: a record is over its size limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid: a record is missing a required field.
	ErrInvalid = errors.New("invalid record")
)

// busyTimeout is how long a connection waits on another process's lock.
const busyTimeout = 10 * time.Second

// readConns bounds the read-only pool.
const readConns = 4

// DB is an open store. Its methods are safe for concurrent use.
type DB struct {
	path string
	w    *sql.DB // one connection: the only writer in this process
	r    *sql.DB // read-only connections
}

// Open opens (creating it and its parent directory if needed) the SQLite
// database at path and brings its schema up to date.
func Open(path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open store %s: the path may not contain '?'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)",
		busyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(wal)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{path: path, w: w}
	// The writer opens first so the file exists and is in WAL mode before a
	// reader connection sees it.
	if err := db.migrate(context.Background()); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if err := r.Ping(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.r = r
	return db, nil
}

// Path is the file the store was opened at.
func (db *DB) Path() string { return db.path }

// Close closes the database. Calls after Close fail.
func (db *DB) Close() error {
	err := db.r.Close()
	if werr := db.w.Close(); err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("close store %s: %w", db.path, err)
	}
	return nil
}

// write runs fn in one write transaction (BEGIN IMMEDIATE), committing when it
// returns nil.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// migrations are the schema's versions: migrations[i] takes user_version i
// to i+1. Append only; never edit one that has shipped.
var migrations = []string{
	// 1: tenants, keys, usage, idempotency records.
	`
CREATE TABLE tenants (
	id      TEXT PRIMARY KEY,
	tier    TEXT NOT NULL,
	streams INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL
) STRICT;

CREATE TABLE keys (
	id        TEXT PRIMARY KEY,
	tenant    TEXT NOT NULL REFERENCES tenants(id),
	hash      BLOB NOT NULL UNIQUE,
	prefix    TEXT NOT NULL,
	priority  TEXT NOT NULL DEFAULT '',
	created   INTEGER NOT NULL,
	last_used INTEGER NOT NULL DEFAULT 0,
	revoked   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX keys_tenant ON keys(tenant);

CREATE TABLE usage (
	id                INTEGER PRIMARY KEY,
	time              INTEGER NOT NULL,
	request_id        TEXT NOT NULL,
	tenant            TEXT NOT NULL,
	key_id            TEXT NOT NULL,
	model             TEXT NOT NULL,
	priority          TEXT NOT NULL,
	user_name         TEXT NOT NULL,
	endpoint          TEXT NOT NULL,
	prompt_tokens     INTEGER NOT NULL,
	completion_tokens INTEGER NOT NULL,
	queue_ns          INTEGER NOT NULL,
	ttft_ns           INTEGER NOT NULL,
	duration_ns       INTEGER NOT NULL,
	status            INTEGER NOT NULL
) STRICT;
CREATE INDEX usage_time ON usage(time);
CREATE INDEX usage_tenant_time ON usage(tenant, time);

CREATE TABLE idempotent (
	tenant     TEXT NOT NULL,
	request_id TEXT NOT NULL,
	body_hash  BLOB NOT NULL,
	status     INTEGER NOT NULL,
	header     BLOB NOT NULL,
	body       BLOB NOT NULL,
	created    INTEGER NOT NULL,
	PRIMARY KEY (tenant, request_id)
) STRICT;
CREATE INDEX idempotent_created ON idempotent(created);
`,
	// 2: async jobs, webhook secrets and deliveries, files and batches (the
	// OpenAI Batch API over the jobs).
	`
CREATE TABLE jobs (
	seq           INTEGER PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	tenant        TEXT NOT NULL,
	key_id        TEXT NOT NULL,
	principal     BLOB NOT NULL,
	model         TEXT NOT NULL,
	endpoint      TEXT NOT NULL,
	body          BLOB NOT NULL,
	status        TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	started       INTEGER NOT NULL DEFAULT 0,
	finished      INTEGER NOT NULL DEFAULT 0,
	deadline      INTEGER NOT NULL DEFAULT 0,
	partial       BLOB NOT NULL,
	result_status INTEGER NOT NULL DEFAULT 0,
	result        BLOB NOT NULL,
	webhook_url   TEXT NOT NULL DEFAULT '',
	batch_id      TEXT NOT NULL DEFAULT '',
	custom_id     TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX jobs_tenant_seq ON jobs(tenant, seq);
CREATE INDEX jobs_unfinished ON jobs(seq) WHERE finished = 0;
CREATE INDEX jobs_finished ON jobs(finished) WHERE finished > 0;
CREATE INDEX jobs_batch ON jobs(batch_id, seq) WHERE batch_id != '';

CREATE TABLE webhook_secrets (
	tenant  TEXT PRIMARY KEY,
	secret  TEXT NOT NULL,
	created INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
	id          TEXT PRIMARY KEY,
	job_id      TEXT NOT NULL,
	tenant      TEXT NOT NULL,
	url         TEXT NOT NULL,
	event       TEXT NOT NULL,
	payload     BLOB NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_at     INTEGER NOT NULL,
	last_status INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	delivered   INTEGER NOT NULL DEFAULT 0,
	failed      INTEGER NOT NULL DEFAULT 0,
	created     INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_due ON webhook_deliveries(next_at) WHERE delivered = 0 AND failed = 0;
CREATE INDEX webhook_job ON webhook_deliveries(job_id);

CREATE TABLE files (
	id       TEXT PRIMARY KEY,
	tenant   TEXT NOT NULL,
	purpose  TEXT NOT NULL,
	filename TEXT NOT NULL,
	bytes    INTEGER NOT NULL,
	created  INTEGER NOT NULL,
	data     BLOB NOT NULL
) STRICT;
CREATE INDEX files_tenant ON files(tenant, created);

CREATE TABLE batches (
	id      TEXT PRIMARY KEY,
	tenant  TEXT NOT NULL,
	status  TEXT NOT NULL,
	created INTEGER NOT NULL,
	object  BLOB NOT NULL
) STRICT;
CREATE INDEX batches_tenant ON batches(tenant, created);
`,
	// 3: stored Responses API responses (with the conversation they end, for previous_response_id).
	`
CREATE TABLE responses (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	created      INTEGER NOT NULL,
	object       BLOB NOT NULL,
	conversation BLOB NOT NULL
) STRICT;
CREATE INDEX responses_created ON responses(created);
`,
}

// migrate applies the migrations the file has not seen, each in its own
// transaction together with its user_version bump.
func (db *DB) migrate(ctx context.Context) error {
	for {
		done, err := db.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next migration; done reports that none was left.
// The version is read inside the write transaction, so two processes opening
// the same new file apply each migration once.
func (db *DB) migrateOne(ctx context.Context) (done bool, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		switch {
		case v > len(migrations):
			return fmt.Errorf("schema version %d is newer than this binary's %d: upgrade sota", v, len(migrations))
		case v == len(migrations):
			done = true
			return nil
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			return fmt.Errorf("migration %d: set version: %w", v+1, err)
		}
		return nil
	})
	return done, err
}

// SchemaVersion is the file's schema version (the number of migrations
// applied).
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// nanos is t as stored: UTC unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos reads a stored time back: the zero time for 0.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// now is the store's clock for Created times the caller left zero.
func now() time.Time { return time.Now().UTC() }
