// Package openai serves the OpenAI-compatible HTTP API: /v1/chat/completions,
// /v1/completions, /v1/models, /tokenize and /detokenize (vLLM's), /health and /version, with SSE streaming.
//
// A request is decoded and validated here, its chat messages rendered through
// the model's chat template and tokenized, and handed to the model's engine
// as token ids. The tokens that come back are detokenized incrementally,
// checked for stop strings (held back across tokens, never sent), parsed for
// tool calls, and written as JSON or as server-sent events. Text exists only
// here and in the tokenizer; the engine sees ids.
//
// Errors: every failure becomes OpenAI's error shape through one table
// (errors.go). A client that goes away cancels the request's context, which
// aborts its sequences in the engine at the next step.
//
// Concurrency: a Server is safe for concurrent use; each request is handled
// on its own goroutine and holds no state shared with others beyond the
// read-only model registry and the draining flag.
package openai
