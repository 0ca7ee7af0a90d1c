package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// errCancelled is the cause of a job cancelled by its owner.
var errCancelled = errors.New("job cancelled")

// startLane starts tenant's lane goroutine; under mu.
func (s *Service) startLane(tenant string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runLane(tenant)
	}()
}

// runLane starts the tenant's pending jobs one after another: each once the
// one before holds its stream slot (or ended without one).
func (s *Service) runLane(tenant string) {
	for {
		s.mu.Lock()
		l := s.lanes[tenant]
		if s.ctx.Err() != nil || l == nil || len(l.pending) == 0 {
			delete(s.lanes, tenant)
			s.mu.Unlock()
			return
		}
		j := l.pending[0]
		l.pending[0] = nil
		l.pending = l.pending[1:]
		s.mu.Unlock()
		admitted := make(chan struct{})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.execute(j, admitted)
		}()
		select {
		case <-admitted:
		case <-s.ctx.Done():
			return
		}
	}
}

// execute runs one job to its end; admitted is closed once it holds a
// stream slot, or has ended.
func (s *Service) execute(j *job, admitted chan struct{}) {
	var once sync.Once
	signal := func() { once.Do(func() { close(admitted) }) }
	defer signal()
	ctx, cancel := context.WithCancelCause(s.ctx)
	defer cancel(nil)
	s.mu.Lock()
	if j.ending {
		s.mu.Unlock()
		return // cancelled while pending
	}
	if !j.rec.Deadline.IsZero() {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, j.rec.Deadline)
		defer stop()
	}
	j.cancel = cancel
	j.rec.Attempts++
	j.rec.Started = time.Time{}
	j.partial = nil
	j.rec.Status = Queued
	s.commitLocked(j)
	s.mu.Unlock()

	admit := func(actx context.Context, r admission.Request) (*admission.Ticket, error) {
		r.Class = admission.Slow
		r.Limits.QueueWait = 0 // a job waits as long as it must (its own deadline bounds it)
		backoff := 100 * time.Millisecond
		for {
			tk, err := s.admitter.Admit(actx, r)
			if err == nil {
				s.mu.Lock()
				j.rec.Status, j.rec.Started = Processing, s.cfg.Now()
				s.commitLocked(j)
				s.mu.Unlock()
				signal()
				return tk, nil
			}
			if !errors.Is(err, admission.ErrQueueFull) {
				return nil, err
			}
			// The tenant's queue is full of interactive requests: they go first.
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-actx.Done():
				t.Stop()
				return nil, actx.Err()
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
	progress := func(choice int, text string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for len(j.partial) <= choice {
			j.partial = append(j.partial, &strings.Builder{})
		}
		j.partial[choice].WriteString(text)
		j.dirty = true
		if j.rec.Status == Processing {
			j.rec.Status = Streaming
			s.commitLocked(j)
		}
		j.notify()
	}
	reply := s.cfg.Generator.Generate(ctx, Call{Principal: j.principal, Endpoint: j.rec.Endpoint, Body: j.rec.Body,
		RequestID: j.rec.ID, Class: admission.Slow, Admit: admit, Progress: progress})
	signal()
	if s.ctx.Err() != nil && reply.Status != http.StatusOK {
		return // shutting down: the job stays unfinished in the store, to run again
	}
	status := Finished
	switch {
	case errors.Is(context.Cause(ctx), errCancelled):
		status = Cancelled
		reply = Reply{Status: 499, Body: errorJSON("cancelled", "the job was cancelled")}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		status = Timeout
		reply = Reply{Status: http.StatusGatewayTimeout, Body: errorJSON("timeout",
			"the job did not finish within its time limit")}
	case reply.Status != http.StatusOK:
		status = Failed
	}
	s.finish(j, status, reply)
}

// commitLocked queues the job's current state for writing (in order, not
// waited for); under mu.
func (s *Service) commitLocked(j *job) {
	if j.ending {
		return // the final write is queued: nothing may follow it
	}
	if j.dirty {
		j.snapshotPartial()
	}
	s.w.queue(&store.JobWrite{Updates: []store.JobUpdate{update(&j.rec)}})
	j.notify()
}

// finish commits a job's final state (with its webhook delivery), then
// drops it from memory and wakes its watchers.
func (s *Service) finish(j *job, status string, reply Reply) {
	s.mu.Lock()
	if j.ending || final(j.rec.Status) {
		s.mu.Unlock()
		return
	}
	// Watchers see the final state once it is durable: until then it is
	// built on a copy.
	j.ending = true
	j.snapshotPartial()
	rec := j.rec
	rec.Status, rec.Finished = status, s.cfg.Now()
	rec.ResultStatus, rec.Result = reply.Status, reply.Body
	w := &store.JobWrite{Updates: []store.JobUpdate{update(&rec)}}
	if rec.WebhookURL != "" {
		payload, _ := json.Marshal(s.jobObject(rec, nil))
		w.Deliveries = append(w.Deliveries, store.Delivery{ID: newJobID("whd_"), JobID: rec.ID, Tenant: rec.Tenant,
			URL: rec.WebhookURL, Event: "job." + strings.ToLower(status), Payload: payload, NextAt: s.cfg.Now()})
	}
	s.mu.Unlock()
	// The final state is durable before anyone is told of it.
	for {
		err := s.w.do(context.Background(), w)
		if err == nil {
			break
		}
		s.log.Error("jobs: final state not written; retrying", "job", j.rec.ID, "err", err)
		select {
		case <-time.After(time.Second):
		case <-s.ctx.Done():
			return // stays unfinished: runs again next start
		}
	}
	s.mu.Lock()
	j.rec = rec
	delete(s.jobs, j.rec.ID)
	if s.unfinished[j.rec.Tenant]--; s.unfinished[j.rec.Tenant] <= 0 {
		delete(s.unfinished, j.rec.Tenant)
	}
	close(j.done)
	j.notify()
	s.batches.jobDone(j)
	s.mu.Unlock()
	if len(w.Deliveries) > 0 {
		select {
		case s.kickWH <- struct{}{}:
		default:
		}
	}
}

// cancelJob cancels an unfinished job: a pending one at once, a running one
// through its context. It reports false when the job is not in memory (it
// is finished, or unknown).
func (s *Service) cancelJob(tenant, id string) (*job, bool) {
	s.mu.Lock()
	j := s.jobs[id]
	if j == nil || j.rec.Tenant != tenant {
		s.mu.Unlock()
		return nil, false
	}
	if j.cancel != nil {
		j.cancel(errCancelled)
		s.mu.Unlock()
		return j, true
	}
	// Not started: take it out of its lane.
	if l := s.lanes[tenant]; l != nil {
		for i, p := range l.pending {
			if p == j {
				l.pending = append(l.pending[:i], l.pending[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	s.finish(j, Cancelled, Reply{Status: 499, Body: errorJSON("cancelled", "the job was cancelled")})
	return j, true
}

// flushLoop writes running jobs' partial output every flush interval.
func (s *Service) flushLoop() {
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.flush()
		case <-s.ctx.Done():
			return
		}
	}
}

// flush queues one write of every job whose output changed.
func (s *Service) flush() {
	w := &store.JobWrite{}
	s.mu.Lock()
	for _, j := range s.jobs {
		if j.dirty && !j.ending {
			j.snapshotPartial()
			w.Updates = append(w.Updates, update(&j.rec))
		}
	}
	s.mu.Unlock()
	if len(w.Updates) > 0 {
		s.w.queue(w)
	}
}

// purgeLoop deletes finished jobs, finished batches and unused files past
// the retention.
func (s *Service) purgeLoop() {
	for {
		n, err := s.db.PurgeJobs(s.ctx, s.cfg.Now().Add(-s.cfg.Retention))
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.log.Error("jobs: purge failed", "err", err)
		case n > 0:
			s.log.Info("jobs: purged finished jobs past the retention", "jobs", n, "retention", s.cfg.Retention)
		}
		nb, nf, err := s.db.PurgeBatches(s.ctx, s.cfg.Now().Add(-s.cfg.Retention))
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.log.Error("jobs: purging batches failed", "err", err)
		case nb+nf > 0:
			s.log.Info("jobs: purged finished batches and files past the retention", "batches", nb, "files", nf)
		}
		t := time.NewTimer(s.cfg.PurgeInterval)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
}

// semaphore is the admitter of open mode: Concurrency jobs at once.
type semaphore chan struct{}

func newSemaphore(n int) semaphore { return make(semaphore, n) }

func (sem semaphore) Admit(ctx context.Context, r admission.Request) (*admission.Ticket, error) {
	select {
	case sem <- struct{}{}:
		return admission.NewTicket(func() { <-sem }, 0, r.Limits, len(sem)), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (sem semaphore) Snapshot() []admission.TenantState { return nil }

// writer commits queued job writes in order, each round's in one
// transaction (group commit).
type writer struct {
	db   *store.DB
	log  *slog.Logger
	ch   chan writeReq
	done chan struct{}
}

type writeReq struct {
	w   *store.JobWrite
	err chan error // nil: nobody waits
}

func newWriter(db *store.DB, log *slog.Logger) *writer {
	w := &writer{db: db, log: log, ch: make(chan writeReq, 4096), done: make(chan struct{})}
	go w.run()
	return w
}

// queue writes jw soon, in order with the writes before it.
func (w *writer) queue(jw *store.JobWrite) { w.ch <- writeReq{w: jw} }

// do writes jw and waits for the commit.
func (w *writer) do(ctx context.Context, jw *store.JobWrite) error {
	r := writeReq{w: jw, err: make(chan error, 1)}
	select {
	case w.ch <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.err
}

func (w *writer) close() {
	close(w.ch)
	<-w.done
}

const maxGroup = 512

func (w *writer) run() {
	defer close(w.done)
	for r := range w.ch {
		group := []writeReq{r}
	more:
		for len(group) < maxGroup {
			select {
			case r, ok := <-w.ch:
				if !ok {
					break more
				}
				group = append(group, r)
			default:
				break more
			}
		}
		all := &store.JobWrite{}
		for _, g := range group {
			all.Inserts = append(all.Inserts, g.w.Inserts...)
			all.Updates = append(all.Updates, g.w.Updates...)
			all.Deliveries = append(all.Deliveries, g.w.Deliveries...)
		}
		err := w.db.WriteJobs(context.Background(), all)
		if err != nil && len(group) > 1 {
			// One bad write must not fail the others: write them one by one.
			for _, g := range group {
				e := w.db.WriteJobs(context.Background(), g.w)
				w.answer(g, e)
			}
			continue
		}
		n := 0
		for _, g := range group {
			// Seqs assigned by the combined insert go back to each request.
			copy(g.w.Inserts, all.Inserts[n:n+len(g.w.Inserts)])
			n += len(g.w.Inserts)
			w.answer(g, err)
		}
	}
}

func (w *writer) answer(g writeReq, err error) {
	if g.err != nil {
		g.err <- err
		return
	}
	if err != nil {
		w.log.Error("jobs: write failed", "err", err)
	}
}
