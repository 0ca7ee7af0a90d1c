// Package engine runs a model for many requests at once: one goroutine owns
// the scheduler and the backend and repeats the step
// scheduler.Schedule → backend.Forward → scheduler.Update, delivering each
// sampled token to the request's Stream.
//
// Callers (servers, the CLI) use Client: Generate queues a request and
// returns its Stream at once; cancelling the request's context (or
// Stream.Cancel) aborts it, and the loop frees its KV blocks at the next
// step. Stream.Stop ends one of a request's sequences early, for a server
// that found a stop string in its text.
//
// Concurrency: Generate, Health, Stats and Close are safe from any
// goroutine. They talk to the loop through an ordered inbox that never
// blocks the caller; the loop talks back through stream buffers that never
// block the loop, so a slow reader cannot slow the batch. Only the loop
// touches the scheduler and the backend.
//
// Failures: a backend error fails the requests of that step with ErrBackend
// and the loop carries on. A panic in a step fails every request with
// ErrInternal, rebuilds the scheduler (the KV bookkeeping may be
// inconsistent) and marks the engine unhealthy; it keeps serving so that
// in-flight clients get an answer while the operator replaces it.
//
// Invariants: every accepted request ends exactly once (finished, failed or
// aborted), and when the loop is idle no KV block is in use. The Stats
// snapshot is published before streams learn that their request ended, so a
// caller that saw its stream end sees the engine state after it.
package engine
