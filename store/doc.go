// Package store is sota's persistence: tenants, API keys (as SHA-256 hashes,
// never the keys), per-request usage records and idempotency records, in one
// SQLite file through modernc.org/sqlite (pure Go, no cgo).
//
// # What it owns
//
// The schema and its migrations (versioned in code, applied under PRAGMA
// user_version, each in its own transaction, so re-opening is idempotent and
// an older binary refuses a newer file), and the mapping between rows and the
// Go types below. It knows nothing of tiers' limits, HTTP or admission: a
// tenant's tier is a name, a key's priority a class name, a request's status
// an HTTP code. It imports only the standard library and third-party code.
//
// # Concurrency
//
// A DB is safe for concurrent use. Writes go through one connection (SQLite
// admits one writer at a time; a single writer connection means writers in
// this process queue in database/sql instead of failing with SQLITE_BUSY), and
// every write transaction starts with BEGIN IMMEDIATE, so a second process
// (the `sota keys` CLI next to a running server) waits on busy_timeout
// instead of failing at lock upgrade. Reads go through a separate pool of
// read-only connections and, in WAL mode, never wait for the writer.
//
// UsageLog batches usage records off the request path: Add never blocks (a
// full buffer drops the record and counts it), one goroutine writes batches,
// and Close flushes what was added before it and stops that goroutine. Close
// a UsageLog before the DB it writes to.
//
// # Invariants
//
//   - Times are stored as UTC unix nanoseconds; the zero time is stored as 0
//     and read back as the zero time ("never"). Times read back are UTC.
//   - A key's hash is unique; a key belongs to an existing tenant (foreign
//     key); a revoked key stays revoked (its first revocation time is kept).
//   - SetTenant keeps a tenant's Created time.
//   - An idempotency record is written once per (tenant, request id): the
//     first response is the one replayed. Its header and body together are at
//     most MaxIdempotentSize bytes.
//   - Usage rows are append-only and carry names (tenant, key id), not
//     foreign keys: history outlives the keys that made it.
package store
