// Package tenancy connects the API servers' tenancy hooks to the store:
// Keys authenticates API keys against the SQLite key table (with a short
// cache, so a request costs no query and a revocation applies within the
// cache's TTL) and records when each key was last used.
//
// Concurrency: Keys is safe for concurrent use; its Run goroutine (started
// by the caller, stopped by its context) flushes last-used times.
package tenancy
