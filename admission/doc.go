// Package admission decides whether a request may start a stream: API keys
// (format, hashing, Authorization parsing), tiers (stream caps, queue
// bounds, models, priority classes, fair-share weight) and the Controller
// that holds each tenant's concurrent-stream slots and bounded queue.
//
// Concurrency: Controller and Ticket are safe for concurrent use; one mutex
// guards all tenants (a decision is a few map and slice operations).
//
// Invariants, after every operation: a tenant's running count equals the
// tickets it holds that are not released; running never exceeds the
// Streams limit it was admitted under (a lowered limit drains by attrition);
// the queue is ordered by class (highest first) then arrival and never holds
// more than Queue waiters; a waiter whose caller goes away or times out
// leaves the queue at once; an idle tenant (nothing running or queued) keeps
// only its hold-time estimate.
//
// It imports only the standard library and reads time only through its
// Clock.
package admission
