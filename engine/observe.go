package engine

import (
	"errors"
	"time"

	"github.com/sotasystems/sota/scheduler"
)

// Finish reasons of a request. FinishError is that of a request that failed
// (a backend error, a panic) rather than being aborted.
const (
	FinishStop   = scheduler.FinishStop
	FinishLength = scheduler.FinishLength
	FinishAbort  = scheduler.FinishAbort
	FinishError  = FinishReason("error")
)

// Observer receives the engine's measurements, for metrics (metrics.Engine
// is one). Its methods run on the loop goroutine, so they must be cheap and
// never block; what they are given is valid only during the call. A nil
// Config.Observer costs nothing.
type Observer interface {
	// ObserveStep is called after every step that ran (Schedule through
	// Update and delivery).
	ObserveStep(*StepStats)
	// ObserveRequest is called once when a request ends, whichever way.
	ObserveRequest(*RequestStats)
}

// StepStats is one step.
type StepStats struct {
	Start    time.Time
	Duration time.Duration // Schedule, Forward and Update
	Seqs     int           // sequences in the batch
	Tokens   int           // tokens computed (prefill chunks and decodes)
	// Prefill is true when some sequence computed more than one token (a
	// prompt chunk); a step of decodes only is false.
	Prefill bool
	// GenerationTokens is the number of tokens sampled.
	GenerationTokens int
	// PromptTokens adds up the prompts of the requests whose first token
	// came in this step: each request's prompt counts once (prefix-cache
	// hits included, recomputation after preemption not), as vLLM counts.
	PromptTokens int
	// TTFT holds, per request whose first token came in this step, the
	// time since it arrived at the engine.
	TTFT []time.Duration
	// ITL holds, per request that got tokens in this step and in an earlier
	// one, the time since its previous step with tokens.
	ITL []time.Duration
}

// RequestStats is one ended request.
type RequestStats struct {
	Timings Timings
	// Usage counts the prompt and every token generated (stop tokens and
	// the tokens of an aborted request included).
	Usage Usage
	N     int
	// Finish is why it ended: sequence 0's reason ("stop", also for a
	// Stream.Stop, or "length"), "abort" (cancelled, aborted or closed) or
	// "error".
	Finish FinishReason
}

// finishOf is the finish reason of a request failed with err.
func finishOf(err error) FinishReason {
	if errors.Is(err, ErrAborted) || errors.Is(err, ErrClosed) {
		return FinishAbort
	}
	return FinishError
}

// beginStep marks a step's start for the observer (loop only).
func (e *Engine) beginStep() time.Time {
	e.steps++
	if e.cfg.Observer == nil {
		return time.Time{}
	}
	ss := &e.ss
	ss.TTFT, ss.ITL = ss.TTFT[:0], ss.ITL[:0]
	ss.PromptTokens = 0
	return e.clock()
}

// tick notes that st got tokens at now in this step (loop only).
func (e *Engine) tick(st *Stream, now time.Time) {
	if e.cfg.Observer == nil || st.lastStep == e.steps {
		return
	}
	if st.lastStep == 0 {
		e.ss.TTFT = append(e.ss.TTFT, now.Sub(st.arrival))
		e.ss.PromptTokens += st.numPrompt
	} else {
		e.ss.ITL = append(e.ss.ITL, now.Sub(st.lastTok))
	}
	st.lastStep, st.lastTok = e.steps, now
}

// endStep reports a step that ran to the observer (loop only).
func (e *Engine) endStep(start, now time.Time, seqs, tokens, sampled int) {
	o := e.cfg.Observer
	if o == nil {
		return
	}
	ss := &e.ss
	ss.Start, ss.Duration = start, now.Sub(start)
	ss.Seqs, ss.Tokens, ss.Prefill, ss.GenerationTokens = seqs, tokens, tokens > seqs, sampled
	o.ObserveStep(ss)
}
