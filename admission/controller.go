package admission

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// Rejections. A *Rejection wraps one of ErrQueueFull or ErrQueueTimeout.
var (
	ErrQueueFull    = errors.New("stream capacity exceeded")
	ErrQueueTimeout = errors.New("queue wait exceeded")
)

// Rejection is a refused admission with the back-off to advise.
type Rejection struct {
	Err        error         // ErrQueueFull or ErrQueueTimeout
	Tenant     string        //
	Limits     Limits        // at the time of the decision
	RetryAfter time.Duration // the queue's expected wait, else Limits.RetryAfter
}

func (r *Rejection) Error() string {
	if errors.Is(r.Err, ErrQueueFull) {
		return fmt.Sprintf("tenant %s has %d concurrent streams in use and %d waiting, the most its tier allows; retry after %ds",
			r.Tenant, r.Limits.Streams, r.Limits.Queue, RetrySeconds(r.RetryAfter))
	}
	return fmt.Sprintf("no stream slot of tenant %s came free within %v", r.Tenant, r.Limits.QueueWait)
}

func (r *Rejection) Unwrap() error { return r.Err }

// RetrySeconds rounds a back-off up to whole seconds, at least 1.
func RetrySeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// Request asks for one stream slot.
type Request struct {
	Tenant string
	Limits Limits
	Class  Class // orders the tenant's queue: higher first, then arrival
}

