package engine

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/scheduler"
)

// FinishReason says why a sequence ended: "stop", "length" or "abort".
type FinishReason = scheduler.FinishReason

// Chunk is one generated token of one of the request's sequences.
type Chunk struct {
	Index   int // sequence within the request, 0..N-1
	Token   int32
	Logprob float32               // when Params.Logprobs or TopLogprobs is set
	Top     []sample.TokenLogprob // the TopLogprobs most likely tokens
	Finish  FinishReason          // "" while the sequence continues
	// StopToken: Token is the EOS or stop id that ended the sequence; it is
	// not part of the text.
	StopToken bool
}

// Usage counts the tokens of a finished request.
type Usage struct {
	PromptTokens     int
	CachedTokens     int // prompt tokens served from the prefix cache
	CompletionTokens int // over all N sequences, stop tokens included
}

// Timings are when the request passed each stage (by the engine's clock).
type Timings struct {
	Arrival    time.Time
	Scheduled  time.Time // the start of its first step (the end of its wait in the queue); zero until then
	FirstToken time.Time // zero until the first token
	Finished   time.Time // zero until the end
}

// Stream delivers a request's tokens. Recv from one goroutine; the other
// methods are safe from any.
type Stream struct {
	e  *Engine
	id scheduler.RequestID
	n  int

	mu       sync.Mutex
	buf      []Chunk
	read     int
	finished int // sequences finished
	err      error
	done     bool
	usage    Usage
	timings  Timings
	stopCtx  func() bool // stops the context watcher
	ready    chan struct{}
	finish   FinishReason // "" until the end

	// Loop only, for the observer.
	arrival   time.Time
	numPrompt int
	lastStep  int64     // the latest step that delivered tokens; 0: none yet
	lastTok   time.Time // that step's time
	generated int       // tokens pushed, over all sequences (under mu)
}

func newStream(e *Engine, id scheduler.RequestID, n, numPrompt int, arrival time.Time) *Stream {
	return &Stream{e: e, id: id, n: n, numPrompt: numPrompt, arrival: arrival,
		ready: make(chan struct{}, 1), timings: Timings{Arrival: arrival}}
}

// Cancel aborts the whole request, like cancelling its context.
func (s *Stream) Cancel() {
	s.e.send(message{abort: s.id, reason: fmt.Errorf("%w: cancelled by the caller", ErrAborted)})
}

// Stop ends sequence index early (a server found a stop string in its
// text): the engine frees its blocks at the next step and the stream ends
// once every sequence has. Chunks of that sequence already on their way may
// still arrive; ignore them. Stopping an ended sequence does nothing.
func (s *Stream) Stop(index int) {
	s.e.send(message{abort: s.id, stopSeq: true, index: index})
}

// N is the number of sequences the request generates.
func (s *Stream) N() int { return s.n }

// Recv returns the next chunk, waiting for it. After the last chunk of every
// sequence it returns io.EOF; when the request failed or was aborted it
// returns that error (ErrAborted wraps the context's cause). It returns
// ctx.Err() when ctx ends first.
func (s *Stream) Recv(ctx context.Context) (Chunk, error) {
	for {
		s.mu.Lock()
		if s.read < len(s.buf) {
			c := s.buf[s.read]
			s.buf[s.read] = Chunk{}
			s.read++
			if s.read == len(s.buf) {
				s.buf, s.read = s.buf[:0], 0
			}
			s.mu.Unlock()
			return c, nil
		}
		done, err := s.done, s.err
		s.mu.Unlock()
		if done {
			if err != nil {
				return Chunk{}, err
			}
			return Chunk{}, io.EOF
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return Chunk{}, ctx.Err()
		}
	}
}

// Ready reports whether Recv would return at once (a chunk is buffered or
// the stream has ended), so a writer can flush only when it would wait.
func (s *Stream) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read < len(s.buf) || s.done
}

// Usage is the request's token count; final once Recv returned io.EOF.
func (s *Stream) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage
}

