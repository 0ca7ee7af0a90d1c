// Package redisslots shares admission's per-tenant stream slots and bounded
// queues across replicas through one Redis, so a tenant's cap holds behind
// a load balancer. Admitter implements admission.Admitter with the same
// semantics as admission.Controller (cap with zero overshoot, queue ordered
// by class then arrival, 429 when the queue is full, 408 after QueueWait,
// Retry-After from the mean hold time) and falls back to a local
// Controller while Redis is out of reach.
//
// # Data model
//
// Per tenant, four keys under one hash tag, so a cluster keeps them on one
// slot (Prefix defaults to "sota:adm:"; '{', '}' and '%' in a tenant name
// are %-escaped):
//
//	{tenant}:run    ZSET  ticket id → lease expiry, ms of Redis time
//	{tenant}:queue  ZSET  ticket id → (3 - class)·2^48 + arrival (HINCRBY meta seq)
//	{tenant}:wait   ZSET  ticket id → waiter heartbeat expiry, ms
//	{tenant}:meta   HASH  streams (the latest request's limit), seq, hold (EWMA of hold ms, α 0.2)
//
// Ticket ids are a random replica id and a counter. Every decision is one
// Lua script (EVALSHA): acquire, check (a waiter's wake-up or poll), leave,
// release, renew, state. Each reads the time with TIME, first purges
// expired leases and waiters whose heartbeat lapsed, then fills: moves the
// queue's heads into run while ZCARD run < streams and publishes the
// granted ids on the channel Prefix+"wake". A new request is granted at
// once only when there is room and nobody queues; else it queues (or is
// refused when the queue holds Queue waiters).
//
// # Invariants
//
// After every script: ZCARD run <= streams of the latest request (a
// lowered limit drains by attrition); queue and wait hold the same ids; a
// ticket id is in run or queue, never both; queue never exceeds the Queue
// limit it was joined under. In this process, held and waiting mirror the
// ids it owns in run and queue.
//
// # Concurrency
//
// Admitter is safe for concurrent use. Per process there are exactly two
// goroutines: the wake-up subscriber (one pub/sub subscription, fanned out
// to waiters by id; a waiter also polls every Poll, 250 ms, in case a
// message is lost) and maintain, which renews every held lease and queued
// heartbeat in one pipeline every LeaseTTL/3 and probes Redis while it is
// out of reach. Close stops both and releases everything held.
//
// # Replica death
//
// A dead replica's leases and heartbeats stop being renewed: its slots come
// free, and its waiters leave their queues, within LeaseTTL (15 s by
// default) — at the next script anyone runs for that tenant, at the latest
// a surviving waiter's next poll.
//
// # Redis outage
//
// A failing call (connection refused, timeout) switches this replica to
// its local admission.Controller, capped per tenant at min(FallbackStreams,
// the tenant's limit), logged once at Error; waiters move to it with the
// rest of their wait. Tickets taken then release locally. Every Probe
// (1 s) it PINGs; on an answer it logs Info, renews its leases and admits
// through Redis again. The fail-closed cost: during an outage a tenant may
// run replicas × FallbackStreams streams, not its tier's limit times the
// number of replicas; streams admitted in fallback are not counted in
// Redis after recovery until they end. A lease that expired during the
// outage (longer than LeaseTTL, or Redis restarted empty) comes back at the
// next renewal if the tenant is under its limit; otherwise its stream runs
// on beyond the cap until it ends, and that is logged at Error.
package redisslots
