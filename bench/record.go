package bench

import "time"

// Record is what one request measured. Durations are of its final attempt.
type Record struct {
	Target int // index into Config.Targets
	Prompt int // index into Config.Prompts
	Tenant int // index into Config.Tenants; -1 without tenants
	Seq    int // dispatch order across all targets; -1 if never sent

	Dispatched time.Time // when the arrival schedule released it
	Start      time.Time // when the final attempt was sent
	End        time.Time // when the final attempt's response ended

	TTFT time.Duration
	E2E  time.Duration
	ITL  []time.Duration // gaps between output chunks

	OutputTokens int
	OutputSource Source // where OutputTokens came from
	InputTokens  int
	InputSource  Source
	Chunks       int // output chunks received (streaming)

	OK       bool
	Status   int    // the final attempt's HTTP status (0: none came)
	Kind     string // why it failed: the HTTP status ("429"), "transport", "timeout", "stream_error", "bad_response", "no_output"
	Error    string // the first failure's detail
	Attempts []Attempt
}

// Source says where a token count came from.
type Source string

const (
	FromUsage    Source = "usage"    // the server's usage object
	FromChunks   Source = "chunks"   // one per output chunk received
	FromEstimate Source = "estimate" // the workload's estimate or len/4 of the text
)

// Attempt is one HTTP exchange of a request (more than one when a
// rejection's Retry-After was honoured).
type Attempt struct {
	Status        int           // 0: no response (transport error)
	Latency       time.Duration // until the response ended (for a rejection: the time to reject)
	RetryAfter    time.Duration // as the server gave it (header, else error.retry_after)
	HasRetryAfter bool
	Waited        time.Duration // how long the client then waited before retrying
}

// TPOT is (E2E − TTFT)/(OutputTokens − 1), 0 for one output token or fewer
// (vllm's definition; such requests are left out of TPOT's distribution and
// count as 0 for goodput).
func (r *Record) TPOT() time.Duration {
	if r.OutputTokens <= 1 {
		return 0
	}
	return (r.E2E - r.TTFT) / time.Duration(r.OutputTokens-1)
}
