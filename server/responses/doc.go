// Package responses serves the OpenAI Responses API: POST /v1/responses,
// GET and DELETE /v1/responses/{id}. A request's input items (with the
// conversation of its previous_response_id, and its instructions as the
// system message) become a chat completions body run by a Generator (the
// OpenAI server's in-process entry point, adapted in cmd/sota), so
// validation, the chat template, tokenization, admission with the caller's
// principal, usage and the engine are the chat endpoint's own. The reply
// becomes a response object with message and function_call output items,
// or a stream of the Responses events (response.created,
// response.in_progress, response.output_item.added,
// response.content_part.added, response.output_text.delta, ... ,
// response.completed).
//
// Responses are stored (store defaults to true, as OpenAI's) per tenant in
// a Store: the SQLite database when serve has one, else a bounded memory
// store (lost on restart). A stored response keeps the conversation it
// ends, which is what previous_response_id continues.
//
// Errors are OpenAI's shape; the chat endpoint's pass through unchanged,
// this package's own are classified in errors.go.
//
// Concurrency: a Server is safe for concurrent use; a stream's events are
// written by the request's goroutine (the Generator's progress callback
// runs inside Generate).
package responses