// Timings reports when the request passed each stage.
func (s *Stream) Timings() Timings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timings
}

// FinishReason is why the request ended: sequence 0's finish reason ("stop",
// also after Stop, or "length"), "abort" when it was aborted or cancelled,
// "error" when it failed; "" until it ends.
func (s *Stream) FinishReason() FinishReason {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finish
}

// statsLocked is the ended request's stats for the observer: its prompt
// and every token it generated, also when it was aborted.
func (s *Stream) statsLocked() RequestStats {
	u := s.usage
	u.PromptTokens, u.CompletionTokens = s.numPrompt, s.generated
	return RequestStats{Timings: s.timings, Usage: u, N: s.n, Finish: s.finish}
}

// scheduled records the start of the request's first step (loop side).
func (s *Stream) scheduled(at time.Time) {
	s.mu.Lock()
	if s.timings.Scheduled.IsZero() {
		s.timings.Scheduled = at
	}
	s.mu.Unlock()
}

// Done reports whether the request has ended (its chunks may still be unread).
func (s *Stream) Done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

func (s *Stream) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// push appends a chunk (loop side); it reports whether the request ended.
func (s *Stream) push(ev scheduler.Event, now time.Time) bool {
	c := Chunk{Index: ev.Index, Token: ev.Token, Logprob: ev.Logprob, Finish: ev.Finish, StopToken: ev.StopToken}
	if len(ev.Top) > 0 {
		c.Top = append([]sample.TokenLogprob(nil), ev.Top...)
	}
	s.mu.Lock()
	s.buf = append(s.buf, c)
	s.generated++
	if s.timings.FirstToken.IsZero() {
		s.timings.FirstToken = now
	}
	if ev.Finish == "" {
		s.mu.Unlock()
		s.signal()
		return false
	}
	return s.finishSeqLocked(ev.Index, ev.Finish, ev.Usage, now)
}

// finishSeqLocked counts one finished sequence and ends the request after
// the last; it unlocks s.mu and wakes the reader.
func (s *Stream) finishSeqLocked(index int, reason FinishReason, u scheduler.Usage, now time.Time) bool {
	s.usage.PromptTokens = u.PromptTokens
	if index == 0 { // the prompt counts once, as the first sequence saw it
		s.usage.CachedTokens = u.CachedTokens
		s.finish = reason
	}
	s.usage.CompletionTokens += u.OutputTokens
	s.finished++
	ended := s.finished == s.n
	var stop func() bool
	var rs RequestStats
	if ended {
		s.done, s.timings.Finished, stop = true, now, s.stopCtx
		rs = s.statsLocked()
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if ended && s.e.cfg.Observer != nil {
		s.e.cfg.Observer.ObserveRequest(&rs)
	}
	s.signal()
	return ended
}

// willEnd reports whether k more finished sequences end the request (loop
// side: only the loop changes finished).
func (s *Stream) willEnd(k int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished+k == s.n
}

// endSeq records that sequence index was stopped by Stop (loop side); it
// reports whether the request ended.
func (s *Stream) endSeq(index int, u scheduler.Usage, now time.Time) bool {
	s.mu.Lock()
	return s.finishSeqLocked(index, FinishStop, u, now)
}

// fail ends the request with err (loop side, or Close).
func (s *Stream) fail(err error, now time.Time) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done, s.err, s.timings.Finished, s.finish = true, err, now, finishOf(err)
	stop := s.stopCtx
	rs := s.statsLocked()
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if o := s.e.cfg.Observer; o != nil {
		o.ObserveRequest(&rs)
	}
	s.signal()
}

// watch registers the context watcher's stop function, calling it at once if
// the request already ended.
func (s *Stream) watch(stop func() bool) {
	s.mu.Lock()
	done := s.done
	if !done {
		s.stopCtx = stop
	}
	s.mu.Unlock()
	if done {
		stop()
	}
}
