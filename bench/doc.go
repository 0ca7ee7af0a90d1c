// Package bench is sota-bench's load generator: it sends a workload of
// prompts to one or more OpenAI-compatible servers (chat or completions,
// streaming or not), at a Poisson rate and/or a fixed concurrency, for one or
// more tenants (API keys), and measures what a client sees the way
// `vllm bench serve` does: TTFT, TPOT, ITL and end-to-end latency, request and
// token throughput, goodput under SLOs, errors by HTTP status, and per tenant
// the admission outcomes (200/408/429, Retry-After) and Jain's fairness index.
//
// It imports nothing else of this module, so it measures peers (vLLM,
// llama.cpp) exactly as it measures sota.
//
// Metric definitions (see Record and Summarize):
//   - TTFT: from sending the request to the first chunk that carries output
//     (text, content, reasoning or tool calls). vLLM's chat client counts the
//     first chunk with any choice, which includes an empty role-only chunk;
//     we skip such chunks so a server that sends the role early does not look
//     faster.
//   - ITL: the gaps between consecutive output chunks (per chunk, not per
//     token: a server that sends several tokens per chunk has fewer, longer
//     gaps), as vLLM.
//   - E2E latency: from sending to the last data event before [DONE] (the
//     usage chunk when there is one), as vLLM's chat client.
//   - TPOT: (E2E − TTFT) / (output tokens − 1), for requests with more than
//     one output token, as vLLM.
//   - Output tokens: usage.completion_tokens when the server reports it (we
//     ask with stream_options.include_usage), else the number of output
//     chunks (one token per chunk for sota, vLLM and llama.cpp when they keep
//     up); Summary.OutputTokensFrom says which.
//   - Throughput: completed requests and tokens over the run's duration, from
//     the first dispatch to the target's last completion.
//   - Non-streaming requests have TTFT = E2E and no ITL or TPOT.
//
// Several targets in one run are interleaved: every prompt goes to every
// target, dispatched one right after another at the same arrival time, and
// each target has its own concurrency limit, so each target sees the same
// load under the same conditions (when targets share one machine they also
// compete for it).
//
// Concurrency: Run starts one goroutine per request; Records are written by
// their request's goroutine only and handed over when Run returns.
package bench
