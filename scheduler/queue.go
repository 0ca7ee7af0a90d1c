package scheduler

import (
	"fmt"
	"slices"
)

// Policy orders waiting sequences.
type Policy string

// Policies.
const (
	// FCFS admits in arrival order.
	FCFS Policy = "fcfs"
	// PriorityFirst admits by Request.Priority (smaller first), then arrival.
	PriorityFirst Policy = "priority"
	// FairShare admits next from the tenant that has received the fewest
	// weighted tokens (virtual token counters, as in the VTC paper), then
	// by priority and arrival within that tenant.
	FairShare Policy = "fair"
)

// ParsePolicy accepts the names above.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case FCFS, PriorityFirst, FairShare:
		return p, nil
	}
	return "", fmt.Errorf("unknown scheduling policy %q (want fcfs, priority or fair)", s)
}

// tenant is one account: its waiting sequences and its fair-share counter.
type tenant struct {
	name    string
	waiting []*seq  // ordered by the policy's key
	live    int     // waiting + running + pending sequences
	served  float64 // weighted tokens received, divided by the tenant's weight
}

// queue holds the waiting sequences of all tenants.
type queue struct {
	policy  Policy
	tenants map[string]*tenant
	order   []*tenant // tenants with waiting sequences, in first-seen order
	n       int
}

func newQueue(p Policy) *queue {
	return &queue{policy: p, tenants: map[string]*tenant{}}
}

// before is the order within a tenant (and across tenants for FCFS and
// PriorityFirst).
func (q *queue) before(a, b *seq) bool {
	if q.policy != FCFS && a.req.Priority != b.req.Priority {
		return a.req.Priority < b.req.Priority
	}
	if a.req.arrival != b.req.arrival {
		return a.req.arrival < b.req.arrival
	}
	return a.index < b.index
}

func (q *queue) tenant(name string) *tenant {
	t, ok := q.tenants[name]
	if !ok {
		t = &tenant{name: name}
		q.tenants[name] = t
	}
	return t
}

// activate is called when a tenant gets live work. A tenant that was idle
// starts from the smallest counter among busy tenants, so idle time does not
// bank credit it could later use to starve others.
func (q *queue) activate(t *tenant) {
	if t.live > 0 {
		return
	}
	floor, any := 0.0, false
	for _, o := range q.tenants {
		if o != t && o.live > 0 && (!any || o.served < floor) {
			floor, any = o.served, true
		}
	}
	if any && t.served < floor {
		t.served = floor
	}
}

func (q *queue) push(s *seq) {
	t := s.req.tenant
	if len(t.waiting) == 0 {
		q.order = append(q.order, t)
	}
	i, _ := slices.BinarySearchFunc(t.waiting, s, func(a, b *seq) int {
		if q.before(a, b) {
			return -1
		}
		return 1
	})
	t.waiting = slices.Insert(t.waiting, i, s)
	s.state = stateWaiting
	q.n++
}

// peek returns the next sequence to admit, or nil.
func (q *queue) peek() *seq {
	var best *tenant
	for _, t := range q.order {
		if best == nil || q.tenantBefore(t, best) {
			best = t
		}
	}
	if best == nil {
		return nil
	}
	return best.waiting[0]
}

func (q *queue) tenantBefore(a, b *tenant) bool {
	if q.policy == FairShare && a.served != b.served {
		return a.served < b.served
	}
	return q.before(a.waiting[0], b.waiting[0])
}

// remove takes s out of its tenant's queue.
func (q *queue) remove(s *seq) {
	t := s.req.tenant
	i := slices.Index(t.waiting, s)
	if i < 0 {
		panic("scheduler: removing a sequence that is not waiting")
	}
	t.waiting = slices.Delete(t.waiting, i, i+1)
	q.n--
	if len(t.waiting) == 0 {
		q.order = slices.DeleteFunc(q.order, func(o *tenant) bool { return o == t })
	}
}

// charge adds weighted service to a tenant's counter.
func (q *queue) charge(r *request, tokens float64) {
	r.tenant.served += tokens / r.Weight
}

// forget is called when t has no live work left. It drops t from the map
// when its counter is no ahead of the busy tenants (activate would lift it
// there anyway), and resets all counters when no tenant is busy, so the map
// does not grow with every tenant ever seen.
func (q *queue) forget(t *tenant) {
	if t.live > 0 {
		return
	}
	floor, busy := 0.0, false
	for _, o := range q.tenants {
		if o.live > 0 && (!busy || o.served < floor) {
			floor, busy = o.served, true
		}
	}
	switch {
	case !busy:
		clear(q.tenants)
	case t.served <= floor:
		delete(q.tenants, t.name)
	}
}
