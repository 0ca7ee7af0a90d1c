// Package scheduler decides, step by step, which tokens of which sequences
// the backend computes: continuous batching in the style of vLLM's V1 engine.
//
// Each step has a token budget (MaxNumBatchedTokens) and a sequence limit
// (MaxNumSeqs). There are no separate prefill and decode phases: running
// sequences are served first (one token each when decoding, a chunk when a
// long prompt is still being prefilled), then waiting sequences are admitted
// in the order the Policy gives (FCFS, priority classes, or fair share across
// tenants by virtual token counters) while budget and KV blocks last. A
// waiting sequence first looks its prompt up in the prefix cache and skips
// the blocks its tenant already computed. When a running sequence needs a
// block and none is free, the lowest-priority, newest running sequence is
// preempted: its blocks are freed and it later resumes by recomputing
// (usually hitting its own cached blocks). A request with n > 1 runs n
// sequences; the later ones share the first one's full prompt blocks.
//
// Sequences stop on the model's EOS ids (unless IgnoreEOS), the request's
// stop token ids, MaxTokens, or the context length. Stop strings and text
// are not the scheduler's business.
//
// Concurrency: none. The scheduler is pure and deterministic: the same calls
// give the same plans. It is driven by one goroutine (the engine loop) in the
// cycle Schedule → backend.Forward → Update, with Add and Abort between
// cycles. A Plan is valid until the next Schedule.
//
// Invariants: a sequence is in exactly one of waiting, running, pending (an
// n > 1 sibling waiting for the first sequence's prompt) or finished; only
// running sequences hold KV blocks; a finished or aborted request holds none.
package scheduler
