// Package fake is a scripted, deterministic backend.Backend for testing the
// layers above the math (scheduler, engine, servers) without a model.
//
// For each sampled sequence it returns the next token of a script chosen by
// the sequence's prompt, or a token derived from the prompt and output
// length when no script matches. It checks every Batch like a real backend
// and counts calls, tokens and the KV blocks it was asked to write, so tests
// can assert on what the engine sent.
//
// Concurrency: like every backend, driven by one goroutine; the counters are
// read by the test after the engine has stopped or through Stats, which is
// safe to call concurrently.
package fake