// Clock is the time source (time.Now and time timers by default; tests use
// testing/synctest or a fake).
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a stop.
	After(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Controller holds every tenant's stream slots and bounded queue in this
// process. It is safe for concurrent use.
type Controller struct {
	clock   Clock
	mu      sync.Mutex
	tenants map[string]*tenant
	// hold estimates, per tenant, how long a slot is held (an EWMA), for
	// Retry-After; it outlives the tenant's idle periods.
	hold map[string]time.Duration
	seq  uint64
}

// tenant is one tenant's slots and queue. A tenant with nothing running or
// waiting is deleted, so the map holds only live tenants.
type tenant struct {
	name    string
	limits  Limits    // the latest request's (tier changes apply at once)
	running int       // tickets held
	queue   []*waiter // sorted: class descending, then seq ascending
}

type waiter struct {
	class   Class
	seq     uint64
	granted chan struct{} // closed when the waiter holds a slot
	done    bool          // granted, or left the queue
}

// NewController makes a controller; clock nil means real time.
func NewController(clock Clock) *Controller {
	if clock == nil {
		clock = realClock{}
	}
	return &Controller{clock: clock, tenants: map[string]*tenant{}, hold: map[string]time.Duration{}}
}

// Ticket is a held stream slot. Release it exactly when the stream ends;
// Release is idempotent and safe from any goroutine.
type Ticket struct {
	once    sync.Once
	release func()
	Waited  time.Duration // time spent in the queue
	Limits  Limits
	InUse   int // the tenant's slots in use right after this one was taken
}

// NewTicket makes a ticket whose Release calls release once (for
// Admitters other than Controller).
func NewTicket(release func(), waited time.Duration, l Limits, inUse int) *Ticket {
	return &Ticket{release: release, Waited: waited, Limits: l, InUse: inUse}
}

// Release frees the slot and hands it to the next waiter, if any.
func (tk *Ticket) Release() { tk.once.Do(tk.release) }

// Admitter hands out stream slots: Controller in one process, a shared
// implementation (store/redis) across replicas.
type Admitter interface {
	// Admit takes a slot of r.Tenant's, waiting in its queue when all are
	// in use; it returns a *Rejection or ctx's error.
	Admit(ctx context.Context, r Request) (*Ticket, error)
	// Snapshot lists the live tenants' slots and queues, by name.
	Snapshot() []TenantState
}

// ticket makes a Controller ticket taken at start.
func (c *Controller) ticket(t *tenant, start time.Time, waited time.Duration, l Limits, inUse int) *Ticket {
	return NewTicket(func() { c.release(t, c.clock.Now().Sub(start)) }, waited, l, inUse)
}

// Admit takes a slot of r.Tenant's, waiting in its queue when all are in
// use. It returns a *Rejection (ErrQueueFull at once, ErrQueueTimeout after
// r.Limits.QueueWait) or ctx's error when the caller goes away first.
func (c *Controller) Admit(ctx context.Context, r Request) (*Ticket, error) {
	if r.Limits.Streams < 1 {
		return nil, fmt.Errorf("admission: tenant %s: streams = %d, want >= 1", r.Tenant, r.Limits.Streams)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := c.clock.Now()
	c.mu.Lock()
	t := c.tenants[r.Tenant]
	if t == nil {
		t = &tenant{name: r.Tenant}
		c.tenants[r.Tenant] = t
	}
	t.limits = r.Limits
	if t.running < r.Limits.Streams && len(t.queue) == 0 {
		t.running++
		tk := c.ticket(t, now, 0, r.Limits, t.running)
		c.mu.Unlock()
		return tk, nil
	}
	if len(t.queue) >= r.Limits.Queue {
		rej := &Rejection{Err: ErrQueueFull, Tenant: r.Tenant, Limits: r.Limits, RetryAfter: c.expectedWait(t, len(t.queue)+1)}
		c.dropIfIdle(t)
		c.mu.Unlock()
		return nil, rej
	}
	c.seq++
	w := &waiter{class: r.Class, seq: c.seq, granted: make(chan struct{})}
	t.enqueue(w)
	c.mu.Unlock()

	var timeout <-chan time.Time
	if r.Limits.QueueWait > 0 {
		ch, stop := c.clock.After(r.Limits.QueueWait)
		defer stop()
		timeout = ch
	}
	var err error
	select {
	case <-w.granted:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = &Rejection{Err: ErrQueueTimeout, Tenant: r.Tenant, Limits: r.Limits, RetryAfter: r.Limits.RetryAfter}
	}
	c.mu.Lock()
	if err != nil && !w.done {
		w.done = true
		t.remove(w)
		c.dropIfIdle(t)
		c.mu.Unlock()
		return nil, err
	}
	inUse := t.running
	c.mu.Unlock()
	granted := c.clock.Now()
	tk := c.ticket(t, granted, granted.Sub(now), r.Limits, inUse)
	if err != nil && ctx.Err() != nil {
		// Granted as the caller left: pass the slot on.
		tk.Release()
		return nil, err
	}
	return tk, nil // granted (a grant racing the timeout wins)
}

// release frees one of t's slots, granting it to the queue's head when the
// tenant's current limit allows.
func (c *Controller) release(t *tenant, held time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.running--
	if t.running < 0 {
		panic("admission: slot released twice") // Ticket.once makes this unreachable
	}
	const alpha = 0.2
	if h, ok := c.hold[t.name]; ok {
		c.hold[t.name] = time.Duration(alpha*float64(held) + (1-alpha)*float64(h))
	} else {
		c.hold[t.name] = held
	}
	for len(t.queue) > 0 && t.running < t.limits.Streams {
		w := t.queue[0]
		t.queue = t.queue[1:]
		w.done = true
		t.running++
		close(w.granted)
	}
	c.dropIfIdle(t)
}

// dropIfIdle forgets a tenant with nothing running or waiting. Called with
// c.mu held.
func (c *Controller) dropIfIdle(t *tenant) {
	if t.running == 0 && len(t.queue) == 0 && c.tenants[t.name] == t {
		delete(c.tenants, t.name)
	}
}

// expectedWait estimates how long the pos-th waiter waits for a slot: pos
// slot hand-overs at Streams slots per mean hold time. Without history it
// is the tier's RetryAfter.
func (c *Controller) expectedWait(t *tenant, pos int) time.Duration {
	h := c.hold[t.name]
	if h <= 0 {
		return t.limits.RetryAfter
	}
	return time.Duration(float64(h) * float64(pos) / float64(t.limits.Streams))
}

func (t *tenant) enqueue(w *waiter) {
	i := sort.Search(len(t.queue), func(i int) bool {
		q := t.queue[i]
		return q.class < w.class || (q.class == w.class && q.seq > w.seq)
	})
	t.queue = append(t.queue, nil)
	copy(t.queue[i+1:], t.queue[i:])
	t.queue[i] = w
}

func (t *tenant) remove(w *waiter) {
	for i, q := range t.queue {
		if q == w {
			t.queue = append(t.queue[:i], t.queue[i+1:]...)
			return
		}
	}
}

// TenantState is one tenant's live slots and queue.
type TenantState struct {
	Tenant  string
	Running int
	Queued  int
	Limits  Limits
}

// Snapshot lists the live tenants, by name.
func (c *Controller) Snapshot() []TenantState {
	c.mu.Lock()
	out := make([]TenantState, 0, len(c.tenants))
	for _, t := range c.tenants {
		out = append(out, TenantState{Tenant: t.name, Running: t.running, Queued: len(t.queue), Limits: t.limits})
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Tenant < out[j].Tenant })
	return out
}

// State is one tenant's live state (zero when idle).
func (c *Controller) State(tenantName string) TenantState {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tenants[tenantName]
	if t == nil {
		return TenantState{Tenant: tenantName}
	}
	return TenantState{Tenant: t.name, Running: t.running, Queued: len(t.queue), Limits: t.limits}
}
