package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// loop is the engine's one goroutine.
func (e *Engine) loop(ctx context.Context) {
	defer close(e.stopped)
	for {
		e.drain()
		if ctx.Err() != nil {
			e.shutdown()
			return
		}
		if !e.sched.HasWork() {
			select {
			case <-e.wake:
			case <-ctx.Done():
			}
			continue
		}
		if ran := e.safeStep(ctx); !ran {
			// Work that cannot be scheduled until something changes.
			select {
			case <-e.wake:
			case <-ctx.Done():
			}
		}
	}
}

// drain applies queued adds and aborts in arrival order.
func (e *Engine) drain() {
	e.mu.Lock()
	msgs := e.inbox
	e.inbox = nil
	e.mu.Unlock()
	if len(msgs) == 0 {
		return
	}
	// Streams learn their fate after the snapshot is published, so a caller
	// that sees its request end also sees the engine state after it.
	var after []func()
	ending := map[*Stream]int{} // sequences stopped in this drain, per stream
	now := e.clock()
	for _, m := range msgs {
		switch {
		case m.add != nil:
			st := m.add
			if err := m.ctx.Err(); err != nil {
				after = append(after, func() { st.fail(fmt.Errorf("%w: %w", ErrAborted, context.Cause(m.ctx)), now) })
				continue
			}
			if err := e.sched.Add(m.req); err != nil {
				after = append(after, func() { st.fail(err, now) }) // validated by Generate: only a duplicate id gets here
				continue
			}
			e.streams[m.req.ID] = st
		case m.stopSeq:
			st, ok := e.streams[m.abort]
			if !ok {
				continue
			}
			if u, ok := e.sched.FinishSeq(m.abort, m.index); ok {
				ending[st]++
				if st.willEnd(ending[st]) {
					delete(e.streams, m.abort)
				}
				index := m.index
				after = append(after, func() { st.endSeq(index, u, now) })
			}
		default:
			if st, ok := e.streams[m.abort]; ok {
				e.sched.Abort(m.abort)
				delete(e.streams, m.abort)
				reason := m.reason
				after = append(after, func() { st.fail(reason, now) })
			}
		}
	}
	e.publish()
	for _, f := range after {
		f()
	}
}

// safeStep runs one step, turning a panic into failed requests, a fresh
// scheduler and an unhealthy engine. It reports whether anything ran.
func (e *Engine) safeStep(ctx context.Context) (ran bool) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("%w: panic: %v", ErrInternal, r)
			e.log.Error("engine step panicked; failing all requests", "err", err, "stack", string(debug.Stack()))
			e.mu.Lock()
			e.health = fmt.Errorf("%w: %w", ErrUnhealthy, err)
			e.mu.Unlock()
			e.failAll(err, true)
			if rerr := e.reset(); rerr != nil {
				e.log.Error("engine reset failed", "err", rerr)
			}
			e.publish()
			ran = true
		}
	}()
	return e.step(ctx)
}

// step is Schedule → Forward → Update and delivery.
func (e *Engine) step(ctx context.Context) bool {
	start := e.beginStep()
	plan := e.sched.Schedule()
	if plan.Empty() {
		return false
	}
	if started := plan.Started(); len(started) > 0 {
		if start.IsZero() {
			start = e.clock()
		}
		for _, id := range started {
			if st, ok := e.streams[id]; ok {
				st.scheduled(start)
			}
		}
	}
	out, err := e.be.Forward(ctx, &plan.Batch)
	if err == nil && len(out.Samples) != len(plan.Batch.Samples) {
		err = fmt.Errorf("returned %d samples for %d rows", len(out.Samples), len(plan.Batch.Samples))
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return true // shutting down: the loop fails everything next
		}
		ids := plan.Requests()
		e.log.Error("backend step failed", "err", err, "requests", len(ids), "tokens", plan.NumTokens())
		ferr := fmt.Errorf("%w: %w", ErrBackend, err)
		var failed []*Stream
		for _, id := range ids {
			e.sched.Abort(id)
			if st, ok := e.streams[id]; ok {
				delete(e.streams, id)
				failed = append(failed, st)
				e.failed++
			}
		}
		e.publish()
		now := e.clock()
		for _, st := range failed {
			st.fail(ferr, now)
		}
		return true
	}
	now := e.clock()
	seqs, tokens := plan.NumSeqs(), plan.NumTokens()
	events := e.sched.Update(plan, out)
	e.publish()
	for _, ev := range events {
		st, ok := e.streams[ev.Request]
		if !ok {
			continue
		}
		e.tick(st, now)
		if st.push(ev, now) {
			delete(e.streams, ev.Request)
		}
	}
	e.endStep(start, now, seqs, tokens, len(events))
	return true
}

// failAll ends every live request with err; count adds them to Stats.Failed.
func (e *Engine) failAll(err error, count bool) {
	now := e.clock()
	for id, st := range e.streams {
		st.fail(err, now)
		delete(e.streams, id)
		if count {
			e.failed++
		}
	}
}

// shutdown fails what is left after Close, including messages that raced it.
func (e *Engine) shutdown() {
	e.mu.Lock()
	msgs := e.inbox
	e.inbox = nil
	e.mu.Unlock()
	for _, m := range msgs {
		if m.add != nil {
			m.add.fail(ErrClosed, e.clock())
		}
	}
	for id := range e.streams {
		e.sched.Abort(id)
	}
	e.failAll(ErrClosed, false)
	e.publish()
}

// publish stores a stats snapshot for other goroutines.
func (e *Engine) publish() {
	pool := e.sched.Pool()
	ps := pool.Stats()
	s := Stats{
		Stats:        e.sched.Stats(),
		KVBlocksUsed: pool.NumUsed(), KVBlocksTotal: pool.Capacity(), KVUsage: pool.Usage(),
		PrefixQueriedTokens: ps.QueriedTokens, PrefixHitTokens: ps.HitTokens,
		Failed: e.failed,
	}
	e.mu.Lock()
	s.Healthy = e.health == nil
	e.stats = s
	e.mu.Unlock()
}
