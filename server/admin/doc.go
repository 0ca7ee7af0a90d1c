// Package admin is the provider's admin API: JSON over /admin/v1/… for the
// dashboard, doing what `sota keys|tenants|usage` do on the command line,
// plus the live streams and queues of a running server.
//
// Routes (every one needs "Authorization: Bearer <admin token>"; the token
// is compared in constant time over its SHA-256 and never logged):
//
//	GET    /admin/v1/keys[?tenant=T]  list keys (ids and display prefixes, never keys or hashes)
//	POST   /admin/v1/keys             {"tenant","tier"?,"priority"?} → 201 with the key, shown once
//	DELETE /admin/v1/keys/{id}        revoke → {"id","revoked":true}
//	GET    /admin/v1/tenants          tenants with their effective stream cap, active keys and live streams
//	GET    /admin/v1/tenants/{id}     one tenant
//	PUT    /admin/v1/tenants/{id}     {"tier"?,"streams"?} create (201; tier required) or update (200)
//	GET    /admin/v1/usage[?since=24h|RFC3339][&tenant=T]  per-tenant usage summary
//	GET    /admin/v1/live             tenants with streams running or queued, from the Admitter
//
// Errors are always {"error":{"message","type","param","code"}} with the
// status: 400 bad JSON or fields (bodies are strict: unknown fields and
// trailing data are refused), 401 no or a wrong token (code
// invalid_api_key), 404 unknown id or path, 405 wrong method (with Allow),
// 409 a conflict with stored state (a tenant's tier differs from the one
// given, or is unknown to this server's tiers), 413 a body over 1 MiB, 500
// a store failure (logged, not sent).
//
// Changes are written to the store at once, but a running server's
// authenticator (server/tenancy) caches each key's tenant, tier and stream
// cap for its TTL (5 s by default): a revoked key, a new tier or a new
// stream override takes effect on running servers within that TTL, and on
// every replica that shares the database.
//
// Concurrency: the handler is safe for concurrent use. Creating a key for a
// maybe-new tenant and setting a tenant are each serialised within this
// handler (check and write cannot interleave); across processes the store's
// last write wins. It starts no goroutines.
package admin
