// Package jobs is the async jobs API: POST /v1/{model}/generate (sync or
// "async": true), GET /v1/jobs (list with a cursor), GET and DELETE
// /v1/jobs/{id}, GET /v1/jobs/{id}/stream (SSE with Last-Event-ID), webhooks
// on a job's end, and the OpenAI Batch API (/v1/files, /v1/batches) whose
// requests are jobs on the same store.
//
// # What it owns
//
// The job's life: PENDING (stored) → QUEUED (waiting for a stream slot) →
// PROCESSING (holding one) → STREAMING (first text) → FINISHED | FAILED |
// TIMEOUT | CANCELLED. A job runs through a Generator (server/openai's Do,
// wired by cmd/sota): the same validation, template, tokenization, admission
// and engine as an interactive request, and its result is the body that
// endpoint answers. A job is committed to the store before its 202; state
// changes and results are committed as they happen, partial output every
// flush interval (100 ms) for all running jobs in one transaction.
//
// # Concurrency
//
// Service.mu guards the in-memory state of unfinished jobs (every unfinished
// job is in memory: the store is the durable copy). Writes go through one
// writer goroutine that commits what is queued in one transaction (group
// commit), in order. Each tenant has at most one lane goroutine, which starts
// the tenant's jobs in submission order and waits for each to hold its slot
// before starting the next: a tenant has at most one job waiting in
// admission, at class slow (interactive requests of the same tenant, at their
// own class, are granted first), with no queue wait limit. Each running job
// has one goroutine. Close stops them all and leaves unfinished jobs as they
// are in the store: the next start runs them again.
//
// # Invariants
//
//   - A job's seed is in its stored body (drawn at submission when the
//     request gave none), so a rerun after a crash gives the same result.
//   - A tenant has at most its job queue (unfinished jobs) at once; one more
//     is a 429.
//   - Another tenant's job is a 404, as is an unknown id. Ids carry 128
//     random bits.
//   - A finished job's result never changes; the retention loop deletes
//     finished jobs older than the retention.
package jobs
