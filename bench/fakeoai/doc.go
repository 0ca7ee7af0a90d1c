// Package fakeoai is an in-process fake OpenAI-compatible server for
// sota-bench's tests: /v1/chat/completions and /v1/completions, streaming
// (SSE) or not, with injected delays (time to first token, then a gap per
// token), optional usage, and an admission hook that answers 429/408 per API
// key. It records every request it receives.
//
// Its delays are timers (cut short when the client goes away), so under testing/synctest they are exact; Pipe
// connects a client to it in memory, which synctest needs (real sockets are
// not durably blocking). Safe for concurrent use.
package fakeoai
