// Package anthropic serves the Anthropic Messages API, POST /v1/messages,
// over the same path as the OpenAI chat endpoint: a Messages request is
// translated into a chat completions body and run by a Generator (the
// OpenAI server's in-process entry point, adapted in cmd/sota), so
// validation, the chat template, tokenization, admission with the caller's
// principal, usage and the engine are the chat endpoint's own. The reply
// is translated back into Anthropic's message object, its stream events
// (message_start, content_block_start, content_block_delta,
// content_block_stop, message_delta, message_stop) and its error shape.
//
// Keys come in x-api-key or Authorization: Bearer. Errors are classified
// in one table (errors.go) from the chat endpoint's status.
//
// Concurrency: a Server is safe for concurrent use; a stream's events are
// written by the request's goroutine (the Generator's progress callback
// runs inside Generate).
package anthropic
