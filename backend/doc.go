// Package backend defines the contract between the engine and the code that
// runs the model math: one Forward call runs one engine step over a flat Batch
// of sequences and samples one token for each requested row.
//
// It is a leaf package: it holds types and validation only. Implementations
// live in backend/cpu (pure Go reference), backend/cuda (cgo) and
// backend/fake (scripted, for tests).
//
// Invariants of a Batch (checked by Validate):
//   - sequence i owns Tokens[SeqStarts[i]:SeqStarts[i+1]] and the matching
//     Positions, which are consecutive (p, p+1, ...);
//   - every position before a sequence's first new token is already in the KV
//     cache, reachable through the sequence's block table;
//   - the block table covers every position up to the last new token.
//
// Concurrency: a Backend is driven by one goroutine (the engine loop). Forward
// may use several cores internally but returns only when all its work is done.
package backend
